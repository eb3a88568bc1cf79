"""The cost model's features: one row per (piece, look) and per candidate link.

A *look* is what tells a curve apart on the scan: its declared class (solid 1 or dashed 2) and,
on a colour scan, its ``color``. Features are plain numbers so that :mod:`logdigit.research.fit_tracer`
can fit their weights by logistic regression and :mod:`.assign` can turn them into costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from logdigit.trace.graph import Pieces


@dataclass(frozen=True)
class Look:
    """How one group of a track's curves looks: declared class and colour (RGB, or None)."""

    klass: int
    rgb: tuple[int, int, int] | None


def mix_distance(colours: np.ndarray, ink, paper, min_ink: float = 0.15) -> np.ndarray:
    """float64 (n,) RGB distance of each colour from the nearest mix of ``ink`` and ``paper``.

    A thin, faded or anti-aliased stroke shows its ink mixed with the paper; the distance to the
    mix line, not to the ink itself, says whether the stroke is of that ink.

    >>> colours = np.array([[127.5, 127.5, 255.0], [255.0, 0.0, 0.0]])
    >>> mix_distance(colours, (0, 0, 255), (255, 255, 255)).round(1).tolist()
    [0.0, 312.3]
    """
    k, p = np.asarray(ink, np.float64), np.asarray(paper, np.float64)
    d = k - p
    alpha = np.clip((colours - p) @ d / max(float(d @ d), 1e-9), min_ink, 1.0)
    return np.linalg.norm(colours - p - alpha[:, None] * d, axis=1)


def node_features(
    p: Pieces, look: Look, rivals: list, edges: tuple[float, float], *, unit: float = 100.0, min_ink: float = 0.15
) -> np.ndarray:
    """float64 (n, 8) features of every piece for one look, in the order of ``NODE_TERMS``.

    ``rivals``: RGB of the other looks' colours in the track (for the relative colour term);
    ``edges``: the track's left and right edge in window columns; ``unit``: the RGB distance of
    one unit of colour difference; ``min_ink``: see :func:`mix_distance`.

    >>> from logdigit.trace.graph import pieces
    >>> m = np.zeros((3, 20, 10), bool); m[2, 2:18, 4:6] = True
    >>> node_features(pieces(m, None), Look(2, None), [], (0.0, 9.0)).round(2).tolist()
    [[1.0, 1.0, 0.0, 0.0, 0.0, 2.77, 0.0, 2.77]]
    """
    n = len(p)
    mine, other = (p.solid, p.dashed) if look.klass == 1 else (p.dashed, p.solid)
    colour = np.zeros(n)
    rival = np.zeros(n)
    if look.rgb is not None and n and p.paper is not None:
        colour = mix_distance(p.rgb, look.rgb, p.paper, min_ink) / unit
        if rivals:
            near = np.min([mix_distance(p.rgb, r, p.paper, min_ink) for r in rivals], axis=0) / unit
            rival = colour - near
    if n == 0:
        return np.zeros((0, 8))
    near = (np.abs(p.x[:, None] - np.asarray(edges)[None, :]) <= 1.5).any(1).astype(np.float64)
    counts = np.diff(p.offsets)
    edge = np.add.reduceat(near, p.offsets[:-1]) / counts
    span = np.maximum.reduceat(p.x, p.offsets[:-1]) - np.minimum.reduceat(p.x, p.offsets[:-1])
    straight = np.maximum(np.log(counts / (1.0 + span)), 0.0)
    return np.column_stack([np.ones(n), mine, other, colour, rival, np.log(p.length), edge, straight])


def link_candidates(
    p: Pieces, width: float, *, rows: int, fanout: int, max_leap: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate links (p -> q): q starts at most ``rows`` below p's end and comes after p in
    piece order (so the links form a DAG), and across a gap of two rows or more moves at most
    ``max_leap`` of the track width; the ``fanout`` nearest by gap and by distance from where p's
    end points (or from p's end, if nearer) are kept.

    Returns int64 arrays ``src, dst``.
    """
    n = len(p)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    src, dst = [], []
    x_top, x_bottom = p.x_top, p.x_bottom
    for i in range(n):
        lo = max(i + 1, int(np.searchsorted(p.top, p.bottom[i] - 1, side="left")))
        hi = int(np.searchsorted(p.top, p.bottom[i] + rows, side="right"))
        if hi <= lo:
            continue
        q = np.arange(lo, hi)
        gap = np.maximum(p.top[q] - p.bottom[i], 0)
        ok = (gap < 2) | (np.abs(x_top[q] - x_bottom[i]) <= max_leap * width)
        q, gap = q[ok], gap[ok]
        if len(q) == 0:
            continue
        miss = np.abs(x_top[q] - x_bottom[i] - np.clip(p.slope_bottom[i], -5, 5) * (gap + 1))
        score = gap / rows + 4.0 * np.minimum(miss, np.abs(x_top[q] - x_bottom[i])) / max(width, 1.0)
        keep = q[np.argsort(score, kind="stable")[:fanout]]
        src.append(np.full(len(keep), i))
        dst.append(np.sort(keep))
    if not src:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(src).astype(np.int64), np.concatenate(dst).astype(np.int64)


def link_features(p: Pieces, src: np.ndarray, dst: np.ndarray, width: float, *, unit: float = 100.0) -> np.ndarray:
    """float64 (m, 11) features of the links ``src -> dst``, in the order of ``LINK_TERMS``."""
    m = len(src)
    if m == 0:
        return np.zeros((0, 11))
    gap = np.maximum(p.top[dst] - p.bottom[src], 0).astype(np.float64)
    x0, x1 = p.x_bottom[src], p.x_top[dst]
    jump = np.abs(x1 - x0) / max(width, 1.0)
    miss = np.log1p(np.abs(x1 - (x0 + p.slope_bottom[src] * (gap + 1))))
    bend = np.abs(np.clip(p.slope_top[dst], -5, 5) - np.clip(p.slope_bottom[src], -5, 5))
    dwidth = np.abs(p.width[dst] - p.width[src])
    dshade = np.abs(p.shade[dst] - p.shade[src]) / 255.0
    dcol = np.zeros(m)
    if np.isfinite(p.rgb).all():
        dcol = np.linalg.norm(p.rgb[dst] - p.rgb[src], axis=1) / unit
    junction = ((p.node_bottom[src] >= 0) & (p.node_bottom[src] == p.node_top[dst])).astype(np.float64)
    both_dashed = np.minimum(p.dashed[src], p.dashed[dst])
    dash = both_dashed * np.abs(np.log(p.length[dst] / p.length[src]))
    leap = np.where(gap >= 2, jump, 0.0)
    return np.column_stack([np.ones(m), leap, np.log1p(gap), jump, miss, bend, dwidth, dshade, dcol, junction, dash])


def log_odds(features: np.ndarray, weights: tuple[float, ...]) -> np.ndarray:
    """float64 (n,) the features' log-odds under ``weights``."""
    return features @ np.asarray(weights, dtype=np.float64) if len(features) else np.zeros(0)
