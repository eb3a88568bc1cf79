"""A draft layout from the scan: log sections, tracks, scales, depth ties and curve inks.

A long print holds a header, report pages and banners, one or more log sections and
calibration pages. :func:`scan_layout` finds them and drafts a layout for one section:

1. **Sections**: rows where many long vertical rulings (track borders and grid) run in one
   fixed pattern, for at least 2 inches, crossed by horizontal rulings at least every half inch
   (the depth grid). Tables and rotated header text have vertical lines too but no such depth
   grid. Sections are numbered from 1, top to bottom; the default is the longest (the main log).
2. **Tracks** inside the section's rows only (:func:`logdigit.image.detect.find_tracks`): the heaviest
   rulings are borders; spans with grid are tracks, the widest span without grid between two
   tracks is the depth track (else a page margin beside the tracks that holds printed numbers).
   Pieces of one grid cut at a heavy middle or decade line are joined (:func:`merge_pieces`), and
   the tracks read from the grid alone (:func:`grid_segments`: the spans whose grids each fit one
   scale) replace these when they explain more columns without cutting a track that fits.
   Each track's scale (linear, or log with its decades) is fitted to its grid.
3. **Depth ties**: the heaviest horizontal rulings of the section, counted along their lattice
   (:func:`ruling_indices`), and the numbers printed in the depth track, upright or turned 90
   degrees either way, read by OCR (:mod:`logdigit.image.ocr`), each tied to the heavy ruling
   nearest its centre. The numbers rise by one round step per ruling, so the sequence within the
   fewest digit edits of the readings labels every ruling (:func:`decode_labels`); failing that,
   depth = a + b * row is fitted by consensus over pairs of readings (:func:`robust_depth_fit`,
   after :func:`round_readings`), so that a misread number cannot bend the line, and the rulings
   are labelled by their count from it (:func:`rulings_fit`). Rulings that miss one line (paper
   that stretched) make the draft's depth piecewise through them (``depth.interpolate``).
   Without OCR the ties stay placeholders (pixel rows).
4. **Inks**: per track, the distinct colours of the ink that is neither paper nor grid.

The section's ``depth.rows`` are the rows of the section on which the tracks hold ink that is
not grid (the curves); the section's own ``rows`` are those of its grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from logdigit.errors import LayoutError
from logdigit.image.detect import _grey, _grid_fit, _ink, find_tracks
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track, uncalibrated_layout

log = logging.getLogger(__name__)

_INK_LEVEL = 160  # darkest channel below this is ink (palette colours, grey grid, black)
_MIN_LINES = 6  # vertical rulings a band of a log section has at least (borders and grid)
_MIN_SECTION_IN = 2.0
_SECTION_GAP_IN = 0.5  # a section's rulings may be hidden (fills, dense curves, a bent photo) this long
_DEPTH_GRID_IN = 0.5  # horizontal rulings at least this often (inches) in a log section
_DEFAULT_DPI = 100.0
_DRAFT_STEP = 0.5  # the draft's depth.step
_MAX_INKS = 8  # up to six curves of a track, plus a curve crossing in from the next track and hatching


@dataclass(frozen=True)
class Section:
    """One log section: rows [first, last] of its grid (inclusive), and its vertical rulings' columns."""

    first: int
    last: int
    columns: tuple[int, ...] = ()

    @property
    def height(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class TrackReport:
    """How one track was found: its edges, the scale its grid fits and how well."""

    left: int
    right: int
    scale: str
    divisions: int  # linear divisions, or log decades; 0 when the grid fits no scale
    misfit: float  # share of grid lines the fitted scale leaves unmatched (1.0 when none fits)
    inks: tuple[tuple[int, int, int], ...] = ()
    lines: tuple[str | None, ...] = ()  # per ink: the network's class under it (see with_line_styles)


@dataclass(frozen=True)
class LayoutReport:
    """What :func:`scan_layout` found, and how sure it is.

    Attributes:
        layout: the draft :class:`Layout` (``calibrated`` True when depth ties were read).
        sections: every log section found, top to bottom.
        section: index into ``sections`` of the one drafted (-1 when none was found: whole scan).
        tracks: per track, its scale evidence and inks.
        depth_track: (left, right) columns of the depth track, or None.
        heavy_rows: rows of the heaviest horizontal rulings in the section.
        readings: (row, number, confidence, angle) for each depth number read.
        ties: the draft's (row, depth) ties: the heavy rulings labelled by the readings
            (:func:`decode_labels` or :func:`rulings_fit`), else the readings kept by the robust fit.
        kept: how many readings were read exactly (:func:`decode_labels`) or kept by the robust fit.
        ruled: how many heavy rulings are ties (0: the readings alone).
        fit: (a, b) of depth = a + b * row, or None.
        residual: RMS residual of the kept ties (depth units), or None.
        depth_scale: e.g. "5 in/100 ft" (needs dpi and a fit), or "".
        ocr: one line about the OCR engine.
        problems: what failed or needs checking, one line each.
    """

    layout: Layout
    sections: tuple[Section, ...]
    section: int
    tracks: tuple[TrackReport, ...]
    depth_track: tuple[int, int] | None = None
    heavy_rows: tuple[int, ...] = ()
    readings: tuple[tuple[int, int, float, int], ...] = ()
    ties: tuple[tuple[float, float], ...] = ()
    kept: int = 0
    ruled: int = 0
    fit: tuple[float, float] | None = None
    residual: float | None = None
    depth_scale: str = ""
    ocr: str = ""
    problems: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The report as short lines of text, for the console and the draft's header."""
        out = [
            f"sections: {len(self.sections)}"
            + "".join(
                f"; {i + 1}: rows {s.first}-{s.last}" + (" (drafted)" if i == self.section else "")
                for i, s in enumerate(self.sections)
            )
        ]
        for i, t in enumerate(self.tracks):
            scale = f"log, {t.divisions} decades" if t.scale == "log" else f"linear, {t.divisions} divisions"
            fit = f"grid misfit {t.misfit:.2f}" if t.divisions else "grid fits no scale: linear assumed"
            inks = (
                ", ".join(
                    "#{:02x}{:02x}{:02x}".format(*c) + (f" {t.lines[k]}" if k < len(t.lines) and t.lines[k] else "")
                    for k, c in enumerate(t.inks)
                )
                or "none"
            )
            out.append(f"track {i + 1}: columns {t.left}-{t.right}, {scale} ({fit}); inks {inks}")
        if self.depth_track:
            out.append(f"depth track: columns {self.depth_track[0]}-{self.depth_track[1]}")
        if self.heavy_rows:
            period = np.median(np.diff(self.heavy_rows)) if len(self.heavy_rows) > 1 else float("nan")
            out.append(f"heavy depth lines: {len(self.heavy_rows)}, every {period:.1f} px")
        out.append(self.ocr)
        if self.fit:
            a, b = self.fit
            out.append(
                f"depth = {a:.4f} + {b:.6f} * row from {self.kept} of {len(self.readings)} numbers read"
                + (f", refitted on {self.ruled} heavy depth lines they label" if self.ruled else "")
                + f", RMS residual {self.residual:.3f}"
                + (f"; {self.depth_scale}" if self.depth_scale else "")
            )
        out.extend(f"check: {p}" for p in self.problems)
        return out


def scan_layout(
    image: np.ndarray,
    *,
    dpi: float | None = None,
    section: int | None = None,
    ocr: bool = True,
    source: str | None = None,
) -> LayoutReport:
    """Find the log sections of a scan and draft the layout of one.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey, upright; not modified.
        dpi: the scan's vertical resolution (from the file); sizes the searches and gives the
            depth scale. None: 100 assumed, no depth scale reported.
        section: 1-based section number to draft (see :attr:`LayoutReport.sections`); default
            the longest section.
        ocr: read the printed depth numbers when an OCR engine is available
            (:func:`logdigit.image.ocr.ocr_engine`); False: ties from the grid alone.
        source: the scan's path, named in errors.

    Returns:
        A :class:`LayoutReport`; its ``layout`` is the draft.

    Raises:
        InputError: not an image, or a bad ``dpi``.
        LayoutError: ``section`` out of range, or no tracks found.

    Example:
        >>> page = np.full((600, 300), 255, np.uint8)
        >>> for x in range(20, 281, 26):
        ...     page[:, x] = 0
        >>> page[:, 19:22] = page[:, 279:282] = 0
        >>> page[::20, 20:281] = 0
        >>> rep = scan_layout(page, dpi=100, ocr=False)
        >>> [(t.left, t.right, t.scale) for t in rep.layout.tracks], rep.sections[0].first
        ([(20, 280, 'linear')], 0)
    """
    where = f"{source}: " if source else ""
    grey = _grey(image, where)
    if dpi is not None and not (isinstance(dpi, int | float) and math.isfinite(dpi) and 10 <= dpi <= 5000):
        raise ValueError(f"{where}dpi must be a number from 10 to 5000, got {dpi!r}")
    res = float(dpi) if dpi else _DEFAULT_DPI
    darkest = image if image.ndim == 2 else image.min(axis=2)
    ink = darkest < _INK_LEVEL
    sections = find_sections(ink, dpi=res)
    pick = _pick_section(sections, section, where)
    first, last = (sections[pick].first, sections[pick].last) if pick >= 0 else (0, grey.shape[0] - 1)
    problems = [] if pick >= 0 else ["no log section found (no fixed grid of rulings); the whole scan used"]
    dark = _ink(image[first : last + 1])  # the section's ink above its paper, for the faint rulings
    positions = _with_faint_rulings(_grid_columns(ink[first : last + 1]), dark)
    broken = broken_rulings(dark)
    regions, unruled = horizontal_rulings(dark, dpi=res)
    tracks, depth_track = _best_tracks(
        image[first : last + 1], dark, positions, broken, source, unruled=unruled, regions=regions
    )
    reports = []
    for left, right in tracks:
        fit = track_scale(left, right, positions, broken)
        kind, n, misfit = fit if fit is not None else ("linear", 0, 1.0)
        inks = _inks(image, first, last, left, right)
        reports.append(TrackReport(left, right, kind, n, misfit, inks))
        if fit is None:
            problems.append(f"track {len(reports)} ({left}-{right}): its grid fits no linear or log scale")
    if depth_track is None and tracks:
        depth_track = _margin_depth_track(ink, first, last, tracks, res)
    heavy = _heavy_rows(ink, first, last, tracks)
    curve_rows = _curve_rows(ink, first, last, tracks, positions) or (first, last)
    depth = _read_depth(grey, ink, first, last, depth_track, heavy, res, ocr, problems)
    layout = _draft(reports, grey.shape[0], curve_rows, depth)
    dpi_note = "" if dpi else " (dpi unknown: 100 assumed)"
    scale = _depth_scale(depth["fit"], res) + dpi_note if depth["fit"] and dpi else ""
    return LayoutReport(
        layout=layout,
        sections=tuple(sections),
        section=pick,
        tracks=tuple(reports),
        depth_track=depth_track,
        heavy_rows=tuple(heavy),
        readings=depth["readings"],
        ties=depth["ties"],
        kept=depth["kept"],
        ruled=depth["ruled"],
        fit=depth["fit"],
        residual=depth["residual"],
        depth_scale=scale,
        ocr=depth["ocr"],
        problems=tuple(problems),
    )


def _best_tracks(
    section: np.ndarray,
    dark: np.ndarray,
    positions: np.ndarray,
    broken: np.ndarray,
    source: str | None,
    *,
    unruled: np.ndarray | None = None,
    regions: Sequence[tuple[int, int]] = (),
):
    """Tracks by the heaviest rulings (:func:`find_tracks`) or, when more of its tracks' grids
    fit a scale, by the rulings and depth lines together (:func:`logdigit.image.detect.detect_layout`,
    which handles grids as heavy as their borders); a depth track only comes with the first.
    Then the tracks read from the grid alone (:func:`grid_segments`) replace them where they
    explain more columns and cut none of their fitted tracks; either way, a track of the other
    reading over columns where the chosen one has none is added (the depth track is then the
    widest gap, unless it stays clear of the added tracks). No reading keeps a track that spans a
    gap in the horizontal rulings (``unruled``, :func:`spans_gap`): a depth track or a margin. A
    ruled region (``regions``, :func:`horizontal_rulings`) no track reaches into, with long rulings
    within 3 px of both its ends, is one more track."""
    from logdigit.image.detect import _vertical_lines, detect_layout

    try:
        tracks, depth = find_tracks(section, source=source)
    except LayoutError:
        tracks, depth = [], None
    try:
        other = [(t.left, t.right) for t in detect_layout(section, source=source).tracks]
    except LayoutError:
        other = []
    if not tracks and not other:
        raise LayoutError(f"{source + ': ' if source else ''}found no tracks in the section; write a layout file")
    tracks, other = merge_pieces(tracks, positions, broken), merge_pieces(other, positions, broken)
    full = [
        (ln.x, ln.strength)
        for ln in _vertical_lines(dark, work_rows=max(1500, section.shape[0]), faint=True)
        if ln.coverage >= 0.9
    ]
    segments = grid_segments(positions, ends=[x for x, _ in full], weights=full, broken=broken, unruled=unruled)
    lines = np.concatenate([np.asarray(positions, float), [x for x, _ in full]])  # long rulings only
    kept = [[t for t in spans if not spans_gap(*t, unruled)] for spans in (tracks, other)]
    kept_depth = depth if kept[0] == tracks else None
    chosen = _choose(kept[0], kept_depth, kept[1], segments, positions, lines, regions)
    # were every track over a gap in the horizontal rulings, the gaps would be the mistake
    return chosen if chosen[0] else _choose(tracks, depth, other, segments, positions, lines, ())


def _choose(tracks, depth, other, segments, positions, lines, regions):
    """The choice of :func:`_best_tracks` among its readings: (tracks, depth track)."""

    def fits(spans):
        return sum(_grid_fit(a, b, positions) is not None for a, b in spans)

    if (fits(other), len(other)) > (fits(tracks), len(tracks)):
        tracks, depth = other, _widest_gap(other)

    def explained(spans):  # columns inside tracks whose grid fits a scale (as grid_segments weighs them), fewer tracks
        fits = [(b - a, _grid_fit(a, b, positions)) for a, b in spans]
        return round(sum(w * (1 - 3 * f[2]) for w, f in fits if f is not None), 6), -len(spans)

    # more columns explained (not fewer tracks) wins
    better = bool(segments) and explained(segments)[0] > explained(tracks)[0]
    if better and not _cuts_a_track(segments, tracks, positions):
        tracks, segments, depth = segments, tracks, None
    # where one reading has a track and the other nothing, the track is kept (on the chosen
    # reading's border where the two find one within 2 px)
    borders = [x for t in tracks for x in t]

    def snap(x: int) -> int:
        nearest = min(borders, key=lambda e: abs(e - x)) if borders else x
        return nearest if abs(nearest - x) <= 2 else x

    extra = [(snap(a), snap(b)) for a, b in segments if not _overlaps((a, b), tracks)]
    # a ruled region that no track reaches into is one track, between the rulings at its ends
    for a, b in regions:
        ends = [lines[np.abs(lines - e) <= 3] for e in (a, b)] if lines.size else []
        if ends and all(e.size for e in ends) and not _overlaps((a, b), tracks + extra):
            left, right = (int(round(e[np.argmin(np.abs(e - x))])) for e, x in zip(ends, (a, b), strict=True))
            if right - left >= 16:
                extra.append((left, right))
    if extra or depth is None:
        tracks = sorted(tracks + extra)
        depth = _widest_gap(tracks) if depth is None or any(_overlaps(depth, [t]) for t in extra) else depth
    return tracks, depth


def _overlaps(span, spans) -> bool:
    """Whether ``span`` shares more than 2 columns with any of ``spans``."""
    return any(min(span[1], b) - max(span[0], a) > 2 for a, b in spans)


def _cuts_a_track(spans, tracks, positions) -> bool:
    """Whether a border of ``spans`` lies inside one of ``tracks`` whose grid fits one track's scale
    (log, or linear with at most 10 divisions): such a track is kept whole."""
    borders = [x for span in spans for x in span]
    for a, b in tracks:
        fit = _grid_fit(a, b, positions)
        if fit is not None and (fit[0] == "log" or fit[1] <= 10) and any(a + 2 < x < b - 2 for x in borders):
            return True
    return False


def _widest_gap(spans):
    gaps = [(a[1], b[0]) for a, b in zip(spans[:-1], spans[1:], strict=True) if b[0] - a[1] >= 16]
    return max(gaps, key=lambda g: g[1] - g[0]) if gaps else None


def grid_segments(
    positions: np.ndarray, *, ends=None, weights=None, broken=None, unruled=None, min_width: int = 16
) -> list[tuple[int, int]]:
    """Tracks as the spans between rulings whose grids each fit one scale, read from the grid alone.

    Every ruling may be a border. Of all ways to cut the rulings into tracks (a span whose grid fits
    linear with at most 10 divisions, or log; see :func:`merge_pieces`) and gaps (no ruling inside:
    the depth track, margins), the one whose tracks cover the most columns wins (each track's width
    weighed by 1 - 3 x its grid's unmatched share, so that a track reaching over the depth track or
    into the next one loses), then the one with the fewest tracks: a heavy middle or decade line
    cannot cut a track, however heavy it is.
    ``ends``: columns of the rulings that run the whole height, the only ones a track may end at
    (marks stacked down a column, such as rotated depth numbers, form a broken ruling); None: any.
    ``weights``: (column, strength) of the rulings; with them a track's two borders must each be at
    least 1.2 x as strong as the median ruling inside it (a border is no thin grid line).
    ``broken``: the broken rulings (:func:`broken_rulings`); those more than 2 px from every ruling
    of ``positions`` are never borders, but each span's grid is fitted with them, and with
    ``weights`` they count as rulings of strength 0 inside it: a grid whose thin lines are too
    faint to be long rulings still has them, so its heavy middle or decade lines do not outweigh
    its borders, and a span reaching past its grid's thin lines fits no scale.
    ``unruled``: the columns of gaps in the horizontal rulings (:func:`horizontal_rulings`); a span
    over one is no track (:func:`spans_gap`).

    >>> dec = np.concatenate([100 + 50 * (d + np.log10(np.arange(1, 10))) for d in range(3)] + [[250.0]])
    >>> grid_segments(np.concatenate([dec, 300 + 20.0 * np.arange(11)]))
    [(100, 250), (300, 500)]
    """
    cuts = np.unique(np.round(np.asarray(positions, float)).astype(int))
    n = len(cuts)
    if n < 4 or n > 200:
        return []
    full = np.asarray(ends if ends is not None else cuts, float)
    can_end = [full.size > 0 and float(np.abs(full - c).min()) <= 2 for c in cuts]
    strength = np.zeros(n)
    if weights:
        wx, ws = np.asarray([w[0] for w in weights], float), np.asarray([w[1] for w in weights], float)
        for k, c in enumerate(cuts):
            near = np.abs(wx - c) <= 2
            strength[k] = ws[near].max() if near.any() else 0.0
    faint = _apart(broken if broken is not None else [], cuts)  # only those too faint for the long-ruling search
    fit_at = np.sort(np.concatenate([np.asarray(positions, float), faint])) if faint.size else positions
    # best[j]: (columns covered, less 3x the unmatched share, -tracks, previous cut, track?) over cuts[0..j]
    best: list[tuple[float, int, int, bool]] = [(0.0, 0, -1, False)] + [(-1.0, 0, -1, False)] * (n - 1)
    for j in range(1, n):
        cand = (best[j - 1][0], best[j - 1][1], j - 1, False)  # a gap: no ruling inside
        for i in range(j - 2, max(-1, j - 58), -1):  # at most 56 rulings inside (6 decades of log grid)
            width = cuts[j] - cuts[i]
            if width < min_width or best[i][0] < 0 or not (can_end[i] and can_end[j]):
                continue
            if spans_gap(cuts[i], cuts[j], unruled):
                continue
            inside = strength[i + 1 : j][strength[i + 1 : j] > 0]
            if faint.size:
                inside = np.concatenate([inside, np.zeros(int(((faint > cuts[i]) & (faint < cuts[j])).sum()))])
            if weights and inside.size and min(strength[i], strength[j]) < 1.2 * float(np.median(inside)):
                continue
            fit = _grid_fit(cuts[i], cuts[j], fit_at)
            if fit is not None and (fit[0] == "log" or fit[1] <= 10):
                here = (best[i][0] + round(width * (1 - 3 * fit[2]), 6), best[i][1] - 1, i, True)
                if here[:2] > cand[:2]:
                    cand = here
        best[j] = cand
    out, j = [], n - 1
    while j > 0:
        _, _, i, track = best[j]
        if track:
            out.append((int(cuts[i]), int(cuts[j])))
        j = i
    return out[::-1]


_MERGE_SLACK = 0.02  # two pieces join when their union's grid fits at most this much worse than the worse piece's


def merge_pieces(
    tracks: list[tuple[int, int]], positions: np.ndarray, broken: np.ndarray | None = None
) -> list[tuple[int, int]]:
    """Join side-by-side spans that are pieces of one track's grid.

    A heavy interior ruling (the middle line of a linear grid, a decade line of a log grid) can
    be as heavy as a border, and cuts a track in pieces. Two spans that share a border are one
    track when the grid of their union fits one scale (:func:`logdigit.image.detect._grid_fit`):
    log, or linear with at most 10 divisions (a track's grid; two tracks of 10 divisions side by
    side fit 20 and stay apart), judged with the ``broken`` rulings too (:func:`track_scale`: the
    decade lines of a 1-bit log grid cut it into one-decade pieces). Repeated until no pair joins.

    >>> lin = np.arange(0.0, 201.0, 20)  # 10 divisions from 0 to 200, cut at the middle line
    >>> merge_pieces([(0, 100), (100, 200)], lin)
    [(0, 200)]
    >>> two = np.arange(0.0, 401.0, 20)  # two tracks of 10 divisions
    >>> merge_pieces([(0, 200), (200, 400)], two)
    [(0, 200), (200, 400)]
    """
    out = list(tracks)
    k = 0
    while k < len(out) - 1:
        (a, m), (m2, b) = out[k], out[k + 1]
        fit = track_scale(a, b, positions, broken) if abs(m2 - m) <= 2 else None
        if (
            fit is not None
            and (fit[0] == "log" or fit[1] <= 10)
            and fit[2] <= _worse_fit(a, m, m2, b, positions, broken)
        ):
            out[k : k + 2] = [(a, b)]
            k = max(0, k - 1)
            continue
        k += 1
    return out


def _worse_fit(a: int, m: int, m2: int, b: int, positions: np.ndarray, broken: np.ndarray | None) -> float:
    """The unmatched share of the worse fitting of the pieces (a, m) and (m2, b) (1 where one fits
    no scale), plus ``_MERGE_SLACK``: the most their union's grid may miss to join them."""
    fits = (track_scale(a, m, positions, broken), track_scale(m2, b, positions, broken))
    return max(1.0 if f is None else f[2] for f in fits) + _MERGE_SLACK


def _pick_section(sections: list[Section], section: int | None, where: str) -> int:
    if section is None:
        return max(range(len(sections)), key=lambda i: sections[i].height) if sections else -1
    if isinstance(section, bool) or not isinstance(section, int) or not 1 <= section <= max(len(sections), 1):
        found = ", ".join(f"{i + 1} (rows {s.first}-{s.last})" for i, s in enumerate(sections)) or "none"
        raise LayoutError(f"{where}section {section!r} does not exist; sections found: {found}")
    return section - 1 if sections else -1


# --------------------------------------------------------------------------- sections


def find_sections(ink: np.ndarray, *, dpi: float = _DEFAULT_DPI) -> list[Section]:
    """The log sections of a page: row ranges where a fixed pattern of long vertical rulings
    runs down the page, crossed by a depth grid of horizontal rulings.

    Args:
        ink: bool (H, W), True where there is ink.
        dpi: vertical resolution; bands, minimum lengths and grid spacings scale with it.

    Returns:
        Sections top to bottom (rows inclusive); empty when there is none.

    Example:
        >>> page = np.zeros((3000, 300), bool)
        >>> page[1000:2500, 20:281:26] = True   # vertical rulings
        >>> page[1000:2500:20, 20:281] = True   # depth grid
        >>> [(s.first, s.last) for s in find_sections(page, dpi=100)]
        [(1000, 2499)]
    """
    if ink.ndim != 2 or ink.dtype != bool:
        raise ValueError(f"ink must be bool (H, W), got {ink.shape} {ink.dtype}")
    h, w = ink.shape
    length = max(9, int(round(dpi / 4)))
    band = max(4, int(round(dpi / 10)))
    nb = h // band
    if nb < 2:
        return []
    mask = ink.view(np.uint8)
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    present = vertical[: nb * band].reshape(nb, band, w).sum(axis=1) >= 0.9 * band  # (nb, W)
    starts = present[:, 1:] & ~present[:, :-1]
    count = starts.sum(axis=1) + present[:, 0]
    runs = _pattern_runs(present, count >= _MIN_LINES, gap=max(3, round(_SECTION_GAP_IN * dpi / band)))
    out = []
    for a, b in runs:
        if (b - a) * band < _MIN_SECTION_IN * dpi:
            continue
        first, last = a * band, min(h, b * band) - 1
        if not _has_depth_grid(mask[first : last + 1], dpi):
            continue
        columns = np.nonzero(present[a:b].mean(axis=0) >= 0.8)[0]
        first, last = _refine_ends(vertical, first, last, columns, band)
        out.append(Section(first, last, tuple(int(c) for c in columns)))
    return out


def _pattern_runs(present: np.ndarray, ok: np.ndarray, *, gap: int = 3) -> list[tuple[int, int]]:
    """[a, b) runs of bands that are ``ok`` and share one pattern of ruled columns; runs of one
    pattern split by at most ``gap`` bands are joined."""
    dil = cv2.dilate(present.view(np.uint8), np.ones((1, 3), np.uint8)).astype(bool)
    runs, start = [], None
    for k in range(len(ok)):
        same = start is not None and _alike(present[k], dil[k - 1], present[k - 1], dil[k])
        if ok[k] and (start is None or same):
            start = k if start is None else start
            continue
        if start is not None:
            runs.append((start, k))
        start = k if ok[k] else None
    if start is not None:
        runs.append((start, len(ok)))
    return _merge_runs(runs, present, gap=gap)


def _alike(a: np.ndarray, dil_b: np.ndarray, b: np.ndarray, dil_a: np.ndarray) -> bool:
    """Two bands' ruled columns match: most columns of each lie within a pixel of the other's."""
    na, nb = int(a.sum()), int(b.sum())
    if not na or not nb:
        return False
    return (a & dil_b).sum() >= 0.7 * na and (b & dil_a).sum() >= 0.7 * nb


def _merge_runs(runs: list[tuple[int, int]], present: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Join runs split by a few bands (a fill or a dense curve hiding the rulings) with one pattern."""
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] <= gap:
            pa, pb = present[merged[-1][0] : merged[-1][1]].mean(0) >= 0.8, present[a:b].mean(0) >= 0.8
            dil = np.ones(3, np.uint8)
            da = cv2.dilate(pa.view(np.uint8)[None], dil[None]).astype(bool)[0]
            db = cv2.dilate(pb.view(np.uint8)[None], dil[None]).astype(bool)[0]
            if _alike(pa, db, pb, da):
                merged[-1] = (merged[-1][0], b)
                continue
        merged.append((a, b))
    return merged


def _has_depth_grid(mask: np.ndarray, dpi: float) -> bool:
    """Horizontal rulings across a good part of the width, at least every ``_DEPTH_GRID_IN``."""
    horiz = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, max(9, int(dpi / 2))), np.uint8))
    rows = np.nonzero(horiz.mean(axis=1) >= 0.25)[0]
    if rows.size < 3:
        return False
    starts = rows[np.concatenate([[True], np.diff(rows) > 1])]
    return starts.size >= 3 and float(np.median(np.diff(starts))) <= _DEPTH_GRID_IN * dpi


def _refine_ends(vertical: np.ndarray, first: int, last: int, columns: np.ndarray, band: int) -> tuple[int, int]:
    """Move the band-rounded ends to the rows where the section's rulings start and stop."""
    if columns.size == 0:
        return first, last
    h = vertical.shape[0]
    lo, hi = max(0, first - band), min(h, last + band + 1)
    share = vertical[lo:hi][:, columns].mean(axis=1) >= 0.6
    inside = np.nonzero(share)[0]
    return (int(lo + inside[0]), int(lo + inside[-1])) if inside.size else (first, last)


# --------------------------------------------------------------------------- grid, rows


def _grid_columns(ink: np.ndarray) -> np.ndarray:
    """Centre columns of the long vertical rulings of a section (for :func:`_grid_fit`)."""
    h, w = ink.shape
    small = ink[:: max(1, h // 1500)].view(np.uint8)
    vertical = cv2.morphologyEx(small, cv2.MORPH_OPEN, np.ones((max(3, small.shape[0] // 30), 1), np.uint8))
    present = vertical.mean(axis=0) >= 0.5
    padded = np.concatenate([[False], present, [False]])
    starts = np.nonzero(~padded[:-1] & padded[1:])[0]
    ends = np.nonzero(padded[:-1] & ~padded[1:])[0]
    return (starts + ends - 1) / 2.0


def _with_faint_rulings(positions: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """``positions`` plus the long vertical rulings too light for the ink mask (a grid printed in a
    pale ink or at low density runs the whole height all the same), each more than 2 px from those.
    ``dark``: the section's ink above its paper (:func:`logdigit.image.detect._ink`)."""
    from logdigit.image.detect import _MIN_COVERAGE, _vertical_lines

    extra = _apart([ln.x for ln in _vertical_lines(dark, faint=True) if ln.coverage >= _MIN_COVERAGE], positions)
    return np.sort(np.concatenate([positions, extra])) if extra.size else positions


def _apart(xs, rulings: np.ndarray, px: float = 2.0) -> np.ndarray:
    """The columns of ``xs`` more than ``px`` from every column of ``rulings`` (rulings not yet found)."""
    xs = np.asarray(xs, float)
    if not xs.size or not np.size(rulings):
        return xs
    return xs[np.abs(xs[:, None] - np.asarray(rulings, float)[None, :]).min(axis=1) > px]


_BROKEN_SHARE = 0.05  # a broken ruling's column holds this much more ink (rows' share x darkness) than those around
_BROKEN_HALF_PX = 3  # "around it": their level without peaks narrower than 7 px


def broken_rulings(ink: np.ndarray) -> np.ndarray:
    """Columns of vertical rulings too broken or too pale for the long-ruling searches
    (:func:`_grid_columns`, :func:`_with_faint_rulings`): the thin lines of a grid that a 1-bit scan
    breaks into dashes, or that print so pale that few of their pixels stand out of the paper.

    ``ink``: bool (H, W), or uint8 darkness above the paper (0-255). The ink down each column
    (its mean, as a share of full darkness) is a ruling where it peaks at most 3 px wide and at
    least ``_BROKEN_SHARE`` above the columns around it (their level without peaks narrower than
    7 px): curves wander over many columns and raise the level of all of them, text and marks ink
    few rows. Such rulings never place a border: they judge a track's scale (:func:`track_scale`,
    :func:`merge_pieces`) and the grids of the spans of :func:`grid_segments`.

    >>> ink = np.zeros((1000, 60), bool)
    >>> ink[::4, 20] = ink[:300, 40] = True  # a ruling on every 4th row, one on the top 300
    >>> ink[:, 30] = True  # a solid ruling counts too
    >>> broken_rulings(ink).tolist()
    [20.0, 30.0, 40.0]
    >>> ink[:, 10:50] |= np.random.default_rng(0).random((1000, 40)) < 0.05  # speckle everywhere
    >>> broken_rulings(ink).tolist()
    [20.0, 30.0, 40.0]
    >>> pale = np.zeros((1000, 60), np.uint8); pale[:, 25] = 20  # a whole ruling, 20 of 255 dark
    >>> broken_rulings(pale).tolist()
    [25.0]
    """
    full = 255.0 if ink.dtype == np.uint8 else 1.0
    share = (ink.mean(axis=0, dtype=np.float64) / full).astype(np.float32)[None, :]
    kernel = np.ones((1, 2 * _BROKEN_HALF_PX + 1), np.uint8)
    floor = cv2.morphologyEx(share, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)[0]
    present = share[0] - floor >= _BROKEN_SHARE
    padded = np.concatenate([[False], present, [False]])
    starts = np.nonzero(~padded[:-1] & padded[1:])[0]
    ends = np.nonzero(padded[:-1] & ~padded[1:])[0]
    keep = ends - starts <= 3
    return ((starts + ends - 1) / 2.0)[keep]


_UNRULED_DARK = 25  # darkness above the paper (0-255) of a horizontal ruling's pixels, pale grids included
_UNRULED_RUN_IN = 0.24  # a horizontal ruling runs at least this far (inches) unbroken
_UNRULED_LOW = 0.1  # a column crossed by rulings on under this share of the usual number of rows is unruled
_UNRULED_MIN_PX = 6  # unruled columns a gap between ruled ones holds at least


def horizontal_rulings(dark: np.ndarray, *, dpi: float = _DEFAULT_DPI) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The ruled regions and the gaps between them, from the horizontal rulings of a section.

    Horizontal grid lines run across each track from border to border, and stop at the depth
    track and the margins. Per column, the share of rows crossed by a horizontal stroke at least
    ``_UNRULED_RUN_IN`` long (an opening; pale rulings count, ``dark`` >= ``_UNRULED_DARK``) is
    compared with its usual level in a track (90th percentile):

    * a **ruled region** is a run of at least 16 columns crossed on ``_UNRULED_LOW`` of that or
      more: one or more tracks side by side;
    * a **gap** is the columns between two neighbouring regions, of which at least
      ``_UNRULED_MIN_PX`` are crossed on less: a depth track or a margin, which no track spans.

    Columns beyond the outermost regions are never a gap, and a track whose grid has no horizontal
    lines makes none. Depth numbers printed inside a track on a blank patch leave its heavy
    lines, and are no gap.

    ``dark``: uint8 (H, W) darkness above the paper (:func:`logdigit.image.detect._ink`).

    Returns:
        ([(first, last) column of each region], bool (W,) the gap columns).

    >>> page = np.zeros((200, 120), np.uint8)
    >>> page[::10, 10:50] = page[::10, 70:110] = 200  # two ruled tracks, a depth track between
    >>> regions, gap = horizontal_rulings(page)
    >>> regions, np.flatnonzero(gap).tolist() == list(range(50, 70))
    ([(10, 49), (70, 109)], True)
    """
    run = max(3, int(round(_UNRULED_RUN_IN * dpi)) | 1)  # odd: an even opening shifts by a column
    mask = (dark >= _UNRULED_DARK).astype(np.uint8)
    share = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, run), np.uint8)).mean(axis=0, dtype=np.float64)
    gap = np.zeros(dark.shape[1], bool)
    if share.max() <= 0.01:
        return [], gap
    low = share < _UNRULED_LOW * float(np.percentile(share[share > 0], 90))
    some = np.concatenate([[False], ~low, [False]])
    starts = np.nonzero(~some[:-1] & some[1:])[0]
    ends = np.nonzero(some[:-1] & ~some[1:])[0]
    regions = [(int(a), int(b) - 1) for a, b in zip(starts, ends, strict=True) if b - a >= 16]
    for (_, a), (b, _) in zip(regions[:-1], regions[1:], strict=True):
        if int(low[a + 1 : b].sum()) >= _UNRULED_MIN_PX:
            gap[a + 1 : b] = True
    return regions, gap


def spans_gap(left: float, right: float, unruled: np.ndarray | None) -> bool:
    """Whether the span (``left``, ``right``) holds at least ``_UNRULED_MIN_PX`` columns of a gap
    in the horizontal rulings (:func:`horizontal_rulings`) more than 2 px inside its borders: it
    reaches over a depth track or a margin, and is no track."""
    if unruled is None:
        return False
    a, b = max(0, int(math.floor(left)) + 3), min(len(unruled), int(math.ceil(right)) - 2)
    return b > a and int(unruled[a:b].sum()) >= _UNRULED_MIN_PX


def track_scale(
    left: int, right: int, positions: np.ndarray, broken: np.ndarray | None
) -> tuple[str, int, float] | None:
    """The scale of the track (``_grid_fit`` of its long rulings), judged again with the broken
    rulings (:func:`broken_rulings`) added where that makes it log, or where the long rulings fit
    no scale: a log grid whose thin lines a 1-bit scan broke (or printed too pale) shows only its
    decade lines, evenly spaced like a linear grid's.

    >>> dec = np.array([100.0, 150.0, 200.0, 250.0])  # decade lines of a 3-decade track
    >>> thin = np.concatenate([100 + 50 * (d + np.log10(np.arange(2, 10))) for d in range(3)])
    >>> track_scale(100, 250, dec, np.zeros(0))[:2], track_scale(100, 250, dec, thin)[:2]
    (('linear', 3), ('log', 3))
    """
    fit = _grid_fit(left, right, positions)
    if broken is None or (fit is not None and fit[0] == "log"):
        return fit
    extra = _apart([x for x in broken if left < x < right], positions)
    if extra.size < 2:
        return fit
    other = _grid_fit(left, right, np.sort(np.concatenate([positions, extra])))
    return other if other is not None and (fit is None or other[0] == "log") else fit


def _heavy_rows(ink: np.ndarray, first: int, last: int, tracks: list[tuple[int, int]]) -> list[int]:
    """Centre rows of the heaviest horizontal rulings across the tracks (the labelled depth lines)."""
    if not tracks:
        return []
    rows = ink[first : last + 1]
    weight = np.zeros(rows.shape[0])
    for left, right in tracks:
        inner = rows[:, left + 3 : right - 2].view(np.uint8)
        span = max(9, (right - left) // 2)
        horiz = cv2.morphologyEx(inner, cv2.MORPH_OPEN, np.ones((1, span), np.uint8))
        weight += horiz.mean(axis=1) >= 0.8
    across = weight >= max(1, len(tracks) - 0.5)  # ruled across every track
    padded = np.concatenate([[False], across, [False]])
    starts = np.nonzero(~padded[:-1] & padded[1:])[0]
    ends = np.nonzero(padded[:-1] & ~padded[1:])[0]
    if starts.size == 0:
        return []
    thick = ends - starts
    centres = (starts + ends - 1) // 2
    thinnest = int(thick.min())
    for t in sorted(set(thick.tolist()), reverse=True):
        keep = thick >= (t - 1 if t - 1 > thinnest else t)  # a ruling's width varies by a pixel (stretch, blur)
        gaps = np.diff(centres[keep])
        if keep.sum() >= 4 and np.percentile(gaps, 25) >= 0.8 * np.median(gaps):
            return [int(first + c) for c in centres[keep]]
    return [int(first + c) for c in centres]


def _curve_rows(ink, first, last, tracks, positions) -> tuple[int, int] | None:
    """First and last rows of the section where the tracks hold ink that is not grid."""
    if not tracks:
        return None
    rows = ink[first : last + 1].view(np.uint8)
    grid = np.zeros(ink.shape[1], bool)
    for x in positions:
        grid[max(0, int(x) - 2) : int(x) + 3] = True
    horiz = np.asarray(cv2.morphologyEx(rows, cv2.MORPH_OPEN, np.ones((1, 25), np.uint8)), np.uint8)
    free = rows & ~horiz
    count = np.zeros(rows.shape[0], np.int64)
    for left, right in tracks:
        cols = np.arange(left + 3, right - 2)
        cols = cols[~grid[cols]]
        count += free[:, cols].sum(axis=1, dtype=np.int64)
    hit = np.nonzero(count >= 2)[0]
    return (int(first + hit[0]), int(first + hit[-1])) if hit.size else None


# --------------------------------------------------------------------------- depth ties


def _read_depth(grey, ink, first, last, depth_track, heavy, dpi, ocr, problems) -> dict:
    from logdigit.image.ocr import ocr_engine, read_numbers

    out: dict[str, Any] = {
        "readings": (),
        "ties": (),
        "kept": 0,
        "ruled": 0,
        "fit": None,
        "residual": None,
        "ocr": "",
        "interpolate": False,
    }
    available, line = ocr_engine() if ocr else (False, "OCR not asked for; depth ties from the grid alone")
    out["ocr"] = line
    if not available:
        problems.append("depth ties are placeholders (pixel rows): no OCR; read two depth labels off the scan")
        return out
    if depth_track is None:
        problems.append("no depth track found: depth ties are placeholders (pixel rows)")
        return out
    blobs = _number_blobs(ink, first, last, depth_track, dpi)
    mid, half = (depth_track[0] + depth_track[1]) / 2, (depth_track[1] - depth_track[0]) / 2
    if blobs and (depth_track[0] <= 0 or depth_track[1] >= ink.shape[1] - 1):
        # A margin ends at the page's edge, not at the column's: the numbers' own common centre.
        mid = float(np.median([(b[2] + b[3]) / 2 for b in blobs]))
    blobs = [b for b in blobs if abs((b[2] + b[3]) / 2 - mid) <= 0.25 * half]  # labels are centred; pips are not
    blobs = _near_heavy(blobs, heavy, dpi)
    readings, alternatives, angles = [], [], list(_angles_first())
    for top, bottom, left, right in blobs:
        pad = 3
        crop = grey[max(0, top - pad) : bottom + pad + 1, max(0, left - pad) : right + pad + 1]
        tall = (bottom - top) > 1.3 * (right - left)
        tried = [a for a in angles if (a != 0) == tall] or angles
        got = read_numbers(crop, angles=tuple(tried))
        if not got:
            continue
        value, conf, angle = got[0]  # the first engine's reading; the other's is an alternative
        angles.remove(angle)
        angles.insert(0, angle)  # numbers of one print share a rotation: try it first next time
        row = _snap((top + bottom) / 2, heavy, bottom - top, right - left)
        readings.append((row, value, conf, angle))
        alternatives.append((row, tuple(dict.fromkeys(v for v, _, _ in got))))
    out["readings"] = tuple(readings)
    pairs = [(r, v) for r, v, _, _ in readings]
    # Numbers printed on the heavy rulings are placed on their lattice; others on their own rows' lattice.
    on_rulings = len(heavy) >= 4 and sum(r in heavy for r, _ in pairs) >= len(pairs) / 2
    decoded = decode_labels(alternatives, list(heavy) if on_rulings else [r for r, _ in pairs])
    if decoded is not None:
        kept, exact, _ = decoded
        (a, b), rms = _line_fit(*np.asarray(kept).T)
        out.update(ties=tuple(kept), kept=exact, ruled=len(kept) if on_rulings else 0, fit=(a, b), residual=rms)
        if exact < len(readings):
            problems.append(
                f"{len(readings) - exact} of {len(readings)} depth number(s) read with errors or off the "
                "sequence of the others: labelled by that sequence"
            )
        if on_rulings:
            return _stretch(out, problems)
    else:
        step = float(np.median(np.diff(heavy))) if len(heavy) > 1 else None
        fit = robust_depth_fit(round_readings([(r, float(v)) for r, v in pairs]), step=step)
        if fit is None:
            problems.append(f"depth ties are placeholders: {len(readings)} depth number(s) read, no consistent line")
            return out
        (a, b), kept, rms = fit
        out.update(ties=tuple(kept), kept=len(kept), fit=(a, b), residual=rms)
        if len(kept) < len(readings):
            problems.append(f"{len(readings) - len(kept)} depth number(s) disagreed with the others and were dropped")
    ruled = rulings_fit((a, b), heavy, kept)
    if ruled is not None:
        (a, b), ties, rms = ruled
        out.update(ties=tuple(ties), ruled=len(ties), fit=(a, b), residual=rms)
    return _stretch(out, problems)


STRETCH_ROWS = 0.5
"""Rulings whose depths miss one line by more than this RMS (in pixel rows) mean stretched
paper: the draft interpolates between them. A ruling's row is a whole row, within half a row
of its centre: that alone misses a line by 0.29 rows RMS."""


LONE_MISS_ROWS = 1.0
"""A ruling whose row misses the line of the others by more than this (pixel rows) beyond what its
two neighbours miss by, and by more than 3 x the usual such step, is a ruling merged with other
ink (a curve's flat stretch, a label's box) that moved its centre: paper stretches smoothly, so its
neighbours would miss alike. It is left out of the ties (at most one ruling in ten)."""


def _drop_lone_misses(out: dict, problems: list[str]) -> dict:
    """``out`` without the ruling ties that miss the line alone (:data:`LONE_MISS_ROWS`), refitted.

    >>> ties = [(0, 0.0), (50, 10.0), (100, 20.0), (148, 30.0), (200, 40.0), (250, 50.0)] + [
    ...     (300 + 50 * k, 60.0 + 10 * k) for k in range(5)]
    >>> problems = []
    >>> out = _drop_lone_misses({"fit": (0.0, 0.2), "ties": ties, "ruled": 11, "residual": 0.12}, problems)
    >>> [r for r, _ in out["ties"]][:5], out["ruled"], round(out["fit"][1], 6), out["residual"] < 1e-9
    ([0, 50, 100, 200, 250], 10, 0.2, True)
    """
    rows, depths = (np.asarray(v, float) for v in zip(*out["ties"], strict=True))
    a, b = out["fit"]
    if len(rows) < 5 or b == 0:
        return out
    miss = rows - (depths - a) / b
    alone = np.abs(miss[1:-1] - (miss[:-2] + miss[2:]) / 2)
    peak = alone >= np.maximum(np.r_[0.0, alone[:-1]], np.r_[alone[1:], 0.0])  # its neighbours show half of it
    bad = np.flatnonzero(peak & (alone > LONE_MISS_ROWS) & (alone > 3 * np.median(alone))) + 1
    if bad.size == 0 or bad.size > 0.1 * len(rows):
        return out
    keep = np.setdiff1d(np.arange(len(rows)), bad)
    (a, b), rms = _line_fit(rows[keep], depths[keep])
    problems.append(
        f"{bad.size} depth ruling(s) miss the others' line alone by more than {LONE_MISS_ROWS:g} row "
        "(merged with other ink?): left out of the ties"
    )
    ties = tuple(out["ties"][k] for k in keep)
    return {**out, "ties": ties, "ruled": len(ties), "fit": (a, b), "residual": rms}


def _stretch(out: dict, problems: list[str]) -> dict:
    """Mark the depth of ``out`` piecewise (``interpolate``) when its ties miss one line: ruling
    ties by :data:`STRETCH_ROWS`, any ties by more than calibration accepts of a line; never
    ties whose depths do not rise row by row (then the report says to check them).

    >>> out = {"fit": (0.0, 1.0), "ties": [(0, 0.0), (10, 10.0), (20, 9.0), (30, 30.0)], "ruled": 0,
    ...        "residual": 3.4, "interpolate": False}
    >>> problems = []
    >>> _stretch(out, problems)["interpolate"], problems
    (False, ['the 4 depth numbers disagree with one line and do not rise row by row: check the ties'])
    """
    from logdigit.calibrate import depth_map, fit_ties

    if out["fit"] is None or len(out["ties"]) < 3:
        return out
    if out["ruled"] >= 4:
        out = _drop_lone_misses(out, problems)
    spec = DepthSpec("FT", _DRAFT_STEP, tuple(out["ties"]))
    try:
        fit_ties(Layout(spec, ()))
        refused = False
    except LayoutError:
        refused = True
    try:
        depth_map(Layout(replace(spec, interpolate=True), ()))
    except LayoutError:
        if refused:
            problems.append(
                f"the {len(out['ties'])} depth numbers disagree with one line and do not rise row by row: "
                "check the ties"
            )
        return out
    if refused or (out["ruled"] >= 4 and out["residual"] > STRETCH_ROWS * abs(out["fit"][1])):
        out["interpolate"] = True
        what = f"{out['ruled']} depth rulings" if out["ruled"] else f"{len(out['ties'])} depth numbers"
        problems.append(
            f"the {what} miss one line by {out['residual']:.3g} (RMS; paper stretch?): "
            "depth is interpolated between them (depth.interpolate)"
        )
    return out


_STEP_DEPTHS = tuple(m * 10.0**p for p in range(4) for m in (1.0, 2.0, 2.5, 5.0))
"""Depths between two neighbouring heavy rulings a print may use (1, 2, 2.5, 5 times 1-1000)."""


_LATTICE_ROWS = 2.0
"""Least reach (pixel rows) of a place on the ruling lattice: rulings a few rows apart are placed
to a row or two (whole rows, a row's width), however small a share of an interval that is."""


_LATTICE_SPAN = 8
"""Rulings back along the chain over which the local spacing is measured."""


def ruling_indices(heavy: list[float] | list[int], *, tol: float = 0.15) -> np.ndarray:
    """Each heavy ruling's count of ruling intervals from the first one on the lattice; -1 off it.

    Heavy rulings repeat at one spacing (the median gap to begin with, then the spacing over the
    last :data:`_LATTICE_SPAN` rulings of the chain: on stretched paper it drifts down the page,
    but little over a few rulings). A ruling hidden under a banner or a fill leaves a gap of two or more
    intervals, so each count goes up by the gap over the spacing, rounded. A heavy line more
    than ``tol`` of an interval (and :data:`_LATTICE_ROWS` rows) off the lattice (a banner's box,
    a page edge) is not a depth ruling: -1; of two lines near one place on the lattice, the nearer is the ruling. The
    lattice is the chain, from any of the first rulings, that holds the most.

    >>> ruling_indices([10, 60, 110, 135, 210, 259]).tolist()
    [0, 1, 2, -1, 4, 5]
    >>> ruling_indices([10, 60, 110, 151, 161, 210]).tolist()  # 151 and 161 both near 160: 161 is nearer
    [0, 1, 2, -1, 3, 4]
    """
    rows = np.asarray(sorted(heavy), float)
    best = np.where(np.arange(rows.size) == 0, 0, -1)
    gaps = np.diff(rows)
    if rows.size < 2 or not (gaps > 0).any():
        return best  # one ruling at most: no lattice
    step = float(np.median(gaps[gaps > 0]))  # a row listed twice is one ruling: its copy is off the lattice
    most = 0
    for start in range(min(rows.size, 12)):
        idx = np.full(rows.size, -1)
        idx[start] = k = 0
        cur, local, chain = start, step, [(rows[start], 0)]
        while True:
            reach = max(tol, _LATTICE_ROWS / local)  # a ruling's row is whole, and rulings a row or so wide
            pick, pick_m, pick_dev = -1, 0, reach
            for j in range(cur + 1, rows.size):
                n = (rows[j] - rows[cur]) / local
                if pick >= 0 and n > pick_m + 0.5:
                    break
                m = round(n)  # rows rise with j: the first fit is the next place on the lattice
                if m >= 1 and abs(n - m) <= reach and (pick < 0 or (m == pick_m and abs(n - m) < pick_dev)):
                    pick, pick_m, pick_dev = j, m, abs(n - m)
            if pick < 0:
                break
            k += pick_m
            idx[pick], cur = k, pick
            chain.append((rows[pick], k))
            back = chain[-1 - _LATTICE_SPAN] if len(chain) > _LATTICE_SPAN else chain[0]
            local = (rows[pick] - back[0]) / (k - back[1])  # over the last few intervals: rows are whole
        if (idx >= 0).sum() > most:
            best, most = idx, int((idx >= 0).sum())
    return best


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: single-character insertions, deletions and substitutions.

    >>> edit_distance("3426", "3420"), edit_distance("21660", "1600"), edit_distance("278", "1780")
    (1, 2, 2)
    """
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _one_edit(text: str) -> set[str]:
    """``text`` and every digit string one edit away from it."""
    digits = "0123456789"
    out = {text}
    out |= {text[:i] + text[i + 1 :] for i in range(len(text))}
    out |= {text[:i] + d + text[i + 1 :] for i in range(len(text)) for d in digits}
    out |= {text[:i] + d + text[i:] for i in range(len(text) + 1) for d in digits}
    return {s for s in out if s and s[0] != "0"}


def _label_text(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def decode_labels(
    readings: Sequence[tuple[float, int | tuple[int, ...]]],
    heavy: list[float] | list[int],
    *,
    cap: int = 3,
    margin: float = 2.0,
) -> tuple[list[tuple[float, float]], int, float] | None:
    """Label every heavy ruling from depth numbers read with errors, by the sequence they form.

    The numbers of a depth track are printed on heavy rulings (or at rows of their own, one
    interval apart), at depths that rise by the same amount from one to the next: ruling k
    (:func:`ruling_indices`) is at depth ``v0 + d * k``, a multiple of ``d / 2`` (rulings and
    labels fall on round depths). OCR of small print drops, adds or swaps digits (a slashed
    zero read as 6, a 1 lost), so a reading is rarely exact, but most are within an edit or two
    of the truth. Every reading (two votes) and each string one edit from it (one vote)
    proposes (d, v0) for each round ``d`` (:data:`_STEP_DEPTHS`); the 200 proposals with most
    votes are scored by the summed edit distance (each capped at ``cap``) between what each
    reading says and what the sequence prints there, and the lowest wins.

    Args:
        readings: (row, number read) of each number tied to a heavy ruling (its row one of ``heavy``);
            the number may be a tuple of what several engines read (each proposes; the reading
            costs its nearest one's edits).
        heavy: rows of the heavy rulings.
        cap: most a single reading can cost (a number read as nonsense costs this much).
        margin: the best sequence must cost at least this much less than any other.

    Returns:
        (the heavy rulings as (row, depth) ties, readings read exactly, mean cost per reading),
        or None when fewer than three readings sit on rulings, fewer than two read exactly,
        the mean cost is over one edit, or another sequence comes within ``margin``.

    Example:
        >>> heavy = [50 * k + 20 for k in range(8)]  # a ruling every 50 rows, labelled every 20 ft
        >>> read = [(20, 3426), (70, 3449), (120, 3460), (170, 34480), (220, 3500), (270, 352)]
        >>> ties, exact, cost = decode_labels(read, heavy)
        >>> ties[0], ties[-1], exact
        ((20.0, 3420.0), (370.0, 3560.0), 2)
    """
    rows = np.asarray(sorted(heavy), float)
    ks = ruling_indices(heavy)
    index = {r: k for r, k in zip(rows.tolist(), ks.tolist(), strict=True) if k >= 0}
    on = [
        (index[float(r)], tuple(str(x) for x in (v if isinstance(v, tuple) else (v,))))
        for r, v in readings
        if float(r) in index
    ]
    if len(on) < 3:
        return None
    votes: dict[tuple[float, float], int] = {}
    for d in _STEP_DEPTHS:
        for k, texts in on:
            proposed: dict[tuple[float, float], int] = {}  # one reading's votes, whatever its engines
            for text in texts:
                for s in _one_edit(text):
                    alt = float(s) - d * k
                    if alt >= 0 and alt % (d / 2) == 0:  # rulings and labels fall on round depths
                        proposed[(d, alt)] = max(proposed.get((d, alt), 0), 2 if s == text else 1)
            for h, n in proposed.items():
                votes[h] = votes.get(h, 0) + n
    top = sorted(votes, key=lambda h: -votes[h])[:200]

    def cost(h: tuple[float, float]) -> tuple[float, int]:
        d, v0 = h
        dist = [min(min(edit_distance(_label_text(v0 + d * k), t) for t in texts), cap) for k, texts in on]
        return float(sum(dist)), sum(x == 0 for x in dist)

    scored = sorted((cost(h), h) for h in top)
    (best, exact), (d, v0) = scored[0]
    second = scored[1][0][0] if len(scored) > 1 else math.inf
    if exact < 2 or best > len(on) or second - best < margin:
        return None
    ties = [(float(r), float(v0 + d * k)) for r, k in zip(rows, ks, strict=True) if k >= 0]
    return ties, exact, best / len(on)


_NICE = (1.0, 2.0, 2.5, 5.0)
"""Mantissas of the depth between two heavy rulings (1, 2, 2.5, 5 times a power of ten)."""


def rulings_fit(
    fit: tuple[float, float], heavy: list[int], readings: list[tuple[float, float]], *, share: float = 0.6
) -> tuple[tuple[float, float], list[tuple[float, float]], float] | None:
    """Every heavy ruling labelled with its round depth, counted along the ruling lattice.

    The numbers read are few and often bunched in part of the section, so a line through them
    alone tilts over the rest of it, and it cannot follow paper that stretched. The heavy
    rulings are drawn at round depths all down the section, one interval apart: the readings'
    line names the depth of that interval (rounded to 1, 2, 2.5 or 5 times a power of ten,
    when within 15 % of one), and ruling k of the lattice (:func:`ruling_indices`) is at
    ``v0 + interval * k``, with ``v0`` the depth the readings put at ruling 0 (each reading
    placed on the lattice between its two neighbouring rulings), rounded to a whole interval
    when within a fifth of one, else to half of one when within a tenth.

    Args:
        fit: (a, b) of depth = a + b * row from the readings; heavy: rows of the heavy rulings;
        readings: the (row, depth) readings ``fit`` was made from.
        share: least share of the heavy rulings on the lattice.

    Returns:
        ((a, b) of the least-squares line through the labelled rulings, the rulings as
        (row, depth) ties, RMS residual from that line) or None when the rulings are too few
        (under 4) or too few on one lattice, their interval is no round depth, or a reading is
        more than a fifth of the interval off the rulings' depths (interpolated between them).

    Example:
        >>> heavy = [round(44.3 * k + 10) for k in range(20)]  # every 10 ft, 44.3 rows apart
        >>> readings = [(54.0, 1000.0), (98.0, 1010.0), (143.0, 1020.0)]  # three, near the top
        >>> (a, b), ties, rms = rulings_fit((988.0, 0.2247), heavy, readings)
        >>> round(b * 44.3, 2), len(ties), ties[-1]
        (10.0, 20, (852.0, 1180.0))
    """
    from logdigit.calibrate import DepthMap

    a, b = fit
    if len(heavy) < 4 or b <= 0 or not readings:
        return None
    rows = np.asarray(sorted(heavy), float)
    ks = ruling_indices(heavy)
    on = ks >= 0
    if on.sum() < max(4, share * len(rows)):
        return None
    rows, ks = rows[on], ks[on].astype(float)
    per = b * (rows[-1] - rows[0]) / (ks[-1] - ks[0])
    power = 10.0 ** math.floor(math.log10(per))
    nice = min((m * power * k for m in _NICE for k in (1, 10)), key=lambda q: abs(q - per))
    if abs(nice - per) > 0.15 * nice:
        return None
    lattice = DepthMap(rows, ks)  # row -> (fractional) ruling index, carried on past the ends
    r_read = np.asarray([r for r, _ in readings], float)
    d_read = np.asarray([d for _, d in readings], float)
    v0 = float(np.median(d_read - nice * lattice.depth(r_read)))
    for unit, tol in ((nice, 0.2), (nice / 2, 0.1)):  # rulings at round depths, as printed logs draw them
        if abs(v0 - round(v0 / unit) * unit) <= tol * nice:
            v0 = round(v0 / unit) * unit
            break
    depths = v0 + nice * ks
    moved = np.abs(DepthMap(rows, depths).depth(r_read) - d_read)
    if moved.max() > 0.2 * nice:
        return None
    line, rms = _line_fit(rows, depths)
    return line, [(float(r), float(d)) for r, d in zip(rows, depths, strict=True)], rms


def _line_fit(rows: np.ndarray, depths: np.ndarray) -> tuple[tuple[float, float], float]:
    """(a, b) of the least-squares line depth = a + b * row, and its RMS residual."""
    b, a = np.polyfit(rows, depths, 1)
    return (float(a), float(b)), float(np.sqrt(np.mean((depths - (a + b * rows)) ** 2)))


_ROUND_INTERVALS = (1000, 500, 250, 200, 100, 50, 25, 20, 10, 5, 2)


def round_readings(pairs: list[tuple[float, float]], *, share: float = 0.6) -> list[tuple[float, float]]:
    """The (row, depth) readings whose depth is a multiple of the print's labelling interval.

    A log prints its depth numbers at a round interval (every 10, 50, 100 ft...): the largest
    interval that at least ``share`` of the readings are multiples of, of three or more readings.
    A number misread by a digit or two (1672 for 1670) is off that interval and dropped, though
    close enough to the depth line to pass its tolerance. All readings when no interval holds.

    >>> round_readings([(0, 1640), (60, 1650), (120, 1662), (180, 1670), (240, 1680)])
    [(0, 1640), (60, 1650), (180, 1670), (240, 1680)]
    """
    if len(pairs) < 3:
        return pairs
    for every in _ROUND_INTERVALS:
        keep = [p for p in pairs if float(p[1]) % every == 0]
        if len(keep) >= 3 and len(keep) >= share * len(pairs):
            return keep
    return pairs


def _angles_first() -> tuple[int, ...]:
    from logdigit.image.ocr import ANGLES

    return ANGLES


def _number_blobs(ink, first, last, depth_track, dpi) -> list[tuple[int, int, int, int]]:
    """(top, bottom, left, right) of each group of small ink marks in the depth track (a printed number)."""
    left, right = depth_track
    lo, hi = left + 3, right - 2
    cover = ink[first : last + 1].mean(axis=0)
    while lo < hi and cover[lo] >= 0.5:  # the edge of a heavy border beside the column
        lo += 1
    while hi > lo and cover[hi - 1] >= 0.5:
        hi -= 1
    if hi - lo < 5:
        return []
    region = ink[first : last + 1, lo:hi].view(np.uint8)
    lines = np.asarray(cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((int(dpi / 3), 1), np.uint8)), np.uint8)
    across = np.ones((1, max(9, int(0.8 * (hi - lo)))), np.uint8)
    lines |= np.asarray(cv2.morphologyEx(region, cv2.MORPH_OPEN, across), np.uint8)
    marks = region & ~lines
    gap = max(2, int(round(dpi / 30)))
    joined = cv2.dilate(marks, np.ones((2 * gap + 1, 2 * gap + 1), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    out = []
    for x, y, w, h, _ in stats[1:]:
        w, h = w - 2 * gap, h - 2 * gap  # undo the dilation
        short, long_ = min(w, h), max(w, h)
        if dpi / 25 <= short <= dpi / 3 and long_ <= 1.2 * dpi and long_ >= 1.3 * short:
            out.append((first + y + gap, first + y + gap + h - 1, lo + x + gap, lo + x + gap + w - 1))
    return out


def _margin_depth_track(ink, first, last, tracks, dpi) -> tuple[int, int] | None:
    """With no unruled span between tracks, the depth column may be a margin beside them: the
    wider of the two margins (page edge to the first track, last track to the page edge), at
    least a quarter inch wide, that holds at least two number-like marks centred in it."""
    w = ink.shape[1]
    best, most = None, 1
    for span in ((0, tracks[0][0]), (tracks[-1][1], w - 1)):
        if span[1] - span[0] < dpi / 4:
            continue
        mid, half = (span[0] + span[1]) / 2, (span[1] - span[0]) / 2
        blobs = [b for b in _number_blobs(ink, first, last, span, dpi) if abs((b[2] + b[3]) / 2 - mid) <= 0.5 * half]
        if len(blobs) > most:
            best, most = span, len(blobs)
    return best


def _near_heavy(blobs, heavy, dpi, cap: int = 20):
    """Blobs whose centre is near a heavy ruling (labels), spread over the section, at most ``cap``."""
    if heavy:
        rows = np.asarray(heavy)
        near = [b for b in blobs if np.abs(rows - (b[0] + b[1]) / 2).min() <= max(b[1] - b[0], 0.15 * dpi)]
        blobs = near if len(near) >= len(blobs) / 2 else blobs  # else the heavy lines found are not the labelled ones
    if len(blobs) > cap:
        idx = np.linspace(0, len(blobs) - 1, cap).round().astype(int)
        blobs = [blobs[i] for i in idx]
    return blobs


def _snap(centre: float, heavy: list[int], height: int, width: int) -> float:
    """The heavy ruling a label names: the nearest within the label's own size, else its centre."""
    if heavy:
        rows = np.asarray(heavy, float)
        k = int(np.argmin(np.abs(rows - centre)))
        if abs(rows[k] - centre) <= max(height, width) * 0.75:
            return float(rows[k])
    return float(centre)


def robust_depth_fit(
    pairs: list[tuple[float, float]], *, step: float | None = None, tol: float | None = None
) -> tuple[tuple[float, float], list[tuple[float, float]], float] | None:
    """depth = a + b * row through (row, depth) readings, by consensus over pairs.

    Every pair of readings proposes a line; the line that most readings agree with (within
    ``tol`` depth units) wins, and is refitted by least squares on those readings. One
    misread number therefore changes nothing. Depth must rise down the page (b > 0).

    Args:
        pairs: (pixel row, depth read) pairs.
        step: spacing of the labelled rulings in rows, if known; proposals whose labels are not
            a whole number of steps apart are not trusted more for it, but the default ``tol``
            becomes a fifth of the depth per step.
        tol: agreement in depth units; default a fifth of the typical depth difference between
            neighbouring readings, or of one ``step``.

    Returns:
        ((a, b), kept pairs, RMS residual of the kept pairs) or None when fewer than half the
        readings agree, or fewer than three (two readings check nothing: one misread makes any line).

    Example:
        >>> pairs = [(100, 1000), (600, 1100), (1100, 1200), (1600, 1800), (2100, 1400)]  # 1800 misread
        >>> (a, b), kept, rms = robust_depth_fit(pairs)
        >>> round(a, 3), round(b, 3), len(kept)
        (980.0, 0.2, 4)
    """
    pts = np.asarray(sorted(pairs), float).reshape(-1, 2)
    if len(pts) < 2:
        return None
    rows, depths = pts[:, 0], pts[:, 1]
    best = None
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            if rows[j] - rows[i] < 1 or depths[j] <= depths[i]:
                continue
            b = (depths[j] - depths[i]) / (rows[j] - rows[i])
            a = depths[i] - b * rows[i]
            t = tol if tol is not None else _default_tol(depths, b, step)
            inl = np.abs(depths - (a + b * rows)) <= t
            score = (int(inl.sum()), -float(np.abs(depths - (a + b * rows))[inl].sum()))
            if best is None or score > best[0]:
                best = (score, inl)
    if best is None:
        return None
    inl = best[1]
    if inl.sum() < 3 or inl.sum() < len(pts) / 2:  # two readings alone check nothing: one misread bends them
        return None
    line, rms = _line_fit(rows[inl], depths[inl])
    return line, [(float(r), float(d)) for r, d in pts[inl]], rms


def _default_tol(depths: np.ndarray, b: float, step: float | None) -> float:
    if step:
        return max(1e-6, 0.2 * b * step)
    diffs = np.diff(np.unique(depths))
    return max(1e-6, 0.2 * float(np.median(diffs))) if diffs.size else 1.0


def _depth_scale(fit, dpi: float) -> str:
    """e.g. "5 in/100 ft": inches of paper per 100 depth units (shown to 2 significant figures)."""
    b = fit[1]
    inches = 100.0 / b / dpi
    return f"{float(f'{inches:.2g}'):g} in/100 ft"


# --------------------------------------------------------------------------- inks


def _inks(image, first, last, left, right, *, max_inks: int = _MAX_INKS) -> tuple[tuple[int, int, int], ...]:
    """Distinct ink colours in a track that are neither paper nor grid, most common first.

    Colours are binned (16 levels a channel) over a sample of rows; bins holding at least 1 %
    of the ink are clusters, merged when within 10 CIE76 Delta E; each cluster's colour is the
    mean of its pixels; at most ``max_inks``.
    """
    if image.ndim != 3:
        return ()
    rows = image[first : last + 1 : max(1, (last - first + 1) // 4000), left + 3 : right - 2]
    darkest = rows.min(axis=2)
    mask = (darkest < _INK_LEVEL).astype(np.uint8)
    across = np.ones((1, max(9, (right - left) // 3)), np.uint8)
    down = np.ones((max(9, rows.shape[0] // 4), 1), np.uint8)
    grid = np.asarray(cv2.morphologyEx(mask, cv2.MORPH_OPEN, across), np.uint8)
    grid |= np.asarray(cv2.morphologyEx(mask, cv2.MORPH_OPEN, down), np.uint8)
    pix = rows[(mask > 0) & (grid == 0)].astype(np.int64)
    if len(pix) < 50:
        return ()
    keys = (pix[:, 0] >> 4) * 256 + (pix[:, 1] >> 4) * 16 + (pix[:, 2] >> 4)
    counts = np.bincount(keys, minlength=4096)
    order = np.argsort(counts)[::-1]
    clusters: list[tuple[np.ndarray, np.ndarray, int]] = []  # (rgb mean, lab, count)
    for key in order:
        if counts[key] < 0.01 * len(pix):
            break
        mean = pix[keys == key].mean(axis=0)
        lab = _lab(mean)
        near = [i for i, c in enumerate(clusters) if np.linalg.norm(c[1] - lab) <= 10]
        if near:
            continue
        clusters.append((mean, lab, int(counts[key])))
    return tuple((int(round(c[0][0])), int(round(c[0][1])), int(round(c[0][2]))) for c in clusters[:max_inks])


LINE_BANDS = 3
"""Bands of rows the network labels to tell each ink's line style (:func:`line_bands`)."""
LINE_BAND_ROWS = 512
_LINE_MIN_PIXELS = 20  # curve pixels of an ink below which its line style is left open
_INK_MATCH_DE = 10.0  # a curve pixel belongs to the nearest ink within this CIE76 Delta E


def line_bands(rows: tuple[int, int], *, n: int = LINE_BANDS, height: int = LINE_BAND_ROWS) -> list[tuple[int, int]]:
    """``n`` bands of ``height`` rows (half-open) spread evenly over ``rows`` (inclusive), or the
    whole range when it is shorter than ``n`` bands.

    >>> line_bands((0, 2999), n=3, height=500)
    [(0, 500), (1250, 1750), (2500, 3000)]
    >>> line_bands((10, 99))
    [(10, 100)]
    """
    first, last = rows
    if last - first + 1 <= n * height:
        return [(first, last + 1)]
    starts = np.linspace(first, last + 1 - height, n).round().astype(int)
    return [(int(a), int(a) + height) for a in starts]


def ink_class_counts(image: np.ndarray, masks: np.ndarray, left: int, right: int, inks) -> np.ndarray:
    """int64 (len(inks), 2): per ink, its pixels inside the track labelled solid and dashed.

    A curve pixel (class 1 or 2 in ``masks``) belongs to the nearest of ``inks`` within 10 CIE76
    Delta E of its colour, else to none.

    Args:
        image: uint8 (h, W, 3) RGB rows; masks: bool (3, h, W), the network's class masks of them.
        left, right: the track's columns; inks: (R, G, B) colours.

    >>> img = np.full((4, 20, 3), 255, np.uint8); img[:, 6] = (204, 0, 0); img[:, 12] = (0, 0, 204)
    >>> m = np.zeros((3, 4, 20), bool); m[1, :, 6] = True; m[2, :3, 12] = True; m[1, 3, 12] = True
    >>> ink_class_counts(img, m, 0, 19, [(204, 0, 0), (0, 0, 204)]).tolist()
    [[4, 0], [1, 3]]
    """
    out = np.zeros((len(inks), 2), np.int64)
    if not len(inks):
        return out
    cols = slice(left + 3, right - 2)
    klass = np.where(masks[1][:, cols], 1, np.where(masks[2][:, cols], 2, 0))
    pick = klass > 0
    if not pick.any():
        return out
    px = image[:, cols][pick].astype(np.float32).reshape(-1, 1, 3) / 255.0
    lab = cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    ref = np.stack([_lab(c) for c in inks])
    dist = np.linalg.norm(lab[:, None, :] - ref[None, :, :], axis=2)
    near = dist.argmin(axis=1)
    ok = dist[np.arange(len(near)), near] <= _INK_MATCH_DE
    np.add.at(out, (near[ok], klass[pick][ok] - 1), 1)
    return out


def with_line_styles(report: LayoutReport, image: np.ndarray, classify) -> LayoutReport:
    """The report with each track's ink given the line style the network sees under it.

    ``classify(rows)`` maps uint8 (h, W, 3) RGB rows of the scan to bool (3, h, W) class masks
    (background, solid, dashed: ``threshold(predict_proba(...))``); it is called on
    :func:`line_bands` of the drafted rows. An ink is ``"solid"`` or ``"dashed"`` by the class most
    of its curve pixels carry, or None with fewer than 20 of them.
    """
    if image.ndim != 3 or not any(t.inks for t in report.tracks):
        return report
    rows = report.layout.depth.rows or (0, image.shape[0] - 1)
    counts = [np.zeros((len(t.inks), 2), np.int64) for t in report.tracks]
    for a, b in line_bands(rows):
        band = image[a:b]
        masks = classify(band)
        for i, t in enumerate(report.tracks):
            counts[i] += ink_class_counts(band, masks, t.left, t.right, t.inks)
    tracks = tuple(
        replace(
            t,
            lines=tuple(None if c.sum() < _LINE_MIN_PIXELS else ("solid" if c[0] >= c[1] else "dashed") for c in cnt),
        )
        for t, cnt in zip(report.tracks, counts, strict=True)
    )
    return replace(report, tracks=tracks)


def _lab(rgb) -> np.ndarray:
    """CIE L*a*b* (D65) of one sRGB colour given as 0-255 floats."""
    px = np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255.0
    return cv2.cvtColor(px, cv2.COLOR_RGB2LAB).reshape(3).astype(np.float64)


def delta_e(rgb1, rgb2) -> float:
    """CIE76 colour difference of two sRGB colours (0-255).

    >>> round(delta_e((0, 204, 0), (0, 204, 0)), 6)
    0.0
    """
    return float(np.linalg.norm(_lab(rgb1) - _lab(rgb2)))


# --------------------------------------------------------------------------- the draft


def _draft(reports, n_rows: int, rows: tuple[int, int], depth: dict) -> Layout:
    base = uncalibrated_layout([(t.left, t.right) for t in reports], n_rows)
    tracks = []
    for t, track in zip(reports, base.tracks, strict=True):
        hi = 10.0**t.divisions if t.scale == "log" else 1.0
        curves = tuple(CurveSpec(c.mnemonic, 1.0 if t.scale == "log" else 0.0, hi, line=c.line) for c in track.curves)
        tracks.append(Track(track.left, track.right, scale=t.scale, curves=curves))
    if depth["fit"] is not None:
        ties = tuple((float(r), float(d)) for r, d in depth["ties"])
        spec = DepthSpec("FT", _DRAFT_STEP, ties, rows=rows, interpolate=depth["interpolate"])
        return Layout(depth=spec, tracks=tuple(tracks), calibrated=True)
    spec = DepthSpec(base.depth.unit, 1.0, base.depth.ties, rows=rows)
    return Layout(depth=spec, tracks=tuple(tracks), calibrated=False)


def draft_text(report: LayoutReport) -> str:
    """The draft layout as TOML: the report as comments, the layout, and each track's inks as
    commented ``[[tracks.curves]]`` entries to fill in."""
    from logdigit.io.layout import layout_to_toml

    head = [
        "# Draft layout written by `logdigit layout` from the scan. Check everything below.",
        *(f"#   {line}" for line in report.lines()),
    ]
    if report.layout.calibrated:
        head += [
            '# [depth]: unit "FT" is assumed (the printed numbers carry no unit): write "M" for a metric log;',
            "#   ties were read from the printed depth numbers; step = the output sampling step.",
            "# Curves: mnemonic, unit, left_value and right_value are placeholders;",
            "#   a log track shows 1 .. 10^decades: scale both by the value printed at its left edge.",
        ]
    body = layout_to_toml(report.layout)
    parts = body.split("[[tracks]]\n")
    out = [parts[0]]
    for i, (t, part) in enumerate(zip(report.tracks, parts[1:], strict=True)):
        lo, hi = (1, 10**t.divisions) if t.scale == "log" else (0, 1)
        inks = "".join(
            f'# [[tracks.curves]]  # ink {k + 1} of this track\n# mnemonic = "T{i + 1}_INK{k + 1}"\n'
            f'# left_value = {lo}\n# right_value = {hi}\n# color = "#{c[0]:02x}{c[1]:02x}{c[2]:02x}"\n'
            + (f'# line = "{t.lines[k]}"\n' if k < len(t.lines) and t.lines[k] else "")
            + "\n"
            for k, c in enumerate(t.inks)
        )
        out.append("[[tracks]]\n" + part + inks)
    return "\n".join(head) + "\n\n" + "".join(out)
