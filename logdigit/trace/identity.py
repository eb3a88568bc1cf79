"""Look-alike curves' names settled over the whole log: which twin trace is which curve.

Curves of one look in a track (``PixelTrace.twins``: one line style, inks the scan does not tell
apart) are told apart by continuity while they are traced. Where the ink of one breaks off, the
tracer restarts it on the best ink it can link, and a restart costs the same however far it
jumps; where two of them run together for a long stretch, continuity cannot tell which left as
which. Either way a wrong guess lasts to the next such place: on the 1-bit copy of a vendor
print, a tension curve that keeps beside the track's right edge and the density porosity that
wanders the track carried each other's names for half of the section. The rest of the log tells
them apart: each curve keeps to its own part of the track (tension by the edge, a caliper near
bit size).

:func:`settle_identities` does this for each set of twins, after the tracer:

1. **Events.** A trace moving more than ``jump`` of the track width from one row with a value to
   the next (the tracer restarted it, across a gap or within a row), and two traces within
   ``contact`` px of each other for ``blind_rows`` rows or more, are the places where the traces
   may have exchanged curves. Between two events each trace is one curve (the tracer's
   continuity is kept: a clean crossing is no event).
2. **Costs.** A naming of the stretch between two events (which trace carries which curve) costs,
   per trace, the negative log-likelihood of its columns under its curve's Gaussian (the mean and
   spread of the columns named after that curve over the whole log, spread at least
   ``min_spread`` of the track width), counted once per ``decorrelation`` rows. Exchanging the
   curves of two traces at an event that involves one of them costs ``exchange_cost``, so a
   name changes only where enough rows say so.
3. **Best naming.** Dynamic programming over the stretches (Viterbi; states: the permutations of
   the twins) finds the cheapest naming; each curve's Gaussian is then fitted again to it, for
   ``rounds`` rounds, from two starts (the tracer's naming, and left to right within each
   stretch); the cheaper result is kept. The curves are then named left to right by median
   column, as the layout lists curves of one look; where two medians stand closer than
   ``order_gap`` of the track width, the names are the ones that keep the tracer's own name on
   the most rows.

Nothing is invented or moved: each row's column stays on the ink a tracer put it on; only the
name it carries changes, with its wrap level, margin and filled rows. ``exchange_cost`` and
``jump`` were chosen on synthetic test sheets of seeds 0 and 1 (``logdigit evaluate --style
classic``), not on the figures reported for seeds 2 and 3 or the real prints.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from logdigit.io.layout import Layout
from logdigit.trace.hidden import _copy_groups, _inner_gaps
from logdigit.trace.tracer import PixelTrace, _true_runs


@dataclass(frozen=True)
class IdentityOptions:
    """Settings of :func:`settle_identities`.

    Attributes:
        jump: share of track width; a trace moving further from one row with a value to the next
            was restarted by the tracer there.
        contact: px; two traces this close on a row run together there.
        blind_rows: rows; running together this long, which leaves as which is a guess.
        link_rows: rows; a trace's gaps up to this long are bridged when looking for contacts.
        exchange_cost: what exchanging the curves of two traces at an event costs.
        decorrelation: rows of one trace that count as one observation of its curve's column.
        min_spread: least spread of a curve's column, as a share of track width.
        rounds: naming and re-fitting rounds from each start.
        max_twins: larger sets are left as traced (their permutations grow as n!).
        order_gap: share of track width; curves whose median columns stand this far apart are
            named left to right, as the layout lists curves of one look.
    """

    jump: float = 0.15
    contact: float = 4.0
    blind_rows: int = 40
    link_rows: int = 40
    exchange_cost: float = 5.0
    decorrelation: float = 50.0
    min_spread: float = 0.02
    rounds: int = 4
    max_twins: int = 5
    order_gap: float = 0.05


def settle_identities(
    traces: list[PixelTrace], layout: Layout, options: IdentityOptions | None = None
) -> list[PixelTrace]:
    """The traces with the names of each set of twins settled over the whole log (module docstring).

    Curves declared as scaled copies (``copy_of``) are left to :mod:`logdigit.trace.copies`.

    Returns:
        a new list, in the same order; traces whose names did not change are the same objects.

    Example: a curve that keeps to column 45 and one that wanders about column 20; the tracer
    restarted both at row 200, each on the other's ink.

        >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
        >>> rows = np.arange(400.0)
        >>> wander, edge = 20 + 5 * np.sin(rows / 15), np.full(400, 45.0)
        >>> a = np.where(rows < 200, edge, wander)     # named "P" by the tracer
        >>> b = np.where(rows < 200, wander, edge)     # named "T"
        >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (399, 399))),
        ...              (Track(0, 50, curves=(CurveSpec("P", 0, 1), CurveSpec("T", 0, 1))),))
        >>> ts = [PixelTrace("P", 0, 0, a, twins=("T",)), PixelTrace("T", 0, 0, b, twins=("P",))]
        >>> out = settle_identities(ts, lay)
        >>> bool((out[0].x == wander).all()), bool((out[1].x == edge).all())
        (True, True)
    """
    opts = options or IdentityOptions()
    copies = set(_copy_groups(layout))
    index = {t.mnemonic: i for i, t in enumerate(traces)}
    out = list(traces)
    done: set[int] = set()
    for i, t in enumerate(traces):
        if not t.twins or i in done:
            continue
        group = sorted({index[m] for m in (t.mnemonic, *t.twins) if m in index and m not in copies})
        done.update(group)
        members = [traces[g] for g in group]
        if not 2 <= len(group) <= opts.max_twins:
            continue
        if any(m.track != t.track or m.row0 != t.row0 or len(m.x) != len(t.x) for m in members):
            continue
        track = layout.tracks[t.track]
        source = settle(np.vstack([m.x for m in members]), float(track.right - track.left), opts)
        if (source == np.arange(len(group))[:, None]).all():
            continue
        for g, t2 in zip(group, _rebuilt(members, source), strict=True):
            out[g] = t2
    return out


def settle(xs: np.ndarray, width: float, opts: IdentityOptions) -> np.ndarray:
    """int (n, rows): for each curve (row of ``xs``, in layout order) and each row, which trace
    (row of ``xs``) carries it. Identity where nothing changes.

    >>> rows = np.arange(400.0)
    >>> edge, wander = np.full(400, 90.0), 30 + 10 * np.sin(rows / 20)
    >>> xs = np.vstack([np.where(rows < 200, edge, wander), np.where(rows < 200, wander, edge)])
    >>> settle(xs, 100.0, IdentityOptions())[:, [0, 399]].tolist()  # both traces restart at row 200
    [[1, 0], [0, 1]]
    """
    n, rows = xs.shape
    identity = np.broadcast_to(np.arange(n)[:, None], (n, rows)).copy()
    events = _events(xs, width, opts)
    if not events:
        return identity
    starts = np.array([0] + [b for _, b, _ in events])
    stops = np.array([a for a, _, _ in events] + [rows])
    seg = _segments(xs, starts, stops)
    perms = list(itertools.permutations(range(n)))
    states = np.array(perms)  # state s: trace k carries curve states[s, k]
    lookup = {p: s for s, p in enumerate(perms)}
    moves = []  # per event: (next state per state, cost) for each permitted exchange
    for _, _, paths in events:
        options = [(np.arange(len(perms)), 0.0)]
        for a, b in itertools.combinations(range(n), 2):
            if a in paths or b in paths:  # the curves on traces a and b change traces
                swap = list(range(n))
                swap[a], swap[b] = b, a
                nxt = np.array([lookup[tuple(p[swap[k]] for k in range(n))] for p in perms])
                options.append((nxt, opts.exchange_cost))
        moves.append(options)
    starts_naming = [
        np.zeros(len(starts), np.int64),  # the tracer's own naming (state 0 is the identity)
        np.array([lookup[tuple(np.argsort(np.argsort(_keyed(m))))] for m in seg["mean"]]),  # left to right
    ]
    best = None
    for naming in starts_naming:
        for _ in range(opts.rounds):
            model = _fit(seg, states[naming], width, opts)
            cost, new = _viterbi(_emissions(seg, model, states, opts), moves, len(perms))
            if (new == naming).all():
                break
            naming = new
        if best is None or cost < best[0]:
            best = (cost, naming)
    assert best is not None
    naming = best[1]
    source = identity
    edges = np.r_[0, (stops[:-1] + starts[1:] + 1) // 2, rows]  # an event's rows split at its middle
    for j in range(len(starts)):
        carried = np.argsort(states[naming[j]])  # curve c is on trace carried[c]
        source[:, edges[j] : edges[j + 1]] = carried[:, None]
    return _named(xs, source, width, opts)


def _events(xs: np.ndarray, width: float, opts: IdentityOptions) -> list[tuple[int, int, set[int]]]:
    """Where the twins' traces may have exchanged curves, in row order: ``(first, stop, traces)``
    for each jump (a trace moving more than ``jump`` of the track width from one row with a value
    to the next: the tracer restarted) and each long contact (two traces within ``contact`` px
    for at least ``blind_rows`` rows, gaps of up to ``link_rows`` bridged); overlapping ones merged.

    >>> x = np.array([[10.0, 10.0, np.nan, 80.0, 80.0], [50.0, 50.0, 50.0, 50.0, 50.0]])
    >>> _events(x, 100.0, IdentityOptions())
    [(2, 3, {0})]
    """
    n, rows = xs.shape
    found = []
    for k in range(n):
        f = np.flatnonzero(np.isfinite(xs[k]))
        for i in np.flatnonzero(np.abs(np.diff(xs[k, f])) > opts.jump * width):
            found.append((int(f[i]) + 1, int(f[i + 1]), {k}))
    bridged = np.vstack([_bridge(x, opts.link_rows) for x in xs])
    for a, b in itertools.combinations(range(n), 2):
        with np.errstate(invalid="ignore"):
            close = np.abs(bridged[a] - bridged[b]) <= opts.contact
        for first, stop in zip(*_true_runs(close), strict=True):
            if stop - first >= opts.blind_rows:
                found.append((int(first), int(stop), {a, b}))
    merged: list[tuple[int, int, set[int]]] = []
    for first, stop, paths in sorted(found, key=lambda e: (e[0], e[1])):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop), merged[-1][2] | paths)
        else:
            merged.append((first, stop, set(paths)))
    return merged


def _bridge(x: np.ndarray, limit: int) -> np.ndarray:
    """``x`` with inner NaN gaps of at most ``limit`` rows linearly filled."""
    out = x.copy()
    for a, b in _inner_gaps(x):
        if b - a <= limit:
            out[a:b] = np.interp(np.arange(a, b), [a - 1, b], [x[a - 1], x[b]])
    return out


def _segments(xs: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> dict[str, np.ndarray]:
    """Per segment and trace: rows with a value, mean column and column variance (0 where none)."""
    n = xs.shape[0]
    count = np.zeros((len(starts), n))
    mean = np.full((len(starts), n), np.nan)
    var = np.zeros((len(starts), n))
    for j, (a, b) in enumerate(zip(starts, stops, strict=True)):
        part = xs[:, a:b]
        ok = np.isfinite(part)
        count[j] = ok.sum(axis=1)
        for k in np.flatnonzero(count[j]):
            v = part[k][ok[k]]
            mean[j, k], var[j, k] = v.mean(), v.var()
    return {"count": count, "mean": mean, "var": var}


def _keyed(mean: np.ndarray) -> np.ndarray:
    """Segment means with traces absent from the segment sorted last."""
    return np.where(np.isfinite(mean), mean, np.inf)


def _fit(seg: dict[str, np.ndarray], named: np.ndarray, width: float, opts) -> np.ndarray:
    """float (n, 2): each curve's column mean and spread over the segments named to it."""
    n = named.shape[1]
    model = np.zeros((n, 2))
    floor = opts.min_spread * width
    for c in range(n):
        w = np.where(named == c, seg["count"], 0.0)
        total = w.sum()
        if total == 0:
            model[c] = (np.nan, floor)
            continue
        m = np.nan_to_num(seg["mean"])
        mu = float((w * m).sum() / total)
        var = float((w * (seg["var"] + (m - mu) ** 2)).sum() / total)
        model[c] = (mu, max(np.sqrt(var), floor))
    return model


def _emissions(seg: dict[str, np.ndarray], model: np.ndarray, states: np.ndarray, opts) -> np.ndarray:
    """float (segments, states): each segment's naming cost under ``model``."""
    mu, sd = model[:, 0], model[:, 1]
    m = np.nan_to_num(seg["mean"])[:, :, None]
    fit = ((m - mu) ** 2 + seg["var"][:, :, None]) / (2 * sd**2) + np.log(sd)  # (segments, trace, curve)
    fit = np.where(np.isfinite(mu), fit, 0.0) * (seg["count"][:, :, None] / opts.decorrelation)
    n = states.shape[1]
    return fit[:, np.arange(n), states].sum(axis=2)


def _viterbi(emit: np.ndarray, moves: list, count: int) -> tuple[float, np.ndarray]:
    """(least total cost, state per segment) over segments joined by ``moves``."""
    cost = emit[0].copy()
    back = []
    for j, options in enumerate(moves):
        new = np.full(count, np.inf)
        arg = np.zeros(count, np.int64)
        for nxt, c in options:
            cand = cost + c
            better = cand < new[nxt]
            idx = np.flatnonzero(better)
            new[nxt[idx]] = cand[idx]
            arg[nxt[idx]] = idx
        back.append(arg)
        cost = new + emit[j + 1]
    state = int(np.argmin(cost))
    total = float(cost[state])
    path = [state]
    for arg in reversed(back):
        state = int(arg[state])
        path.append(state)
    return total, np.array(path[::-1])


def _named(xs: np.ndarray, source: np.ndarray, width: float, opts: IdentityOptions) -> np.ndarray:
    """``source`` with its curves renamed as one (the same renaming on every row): left to right
    by median column, the layout's order for curves of one look, where the medians stand at
    least ``order_gap`` of the track width apart; else so that the most rows keep the tracer's
    own name."""
    cols = np.arange(xs.shape[1])
    med = np.array([np.nanmedian(xs[s, cols]) if np.isfinite(xs[s, cols]).any() else np.nan for s in source])
    if np.isfinite(med).all() and (np.diff(np.sort(med)) >= opts.order_gap * width).all():
        return source[np.argsort(med, kind="stable")]
    return _most_like_traced(source)


def _most_like_traced(source: np.ndarray) -> np.ndarray:
    """``source`` with its curves renamed as one (the same renaming on every row) so that the most
    rows keep the tracer's own name: the tracer's naming convention (left to right) is kept, and
    only the stretches between contacts where the evidence disagrees with it change.

    >>> _most_like_traced(np.array([[1, 1, 0], [0, 0, 1]])).tolist()
    [[0, 0, 1], [1, 1, 0]]
    """
    n = source.shape[0]
    agree = np.array([[np.count_nonzero(source[c] == k) for k in range(n)] for c in range(n)])
    best = max(itertools.permutations(range(n)), key=lambda p: sum(agree[c, p[c]] for c in range(n)))
    out = np.empty_like(source)
    for c in range(n):
        out[best[c]] = source[c]
    return out


def _rebuilt(members: list[PixelTrace], source: np.ndarray) -> list[PixelTrace]:
    """Each member renamed onto the traces ``source`` names, row by row."""
    n, rows = source.shape
    cols = np.arange(rows)
    xs = np.vstack([m.x for m in members])
    filled = np.zeros((n, rows), bool)
    for k, m in enumerate(members):
        for lo, hi in m.filled:
            filled[k, lo - m.row0 : hi - m.row0 + 1] = True
    wraps = None
    if any(m.wrap is not None for m in members):
        wraps = np.vstack([np.zeros(rows, np.int8) if m.wrap is None else m.wrap for m in members])
    margins = None
    if all(m.margin is not None for m in members):
        margins = np.vstack([np.asarray(m.margin) for m in members])
    out = []
    for c, m in enumerate(members):
        s = source[c]
        if (s == c).all():
            out.append(m)
            continue
        first, stop = _true_runs(filled[s, cols])
        out.append(
            dataclasses.replace(
                m,
                x=xs[s, cols],
                filled=tuple((int(p) + m.row0, int(q) - 1 + m.row0) for p, q in zip(first, stop, strict=True)),
                wrap=None if wraps is None else wraps[s, cols],
                margin=None if margins is None else margins[s, cols],
            )
        )
    return out
