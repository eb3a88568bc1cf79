"""The ``logdigit infer`` command: scans -> LAS (+ QC, quality CSV) through :func:`logdigit.pipeline.digitise_to_files`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
    handle_errors,
    infer_options,
    progress_bar,
    say,
    stdout_closed,
)


@handle_errors
def infer(
    scans: Annotated[list[Path], typer.Argument(help="Scan files (PNG, JPEG, BMP, TIFF).", show_default=False)],
    layout: Annotated[
        Path | None,
        typer.Option(
            "--layout",
            help="Layout TOML for all scans (default: SCAN.layout.toml beside each scan, else detected and uncalibrated).",
        ),
    ] = None,
    template: TemplateOpt = None,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Output LAS path; '-' writes to stdout. One scan only.")
    ] = None,
    outdir: Annotated[
        Path | None, typer.Option("--outdir", help="Folder for SCAN.las files (default: beside each scan).")
    ] = None,
    qc: Annotated[
        Path | None,
        typer.Option(
            "--qc",
            help="QC path: .html for the viewer (zoom, toggles, depth ticks, flagged stretches), else an image such as .png (with several scans: a folder for SCAN.qc.png).",
        ),
    ] = None,
    quality: Annotated[
        Path | None,
        typer.Option(
            "--quality",
            help="Per-depth quality CSV: depth, and per curve the value, its confidence (probability of being within 2 % of track width) and a flag (with several scans: a folder for SCAN.quality.csv).",
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
    many = len(scans) > 1
    jobs = [
        (
            scan,
            output if output is not None else str(default_output(scan, outdir=outdir)),
            (qc / f"{scan.stem}.qc.png" if many else qc) if qc is not None else None,
            (quality / f"{scan.stem}.quality.csv" if many else quality) if quality is not None else None,
        )
        for scan in scans
    ]
    check_outputs(
        jobs, layout=layout if template is None else template, options=opts, overwrite=overwrite
    )  # all of them, before any work
    failed = 0
    not_done = list(scans)
    try:
        with progress_bar(quiet) as progress:
            for scan, target, qc_path, quality_path in jobs:
                task = progress.add_task(f"{scan.name}", total=None)

                def cb(stage, done, total, task=task, name=scan.name):
                    progress.update(task, completed=done, total=total, description=f"{name} {stage}")

                try:
                    result, target = digitise_to_files(
                        scan,
                        out=target,
                        qc=qc_path,
                        quality=quality_path,
                        layout=layout,
                        template=template,
                        options=opts,
                        overwrite=overwrite,
                        progress=cb,
                    )
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
                summary: dict[str, Any] = {
                    "scan": str(scan),
                    "status": "done",
                    "output": target,
                    "curves": [c.mnemonic for c in result.curves.curves],
                    "samples": int(len(result.curves.depth)),
                    "calibrated": result.layout.calibrated,
                    "tie_residual": result.curves.tie_residual,
                    "seconds": {k: round(v, 3) for k, v in result.timings.items()},
                }
                if json_out and output != "-":
                    print(json.dumps(summary), flush=True)
                elif not quiet:
                    say(
                        err,
                        f"{scan} -> {target}: {len(summary['curves'])} curves, {summary['samples']} samples, "
                        f"{sum(result.timings.values()):.1f} s",
                    )
    except BrokenPipeError:
        raise stdout_closed([str(s) for s in not_done]) from None
    if failed:
        raise typer.Exit(1)
