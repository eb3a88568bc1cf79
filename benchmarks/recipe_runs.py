"""Train variants of the shipped recipe side by side and score each on the samples and a test subset.

Asks whether the mono sample's DT curve (a long-dashed black curve over a black 1-bit grid)
gains from another training seed, a wider dash-length range or more 1-bit sheets, and how far
equally good weights differ. Made for a GPU. Each variant is the shipped recipe (``logdigit train``'s defaults, 3000
steps) with a different data seed or synthetic style; its sheet pool is drawn by ``--procs``
worker processes first (the only change to the data: the same sheets, drawn in parallel).

    python benchmarks/recipe_runs.py ctl0 long0 --out runs/recipe --device cuda --procs 3
    python benchmarks/recipe_runs.py --shipped --out runs/recipe --device cuda

Each variant writes ``OUT/NAME/result.json`` (validation history, sample scores, test-subset
metrics) beside its checkpoints. The model card quotes the variants' validation F1.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

from logdigit.research.data import DataConfig, SheetPool
from logdigit.research.synth import DEFAULT_STYLE, make_sheet, sheet_rng

ROOT = Path(__file__).resolve().parent.parent
LONG = {"dash_lengths": (4.0, 36.0), "dash_gaps": (3.0, 12.0)}
VARIANTS = {  # name: (data seed, synthetic style overrides)
    "ctl0": (0, {}),
    "ctl1": (1, {}),
    "long0": (0, LONG),
    "long1": (1, LONG),
    "longbin0": (0, {**LONG, "p_binarise": 0.3}),
}
SAMPLES = {"colour": "colour.png", "mono": "mono.tif", "simple": "simple.jpg"}
_worker: dict = {}


def _init(style, cfg) -> None:
    _worker.update(style=style, cfg=cfg)
    torch.set_num_threads(1)


def _draw(i: int):
    cfg = _worker["cfg"]
    s = make_sheet(
        height=cfg.sheet_height, width=cfg.sheet_width, rng=sheet_rng("train", cfg.seed, i), style=_worker["style"]
    )
    return i, (s.image, s.soft.astype(np.float16))


def run_variant(name: str, out: Path, *, device: str, procs: int, steps: int, eval_n: int) -> dict:
    from logdigit.research.train import TrainConfig, train

    seed, over = VARIANTS[name]
    style = replace(DEFAULT_STYLE, **over)
    cfg = DataConfig(seed=seed)
    n = cfg.pool_size + steps // cfg.refresh_every + 1  # every sheet the run will use
    t0 = time.time()
    with get_context("fork").Pool(procs, initializer=_init, initargs=(style, cfg)) as pool:
        memo = dict(pool.imap_unordered(_draw, range(n), chunksize=8))
    t_data = time.time() - t0
    torch.set_num_threads(2)
    t1 = time.time()
    state = train(
        out / name,
        data_config=cfg,
        device=device,
        pool=SheetPool(cfg, style=style, memo=memo),
        train_config=TrainConfig(steps=steps),
    )
    res = {
        "name": name,
        "seed": seed,
        "style": over,
        "t_data": t_data,
        "t_train": time.time() - t1,
        "best_step": state.get("best_step"),
        "history": state["history"],
    }
    res.update(score_weights(out / name / "best.safetensors", device=device, eval_n=eval_n))
    (out / name / "result.json").write_text(json.dumps(res, indent=1, default=str))
    return res


def score_weights(weights: Path, *, device: str, eval_n: int) -> dict:
    """Per-curve (NMAE, within 2 %, coverage) on the samples; pixel and curve metrics on test seed 2."""
    from logdigit.io.layout import load_layout
    from logdigit.model.weights import load_model
    from logdigit.pipeline import InferOptions, digitise
    from logdigit.research.evaluate import evaluate
    from logdigit.score import score

    res: dict = {"samples": {}}
    for stem, scan in SAMPLES.items():
        d = digitise(ROOT / "samples" / scan, options=InferOptions(weights=str(weights), device=device))
        lay = load_layout(ROOT / "samples" / f"{stem}.layout.toml")
        rep = score(d.las, ROOT / "samples" / f"{stem}.truth.las", layout=lay)
        res["samples"][stem] = {
            c.mnemonic: [round(c.nmae, 5), round(c.within_2pct, 4), round(c.coverage, 4)] for c in rep.curves
        }
    m = evaluate(load_model(weights, device=device), n=eval_n, seed=2, methods=("veernet",), device=device)
    res["eval2"] = {k: m["methods"]["veernet"][k] for k in ("f1", "curve", "ece")}
    return res


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("variants", nargs="*", choices=sorted(VARIANTS), help="variants to train")
    p.add_argument("--shipped", action="store_true", help="also score the shipped weights the same way")
    p.add_argument("--out", type=Path, default=Path("runs/recipe"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--procs", type=int, default=3, help="processes drawing each variant's sheets")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--eval-n", type=int, default=60, help="test sheets of seed 2 to score")
    a = p.parse_args(argv)
    if a.shipped:
        (a.out / "shipped").mkdir(parents=True, exist_ok=True)
        res = score_weights(ROOT / "models" / "veernet.safetensors", device=a.device, eval_n=a.eval_n)
        (a.out / "shipped" / "result.json").write_text(json.dumps(res, indent=1, default=str))
    for name in a.variants:
        res = run_variant(name, a.out, device=a.device, procs=a.procs, steps=a.steps, eval_n=a.eval_n)
        print(name, json.dumps({k: res[k] for k in ("t_data", "t_train", "best_step")}), flush=True)


if __name__ == "__main__":
    main()
