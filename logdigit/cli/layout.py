"""The ``logdigit layout`` command: a draft layout file from a scan (:func:`logdigit.image.layout_scan.scan_layout`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from logdigit.cli.options import (
    DEFAULTS,
    DeviceOpt,
    MaxPixelsOpt,
    OverwriteOpt,
    TemplateOpt,
    WeightsOpt,
    err,
    handle_errors,
    say,
)


@handle_errors
def layout(
    scan: Annotated[Path, typer.Argument(help="Scan to draft a layout for.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write (default SCAN.layout.toml).")
    ] = None,
    section: Annotated[
        int | None,
        typer.Option("--section", min=1, help="Log section to draft, counted from the top (default: the longest)."),
    ] = None,
    ocr: Annotated[
        bool,
        typer.Option(
            "--ocr/--no-ocr",
            help="Read the printed depth numbers (DigitNet, shipped, and Tesseract where installed; "
            "LOGDIGIT_OCR=off also turns it off, LOGDIGIT_OCR=digitnet reads with DigitNet alone).",
        ),
    ] = True,
    lines: Annotated[
        bool,
        typer.Option(
            "--lines/--no-lines",
            help="Run the network on a few bands of rows to tell each ink's line style (solid or dashed).",
        ),
    ] = True,
    weights: WeightsOpt = None,
    device: DeviceOpt = "auto",
    template: TemplateOpt = None,
    overwrite: OverwriteOpt = False,
    force: Annotated[bool, typer.Option("--force", hidden=True, help="Same as --overwrite.")] = False,
    max_pixels: MaxPixelsOpt = DEFAULTS.max_pixels,
) -> None:
    """Find the log sections, tracks, scales, depth ties and curve inks; write a draft layout to check.

    With --template, register a family template onto the scan instead and write the result.
    """
    from logdigit.errors import OutputError
    from logdigit.image.layout_scan import draft_text, scan_layout
    from logdigit.io.atomic import output_kind, same_file, write_text_atomic
    from logdigit.io.layout import parse_layout
    from logdigit.io.scan import MIN_SIDE, read_scan
    from logdigit.pipeline import InferOptions

    InferOptions(max_pixels=max_pixels, device=device)  # --max-pixels checked as infer checks it
    target = output or scan.with_name(scan.stem + ".layout.toml")
    if same_file(target, scan):
        raise OutputError(
            f"{target}: -o names the scan itself; writing the layout there would destroy the scan; "
            "choose another path, e.g. SCAN.layout.toml"
        )
    if output_kind(target) == "file" and not (overwrite or force):
        raise OutputError(f"{target}: already exists; pass --overwrite to replace it, or -o to write elsewhere")
    page = read_scan(scan, max_pixels=max_pixels, min_side=MIN_SIDE)
    if template is not None:
        from logdigit.image.template import register_template
        from logdigit.io.layout import layout_to_toml, load_layout

        reg = register_template(
            load_layout(template),
            page.image,
            dpi=page.dpi[1] if page.dpi else None,
            section=section,
            ocr=ocr,
            source=str(scan),
        )
        write_text_atomic(target, layout_to_toml(reg.layout))
        say(
            err,
            f"{target}: {template} registered: tracks shifted {reg.shift:+d} px (edges within "
            f"{reg.edge_residual:g} px), {len(reg.ties)} depth ties read (RMS residual {reg.tie_residual:.3g})",
        )
        return
    report = scan_layout(page.image, dpi=page.dpi[1] if page.dpi else None, section=section, ocr=ocr, source=str(scan))
    if lines:
        from functools import partial

        from logdigit.image.layout_scan import with_line_styles
        from logdigit.pipeline import class_masks

        report = with_line_styles(
            report, page.image, partial(class_masks, weights=str(weights) if weights else None, device=device)
        )
    text = draft_text(report)
    parse_layout(text, source=str(target))  # the draft must read back
    write_text_atomic(target, text)
    for line in report.lines():
        say(err, line)
    say(
        err,
        f"{target}: {len(report.layout.tracks)} tracks drafted; check it, fill in each curve's mnemonic, unit "
        "and scale values in its [[tracks.curves]] entry, then run `logdigit infer`",
    )
