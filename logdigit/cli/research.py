"""The research commands (synth, train, evaluate, compare-losses, losses).

They are the only CLI code that imports :mod:`logdigit.research`, inside each command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from logdigit.cli.options import (
    DEFAULTS,
    AmpOpt,
    DeviceOpt,
    JsonOpt,
    QuietOpt,
    WeightsOpt,
    err,
    handle_errors,
    plain,
    progress_bar,
    say,
)


def _need_research_extra() -> None:
    """Refuse cleanly when the research code's own dependency (scipy, the ``research`` extra) is missing."""
    from logdigit.errors import InputError

    try:
        import scipy  # noqa: F401
    except ImportError:
        raise InputError("this command needs the research extra: pip install 'logdigit[research]'") from None


@handle_errors
def synth(
    outdir: Annotated[Path, typer.Argument(help="Folder to write sheets into.")],
    n: Annotated[int, typer.Option("--n", help="Number of sheets.")] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    split: Annotated[str, typer.Option("--split", help="Seed stream: train, val, test or sample.")] = "test",
    height: Annotated[int, typer.Option("--height")] = 512,
    width: Annotated[int, typer.Option("--width")] = 640,
    style: Annotated[
        str, typer.Option("--style", help="print (real prints and archive scans, as trained) or classic.")
    ] = "print",
    quiet: QuietOpt = False,
) -> None:
    """Write synthetic scans with hard labels, soft (partial-volume) labels and true curves."""
    from logdigit.research.synth import check_sheets, style_named, write_dataset

    check_sheets(n=n, seed=seed, height=height, width=width, split=split)
    drawn_from = style_named(style)
    with progress_bar(quiet) as progress:
        task = progress.add_task("synth", total=n)
        paths = write_dataset(
            outdir,
            n=n,
            seed=seed,
            split=split,
            height=height,
            width=width,
            style=drawn_from,
            progress=lambda i, total: progress.update(task, completed=i),
        )
    if not quiet:
        say(err, f"{len(paths)} sheets written to {outdir}")


@handle_errors
def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder (checkpoints, best model).")] = Path("runs/veernet"),
    steps: Annotated[int, typer.Option("--steps")] = 3000,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    lr: Annotated[float, typer.Option("--lr")] = 3e-3,
    warmup: Annotated[int, typer.Option("--warmup")] = 150,
    loss: Annotated[
        str, typer.Option("--loss", help="A key of logdigit.research.losses.LOSSES (see `logdigit losses`).")
    ] = "dice-ce",
    seed: Annotated[int, typer.Option("--seed", help="Training data and init seed.")] = 0,
    crop: Annotated[int, typer.Option("--crop", help="Training crop side, px.")] = 192,
    pool_size: Annotated[int, typer.Option("--pool-size", help="Sheets kept in the on-the-fly pool.")] = 400,
    eval_every: Annotated[int, typer.Option("--eval-every")] = 250,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every")] = 250,
    val_sheets: Annotated[int, typer.Option("--val-sheets")] = 16,
    style: Annotated[
        str,
        typer.Option(
            "--style",
            help="Sheets in the print style (real prints and archive scans, crops skewed up to 2 degrees), "
            "classic (the first recipe's sheets and crops) or mixed (even sheets classic, odd print; print's crops).",
        ),
    ] = "print",
    widths: Annotated[
        str, typer.Option("--widths", help="VeerNet channels per level, finest first.")
    ] = "8,16,32,64,128",
    teacher: Annotated[
        Path | None,
        typer.Option(
            "--teacher",
            help="Distil from this VeerNet's weights (with --loss kd): CE + JML on the labels and on the "
            "teacher's soft labels.",
        ),
    ] = None,
    temperature: Annotated[
        float,
        typer.Option("--temperature", help="Softmax temperature of the teacher and the KL term (with --teacher)."),
    ] = 1.0,
    init: Annotated[
        Path | None,
        typer.Option(
            "--init",
            help="Start from this VeerNet's weights (fine-tuning) instead of a random init; --widths must match.",
        ),
    ] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="torch CPU threads (default: all cores).")] = None,
    device: DeviceOpt = "auto",
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Train VeerNet on on-the-fly synthetic sheets; keeps the best checkpoint by validation F1."""
    import torch

    _need_research_extra()  # before the research modules, which import it
    from logdigit.errors import InputError
    from logdigit.model.veernet import VeerNetConfig
    from logdigit.research.data import DataConfig
    from logdigit.research.losses import LOSSES
    from logdigit.research.train import TrainConfig
    from logdigit.research.train import train as run_train

    if loss not in LOSSES:
        raise InputError(f"--loss {loss!r}: unknown; choose one of {sorted(LOSSES)}")
    try:
        model_config = VeerNetConfig(widths=tuple(int(v) for v in widths.split(",")))
    except ValueError as exc:
        raise InputError(f"--widths {widths!r}: {exc}") from None
    if threads is not None and threads < 1:
        raise InputError(f"--threads {threads}: expected at least 1, or leave it out for all cores")
    if threads:
        torch.set_num_threads(threads)
    skew = {"skew_deg": 0.7, "p_skew": 0.2} if style == "classic" else {}  # the first recipe's crops
    data_config = DataConfig(seed=seed, pool_size=pool_size, crop=crop, batch_size=batch_size, style=style, **skew)
    train_config = TrainConfig(
        steps=steps,
        lr=lr,
        warmup=warmup,
        loss=loss,
        eval_every=eval_every,
        checkpoint_every=checkpoint_every,
        val_sheets=val_sheets,
        teacher=str(teacher) if teacher else "",
        temperature=temperature,
        init=str(init) if init else "",
    )
    with progress_bar(quiet) as progress:
        task = progress.add_task("drawing sheets", total=None)

        def cb(e):
            if e["phase"] == "data":
                progress.update(task, completed=e["done"], total=e["total"], description="drawing sheets")
            elif e["phase"] == "train":
                progress.update(
                    task, completed=e["step"], total=e["steps"], description=f"step {e['step']} loss {e['loss']:.4f}"
                )
            elif not quiet:
                say(progress.console, f"step {e['step']}: val F1 solid {e['f1_solid']:.3f} dashed {e['f1_dashed']:.3f}")

        state = run_train(
            out,
            model_config=model_config,
            data_config=data_config,
            train_config=train_config,
            device=device,
            resume=resume,
            progress=cb,
        )
    if not quiet:
        say(
            err,
            f"done: {state['step']} steps in {state['seconds'] / 60:.1f} min; best val score "
            f"{state['best']:.4f} at step {state.get('best_step')}; best model: {out / 'best.safetensors'}",
        )


@handle_errors
def evaluate(
    weights: WeightsOpt = None,
    n: Annotated[int, typer.Option("--n", help="Test sheets.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Test-split seed.")] = 0,
    height: Annotated[int, typer.Option("--height")] = 512,
    width: Annotated[int, typer.Option("--width")] = 640,
    methods_opt: Annotated[
        str,
        typer.Option(
            "--methods",
            help="Comma-separated rows: veernet, classical (no learning), true-masks (the true class "
            "masks traced: the tracer's own ceiling).",
        ),
    ] = "veernet,classical",
    style: Annotated[
        str, typer.Option("--style", help="Test sheets in the print style (the default, as trained) or classic.")
    ] = "print",
    device: DeviceOpt = "auto",
    amp: AmpOpt = DEFAULTS.amp,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score VeerNet (and the classical baseline) on seeded synthetic test sheets never used in training."""
    _need_research_extra()  # before the research modules, which import it
    from logdigit.errors import InputError
    from logdigit.model.device import resolve_device
    from logdigit.model.weights import load_model
    from logdigit.research.evaluate import HEADERS, METHODS, format_rows
    from logdigit.research.evaluate import evaluate as run_eval
    from logdigit.research.synth import check_sheets, style_named

    check_sheets(n=n, seed=seed, height=height, width=width)
    style_named(style)
    methods = tuple(dict.fromkeys(m.strip() for m in methods_opt.split(",") if m.strip()))
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InputError(f"--methods {methods_opt!r}: unknown {bad or 'empty'}; choose from {', '.join(METHODS)}")
    dev = resolve_device(device)
    model = load_model(weights, device=dev) if "veernet" in methods else None
    with progress_bar(quiet) as progress:
        task = progress.add_task("evaluating", total=n)
        report = run_eval(
            model,
            n=n,
            seed=seed,
            height=height,
            width=width,
            methods=methods,
            device=str(dev),
            progress=lambda i, total: progress.update(task, completed=i),
            style=style,
            amp=amp,
        )
    report["weights"] = str(weights) if weights else "shipped"
    report["amp"] = amp
    if json_out:
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table

    table = Table(title=plain(f"{n} {style} test sheets {height}x{width}, seed {seed} (1 = solid, 2 = dashed)"))
    for h in HEADERS:
        table.add_column(h, justify="right")
    for row in format_rows(report):
        table.add_row(*(plain(cell) for cell in row))
    Console().print(table)


@handle_errors
def compare_losses(
    out: Annotated[Path, typer.Option("--out", help="Folder for the runs (finished runs are not redone).")] = Path(
        "runs/compare"
    ),
    losses: Annotated[
        str,
        typer.Option(
            "--losses", help="Comma-separated LOSSES keys (default: dice-ce, the baseline, and the eight compared)."
        ),
    ] = "",
    seeds: Annotated[str, typer.Option("--seeds")] = "0,1",
    steps: Annotated[int, typer.Option("--steps", help="Training steps per run (reduced budget).")] = 600,
    eval_n: Annotated[int, typer.Option("--eval-n", help="Test sheets per evaluation.")] = 100,
    eval_seed: Annotated[int, typer.Option("--eval-seed")] = 0,
    pool_size: Annotated[int, typer.Option("--pool-size")] = 400,
    widths: Annotated[str, typer.Option("--widths")] = "8,16,32,64,128",
    report: Annotated[Path, typer.Option("--report", help="Markdown report (JSON of raw numbers beside it).")] = Path(
        "docs/loss-comparison.md"
    ),
    threads: Annotated[int | None, typer.Option("--threads")] = None,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
) -> None:
    """Train the same VeerNet with each loss and seed, evaluate all on one test set, write a report."""
    import torch

    _need_research_extra()  # before the research modules, which import it
    from logdigit.errors import InputError
    from logdigit.model.veernet import VeerNetConfig
    from logdigit.research.compare import COMPARED, write_report
    from logdigit.research.compare import compare_losses as run_compare
    from logdigit.research.data import DataConfig
    from logdigit.research.losses import LOSSES

    names = tuple(x for x in losses.split(",") if x) or tuple(COMPARED)
    bad = [x for x in names if x not in LOSSES]
    if bad:
        raise InputError(f"--losses {','.join(bad)}: unknown; choose from {sorted(LOSSES)}")
    if threads:
        torch.set_num_threads(threads)
    results = run_compare(
        out,
        losses=names,
        seeds=tuple(int(s) for s in seeds.split(",")),
        steps=steps,
        model_config=VeerNetConfig(widths=tuple(int(v) for v in widths.split(","))),
        data_config=DataConfig(pool_size=pool_size),
        eval_n=eval_n,
        eval_seed=eval_seed,
        device=device,
        progress=None if quiet else (lambda m: say(err, m)),
    )
    command = "logdigit " + " ".join(sys.argv[1:]) if sys.argv[1:] else "logdigit compare-losses"
    path = write_report(results, report, command=command)
    if not quiet:
        say(err, f"report: {path} (raw numbers: {path.with_suffix('.json')})")


def list_losses() -> None:
    """List the training losses (the choices of `train --loss`)."""
    from logdigit.research.losses import LOSSES

    for name, factory in LOSSES.items():
        doc = (factory.__doc__ or "").strip().splitlines()
        print(f"{name:14s} {doc[0] if doc else ''}")
