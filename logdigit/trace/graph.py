"""Skeleton pieces of one track window, each with the evidence measured under it.

The union of both curve classes is skeletonised (scikit-image) and its graph of branches between
end points and junctions is built by skan. A branch that turns back in depth is cut where it turns,
so that every piece is a run of consecutive pixel rows with one column per row (a curve is a
function of depth). A steep stroke across the track is one piece; a crossing is a junction where
pieces end.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from logdigit.errors import InputError

LONE = -2
"""End node of an isolated skeleton pixel (a dot): a free end."""


@dataclass(frozen=True)
class Pieces:
    """Row-monotone skeleton pieces of a window, in order of first row (then column).

    Attributes:
        top, bottom: int64 (n,) first and last window row of each piece (inclusive).
        offsets: int64 (n + 1,) piece i's rows are ``top[i] .. bottom[i]`` and its columns
            ``x[offsets[i]:offsets[i + 1]]``.
        x: float64 sub-pixel column (window coordinates) of each piece row.
        length: float64 (n,) skeleton path length in pixels.
        solid, dashed: float64 (n,) share of the network's solid / dashed class around the piece.
        rgb: float64 (n, 3) median RGB of the scan under the piece (NaN without a scan).
        width: float64 (n,) stroke width in pixels (twice the distance to the paper).
        shade: float64 (n,) grey level (0-255) of the scan under the piece.
        slope_top, slope_bottom: float64 (n,) columns per row at the first and last rows.
        node_top, node_bottom: int64 (n,) skeleton pixel at each end (shared by pieces that
            meet at a junction; -1 where a piece was cut inside a branch, -2 for a lone dot).
    """

    top: np.ndarray
    bottom: np.ndarray
    offsets: np.ndarray
    x: np.ndarray
    length: np.ndarray
    solid: np.ndarray
    dashed: np.ndarray
    rgb: np.ndarray
    paper: tuple[float, float, float] | None
    width: np.ndarray
    shade: np.ndarray
    slope_top: np.ndarray
    slope_bottom: np.ndarray
    node_top: np.ndarray
    node_bottom: np.ndarray

    def __len__(self) -> int:
        return len(self.top)

    def xs(self, i: int) -> np.ndarray:
        """Columns of piece ``i``, one per row from ``top[i]``."""
        return self.x[self.offsets[i] : self.offsets[i + 1]]

    @property
    def rows(self) -> np.ndarray:
        """int64 (n,) rows each piece covers."""
        return self.bottom - self.top + 1

    @property
    def x_top(self) -> np.ndarray:
        return self.x[self.offsets[:-1]]

    @property
    def x_bottom(self) -> np.ndarray:
        return self.x[self.offsets[1:] - 1]

    @property
    def x_median(self) -> np.ndarray:
        return np.array([np.median(self.xs(i)) for i in range(len(self))])


def pieces(masks: np.ndarray, rgb: np.ndarray | None, *, slope_rows: int = 6) -> Pieces:
    """The skeleton pieces of a window and their evidence.

    A piece's column on each row is the centre of the ink run its skeleton pixel lies in (where
    that run is no wider than a stroke; else the skeleton pixel's), so it is sub-pixel and does
    not depend on how thinning breaks ties. A free end (no junction) is carried on over the rows
    the thinning ate, as far as the ink goes, up to half the stroke width.

    Args:
        masks: bool (3, h, w) class masks of the window (0 paper, 1 solid, 2 dashed).
        rgb: uint8 (h, w, 3) scan of the window, or None.
        slope_rows: rows at each end over which the end slopes are fitted.

    Returns:
        :class:`Pieces` (possibly empty).

    Example:
        >>> m = np.zeros((3, 20, 10), bool); m[1, 2:18, 4:6] = True
        >>> p = pieces(m, None)
        >>> len(p), int(p.top[0]), int(p.bottom[0]), float(np.median(p.xs(0))), round(float(p.solid[0]), 2)
        (1, 2, 17, 4.5, 1.0)
    """
    try:
        from skan import Skeleton
        from skimage.morphology import skeletonize
    except ImportError as err:  # the optional extra
        raise InputError(
            f"the joint tracer needs skan and scikit-image ({err}); pip install 'logdigit[joint]'"
        ) from None

    ink = masks[1] | masks[2]
    skel = skeletonize(ink)
    runs: list[tuple[np.ndarray, np.ndarray, int, int]] = []  # rows, cols (path order), end nodes
    free = np.zeros(0, bool)  # per skeleton pixel id: an end point (degree 1)
    if skel.sum() >= 2:
        graph = Skeleton(skel)
        free = np.asarray(graph.degrees) == 1
        ids = graph.path_coordinates
        for i in range(graph.n_paths):
            coords = np.rint(ids(i)).astype(np.int64)
            nodes = graph.path(i)
            runs += _monotone(coords[:, 0], coords[:, 1], int(nodes[0]), int(nodes[-1]))
    lone = skel & (cv2.filter2D(skel.astype(np.uint8), -1, np.ones((3, 3), np.float32)) == 1)
    for r, c in zip(*np.nonzero(lone), strict=True):  # isolated skeleton pixels (dots of a dotted line)
        runs.append((np.array([r]), np.array([c]), LONE, LONE))
    return _measure(runs, masks, rgb, ink, slope_rows, free)


def _monotone(r: np.ndarray, c: np.ndarray, n0: int, n1: int) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """Cut one skeleton path where it turns back in depth; each part oriented top to bottom."""
    step = np.sign(np.diff(r))
    moving = np.nonzero(step)[0]
    cuts = [0]
    if len(moving):
        turns = moving[1:][step[moving[1:]] != step[moving[:-1]]]
        cuts += [int(k) for k in turns]  # the turning pixel ends one part and starts the next
    cuts.append(len(r) - 1)
    out = []
    for j, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        rr, cc = r[a : b + 1], c[a : b + 1]
        na = n0 if j == 0 else -1
        nb = n1 if j == len(cuts) - 2 else -1
        if rr[-1] < rr[0] or (rr[-1] == rr[0] and cc[-1] < cc[0]):
            rr, cc, na, nb = rr[::-1], cc[::-1], nb, na
        out.append((rr, cc, na, nb))
    return out


def _measure(runs, masks, rgb, ink: np.ndarray, slope_rows: int, free: np.ndarray) -> Pieces:
    n = len(runs)
    box = np.ones((3, 3), np.float32)
    solid_n = cv2.filter2D(masks[1].astype(np.float32), -1, box)
    dashed_n = cv2.filter2D(masks[2].astype(np.float32), -1, box)
    near_ink = np.maximum(solid_n + dashed_n, 1.0)
    near_solid = solid_n / near_ink  # the share of each class among the ink around a pixel
    near_dashed = dashed_n / near_ink
    dist = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 3)
    left, right = _run_edges(ink)
    grey = None
    paper = None
    if rgb is not None:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        r, g, b = (float(v) for v in np.median(rgb[::4, ::4].reshape(-1, 3), axis=0))
        paper = (r, g, b)
    top = np.zeros(n, np.int64)
    bottom = np.zeros(n, np.int64)
    counts = np.zeros(n, np.int64)
    xs, cols = [], []
    length = np.zeros(n)
    solid, dashed, width, shade = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    colour = np.full((n, 3), np.nan)
    s_top, s_bottom = np.zeros(n), np.zeros(n)
    node_top, node_bottom = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    order = sorted(range(n), key=lambda i: (int(runs[i][0][0]), int(runs[i][1][0]), int(runs[i][0][-1])))
    for k, i in enumerate(order):
        rr, cc, na, nb = runs[i]
        half = int(np.ceil(np.median(dist[rr, cc])))
        rr, cc = _extend(rr, cc, ink, half, na == LONE or (na >= 0 and free[na]), nb == LONE or (nb >= 0 and free[nb]))
        top[k], bottom[k] = rr[0], rr[-1]
        lo, hi = left[rr, cc], right[rr, cc]
        centre = np.where(hi - lo <= 2 * half, (lo + hi) / 2.0, cc)
        per_row = np.bincount(rr - rr[0], weights=centre)
        hits = np.bincount(rr - rr[0])
        xk = per_row / np.maximum(hits, 1)
        seen = hits > 0
        if not seen.all():  # a diagonal jump of more than one row cannot happen on an 8-connected path
            xk = np.interp(np.arange(len(xk)), np.nonzero(seen)[0], xk[seen])
        xs.append(xk)
        counts[k] = len(xk)
        length[k] = float(np.hypot(np.diff(rr), np.diff(cc)).sum()) + 1.0
        solid[k] = float(near_solid[rr, cc].mean())
        dashed[k] = float(near_dashed[rr, cc].mean())
        width[k] = 2.0 * float(np.median(dist[rr, cc]))
        if rgb is not None and grey is not None:
            colour[k] = np.median(rgb[rr, cc], axis=0)
            shade[k] = float(np.median(grey[rr, cc]))
        s_top[k], s_bottom[k] = _end_slope(xk[:slope_rows]), _end_slope(xk[-slope_rows:])
        node_top[k], node_bottom[k] = na, nb
        cols.append(cc)
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum(counts)
    return Pieces(
        top=top,
        bottom=bottom,
        offsets=offsets,
        x=np.concatenate(xs) if xs else np.zeros(0),
        length=length,
        solid=solid,
        dashed=dashed,
        rgb=colour,
        paper=paper,
        width=width,
        shade=shade,
        slope_top=s_top,
        slope_bottom=s_bottom,
        node_top=node_top,
        node_bottom=node_bottom,
    )


def _run_edges(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int32 (h, w) first and last column of the ink run each pixel lies in (on ink pixels)."""
    h, w = ink.shape
    cols = np.broadcast_to(np.arange(w, dtype=np.int32), (h, w))
    left = np.maximum.accumulate(np.where(ink, -1, cols), axis=1) + 1
    right = w - 2 - np.maximum.accumulate(np.where(ink, -1, w - 1 - cols)[:, ::-1], axis=1)[:, ::-1]
    return left.astype(np.int32), right.astype(np.int32)


def _extend(rr, cc, ink: np.ndarray, half: int, at_top: bool, at_bottom: bool):
    """Carry a piece's free ends on along their column while the ink goes on (at most ``half`` rows)."""
    h = ink.shape[0]
    if at_top:
        add = 0
        while add < half and rr[0] - add - 1 >= 0 and ink[rr[0] - add - 1, cc[0]]:
            add += 1
        if add:
            rr = np.concatenate([np.arange(rr[0] - add, rr[0]), rr])
            cc = np.concatenate([np.full(add, cc[0]), cc])
    if at_bottom:
        add = 0
        while add < half and rr[-1] + add + 1 < h and ink[rr[-1] + add + 1, cc[-1]]:
            add += 1
        if add:
            rr = np.concatenate([rr, np.arange(rr[-1] + 1, rr[-1] + add + 1)])
            cc = np.concatenate([cc, np.full(add, cc[-1])])
    return rr, cc


def _end_slope(x: np.ndarray) -> float:
    """Least-squares columns per row over ``x`` (0 for one row)."""
    if len(x) < 2:
        return 0.0
    t = np.arange(len(x), dtype=np.float64)
    t -= t.mean()
    return float(np.dot(t, x - x.mean()) / np.dot(t, t))
