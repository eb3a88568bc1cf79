"""Scaled copies of one log in one track, told apart by the values they must agree on.

A print often draws one measurement more than once in a track: an *amplified* copy on a
narrower scale (a shallow resistivity 0-20 ohm.m and the same curve 0-4 ohm.m, drawn where it is
on that scale) or an *over-range* copy on a wider one (0-200 ohm.m, drawn only where the curve is
past its own scale). Drawn in one ink and line style they are twins to the tracers, which can only
tell them apart by continuity, and they swap and take each other's strokes. The layout declares
such a copy (``copy_of = "M2R2"``, :class:`logdigit.io.layout.CurveSpec`), and then one value per
row explains all of them: at value ``v`` the base curve is at its own fraction of the track, each
copy at its fraction of ``v`` on its scale, and a copy is drawn only where its rule says.

:func:`reconcile_copies` re-reads each group row by row from the strokes its members were traced
on. Every stroke gives one hypothesis per member ("this stroke is member k at value v"); the
hypothesis is scored by how well the strokes it predicts for the group match the strokes seen
(each predicted stroke costs its distance to the nearest seen one when that is within ``tol``,
else ``cap``; each seen stroke that no drawn member explains costs ``cap``), plus ``step`` times
how far member k's stroke moved from where the row above's value put it (in track widths, at
most one). The cheapest wins (ties: the base, then the copies in layout order), and each member
drawn at that value takes the seen stroke within ``tol`` of where it should be; a member with
no stroke there gets no value (nothing is invented). Rows where a member is traced past a track edge
(wrapped) are left as traced. A row whose stroke came from an interpolated stretch stays flagged
as filled.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from logdigit.io.layout import CurveSpec, Layout, Track
from logdigit.trace.tracer import PixelTrace, _true_runs


@dataclass(frozen=True)
class CopyOptions:
    """Weights of :func:`reconcile_copies`, in track widths (set a priori, not fitted).

    Attributes:
        cap: what a predicted stroke with no seen stroke within ``tol`` costs, and what a seen
            stroke no member explains costs.
        tol: a member takes a seen stroke this close to where the value puts it.
        step: cost per track width a member's stroke moved from the row above (continuity).
        edge: how far past a scale's end a member still counts as drawn on it.
    """

    cap: float = 0.1
    tol: float = 0.03
    step: float = 0.02
    edge: float = 0.01


def reconcile_copies(traces: list[PixelTrace], layout: Layout, options: CopyOptions | None = None) -> list[PixelTrace]:
    """The traces with every declared group of scaled copies re-read as one value per row.

    Args:
        traces: one per layout curve, as a tracer returns them (``mnemonic`` and ``track`` set).
        layout: the layout the traces follow; curves with ``copy_of`` form the groups.

    Returns:
        a new list; traces of curves in no group are the same objects.
    """
    opts = options or CopyOptions()
    out = list(traces)
    index = {(t.track, t.mnemonic): i for i, t in enumerate(traces)}
    for ti, track in enumerate(layout.tracks):
        for base, copies in _groups(track):
            members = [base, *copies]
            idx = [index.get((ti, c.mnemonic)) for c in members]
            if any(i is None for i in idx):
                continue
            new = _reconcile(track, members, [traces[i] for i in idx if i is not None], opts)
            for i, t in zip(idx, new, strict=True):
                if i is not None:
                    out[i] = t
    return out


def _groups(track: Track) -> list[tuple[CurveSpec, list[CurveSpec]]]:
    by_name = {c.mnemonic: c for c in track.curves}
    groups: dict[str, list[CurveSpec]] = {}
    for c in track.curves:
        if c.copy_of and c.copy_of in by_name:
            groups.setdefault(c.copy_of, []).append(c)
    return [(by_name[b], cs) for b, cs in groups.items()]


def _affine(track: Track, base: CurveSpec, curve: CurveSpec) -> tuple[float, float]:
    """(a, b) with the curve's track fraction f = a * u + b, u the base's fraction at the same value."""
    g = math.log10 if track.scale == "log" else float
    b0, b1 = g(base.left_value), g(base.right_value)
    c0, c1 = g(curve.left_value), g(curve.right_value)
    # value (in g) = b0 + u (b1 - b0); f = (value - c0) / (c1 - c0)
    a = (b1 - b0) / (c1 - c0)
    return a, (b0 - c0) / (c1 - c0)


def _amplified(track: Track, base: CurveSpec, curve: CurveSpec) -> bool:
    """Whether ``curve``'s scale lies within the base's (an amplified copy) rather than past it."""
    g = math.log10 if track.scale == "log" else float
    lo, hi = sorted((g(base.left_value), g(base.right_value)))
    return all(lo - 1e-12 <= g(v) <= hi + 1e-12 for v in (curve.left_value, curve.right_value))


def _reconcile(track: Track, members: list[CurveSpec], traces: list[PixelTrace], opts: CopyOptions):
    width = float(track.right - track.left)
    row0 = min(t.row0 for t in traces)
    n = max(t.row0 + len(t.x) for t in traces) - row0
    k = len(members)
    frac = np.full((k, n), np.nan)  # seen strokes, as each member's track fraction
    filled = np.zeros((k, n), bool)
    wrapped = np.zeros(n, bool)
    for j, t in enumerate(traces):
        sl = slice(t.row0 - row0, t.row0 - row0 + len(t.x))
        frac[j, sl] = (t.x - track.left) / width
        for a, b in t.filled:
            filled[j, a - row0 : b - row0 + 1] = True
        if t.wrap is not None:
            wrapped[sl] |= t.wrap != 0
    ab = np.array([_affine(track, members[0], c) for c in members])  # (k, 2)
    amplified = [True] + [_amplified(track, members[0], c) for c in members[1:]]
    x_new = np.full((k, n), np.nan)
    fill_new = np.zeros((k, n), bool)
    prev = None
    for r in range(n):
        if wrapped[r]:
            x_new[:, r] = frac[:, r] * width + track.left
            fill_new[:, r] = filled[:, r]
            prev = None
            continue
        seen = np.isfinite(frac[:, r])
        if not seen.any():
            prev = None
            continue
        strokes, src = frac[seen, r], np.flatnonzero(seen)
        best = None
        for s in strokes:
            for a, b in ab:
                u = (s - b) / a
                cost, take = _score(u, strokes, ab, amplified, opts)
                if prev is not None:  # how far this member's stroke moved from the row above
                    cost += opts.step * min(abs(a * prev + b - s), 1.0)
                if best is None or cost < best[0] - 1e-12:
                    best = (cost, u, take)
        assert best is not None
        _, prev, take = best
        for m, t in enumerate(take):
            if t >= 0:
                x_new[m, r] = strokes[t] * width + track.left
                fill_new[m, r] = filled[src[t], r]
    return [_rebuilt(t, x_new[m], fill_new[m], row0) for m, t in enumerate(traces)]


def _score(u: float, strokes: np.ndarray, ab: np.ndarray, amplified: list[bool], opts: CopyOptions):
    """Cost of value ``u`` (base fraction) against the seen strokes, and the stroke each member
    takes (index into ``strokes``, -1: not drawn or no stroke within ``tol``)."""
    on_base = -opts.edge <= u <= 1 + opts.edge
    cost, take, explained = 0.0, [], np.zeros(len(strokes), bool)
    for m, (a, b) in enumerate(ab):
        f = a * u + b
        drawn = -opts.edge <= f <= 1 + opts.edge and (m == 0 or amplified[m] or not on_base)
        if not drawn:
            take.append(-1)
            continue
        d = np.abs(strokes - f)
        i = int(np.argmin(d))
        near = d <= opts.tol
        cost += float(d[i]) if near[i] else opts.cap
        explained |= near
        take.append(i if near[i] else -1)
    cost += opts.cap * float((~explained).sum())
    return cost, take


def _rebuilt(t: PixelTrace, x: np.ndarray, filled: np.ndarray, row0: int) -> PixelTrace:
    sl = slice(t.row0 - row0, t.row0 - row0 + len(t.x))
    x, filled = x[sl], filled[sl] & np.isfinite(x[sl])
    stretches = tuple((t.row0 + int(a), t.row0 + int(b) - 1) for a, b in zip(*_true_runs(filled), strict=True))
    return dataclasses.replace(t, x=x, filled=stretches, margin=None)
