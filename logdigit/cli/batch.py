"""The ``logdigit batch`` command: translate flags, run :mod:`logdigit.batch`, report.

Registered on the app by :mod:`logdigit.cli.app`; its options come from
:mod:`logdigit.cli.options`, as ``infer``'s do. Heavy imports (dask, torch) happen inside the command.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from logdigit.cli.options import (
    DEFAULTS,
    THRESHOLD_DEFAULT,
    AmpOpt,
    DeskewOpt,
    DeviceOpt,
    HysteresisOpt,
    JsonOpt,
    MaxGapOpt,
    MaxPixelsOpt,
    ModelOpt,
    OverwriteOpt,
    QuietOpt,
    TemplateOpt,
    ThresholdOpt,
    TileOpt,
    TracerOpt,
    WeightsOpt,
    WholeScanOpt,
    err,
    infer_options,
    plain,
    redirect_closed_stdout,
    say,
)

MAX_ERRORS_SHOWN = 50
"""Failed scans listed in the summary; the manifest has them all."""


def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Scan files, folders (their .tif/.tiff/.png/.jpg/.jpeg/.bmp files), globs, or - to read "
            "one path per line from stdin.",
            show_default=False,
            metavar="INPUTS",
        ),
    ],
    outdir: Annotated[
        Path,
        typer.Option(
            "--outdir", help="Folder for NAME.las files and manifest.jsonl (created if missing).", show_default=False
        ),
    ],
    layout: Annotated[
        Path | None,
        typer.Option(
            "--layout",
            help="Layout TOML for all scans (default: SCAN.layout.toml beside each scan, "
            "else detected tracks, uncalibrated).",
        ),
    ] = None,
    template: TemplateOpt = None,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Take scans from sub-folders too (and let ** in globs descend).")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Worker processes of the embedded cluster (default: one per core; 1 for cuda).",
            show_default=False,
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Submit to this Dask scheduler (tcp://HOST:PORT) instead of a local cluster.",
            show_default=False,
        ),
    ] = None,
    torch_threads: Annotated[
        int | None,
        typer.Option(
            "--torch-threads",
            help="torch/OpenCV threads per scan (default: cores / workers locally, 1 on --scheduler).",
            show_default=False,
        ),
    ] = None,
    weights: WeightsOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = DEFAULTS.device,
    amp: AmpOpt = DEFAULTS.amp,
    threshold: ThresholdOpt = THRESHOLD_DEFAULT,
    hysteresis: HysteresisOpt = None,
    deskew: DeskewOpt = DEFAULTS.deskew,
    tile: TileOpt = DEFAULTS.tile,
    max_pixels: MaxPixelsOpt = DEFAULTS.max_pixels,
    max_gap: MaxGapOpt = DEFAULTS.max_gap,
    whole_scan: WholeScanOpt = DEFAULTS.whole_scan,
    tracer: TracerOpt = DEFAULTS.tracer,
    qc: Annotated[
        str | None,
        typer.Option(
            "--qc",
            metavar="html|png",
            show_default=False,
            help="Also write each scan's QC beside its LAS: NAME.qc.html (the viewer) or NAME.qc.png.",
        ),
    ] = None,
    quality: Annotated[
        bool,
        typer.Option(
            "--quality/--no-quality", help="Write each scan's per-depth quality CSV (NAME.quality.csv) beside its LAS."
        ),
    ] = True,
    force: Annotated[bool, typer.Option("--force", help="Redo scans already done.")] = False,
    overwrite: OverwriteOpt = False,
    json_out: JsonOpt = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also show the Dask cluster's own messages (ports, nannies, workers)."),
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Digitise an archive of scans into OUTDIR, resumably, on a local or remote Dask cluster.

    Re-runs skip scans already done; bad scans are recorded as failed, and so is a scan whose
    LAS exists but was not written by this batch (unless --overwrite). Exit 0: all done, 1: any failed.
    """
    import contextlib

    import distributed  # noqa: F401 - sets up its loggers on import; quieten them after

    from logdigit.batch import BatchInterrupted, check_cluster, interrupt_on_signals, iter_batch, plan_batch
    from logdigit.errors import LogdigitError

    # dask logs every cluster event (ports, nannies) at INFO and some at WARNING; keep stderr for
    # what the user must act on unless --verbose.
    logging.getLogger("distributed").setLevel(logging.INFO if verbose else logging.CRITICAL)
    results = []
    plan = None
    try:
        with interrupt_on_signals():
            opts = infer_options(
                weights=weights,
                model=model,
                device=device,
                threshold=threshold,
                hysteresis=hysteresis,
                deskew=deskew,
                tile=tile,
                max_pixels=max_pixels,
                max_gap=max_gap,
                whole_scan=whole_scan,
                tracer=tracer,
                amp=amp,
            )
            check_cluster(workers=workers, scheduler=scheduler, torch_threads=torch_threads)  # before planning
            with (
                err.status("finding scans and checking the manifest", spinner="dots")
                if not quiet
                else contextlib.nullcontext()
            ):
                plan = plan_batch(
                    inputs,
                    outdir=outdir,
                    layout=layout,
                    template=template,
                    options=opts,
                    recursive=recursive,
                    force=force,
                    overwrite=overwrite,
                    qc=qc,
                    quality=quality,
                )
            with (
                _progress(quiet) as progress,
                contextlib.closing(
                    iter_batch(plan, options=opts, workers=workers, scheduler=scheduler, torch_threads=torch_threads)
                ) as it,
            ):
                task = progress.add_task(f"{plan.total} scans", total=plan.total)
                for result in it:
                    results.append(result)
                    _report(result, progress, json_out=json_out, quiet=quiet)
                    progress.update(task, advance=1, description=Path(result.scan).name)
    except LogdigitError as exc:
        say(err, exc, label="error:", style="bold red")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:  # BatchInterrupted for SIGTERM, plain for a signal outside the block
        code = exc.exit_code if isinstance(exc, BatchInterrupted) else 130
        results += getattr(exc, "unreported", [])  # recorded in the manifest while stopping
        if not quiet:
            _summary(results, outdir, interrupted=True)
        raise typer.Exit(code) from None
    except BrokenPipeError:  # `--json | head`: the iterator was closed, finished scans are in the manifest
        raise _stdout_closed(plan, results, outdir) from None
    if not quiet:
        _summary(results, outdir, interrupted=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _stdout_closed(plan, results, outdir: Path) -> typer.Exit:
    """One line on stderr naming the scans not reported (not done, or done while stopping), and exit 1."""

    from logdigit.batch import MANIFEST_NAME

    redirect_closed_stdout()
    reported = {r.scan for r in results}
    every = [] if plan is None else [*plan.skipped, *plan.missing, *plan.jobs]
    left = [Path(j.scan).name for j in every if j.scan not in reported]
    shown = ", ".join(left[:MAX_ERRORS_SHOWN]) + (
        f" and {len(left) - MAX_ERRORS_SHOWN} more" if len(left) > MAX_ERRORS_SHOWN else ""
    )
    what = f"stopped with {len(left)} scan(s) not reported: {shown}" if left else "every scan was reported"
    say(
        err,
        f"stdout closed (broken pipe); {what}; {outdir / MANIFEST_NAME} records every finished scan: "
        "run the same command again to do the rest",
        label="error:",
        style="bold red",
    )
    return typer.Exit(1)


def _progress(quiet: bool):
    from rich import progress as rp

    return rp.Progress(
        rp.TextColumn("{task.description}", markup=False),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TimeElapsedColumn(),
        rp.TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=True,
        redirect_stdout=False,
    )  # rich would send --json lines to its (stderr) console


def _report(result, progress, *, json_out: bool, quiet: bool) -> None:
    """One finished scan: a JSON line on stdout, its failure or warnings on stderr."""
    if json_out:
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
    if quiet:
        return
    if result.status == "failed":
        say(progress.console, result.error, label="failed:", style="bold red")
    elif result.status == "done":
        for w in result.warnings:
            say(progress.console, w, label="warning:", style="yellow")


def _summary(results, outdir: Path, *, interrupted: bool) -> None:
    from rich.table import Table

    from logdigit.batch import MANIFEST_NAME, summarise

    counts = summarise(results)
    if interrupted:
        say(
            err,
            "finished scans are recorded and no partial LAS was left; run the same command again to resume",
            label="interrupted:",
            style="bold yellow",
        )
    table = Table()
    for name in ("done", "skipped", "failed"):
        table.add_column(name, justify="right")
    table.add_row(*(str(counts[k]) for k in ("done", "skipped", "failed")))
    err.print(table)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        errors = Table("failed scan", "error", show_lines=False)
        for r in failed[:MAX_ERRORS_SHOWN]:
            errors.add_row(plain(Path(r.scan).name), plain(r.error or ""))
        err.print(errors)
        if len(failed) > MAX_ERRORS_SHOWN:
            say(err, f"... and {len(failed) - MAX_ERRORS_SHOWN} more")
    say(err, f"manifest: {outdir / MANIFEST_NAME}")
