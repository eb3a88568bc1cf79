"""The joint tracer: class masks (and the scan) -> one column per pixel row per curve (see the package docstring)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from logdigit.io.layout import Layout, Track
from logdigit.trace.assign import PAUSE, Path, Problem, piece_log_odds, problem, solve
from logdigit.trace.cost import Look
from logdigit.trace.graph import Pieces, pieces
from logdigit.trace.options import DEFAULT_MAX_GAP, TraceOptions
from logdigit.trace.tracer import (  # the validation the two tracers share
    PixelTrace,
    _check_image,
    _check_masks,
    _check_options,
    _check_track,
    _colour_groups,
    _digitised_rows,
    _refine,
)


def trace_joint(
    masks: np.ndarray,
    layout: Layout,
    *,
    image: np.ndarray | None = None,
    max_gap: int = DEFAULT_MAX_GAP,
    margin: int = 3,
    options: TraceOptions | None = None,
) -> list[PixelTrace]:
    """Trace every layout curve's centreline: one sub-pixel column per pixel row.

    Each track window (digitised rows ``layout.depth.rows``, else all; columns ``left - margin
    .. right + margin``) is skeletonised into pieces, and all its curves are assigned pieces
    jointly by min-cost flow (see the package docstring for the cost model).

    Args:
        masks: bool (3, H, W) from :func:`logdigit.image.threshold.threshold`; not modified.
        layout: tracks and curves in pixel coordinates of this image.
        image: optional uint8 (H, W, 3) RGB scan: ink colour, shade and the curves' ``color``.
        max_gap: longest gap in rows bridged by linear interpolation; longer gaps are NaN.
        margin: columns searched beyond each track edge, for curves that stray past it.
        options: weights, priors and limits (:class:`TraceOptions`; default: the fitted ones).

    Returns:
        One :class:`PixelTrace` per layout curve, in layout order (track by track), each with
        exactly one value (or NaN) per digitised row.

    Raises:
        InputError: masks or image of the wrong shape or dtype.
        LayoutError: a track or the digitised rows outside the image, an unknown line style.

    Example:
        >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
        >>> masks = np.zeros((3, 60, 8), bool)
        >>> masks[1, :, 3:5] = True
        >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (59, 59)), rows=(10, 49)),
        ...              (Track(1, 6, curves=(CurveSpec("GR", 0, 150),)),))
        >>> (t,) = trace_joint(masks, lay)
        >>> t.mnemonic, t.row0, len(t.x), set(t.x.tolist()), t.filled
        ('GR', 10, 40, {3.5}, ())
    """
    _check_masks(masks)
    height, width = masks.shape[1:]
    _check_image(image, (height, width))
    _check_options(max_gap, 1, margin)
    opts = options or TraceOptions()
    if not isinstance(opts, TraceOptions):
        raise TypeError(f"options must be a logdigit.trace.TraceOptions, got {type(opts).__name__}")
    r0, r1 = _digitised_rows(layout, height)
    out: list[PixelTrace] = []
    for index, track in enumerate(layout.tracks):
        _check_track(track, index, width)
        if not track.curves:
            continue
        c0, c1 = max(track.left - margin, 0), min(track.right + margin, width - 1)
        rgb = None if image is None else image[r0 : r1 + 1, c0 : c1 + 1]
        window = masks[:, r0 : r1 + 1, c0 : c1 + 1]
        edges = (float(track.left - c0), float(track.right - c0))
        for t in _trace_track(window, rgb, track, index, edges, opts, max_gap):
            out.append(_shift(t, r0, c0))
    return out


def _trace_track(window, rgb, track: Track, index: int, edges, opts: TraceOptions, max_gap: int) -> list[PixelTrace]:
    n_rows = window.shape[1]
    p = pieces(window, rgb, slope_rows=opts.slope_rows)
    prob = problem(p, edges[0], edges[1], opts)
    groups = looks_of(track.curves, p, rgb, grey_chroma=opts.grey_chroma)
    odds = {look: piece_log_odds(prob, look, _rivals(groups, look), opts) for look in groups}
    paths = {look: solve(prob, len(ks), odds[look], np.zeros(len(p)), opts) for look, ks in groups.items()}
    for look, ks in groups.items():  # a misdeclared line style: trace it as the other one if that fits far better
        covered = sum(int(p.rows[list(path.pieces)].sum()) for path in paths[look])
        if covered < opts.style_fallback * n_rows * len(ks):
            other = Look(3 - look.klass, look.rgb)
            llr = piece_log_odds(prob, other, _rivals(groups, look), opts)
            alt = solve(prob, len(ks), llr, np.zeros(len(p)), opts)
            fits_other = np.zeros(len(p), bool)  # ink another look of the track would take
            for o in groups:
                if o != look:
                    fits_other |= odds[o] > 0
            took = [i for path in alt for i in path.pieces]
            claimed = int(p.rows[took][fits_other[took]].sum())
            if sum(int(p.rows[i]) for i in took) > 2 * covered and claimed < 0.2 * p.rows[took].sum():
                odds[look], paths[look] = llr, alt  # its own ink, of the other style, that fits no other look
    if len(groups) > 1:  # second round: ink another look took is shared at a cost, or hidden under
        owner = _owners(len(p), paths, odds)
        rows = p.rows.astype(np.float64)
        for g, look in enumerate(groups):
            taken = (owner >= 0) & (owner != g)
            if not taken.any():
                continue
            own_cost = -odds[look] * rows + opts.share_cost * rows
            # hidden under: only along rows where this look shows no ink of its own
            hidden = np.where(_own_ink_share(p, odds[look] > 0, n_rows) < 0.2, opts.hidden_cost * rows, np.inf)
            cost = np.where(taken, np.minimum(own_cost, hidden), -odds[look] * rows)
            # as log-likelihood ratios per row again, for solve()
            llr = np.where(taken, -cost / rows, odds[look])
            # a curve goes under another's ink only where its own ink touches that ink
            under = taken & (hidden < own_cost)
            paths[look] = solve(_touching(prob, under), len(groups[look]), llr, np.zeros(len(p)), opts)
    out: list[PixelTrace | None] = [None] * len(track.curves)
    lone = {c: sum(curve.klass == c for curve in track.curves) == 1 for c in (1, 2)}
    for look, ks in groups.items():
        rivals = _row_top2(p, np.where(odds[look] >= opts.min_log_odds, odds[look], -np.inf), n_rows)
        chosen = sorted(paths[look], key=lambda path: float(np.median(np.concatenate([p.xs(i) for i in path.pieces]))))
        names = tuple(track.curves[k].mnemonic for k in ks)
        for j, k in enumerate(ks):
            path = chosen[j] if j < len(chosen) else None
            x, filled, wrap, seen = _assemble(p, path, n_rows, max_gap, opts)
            if lone[look.klass] and path is not None:  # re-centre on the curve's own ink, row by row
                x = _refine(_own_band(window[look.klass], x, p, path), x, dashed=look.klass == 2)
            margin = _margin(p, path, odds[look], rivals, x, opts.margin_cap)
            twins = tuple(m for m in names if m != track.curves[k].mnemonic)
            out[k] = PixelTrace(track.curves[k].mnemonic, index, 0, x, twins, filled, wrap, margin, seen)
    return [t for t in out if t is not None]


def looks_of(curves, p: Pieces, rgb, klass=None, *, grey_chroma: float = 12.0) -> dict[Look, list[int]]:
    """The track's curves grouped by look: declared class and, on a colour scan, ``color``.

    Declared inks too close to tell apart on a scan (the default tracer's ``_colour_groups``: a
    near-black and a black) make one look, whose ink is their mean: continuity tells those
    curves apart, and they are named left to right like any twins.
    ``klass``: the class of each curve, where it is not the declared one (the fitter flips some).
    ``grey_chroma``: see :class:`TraceOptions`.
    """
    colour = rgb is not None and _shows_colour(p, grey_chroma)
    classes = [curve.klass if klass is None else klass[k] for k, curve in enumerate(curves)]
    groups: dict[Look, list[int]] = {}
    for c in dict.fromkeys(classes):
        members = [k for k, kc in enumerate(classes) if kc == c]
        inked = [k for k in members if colour and curves[k].color is not None]
        for k in members:
            if k not in inked:
                groups.setdefault(Look(c, None), []).append(k)
        for same in _colour_groups([curves[k].color for k in inked]) if inked else ():
            ks = [inked[i] for i in same]
            mean = np.mean([curves[k].color for k in ks], axis=0)
            groups[Look(c, (int(round(mean[0])), int(round(mean[1])), int(round(mean[2]))))] = ks
    return groups


def _rivals(groups, look: Look) -> list:
    return [o.rgb for o in groups if o.rgb is not None and o.rgb != look.rgb]


def _row_top2(p: Pieces, llr: np.ndarray, n_rows: int):
    """Per row, the best and second-best log-likelihood ratio of the pieces on it, and the best piece."""
    best, second, arg = np.full(n_rows, -np.inf), np.full(n_rows, -np.inf), np.full(n_rows, -1)
    for i in np.argsort(-llr, kind="stable"):
        if not np.isfinite(llr[i]):
            break
        a, b = int(p.top[i]), int(p.bottom[i]) + 1
        free = arg[a:b] < 0
        second[a:b] = np.where(~free & (second[a:b] == -np.inf), llr[i], second[a:b])
        best[a:b] = np.where(free, llr[i], best[a:b])
        arg[a:b] = np.where(free, i, arg[a:b])
    return best, second, arg


def _margin(p: Pieces, path: Path | None, llr: np.ndarray, top2, x: np.ndarray, cap: float) -> np.ndarray:
    """float (n_rows,) per row of the trace, its piece's log-likelihood ratio minus that of the best
    other piece on the row (at most ``cap``, where there is none; 0 on bridged rows; NaN off the trace)."""
    best, second, arg = top2
    out = np.where(np.isfinite(x), 0.0, np.nan)
    for i in path.pieces if path is not None else ():
        a, b = int(p.top[i]), int(p.bottom[i]) + 1
        other = np.where(arg[a:b] == i, second[a:b], best[a:b])
        out[a:b] = np.minimum(llr[i] - other, cap)
    return out


def _own_band(mask: np.ndarray, x: np.ndarray, p: Pieces, path: Path) -> np.ndarray:
    """bool (rows, cols) the pixels of ``mask`` a trace can own: on each traced row, within the
    stroke's half width of it, widened by the trace's step to the next and previous rows (a steep
    stroke spreads over a row); none on rows without a value. Other ink touching the curve (text,
    hatching) stays out of the re-centring."""
    half = float(np.max(p.width[list(path.pieces)])) / 2 + 1
    step = np.abs(np.diff(x))
    reach = half + np.fmax(np.concatenate([[0.0], step]), np.concatenate([step, [0.0]]))
    cols = np.arange(mask.shape[1])[None, :]
    near = np.abs(cols - x[:, None]) <= np.nan_to_num(reach, nan=0.0)[:, None]
    return mask & np.where(np.isfinite(x)[:, None], near, False)


def _touching(prob: Problem, under: np.ndarray) -> Problem:
    """``prob`` without the links into or out of an ``under`` piece (another look's ink this one
    would run hidden under) that are not contacts: pieces meeting at a skeleton junction, or the
    next row within the two strokes' half widths. A curve that stops on the paper and one that
    comes under the other ink elsewhere are not the same curve."""
    if not under.any():
        return prob
    p, a, b = prob.p, prob.src, prob.dst
    gap = p.top[b] - p.bottom[a]
    near = np.abs(p.x_top[b] - p.x_bottom[a]) <= (p.width[a] + p.width[b]) / 2 + 1
    contact = ((p.node_bottom[a] >= 0) & (p.node_bottom[a] == p.node_top[b])) | ((gap <= 1) & near)
    keep = contact | ~(under[a] | under[b])
    return replace(prob, src=a[keep], dst=b[keep], link_cost=prob.link_cost[keep], wrap=prob.wrap[keep])


def _own_ink_share(p: Pieces, mine: np.ndarray, n_rows: int) -> np.ndarray:
    """float (n,) share of each piece's rows on which some piece in ``mine`` lies."""
    covered = np.zeros(n_rows + 1, np.int64)
    np.add.at(covered, p.top[mine], 1)
    np.add.at(covered, p.bottom[mine] + 1, -1)
    inked = np.cumsum(covered)[:-1] > 0
    csum = np.concatenate([[0], np.cumsum(inked)])
    return (csum[p.bottom + 1] - csum[p.top]) / p.rows


def _owners(n: int, paths: dict, odds: dict) -> np.ndarray:
    """int (n,) index of the look that keeps each piece (-1: taken by none); a piece several
    looks took goes to the one it fits best."""
    keys = list(paths)
    takers: dict[int, list[int]] = {}
    for g, key in enumerate(keys):
        for path in paths[key]:
            for i in path.pieces:
                takers.setdefault(i, []).append(g)
    owner = np.full(n, -1)
    for i, gs in takers.items():
        owner[i] = max(set(gs), key=lambda g: (odds[keys[g]][i], -g))
    return owner


def _assemble(p: Pieces, path: Path | None, n_rows: int, max_gap: int, opts: TraceOptions):
    """One value per window row from a path: pieces' columns, short gaps bridged, wrap levels."""
    x = np.full(n_rows, np.nan)
    wrap = np.zeros(n_rows, np.int8)
    filled: list[tuple[int, int]] = []
    if path is None:
        return x, (), wrap, None
    level = 0
    prev = None
    solid = dashed = 0.0
    for i, how in zip(path.pieces, path.wraps, strict=True):
        a, b = int(p.top[i]), int(p.bottom[i])
        level = 0 if how == PAUSE else max(-1, min(1, level + how))
        if prev is not None and how == 0:
            pb = int(p.bottom[prev])
            gap = a - pb - 1
            if 0 < gap <= max_gap:
                rows = np.arange(pb + 1, a)
                x[rows] = np.interp(rows, [pb, a], [x[pb], p.xs(i)[0]])
                wrap[rows] = level
                filled.append((pb + 1, a - 1))
        x[a : b + 1] = p.xs(i)
        wrap[a : b + 1] = level
        solid += p.solid[i] * p.rows[i]
        dashed += p.dashed[i] * p.rows[i]
        prev = i
    total = solid + dashed
    seen = (
        None
        if total == 0
        else (
            "dashed" if dashed / total > opts.style_warning else "solid" if solid / total > opts.style_warning else None
        )
    )
    return x, tuple(filled), wrap, seen


def _shift(t: PixelTrace, r0: int, c0: int) -> PixelTrace:
    return PixelTrace(
        t.mnemonic,
        t.track,
        r0,
        t.x + c0,
        t.twins,
        tuple((a + r0, b + r0) for a, b in t.filled),
        t.wrap,
        t.margin,
        t.seen_line,
    )


def _shows_colour(p: Pieces, grey_chroma: float) -> bool:
    """Whether the pieces' ink shows colour (not a grey or 1-bit scan): 90th percentile chroma."""
    if len(p) == 0 or not np.isfinite(p.rgb).all():
        return False
    lab = cv2.cvtColor(p.rgb.astype(np.float32).reshape(-1, 1, 3) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return float(np.percentile(np.hypot(lab[:, 1], lab[:, 2]), 90)) >= grey_chroma
