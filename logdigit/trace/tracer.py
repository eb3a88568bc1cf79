"""Centreline tracing: class masks -> one sub-pixel x per pixel row per curve.

How the curves of one class are found in one track window:

0. *Clean-up.* Columns at a track edge set in most rows (a ruling labelled as a curve)
   are dropped; holes of up to 2 px within a row are filled (a steep anti-aliased stroke
   thresholded into pieces), and for a curve alone in its class holes of up to 12 px
   beside a wide run too (a sweep cut by the rulings it crosses, dashes side by side in
   a near-horizontal passage; see :func:`_close_holes`). For dashed/dotted lines the
   gaps between pieces are joined in 2-D (see :func:`_bridge_dashes`), but only gaps
   running across the page are drawn in: where a dashed curve sweeps across the track
   its dashes share rows, which the row-by-row steps below cannot join. For a curve
   alone in its class, where most pieces are long (dashes, not dots), a round piece is a
   speck and joins only across ``_SPECK_JOIN`` px: a speck beside a dashed curve must not
   pull a bridge far off it (with several curves, one may be dotted).
1. *Runs.* Each row of the mask is cut into runs of set pixels. A run's centroid is the
   curve's centre in that row; for a straight band of any slope the horizontal section
   is centred on the centreline, so steep (near-horizontal) strokes are centred too.
2. *Tracklets.* Runs in adjacent rows that touch (8-connectivity) are linked; where the
   link is one-to-one the runs chain into a tracklet: one run per row, a piece of curve
   that needs no decision. Chains break at gaps (dashes), specks touching the line,
   frayed steep strokes and merges (crossings): tracklets are the pieces between
   ambiguities.
3. *Best path.* A dynamic programme over tracklets ordered by first row picks the chain
   that covers the most rows (reward 1 per row) at the least cost. Joining two
   tracklets across a gap costs the squared mismatch between each end and the other's
   straight-line extrapolation (slopes fitted on the last 6 rows; the tolerance grows
   with the gap), or, for a single curve, the plain position mismatch if smaller (after
   a sharp turn the slope misleads; over a gap of a few rows it allows a jump as wide
   as the end runs, as a sweep drawn in pieces moves that far per row). Between several
   curves of one look the plain mismatch counts only for such a jump from a run of a
   sweep's width: a sweep across the track is cut wherever it crosses another curve.
   Touching tracklets that share a few rows (a frayed stroke) join at the cost of the
   rows counted twice. A join over more than ``_LINK_GAP`` rows (or ``max_gap`` if that is
   larger), or one too badly aligned, is
   a restart costing ``min_segment`` rows, so isolated pieces shorter than that (specks)
   are never worth taking. A curve past its scale is drawn on from the other edge of the
   track (a wrap, or backup scale): a piece that leaves the track at one edge and one that
   enters at the other within a few rows, both heading the same way, join at a small
   fixed cost (``_WRAP_COST``, plus the change of look between curves of one look), so a
   wrapped stretch shorter than ``min_segment`` is kept, and the rows between stay empty.
4. *Several curves of one class.* With ink colours in the layout and the scan given,
   curves of inks that can be told apart are split first: each pixel goes to the ink
   whose mix with the paper colour explains it best (CIE Lab), so faded and
   anti-aliased ink still sorts; the track's other inks and the other tracks' inks compete
   too, and the pixels of their kind they explain best are no one's (a curve straying in
   from the next track is not handed to the nearest ink of this one). Curves of one ink (or a scan without colour) are
   separated by continuity: paths are taken one after the other, each removing its
   tracklets, and handed out left to right by median column. There crossings matter:
   a short tracklet where two long ones merge and two long ones leave (the X of two
   curves) costs rather than pays, and links skip straight across it, so each curve
   keeps its own slope through the crossing instead of bouncing off the other. Stroke
   width counts too: a join between pieces whose widths across the curve differ (a 3 px
   curve touching a 1 px one) costs more, so two curves that meet and turn back are not
   swapped. So do, with the scan given, the shade of the pieces' ink (a faint grey curve
   is not a black one; :func:`_shades`) and, for dashed-class curves, the length of their
   dashes or dots (:func:`_dash_lengths`). Taken one after the other, the first path may
   still grab a piece of another curve where that gains rows; afterwards the paths
   exchange tails wherever these looks say so and the exchange lowers the joins' cost
   plus the looks' change (see :func:`_untangle`). Where the layout calls some of the
   curves ``"dotted"`` and others ``"dashed"``, the traces with the shortest pieces
   under them go to the dotted ones; within one line style the order is left to right.
5. *Output.* Rows of the chosen tracklets get their run centroids; the gaps between them
   that a join spans (and rows holding only a drawn-in dash gap) are filled by linear
   interpolation; the rows at a wrap stay NaN. In a sweep
   (run ends moving one way over three rows) a row takes the mean of the two points where
   its run hands over to the rows above and below, which the curve crosses whatever the
   pen's width; the run's middle is off where the sweep bends (see :func:`_handoff`). Two kinds of long run are
   not centred on the curve: a run reaching well past its neighbours on both sides (a
   merge with a ruling or text) takes the mean of its neighbours; a run at a spike's tip
   (its far end and centroid beyond both neighbours', the curve coming back within a few
   rows) takes the far end less half a line width, so a spike drawn out and back within
   one row keeps its full height.
6. *Ink.* A curve whose layout colour is a colour (not black or grey) that no other
   curve of its track shares is carried on past the ends of its traced stretches, row
   by row, along pixels of its ink as measured on the scan where it was traced (see
   :func:`_follow_ink`): where the network lost it, e.g. a pegged curve lying straight
   along a grid line of another colour.
7. *One solid and one dashed curve of one ink.* Where two black curves intertwine, the
   network gives pieces of one to the other's class, so the solid curve's holes within
   a row are filled up to ``_PAIR_ROW_HOLE`` px only (a wider closing joins its stroke
   to the other curve's pieces beside it). A solid line has no gaps: a dashed piece
   that fills a gap of the solid curve, touching it above and below, is given to it.
   The dashed curve may then take the solid-class pieces that come within a few pixels
   of its own dashes and that the solid curve does not run through (earning less per
   row than its own dashes), and the solid curve is traced again without them. A gap
   in the dashed curve far longer than its usual dash gaps, along which the solid curve
   runs within a few pixels, is either a short cut the solid curve took along the
   dashed curve's stroke (labelled solid), or the dashed curve hidden under the solid
   one. If the solid curve, traced without that stroke, finds ink of its own in those
   rows, it was a short cut and the stroke goes back to the dashed curve; otherwise the
   dashed curve takes the solid curve's x there, and in the rows next to it where its
   ink runs into the solid stroke. With the scan given, a long gap may instead hold an
   upright stroke of dark ink that neither mask has and that is no ruling: the network
   took a straight stretch of the curve for a grid line, and the dashed curve follows
   it, on through the rows next to it where the scan is dark at its column (see
   :func:`_trace_pair`).
8. *Nothing invented.* Linking looks across gaps of up to ``_LINK_GAP`` rows, but values
   are filled only across short ones: a stretch of rows whose x has no ink of either
   curve class within ``_SEEN_REACH`` px (nor, for steps 6 and 7, the curve's ink on the
   scan) is kept only if it is at most ``max_gap`` rows long (:data:`DEFAULT_MAX_GAP`),
   and listed in :attr:`PixelTrace.filled`; longer ones go back to NaN (NULL in the LAS).
   See :func:`_keep_short_fills`.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, replace

import cv2
import numpy as np

from logdigit.errors import InputError, LayoutError
from logdigit.io.layout import LINE_CLASSES, CurveSpec, Layout, Track

log = logging.getLogger(__name__)

_FIT_ROWS = 6  # rows at each tracklet end used for its position and slope
_MIN_FIT_ROWS = 3  # fewer rows than this: the slope is unknown
_SIGMA_SLOPE_KNOWN = 0.3  # px of tolerated mismatch per gap row, extrapolating a fitted slope
_SLOPE_ERROR = 0.5  # px per gap row per px/row of slope: a steep stroke's slope is known less well
_SIGMA_CURVATURE = 0.03  # px per gap row squared: curves bend while the pen is lifted
_SIGMA_SLOPE_UNKNOWN = 0.6  # px per gap row when an end is too short to have a slope
_SWEEP_GAP = 4  # gap rows: up to this, a lone curve's join may jump as far per row as an end run is wide
_JUNCTION_COST = 0.5  # per row of a crossing tracklet, in multi-curve mode
_RULING_FILL = 0.8  # fraction of window rows set in a column at a track edge: a ruling, not a curve
_LAB_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)  # lightness counts less: anti-aliased edges are paler
_SAME_INK = 20.0  # weighted Lab distance under which two inks cannot be told apart
_SHARED_ROWS = 2  # rows two pieces of one curve may share (split by a crossing curve, frayed)
_END_OPTIONS = 4  # candidate joins kept per dash end
_MIN_WIDTH_ROWS = 4  # usable rows a tracklet needs for its stroke width to count
_SIGMA_WIDTH = 0.5  # px of stroke-width mismatch tolerated between two pieces of one curve
_SIGMA_SHADE = 15.0  # grey levels of shade mismatch tolerated between two pieces of one curve
_SIGMA_DASH = 0.4  # mismatch of log dash length tolerated between two pieces of one curve
_LOOK_EVIDENCE = 0.5  # look-change cost (see _looks) an exchange of path tails must save
_MAX_EXCHANGES = 10_000  # tail exchanges between paths of one class (each lowers the cost)
_PLAIN, _CROSSING, _WRAP = 0, 1, 2  # how a path joins a tracklet to the one before
_WRAP_GAP = 6  # rows: longest gap at a wrap (the track edge's ruling may hide the curve)
_WRAP_NEAR = 8.0  # px: an end this close to a track edge may leave the track there
_WRAP_SLOPE = 0.5  # px/row: a wrapping curve does not head back from the edge it leaves
_WRAP_COST = 2.0  # a wrap join's cost
_ROW_HOLE = 12  # px: widest hole within a row filled for a curve alone in its class
_PAIR_ROW_HOLE = 6  # px: the same for the curves of a solid + dashed pair of one ink (see _trace_pair)
_SPECK = 9  # px: a piece of fewer pixels joins no other across a hole
_SPECK_JOIN = 12.0  # px: longest dash-gap join of a round piece where most pieces are long (a speck)
_TAKE_REACH = 4  # px: a solid piece this close to the dashed curve's dashes may be its stroke
_LENT_ROWS = 4  # rows: a gap this long in a solid curve is no stroke cut by a ruling
_WIDE_RUN = 6  # px: a run this wide (a sweep's) is joined to the pieces near it in its row
_OCCLUDED = 8  # px: widest gap in a row that a crossing curve of another ink may cover
_INK_CHROMA = 20.0  # Lab chroma from which an ink is a colour, not black or grey
_INK_REACH = 2  # px either side of the curve searched for its ink in the next row
_INK_MATCH = 12.0  # weighted Lab distance: least reach of an ink, and least margin to paper and grid
_INK_MIN_ROWS = 20  # traced rows needed to measure a curve's ink on the scan
_GREY_CHROMA = 6.0  # Lab chroma under which nearly all curve pixels mean a grey or binarised scan
_LINK_GAP = 40  # rows: longest gap pieces of one curve are joined across (identity, not values)
_SEEN_REACH = 2  # px: class ink this close to a row's x means the row was measured, not filled

DEFAULT_MAX_GAP = 15
"""Longest gap, in pixel rows, filled by linear interpolation (``trace(max_gap=...)``,
``logdigit infer --max-gap``). 15 rows is 0.05 in at 300 dpi (1.3 mm): the gap of a
dashed or dotted line, a ruling or a speck of dirt across the curve, at the usual scan
resolutions (200-400 dpi). A longer gap is a stretch of curve the scan does not show
(torn, blank or faded paper): it stays NULL rather than become a straight line."""

MAX_GAP_LIMIT = 1000
"""Largest ``max_gap`` accepted (3.3 in at 300 dpi): linking reaches as far, and its work grows with it."""


@dataclass(frozen=True)
class PixelTrace:
    """One curve's centreline in image pixels.

    Attributes:
        mnemonic: the curve's mnemonic (from the layout, or generated when uncalibrated).
        track: index of the track in ``layout.tracks``.
        row0: first pixel row covered (0-based, image coordinates).
        x: float64 (n,), sub-pixel column of the centreline for rows ``row0 .. row0+n-1``;
           NaN where the curve is absent (a gap left as NULL).
        twins: mnemonics of the track's other curves that look the same (one line style;
           inks the layout does not tell apart, or a scan without colour) and were told
           apart from this one by continuity alone: where they cross or touch, they can
           swap. Empty for a curve its class, line style or colour sets apart.
        filled: (first, last) image rows, inclusive, of each stretch whose x is linearly
           interpolated across a gap without ink (at most ``max_gap`` rows each), in order.
        wrap: int8 (n,) wrap level per row, or None (all 0): 0 where the trace is on the
           curve's own scale, +1 where it is on ink drawn after the curve passed the track's
           right-hand edge (re-entering from the left), -1 after it passed the left-hand edge
           (re-entering from the right). ``x`` is always where the ink is, inside the track;
           :func:`logdigit.calibrate.calibrate` turns the level into a value as the layout
           declares (``CurveSpec.wrap``, ``CurveSpec.backup``), else NULL.
        margin: float64 (n,) or None: per row, how much better (log-odds) the chosen ink fits the
           curve than the best other ink on the row; set by the joint tracer (:mod:`.joint`).
        seen_line: ``"solid"`` or ``"dashed"``, the class the network sees under the trace's
           ink, or None; set by the joint tracer (the pipeline warns where it is not the declared one).
        hidden: (first, last) image rows, inclusive, of each stretch where the curve runs hidden
           under another curve of the track and ``x`` is that curve's (:mod:`logdigit.trace.hidden`).
    """

    mnemonic: str
    track: int
    row0: int
    x: np.ndarray
    twins: tuple[str, ...] = ()
    filled: tuple[tuple[int, int], ...] = ()
    wrap: np.ndarray | None = None
    margin: np.ndarray | None = None
    seen_line: str | None = None
    hidden: tuple[tuple[int, int], ...] = ()

    @property
    def rows(self) -> np.ndarray:
        """int64 (n,) pixel rows matching ``x``."""
        return np.arange(self.row0, self.row0 + len(self.x), dtype=np.int64)


@dataclass(frozen=True)
class Cues:
    """The cues the tracer tells curves and strokes apart by; each can be weakened or turned off.

    The defaults are the product's. Setting a tolerance to ``inf`` turns its cue off, which is
    how the tests show what each cue is for.

    Attributes:
        sigma_shade: grey levels of shade mismatch tolerated between two pieces of one curve.
        sigma_dash: mismatch of log dash length tolerated between two pieces of one curve.
        wrap_slope: px/row; a curve wrapping past a track edge does not head back from the edge
            it leaves faster than this.
        speck_join: px; longest dash-gap join of a round piece where most pieces are long (a speck).
        take_reach: px; a solid piece this close to the dashed curve's dashes may be its stroke.
        lent_rows: rows; a gap this long in a solid curve is no stroke cut by a ruling.
        yield_to_dashed: in a solid + dashed pair of one ink, the solid curve gives way where it
            ran over the dashed curve's ink (see ``_yield_to_dashed``).
    """

    sigma_shade: float = _SIGMA_SHADE
    sigma_dash: float = _SIGMA_DASH
    wrap_slope: float = _WRAP_SLOPE
    speck_join: float = _SPECK_JOIN
    take_reach: int = _TAKE_REACH
    lent_rows: int = _LENT_ROWS
    yield_to_dashed: bool = True


_DEFAULT_CUES = Cues()
_CUES: contextvars.ContextVar[Cues] = contextvars.ContextVar("logdigit_trace_cues", default=_DEFAULT_CUES)
"""The cues of the :func:`trace` call in progress (the helpers read them from here)."""


def trace(
    masks: np.ndarray,
    layout: Layout,
    *,
    image: np.ndarray | None = None,
    max_gap: int = DEFAULT_MAX_GAP,
    min_segment: int = 8,
    margin: int = 3,
    cues: Cues | None = None,
) -> list[PixelTrace]:
    """Trace every layout curve's centreline: one sub-pixel column per pixel row.

    For each track and each class its curves use (``curve.klass``: 1 solid, 2 dashed),
    the class mask is cut to the track window (digitised rows ``layout.depth.rows``,
    inclusive, else all rows; columns ``left - margin .. right + margin``), and the
    curve is followed as described in this module's docstring. Several curves of one
    class in a track are split by ink colour when every one has ``color`` and ``image``
    is given, else by continuity; in that case they are handed out to the layout's
    curves of that class in left-to-right order of their median column. Columns at a
    track edge that are set in most rows (a ruling labelled as a curve) are ignored.

    Args:
        masks: bool (3, H, W) from :func:`logdigit.image.threshold.threshold`; not modified.
        layout: tracks and curves in pixel coordinates of this image.
        image: optional uint8 (H, W, 3) RGB scan, used to split curves by ``color`` and to
            follow a curve of a colour of its own along its ink where the masks lost it.
        max_gap: longest gap in rows filled by linear interpolation; longer gaps are NaN.
            The default (:data:`DEFAULT_MAX_GAP`, 0.05 in at 300 dpi) fills the gaps of
            dashed and dotted lines at 200-400 dpi, not a stretch of curve the scan lacks.
            Pieces are still linked (told to be one curve) across ``max(40, max_gap)`` rows.
        min_segment: isolated pieces shorter than this many rows are dropped as specks.
        margin: columns searched beyond each track edge, for curves that stray past it.
        cues: the cues curves are told apart by (:class:`Cues`; default: the product's).

    Returns:
        One :class:`PixelTrace` per layout curve, in layout order (track by track); each
        has exactly one value (or NaN) per digitised row, in image columns, and lists the
        rows it filled by interpolation (``filled``).

    Raises:
        InputError: masks or image of the wrong shape or dtype.
        LayoutError: a track or the digitised rows outside the image, an unknown line style.

    Example:
        >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
        >>> masks = np.zeros((3, 12, 8), bool)
        >>> masks[1, :, 3:5] = True
        >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (11, 11)), rows=(2, 5)),
        ...              (Track(1, 6, curves=(CurveSpec("GR", 0, 150),)),))
        >>> [(t.mnemonic, t.row0, t.x.tolist(), t.filled) for t in trace(masks, lay, min_segment=2)]
        [('GR', 2, [3.5, 3.5, 3.5, 3.5], ())]
    """
    _check_masks(masks)
    height, width = masks.shape[1:]
    _check_image(image, (height, width))
    _check_options(max_gap, min_segment, margin)
    if cues is not None and not isinstance(cues, Cues):
        raise TypeError(f"cues must be a logdigit.trace.Cues, got {type(cues).__name__}")
    token = _CUES.set(cues or _DEFAULT_CUES)
    try:
        return _trace(masks, layout, image, max_gap, min_segment, margin)
    finally:
        _CUES.reset(token)


def _trace(masks, layout: Layout, image, max_gap: int, min_segment: int, margin: int) -> list[PixelTrace]:
    height, width = masks.shape[1:]
    opts = _Options(link_gap=max(_LINK_GAP, int(max_gap)), min_segment=int(min_segment), margin=int(margin))
    r0, r1 = _digitised_rows(layout, height)
    traces: list[PixelTrace] = []
    for index, track in enumerate(layout.tracks):
        _check_track(track, index, width)
        strangers = [c.color for t in layout.tracks if t is not track for c in t.curves if c.color is not None]
        xs, twins, seen = _trace_track(masks, image, track, (r0, r1), opts, strangers)
        for c, x, t, s in zip(track.curves, xs, twins, seen, strict=True):
            x, filled = _keep_short_fills(x, s, int(max_gap))
            rows = tuple((a + r0, b + r0) for a, b in filled)
            traces.append(PixelTrace(c.mnemonic, index, r0, x, twins=t, filled=rows))
    return traces


def _keep_short_fills(x: np.ndarray, seen: np.ndarray, max_gap: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``x`` with every stretch of rows that hold a value but no ink (``~seen``) longer than
    ``max_gap`` rows set to NaN, and the (first, last) rows, inclusive, of the stretches kept.

    >>> x = np.arange(8.0); seen = np.array([1, 0, 0, 1, 0, 0, 0, 1], bool)
    >>> out, filled = _keep_short_fills(x, seen, 2)
    >>> out.tolist(), filled
    ([0.0, 1.0, 2.0, 3.0, nan, nan, nan, 7.0], [(1, 2)])
    """
    out = x.copy()
    filled = []
    for a, b in zip(*_true_runs(np.isfinite(x) & ~seen), strict=True):
        if b - a > max_gap:
            out[a:b] = np.nan
        else:
            filled.append((int(a), int(b) - 1))
    return out, filled


_DASH_JOIN = 8  # px: pieces of one dashed curve closer than this in a row are one stroke
_SOLID_JOIN = 3  # px: a solid stroke cut by a ruling


@dataclass(frozen=True)
class _Options:
    link_gap: int  # rows: longest gap a join spans
    min_segment: int
    margin: int
    row_hole: int = _ROW_HOLE  # see _close_holes
    edges: tuple[int, int] | None = None  # the track's left and right edge, window columns


# --------------------------------------------------------------------------- validation


def _check_masks(masks) -> None:
    if not isinstance(masks, np.ndarray) or masks.ndim != 3 or masks.shape[0] != 3 or masks.dtype != bool:
        got = f"{masks.shape} {masks.dtype}" if isinstance(masks, np.ndarray) else type(masks).__name__
        raise InputError(f"masks must be bool (3, H, W) as threshold() returns, got {got}; use masks.astype(bool)")
    if masks.shape[1] == 0 or masks.shape[2] == 0:
        raise InputError(f"masks are empty: shape {masks.shape}")


def _check_image(image, shape: tuple[int, int]) -> None:
    if image is None:
        return
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (*shape, 3):
        got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"image must be uint8 {(*shape, 3)} RGB, the scan the masks came from; got {got}")


def _check_options(max_gap: int, min_segment: int, margin: int) -> None:
    for name, value, low in (("max_gap", max_gap, 0), ("min_segment", min_segment, 1), ("margin", margin, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if max_gap > MAX_GAP_LIMIT:
        raise ValueError(f"max_gap must be at most {MAX_GAP_LIMIT} rows, got {max_gap}")


def _digitised_rows(layout: Layout, height: int) -> tuple[int, int]:
    if layout.depth.rows is None:
        return 0, height - 1
    first, last = (int(r) for r in layout.depth.rows)
    if not 0 <= first <= last < height:
        raise LayoutError(
            f"depth rows ({first}, {last}) are not inside the scan's rows 0..{height - 1}; "
            "fix [depth] rows in the layout (is it for this scan?)"
        )
    return first, last


def _check_track(track: Track, index: int, width: int) -> None:
    if not 0 <= track.left < track.right < width:
        raise LayoutError(
            f"track {index}: columns {track.left}..{track.right} are not inside the scan's "
            f"columns 0..{width - 1} with left < right; fix the track edges in the layout"
        )
    for curve in track.curves:
        if curve.line not in LINE_CLASSES:
            raise LayoutError(
                f"track {index} curve {curve.mnemonic}: line {curve.line!r} is not one of {sorted(LINE_CLASSES)}"
            )


# --------------------------------------------------------------------------- per track


def _trace_track(
    masks, image, track: Track, rows: tuple[int, int], opts: _Options, strangers=()
) -> tuple[list[np.ndarray], list[tuple[str, ...]], list[np.ndarray]]:
    """x arrays (image columns, NaN gaps) for the track's curves, in the track's order,
    each curve's twins (see :class:`PixelTrace`), and per curve a bool per row: its x lies
    on ink (either class within ``_SEEN_REACH`` px, or its ink found on the scan).
    ``strangers``: the declared inks of the other tracks' curves, which may stray into this
    track (a caliper at bit size across the border; see :func:`_trace_class`)."""
    r0, r1 = rows
    c0, c1 = max(track.left - opts.margin, 0), min(track.right + opts.margin, masks.shape[2] - 1)
    pixels = None if image is None else image[r0 : r1 + 1, c0 : c1 + 1]
    out: list[np.ndarray] = [np.empty(0)] * len(track.curves)
    twins: list[tuple[str, ...]] = [()] * len(track.curves)
    classes = sorted({c.klass for c in track.curves})
    edges = (track.left - c0, track.right - c0)
    opts = replace(opts, edges=edges)
    windows = {k: _drop_rulings(masks[k, r0 : r1 + 1, c0 : c1 + 1], edges) for k in classes}
    pair = _one_of_each(track.curves, pixels, windows)
    for klass in classes:
        if pair is not None and klass == 2:
            continue  # traced with its solid partner below
        members = [i for i, c in enumerate(track.curves) if c.klass == klass]
        kopts = _solid_of_pair(opts) if pair is not None and klass == 1 else opts
        curves = [track.curves[i] for i in members]
        others = [c.color for c in track.curves if c.klass != klass and c.color is not None]
        xs, groups = _trace_class(
            windows[klass], curves, pixels, kopts, dashed=klass == 2, others=others, strangers=strangers
        )
        for i, x in zip(members, xs, strict=True):
            out[i] = x + c0
        for group in groups:  # traced together by continuity: those of one line style look alike
            for a in group:
                same = tuple(curves[b].mnemonic for b in group if b != a and curves[b].line == curves[a].line)
                twins[members[a]] = same
    on_scan = [np.zeros(r1 - r0 + 1, bool) for _ in track.curves]  # rows placed on the scan's ink
    if pair is not None:
        s, d = pair
        x_solid, x_dashed, on_scan[d] = _trace_pair(windows[1], windows[2], out[s] - c0, opts, pixels)
        out[s], out[d] = x_solid + c0, x_dashed + c0
    if pixels is not None:
        for i in _inks_of_their_own(track.curves):
            followed = _follow_ink(out[i] - c0, pixels, (track.left - c0, track.right - c0)) + c0
            on_scan[i] |= np.isnan(out[i]) & np.isfinite(followed)
            out[i] = followed
    ink = masks[1, r0 : r1 + 1, c0 : c1 + 1] | masks[2, r0 : r1 + 1, c0 : c1 + 1]
    seen = [_ink_at(ink, x - c0, reach=_SEEN_REACH) | o for x, o in zip(out, on_scan, strict=True)]
    return out, twins, seen


_WEAK = 0.35  # reward per row of a piece the network gave the other class
_LENT_REACH = 6  # rows beyond such a gap that a dashed piece filling it may reach
_HIDDEN = 8.0  # px: a dashed curve's gap lying this close to the solid curve runs under it
_HIDDEN_ROWS = 6  # rows: shorter gaps are a dash gap, interpolated
_YIELD_INKED = 0.6  # share of a short cut's rows the solid curve must find on its own ink
_UPRIGHT_REACH = 16  # px from a dashed curve's bridge to an upright stroke of unlabelled ink
_UPRIGHT_WIDTH = 5  # px: widest run of such a stroke


def _solid_of_pair(opts: _Options) -> _Options:
    """Options for tracing the solid curve of a pair: the dashed curve's strokes may lie in
    its mask too, and a 12 px closing would join them to its sweeps."""
    return replace(opts, row_hole=_PAIR_ROW_HOLE)


def _one_of_each(curves, pixels, windows) -> tuple[int, int] | None:
    """(solid, dashed) curve indices when the track has one of each that the scan cannot
    tell apart by ink: inks unknown, too alike, or a grey or binarised scan."""
    solid = [i for i, c in enumerate(curves) if c.klass == 1]
    dashed = [i for i, c in enumerate(curves) if c.klass == 2]
    if len(solid) != 1 or len(dashed) != 1:
        return None
    a, b = curves[solid[0]].color, curves[dashed[0]].color
    if pixels is not None and a is not None and b is not None and len(_colour_groups([a, b])) == 2:
        ys, xs = np.nonzero(windows[1] | windows[2])
        if _shows_colour(_to_lab(pixels[ys, xs]) * _LAB_WEIGHTS):
            return None
    return solid[0], dashed[0]


def _claimed(mask: np.ndarray, x: np.ndarray, gap: int, reach: float = 2.0) -> np.ndarray:
    """Pixels of the ink cluster each row's x lies in (or within ``reach`` px of)."""
    out = np.zeros_like(mask)
    rows = np.flatnonzero(np.isfinite(x))
    if rows.size == 0:
        return out
    lo, hi = _nearest_clusters(mask, x, gap)
    lo, hi, xr = lo[rows], hi[rows], x[rows]
    ok = np.isfinite(lo) & (xr >= lo - reach) & (xr <= hi + reach)
    cols = np.arange(mask.shape[1])
    out[rows[ok]] = (cols >= lo[ok, None]) & (cols <= hi[ok, None])
    return out & mask


def _trace_pair(solid, dashed, xs, opts: _Options, pixels=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trace one solid and one dashed curve of one ink together: (solid x, dashed x, bool per
    row: the dashed x was placed on an upright stroke of the scan's ink).

    ``xs`` is the solid curve traced on its own; the dashed curve is traced here. Where
    two black curves intertwine the network gives pieces of one to the other's
    class. First, dashed pieces that fill a gap of the solid curve go to it
    (:func:`_lent_to_dashed`): the solid curve is traced again with them, and the dashed
    curve keeps them only outside the gap's rows (where they may be its own stroke
    crossing). Then the dashed curve may take the solid pieces within ``_TAKE_REACH`` px
    of its dashes that the solid curve does not run through (at ``_WEAK`` reward per
    row, so its own dashes come first); the solid curve is then traced again without
    the pieces the dashed curve took. Last, where the solid curve runs along a long gap
    of the dashed curve, it either took the dashed curve's stroke as a short cut
    (:func:`_yield_to_dashed`) or the dashed curve runs hidden under it
    (:func:`_hidden_under`, reaching into the rows next to it where the dashed curve's
    ink runs into the solid stroke); with the scan's ``pixels``, a long gap may follow an
    upright stroke of unlabelled ink (:func:`_upright_stretches`). The solid curve is
    traced with ``_PAIR_ROW_HOLE`` (:func:`_solid_of_pair`).
    """
    sopts = _solid_of_pair(opts)
    claimed = _claimed(solid, xs, _SOLID_JOIN)
    lent, gap_rows = _lent_to_dashed(dashed, xs, _ink_at(solid, xs, reach=2), claimed)
    if lent.any():
        solid, dashed = solid | lent, dashed & ~(lent & gap_rows[:, None])
        xs = _trace_lone(solid, sopts, dashed=False)
        claimed = _claimed(solid, xs, _SOLID_JOIN)
    extra = _touching(solid & ~claimed, dashed, reach=_CUES.get().take_reach)
    both = dashed | extra  # (without extra, the dashed curve's trace on its own)
    xd = _trace_lone(both, opts, dashed=True, strong=dashed)
    if extra.any():
        taken = extra & _claimed(extra, xd, _SOLID_JOIN)
        if taken.any():
            own = solid & ~taken
            xs = _trace_lone(own, sopts, dashed=False)
            claimed = _claimed(solid, xs, _SOLID_JOIN)
    new = _yield_to_dashed(solid, dashed, xs, xd, claimed, sopts) if _CUES.get().yield_to_dashed else xs
    if new is not xs:
        xs, claimed = new, _claimed(solid, new, _SOLID_JOIN)
    ink = dashed | (solid & ~claimed)
    edge = cv2.dilate(_claimed(dashed, xd, _SOLID_JOIN).view(np.uint8), np.ones((1, 5), np.uint8)).view(bool)
    xd = _hidden_under(xd, xs, ink, merged=(edge & claimed).any(axis=1))  # dashed ink within 2 px of the solid's
    upright = np.zeros(len(xd), bool)
    if pixels is not None:
        xd, upright = _upright_stretches(xd, ink, pixels, solid | dashed)
    return xs, xd, upright


def _lent_to_dashed(dashed, xs, inked, claimed) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of the dashed mask that fill a gap of the solid curve, and the gap rows.

    A solid line has no gaps of its own: where ``xs`` runs for ``_LENT_ROWS`` rows or more
    without solid ink (``~inked``), an 8-connected piece of ``dashed`` that touches the
    solid curve's ``claimed`` pixels in the 3 rows above the gap and in the 3 rows below
    it, and reaches at most ``_LENT_REACH`` rows beyond it, is the solid stroke labelled
    dashed (e.g. a sweep out and back that the network took for a dash). Returns
    (bool mask of such pieces, bool per row: inside a gap they fill).
    """
    starts, stops = _true_runs(np.isfinite(xs) & ~inked)
    lent = np.zeros_like(dashed)
    in_gap = np.zeros(len(xs), bool)
    lent_rows = _CUES.get().lent_rows
    gaps = [(a, b) for a, b in zip(starts, stops, strict=True) if b - a >= lent_rows and a > 0 and b < len(xs)]
    if not gaps:
        return lent, in_gap
    _, label, stats, _ = cv2.connectedComponentsWithStats(dashed.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    top = stats[:, cv2.CC_STAT_TOP]
    bottom = top + stats[:, cv2.CC_STAT_HEIGHT] - 1
    kernel = np.ones((5, 5), np.uint8)  # "touches": within 2 px
    n = len(xs)
    for a, b in gaps:
        ends = []
        for r0, r1 in ((max(a - 3, 0), a), (b, min(b + 3, n))):
            lo, hi = max(r0 - 2, 0), min(r1 + 2, n)  # the rows a 5 x 5 dilation of rows r0..r1 reaches
            near = np.zeros((hi - lo, dashed.shape[1]), np.uint8)
            near[r0 - lo : r1 - lo] = claimed[r0:r1]
            near = cv2.dilate(near, kernel).view(bool)
            ends.append(set(np.unique(label[lo:hi][near & dashed[lo:hi]]).tolist()) - {0})
        for piece in ends[0] & ends[1]:
            if top[piece] >= a - _LENT_REACH and bottom[piece] < b + _LENT_REACH:
                rows = slice(top[piece], bottom[piece] + 1)
                lent[rows] |= label[rows] == piece
                in_gap[a:b] = True
    return lent, in_gap


def _upright_stretches(
    xd: np.ndarray, ink: np.ndarray, pixels: np.ndarray, labelled: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``xd`` following upright strokes of bare ink across its long gaps, and a bool per row:
    placed on such a stroke (the rest of a gap is bridged).

    The network takes a straight upright stretch of a black curve for a grid ruling and
    leaves it out of both classes. Bare ink is a dark pixel of the scan (RGB mean under
    128) in neither class (``labelled``) and off the rulings (rows or columns dark over
    half the window). In a long gap of the dashed curve (:func:`_long_gaps`), each row's
    narrow run of bare ink (at most ``_UPRIGHT_WIDTH`` px) nearest the bridge, within
    ``_UPRIGHT_REACH`` px, is a candidate; if at least half the gap's rows (and 4) have one
    within 2 px of their median column, the curve runs there: those rows take their run's
    centre, the gap's rows before the first and after the last of them take the median
    column for as long as the scan is dark within 1 px of it (the stroke meeting the
    other curve or a ruling), and the rest of the gap is bridged between them.
    """
    out = xd.copy()
    on_stroke = np.zeros(len(xd), bool)
    gaps = _long_gaps(xd, ink)
    if not gaps:
        return out, on_stroke
    ruled_cols = (pixels[::4].sum(axis=2, dtype=np.uint16) < 384).mean(axis=0) >= 0.5  # every 4th row will do
    for a, b in gaps:
        dark = pixels[a:b].sum(axis=2, dtype=np.uint16) < 384
        bare = dark & ~(dark.mean(axis=1) >= 0.5)[:, None] & ~ruled_cols & ~labelled[a:b]
        found = np.full(b - a, np.nan)
        for k in range(b - a):
            cols = np.flatnonzero(bare[k])
            if cols.size == 0:
                continue
            runs = np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1)
            centres = np.array([(c[0] + c[-1]) / 2 for c in runs if c[-1] - c[0] < _UPRIGHT_WIDTH])
            if centres.size:
                near = centres[np.argmin(np.abs(centres - xd[a + k]))]
                if abs(near - xd[a + k]) <= _UPRIGHT_REACH:
                    found[k] = near
        need = max(4, (b - a) / 2)
        ok = np.isfinite(found)
        if ok.sum() < need:
            continue
        ok &= np.abs(found - np.nanmedian(found)) <= 2
        if ok.sum() < need:
            continue
        # The stroke goes on, upright, through the gap's rows next to it where the scan is
        # dark at its column (where it meets the other curve or a ruling, say).
        med, kept = float(np.median(found[ok])), np.flatnonzero(ok)
        col = int(round(med))
        inked = dark[:, max(col - 1, 0) : col + 2].any(axis=1)
        for ks in (range(kept[0] - 1, -1, -1), range(kept[-1] + 1, b - a)):
            for k in ks:
                if not inked[k]:
                    break
                found[k], ok[k] = med, True
        rows = np.arange(a, b)
        ends = [r for r in (a - 1, b) if 0 <= r < len(xd) and np.isfinite(xd[r])]
        known = np.r_[rows[ok], ends]
        order = np.argsort(known)
        out[a:b] = np.interp(rows, known[order], np.r_[found[ok], xd[ends]][order])
        on_stroke[a:b] = ok
    return out, on_stroke


def _touching(mask: np.ndarray, other: np.ndarray, reach: int = 2) -> np.ndarray:
    """The 8-connected pieces of ``mask`` that come within ``reach`` px of ``other``."""
    count, label = cv2.connectedComponents(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    near = cv2.dilate(other.view(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)).view(bool)
    keep = np.zeros(count, bool)
    keep[np.unique(label[near & mask])] = True
    keep[0] = False
    return keep[label]


def _true_runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and stops (exclusive) of the runs of True in a 1-D bool array."""
    edges = np.diff(np.r_[0, flags.astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _ink_at(mask: np.ndarray, x: np.ndarray, *, reach: int) -> np.ndarray:
    """bool per row: ``mask`` is set within ``reach`` px of the row's rounded x (False at NaN)."""
    rows = np.flatnonzero(np.isfinite(x))
    cols = np.round(x[rows]).astype(int)
    out = np.zeros(len(x), bool)
    for k in range(-reach, reach + 1):
        c = cols + k
        ok = (c >= 0) & (c < mask.shape[1])
        out[rows[ok]] |= mask[rows[ok], c[ok]]
    return out


def _long_gaps(xd: np.ndarray, ink: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges [a, b) where ``xd`` is bridged (no ``ink`` within 2 px) for far longer
    than its usual gaps (at least ``_HIDDEN_ROWS`` and twice the median gap)."""
    starts, stops = _true_runs(np.isfinite(xd) & ~_ink_at(ink, xd, reach=2))
    lengths = stops - starts
    usual = np.median(lengths[lengths >= 2]) if (lengths >= 2).any() else 0.0  # the pen's own gaps
    return [(a, b) for a, b in zip(starts, stops, strict=True) if b - a >= max(_HIDDEN_ROWS, 2 * usual)]


def _hidden_under(xd: np.ndarray, xs: np.ndarray, ink: np.ndarray, merged: np.ndarray | None = None) -> np.ndarray:
    """``xd`` with long gaps (no ``ink`` within 2 px) that ``xs`` runs along replaced by ``xs``.

    ``merged`` (bool per row): the dashed curve's ink there runs into the solid curve's
    stroke. The replacement goes on through such rows next to the gap while the two
    curves stay within ``_HIDDEN`` px: where they meet, the dashed curve's ink is the
    edge of the stroke they share, and the solid curve's x is its middle.
    """
    out = xd.copy()
    with np.errstate(invalid="ignore"):
        along = np.abs(xs - xd) <= _HIDDEN
    for a, b in _long_gaps(xd, ink):
        if along[a:b].all():
            if merged is not None:
                while a > 0 and merged[a - 1] and along[a - 1]:
                    a -= 1
                while b < len(xd) and merged[b] and along[b]:
                    b += 1
            out[a:b] = xs[a:b]
    return out


def _yield_to_dashed(solid, dashed, xs, xd, claimed, opts: _Options) -> np.ndarray:
    """``xs`` traced again without the solid stroke a long gap of ``xd`` lies on, where
    the solid curve has ink of its own elsewhere in those rows (it took the dashed curve's
    stroke, labelled solid, as a short cut); else ``xs`` itself. ``claimed``: the solid
    pixels ``xs`` runs through (:func:`_claimed`)."""
    contested = np.zeros_like(solid)
    spans = []
    for a, b in _long_gaps(xd, dashed):
        with np.errstate(invalid="ignore"):
            on_line = np.abs(xs[a:b] - xd[a:b]) <= 3
        for i, j in zip(*(ends + a for ends in _true_runs(on_line)), strict=True):
            if j - i >= _HIDDEN_ROWS:
                contested[i:j] = claimed[i:j] & _claimed(solid[i:j], xd[i:j], _SOLID_JOIN)
                spans.append((i, j))
    if not spans:
        return xs
    own = solid & ~contested
    xs2 = _trace_lone(own, opts, dashed=False)
    inked = _ink_at(own, xs2, reach=0)
    if any(inked[a:b].mean() < _YIELD_INKED for a, b in spans):
        return xs
    return xs2


def _inks_of_their_own(curves) -> list[int]:
    """Curves whose ink is a colour (not black or grey) that no other curve of the track shares."""
    labs = [None if c.color is None else _to_lab_one(c.color) for c in curves]
    out = []
    for i, lab in enumerate(labs):
        if lab is None or np.hypot(lab[1], lab[2]) < _INK_CHROMA:
            continue
        others = [o for j, o in enumerate(labs) if j != i]
        if all(o is not None and np.linalg.norm((o - lab) * _LAB_WEIGHTS) > _SAME_INK for o in others):
            out.append(i)
    return out


def _follow_ink(x: np.ndarray, pixels: np.ndarray, edges: tuple[int, int]) -> np.ndarray:
    """Carry a traced curve on, row by row, where the scan shows its ink and the masks did not.

    The ink is measured on the scan where the curve was traced (median Lab of its centre
    pixels, and their spread). From each end of each traced stretch, the next row is
    searched ``_INK_REACH`` px either side of the curve for pixels of that ink: nearer to
    it than ``max(_INK_MATCH, 3 x spread)``, and clearly nearer to it than to the paper
    or to the colour of the track-edge rulings; the nearest group of such pixels continues
    the curve. This recovers, for example, a pegged curve lying straight along a grid
    line, which the network takes for a ruling. The caller only asks this for a colour ink
    that no other curve of the track shares.
    """
    h, w = pixels.shape[:2]
    have = np.isfinite(x)
    if have.sum() < _INK_MIN_ROWS or have.all():
        return x
    rows = np.flatnonzero(have)
    cols = np.clip(np.round(x[rows]).astype(np.int64), 0, w - 1)
    seen = _to_lab(pixels[rows, cols]) * _LAB_WEIGHTS
    ink = np.median(seen, axis=0)
    reach = max(_INK_MATCH, 3.0 * float(np.median(np.linalg.norm(seen - ink, axis=1))))
    paper = _paper_lab(pixels)
    border = [c for e in edges for c in (e - 1, e, e + 1) if 0 <= c < w]
    column_inks = [_to_lab_one(np.median(pixels[::2, c], axis=0)) * _LAB_WEIGHTS for c in border]
    ruling = max(column_inks, key=lambda lab: np.linalg.norm(lab - paper))  # the edge column most unlike paper
    if min(np.linalg.norm(ruling - ink), np.linalg.norm(paper - ink)) <= reach + _INK_MATCH:
        return x  # the ink cannot be told from the paper or the grid

    def follow(row: int, col: float) -> float | None:
        lo, hi = max(int(round(col)) - _INK_REACH, 0), min(int(round(col)) + _INK_REACH + 1, w)
        if lo >= hi:
            return None
        lab = _to_lab(pixels[row, lo:hi]) * _LAB_WEIGHTS
        d = np.linalg.norm(lab - ink, axis=1)
        ok = (d < reach) & (np.linalg.norm(lab - ruling, axis=1) > d + _INK_MATCH)
        ok &= np.linalg.norm(lab - paper, axis=1) > d + _INK_MATCH
        if not ok.any():
            return None
        found = np.flatnonzero(ok) + lo
        groups = np.split(found, np.flatnonzero(np.diff(found) > 1) + 1)
        return float(min((g.mean() for g in groups), key=lambda c: abs(c - col)))

    out = x.copy()
    for step in (1, -1):
        ends = np.flatnonzero(have & ~np.roll(have, -step))
        for r in ends:
            col, row = out[r], r + step
            while 0 <= row < h and not have[row]:
                col = follow(row, col)
                if col is None:
                    break
                out[row] = col
                row += step
    return out


def _trace_class(
    window, curves: list[CurveSpec], pixels, opts: _Options, *, dashed: bool, others=(), strangers=()
) -> tuple[list[np.ndarray], list[list[int]]]:
    """Window-column x arrays for the curves of one class in one track window, and the
    groups of them (indices into ``curves``) told apart by continuity alone.

    ``others``: the declared inks (RGB) of the track's curves of the other class. Where this
    class's curves all have one declared ink, the class pixels better explained by one of those
    inks are not theirs (:func:`_own_ink`): a curve alone in its class keeps to its colour too.
    ``strangers``: the declared inks of the other tracks' curves. Where this class's curves have
    several inks, a pixel that an ink of ``others`` or ``strangers`` explains better than all of
    theirs, and that is of that ink's kind (a colour for a coloured ink; black or grey, tinted or
    not, for a black or grey one), is no one's: a curve of another track that strays into this
    one (a caliper at bit size across the border) is not handed to the nearest ink here.
    (A class of one ink keeps to the inks of its own track: the tinted pixels of a black or grey
    stroke would go to a coloured ink that is not in the track.)
    """
    window = _own_ink(window, curves, pixels, others)
    if len(curves) == 1:
        return [_trace_lone(window, opts, dashed=dashed)], []
    everyone = list(range(len(curves)))
    groups, parts = [everyone], None
    if pixels is not None and all(c.color is not None for c in curves):
        groups = _colour_groups([c.color for c in curves])
        if len(groups) > 1:
            inks = [np.mean([_to_lab_one(curves[i].color) for i in g], axis=0) for g in groups]
            parts = _split_by_colour(window, pixels, inks)
            rivals = _rivals(inks, [*others, *strangers])
            full = _split_by_colour(window, pixels, inks + rivals) if parts is not None and rivals else None
            if parts is not None and full is not None:  # a rival's pixels, of its kind, are no one's here
                coloured = _chromatic(window, pixels)
                theirs = np.zeros(window.shape, bool)
                for lab, part in zip(rivals, full[len(inks) :], strict=True):
                    theirs |= part & (coloured if np.hypot(lab[1], lab[2]) >= _INK_CHROMA else ~coloured)
                parts = [part & ~theirs for part in parts]
            if parts is None:
                log.info("curves %s: the scan shows no colour; separating by continuity", [c.mnemonic for c in curves])
    elif pixels is not None and any(c.color is not None for c in curves):
        log.warning("curves %s: colour given for some only; separating by continuity", [c.mnemonic for c in curves])
    if parts is None:  # colour cannot split them: all by continuity
        return _by_continuity(window, [c.line for c in curves], opts, dashed=dashed, pixels=pixels), [everyone]
    out: list[np.ndarray] = [np.empty(0)] * len(curves)
    for group, part in zip(groups, parts, strict=True):
        lines = [curves[i].line for i in group]
        for i, x in zip(group, _by_continuity(part, lines, opts, dashed=dashed, pixels=pixels), strict=True):
            out[i] = _refine(part, x, dashed=dashed) if len(group) == 1 else x
    return out, [g for g in groups if len(g) > 1]


def _trace_lone(window: np.ndarray, opts: _Options, *, dashed: bool, strong: np.ndarray | None = None) -> np.ndarray:
    """The one curve in ``window``: its best path (:func:`_trace_curves`), re-centred (:func:`_refine`)."""
    return _refine(window, _trace_curves(window, 1, opts, dashed=dashed, strong=strong)[0], dashed=dashed)


def _refine(window: np.ndarray, x: np.ndarray, *, dashed: bool) -> np.ndarray:
    """Re-centre a lone curve's trace on all of its ink, row by row.

    The chained trace can take one run where a near-horizontal passage spreads the
    stroke over several runs (dashes, or a ruling cutting it), and can bridge the tip
    of a dashed spike with a straight line. Here the ink is joined across gaps (dash
    gaps for dashed lines, a cut ruling for solid ones), the connected pieces the trace
    runs through are kept, and each row's x becomes the centre of the kept ink cluster
    nearest the trace: for a stroke crossing a row, the middle of its ink in that row is
    where it crosses the row's centre. A cluster at a local extremum (a spike tip) gives
    its far end instead; a cluster far wider than the curve's slope allows (merged with a
    ruling) leaves the traced value. Rows without kept ink keep their traced value.
    """
    ink = window.astype(np.uint8)
    if not ink.any() or not np.isfinite(x).any():
        return x
    gap = _DASH_JOIN if dashed else _SOLID_JOIN
    joined = cv2.dilate(ink, np.ones((3, 2 * gap + 1), np.uint8))
    _, comp = cv2.connectedComponents(joined, connectivity=8)
    rows = np.flatnonzero(np.isfinite(x))
    cols = np.clip(np.round(x[rows]).astype(int), 0, window.shape[1] - 1)
    touched = np.unique(comp[rows, cols])
    touched = touched[touched > 0]
    if touched.size == 0:
        return x
    kept = np.isin(comp, touched) & window
    lo, hi = _nearest_clusters(kept, x, gap)
    centre = (lo + hi) / 2
    above = np.concatenate([[np.nan], centre[:-1]])
    below = np.concatenate([centre[1:], [np.nan]])
    # fmax ignores NaN: the larger step to a finite neighbour, 0 with none.
    slope = np.fmax(np.fmax(np.abs(above - centre), np.abs(below - centre)), 0.0)
    width = hi - lo
    use = np.isfinite(centre) & ~(width > 2 * slope + 12)  # wider: merged with a ruling, trust the chain
    both = np.isfinite(above) & np.isfinite(below) & (width > 3)
    tip_left = use & both & (above > centre) & (below > centre)
    tip_right = use & both & (above < centre) & (below < centre)
    use &= ~(tip_left | tip_right)
    if dashed:  # dots and dashes: the chain's own fit is finer than a blob's centre
        use &= ~(np.isfinite(x) & (np.abs(centre - x) <= 1.5))
    sweep = _handoff(lo, hi)
    centre = np.where(np.isfinite(sweep), sweep, centre)
    out = x.copy()
    out[tip_left] = lo[tip_left] + 0.5
    out[tip_right] = hi[tip_right] - 0.5
    out[use] = centre[use]
    return out


def _handoff(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """x per row where a row's ink is part of a sweep (neither end of the run moves back
    over three rows, and the ink moves), else NaN; ``lo``/``hi`` are the row's ink ends
    (NaN where none).

    A stroke crossing rows quickly puts in each row the ink of the curve from about a
    pen radius above the row to a pen radius below it, so the middle of the run is off
    where the curve bends (by the bend times the radius squared over two). Where the run
    of one row ends and the next row's begins, though, the curve crosses the boundary
    between them, whatever the pen: the row's x is the mean of its two hand-off points.
    """
    out = np.full(len(lo), np.nan)
    if len(lo) < 3:
        return out
    l0, l1, l2, h0, h1, h2 = lo[:-2], lo[1:-1], lo[2:], hi[:-2], hi[1:-1], hi[2:]
    with np.errstate(invalid="ignore"):  # NaN comparisons are False: not a sweep
        moves = (l2 - l0) + (h2 - h0)
        right = (l0 <= l1) & (l1 <= l2) & (h0 <= h1) & (h1 <= h2) & (moves > 0)
        left = (l0 >= l1) & (l1 >= l2) & (h0 >= h1) & (h1 >= h2) & (moves < 0)
    out[1:-1][right] = ((h0 + l1 + h1 + l2) / 4)[right]
    out[1:-1][left] = ((l0 + h1 + l1 + h2) / 4)[left]
    return out


def _nearest_clusters(kept: np.ndarray, x: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first and last column of the ink cluster nearest ``x`` (NaN without ink).

    A cluster is a row's run of kept pixels with gaps of at most ``gap``; a row whose x is
    NaN measures from the nearest row with a finite x (the upper one on a tie). Distance is
    0 when x lies inside the cluster; ties go to the leftmost cluster.
    """
    n = len(x)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    r, c = np.nonzero(kept)
    if r.size == 0:
        return lo, hi
    start = np.ones(r.size, bool)
    start[1:] = (r[1:] != r[:-1]) | (np.diff(c) > gap)
    first = np.flatnonzero(start)
    last = np.append(first[1:] - 1, r.size - 1)
    row, c_lo, c_hi = r[first], c[first].astype(float), c[last].astype(float)
    finite = np.flatnonzero(np.isfinite(x))
    pos = np.clip(np.searchsorted(finite, row), 1, max(finite.size - 1, 1))
    up, down = finite[np.minimum(pos - 1, finite.size - 1)], finite[np.minimum(pos, finite.size - 1)]
    source = np.where(np.abs(down - row) < np.abs(row - up), down, up)
    ref = np.where(np.isfinite(x[row]), x[row], x[source])
    dist = np.where((c_lo <= ref) & (ref <= c_hi), 0.0, np.minimum(np.abs(c_lo - ref), np.abs(c_hi - ref)))
    order = np.lexsort((np.arange(row.size), dist, row))
    pick = order[np.r_[True, row[order][1:] != row[order][:-1]]]
    lo[row[pick]], hi[row[pick]] = c_lo[pick], c_hi[pick]
    return lo, hi


def _by_continuity(window, lines: list[str], opts: _Options, *, dashed: bool, pixels=None) -> list[np.ndarray]:
    """One x array per curve of one look whose layout ``lines`` are given, in their order.

    The curves are traced together (:func:`_trace_curves`); ``pixels``, the scan's window,
    lets the grey level of each piece's ink tell apart curves drawn with more or less ink
    (see :func:`_shades`). Where ``lines`` hold both ``"dotted"`` and ``"dashed"``, the
    traces with the shortest pieces under them (:func:`_piece_lengths`) go to the dotted
    curves. Within one line style the traces are handed out in left-to-right order of their
    median column.
    """
    xs = _trace_curves(window, len(lines), opts, dashed=dashed, pixels=pixels)
    medians = [np.nanmedian(x) if np.isfinite(x).any() else np.inf for x in xs]
    by_median = [int(i) for i in np.argsort(medians, kind="stable")]
    style = dict.fromkeys(by_median, lines[0])  # one class: all lines alike unless dashed and dotted mix
    if dashed and {"dotted", "dashed"} <= set(lines):
        shortest = np.argsort(_piece_lengths(window, xs), kind="stable")[: lines.count("dotted")]
        style = {i: "dotted" if i in shortest else "dashed" for i in by_median}
    queue = {line: [i for i in by_median if style[i] == line] for line in lines}
    return [xs[queue[line].pop(0)] for line in lines]


def _own_ink(window: np.ndarray, curves: list[CurveSpec], pixels, others) -> np.ndarray:
    """The class pixels of ``window`` that the class's one declared ink explains better than
    every other declared ink of the track (:func:`_split_by_colour`); the window unchanged where
    the curves' inks are not all given and alike, no other ink differs, or the scan shows no colour."""
    if pixels is None or not others or any(c.color is None for c in curves):
        return window
    if len(_colour_groups([c.color for c in curves])) > 1:
        return window  # several inks: _trace_class splits them among themselves
    own = np.mean([_to_lab_one(c.color) for c in curves], axis=0)
    rivals = _rivals([own], others)
    if not rivals:
        return window
    parts = _split_by_colour(window, pixels, [own, *rivals])
    return window if parts is None else parts[0].astype(window.dtype)


def _chromatic(window: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """bool like ``window``: its set pixels whose colour is a colour (Lab chroma at least
    ``_INK_CHROMA``), not black, grey or a tinted grey."""
    out = np.zeros(window.shape, bool)
    ys, xs = np.nonzero(window)
    if len(ys):
        lab = _to_lab(pixels[ys, xs])
        out[ys, xs] = np.hypot(lab[:, 1], lab[:, 2]) >= _INK_CHROMA
    return out


def _rivals(inks, others) -> list[np.ndarray]:
    """Lab of the inks (RGB) in ``others`` that differ from every one of ``inks`` (Lab), once each."""
    out: list[np.ndarray] = []
    for lab in (_to_lab_one(c) for c in dict.fromkeys(tuple(c) for c in others)):
        if all(np.linalg.norm((lab - ink) * _LAB_WEIGHTS) >= _SAME_INK for ink in inks):
            out.append(lab)
    return out


def _colour_groups(colours) -> list[list[int]]:
    """Curve indices grouped by ink colours too close to tell apart (single linkage)."""
    lab = np.array([_to_lab_one(c) for c in colours])
    group = list(range(len(colours)))
    for a in range(len(colours)):
        for b in range(a + 1, len(colours)):
            if np.linalg.norm((lab[a] - lab[b]) * _LAB_WEIGHTS) < _SAME_INK:
                old, new = group[b], group[a]
                group = [new if g == old else g for g in group]
    return [[i for i, g in enumerate(group) if g == label] for label in dict.fromkeys(group)]


def _close_holes(window: np.ndarray, hole: int = _ROW_HOLE) -> np.ndarray:
    """Fill holes within a row, for a curve alone in its class: up to 2 px anywhere, up to
    ``hole`` px (``_ROW_HOLE``; ``_PAIR_ROW_HOLE`` in a pair track) beside a wide run.

    A steep anti-aliased stroke thresholds into pieces; a sweep across the track crosses
    vertical rulings, which the network leaves out of the curve; the dashes of a near-
    horizontal passage lie side by side in a row. With no other curve of the class in the
    track, pieces that close in one row are the one stroke, and as one run they give the
    row's extent (and its hand-off points) rather than one fragment's middle. The wider
    holes are filled only next to a run of ``_WIDE_RUN`` px or more (a sweep's): a curve
    and a ruling side by side, both narrow, stay apart, and specks (``_SPECK``) join nothing.
    """
    ink = window.view(np.uint8)
    small = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, 3), np.uint8)).view(bool)
    _, label, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= _SPECK
    big[0] = False  # the background
    pieces = big[label]
    kernel = np.ones((1, hole + 1), np.uint8)  # a closing fills gaps one short of its width
    pad = hole + 1  # blank margins: no ink may close onto the window's edge
    closed = cv2.morphologyEx(np.pad(pieces.view(np.uint8), ((0, 0), (pad, pad))), cv2.MORPH_CLOSE, kernel)
    fill = closed[:, pad:-pad].view(bool) & ~window
    rows = np.flatnonzero(fill.any(axis=1))
    if rows.size == 0:
        return small
    fill, pieces = fill[rows], pieces[rows]
    run = _run_lengths(pieces)
    w = window.shape[1]
    cols = np.broadcast_to(np.arange(w), pieces.shape)
    left = np.maximum.accumulate(np.where(pieces, cols, 0), axis=1)  # the nearest piece on each side
    right = np.minimum.accumulate(np.where(pieces, cols, w - 1)[:, ::-1], axis=1)[:, ::-1]
    at = np.arange(len(rows))[:, None]
    small[rows] |= fill & (np.maximum(run[at, left], run[at, right]) >= _WIDE_RUN)
    return small


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """int (H, W): the length of the row run each set pixel belongs to (0 elsewhere)."""

    def from_start(m: np.ndarray) -> np.ndarray:  # 1, 2, 3, ... along each run from its left end
        count = np.cumsum(m, axis=1)
        return count - np.maximum.accumulate(np.where(m == 0, count, 0), axis=1)

    m = mask.astype(np.int32)
    return np.where(mask, from_start(m) + from_start(m[:, ::-1])[:, ::-1] - 1, 0)


def _drop_rulings(window: np.ndarray, edges: tuple[int, int]) -> np.ndarray:
    """The window without columns at the track edges that are set in most rows."""
    if window.shape[0] < 50:
        return window
    fill = np.count_nonzero(window, axis=0) / window.shape[0]
    cols = [c for e in edges for c in range(e - 2, e + 3) if 0 <= c < window.shape[1] and fill[c] >= _RULING_FILL]
    if not cols:
        return window
    log.info("ignoring columns %s of a track window: a ruling labelled as a curve", cols)
    window = window.copy()
    window[:, cols] = False
    return window


def _split_by_colour(window: np.ndarray, pixels: np.ndarray, inks) -> list[np.ndarray] | None:
    """One mask per ink (CIE Lab): each set pixel goes to the ink it is best explained by.

    A pixel is modelled as ink laid over paper with some strength (faded, anti-aliased
    or partial ink): its distance to an ink is the distance to the segment from the paper
    colour (the window's median) to that ink. Where two inks cross, the pixels under the
    upper one belong to both: a gap of up to ``_OCCLUDED`` set pixels between two pieces
    of one ink in a row is given to that ink too. None when the scan shows no colour (grey or
    binarised) although the inks differ in hue: then colour cannot separate the curves.
    """
    ys, xs = np.nonzero(window)
    inks = np.asarray(inks, dtype=np.float32) * _LAB_WEIGHTS  # (K, 3)
    if len(ys) == 0:
        return [np.zeros_like(window) for _ in inks]
    lab = _to_lab(pixels[ys, xs]) * _LAB_WEIGHTS  # (N, 3)
    if np.hypot(inks[:, 1], inks[:, 2]).max() >= 20 and not _shows_colour(lab):
        return None
    paper = _paper_lab(pixels)
    span = inks - paper  # (K, 3): paper -> ink
    t = np.clip(((lab - paper) @ span.T) / np.maximum((span * span).sum(axis=1), 1e-6), 0.0, 1.0)  # (N, K)
    nearest = paper + t[:, :, None] * span[None, :, :]  # (N, K, 3): closest mix of paper and each ink
    best = np.argmin(((lab[:, None, :] - nearest) ** 2).sum(axis=2), axis=1)
    parts = []
    kernel = np.ones((1, _OCCLUDED + 1), np.uint8)  # odd width: closing shifts nothing
    for k in range(len(inks)):
        part = np.zeros(window.shape, np.uint8)
        part[ys[best == k], xs[best == k]] = 1
        # Where another ink crosses on top, this curve's pixels in that row are the other's
        # colour: a gap of up to _OCCLUDED class pixels between two pieces of this ink is its.
        closed = cv2.morphologyEx(part, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        parts.append((closed > 0) & window.astype(bool))
    return parts


def _shows_colour(lab: np.ndarray) -> bool:
    """Whether curve pixels (weighted Lab, (N, 3)) show colour: not a grey or binarised scan."""
    return len(lab) > 0 and float(np.percentile(np.hypot(lab[:, 1], lab[:, 2]), 90)) >= _GREY_CHROMA


def _paper_lab(pixels: np.ndarray) -> np.ndarray:
    """Weighted Lab of the paper: the median colour of a window (curves and grid are few pixels)."""
    return _to_lab_one(np.median(pixels[::4, ::4].reshape(-1, 3), axis=0)) * _LAB_WEIGHTS


def _to_lab_one(rgb) -> np.ndarray:
    return _to_lab(np.asarray(rgb, dtype=np.uint8).reshape(1, 3))[0]


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 (N, 3) RGB -> float32 (N, 3) CIE Lab (L 0..100)."""
    scaled = rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0  # (N, 1, 3): cvtColor wants an image
    return cv2.cvtColor(scaled, cv2.COLOR_RGB2Lab).reshape(-1, 3)


# --------------------------------------------------------------------------- dashes


def _bridge_dashes(
    window: np.ndarray, link_gap: int, *, lone: bool = True, speck_join: float | None = None
) -> np.ndarray:
    """A copy of the window with the sideways gaps between dashes (or dots) drawn in, 1 px wide.

    Each 8-connected piece gets two ends: the extremes along its principal axis, or, for
    a round dot, its centre, which may then be joined twice, in opposite directions.
    End pairs of different pieces at most ``link_gap`` px apart are joined cheapest first
    (:func:`_choose_joins`); the cost is the distance, raised when an elongated piece
    would be left sideways (a dash continues along its own direction). For a ``lone``
    curve (the only one of its class in the track), where fewer than half the pieces are
    round, a round one is a speck, not a dot, and its joins may span ``_SPECK_JOIN`` px
    at most. Joining in 2-D, not row by row, is what lets a dashed curve sweep across the
    track, where its dashes share rows, and round a sharp turn whose gap falls at the tip.
    """
    count, labels = cv2.connectedComponents(window.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    if count < 3:
        return window
    ends, outward, piece = _piece_ends(labels, count)
    round_piece = np.asarray(~outward[: count - 1].any(axis=1))
    specks = lone and round_piece.mean() < 0.5  # dashes, not dots: a round piece is a speck, no pen stroke
    reach = _CUES.get().speck_join if speck_join is None else speck_join
    pairs, cost = _end_pairs(ends, outward, piece, float(link_gap), specks=specks, speck_join=reach)
    if not len(pairs):
        return window
    bridged = window.view(np.uint8).copy()
    for a, b in _choose_joins(pairs[np.argsort(cost, kind="stable")], ends, piece, round_piece):
        p, q = np.round(ends[a]).astype(int), np.round(ends[b]).astype(int)
        cv2.line(bridged, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), 1, 1, cv2.LINE_8)
    return bridged.view(bool)


def _choose_joins(pairs: np.ndarray, ends: np.ndarray, piece: np.ndarray, round_piece: np.ndarray) -> list:
    """Greedy joins from ``pairs`` (cheapest first) to draw: sideways ones only.

    An elongated piece's end takes one join; a round dot (its first end) two, the second
    pointing away from the first; two pieces are joined once. Joins down the page still
    compete here (they claim ends a speck would otherwise take) but are not drawn: the
    row-by-row path bridges those gaps itself, with sub-pixel interpolation.
    """
    xy, owner, is_round = ends.tolist(), piece.tolist(), round_piece.tolist()
    uses = [0] * len(xy)
    first: dict[int, tuple[float, float]] = {}
    joined: set[tuple[int, int]] = set()
    drawn = []
    for a, b in pairs.tolist():
        pa, pb = owner[a], owner[b]
        key = (pa, pb) if pa < pb else (pb, pa)
        dx, dy = xy[b][0] - xy[a][0], xy[b][1] - xy[a][1]
        if key in joined or not (
            _free(a, pa, dx, dy, uses, is_round, first) and _free(b, pb, -dx, -dy, uses, is_round, first)
        ):
            continue
        for end, pc, sx, sy in ((a, pa, dx, dy), (b, pb, -dx, -dy)):
            uses[end] += 1
            if is_round[pc] and uses[end] == 1:
                first[pc] = (sx, sy)
        joined.add(key)
        if abs(dx) > abs(dy):
            drawn.append((a, b))
    return drawn


def _free(end: int, pc: int, dx: float, dy: float, uses, is_round, first) -> bool:
    """May this end take a join going (dx, dy)?"""
    if not is_round[pc]:
        return uses[end] == 0
    if uses[end] == 0:
        return True
    fx, fy = first[pc]
    return uses[end] == 1 and fx * dx + fy * dy < 0


def _piece_ends(labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ends of pieces 1..count-1: positions (2P, 2) as (x, y), outward unit directions
    (2P, 2; zero for round pieces) and the piece of each end (2P,)."""
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs] - 1
    x, y = xs.astype(np.float64), ys.astype(np.float64)
    n = np.bincount(lab, minlength=count - 1).astype(np.float64)
    mx, my = np.bincount(lab, x, count - 1) / n, np.bincount(lab, y, count - 1) / n
    dx, dy = x - mx[lab], y - my[lab]
    sxx = np.bincount(lab, dx * dx, count - 1) / n
    syy = np.bincount(lab, dy * dy, count - 1) / n
    sxy = np.bincount(lab, dx * dy, count - 1) / n
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # major axis
    half_diff = np.hypot((sxx - syy) / 2, sxy)
    major, minor = (sxx + syy) / 2 + half_diff, (sxx + syy) / 2 - half_diff
    elongated = major > 4 * minor + 0.5  # length over width above about 2
    cos, sin = np.cos(theta), np.sin(theta)
    u = dx * cos[lab] + dy * sin[lab]
    order = np.lexsort((u, lab))
    bounds = np.searchsorted(lab[order], np.arange(count))
    u_min = np.where(elongated, u[order[bounds[:-1]]], 0.0)
    u_max = np.where(elongated, u[order[bounds[1:] - 1]], 0.0)
    axis = np.stack([cos, sin], axis=1) * elongated[:, None]  # (P, 2); zero: round, no direction
    centre = np.stack([mx, my], axis=1)
    ends = np.concatenate([centre + u_min[:, None] * axis, centre + u_max[:, None] * axis])
    outward = np.concatenate([-axis, axis])
    piece = np.concatenate([np.arange(count - 1), np.arange(count - 1)])
    return ends, outward, piece


def _end_pairs(
    ends, outward, piece, max_gap: float, *, specks: bool = False, speck_join: float = _SPECK_JOIN
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate (a, b) end pairs of different pieces within ``max_gap`` and their costs; with
    ``specks``, round pieces join only across ``_SPECK_JOIN`` px."""
    a, b = _near_pairs(ends, max_gap)
    gap = ends[b] - ends[a]
    dist = np.hypot(gap[:, 0], gap[:, 1])
    second_round_end = (np.arange(len(ends)) >= len(ends) // 2) & ~outward.any(axis=1)  # a dot's twin end
    keep = (piece[a] != piece[b]) & (dist <= max_gap) & (dist > 0.5) & ~second_round_end[a] & ~second_round_end[b]
    a, b, gap, dist = a[keep], b[keep], gap[keep], dist[keep]
    unit = gap / dist[:, None]
    # How well each end points at the other: 1 straight on; round dots have no direction (1).
    along_a = np.where(outward[a].any(axis=1), (outward[a] * unit).sum(axis=1), 1.0)
    along_b = np.where(outward[b].any(axis=1), -(outward[b] * unit).sum(axis=1), 1.0)
    keep = (along_a > -0.1) & (along_b > -0.1)
    if specks:
        is_round = ~outward.any(axis=1)
        keep &= ~(is_round[a] | is_round[b]) | (dist <= speck_join)
    cost = dist * (3.0 - along_a - along_b)
    a, b, cost = a[keep], b[keep], cost[keep]
    # Each end's few cheapest options are all the greedy join can want (bounds the work in noise).
    best = _cheapest_per_end(a, cost, _END_OPTIONS) | _cheapest_per_end(b, cost, _END_OPTIONS)
    return np.stack([a, b], axis=1)[best], cost[best]


def _spans(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """int64: ``start[k], start[k] + 1, ..., start[k] + count[k] - 1`` for each k, one after another.

    >>> _spans(np.array([5, 0, 2]), np.array([2, 0, 3])).tolist()
    [5, 6, 2, 3, 4]
    """
    first = np.cumsum(count) - count  # where each span begins in the output
    return np.repeat(start, count) + (np.arange(int(count.sum())) - np.repeat(first, count))


def _near_pairs(points: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b), each once, of (x, y) points in the same or touching grid cells of
    side ``radius``: every pair closer than ``radius`` is among them."""
    cell = np.floor(points / radius).astype(np.int64)  # (n, 2) as (cx, cy)
    cell -= cell.min(axis=0)
    stride = int(cell[:, 0].max()) + 3
    key = (cell[:, 1] + 1) * stride + cell[:, 0] + 1
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    out_a, out_b = [], []
    for dcy, dcx in ((0, 0), (0, 1), (1, -1), (1, 0), (1, 1)):  # half the neighbourhood: each pair once
        target = key + dcy * stride + dcx
        lo = np.searchsorted(sorted_key, target, side="left")
        count = np.searchsorted(sorted_key, target, side="right") - lo
        a = np.repeat(np.arange(len(points)), count)
        b = order[_spans(lo, count)]
        same_cell = (dcy, dcx) == (0, 0)
        out_a.append(a[a < b] if same_cell else a)
        out_b.append(b[a < b] if same_cell else b)
    return np.concatenate(out_a), np.concatenate(out_b)


def _cheapest_per_end(end: np.ndarray, cost: np.ndarray, k: int) -> np.ndarray:
    """bool: the pair is among the ``k`` cheapest of its ``end``."""
    order = np.lexsort((cost, end))
    grouped = end[order]
    rank = np.arange(len(order)) - np.searchsorted(grouped, grouped, side="left")
    keep = np.zeros(len(end), dtype=bool)
    keep[order[rank < k]] = True
    return keep


# --------------------------------------------------------------------------- runs and tracklets


@dataclass(frozen=True)
class _Runs:
    """Horizontal runs of set pixels, sorted by (row, start). All int64 (n,) but x."""

    row: np.ndarray
    start: np.ndarray
    end: np.ndarray  # inclusive
    succ: np.ndarray  # first touching run in the next row (valid where n_succ > 0)
    n_succ: np.ndarray
    pred: np.ndarray  # first touching run in the row above (valid where n_pred > 0)
    n_pred: np.ndarray
    x: np.ndarray  # float64 centroid column
    real: np.ndarray  # bool: holds ink of the mask itself, not only a drawn-in dash gap


def _find_runs(window: np.ndarray, ink: np.ndarray | None = None) -> _Runs:
    """Runs per row and their 8-connected neighbours in the rows above and below.

    ``ink``: the mask before dash gaps were drawn in, to flag the runs holding real ink.
    """
    h, w = window.shape
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = window
    edges = np.diff(padded, axis=1)  # (h, w + 1): +1 where a run starts, -1 past its end
    row, start = np.nonzero(edges == 1)
    end = np.nonzero(edges == -1)[1] - 1
    stride = w + 3  # keys row * stride + col + 1 sort runs by (row, col) across rows
    key_start = row * stride + start + 1
    key_end = row * stride + end + 1
    # Touching runs one row below: end >= start - 1 and start <= end + 1.
    lo = np.searchsorted(key_end, (row + 1) * stride + start, side="left")
    hi = np.searchsorted(key_start, (row + 1) * stride + end + 2, side="right")
    lo_up = np.searchsorted(key_end, (row - 1) * stride + start, side="left")
    hi_up = np.searchsorted(key_start, (row - 1) * stride + end + 2, side="right")
    n_succ, n_pred = np.maximum(hi - lo, 0), np.maximum(hi_up - lo_up, 0)
    real = np.ones(len(row), dtype=bool)
    if ink is not None:
        own = _find_runs(ink)
        own_start, own_end = own.row * stride + own.start + 1, own.row * stride + own.end + 1
        k = np.searchsorted(own_end, key_start, side="left")  # first own run ending at or after our start
        real = (k < len(own_end)) & (own_start[np.minimum(k, max(len(own_end) - 1, 0))] <= key_end)
    return _Runs(row, start, end, lo, n_succ, lo_up, n_pred, (start + end) / 2.0, real)


def _holds(runs: _Runs, mask: np.ndarray) -> np.ndarray:
    """bool per run: some pixel of ``mask`` lies within the run."""
    count = np.zeros((mask.shape[0], mask.shape[1] + 1), np.int32)
    np.cumsum(mask, axis=1, out=count[:, 1:])
    return count[runs.row, runs.end + 1] > count[runs.row, runs.start]


@dataclass(frozen=True)
class _Tracklets:
    """Chains of one-to-one touching runs. Arrays (T,) unless noted."""

    runs: _Runs
    order: np.ndarray  # (n,) run indices grouped by tracklet, rows increasing
    bounds: np.ndarray  # (T + 1,) tracklet t owns order[bounds[t]:bounds[t + 1]]
    y0: np.ndarray
    y1: np.ndarray
    head_x: np.ndarray  # fitted position at y0
    head_slope: np.ndarray  # dx/dy at the start; NaN when too short
    tail_x: np.ndarray  # fitted position at y1
    tail_slope: np.ndarray
    of_run: np.ndarray  # (n,) the tracklet of each run
    thickness: np.ndarray  # stroke width across the curve, px; NaN when the tracklet is too short or flat
    shade: np.ndarray | None = None  # grey level of its ink on the scan (see _shades); None: no scan
    dash: np.ndarray | None = None  # log length of its dashes or dots (see _dash_lengths); None: solid

    @property
    def length(self) -> np.ndarray:
        return self.y1 - self.y0 + 1


def _build_tracklets(runs: _Runs) -> _Tracklets:
    n = len(runs.row)
    chained = (runs.n_succ == 1) & (runs.n_pred[np.minimum(runs.succ, max(n - 1, 0))] == 1)
    prev = np.arange(n)
    prev[runs.succ[chained]] = np.nonzero(chained)[0]
    head = prev
    while True:  # pointer jumping: every run learns the first run of its chain
        nxt = head[head]
        if np.array_equal(nxt, head):
            break
        head = nxt
    heads, label = np.unique(head, return_inverse=True)
    order = np.lexsort((runs.row, label))
    bounds = np.searchsorted(label[order], np.arange(len(heads) + 1))
    first, last = order[bounds[:-1]], order[bounds[1:] - 1]
    head_x, head_slope = _end_fit(runs, order, bounds, from_tail=False)
    tail_x, tail_slope = _end_fit(runs, order, bounds, from_tail=True)
    thickness = _thickness(runs, order, bounds)
    return _Tracklets(
        runs=runs,
        order=order,
        bounds=bounds,
        y0=runs.row[first],
        y1=runs.row[last],
        head_x=head_x,
        head_slope=head_slope,
        tail_x=tail_x,
        tail_slope=tail_slope,
        of_run=label,
        thickness=thickness,
    )


def _shades(runs: _Runs, tk: _Tracklets, pixels: np.ndarray) -> np.ndarray:
    """Grey level (0-255) of each tracklet's ink on the scan: the median over its runs of
    the darkest pixel in the run; NaN with fewer than ``_MIN_WIDTH_ROWS`` runs of real ink.

    Two curves given one layout colour may still differ in shade: one drawn fainter, or
    in another grey. The darkest pixel of a run is its ink, whatever the stroke's width.
    """
    grey = pixels.astype(np.float32).mean(axis=2) if pixels.ndim == 3 else pixels.astype(np.float32)
    return _median_per_tracklet(tk, _over_runs(np.minimum, grey, runs), runs.real)


def _dash_lengths(runs: _Runs, tk: _Tracklets, window: np.ndarray) -> np.ndarray:
    """Log length (px) of each tracklet's dashes: the median over its runs of real ink of
    the diagonal of the bounding box of the piece of ``window`` (before dash gaps were
    drawn in) the run holds; NaN with fewer than ``_MIN_WIDTH_ROWS`` such runs.

    Two dashed-class curves of one ink are often one dotted and one dashed, or dashed
    with dashes of different lengths: the pieces of one curve are all alike.
    """
    labels, size = _pieces(window)
    piece = _over_runs(np.maximum, labels, runs)
    return _median_per_tracklet(tk, size[piece], runs.real & (piece > 0))


def _over_runs(ufunc: np.ufunc, image: np.ndarray, runs: _Runs) -> np.ndarray:
    """``ufunc`` reduced over each run's pixels of ``image`` (2-D, the runs' window)."""
    w = image.shape[1]
    flat = np.append(image.ravel(), image.dtype.type(0))  # a run may end at the last pixel
    bounds = np.empty(2 * len(runs.row), np.int64)
    bounds[0::2] = runs.row * w + runs.start
    bounds[1::2] = runs.row * w + runs.end + 1
    return ufunc.reduceat(flat, bounds)[0::2]


def _pieces(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected pieces of ``window``: int32 label map, and per label the log of one plus the
    diagonal of its bounding box (label 0, the background, included)."""
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(window.astype(np.uint8), connectivity=8)
    return labels, np.log(np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) + 1.0)


def _piece_lengths(window: np.ndarray, xs: list[np.ndarray]) -> np.ndarray:
    """Per trace, the median log length (see :func:`_pieces`) of the pieces of ``window`` it
    runs through (within 1 px of its x, row by row); inf where it meets none."""
    labels, size = _pieces(window)
    out = np.full(len(xs), np.inf)
    for k, x in enumerate(xs):
        rows = np.nonzero(np.isfinite(x))[0]
        cols = np.round(x[rows]).astype(np.int64)
        under = np.max([labels[rows, np.clip(cols + d, 0, labels.shape[1] - 1)] for d in (-1, 0, 1)], axis=0)
        under = under[under > 0]
        if len(under):
            out[k] = float(np.median(size[under]))
    return out


def _median_per_tracklet(tk: _Tracklets, value: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Median of ``value`` (per run) over each tracklet's ``usable`` runs; NaN with fewer
    than ``_MIN_WIDTH_ROWS``."""
    runs = np.nonzero(usable)[0]
    order = np.lexsort((value[runs], tk.of_run[runs]))  # by tracklet, then value
    group, sorted_value = tk.of_run[runs][order], value[runs][order].astype(np.float64)
    count = np.bincount(group, minlength=len(tk.y0))
    first = np.cumsum(count) - count
    ok = count >= _MIN_WIDTH_ROWS
    out = np.full(len(tk.y0), np.nan)
    lo, hi = first[ok] + (count[ok] - 1) // 2, first[ok] + count[ok] // 2
    out[ok] = (sorted_value[lo] + sorted_value[hi]) / 2.0
    return out


def _thickness(runs: _Runs, order, bounds) -> np.ndarray:
    """Mean stroke width of each tracklet, measured across the curve.

    A band of width ``w`` sloping ``s`` columns per row cuts a row in a run of about
    ``w * sqrt(1 + s**2)`` px, so each run's length is divided by that factor, with ``s``
    from the centroids of the rows above and below. Near-horizontal rows (``|s| > 1``)
    say little and are left out; tracklets with fewer than ``_MIN_WIDTH_ROWS`` usable
    rows get NaN.
    """
    counts = np.diff(bounds)
    label = np.repeat(np.arange(len(counts)), counts)
    x = runs.x[order]
    length = (runs.end - runs.start + 1)[order].astype(np.float64)
    inner = np.ones(len(order), dtype=bool)
    inner[bounds[:-1]] = False
    inner[np.maximum(bounds[1:] - 1, 0)] = False
    slope = np.zeros(len(order))
    if len(order) > 2:
        slope[1:-1] = (x[2:] - x[:-2]) / 2.0
    use = inner & (np.abs(slope) <= 1.0)
    size = len(counts)
    n = np.bincount(label[use], minlength=size).astype(np.float64)
    total = np.bincount(label[use], length[use] / np.sqrt(1.0 + slope[use] ** 2), size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n >= _MIN_WIDTH_ROWS, total / n, np.nan)


def _end_fit(runs: _Runs, order, bounds, *, from_tail: bool) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line through the first (or last) _FIT_ROWS runs of each tracklet."""
    counts = np.diff(bounds)
    label = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(len(order)) - bounds[label]  # 0 at each tracklet's first run
    if from_tail:
        pos = counts[label] - 1 - pos
    use = pos < _FIT_ROWS
    lab, x = label[use], runs.x[order[use]]
    t = -pos[use].astype(np.float64) if from_tail else pos[use].astype(np.float64)  # rows from the end
    size = len(counts)
    s_n = np.bincount(lab, minlength=size).astype(np.float64)
    s_t, s_x = np.bincount(lab, t, size), np.bincount(lab, x, size)
    s_tt, s_tx = np.bincount(lab, t * t, size), np.bincount(lab, t * x, size)
    denom = s_n * s_tt - s_t * s_t
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(s_n >= _MIN_FIT_ROWS, (s_n * s_tx - s_t * s_x) / denom, np.nan)
        mean_x, mean_t = s_x / s_n, s_t / s_n
    at_end = np.where(
        np.isnan(slope), runs.x[order[bounds[1:] - 1 if from_tail else bounds[:-1]]], mean_x - slope * mean_t
    )
    return at_end, slope


# --------------------------------------------------------------------------- best paths


def _trace_curves(
    window: np.ndarray,
    count: int,
    opts: _Options,
    *,
    dashed: bool,
    strong: np.ndarray | None = None,
    pixels: np.ndarray | None = None,
) -> list[np.ndarray]:
    """``count`` x arrays (window columns, NaN gaps), best path first.

    ``strong``: the curve's own pixels in ``window``; rows of runs holding ink but none of
    it ``strong`` earn ``_WEAK``, not 1.
    """
    height = window.shape[0]
    if count == 1:  # (with several curves a filled hole may join two of them)
        window = _close_holes(window, opts.row_hole)
    runs = _find_runs(_bridge_dashes(window, opts.link_gap, lone=count == 1), window) if dashed else _find_runs(window)
    if len(runs.row) == 0:
        return [np.full(height, np.nan) for _ in range(count)]
    tk = _build_tracklets(runs)
    if count > 1 and pixels is not None:
        tk = replace(tk, shade=_shades(runs, tk, pixels))
    if count > 1 and dashed:
        tk = replace(tk, dash=_dash_lengths(runs, tk, window))
    junction = np.zeros(len(tk.y0), dtype=bool)
    skips = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if count > 1:
        junction, skips = _crossings(tk, max_rows=2 * opts.link_gap, min_branch=opts.min_segment)
    per_row = np.ones(len(runs.row))
    if strong is not None:
        per_row[runs.real & ~_holds(runs, strong)] = _WEAK
    rows = np.bincount(tk.of_run, per_row, len(tk.y0))
    reward = np.where(junction, -_JUNCTION_COST * tk.length, rows)
    links = _candidate_links(tk, opts.link_gap, float(opts.min_segment), skips, slope_only=count > 1, edges=opts.edges)
    alive = [True] * len(tk.y0)
    paths = []
    for _ in range(count):
        path = _best_path(tk, alive, reward.tolist(), links, float(opts.min_segment))
        paths.append(path)
        for t, _skip in path:
            alive[t] = bool(junction[t])  # crossings stay for the next curve
    if count > 1:
        paths = _untangle(tk, paths, links, float(opts.min_segment))
    return [_render(tk, path, height, opts.link_gap) for path in paths]


def _untangle(tk: _Tracklets, paths: list, links: list[list], restart: float) -> list:
    """Exchange the tails of two paths wherever their looks (stroke width, and where
    measured shade and dash length; :func:`_looks`) say they swapped curves.

    The paths are taken one after the other, and the first may take a piece of another
    curve where that gains rows, leaving the next path the rest. An exchange of
    everything from a cut on (a row where either path starts a tracklet) is allowed when
    it lowers the change of looks across the cut by at least ``_LOOK_EVIDENCE``; joins
    cost what they cost :func:`_best_path` (its candidate links, or a restart), and may
    cost more after the exchange where the looks gain more: where a sweep crosses another
    curve the cheap join may be the one onto the other curve. Each pass makes the
    exchange, over every pair of paths and every cut, that lowers joins plus look change
    the most; passes stop when none lowers it. Every path keeps its rows.
    """
    cost = {(i, j): (c, kind) for j, options in enumerate(links) for i, c, kind in options}
    for _ in range(_MAX_EXCHANGES):
        best, move = -1e-9, None
        for a in range(len(paths)):
            for b in range(a + 1, len(paths)):
                gain, cut = _best_exchange(tk, paths[a], paths[b], cost, restart)
                if gain < best:
                    best, move = gain, (a, b, cut)
        if move is None:
            break
        a, b, (ka, kb) = move
        pa, pb = paths[a], paths[b]
        paths[a] = _joined(pa[:ka], pb[kb:], cost)
        paths[b] = _joined(pb[:kb], pa[ka:], cost)
    return paths


def _join(tk: _Tracklets, i: int, j: int, cost: dict, restart: float) -> float:
    """What continuing tracklet ``i`` (-1: nothing before) with ``j`` (-1: nothing) costs."""
    if j < 0:
        return 0.0
    if i < 0:
        return restart
    if (i, j) in cost:
        return cost[i, j][0]
    return restart if tk.y1[i] < tk.y0[j] else float("inf")


def _looks(tk: _Tracklets) -> list[tuple[np.ndarray, float]]:
    """(value per tracklet, tolerated mismatch) of each measure of a stroke's look that
    tells two curves of one class apart: width, and where measured shade and dash length."""
    cues = _CUES.get()
    looks = [(tk.thickness, _SIGMA_WIDTH), (tk.shade, cues.sigma_shade), (tk.dash, cues.sigma_dash)]
    return [(values, sigma) for values, sigma in looks if values is not None]


def _seen_looks(tk: _Tracklets, path: list) -> tuple[list, list]:
    """Per cut k (0..len(path)): the last measured value of each look (:func:`_looks`)
    before it, and the first from it on (each NaN: none)."""
    before, after = [], []
    for values, _sigma in _looks(tk):
        seen = [float(values[t]) for t, _ in path]
        b, a = [float("nan")] * (len(path) + 1), [float("nan")] * (len(path) + 1)
        for k, v in enumerate(seen):
            b[k + 1] = v if v == v else b[k]
        for k in range(len(path) - 1, -1, -1):
            a[k] = seen[k] if seen[k] == seen[k] else a[k + 1]
        before.append(b)
        after.append(a)
    return list(zip(*before, strict=True)), list(zip(*after, strict=True))


def _look_cost(a: tuple, b: tuple, sigmas: list[float]) -> float:
    """Cost of one curve's looks changing from ``a`` to ``b`` (NaN: unknown)."""
    cost = 0.0
    for u, v, sigma in zip(a, b, sigmas, strict=True):
        if u == u and v == v:
            cost += 0.5 * ((u - v) / sigma) ** 2
    return cost


def _joined(head: list, tail: list, cost: dict) -> list:
    if head and tail:
        tail = [(tail[0][0], cost.get((head[-1][0], tail[0][0]), (0.0, _PLAIN))[1]), *tail[1:]]
    return head + tail


def _best_exchange(tk: _Tracklets, pa: list, pb: list, cost: dict, restart: float):
    """(change of join plus look cost, (cut in pa, cut in pb)) of the best allowed tail
    exchange (see :func:`_untangle`); (0.0, (0, 0)) when none is allowed."""
    ya = [int(tk.y0[t]) for t, _ in pa]
    yb = [int(tk.y0[t]) for t, _ in pb]
    best, cut = 0.0, (0, 0)
    ka = kb = 0
    (a_before, a_after), (b_before, b_after) = _seen_looks(tk, pa), _seen_looks(tk, pb)
    sigmas = [sigma for _values, sigma in _looks(tk)]
    for row in sorted(set(ya) | set(yb)):
        while ka < len(ya) and ya[ka] < row:
            ka += 1
        while kb < len(yb) and yb[kb] < row:
            kb += 1
        ea, sa = (pa[ka - 1][0] if ka else -1), (pa[ka][0] if ka < len(pa) else -1)
        eb, sb = (pb[kb - 1][0] if kb else -1), (pb[kb][0] if kb < len(pb) else -1)
        if (sa < 0 and sb < 0) or (ea < 0 and eb < 0):
            continue
        now = _join(tk, ea, sa, cost, restart) + _join(tk, eb, sb, cost, restart)
        swapped = _join(tk, ea, sb, cost, restart) + _join(tk, eb, sa, cost, restart)
        wa, wb = (a_before[ka], a_after[ka]), (b_before[kb], b_after[kb])
        look_now = _look_cost(wa[0], wa[1], sigmas) + _look_cost(wb[0], wb[1], sigmas)
        look_swapped = _look_cost(wa[0], wb[1], sigmas) + _look_cost(wb[0], wa[1], sigmas)
        if look_swapped > look_now - _LOOK_EVIDENCE:
            continue
        gain = swapped - now + look_swapped - look_now
        if gain < best:
            best, cut = gain, (ka, kb)
    return best, cut


def _candidate_links(
    tk: _Tracklets, link_gap: int, restart: float, skips, *, slope_only: bool, edges: tuple[int, int] | None = None
) -> list[list]:
    """For each tracklet j, [(i, cost, kind)] worth more than a restart; ``kind`` is
    ``_CROSSING`` for a link across a crossing, ``_WRAP`` for a wrap (with ``edges``, the
    track's edges in window columns; see :func:`_wraps`), else ``_PLAIN``.

    Candidates end at most ``link_gap`` rows before j starts, or up to
    ``_SHARED_ROWS`` rows after (the two share those rows: a stroke split where another
    crosses it, or frayed), plus touching pairs sharing more rows
    (:func:`_overlapping_branches`) and the pairs in ``skips`` (i enters a crossing that j
    leaves). A link costing at least ``restart`` is dropped: restarting from the best
    earlier path is never worse. Shared rows, counted twice, are added to the cost, and a
    pair that shares rows, which cannot restart, keeps at most the restart cost.
    """
    by_end = np.argsort(tk.y1, kind="stable")
    end_rows = tk.y1[by_end]
    lo = np.searchsorted(end_rows, tk.y0 - 1 - link_gap, side="left")
    hi = np.searchsorted(end_rows, tk.y0 - 1 + _SHARED_ROWS, side="right")
    count = np.maximum(hi - lo, 0)
    j = np.repeat(np.arange(len(tk.y0)), count)
    i = by_end[_spans(lo, count)]
    ok = (tk.y0[i] < tk.y0[j]) & (tk.y1[i] < tk.y1[j])
    i, j = i[ok], j[ok]
    shared = np.maximum(tk.y1[i] - tk.y0[j] + 1, 0).astype(np.float64)
    cost = _link_cost(tk, i, j, slope_only=slope_only)
    cost = np.where(shared > 0, np.minimum(cost, restart - 0.5) + shared, cost)
    si, sj = skips
    oi, oj, overlap = _overlapping_branches(tk, link_gap)
    i, j = np.concatenate([i, si, oi]), np.concatenate([j, sj, oj])
    cost = np.concatenate([cost, _link_cost(tk, si, sj, slope_only=slope_only), 0.5 + overlap])
    shared = np.concatenate([shared, np.zeros(len(si)), overlap])
    across = np.concatenate(
        [np.zeros(len(i) - len(si) - len(oi), bool), np.ones(len(si), bool), np.zeros(len(oi), bool)]
    )
    keep = (cost < restart) | (shared > 0)
    kind = np.where(across, _CROSSING, _PLAIN)
    i, j, cost, kind = i[keep], j[keep], cost[keep], kind[keep]
    if edges is not None:
        wi, wj = _wraps(tk, edges)
        wcost = np.full(len(wi), _WRAP_COST)
        if slope_only:
            wcost += _look_change(tk, wi, wj)
        i, j = np.concatenate([i, wi]), np.concatenate([j, wj])
        cost, kind = np.concatenate([cost, wcost]), np.concatenate([kind, np.full(len(wi), _WRAP)])
    links: list[list] = [[] for _ in range(len(tk.y0))]
    for a, b, c, x in zip(i.tolist(), j.tolist(), cost.tolist(), kind.tolist(), strict=True):
        links[b].append((a, c, x))
    return links


def _wraps(tk: _Tracklets, edges: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(i, j): tracklet i leaves the track at one edge and j enters it at the other within
    ``_WRAP_GAP`` rows (or up to ``_SHARED_ROWS`` rows before: a steep stroke is cut at the
    edge), both heading the same way: a curve past its scale drawn again from the other
    edge (a wrap, or backup scale), or coming back."""
    left, right = edges
    out_i, out_j = [], []
    for sign, leave, enter in ((1.0, right, left), (-1.0, left, right)):
        # Not heading back (a NaN slope, from too short an end, is unknown and allowed).
        slope = _CUES.get().wrap_slope
        ends = np.flatnonzero((sign * (tk.tail_x - leave) >= -_WRAP_NEAR) & ~(sign * tk.tail_slope < -slope))
        starts = np.flatnonzero((sign * (enter - tk.head_x) >= -_WRAP_NEAR) & ~(sign * tk.head_slope < -slope))
        if len(ends) == 0 or len(starts) == 0:
            continue
        ends = ends[np.argsort(tk.y1[ends], kind="stable")]
        lo = np.searchsorted(tk.y1[ends], tk.y0[starts] - 1 - _WRAP_GAP, side="left")
        hi = np.searchsorted(tk.y1[ends], tk.y0[starts] - 1 + _SHARED_ROWS, side="right")
        count = np.maximum(hi - lo, 0)
        out_j.append(np.repeat(starts, count))
        out_i.append(ends[_spans(lo, count)])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    ok = (tk.y0[i] < tk.y0[j]) & (tk.y1[i] < tk.y1[j])
    return i[ok], j[ok]


def _overlapping_branches(tk: _Tracklets, max_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, overlap): touching tracklets that share up to ``max_rows`` rows.

    Where a steep stroke frays into two runs in a row, the tracklet after the fray may
    start a row or two before the one before it ends. Such a pair is one curve; the path
    takes j over the shared rows (the link costs the rows counted twice).
    """
    runs = tk.runs
    first, last = tk.order[tk.bounds[:-1]], tk.order[tk.bounds[1:] - 1]
    pairs = []
    for own, start, n, outward in ((last, runs.succ, runs.n_succ, True), (first, runs.pred, runs.n_pred, False)):
        count = n[own]
        mine = np.repeat(np.arange(len(own)), count)
        other = tk.of_run[_spans(start[own], count)]
        pairs.append((mine, other) if outward else (other, mine))
    i = np.concatenate([pairs[0][0], pairs[1][0]])
    j = np.concatenate([pairs[0][1], pairs[1][1]])
    overlap = tk.y1[i] - tk.y0[j] + 1
    keep = (i != j) & (tk.y0[i] < tk.y0[j]) & (tk.y1[i] < tk.y1[j]) & (overlap >= 1) & (overlap <= max_rows)
    return i[keep], j[keep], overlap[keep].astype(np.float64)


def _crossings(tk: _Tracklets, *, max_rows: int, min_branch: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Tracklets where two curves cross, and the (i, j) links that skip across them.

    A crossing tracklet is at most ``max_rows`` long, starts where two or more tracklets
    of ``min_branch``+ rows merge into it and ends where two or more such tracklets leave
    it (shorter pieces are the ragged edges of a steep stroke, not curves).
    """
    runs = tk.runs
    tracklet_of = np.empty(len(runs.row), dtype=np.int64)
    tracklet_of[tk.order] = np.repeat(np.arange(len(tk.y0)), np.diff(tk.bounds))
    first, last = tk.order[tk.bounds[:-1]], tk.order[tk.bounds[1:] - 1]
    junction = np.zeros(len(tk.y0), dtype=bool)
    pairs: set[tuple[int, int]] = set()
    candidates = (runs.n_pred[first] >= 2) & (runs.n_succ[last] >= 2) & (tk.length <= max_rows)
    for t in np.nonzero(candidates)[0]:
        before = tracklet_of[runs.pred[first[t]] + np.arange(runs.n_pred[first[t]])]
        after = tracklet_of[runs.succ[last[t]] + np.arange(runs.n_succ[last[t]])]
        before, after = before[tk.length[before] >= min_branch], after[tk.length[after] >= min_branch]
        if len(before) >= 2 and len(after) >= 2:
            junction[t] = True
            pairs.update((int(a), int(b)) for a in before for b in after)
    if not pairs:
        return junction, (np.zeros(0, np.int64), np.zeros(0, np.int64))
    i, j = np.array(sorted(pairs), dtype=np.int64).T
    return junction, (i, j)


def _link_cost(tk: _Tracklets, i: np.ndarray, j: np.ndarray, *, slope_only: bool) -> np.ndarray:
    """Cost of continuing tracklets ``i`` with tracklets ``j`` across the rows between.

    Each end is extrapolated along its fitted slope to the other's first (last) row; the
    squared misses, in units of a tolerance that grows with the gap, are averaged. For a
    curve traced alone (the only one of its look in the track) the tolerance grows with
    the stroke's steepness too (``_SLOPE_ERROR``): a sweep's slope, fitted over a few rows
    of wide runs, is known less well, and it bends where the pen speeds up or slows down;
    between curves of one look, a loose tolerance would let one take over the other at a
    crossing. Unless ``slope_only`` (several curves: slopes tell them apart at crossings),
    a plain position match may do instead: after a sharp turn, e.g. at a spike's tip, the
    slope misleads. Its tolerance per row grows by the width of the wider end run over
    short gaps (``_SWEEP_GAP``): a sweep cut into pieces moves about that far per row.
    With ``slope_only`` the plain match is allowed only there, and only where the wider end
    run is a sweep's (``_WIDE_RUN`` px or more): a sweep across the track is cut wherever it
    crosses another curve, and its fitted slopes, over rows of wide runs, say little. Then
    a change of look (:func:`_looks`) adds to the cost.
    """
    dy = (tk.y0[j] - tk.y1[i]).astype(np.float64)
    along_slope = np.zeros(len(i))
    for here, slope, there, sign in (
        (tk.tail_x[i], tk.tail_slope[i], tk.head_x[j], 1.0),
        (tk.head_x[j], tk.head_slope[j], tk.tail_x[i], -1.0),
    ):
        known = np.isfinite(slope)
        predicted = here + sign * np.where(known, slope, 0.0) * dy
        gap = np.abs(dy)
        per_row = np.where(known, _SIGMA_SLOPE_KNOWN, _SIGMA_SLOPE_UNKNOWN)
        if not slope_only:
            per_row = per_row + _SLOPE_ERROR * np.abs(np.nan_to_num(slope))
        sigma = 1.0 + per_row * gap + _SIGMA_CURVATURE * gap**2
        along_slope += 0.5 * ((there - predicted) / sigma) ** 2
    # A wide run at either end is a sweep moving about its width per row: across a short
    # gap (a sweep cut where it turns, or by rulings) a jump of that size is no surprise.
    runs, tail, head = tk.runs, tk.order[tk.bounds[i + 1] - 1], tk.order[tk.bounds[j]]
    spread = np.maximum(runs.end[tail] - runs.start[tail], runs.end[head] - runs.start[head])
    spread = np.where(np.abs(dy) <= _SWEEP_GAP, spread, 0).astype(np.float64)
    if slope_only:  # several curves: a sweep's jump only from a run of a sweep's width
        spread = np.where(spread >= _WIDE_RUN, spread, 0.0)
    sigma = 1.0 + (_SIGMA_SLOPE_UNKNOWN + spread) * np.abs(dy) + _SIGMA_CURVATURE * dy**2
    plain = ((tk.head_x[j] - tk.tail_x[i]) / sigma) ** 2
    if not slope_only:
        return np.minimum(along_slope, plain)
    # Several curves: a change of look (stroke width, shade, dash length) says it is another curve.
    return np.minimum(along_slope, np.where(spread > 0, plain, np.inf)) + _look_change(tk, i, j)


def _look_change(tk: _Tracklets, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Cost per pair of tracklets ``i`` -> ``j`` of the change of look (:func:`_looks`):
    half the summed squared mismatches in units of each look's tolerance (0 where unknown)."""
    return 0.5 * sum(np.nan_to_num((values[j] - values[i]) / tol) ** 2 for values, tol in _looks(tk))


def _best_path(tk: _Tracklets, alive: list[bool], reward: list[float], links, restart: float):
    """The cheapest chain of alive tracklets: [(tracklet, kind of join to it)] (see
    :func:`_candidate_links`; a restart is ``_PLAIN``).

    Tracklets are visited by first row; a path reaching tracklet j either continues one
    of its candidate links or restarts after the cheapest path that ended before j's
    first row (the empty path costs 0). Pure Python: the links are few and precomputed.
    """
    y0s, y1s = tk.y0.tolist(), tk.y1.tolist()
    by_start = sorted((t for t in range(len(y0s)) if alive[t]), key=lambda t: (y0s[t], y1s[t]))
    by_end = sorted(by_start, key=lambda t: y1s[t])
    best = [float("inf")] * len(y0s)
    parent = [-1] * len(y0s)
    kinds = [_PLAIN] * len(y0s)
    pool_best, pool_arg, p = 0.0, -1, 0  # cheapest path ending before the current start row
    for j in by_start:
        y0 = y0s[j]
        while p < len(by_end) and y1s[by_end[p]] < y0:
            if best[by_end[p]] < pool_best:
                pool_best, pool_arg = best[by_end[p]], by_end[p]
            p += 1
        cost, arg, via = pool_best + restart, pool_arg, _PLAIN
        for i, link, kind in links[j]:
            if alive[i] and best[i] + link < cost:
                cost, arg, via = best[i] + link, i, kind
        best[j], parent[j], kinds[j] = cost - reward[j], arg, via
    end = min(by_start, key=best.__getitem__, default=-1)
    if end < 0 or best[end] >= 0:
        return []
    path = []
    while end >= 0:
        path.append((end, kinds[end]))
        end = parent[end]
    return path[::-1]


def _render(tk: _Tracklets, path: list[tuple[int, int]], height: int, link_gap: int) -> np.ndarray:
    """x per window row: run centroids on the path, short (or crossing) gaps interpolated;
    none across a wrap, where rows both pieces hold stay empty too.

    Rows whose run is only a drawn-in dash gap are interpolated between the real ink
    around them, as any gap is (the drawn 1-px line is rounded to whole pixels).
    """
    x = np.full(height, np.nan)
    start = np.full(height, np.nan)
    end = np.full(height, np.nan)
    drawn = np.zeros(height, dtype=bool)
    runs = tk.runs
    prev_row = None
    for t, kind in path:
        idx = tk.order[tk.bounds[t] : tk.bounds[t + 1]]
        rows = runs.row[idx]
        x[rows], start[rows], end[rows] = runs.x[idx], runs.start[idx], runs.end[idx]
        drawn[rows] = ~runs.real[idx]
        if kind == _WRAP and prev_row is not None and rows[0] <= prev_row:  # both edges inked: neither
            x[rows[0] : prev_row + 1] = start[rows[0] : prev_row + 1] = end[rows[0] : prev_row + 1] = np.nan
        if prev_row is not None and kind != _WRAP and (rows[0] - prev_row - 1 <= link_gap or kind == _CROSSING):
            gap = np.arange(prev_row + 1, rows[0])
            x[gap] = np.interp(gap, [prev_row, rows[0]], [x[prev_row], x[rows[0]]])
        prev_row = int(rows[-1])
    if drawn.any():
        x = _reinterpolate(x, drawn, link_gap)
        start[drawn] = end[drawn] = np.nan
    return _refine_long_runs(x, start, end)


def _reinterpolate(x: np.ndarray, drawn: np.ndarray, link_gap: int) -> np.ndarray:
    """``x`` with ``drawn`` rows replaced by interpolation between the nearest other rows
    that have a value, where both are within ``link_gap + 1`` rows."""
    rows = np.arange(len(x))
    known = np.isfinite(x) & ~drawn
    if known.sum() < 2:
        return x
    k_rows = rows[known]
    after = np.searchsorted(k_rows, rows[drawn])
    ok = (after > 0) & (after < len(k_rows))
    before_row = k_rows[np.clip(after - 1, 0, len(k_rows) - 1)]
    after_row = k_rows[np.clip(after, 0, len(k_rows) - 1)]
    ok &= (after_row - before_row) <= link_gap + 1
    out = x.copy()
    target = rows[drawn][ok]
    out[target] = np.interp(target, k_rows, x[known])
    return out


def _refine_long_runs(x: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Fix the rows where a run centroid is not the curve: merges and spike tips.

    ``start``/``end`` are the path's run ends per row (NaN where bridged or empty). A
    row in a sweep first takes its hand-off points' mean (:func:`_handoff`). Then, with
    ``width`` the line's usual run width (median over the path):

    * a run that reaches more than ``width + 2`` px past both neighbouring runs on both
      sides has merged with something else (a ruling, text): the row takes the mean of
      its neighbours;
    * a run whose far end and centroid are the furthest of its neighbours', that reaches at least
      ``width + 1`` px past its own centroid, does not reach past its neighbours on the
      near side, and whose curve comes back (3 rows either side are at least ``width + 1``
      px short of that end) holds a spike tip drawn within the row: the row takes the
      tip, the far end less half a line width. A centroid would halve the spike.
    """
    if len(x) < 7 or not np.isfinite(start).any():
        return x
    width = float(np.nanmedian(end - start + 1))
    x = x.copy()
    sweep = _handoff(start, end)
    x = np.where(np.isfinite(sweep), sweep, x)
    a, b = start[1:-1], end[1:-1]
    a_nb, b_nb = (start[:-2], start[2:]), (end[:-2], end[2:])
    with np.errstate(invalid="ignore"):  # NaN comparisons are False: no change there
        merged = (a < np.minimum(*a_nb) - width - 2) & (b > np.maximum(*b_nb) + width + 2)
        x[1:-1][merged] = ((x[:-2] + x[2:]) / 2)[merged]
        centre = (start + end) / 2
        far_before, far_after = np.full_like(x, np.nan), np.full_like(x, np.nan)
        far_before[3:], far_after[:-3] = x[:-3], x[3:]
        for sign, near, far, near_nb, far_nb in (
            (1, a, b, a_nb, b_nb),
            (-1, -b, -a, (-b_nb[0], -b_nb[1]), (-a_nb[0], -a_nb[1])),
        ):
            tip = (
                (far >= np.maximum(*far_nb))
                & (sign * centre[1:-1] >= np.maximum(sign * centre[:-2], sign * centre[2:]))
                & (far - sign * centre[1:-1] >= width + 1)
                & (near >= np.minimum(*near_nb) - 1)
                & (sign * far_before[1:-1] < far - width - 1)
                & (sign * far_after[1:-1] < far - width - 1)
            )
            x[1:-1][tip] = sign * (far[tip] - (width - 1) / 2)
    return x
