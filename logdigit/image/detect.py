"""Track detection: find the tracks of a scan from its long vertical rulings (no layout file).

A log sheet's track borders are the heaviest lines running down the whole scan; grid
lines inside the tracks run down it too but are thinner or fainter; the depth column
between tracks holds numbers but (usually) no grid. So:

1. darkness (255 - grey), squeezed to about 1500 rows (area average, columns kept);
2. a grey-level opening with a tall 1-px-wide kernel (1/30 of the height) keeps only
   long vertical strokes;
3. the column profile (mean over rows) shows every ruling as a peak; adjacent columns
   are grouped into lines, each with a strength (sum of its profile: darkness x width x
   coverage) and a coverage (fraction of rows it is dark in); borders cover half the rows
   or more;
4. the long lines are split into borders and grid lines at the largest ratio between
   consecutive strengths (all are borders when no ratio stands out);
5. tracks are the spans between consecutive borders that hold grid lines (when some
   span does) or, on a sheet without grid, that are wider than a third of the widest;
6. a span whose grid no one linear or logarithmic track explains, but which splits at
   long rulings into pieces that each do (a linear track beside a log track whose shared
   border is no heavier than the grid), is split there.

A drift of a few pixels down the scan is tolerated; deskew a rotated scan first
(:mod:`logdigit.image.preprocess`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from logdigit.errors import InputError, LayoutError
from logdigit.io.layout import Layout, uncalibrated_layout

log = logging.getLogger(__name__)

_WORK_ROWS = 1500  # rows after squeezing: plenty to tell a ruling from a curve
_KERNEL_FRACTION = 30  # the opening keeps vertical strokes longer than 1/30 of the height
_MIN_COVERAGE = 0.5  # a border is dark in at least this fraction of the rows
_SPLIT_RATIO = 1.8  # borders are at least this much stronger than the strongest grid line
_MIN_TRACK_PX = 16
_MIN_TRACK_FRACTION = 0.35  # of the widest span, on a sheet without grid lines


@dataclass(frozen=True)
class _Line:
    """One vertical ruling: centre column, strength and coverage."""

    x: float
    strength: float
    coverage: float


def detect_layout(image: np.ndarray, *, min_track_width: int = _MIN_TRACK_PX, source: str | None = None) -> Layout:
    """Find the tracks on an upright scan; return an uncalibrated draft layout.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey, upright (deskewed if need be); not modified.
        min_track_width: narrowest span in pixels that can be a track.
        source: the scan's path, named in errors.

    Returns:
        A :class:`Layout` with ``calibrated=False``: index = pixel row
        (``DepthSpec("PX", 1.0, ((0, 0), (H - 1, H - 1)))``), one track per detected
        span with edges at the border centres, each with curves ``T{i}_SOLID`` and
        ``T{i}_DASHED`` valued 0 (left edge) to 1 (right edge).

    Raises:
        InputError: not an image.
        LayoutError: no track borders found (then write a layout file).

    Example:
        >>> page = np.full((300, 200), 255, np.uint8)
        >>> page[:, 9:12] = page[:, 99:102] = page[:, 189:192] = 0
        >>> [(t.left, t.right) for t in detect_layout(page).tracks]
        [(10, 100), (100, 190)]
    """
    where = f"{source}: " if source else ""
    grey = _grey(image, where)
    if not isinstance(min_track_width, int) or min_track_width < 2:
        raise ValueError(f"min_track_width must be an int >= 2 pixels, got {min_track_width!r}")
    ink = _ink(image)
    lines = _vertical_lines(ink)
    spans = _ruled_spans(ink, lines, min_track_width)
    borders, grid = _split_borders(lines)
    if not spans:
        spans = _track_spans(borders, grid, min_track_width)
    spans = [part for a, b in spans for part in _split_by_grid(a, b, lines, min_track_width)]
    if not spans:
        raise LayoutError(
            f"{where}found no tracks: {len(borders)} long vertical ruling(s) in a {grey.shape[1]}-px wide scan; "
            "deskew the scan or write a layout file (logdigit layout, then --layout)"
        )
    log.info("detected %d tracks: %s", len(spans), spans)
    return uncalibrated_layout(spans, grey.shape[0])


def _grey(image, where: str = "") -> np.ndarray:
    ok = (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))
    )
    if not ok or image.shape[0] < 2 or image.shape[1] < 2:
        got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(
            f"{where}image must be uint8 (H, W, 3) RGB or (H, W) grey, at least 2 x 2; got {got}; give a full scan"
        )
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _ink(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W) ink above the paper: 255 - darkest channel, minus the paper's own level.

    The darkest channel makes coloured rulings count as much as grey ones; subtracting the
    median (the paper, which covers most of a sheet) keeps tinted paper at zero.
    """
    darkest = image if image.ndim == 2 else image.min(axis=2)
    ink = cv2.subtract(np.full(darkest.shape, 255, np.uint8), darkest)
    step = max(1, ink.size // 1_000_000)
    paper = int(np.median(ink.reshape(-1)[::step]))
    return cv2.subtract(ink, np.full_like(ink, paper))


def _ruled_spans(ink: np.ndarray, lines: list[_Line], min_width: int) -> list[tuple[int, int]]:
    """Tracks as the column ranges crossed by horizontal depth rulings.

    Depth rulings run across each track from border to border and stop at the depth
    column and the margins, whatever the rulings' weight or colour. Each range's ends
    snap to the nearest long vertical line; a range holding two tracks side by side is
    split at an inner vertical line as strong as its edges.
    """
    h, w = ink.shape
    rows = min(h, _WORK_ROWS * 2)
    small = cv2.resize(ink, (w, rows), interpolation=cv2.INTER_AREA) if rows < h else ink
    _, mask = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    horiz = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, max(min_width, 24)), np.uint8))
    profile = (horiz > 0).mean(axis=0)
    if profile.max() <= 0.01:
        return []
    ruled = profile > 0.4 * np.percentile(profile[profile > 0], 90)
    padded = np.concatenate([[False], ruled, [False]])
    starts = np.nonzero(~padded[:-1] & padded[1:])[0]
    ends = np.nonzero(padded[:-1] & ~padded[1:])[0] - 1
    long_lines = [ln for ln in lines if ln.coverage >= _MIN_COVERAGE]
    spans = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if b - a < min_width:
            continue
        left, right = _snap(a, long_lines), _snap(b, long_lines)
        spans.extend(_split_span(left, right, long_lines, min_width))
    return spans


def _snap(x: int, lines: list[_Line], tol: float = 4.0) -> int:
    near = [ln for ln in lines if abs(ln.x - x) <= tol]
    return int(round(max(near, key=lambda ln: ln.strength).x)) if near else int(x)


def _split_span(left: int, right: int, lines: list[_Line], min_width: int) -> list[tuple[int, int]]:
    """Split a ruled range holding side-by-side tracks at their shared borders.

    Shared borders are the interior lines above the first clear drop in strength (>= 1.5x)
    among the interior lines, and about as strong as the range's edges. Two tracks whose
    shared border is no heavier than their grid stay one span (the draft says to check).
    """
    edges = [ln for ln in lines if abs(ln.x - left) <= 4 or abs(ln.x - right) <= 4]
    interior = sorted((ln for ln in lines if left + 4 < ln.x < right - 4), key=lambda ln: ln.strength, reverse=True)
    if not edges or len(interior) < 2:
        return [(left, right)]
    strengths = [ln.strength for ln in interior]
    ratios = [a / max(b, 1e-9) for a, b in zip(strengths[:-1], strengths[1:], strict=True)]
    gaps = [i for i, r in enumerate(ratios) if r >= 1.5]  # the first clear drop from the top
    if not gaps:
        return [(left, right)]
    top = interior[: gaps[0] + 1]
    if min(ln.strength for ln in top) < 0.9 * min(ln.strength for ln in edges):
        return [(left, right)]
    bounds = [left, *sorted(int(round(ln.x)) for ln in top), right]
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    return spans if all(b - a >= min_width for a, b in spans) else [(left, right)]


def _split_by_grid(left: int, right: int, lines: list[_Line], min_width: int) -> list[tuple[int, int]]:
    """Split a span at long rulings into the fewest pieces whose grids each fit one track
    scale (see :func:`_grid_fit`); the span as it is when it fits one, or when no split fits."""
    positions = _grid_positions(left, right, lines)
    if _grid_fit(left, right, positions) is not None:
        return [(left, right)]
    cuts = [
        left,
        *sorted(
            int(round(ln.x))
            for ln in lines
            if ln.coverage >= _MIN_COVERAGE and left + min_width <= ln.x <= right - min_width
        ),
        right,
    ]
    n = len(cuts)
    if n <= 2 or n > 40:
        return [(left, right)]
    best: list[tuple[int, float, int] | None] = [None] * n  # (pieces, misfit, previous cut) reaching cut i
    best[0] = (0, 0.0, -1)
    for j in range(1, n):
        for i in range(j):
            prev = best[i]
            fit = _grid_fit(cuts[i], cuts[j], positions) if prev is not None else None
            if prev is not None and fit is not None and cuts[j] - cuts[i] >= min_width:
                cand = (prev[0] + 1, prev[1] + fit[2], i)
                here = best[j]
                if here is None or cand[:2] < here[:2]:
                    best[j] = cand
    if best[-1] is None:
        return [(left, right)]
    bounds, k = [], n - 1
    while k > 0:
        previous = cast(tuple[int, float, int], best[k])[2]  # every cut on the chain from the last was reached
        bounds.append((cuts[previous], cuts[k]))
        k = previous
    bounds.reverse()
    log.info("split span %s by its grid into %s", (left, right), bounds)
    return bounds


def _grid_positions(left: int, right: int, lines: list[_Line]) -> np.ndarray:
    """Columns of the span's rulings, without faint marks (under half the median strength)."""
    inside = [ln for ln in lines if left - 4 <= ln.x <= right + 4]
    if not inside:
        return np.zeros(0)
    floor = 0.5 * float(np.median([ln.strength for ln in inside]))
    return np.array(sorted(ln.x for ln in inside if ln.strength >= floor))


def _grid_fit(left: float, right: float, positions: np.ndarray) -> tuple[str, int, float] | None:
    """The track scale that explains the rulings strictly inside (left, right), or None.

    Candidates: linear with 2 to 20 equal divisions, logarithmic with 1 to 6 decades
    (lines at 2..9 of each decade and at the decade lines). A scale fits when at most
    10 % of (its expected lines + the rulings found) go unmatched within max(2 px, 1.2 %
    of the width). Returns (scale, divisions or decades, unmatched share). A span with one
    interior ruling at its middle is linear with 2 divisions (a grid whose thin lines did not
    print or scan: its heavier middle line is what is left); with fewer interior rulings, or one
    elsewhere, it is not judged (None).

    >>> lin = np.array([10.0 + 20 * k for k in range(11)])  # 10 divisions from 10 to 210
    >>> _grid_fit(10, 210, lin)[:2]
    ('linear', 10)
    >>> dec = np.concatenate([100 + 50 * (d + np.log10(np.arange(1, 10))) for d in range(3)] + [[250.0]])
    >>> _grid_fit(100, 250, dec)[:2]
    ('log', 3)
    >>> _grid_fit(10, 250, np.concatenate([lin, dec])) is None  # the two side by side: neither
    True
    >>> _grid_fit(10, 210, np.array([110.0])), _grid_fit(10, 210, np.array([80.0]))  # one line: its middle only
    (('linear', 2, 0.0), None)
    """
    width = right - left
    tol = max(2.0, 0.012 * width)
    inner = positions[(positions > left + tol) & (positions < right - tol)]
    if inner.size == 1 and abs(float(inner[0]) - (left + right) / 2) <= tol:
        return ("linear", 2, 0.0)  # the heavy middle line of a grid whose thin lines did not print
    if inner.size < 2:
        return None
    best: tuple[str, int, float] | None = None
    models = [("linear", n, left + width * np.arange(1, n) / n) for n in range(2, 21)]
    ladder = np.log10(np.arange(1, 10))  # a log grid rules 1..9 times each power of ten
    for d in range(1, 7):
        for start in range(1, 10):  # the track starts at start x 10^n (e.g. 0.2 ohm.m: start 2)
            at = (np.add.outer(np.arange(-1, d + 1), ladder).ravel() - np.log10(start)) / d
            models.append(("log", d, left + width * at[(at > 1e-6) & (at < 1 - 1e-6)]))
    for kind, n, expected in models:
        found = np.abs(inner[:, None] - expected[None, :]) <= tol  # (rulings, expected)
        misfit = (int((~found.any(axis=1)).sum()) + int((~found.any(axis=0)).sum())) / (inner.size + expected.size)
        if best is None or misfit < best[2]:
            best = (kind, n, misfit)
    return best if best is not None and best[2] <= 0.1 else None


def _vertical_lines(dark: np.ndarray, *, work_rows: int = _WORK_ROWS, faint: bool = False) -> list[_Line]:
    """Every long vertical ruling, from the column profile of the opened ink image (squeezed to
    ``work_rows`` rows first; a section's dense curves need the full height, where they blur less).
    ``faint``: a line's coverage counts the rows inked at half its own darkness, not at 64 of 255."""
    h, w = dark.shape
    rows = min(h, work_rows)
    if rows < h:
        dark = cv2.resize(dark, (w, rows), interpolation=cv2.INTER_AREA)
    # A tall kernel removes text and curves; not the full height, so a ruling that drifts a
    # pixel or two down a long, slightly skewed scan survives.
    kernel = np.ones((max(3, rows // _KERNEL_FRACTION), 1), np.uint8)
    opened = cv2.morphologyEx(dark, cv2.MORPH_OPEN, kernel)
    profile = opened.mean(axis=0, dtype=np.float64)
    if profile.max() <= 0:
        return []
    present = profile > max(4.0, 0.05 * profile.max())
    padded = np.concatenate([[False], present, [False]])
    starts = np.nonzero(~padded[:-1] & padded[1:])[0]
    ends = np.nonzero(padded[:-1] & ~padded[1:])[0]  # exclusive
    lines = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        weights = profile[a:b]
        centre = float(np.dot(np.arange(a, b), weights) / weights.sum())
        # Covered rows: inked at 64, or with ``faint`` at half the line's own darkness (a faint
        # grid ruling runs the whole height too) but never less than a light mark (16).
        peak = opened[:, a:b].max(axis=1)
        level = min(64.0, max(16.0, 0.5 * float(np.percentile(peak, 90)))) if faint else 64.0
        coverage = float(np.mean(peak >= level))
        lines.append(_Line(centre, float(weights.sum()), coverage))
    return lines


def _split_borders(lines: list[_Line]) -> tuple[list[_Line], list[_Line]]:
    """(borders, grid lines), both sorted by column: the long lines split at the largest
    strength ratio (all of them are borders when no ratio stands out)."""
    long_lines = sorted((ln for ln in lines if ln.coverage >= _MIN_COVERAGE), key=lambda ln: ln.x)
    if len(long_lines) < 3:
        return long_lines, []
    strengths = np.sort([ln.strength for ln in long_lines])[::-1]
    ratios = strengths[:-1] / strengths[1:]
    cut = -1.0
    for k in np.argsort(ratios)[::-1]:  # largest ratio first; one stand-out line is a frame, not a split
        if ratios[k] < _SPLIT_RATIO:
            break
        if k >= 1:
            cut = strengths[k + 1]
            break
    borders = [ln for ln in long_lines if ln.strength > cut]
    return borders, [ln for ln in long_lines if ln.strength <= cut]


def _track_spans(borders: list[_Line], grid: list[_Line], min_width: int) -> list[tuple[int, int]]:
    """(left, right) columns of the spans between consecutive borders that are tracks."""
    edges = [int(round(b.x)) for b in borders]
    spans = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a >= min_width]
    if not spans:
        return []
    inside = [sum(1 for g in grid if a < g.x < b) for a, b in spans]
    widest = max(b - a for a, b in spans)
    if max(inside) >= 2:  # a gridded sheet: tracks have grid, the depth column has none
        return [s for s, n in zip(spans, inside, strict=True) if n >= 1 and s[1] - s[0] >= 0.2 * widest]
    return [(a, b) for a, b in spans if b - a >= _MIN_TRACK_FRACTION * widest]


def find_tracks(
    image: np.ndarray, *, min_track_width: int = _MIN_TRACK_PX, source: str | None = None
) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """Tracks and the depth track of one log section (the rows of one section only).

    Borders are the heaviest long rulings: the lines above the first clear drop (>= 1.3x) in
    strength from the top, so a heavier fifth grid line (2 px beside 3-px borders) stays grid.
    Spans between borders that hold grid are tracks (split further where a span's grid fits no
    single scale but its pieces do, see :func:`_split_by_grid`); the widest span without grid
    lying between tracks is the depth track.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey: the section's rows.
        min_track_width: narrowest span in pixels that can be a track.
        source: the scan's path, named in errors.

    Returns:
        ([(left, right), ...] track columns, (left, right) of the depth track or None).

    Raises:
        InputError: not an image.
        LayoutError: no tracks found.

    Example:
        >>> page = np.full((300, 260), 255, np.uint8)
        >>> for x in list(range(10, 101, 18)) + list(range(150, 241, 18)):
        ...     page[:, x] = 120
        >>> page[:, 9:12] = page[:, 99:102] = page[:, 149:152] = page[:, 239:242] = 0
        >>> find_tracks(page)
        ([(10, 100), (150, 240)], (100, 150))
    """
    where = f"{source}: " if source else ""
    grey = _grey(image, where)
    lines = _vertical_lines(_ink(image), work_rows=max(_WORK_ROWS, image.shape[0]))
    borders, grid = _heaviest(lines, grey.shape[1])
    edges = [int(round(b.x)) for b in borders]
    spans = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a >= min_track_width]
    inside = [sum(1 for g in grid if a + 2 < g.x < b - 2) for a, b in spans]
    if spans and max(inside) >= 2:
        tracks = [s for s, n in zip(spans, inside, strict=True) if n >= 2]
    else:
        widest = max((b - a for a, b in spans), default=0)
        tracks = [(a, b) for a, b in spans if b - a >= _MIN_TRACK_FRACTION * widest]
    tracks = [part for a, b in tracks for part in _split_by_grid(a, b, lines, min_track_width)]
    tracks = _split_multiples(tracks, lines)
    if not tracks:
        raise LayoutError(
            f"{where}found no tracks: {len(borders)} long vertical ruling(s) in a {grey.shape[1]}-px wide section; "
            "deskew the scan or write a layout file (logdigit layout, then --layout)"
        )
    between = [
        s
        for s in spans
        if s not in tracks
        and tracks[0][0] <= s[0]
        and s[1] <= tracks[-1][1]
        and not any(a < s[1] and s[0] < b for a, b in tracks)
    ]
    depth = max(between, key=lambda s: s[1] - s[0]) if between else None
    return tracks, depth


def _split_multiples(tracks: list[tuple[int, int]], lines: list[_Line]) -> list[tuple[int, int]]:
    """Split a span k times as wide as the narrowest track (k = 2, 3, within 2 %) at rulings that
    lie at its k-ths: tracks of one print share a width (2.5 in on API prints), and side-by-side
    tracks whose shared border is no heavier than their grid look like one wide track."""
    if len(tracks) < 2:
        return tracks
    unit = min(b - a for a, b in tracks)
    xs = np.array([ln.x for ln in lines if ln.coverage >= _MIN_COVERAGE])
    out: list[tuple[int, int]] = []
    for a, b in tracks:
        k = round((b - a) / unit)
        cuts = [a + (b - a) * j / k for j in range(1, k)] if k >= 2 and abs(b - a - k * unit) <= 0.02 * k * unit else []
        if cuts and all(xs.size and np.abs(xs - c).min() <= 2 for c in cuts):
            edges = [a, *(int(round(xs[np.abs(xs - c).argmin()])) for c in cuts), b]
            out.extend(zip(edges[:-1], edges[1:], strict=True))
        else:
            out.append((a, b))
    return out


def _heaviest(lines: list[_Line], width: int) -> tuple[list[_Line], list[_Line]]:
    """(borders, grid lines) by column: the long lines above the first drop of >= 1.3x in
    strength that leaves at least two lines above it (all are borders when there is none), a
    line within 3 px of the image's edge (a border cut by the edge of the scan), and the first
    and last long lines (a grid ends at its track's border, however light that border is)."""
    long_lines = sorted((ln for ln in lines if ln.coverage >= _MIN_COVERAGE), key=lambda ln: ln.x)
    if len(long_lines) < 3:
        return long_lines, []
    strengths = np.sort([ln.strength for ln in long_lines])[::-1]
    ratios = strengths[:-1] / strengths[1:]
    cut = next((strengths[k + 1] for k in range(1, len(ratios)) if ratios[k] >= 1.3), -1.0)
    first, last = long_lines[0].x, long_lines[-1].x  # nothing outside the outermost rulings is ruled: they are borders
    border = [ln.strength > cut or ln.x <= 3 or ln.x >= width - 4 or ln.x in (first, last) for ln in long_lines]
    return (
        [ln for ln, b in zip(long_lines, border, strict=True) if b],
        [ln for ln, b in zip(long_lines, border, strict=True) if not b],
    )
