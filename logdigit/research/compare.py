"""The controlled loss comparison: same VeerNet config, data, schedule and step budget per loss.

Every run differs only in ``--loss`` and ``--seed``; all are evaluated with
:func:`logdigit.research.evaluate.evaluate` on the same seeded test sheets. Results go to a JSON
of the raw numbers and a Markdown report with the mean and spread over seeds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from logdigit.io.atomic import write_text_atomic
from logdigit.model.veernet import VeerNetConfig
from logdigit.research.data import DataConfig
from logdigit.research.train import TrainConfig

COMPARED: dict[str, str] = {
    "dice-ce": "Dice + CE: the shipped model's loss, the baseline",
    "dice": "Dice",
    "focal": "Focal (softmax, gamma 2)",
    "lovasz": "Lovasz-Softmax",
    "ce": "soft CE on hard labels",
    "ce-pv": "soft CE on partial-volume soft labels",
    "tversky": "Tversky (0.3, 0.7)",
    "ce-ls": "CE + uniform label smoothing 0.1",
    "ce-jml-bls": "CE + JML1 on BLS targets",
}
"""The losses of the comparison (LOSSES keys -> description)."""


def compare_losses(
    outdir: str | Path,
    *,
    losses: tuple[str, ...] = tuple(COMPARED),
    seeds: tuple[int, ...] = (0, 1),
    steps: int = 600,
    model_config: VeerNetConfig | None = None,
    data_config: DataConfig | None = None,
    eval_n: int = 50,
    eval_seed: int = 0,
    val_sheets: int = 16,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Train one VeerNet per (loss, seed) and evaluate each; returns the raw results.

    Runs already finished in ``outdir`` (their ``result.json`` exists) are not redone, so an
    interrupted comparison continues where it stopped. The runs of one seed share their
    training sheets (drawn once, kept in memory) and all runs share the test sheets, so the
    budget goes to training; ``train_seconds`` is each run's training loop and validation
    (the first run of a seed also draws the pool's refresh sheets for the others).
    """
    from logdigit.model.weights import load_model
    from logdigit.research.data import SheetPool
    from logdigit.research.evaluate import draw_test_sheets, evaluate
    from logdigit.research.train import train

    out = Path(outdir)
    say = progress or (lambda msg: None)
    base_data = data_config or DataConfig()
    schedule = TrainConfig(
        steps=steps,
        warmup=min(150, steps // 5),
        eval_every=max(steps // 4, 1),
        checkpoint_every=max(steps // 4, 1),
        val_sheets=val_sheets,
    )
    test_set: list | None = None
    by_key = {}
    for seed in seeds:
        data = replace(base_data, seed=seed)
        pool = None
        for loss in losses:
            run = out / f"{loss}-seed{seed}"
            done = run / "result.json"
            if done.exists():
                by_key[loss, seed] = json.loads(done.read_text())
                say(f"{loss} seed {seed}: already done")
                continue
            if pool is None:
                say(f"seed {seed}: drawing {data.pool_size} training sheets")
                pool = SheetPool(data, memo={})
            if test_set is None:
                say(f"drawing {eval_n} test sheets (seed {eval_seed})")
                test_set = draw_test_sheets(eval_n, eval_seed)
            say(f"{loss} seed {seed}: training {steps} steps")
            t0 = time.perf_counter()
            state = train(
                run,
                model_config=model_config,
                data_config=data,
                train_config=replace(schedule, loss=loss),
                device=device,
                pool=pool,
            )
            train_s = time.perf_counter() - t0
            model = load_model(run / "best.safetensors")
            t1 = time.perf_counter()
            report = evaluate(model, n=eval_n, seed=eval_seed, methods=("veernet",), device=device, sheets=test_set)
            result = {
                "loss": loss,
                "seed": seed,
                "steps": steps,
                "train_seconds": round(train_s, 1),
                "eval_seconds": round(time.perf_counter() - t1, 1),
                "best_step": state.get("best_step"),
                "history": state.get("history"),
                "metrics": report["methods"]["veernet"],
            }
            write_text_atomic(done, json.dumps(result, indent=2))
            by_key[loss, seed] = result
            f1 = result["metrics"]["f1"]
            say(f"{loss} seed {seed}: F1 {f1[1]:.3f} / {f1[2]:.3f}, {train_s / 60:.1f} min training")
    runs = [by_key[loss, seed] for loss in losses for seed in seeds]
    return {
        "losses": list(losses),
        "seeds": list(seeds),
        "steps": steps,
        "eval": {"n": eval_n, "seed": eval_seed},
        "model": (model_config or VeerNetConfig()).to_dict(),
        "data": asdict(base_data),
        "machine": _machine(),
        "runs": runs,
    }


def summarise(results: dict) -> list[dict]:
    """Mean and spread (min..max over seeds) of the headline metrics, one row per loss."""
    rows = []
    for loss in results["losses"]:
        runs = [r for r in results["runs"] if r["loss"] == loss]
        vals = {name: [get(r["metrics"]) for r in runs] for name, get in _HEADLINE.items()}
        rows.append({"loss": loss, "n": len(runs), **{k: _stats(v) for k, v in vals.items()}})
    return rows


_HEADLINE: dict[str, Callable[[dict], float | None]] = {
    "F1 solid": lambda m: m["f1"][1],
    "F1 dashed": lambda m: m["f1"][2],
    "IoU solid": lambda m: m["iou"][1],
    "IoU dashed": lambda m: m["iou"][2],
    "ECE": lambda m: m["ece"],
    "BECE": lambda m: m["bece"],
    "curve NMAE": lambda m: m["curve"]["nmae"],
    "within 2%": lambda m: m["curve"]["within2"],
}


_LOWER_IS_BETTER = {"ECE", "BECE", "curve NMAE"}


def paired_differences(results: dict, baseline: str = "dice-ce") -> list[dict]:
    """Each loss against ``baseline`` on the same seed (same data, same initial weights).

    For every headline metric: the per-seed differences (loss - baseline), their mean, and
    a verdict. A difference is called ``better`` or ``worse`` only when every seed moves
    the same way and the mean moves more than the baseline's own spread over seeds (max -
    min); otherwise ``within noise``. With two seeds this is a coarse rule, not a test.
    """
    runs = {(r["loss"], r["seed"]): r["metrics"] for r in results["runs"]}
    seeds = [s for s in results["seeds"] if (baseline, s) in runs]
    if not seeds:
        return []
    rows = []
    for loss in results["losses"]:
        if loss == baseline:
            continue
        row: dict = {"loss": loss}
        for name, get in _HEADLINE.items():
            base = [get(runs[baseline, s]) for s in seeds if (loss, s) in runs]
            mine = [get(runs[loss, s]) for s in seeds if (loss, s) in runs]
            pairs = [(a, b) for a, b in zip(mine, base, strict=True) if a is not None and b is not None]
            if not pairs:
                row[name] = {"diffs": [], "mean": None, "verdict": "-"}
                continue
            diffs = [a - b for a, b in pairs]
            spread = max(b for _, b in pairs) - min(b for _, b in pairs)
            mean = float(np.mean(diffs))
            same_way = all(d > 0 for d in diffs) or all(d < 0 for d in diffs)
            verdict = "within noise"
            if same_way and abs(mean) > spread:
                verdict = "better" if (mean < 0) == (name in _LOWER_IS_BETTER) else "worse"
            row[name] = {"diffs": diffs, "mean": mean, "verdict": verdict}
        rows.append(row)
    return rows


def _stats(values: list) -> dict:
    v = np.array([np.nan if x is None else x for x in values], float)
    if not np.isfinite(v).any():
        return {"mean": None, "min": None, "max": None}
    return {"mean": float(np.nanmean(v)), "min": float(np.nanmin(v)), "max": float(np.nanmax(v))}


def write_report(results: dict, path: str | Path, *, command: str) -> Path:
    """Write the Markdown report (table with mean [min..max] over seeds) and the raw JSON beside it."""
    path = Path(path)
    write_text_atomic(path.with_suffix(".json"), json.dumps(results, indent=2))
    rows = summarise(results)
    lines = [
        "# Loss comparison",
        "",
        f"Same VeerNet config, data seed per run, schedule and budget ({results['steps']} steps) for every loss; "
        f"seeds {results['seeds']}; evaluated on {results['eval']['n']} test sheets (seed "
        f"{results['eval']['seed']}, the `test` stream that training never draws from).",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {results['machine']}",
        "",
        "Values are the mean over seeds with [min..max].",
        "",
        *_metric_table(
            rows,
            lambda r: f"{r['loss']} ({COMPARED.get(r['loss'], '')})",
            lambda s, d: "-" if s["mean"] is None else f"{s['mean']:.{d}f} [{s['min']:.{d}f}..{s['max']:.{d}f}]",
        ),
    ]
    paired = paired_differences(results)
    if paired:
        lines += [
            "",
            "## Against the baseline (dice-ce), seed by seed",
            "",
            "Mean difference (loss - dice-ce) over the seeds, each seed paired with the baseline run of the "
            "same seed. *better* / *worse*: every seed moved the same way and the mean moved more than "
            "dice-ce's own spread over seeds; otherwise *within noise*. A coarse rule for two seeds, "
            "not a significance test.",
            "",
            *_metric_table(
                paired,
                lambda r: r["loss"],
                lambda x, d: "-" if x["mean"] is None else f"{x['mean']:+.{d}f} {x['verdict']}",
            ),
        ]
    lines += [
        "",
        "## Runs",
        "",
        "| loss | seed | best step | F1 solid | F1 dashed | curve NMAE | training min |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        m = r["metrics"]
        nmae = m["curve"]["nmae"]
        lines.append(
            f"| {r['loss']} | {r['seed']} | {r.get('best_step')} | {m['f1'][1]:.3f} | {m['f1'][2]:.3f} | "
            f"{'-' if nmae is None else f'{nmae:.4f}'} | {r.get('train_seconds', 0) / 60:.1f} |"
        )
    secs = sum(r.get("train_seconds", 0) for r in results["runs"])
    lines += ["", f"Total training time of the runs: {secs / 60:.1f} min.", ""]
    write_text_atomic(path, "\n".join(lines))
    return path


def _metric_table(rows: list[dict], label: Callable[[dict], str], cell: Callable[[dict, int], str]) -> list[str]:
    """Markdown lines of a table with one column per headline metric; ``cell(value, digits)``."""
    names = list(_HEADLINE)
    lines = ["| loss | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for r in rows:
        lines.append(f"| {label(r)} | " + " | ".join(cell(r[k], _DIGITS.get(k, 3)) for k in names) + " |")
    return lines


_DIGITS = {"curve NMAE": 4, "ECE": 4}


def _machine() -> str:
    import os

    import torch

    from logdigit.research.machine import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
