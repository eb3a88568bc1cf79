"""Calibration: pixel traces + layout -> curves on one depth grid.

Depth is the least-squares line through the layout's ties, ``depth = a + b * row``
(``b < 0``, depth rising up the scan, works too: the output index still increases), or,
with ``depth.interpolate`` (paper that stretched unevenly, tied at many rows), the
piecewise-linear curve through every tie, its first and last pieces carried on past the
end ties (:class:`DepthMap`).
The grid holds the exact multiples of ``step`` (the LAS 2.0 rule) between the depths
of the first and last row digitised. Each trace's column ``x`` is interpolated
linearly between the two pixel rows around each grid depth (NaN when either is NaN
or outside the trace) and mapped to a value through its track's edges:
``f = (x - left) / (right - left)``; linear ``v = lv + f (rv - lv)``, log
``log10 v = log10 lv + f (log10 rv - log10 lv)``. Values beyond the track edges
(``f < 0`` or ``f > 1``, a curve that strays past its track) are kept as computed, not
clipped: a clipped value would look real.

Wrapped rows (``PixelTrace.wrap``: level L != 0, the curve drawn on from the other edge
after leaving the track) are read as the layout declares: with ``CurveSpec.wrap`` on the
curve's own scale shifted by L track widths (``f + L`` in the formulas above); with
``CurveSpec.backup = (a, b)`` rows at L = +1 on the backup scale (``a``, ``b`` in place of
``lv``, ``rv``); anything else is NULL. A grid sample between two rows of different levels
(the curve jumps across the track between them) takes the nearer row's value rather than a
value interpolated across the jump.

Ties on a line are refused when the worst one sits further from it than
``max(2 * step, 0.5 % of the ties' depth span)``: two output samples is an error
visible at LAS resolution, and 0.5 % leaves room for the uneven stretch of old paper
and of sheet-fed scanners. ``max_residual`` overrides the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from logdigit.errors import InputError, LayoutError
from logdigit.io.layout import CurveSpec, Layout, Track
from logdigit.trace import PixelTrace

TIE_TOLERANCE_STEPS = 2.0
"""A tie may sit up to this many output steps off the tie line..."""

TIE_TOLERANCE_SPAN = 0.005
"""...or up to this share (0.5 %) of the ties' depth span, whichever is larger."""

_ROW_SNAP = 1e-6
"""Grid rows closer than this (pixels) to a whole row use that row alone."""

MIN_STEP = 1e-5
"""Smallest ``depth.step``: the LAS holds depths to 5 decimals (``las.DATA_FORMAT``), so a
finer step would write repeated depths."""

MAX_SAMPLES_PER_ROW = 20
"""Most output samples per pixel row digitised. A finer grid holds nothing but
interpolation between rows; the bound keeps the grid's memory and the LAS's size in
proportion to the scan (a step of 1e-9 ft over a 1000-row scan would be terabytes)."""


@dataclass(frozen=True)
class Curve:
    """One calibrated curve: ``values`` float64 (n,) on ``Curves.depth``; NaN = gap (LAS NULL).

    ``filled``: (first, last) depths, inclusive, of each run of samples whose value uses a
    row the trace filled by interpolation (``PixelTrace.filled``), in depth order.
    """

    mnemonic: str
    unit: str
    values: np.ndarray
    descr: str = ""
    filled: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Curves:
    """Calibrated curves sharing one index.

    Attributes:
        depth: float64 (n,), multiples of ``step``, increasing.
        unit: index unit (``"FT"``, ``"M"``, ``"PX"`` ...).
        step: the sampling step.
        curves: one :class:`Curve` per traced curve, in layout order.
        tie_residual: RMS residual of the depth-tie fit in index units (0 with two ties, or with ``depth.interpolate``).
    """

    depth: np.ndarray
    unit: str
    step: float
    curves: tuple[Curve, ...]
    tie_residual: float = 0.0


@dataclass(frozen=True)
class DepthMap:
    """Pixel row <-> depth through knots ``(rows[i], depths[i])``, rows increasing: linear
    between knots and, past the first and last, along the first and last pieces. Two knots
    make a line. Depth is strictly monotonic in row (rising down the scan, or up it).

    >>> m = DepthMap(np.array([0.0, 100.0, 200.0]), np.array([1000.0, 1050.0, 1110.0]))
    >>> m.depth(np.array([-10.0, 50.0, 150.0, 210.0])).tolist()
    [995.0, 1025.0, 1080.0, 1116.0]
    >>> m.row(np.array([995.0, 1080.0, 1116.0])).tolist()
    [-10.0, 150.0, 210.0]
    """

    rows: np.ndarray
    depths: np.ndarray

    def depth(self, row) -> np.ndarray:
        """Depth at (fractional) pixel rows."""
        return _through(np.asarray(row, dtype=np.float64), self.rows, self.depths)

    def row(self, depth) -> np.ndarray:
        """Fractional pixel row at depths."""
        order = np.argsort(self.depths)
        return _through(np.asarray(depth, dtype=np.float64), self.depths[order], self.rows[order])

    @classmethod
    def line_of(cls, a: float, b: float) -> DepthMap:
        """The line ``depth = a + b * row``."""
        return cls(np.array([0.0, 1.0]), np.array([a, a + b], dtype=np.float64))


def _through(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear through (xp, fp), xp increasing, extended along the end pieces."""
    out = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    out = np.where(lo, fp[0] + (x - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0]), out)
    return np.where(hi, fp[-1] + (x - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2]), out)


def depth_map(layout: Layout, *, max_residual: float | None = None) -> DepthMap:
    """The layout's row -> depth map: :func:`fit_ties`'s line, or with ``depth.interpolate``
    the piecewise-linear curve through every tie (ties checked as :func:`fit_ties` does, except
    their distance from one line).

    Raises:
        LayoutError: what :func:`fit_ties` refuses (with ``interpolate``: fewer than two ties,
            ties on one row, or depths that do not rise (or fall) monotonically with row).

    Example:
        >>> from logdigit.io.layout import DepthSpec, Layout
        >>> ties = ((0, 1000.0), (100, 1052.0), (200, 1100.0))  # the middle tie 2 ft off the line
        >>> depth_map(Layout(DepthSpec("FT", 0.5, ties, interpolate=True), ())).depth(np.array([100.0]))
        array([1052.])
        >>> depth_map(Layout(DepthSpec("FT", 0.5, ties), ()), max_residual=5).depth(np.array([100.0]))
        array([1050.6666...])
    """
    if not layout.depth.interpolate:
        a, b, _ = fit_ties(layout, max_residual=max_residual)
        return DepthMap.line_of(a, b)
    where = layout.source or "layout"
    _check_step(layout.depth.step, where)
    _fit_ties(layout.depth.ties, where)  # two or more ties, on different rows, at different depths
    arr = np.asarray(sorted(layout.depth.ties), dtype=np.float64).reshape(-1, 2)
    rows, depths = arr[:, 0], arr[:, 1]
    steps = np.diff(depths)
    if np.any(np.diff(rows) <= 0) or not (np.all(steps > 0) or np.all(steps < 0)):
        raise LayoutError(
            f"{where}: depth.ties: with interpolate = true the ties must lie on different rows with depths "
            "rising (or falling) row by row; check the ties"
        )
    return DepthMap(rows, depths)


def calibrate(
    traces: Sequence[PixelTrace],
    layout: Layout,
    *,
    max_residual: float | None = None,
) -> Curves:
    """Turn pixel traces into depth-indexed curves with the layout's ties and track scales.

    The grid runs from the first multiple of ``layout.depth.step`` at or past the
    depth of the first row digitised to the last multiple before the last row's
    depth; the rows digitised are ``layout.depth.rows`` when given, else the rows the
    traces cover (first ``row0`` to last row of any trace, gaps included).

    Args:
        traces: pixel traces; each one's ``track`` index and ``mnemonic`` pick its
            :class:`~logdigit.io.layout.CurveSpec` in ``layout``.
        layout: the layout (depth ties, step, tracks, value scales).
        max_residual: largest tie residual accepted, in index units. Default:
            ``max(2 * step, 0.5 % of the ties' depth span)``.

    Returns:
        :class:`Curves`: depth float64 (n,) increasing, one :class:`Curve` per trace
        in layout order (values float64 (n,), NaN = gap), and the RMS tie residual.

    Raises:
        LayoutError: ties that disagree with their least-squares line by more than the
            limit (naming ``depth.ties[i]``), fewer than two ties, ties on one row, a
            bad step, or a rows range shorter than one step.
        InputError: no traces and no ``depth.rows``: nothing to calibrate.
        ValueError: a trace that matches no curve of its track, or two traces for
            one curve.

    Example:
        >>> import numpy as np
        >>> from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
        >>> lay = Layout(DepthSpec("FT", 0.5, ((0, 1000.0), (10, 1005.0))),
        ...              (Track(0, 100, curves=(CurveSpec("GR", 0, 150),)),))
        >>> out = calibrate([PixelTrace("GR", 0, 0, np.full(11, 50.0))], lay)
        >>> out.depth[:3], out.curves[0].values[:3]
        (array([1000. , 1000.5, 1001. ]), array([75., 75., 75.]))
    """
    where = layout.source or "layout"
    specs = _match_traces(traces, layout)
    dm = depth_map(layout, max_residual=max_residual)
    rms = 0.0 if layout.depth.interpolate else fit_ties(layout, max_residual=max_residual)[2]
    step = float(layout.depth.step)
    first, last = _row_range(traces, layout, where)
    d_first, d_last = dm.depth(np.array([first, last], dtype=np.float64)).tolist()
    _check_grid_size(layout, d_first, d_last, first, last)
    depth = _depth_grid(d_first, d_last, step)
    if depth.size == 0:
        raise LayoutError(
            f"{where}: depth.rows: rows {first}..{last} span less than one step ({step:g} "
            f"{layout.depth.unit}); widen the rows or use a smaller depth.step"
        )
    rows = dm.row(depth)
    curves = tuple(
        Curve(
            spec.mnemonic,
            spec.unit,
            _curve_values(trace, rows, track, spec, where),
            spec.descr,
            filled=_filled_depths(trace, rows, depth),
        )
        for trace, track, spec in specs
    )
    return Curves(depth=depth, unit=layout.depth.unit, step=step, curves=curves, tie_residual=rms)


def fit_ties(layout: Layout, *, max_residual: float | None = None) -> tuple[float, float, float]:
    """The depth line through the layout's ties, checked: ``depth = a + b * row``.

    :func:`calibrate` calls this; call it before inference too, to refuse bad ties
    before the slow part of a run.

    Args:
        layout: the layout (``depth.ties``, ``depth.step``).
        max_residual: largest tie residual accepted, in index units. Default:
            ``max(2 * step, 0.5 % of the ties' depth span)``.

    Returns:
        ``(a, b, rms)``: intercept (index units), slope (index units per pixel row)
        and RMS residual of the ties (index units; 0 with two ties).

    Raises:
        LayoutError: a tie further than the limit from the line (naming
            ``depth.ties[i]``, the worst one), fewer than two ties, ties on one row or
            at one depth, or a step that is not > 0.
        ValueError: a ``max_residual`` that is not > 0.

    Example:
        >>> from logdigit.io.layout import DepthSpec, Layout
        >>> a, b, rms = fit_ties(Layout(DepthSpec("FT", 0.5, ((0, 0.0), (100, 101.0), (200, 200.0))), ()))
        >>> round(a, 4), b, round(rms, 4)
        (0.3333, 1.0, 0.4714)
    """
    where = layout.source or "layout"
    step = _check_step(layout.depth.step, where)
    a, b, residuals = _fit_ties(layout.depth.ties, where)
    _check_residuals(layout.depth.ties, residuals, step, max_residual, where)
    return a, b, float(np.sqrt(np.mean(residuals**2)))


def check_grid(layout: Layout, *, height: int) -> int:
    """Check a layout's ties and depth grid against a scan ``height`` rows tall, before inference.

    Runs :func:`depth_map` and bounds the grid :func:`calibrate` will make over the rows
    digitised (``layout.depth.rows``, else the whole scan) to :data:`MAX_SAMPLES_PER_ROW`
    samples per row, so a nonsense step is refused before the slow part of a run.

    Returns:
        The largest number of samples the grid can have.

    Raises:
        LayoutError: what :func:`fit_ties` refuses, or a grid over the bound (naming
            ``depth.step`` and a step that fits).

    Example:
        >>> from logdigit.io.layout import DepthSpec, Layout
        >>> check_grid(Layout(DepthSpec("FT", 0.5, ((0, 1000.0), (100, 1050.0))), ()), height=101)
        101
    """
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise ValueError(f"height must be an int >= 1 (pixel rows), got {height!r}")
    dm = depth_map(layout)
    first, last = layout.depth.rows if layout.depth.rows is not None else (0, height - 1)
    d_first, d_last = dm.depth(np.array([first, last], dtype=np.float64)).tolist()
    return _check_grid_size(layout, d_first, d_last, first, last)


def _check_grid_size(layout: Layout, d_first: float, d_last: float, first: int, last: int) -> int:
    """Samples of the grid over rows ``first..last`` (depths ``d_first``, ``d_last``; an upper
    bound); refuse more than the limit."""
    step, unit = float(layout.depth.step), layout.depth.unit
    lo, hi = sorted((d_first, d_last))
    b = (d_last - d_first) / max(abs(last - first), 1)
    samples = math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1
    rows = abs(last - first) + 1
    if samples > MAX_SAMPLES_PER_ROW * rows:
        raise LayoutError(
            f"{layout.source or 'layout'}: depth.step: {step:g} {unit} gives {samples:,} samples over {rows} "
            f"pixel rows of {abs(b):.4g} {unit} each, over the limit of {MAX_SAMPLES_PER_ROW} per row; "
            f"use a step of at least {abs(b) / MAX_SAMPLES_PER_ROW:.3g} {unit}, e.g. {_nice_step(abs(b))}"
        )
    return max(samples, 0)


def _nice_step(per_row: float) -> str:
    """A round step near one sample per pixel row: 0.232 -> '0.2'."""
    return f"{float(f'{per_row:.1g}'):g}"


def _check_step(step: float, where: str) -> float:
    if isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step) or step <= 0:
        raise LayoutError(f"{where}: depth.step: must be a number > 0, got {step!r}; e.g. 0.5")
    if step < MIN_STEP:
        raise LayoutError(
            f"{where}: depth.step: {step:g} is below {MIN_STEP:g}, the finest depth a LAS file holds "
            "(5 decimals); use the log's sampling step, e.g. 0.5"
        )
    return float(step)


def _match_traces(traces: Sequence[PixelTrace], layout: Layout) -> list[tuple[PixelTrace, Track, CurveSpec]]:
    """Pair each trace with its track and curve spec, in layout order."""
    by_key: dict[tuple[int, str], PixelTrace] = {}
    for trace in traces:
        if not 0 <= trace.track < len(layout.tracks):
            raise ValueError(
                f"trace {trace.mnemonic!r} has track index {trace.track}; "
                f"the layout has tracks 0..{len(layout.tracks) - 1}"
            )
        names = [c.mnemonic for c in layout.tracks[trace.track].curves]
        if trace.mnemonic not in names:
            raise ValueError(f"trace {trace.mnemonic!r} is not a curve of track {trace.track} (curves: {names})")
        if (trace.track, trace.mnemonic) in by_key:
            raise ValueError(f"two traces for curve {trace.mnemonic!r} of track {trace.track}; pass one")
        if np.ndim(trace.x) != 1:
            raise ValueError(f"trace {trace.mnemonic!r}: x must be 1-D (n,), got shape {np.shape(trace.x)}")
        wrap = trace.wrap
        if wrap is not None and (
            np.shape(wrap) != np.shape(trace.x) or not np.issubdtype(np.asarray(wrap).dtype, np.integer)
        ):
            got = f"{np.shape(wrap)} {np.asarray(wrap).dtype}"
            raise ValueError(
                f"trace {trace.mnemonic!r}: wrap must be integer levels shaped like x {np.shape(trace.x)}, got {got}"
            )
        by_key[(trace.track, trace.mnemonic)] = trace
    return [
        (by_key[(i, spec.mnemonic)], track, spec)
        for i, track in enumerate(layout.tracks)
        for spec in track.curves
        if (i, spec.mnemonic) in by_key
    ]


def _fit_ties(ties: Sequence[tuple[float, float]], where: str) -> tuple[float, float, np.ndarray]:
    """Least-squares ``depth = a + b * row``; returns a, b and each tie's residual."""
    arr = np.asarray(ties, dtype=np.float64).reshape(-1, 2)  # (n_ties, 2): row, depth
    rows, depths = arr[:, 0], arr[:, 1]
    if len(arr) < 2 or np.ptp(rows) == 0:
        raise LayoutError(
            f"{where}: depth.ties: need two or more ties on different rows, got {len(arr)}; "
            "add [row, depth] pairs read off the scan"
        )
    r_mean, d_mean = rows.mean(), depths.mean()
    b = float(np.sum((rows - r_mean) * (depths - d_mean)) / np.sum((rows - r_mean) ** 2))
    a = float(d_mean - b * r_mean)
    if b == 0:
        raise LayoutError(f"{where}: depth.ties: all ties have one depth; give ties at different depths")
    return a, b, depths - (a + b * rows)


def _check_residuals(
    ties: Sequence[tuple[float, float]],
    residuals: np.ndarray,
    step: float,
    max_residual: float | None,
    where: str,
) -> None:
    depths = [d for _, d in ties]
    if max_residual is None:
        limit = max(TIE_TOLERANCE_STEPS * step, TIE_TOLERANCE_SPAN * (max(depths) - min(depths)))
    elif isinstance(max_residual, bool) or not isinstance(max_residual, int | float) or not max_residual > 0:
        raise ValueError(f"max_residual must be a number > 0 (index units), got {max_residual!r}")
    else:
        limit = float(max_residual)
    worst = int(np.argmax(np.abs(residuals)))
    if abs(residuals[worst]) > limit * (1 + 1e-9):
        row, depth = ties[worst]
        raise LayoutError(
            f"{where}: depth.ties[{worst}]: tie [{row:g}, {depth:g}] is {abs(residuals[worst]):.4g} off the "
            f"least-squares line through all ties (limit {limit:.4g}); check its row and depth, "
            "or raise max_residual if the scan is stretched"
        )


def _row_range(traces: Sequence[PixelTrace], layout: Layout, where: str) -> tuple[int, int]:
    if layout.depth.rows is not None:
        return layout.depth.rows
    spans = [(t.row0, t.row0 + len(t.x) - 1) for t in traces if len(t.x)]
    if not spans:
        raise InputError(
            f"{where}: depth.rows: no traces and no rows range: nothing to calibrate; "
            "check the class masks (threshold) or set depth.rows"
        )
    return min(s[0] for s in spans), max(s[1] for s in spans)


def _depth_grid(d_first: float, d_last: float, step: float) -> np.ndarray:
    """Multiples ``k * step`` (integer k) inside [d_first, d_last] (either order), increasing."""
    lo, hi = sorted((d_first, d_last))
    k_lo = math.ceil(lo / step - 1e-9)
    k_hi = math.floor(hi / step + 1e-9)
    k = np.arange(k_lo, k_hi + 1, dtype=np.int64)
    return np.round(k * step, _decimals(step))


def _decimals(step: float) -> int:
    """Decimal places of ``step`` as written (0.5 -> 1, 0.1524 -> 4), at most 10."""
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return min(max(0, -int(exponent)), 10)


def _neighbours(trace: PixelTrace, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per fractional row: the indices into ``trace.x`` of the rows above and below (one row
    when it is whole), the weight of the lower one, and whether both lie inside the trace."""
    pos = rows - trace.row0  # fractional index into x
    near = np.rint(pos)
    pos = np.where(np.abs(pos - near) < _ROW_SNAP, near, pos)
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    i1 = i0 + (frac > 0)
    return i0, i1, frac, (i0 >= 0) & (i1 < len(trace.x))


def _curve_values(trace: PixelTrace, rows: np.ndarray, track: Track, spec: CurveSpec, where: str) -> np.ndarray:
    """The curve's values at fractional ``rows``: its own scale, and its wrapped rows as declared."""
    if trace.wrap is None or not np.any(trace.wrap):
        return _values(_resample(trace, rows), track, spec, where)
    levels = np.asarray(trace.wrap, dtype=np.int64)
    i0, i1, frac, inside = _neighbours(trace, rows)
    jump = inside & (levels[np.clip(i0, 0, len(levels) - 1)] != levels[np.clip(i1, 0, len(levels) - 1)])
    nearer = np.where(frac <= 0.5, i0, i1)  # across a jump: the nearer row alone
    i0, i1, frac = np.where(jump, nearer, i0), np.where(jump, nearer, i1), np.where(jump, 0.0, frac)
    x = np.asarray(trace.x, dtype=np.float64)
    col = np.full(rows.shape, np.nan)
    level = np.zeros(rows.shape, np.int64)
    j0, j1 = i0[inside], i1[inside]
    col[inside] = x[j0] + frac[inside] * (x[j1] - x[j0])
    level[inside] = levels[j0]
    out = np.full(rows.shape, np.nan)
    own = level == 0
    out[own] = _values(col[own], track, spec, where)
    if spec.wrap:
        out[~own] = _values(col[~own] + level[~own] * (track.right - track.left), track, spec, where)
    elif spec.backup is not None:
        up = level == 1
        lv, rv = spec.backup
        out[up] = _values(col[up], track, replace(spec, left_value=lv, right_value=rv), where)
    return out


def _resample(trace: PixelTrace, rows: np.ndarray) -> np.ndarray:
    """x at fractional ``rows``: linear between the two neighbouring rows; NaN outside or at NaN."""
    x = np.asarray(trace.x, dtype=np.float64)
    i0, i1, frac, inside = _neighbours(trace, rows)
    out = np.full(rows.shape, np.nan)
    j0, j1, f = i0[inside], i1[inside], frac[inside]
    out[inside] = x[j0] + f * (x[j1] - x[j0])
    return out


def _filled_depths(trace: PixelTrace, rows: np.ndarray, depth: np.ndarray) -> tuple[tuple[float, float], ...]:
    """(first, last) depths of each run of grid samples (at fractional ``rows``) that use a
    row in ``trace.filled``."""
    if not trace.filled:
        return ()
    filled = np.zeros(len(trace.x), bool)
    for first, last in trace.filled:
        filled[max(first - trace.row0, 0) : max(last - trace.row0 + 1, 0)] = True
    i0, i1, _, inside = _neighbours(trace, rows)
    uses = np.zeros(rows.shape, bool)
    uses[inside] = filled[i0[inside]] | filled[i1[inside]]
    edges = np.diff(np.r_[0, uses.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return tuple((float(depth[a]), float(depth[b - 1])) for a, b in zip(starts, stops, strict=True))


def _values(x: np.ndarray, track: Track, spec: CurveSpec, where: str) -> np.ndarray:
    """Column -> value through the track edges and the curve's edge values."""
    f = (x - track.left) / (track.right - track.left)
    lv, rv = float(spec.left_value), float(spec.right_value)
    if track.scale == "log":
        if lv <= 0 or rv <= 0:
            raise LayoutError(
                f"{where}: curve {spec.mnemonic}: log scale needs values > 0, got {lv:g} and {rv:g}; "
                "use the track's decades, e.g. 0.2 and 2000"
            )
        return 10.0 ** (math.log10(lv) + f * (math.log10(rv) - math.log10(lv)))
    return lv + f * (rv - lv)
