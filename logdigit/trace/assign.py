"""Joint assignment of a track's pieces to its curves: min-cost flow, one unit per curve.

For each look (curves that share class and colour) the pieces and candidate links form a DAG:
``source -> piece -> link -> piece ... -> sink``. Each curve of the look is one unit of flow;
a unit that finds nothing worth taking goes ``source -> sink`` at no cost (the curve is not on
the scan). Pieces have capacity one, plus a second, dearer slot for ink two curves share (one
drawn over the other). The solver is OR-Tools' ``SimpleMinCostFlow`` (exact, integral).

Looks compete for pieces too: after every look is solved, a piece taken by more than one look is
kept by the look it fits best (highest log-odds) and costs ``share_cost`` per row to the others,
which are solved again. Two rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logdigit.errors import InputError
from logdigit.trace.cost import Look, link_candidates, link_features, log_odds, node_features
from logdigit.trace.graph import Pieces
from logdigit.trace.options import TraceOptions

PAUSE = 2
"""``Path.wraps`` value of a step taken after a pause (the wrap level starts again from 0)."""


@dataclass(frozen=True)
class Path:
    """One unit's pieces top to bottom and how each was reached: 0 start or plain link, +1 / -1
    a wrap (the level changes by it), ``PAUSE`` a restart after a pause."""

    pieces: tuple[int, ...]
    wraps: tuple[int, ...]
    cost: float


@dataclass(frozen=True)
class Problem:
    """A track's pieces with everything the flows need."""

    p: Pieces
    left: float  # track edges in window columns
    right: float
    src: np.ndarray
    dst: np.ndarray
    link_cost: np.ndarray  # float per link
    wrap: np.ndarray  # int per link: 0 plain, +1 out the right edge and in at the left, -1 the reverse


def problem(p: Pieces, left: float, right: float, opts: TraceOptions) -> Problem:
    """Candidate links with their costs (plain links and wraps)."""
    width = right - left
    src, dst = link_candidates(p, width, rows=opts.link_rows, fanout=opts.link_fanout, max_leap=opts.max_leap)
    cost = opts.link_prior - log_odds(link_features(p, src, dst, width, unit=opts.colour_unit), opts.link_weights)
    wrap = np.zeros(len(src), np.int64)
    ws, wd, wl = _wraps(p, left, right, opts)
    return Problem(
        p,
        left,
        right,
        np.concatenate([src, ws]),
        np.concatenate([dst, wd]),
        np.concatenate([cost, np.full(len(ws), opts.wrap_cost)]),
        np.concatenate([wrap, wl]),
    )


def _wraps(p: Pieces, left: float, right: float, opts: TraceOptions):
    """Links from a piece that runs out at one edge to one that comes in at the other a few rows
    below (heading outwards, then inwards): the curve wrapped onto its backup scale or back."""
    xb, xt, reach = p.x_bottom, p.x_top, opts.wrap_reach
    src, dst, lev = [], [], []
    for level, leaves, enters in (
        (1, (xb >= right - reach) & (p.slope_bottom >= 0), (xt <= left + reach) & (p.slope_top >= 0)),
        (-1, (xb <= left + reach) & (p.slope_bottom <= 0), (xt >= right - reach) & (p.slope_top <= 0)),
    ):
        for i in np.nonzero(leaves)[0]:
            lo = max(i + 1, int(np.searchsorted(p.top, p.bottom[i] - 1, side="left")))
            hi = int(np.searchsorted(p.top, p.bottom[i] + opts.wrap_rows, side="right"))
            q = np.arange(lo, hi)
            q = q[enters[q]]
            src += [i] * len(q)
            dst += q.tolist()
            lev += [level] * len(q)
    return np.array(src, np.int64), np.array(dst, np.int64), np.array(lev, np.int64)


def piece_log_odds(prob: Problem, look: Look, rivals, opts: TraceOptions) -> np.ndarray:
    """float64 (n,) log-likelihood ratio per row that each piece belongs to a curve of ``look``."""
    f = node_features(prob.p, look, rivals, (prob.left, prob.right), unit=opts.colour_unit, min_ink=opts.min_ink)
    return log_odds(f, opts.node_weights) - opts.node_prior


def solve(prob: Problem, units: int, odds: np.ndarray, extra: np.ndarray, opts: TraceOptions) -> list[Path]:
    """The ``units`` cheapest paths; a piece a second path also takes gives it no evidence (the ink
    is the first curve's) and costs it ``hidden_cost`` per row.

    ``odds``: per-row log-odds of every piece for this look; ``extra``: an added cost per piece.
    One unit is a shortest path in the DAG (:func:`shortest_path`); more take the min-cost flow.
    """
    p = prob.p
    n = len(p)
    cand = np.nonzero(odds >= opts.min_log_odds)[0]
    if units == 0 or len(cand) == 0:
        return []
    rows = p.rows.astype(np.float64)
    node_cost = -odds * rows + extra
    if units == 1:
        path = shortest_path(prob, np.where(odds >= opts.min_log_odds, node_cost, np.inf), opts)
        return [] if path is None else [path]
    try:
        from ortools.graph.python import min_cost_flow
    except ImportError as err:  # the optional extra
        raise InputError(f"the joint tracer needs OR-Tools ({err}); pip install 'logdigit[joint]'") from None

    keep = np.zeros(n, bool)
    keep[cand] = True
    link_ok = keep[prob.src] & keep[prob.dst]
    ls, ld, lc, lw = prob.src[link_ok], prob.dst[link_ok], prob.link_cost[link_ok], prob.wrap[link_ok]
    # nodes: piece i -> in 2i, out 2i+1; source, sink, then the pause chain
    s, t = 2 * n, 2 * n + 1
    n_bus = int(p.bottom.max()) // opts.pause_rows + 2
    bus = 2 * n + 2 + np.arange(n_bus)
    scale = opts.cost_scale
    tails, heads, caps, costs = [], [], [], []

    def arcs(a, b, cap, cost):
        tails.append(np.asarray(a, np.int64).ravel())
        heads.append(np.asarray(b, np.int64).ravel())
        caps.append(np.broadcast_to(np.asarray(cap, np.int64), np.shape(np.asarray(a).ravel())).copy())
        costs.append(np.rint(np.broadcast_to(np.asarray(cost, np.float64), np.shape(np.asarray(a).ravel())) * scale))

    arcs(2 * cand, 2 * cand + 1, 1, node_cost[cand])  # a piece, first curve through it
    arcs(2 * cand, 2 * cand + 1, 1, opts.hidden_cost * rows[cand] + extra[cand])  # a second curve, hidden under it
    arcs(np.full(len(cand), s), 2 * cand, units, opts.start_cost)
    arcs(2 * cand + 1, np.full(len(cand), t), units, 0.0)
    arcs([s], [t], units, 0.0)
    arcs(2 * ls + 1, 2 * ld, units, lc)
    arcs(bus[:-1], bus[1:], units, 0.0)  # a trace paused without ink
    pause_at = np.minimum(p.bottom[cand] // opts.pause_rows + 1, n_bus - 1)
    arcs(2 * cand + 1, bus[pause_at], units, 0.0)
    arcs(bus[p.top[cand] // opts.pause_rows], 2 * cand, units, opts.start_cost)
    flow = min_cost_flow.SimpleMinCostFlow()
    first = flow.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(caps), np.concatenate(costs).astype(np.int64)
    )
    flow.set_nodes_supplies(np.array([s, t]), np.array([units, -units]))
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError("min-cost flow found no solution")  # cannot happen: source -> sink is always open
    used = flow.flows(first)
    c, m = len(cand), len(ls)
    cut = np.cumsum([0, c, c, c, c, 1, m, n_bus - 1, c, c])
    part = [used[cut[k] : cut[k + 1]] for k in range(len(cut) - 1)]
    links: dict[int, list[tuple[int, int]]] = {}
    for a, b, w, f in zip(ls, ld, lw, part[5], strict=True):
        links.setdefault(int(a), []).extend([(int(b), int(w))] * int(f))
    outs = [int(i) for i, f in zip(cand, part[7], strict=True) for _ in range(int(f))]
    ins = [int(j) for j, f in zip(cand, part[8], strict=True) for _ in range(int(f))]
    resume = _pair_pauses(p, outs, ins, opts.pause_rows)
    shared = {int(i) for i, f in zip(cand, part[1], strict=True) if f}
    paths = []
    for start in sorted(int(i) for i, f in zip(cand, part[2], strict=True) for _ in range(int(f))):
        seq, wraps = [start], [0]
        while True:
            i = seq[-1]
            if links.get(i):
                j, w = _pick(p, _heading(seq, shared), links[i])
                links[i].remove((j, w))
                seq.append(j)
                wraps.append(w)
            elif resume.get(i):
                seq.append(resume[i].pop(0))
                wraps.append(PAUSE)
            else:
                break
        paths.append(Path(tuple(seq), tuple(wraps), float(node_cost[seq].sum())))
    return paths


def shortest_path(prob: Problem, node_cost: np.ndarray, opts: TraceOptions) -> Path | None:
    """The cheapest path by dynamic programming over the pieces in order (a DAG: links go from a
    piece to a later one); None when no path costs less than nothing (the curve is absent).

    A path starts anywhere for ``start_cost``, goes on by links, or pauses and restarts for
    ``start_cost`` on a piece that begins in a later ``pause_rows``-row block than the one it left. The
    state is (piece, wrap level -1, 0 or +1): a wrap link moves the level, a restart sets it to 0,
    and every row away from level 0 costs ``wrap_row_cost`` (a wrap must pay for itself).
    """
    p = prob.p
    n = len(p)
    order = np.argsort(prob.dst, kind="stable")
    src, dst, cost, wrap = prob.src[order], prob.dst[order], prob.link_cost[order], prob.wrap[order]
    first = np.searchsorted(dst, np.arange(n + 1))
    n_bus = int(p.bottom.max()) // opts.pause_rows + 2
    bucket_best = np.full(n_bus, np.inf)
    bucket_arg = np.full((n_bus, 2), -1)
    best = np.full((n, 3), np.inf)  # level -1, 0, +1 -> column 0, 1, 2
    back = np.full((n, 3, 2), -1)  # predecessor (piece, level column); piece -1: a start
    how = np.zeros((n, 3), np.int64)
    level_cost = np.array([opts.wrap_row_cost, 0.0, opts.wrap_row_cost])
    pause_at = np.minimum(p.bottom // opts.pause_rows + 1, n_bus - 1)
    prefix_best, prefix_arg, done_to = np.inf, (-1, -1), -1
    cols = np.arange(3)
    for j in range(n):
        if not np.isfinite(node_cost[j]):
            continue
        b = int(p.top[j]) // opts.pause_rows
        while done_to < b:  # fold in the pauses that may restart at block b
            done_to += 1
            if bucket_best[done_to] < prefix_best:
                prefix_best, prefix_arg = bucket_best[done_to], tuple(bucket_arg[done_to])
        value = np.array([np.inf, opts.start_cost, np.inf])
        pred = np.full((3, 2), -1)
        kind = np.zeros(3, np.int64)
        if prefix_best + opts.start_cost < value[1]:
            value[1], pred[1], kind[1] = prefix_best + opts.start_cost, prefix_arg, PAUSE
        a, z = first[j], first[j + 1]
        if z > a:
            via = best[src[a:z]] + cost[a:z, None]  # (links, level)
            plain = wrap[a:z] == 0
            if plain.any():
                idx = np.flatnonzero(plain)
                m = idx[np.argmin(via[idx], axis=0)]  # best plain link per level
                better = via[m, cols] < value
                value = np.where(better, via[m, cols], value)
                pred[better] = np.column_stack([src[a + m], cols])[better]
                kind[better] = 0
            for k in np.flatnonzero(~plain):  # wraps are few
                w = int(wrap[a + k])
                for c_from in range(3):
                    c_to = min(max(c_from + w, 0), 2)
                    if via[k, c_from] < value[c_to]:
                        value[c_to], pred[c_to], kind[c_to] = via[k, c_from], (src[a + k], c_from), w
        best[j] = value + node_cost[j] + level_cost * p.rows[j]
        back[j], how[j] = pred, kind
        t = pause_at[j]
        m = int(np.argmin(best[j]))
        if best[j, m] < bucket_best[t]:
            bucket_best[t], bucket_arg[t] = best[j, m], (j, m)
    if n == 0 or not np.isfinite(best).any():
        return None
    end, col = np.unravel_index(int(np.argmin(best)), best.shape)
    if not best[end, col] < 0:
        return None
    seq, kinds = [(int(end), int(col))], []
    while back[seq[-1]][0] >= 0:
        kinds.append(int(how[seq[-1]]))
        i, c = back[seq[-1]]
        seq.append((int(i), int(c)))
    seq.reverse()
    kinds.reverse()
    return Path(tuple(j for j, _ in seq), (0, *kinds), float(best[end, col]))


def _pair_pauses(p: Pieces, outs: list[int], ins: list[int], block: int) -> dict[int, list[int]]:
    """Which restart each paused unit takes: the flow says how many units pause after each piece
    and restart on each piece, not which goes where. Pair them so that the columns move least
    (a curve that fades out comes back near where it left), among the pairings the pause chain
    allows (a restart in a later ``block``-row block than the pause)."""
    if not outs:
        return {}
    from scipy.optimize import linear_sum_assignment

    o, q = np.array(outs), np.array(ins)
    cost = np.abs(p.x_top[q][None, :] - p.x_bottom[o][:, None])
    cost[(p.top[q] // block)[None, :] < (p.bottom[o] // block + 1)[:, None]] = 1e9
    rows, cols = linear_sum_assignment(cost)
    resume: dict[int, list[int]] = {}
    for r, c in zip(rows, cols, strict=True):
        if cost[r, c] < 1e9:
            resume.setdefault(int(o[r]), []).append(int(q[c]))
    return resume


def _heading(seq: list[int], shared: set[int]) -> int:
    """The piece whose slope a unit carries on out of its last piece: where that piece is one two
    units share (two curves crossing at a shallow angle merge into one junction piece, whose own
    slope says nothing about which branch each came from), the piece before it; else the last."""
    i = seq[-1]
    if i not in shared or len(seq) < 2 or seq[-2] in shared:
        return i
    return seq[-2]


def _pick(p: Pieces, i: int, options: list[tuple[int, int]]) -> tuple[int, int]:
    """Of the links out of a piece two units share, the one that keeps the slope of piece ``i``
    (the unit's heading) best."""
    bend = [abs(np.clip(p.slope_top[j], -5, 5) - np.clip(p.slope_bottom[i], -5, 5)) for j, _ in options]
    return options[int(np.argmin(bend))]
