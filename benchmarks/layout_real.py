"""`logdigit layout` on the real prints of ../shared/realdata, compared with the kit's layouts.

Prints (and with --doc writes) figures only: border errors in px, scale types, tie errors in
ft at every labelled depth of the kit, section rows, ink Delta E, the line style drafted for
each kit curve's ink; and a template made from the WSC section A layout registered onto a
shifted and cropped copy of the print (written under build/, never committed), its LAS scored
by the kit's scorer beside the hand layout's. No pixels of the prints.
Skips cleanly (exit 0) when the kit is absent. Run: make layout-real
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from logdigit.image.layout_scan import delta_e, scan_layout, with_line_styles
from logdigit.io.layout import load_layout
from logdigit.io.scan import read_scan
from logdigit.pipeline import class_masks

KIT = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"
CASES = [  # (name, scan, kit layout, section to pick by matching the kit's rows)
    ("WSC section A", "wsc/LAVACARIVER_WESTSANDYCREEKUNIT3_MS.tif", "wsc/wsc_A.layout.toml"),
    ("WSC section B", "wsc/LAVACARIVER_WESTSANDYCREEKUNIT3_MS.tif", "wsc/wsc_B.layout.toml"),
    ("KGS main pass", "kgs/273101.tif", "kgs/kgs273101.layout.toml"),
]


def _section_for(report_sections, rows) -> int | None:
    """1-based number of the detected section that overlaps the kit's rows most."""
    best = max(
        range(len(report_sections)),
        default=None,
        key=lambda i: min(report_sections[i].last, rows[1]) - max(report_sections[i].first, rows[0]),
    )
    return None if best is None else best + 1


def _compare(name: str, scan: Path, kit_path: Path) -> list[str]:
    kit = load_layout(kit_path)
    page = read_scan(scan)
    dpi = page.dpi[1] if page.dpi else None
    probe = scan_layout(page.image, dpi=dpi, ocr=False)
    number = _section_for(probe.sections, kit.depth.rows)
    t0 = time.perf_counter()
    rep = scan_layout(page.image, dpi=dpi, section=number)
    took = time.perf_counter() - t0
    rep = with_line_styles(rep, page.image, partial(class_masks, device="cpu"))
    took_lines = time.perf_counter() - t0 - took
    lay = rep.layout
    out = [
        f"### {name}",
        "",
        f"`{scan.name}` ({page.image.shape[0]} x {page.image.shape[1]} px), "
        f"section {number} of {len(rep.sections)}; `scan_layout` {took:.1f} s (OCR included), "
        f"line styles {took_lines:.1f} s",
        "",
    ]
    sec = rep.sections[number - 1]
    rows = lay.depth.rows
    kr = kit.depth.rows
    out.append(
        f"- section rows (curves): found {rows[0]}-{rows[1]}, kit {kr[0]}-{kr[1]}: "
        f"error {rows[0] - kr[0]:+d} / {rows[1] - kr[1]:+d} px (grid rows {sec.first}-{sec.last})"
    )
    found = sorted({t.left for t in lay.tracks} | {t.right for t in lay.tracks})
    want = sorted({t.left for t in kit.tracks} | {t.right for t in kit.tracks})
    errs = [min(abs(f - w) for f in found) for w in want]
    extra = [f for f in found if min(abs(f - w) for w in want) > 3]
    out.append(
        f"- track borders: kit {want}, found {found}; error per kit border {errs} px "
        f"(max {max(errs)}, target <= 3)" + (f"; found but not in the kit: {extra}" if extra else "")
    )
    for i, kt in enumerate(kit.tracks):
        match = [t for t in rep.tracks if t.left < kt.right and kt.left < t.right]
        got = ", ".join(f"{t.scale} ({t.divisions} {'decades' if t.scale == 'log' else 'div.'})" for t in match)
        ok = all(t.scale == kt.scale for t in match) and match
        out.append(
            f"- track {i + 1} ({kt.left}-{kt.right}) scale: kit {kt.scale}, found {got or 'none'}: "
            f"{'right' if ok else 'WRONG'}"
        )
    if rep.fit:
        from logdigit.calibrate import depth_map

        ties = np.array(kit.depth.ties)
        err = np.abs(depth_map(rep.layout).depth(ties[:, 0]) - ties[:, 1])  # the draft's depth, as the LAS gets it
        out.append(
            f"- depth ties: {rep.kept} of {len(rep.readings)} numbers kept"
            + (f", refitted on {rep.ruled} heavy depth lines" if rep.ruled else "")
            + (" (interpolated between them)" if rep.layout.depth.interpolate else "")
            + f", RMS residual "
            f"{rep.residual:.3f} ft, {rep.depth_scale}; error at the kit's {len(ties)} labelled depths: "
            f"max {err.max():.3f} ft, mean {err.mean():.3f} ft (target <= 0.5)"
        )
    else:
        out.append(f"- depth ties: none read ({rep.ocr})")
    inks, styles = [], []
    for kt in kit.tracks:
        found = [
            (c, line)
            for t in rep.tracks
            if t.left < kt.right and kt.left < t.right
            for c, line in zip(t.inks, t.lines or (None,) * len(t.inks), strict=True)
        ]
        for c in kt.curves:
            if c.color is not None and found:
                d, line = min((delta_e(c.color, f), line) for f, line in found)
                inks.append(f"{c.mnemonic} {d:.1f}")
                if d <= 10:
                    styles.append((c.mnemonic, c.line, line))
    if inks:
        out.append(
            "- inks, Delta E (CIE76) from the kit colour to the nearest ink found in its track: " + ", ".join(inks)
        )
        wrong = [f"{m} ({want}, drafted {got})" for m, want, got in styles if got != want]
        out.append(
            f"- line style of the ink (within 10 Delta E): {len(styles) - len(wrong)} of {len(styles)} right"
            + (f"; wrong: {', '.join(wrong)}" if wrong else "")
        )
    else:
        out.append(
            "- inks: the kit names no colours (1-bit scan); found "
            + "; ".join(
                f"track {i + 1}: " + (", ".join("#{:02x}{:02x}{:02x}".format(*c) for c in t.inks) or "none")
                for i, t in enumerate(rep.tracks)
            )
        )
    out.extend(f"- report: {line}" for line in rep.problems)
    return out + [""]


TEMPLATE_SHIFT, TEMPLATE_TOP, TEMPLATE_ROWS = 17, 1500, 6500  # the copy: columns added left, rows from, rows kept


def _template(kit_dir: Path) -> list[str]:
    """A template made from the WSC section A layout, registered onto a shifted and cropped copy
    of the print (written under build/, never committed): the registration found, and the LAS
    it gives scored by the kit's scorer beside the LAS of the hand layout on the print itself."""
    import importlib.util

    import tifffile

    from logdigit.image.template import register_template
    from logdigit.io.layout import layout_to_toml
    from logdigit.pipeline import InferOptions, digitise_to_files

    scan = kit_dir / CASES[0][1]
    kit_path, truth = kit_dir / CASES[0][2], kit_dir / "wsc/wsc_A.truth.npz"
    template = load_layout(kit_path)
    page = read_scan(scan)
    dpi = page.dpi[1] if page.dpi else None
    part = page.image[TEMPLATE_TOP : TEMPLATE_TOP + TEMPLATE_ROWS]
    copy = np.full((part.shape[0], part.shape[1] + TEMPLATE_SHIFT, 3), 255, np.uint8)
    copy[:, TEMPLATE_SHIFT:] = part
    build = Path(__file__).resolve().parent.parent / "build" / "layout-real"
    build.mkdir(parents=True, exist_ok=True)
    copy_path = build / "wsc_shifted_cropped.tif"
    tifffile.imwrite(copy_path, copy, resolution=(dpi, dpi) if dpi else None)
    reg = register_template(template, copy, dpi=dpi)
    reg_path = build / "wsc_shifted_cropped.layout.toml"
    reg_path.write_text(layout_to_toml(reg.layout))
    from logdigit.calibrate import depth_map

    kit_rows = np.array([r for r, _ in template.depth.ties], float)
    err = np.abs(depth_map(reg.layout).depth(kit_rows - TEMPLATE_TOP) - np.array([d for _, d in template.depth.ties]))
    spec = importlib.util.spec_from_file_location("score_pixels", kit_dir / "score_pixels.py")
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    opts = InferOptions(device="cpu")
    rows, made = [], []
    for label, image_path, layout_path in (
        ("hand layout on the print", scan, kit_path),
        ("template registered on the copy", copy_path, reg_path),
    ):
        las = build / f"{image_path.stem}.las"
        digitise_to_files(image_path, out=las, layout=layout_path, options=opts, overwrite=True)
        made.append(las)
        got = scorer.score(str(las), str(kit_path), str(truth))["summary"]
        rows.append(
            f"| {label} | {got['within_2pct']:.1%} | {got['over_10pct']:.1%} | {got['coverage']:.1%} "
            f"| {got['mean']:.4f} |"
        )
    same, both = _agreement(made[0], made[1], template)
    return [
        "### Template: the WSC section A layout registered onto a shifted and cropped copy of the print",
        "",
        f"The copy: rows {TEMPLATE_TOP}-{TEMPLATE_TOP + TEMPLATE_ROWS - 1} of the print, {TEMPLATE_SHIFT} blank "
        f"columns added on the left. Registration: shift {reg.shift:+d} px (applied {TEMPLATE_SHIFT:+d}), edge "
        f"residual {reg.edge_residual:g} px, {len(reg.ties)} ties read (RMS residual {reg.tie_residual:.3g}); depth "
        f"at the kit's {len(kit_rows)} tie rows (moved to the copy) off by at most {err.max():.3f} ft.",
        "Both LAS scored by the kit's scorer against the kit's truth and layout (depths are the print's):",
        "",
        "| LAS | within 2 % | > 10 % off | coverage | mean error |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"The two LAS themselves: of the {both} samples (all curves) where both hold a value, {same:.1%} agree within "
        "2 % of track width.",
        "",
    ]


def _agreement(las_a: Path, las_b: Path, layout) -> tuple[float, int]:
    """Share of the samples (all curves, depths in both) where two LAS agree within 2 % of track
    width, and how many samples both hold."""
    import lasio

    a, b = lasio.read(las_a), lasio.read(las_b)
    depths = np.intersect1d(np.round(a.index, 5), np.round(b.index, 5))
    ia = np.searchsorted(np.round(a.index, 5), depths)
    ib = np.searchsorted(np.round(b.index, 5), depths)
    close = total = 0
    for track in layout.tracks:
        for c in track.curves:
            va, vb = a[c.mnemonic][ia], b[c.mnemonic][ib]
            if track.scale == "log":
                va, vb = np.log10(np.where(va > 0, va, np.nan)), np.log10(np.where(vb > 0, vb, np.nan))
                span = np.log10(c.right_value) - np.log10(c.left_value)
            else:
                span = c.right_value - c.left_value
            ok = np.isfinite(va) & np.isfinite(vb)
            close += int((np.abs(va[ok] - vb[ok]) <= 0.02 * abs(span)).sum())
            total += int(ok.sum())
    return (close / total if total else float("nan")), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=KIT)
    parser.add_argument("--doc", type=Path, help="also write the comparison here (markdown)")
    args = parser.parse_args(argv)
    if not args.kit.is_dir():
        print(f"skipped: {args.kit} is absent (the real-print kit is local only)")
        return 0
    lines = [
        "# `logdigit layout` on the real prints",
        "",
        "Made by `make layout-real` (benchmarks/layout_real.py): the draft of each section compared with the",
        "kit's hand layout. Figures only; the prints stay outside the repository.",
        f"Times are wall seconds, one thread, with a load average of {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores at the start.",
        "",
    ]
    for name, scan, kit in CASES:
        lines += _compare(name, args.kit / scan, args.kit / kit)
    lines += _template(args.kit)
    lines += [
        "### Notes",
        "",
        "- Section rows are the rows of the section on which the tracks hold curve ink. The WSC kit's `rows`",
        "  are the same (every row on which a curve is drawn); the KGS kit's are its first and last labelled",
        "  50-ft lines (250 and 1100 ft), and the scan's curves run on above and below them, from the top of the",
        "  section's grid to about 40 ft past 1100 ft: the KGS row errors are that difference of definition.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.doc:
        args.doc.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
