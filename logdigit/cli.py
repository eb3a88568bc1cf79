"""The ``logdigit`` command line. Each command translates flags and calls one library function.

Heavy imports (torch, OpenCV, lasio) happen inside the commands, so ``logdigit --help``
is instant. Every :class:`~logdigit.errors.LogdigitError` becomes one line on stderr
and the error's exit code; nothing else is printed for it.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from logdigit.cli_common import (
    DEFAULTS,
    THRESHOLD_DEFAULT,
    DeskewOpt,
    DeviceOpt,
    HysteresisOpt,
    JsonOpt,
    MaxGapOpt,
    MaxPixelsOpt,
    OverwriteOpt,
    QuietOpt,
    ThresholdOpt,
    TileOpt,
    WeightsOpt,
    WholeScanOpt,
    infer_options,
    plain,
    redirect_closed_stdout,
    say,
)

DIGITISE, RESEARCH = "Digitise", "Research (synthetic data, training, evaluation)"
"""Help panels: the commands a user digitises with, and those that build and measure the model."""

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Digitise scanned well logs into LAS curves with the VeerNet segmentation network.")
err = Console(stderr=True)

def _version(value: bool) -> None:
    if value:
        from logdigit import __version__

        print(f"logdigit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Digitise scanned well logs into LAS curves with the VeerNet segmentation network."""


def _fail(exc: Exception) -> typer.Exit:
    say(err, exc, label="error:", style="bold red")
    return typer.Exit(getattr(exc, "exit_code", 1))


def handle_errors(fn):
    """Map LogdigitError (and KeyboardInterrupt) to one clean line and an exit code."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from logdigit.errors import LogdigitError

        try:
            return fn(*args, **kwargs)
        except LogdigitError as exc:
            raise _fail(exc) from None
        except KeyboardInterrupt:
            say(err, "interrupted; no partial output was written")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise _stdout_closed() from None
    return wrapper


def _stdout_closed(not_done: list[str] | None = None) -> typer.Exit:
    """A reader closed stdout (``... | head``): one line on stderr naming the scans not done, exit 1."""

    redirect_closed_stdout()
    if not_done is None:
        what = "output stopped"
    elif not_done:
        what = f"{len(not_done)} scan(s) not done: {', '.join(not_done)}"
    else:
        what = "every scan was digitised, but part of the report on stdout was lost"
    say(err, f"stdout closed (broken pipe); {what}", label="error:", style="bold red")
    return typer.Exit(1)


def _progress(quiet: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, disable=quiet, transient=True,
                    redirect_stdout=False, redirect_stderr=False)  # stdout carries LAS and JSON


@app.command(rich_help_panel=DIGITISE, epilog="Example: logdigit infer scan.tif --layout scan.layout.toml -o scan.las --qc scan.qc.html")
@handle_errors
def infer(
    scans: Annotated[list[Path], typer.Argument(help="Scan files (PNG, JPEG, BMP, TIFF).", show_default=False)],
    layout: Annotated[Path | None, typer.Option("--layout", help="Layout TOML for all scans (default: SCAN.layout.toml beside each scan, else detected and uncalibrated).")] = None,
    output: Annotated[str | None, typer.Option("-o", "--output", help="Output LAS path; '-' writes to stdout. One scan only.")] = None,
    outdir: Annotated[Path | None, typer.Option("--outdir", help="Folder for SCAN.las files (default: beside each scan).")] = None,
    qc: Annotated[Path | None, typer.Option("--qc", help="QC path: .html for the viewer (zoom, toggles, depth ticks, flagged stretches), else an image such as .png (with several scans: a folder for SCAN.qc.png).")] = None,
    quality: Annotated[Path | None, typer.Option("--quality", help="Per-depth quality CSV: depth, and per curve the value, its confidence (probability of being within 2 % of track width) and a flag (with several scans: a folder for SCAN.quality.csv).")] = None,
    weights: WeightsOpt = None,
    device: DeviceOpt = DEFAULTS.device,
    threshold: ThresholdOpt = THRESHOLD_DEFAULT,
    hysteresis: HysteresisOpt = None,
    deskew: DeskewOpt = DEFAULTS.deskew,
    tile: TileOpt = DEFAULTS.tile,
    max_pixels: MaxPixelsOpt = DEFAULTS.max_pixels,
    max_gap: MaxGapOpt = DEFAULTS.max_gap,
    whole_scan: WholeScanOpt = DEFAULTS.whole_scan,
    overwrite: OverwriteOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Digitise scans into LAS files (one per scan), with an optional QC overlay.

    No output may be an input, and an existing file is replaced only with --overwrite.
    """
    from logdigit.errors import InputError, LogdigitError
    from logdigit.pipeline import check_outputs, default_output, digitise_to_files

    if output is not None and len(scans) > 1:
        raise InputError("-o/--output names one file but several scans were given; use --outdir DIR")
    if output is not None and outdir is not None:
        raise InputError("-o and --outdir both given; use one")
    opts = infer_options(weights=weights, device=device, threshold=threshold, hysteresis=hysteresis, deskew=deskew,
                         tile=tile, max_pixels=max_pixels, max_gap=max_gap,
                         whole_scan=whole_scan)
    many = len(scans) > 1
    jobs = [(scan, output if output is not None else str(default_output(scan, outdir=outdir)),
             (qc / f"{scan.stem}.qc.png" if many else qc) if qc is not None else None,
             (quality / f"{scan.stem}.quality.csv" if many else quality) if quality is not None else None)
            for scan in scans]
    check_outputs(jobs, layout=layout, options=opts, overwrite=overwrite)  # all of them, before any work
    failed = 0
    not_done = list(scans)
    try:
        with _progress(quiet) as progress:
            for scan, target, qc_path, quality_path in jobs:
                task = progress.add_task(f"{scan.name}", total=None)

                def cb(stage, done, total, task=task, name=scan.name):
                    progress.update(task, completed=done, total=total, description=f"{name} {stage}")
                try:
                    result, target = digitise_to_files(scan, out=target, qc=qc_path, quality=quality_path,
                                                       layout=layout, options=opts, overwrite=overwrite, progress=cb)
                except LogdigitError as exc:
                    if len(scans) == 1:
                        raise
                    failed += 1
                    not_done.remove(scan)
                    say(err, exc, label="error:", style="bold red")
                    if json_out:
                        print(json.dumps({"scan": str(scan), "status": "failed", "error": str(exc)}), flush=True)
                    continue
                finally:
                    progress.remove_task(task)
                not_done.remove(scan)
                for w in result.warnings:
                    say(err, w, label="warning:", style="yellow")
                summary = {"scan": str(scan), "status": "done", "output": target,
                           "curves": [c.mnemonic for c in result.curves.curves],
                           "samples": int(len(result.curves.depth)), "calibrated": result.layout.calibrated,
                           "tie_residual": result.curves.tie_residual,
                           "seconds": {k: round(v, 3) for k, v in result.timings.items()}}
                if json_out and output != "-":
                    print(json.dumps(summary), flush=True)
                elif not quiet:
                    say(err, f"{scan} -> {target}: {len(summary['curves'])} curves, {summary['samples']} samples, "
                                 f"{sum(result.timings.values()):.1f} s")
    except BrokenPipeError:
        raise _stdout_closed([str(s) for s in not_done]) from None
    if failed:
        raise typer.Exit(1)


@app.command(rich_help_panel=DIGITISE, epilog="Example: logdigit layout scan.tif -o scan.layout.toml --section 2")
@handle_errors
def layout(
    scan: Annotated[Path, typer.Argument(help="Scan to draft a layout for.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Where to write (default SCAN.layout.toml).")] = None,
    section: Annotated[int | None, typer.Option("--section", min=1, help="Log section to draft, counted from the top (default: the longest).")] = None,
    ocr: Annotated[bool, typer.Option("--ocr/--no-ocr", help="Read the printed depth numbers with Tesseract, where installed (LOGDIGIT_OCR=off also turns it off).")] = True,
    overwrite: OverwriteOpt = False,
    force: Annotated[bool, typer.Option("--force", hidden=True, help="Same as --overwrite.")] = False,
    max_pixels: MaxPixelsOpt = DEFAULTS.max_pixels,
) -> None:
    """Find the log sections, tracks, scales, depth ties and curve inks; write a draft layout to check."""
    from logdigit.errors import OutputError
    from logdigit.image.layout_scan import draft_text, scan_layout
    from logdigit.io.atomic import output_kind, same_file, write_text_atomic
    from logdigit.io.layout import parse_layout
    from logdigit.io.scan import MIN_SIDE, read_scan
    from logdigit.pipeline import InferOptions

    InferOptions(max_pixels=max_pixels)  # --max-pixels checked as infer checks it
    target = output or scan.with_name(scan.stem + ".layout.toml")
    if same_file(target, scan):
        raise OutputError(f"{target}: -o names the scan itself; writing the layout there would destroy the scan; "
                          "choose another path, e.g. SCAN.layout.toml")
    if output_kind(target) == "file" and not (overwrite or force):
        raise OutputError(f"{target}: already exists; pass --overwrite to replace it, or -o to write elsewhere")
    page = read_scan(scan, max_pixels=max_pixels, min_side=MIN_SIDE)
    report = scan_layout(page.image, dpi=page.dpi[1] if page.dpi else None, section=section, ocr=ocr, source=str(scan))
    text = draft_text(report)
    parse_layout(text, source=str(target))  # the draft must read back
    write_text_atomic(target, text)
    for line in report.lines():
        say(err, line)
    say(err, f"{target}: {len(report.layout.tracks)} tracks drafted; check it, fill in each curve's mnemonic, unit "
             "and scale values in its [[tracks.curves]] entry, then run `logdigit infer`")


@app.command(rich_help_panel=DIGITISE, epilog="Example: logdigit score scan.las truth.las --layout scan.layout.toml --max-shift 5")
@handle_errors
def score(
    digitised: Annotated[Path, typer.Argument(help="The digitised LAS.")],
    truth: Annotated[Path, typer.Argument(help="The reference LAS.")],
    layout: Annotated[Path | None, typer.Option("--layout", help="Layout, to normalise errors by track width.")] = None,
    max_shift: Annotated[float, typer.Option("--max-shift", help="Search depth shifts up to this (index units).")] = 0.0,
    json_out: JsonOpt = False,
) -> None:
    """Compare two LAS files curve by curve."""
    from logdigit.io.layout import load_layout
    from logdigit.score import score as score_las

    report = score_las(digitised, truth, layout=load_layout(layout) if layout else None, max_shift=max_shift)
    data = report.to_dict()
    if json_out:
        print(json.dumps(data, indent=2))
        return
    from rich.table import Table

    rows = data.get("curves", [])
    norms = sorted({str(r["normalised_by"]) for r in rows})
    table = Table(title=plain(f"{digitised.name} vs {truth.name}" + (f" (shift {data.get('shift', 0):g})" if max_shift else "")),
                  caption=plain(f"NMAE and within 2 % normalised by {', '.join(norms) or '-'}"))
    columns = [("curve", "mnemonic", str), ("unit", "unit", str), ("n", "samples", str),
               ("MAE", "mae", lambda v: f"{v:.4g}"), ("NMAE", "nmae", lambda v: f"{v:.4f}"),
               ("within 2%", "within_2pct", lambda v: f"{100 * v:.1f}%"),
               ("coverage", "coverage", lambda v: f"{100 * v:.1f}%"), ("r", "correlation", lambda v: f"{v:.4f}")]
    for title, _, _ in columns:
        table.add_column(title, justify="left" if title in ("curve", "unit") else "right")
    for r in rows:
        table.add_row(*[plain("-" if r[key] is None else fmt(r[key])) for _, key, fmt in columns])
    Console().print(table)
    missing = data.get("missing_in_digitised") or []
    if missing:
        say(err, f"not in {digitised.name}: {', '.join(missing)}", label="warning:", style="yellow")


@app.command(rich_help_panel=RESEARCH, epilog="Example: logdigit synth sheets/ --n 20 --seed 0 --split test")
@handle_errors
def synth(
    outdir: Annotated[Path, typer.Argument(help="Folder to write sheets into.")],
    n: Annotated[int, typer.Option("--n", help="Number of sheets.")] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    split: Annotated[str, typer.Option("--split", help="Seed stream: train, val, test or sample.")] = "test",
    height: Annotated[int, typer.Option("--height")] = 512,
    width: Annotated[int, typer.Option("--width")] = 640,
    quiet: QuietOpt = False,
) -> None:
    """Write synthetic scans with hard labels, soft (partial-volume) labels and true curves."""
    from logdigit.research.synth import check_sheets, write_dataset

    check_sheets(n=n, seed=seed, height=height, width=width, split=split)
    with _progress(quiet) as progress:
        task = progress.add_task("synth", total=n)
        paths = write_dataset(outdir, n=n, seed=seed, split=split, height=height, width=width,
                              progress=lambda i, total: progress.update(task, completed=i))
    if not quiet:
        say(err, f"{len(paths)} sheets written to {outdir}")


@app.command(rich_help_panel=RESEARCH, epilog="Example: logdigit train --out runs/veernet --steps 3000 --threads 2")
@handle_errors
def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder (checkpoints, best model).")] = Path("runs/veernet"),
    steps: Annotated[int, typer.Option("--steps")] = 3000,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 8,
    lr: Annotated[float, typer.Option("--lr")] = 3e-3,
    warmup: Annotated[int, typer.Option("--warmup")] = 150,
    loss: Annotated[str, typer.Option("--loss", help="A key of logdigit.research.losses.LOSSES (see `logdigit losses`).")] = "dice-ce",
    seed: Annotated[int, typer.Option("--seed", help="Training data and init seed.")] = 0,
    crop: Annotated[int, typer.Option("--crop", help="Training crop side, px.")] = 192,
    pool_size: Annotated[int, typer.Option("--pool-size", help="Sheets kept in the on-the-fly pool.")] = 400,
    eval_every: Annotated[int, typer.Option("--eval-every")] = 250,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every")] = 250,
    val_sheets: Annotated[int, typer.Option("--val-sheets")] = 16,
    widths: Annotated[str, typer.Option("--widths", help="VeerNet channels per level, finest first.")] = "8,16,32,64,128",
    threads: Annotated[int | None, typer.Option("--threads", help="torch CPU threads (default: all cores).")] = None,
    device: DeviceOpt = "auto",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Train VeerNet on on-the-fly synthetic sheets; keeps the best checkpoint by validation F1."""
    import torch

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
    data_config = DataConfig(seed=seed, pool_size=pool_size, crop=crop, batch_size=batch_size)
    train_config = TrainConfig(steps=steps, lr=lr, warmup=warmup, loss=loss, eval_every=eval_every,
                               checkpoint_every=checkpoint_every, val_sheets=val_sheets)
    with _progress(quiet) as progress:
        task = progress.add_task("drawing sheets", total=None)

        def cb(e):
            if e["phase"] == "data":
                progress.update(task, completed=e["done"], total=e["total"], description="drawing sheets")
            elif e["phase"] == "train":
                progress.update(task, completed=e["step"], total=e["steps"],
                                description=f"step {e['step']} loss {e['loss']:.4f}")
            elif not quiet:
                say(progress.console, f"step {e['step']}: val F1 solid {e['f1_solid']:.3f} "
                                      f"dashed {e['f1_dashed']:.3f}")
        state = run_train(out, model_config=model_config, data_config=data_config, train_config=train_config,
                          device=device, resume=resume, progress=cb)
    if not quiet:
        say(err, f"done: {state['step']} steps in {state['seconds'] / 60:.1f} min; best val score "
                 f"{state['best']:.4f} at step {state.get('best_step')}; best model: {out / 'best.safetensors'}")


@app.command(rich_help_panel=RESEARCH, epilog="Example: logdigit evaluate --n 200 --seed 2 --json > eval-seed2.json")
@handle_errors
def evaluate(
    weights: WeightsOpt = None,
    n: Annotated[int, typer.Option("--n", help="Test sheets.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Test-split seed.")] = 0,
    height: Annotated[int, typer.Option("--height")] = 512,
    width: Annotated[int, typer.Option("--width")] = 640,
    methods_opt: Annotated[str, typer.Option(
        "--methods", help="Comma-separated rows: veernet, classical (no learning), true-masks (the true class "
                          "masks traced: the tracer's own ceiling).")] = "veernet,classical",
    device: DeviceOpt = "auto",
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score VeerNet (and the classical baseline) on seeded synthetic test sheets never used in training."""
    from logdigit.errors import InputError
    from logdigit.model.device import resolve_device
    from logdigit.model.weights import load_model
    from logdigit.research.evaluate import HEADERS, METHODS, format_rows
    from logdigit.research.evaluate import evaluate as run_eval
    from logdigit.research.synth import check_sheets

    check_sheets(n=n, seed=seed, height=height, width=width)
    methods = tuple(dict.fromkeys(m.strip() for m in methods_opt.split(",") if m.strip()))
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InputError(f"--methods {methods_opt!r}: unknown {bad or 'empty'}; choose from {', '.join(METHODS)}")
    dev = resolve_device(device)
    model = load_model(weights, device=dev) if "veernet" in methods else None
    with _progress(quiet) as progress:
        task = progress.add_task("evaluating", total=n)
        report = run_eval(model, n=n, seed=seed, height=height, width=width, methods=methods, device=str(dev),
                          progress=lambda i, total: progress.update(task, completed=i))
    report["weights"] = str(weights) if weights else "shipped"
    if json_out:
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table

    table = Table(title=plain(f"{n} test sheets {height}x{width}, seed {seed} (1 = solid, 2 = dashed)"))
    for h in HEADERS:
        table.add_column(h, justify="right")
    for row in format_rows(report):
        table.add_row(*(plain(cell) for cell in row))
    Console().print(table)


@app.command("compare-losses", rich_help_panel=RESEARCH, epilog="Example: logdigit compare-losses --losses dice-ce,focal --seeds 0 --steps 400")
@handle_errors
def compare_losses(
    out: Annotated[Path, typer.Option("--out", help="Folder for the runs (finished runs are not redone).")] = Path("runs/compare"),
    losses: Annotated[str, typer.Option("--losses", help="Comma-separated LOSSES keys (default: dice-ce, the baseline, and the eight compared).")] = "",
    seeds: Annotated[str, typer.Option("--seeds")] = "0,1",
    steps: Annotated[int, typer.Option("--steps", help="Training steps per run (reduced budget).")] = 600,
    eval_n: Annotated[int, typer.Option("--eval-n", help="Test sheets per evaluation.")] = 100,
    eval_seed: Annotated[int, typer.Option("--eval-seed")] = 0,
    pool_size: Annotated[int, typer.Option("--pool-size")] = 400,
    widths: Annotated[str, typer.Option("--widths")] = "8,16,32,64,128",
    report: Annotated[Path, typer.Option("--report", help="Markdown report (JSON of raw numbers beside it).")] = Path("docs/loss-comparison.md"),
    threads: Annotated[int | None, typer.Option("--threads")] = None,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
) -> None:
    """Train the same VeerNet with each loss and seed, evaluate all on one test set, write a report."""
    import torch

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
    results = run_compare(out, losses=names, seeds=tuple(int(s) for s in seeds.split(",")), steps=steps,
                          model_config=VeerNetConfig(widths=tuple(int(v) for v in widths.split(","))),
                          data_config=DataConfig(pool_size=pool_size), eval_n=eval_n, eval_seed=eval_seed,
                          device=device, progress=None if quiet else (lambda m: say(err, m)))
    command = "logdigit " + " ".join(sys.argv[1:]) if sys.argv[1:] else "logdigit compare-losses"
    path = write_report(results, report, command=command)
    if not quiet:
        say(err, f"report: {path} (raw numbers: {path.with_suffix('.json')})")


@app.command("losses", rich_help_panel=RESEARCH, epilog="Example: logdigit losses")
def list_losses() -> None:
    """List the training losses (the choices of `train --loss`)."""
    from logdigit.research.losses import LOSSES

    for name, factory in LOSSES.items():
        doc = (factory.__doc__ or "").strip().splitlines()
        print(f"{name:14s} {doc[0] if doc else ''}")


from logdigit.cli_batch import batch as _batch  # noqa: E402

app.command("batch", rich_help_panel=DIGITISE,
            epilog="Example: logdigit batch archive/ --outdir las/ --recursive --qc html")(_batch)


def main() -> None:  # pragma: no cover - console-script entry
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
