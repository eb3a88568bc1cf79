"""Family templates: a layout written once for a log family (one vendor, one track format),
registered onto each new scan of the family.

The template's tracks, scales, curves and inks are kept; what changes from scan to scan is
found again on the scan by :func:`logdigit.image.layout_scan.scan_layout`: where the tracks sit
(a scan cropped or shifted differently moves them sideways), which rows hold the log section,
and the depth ties (read from the printed depth numbers). Registration shifts the template's
tracks by the one column offset that puts every template track edge on a track edge found on
the scan, within ``tol`` px; a scan whose edges do not all match, or whose depth numbers could
not be read, is refused with the reason, so a batch records it as failed instead of guessing.

    reg = register_template(load_layout("family.toml"), read_scan("new.tif").image, dpi=100)
    reg.layout        # ready for digitise(); reg.shift, reg.edge_residual, reg.tie_residual
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from logdigit.errors import LayoutError
from logdigit.io.layout import DepthSpec, Layout

DEFAULT_TOL = 3
"""px: how far a found track edge may lie from the shifted template edge."""

SCALE_TOL = 0.05
"""How far (as a share) a section's depth scale may be from the template's to be its section."""

MAX_SECTIONS_TRIED = 6
"""Sections tried, longest first, for the one drawn at the template's depth scale."""


@dataclass(frozen=True)
class Registration:
    """A template registered onto one scan.

    Attributes:
        layout: the template's tracks (shifted by ``shift``), scales, curves and inks, with
            the scan's depth ties and section rows; ``source`` names the template.
        shift: columns added to every template track edge.
        edge_residual: largest distance in px from a shifted template edge to the found edge.
        tie_residual: RMS residual of the depth ties read on the scan (depth units).
        ties: the (row, depth) ties read on the scan.
    """

    layout: Layout
    shift: int
    edge_residual: float
    tie_residual: float
    ties: tuple[tuple[float, float], ...]


def register_template(
    template: Layout,
    image: np.ndarray,
    *,
    dpi: float | None = None,
    section: int | None = None,
    ocr: bool = True,
    tol: int = DEFAULT_TOL,
    source: str | None = None,
) -> Registration:
    """Register ``template`` onto a scan of its family.

    Args:
        template: the family's layout (tracks with their curves; its depth ties are not used).
        image: uint8 (H, W, 3) RGB scan, as :func:`logdigit.io.scan.read_scan` gives.
        dpi: the scan's vertical resolution, if known (helps find sections and numbers).
        section: which log section to use (1-based from the top). Default: when the template's
            ties give its depth scale (depth per pixel row), the longest section read at that
            scale (within :data:`SCALE_TOL`), trying up to :data:`MAX_SECTIONS_TRIED`; else the
            longest section.
        ocr: read the printed depth numbers (needed: they give the depth ties).
        tol: px a found track edge may be from the shifted template edge.
        source: the scan's path, for messages.

    Returns:
        A :class:`Registration`.

    Raises:
        LayoutError: one line naming the scan, what did not register and the fix: a template
            without tracks, template edges not found on the scan, or no depth ties read.
    """
    where = source or "scan"
    if not template.tracks:
        raise LayoutError(f"{template.source or 'template'}: has no [[tracks]]; write the family's tracks into it")
    report = _section_report(template, image, dpi=dpi, section=section, ocr=ocr, source=source)
    edges = sorted({e for t in report.tracks for e in (t.left, t.right)})
    shift, matched, residual = _best_shift(_edges(template), edges, tol)
    n = 2 * len(template.tracks)
    if matched < n:
        raise LayoutError(
            f"{where}: the template's tracks do not register: {matched} of {n} track edges found within {tol} px "
            f"(best shift {shift:+d} px; edges found {edges}); check that the scan is of the template's family, "
            "or draft a layout for it with `logdigit layout`"
        )
    if report.fit is None or len(report.ties) < 2:
        raise LayoutError(
            f"{where}: no depth ties read from the printed depth numbers ({report.ocr or 'none found'}); "
            "write this scan's [depth] ties by hand (apt-get install tesseract-ocr adds a second reader where "
            "it is missing)"
        )
    tracks = tuple(dataclasses.replace(t, left=t.left + shift, right=t.right + shift) for t in template.tracks)
    width = image.shape[1]
    if tracks[0].left < 0 or tracks[-1].right >= width:
        raise LayoutError(
            f"{where}: the registered tracks run past the scan's edge (shift {shift:+d} px); "
            "check the scan is not cropped into its tracks"
        )
    drafted = report.layout.depth
    depth = DepthSpec(
        template.depth.unit, template.depth.step, tuple(report.ties), rows=drafted.rows, interpolate=drafted.interpolate
    )
    layout = Layout(depth, tracks, well=dict(template.well), source=template.source)
    return Registration(
        layout=layout,
        shift=shift,
        edge_residual=residual,
        tie_residual=float(report.residual or 0.0),
        ties=tuple(report.ties),
    )


def _section_report(template: Layout, image: np.ndarray, *, dpi, section, ocr, source):
    """The scan_layout report of the section to register onto (see :func:`register_template`)."""
    from logdigit.image.layout_scan import scan_layout

    scale = _scale(template)
    first = scan_layout(image, dpi=dpi, section=section, ocr=ocr, source=source)
    if section is not None or scale is None or first.fit is None or _matches(first, scale):
        return first  # (without a fit, register_template says no depth ties were read)
    by_length = sorted(range(len(first.sections)), key=lambda k: -(first.sections[k].last - first.sections[k].first))
    for k in by_length[:MAX_SECTIONS_TRIED]:
        if k == first.section:
            continue
        report = scan_layout(image, dpi=dpi, section=k + 1, ocr=ocr, source=source)
        if _matches(report, scale):
            return report
    found = first.fit[1] if first.fit else None
    raise LayoutError(
        f"{source or 'scan'}: no log section is drawn at the template's depth scale ({scale:.4g} per row"
        + (f"; the longest section has {found:.4g}" if found else "")
        + "); check the scan is of the template's family, or pass --section N"
    )


def _scale(template: Layout) -> float | None:
    """Depth per pixel row of a calibrated template, from calibration's fit of its ties (None when
    it has no usable ties: placeholder pixel rows, or ties under 2 rows apart)."""
    from logdigit.calibrate import fit_ties

    rows = [r for r, _ in template.depth.ties]
    if not template.calibrated or template.depth.unit.upper() == "PX" or not rows or max(rows) - min(rows) < 2:
        return None
    try:
        return abs(fit_ties(template)[1])
    except LayoutError:
        return None


def _matches(report, scale: float) -> bool:
    return report.fit is not None and abs(abs(report.fit[1]) - scale) <= SCALE_TOL * scale


def _edges(layout: Layout) -> list[int]:
    return [e for t in layout.tracks for e in (t.left, t.right)]


def _best_shift(template: list[int], found: list[int], tol: int) -> tuple[int, int, float]:
    """(shift, edges matched, largest residual px) of the shift that matches the most template
    edges to found edges within ``tol`` (ties: the smaller largest residual, then the smaller
    mean residual, then the smaller shift).

    >>> _best_shift([10, 60, 80, 130], [2, 41, 91, 110, 161], 3)
    (31, 4, 1.0)
    """
    if not found:
        return 0, 0, float("inf")
    t, f = np.asarray(template, float), np.asarray(found, float)
    best_key, shift, matched, residual = None, 0, 0, float("inf")
    for s in sorted({int(round(x - y)) for x in f for y in t}, key=abs):
        d = np.abs(f[None, :] - (t[:, None] + s)).min(axis=1)
        ok = d <= tol
        near = d[ok] if ok.any() else np.array([np.inf])
        key = (int(ok.sum()), -float(near.max()), -float(near.mean()))
        if best_key is None or key > best_key:
            best_key, shift, matched, residual = key, s, key[0], -key[1]
    return shift, matched, residual
