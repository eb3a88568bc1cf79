"""Pixel metrics of the network's class masks against a print's pixel truth (one column per row).

The truth of a real print (the kit's ``*.truth.npz``) gives, for every curve, the column of its
ink at every pixel row of a section (NaN where the curve is not drawn). These functions score the
product's class masks (``threshold`` of ``predict_proba``) against it, inside the section's rows
and the layout's tracks:

* **centre-line recall** (:func:`centre_line_hits`): a truth point (row r, column x) is held by a
  class when some pixel of row r with ``|column - x| <= tol`` (1 px) carries that class. Points on
  rows where the scan has no ink within ``tol`` of x (the gaps of a dashed line, which the truth
  runs through) are left out and counted apart.
* **printed class**: a point is held with its curve's printed class (1 solid, 2 dashed), or with
  the class of another curve whose truth lies within ``COINCIDE`` px on that row: where curves
  coincide, the ink on top is the later curve's, and that is the class the print shows.
* **curve-pixel precision** (:func:`near_truth`): the share of predicted curve pixels (class 1 or 2)
  within ``tol`` (2 px, Euclidean) of some curve's truth path, the path drawn as a polyline
  through its per-row columns (so a stroke sweeping across many columns between two rows is truth
  along its length; a jump of more than half the track width is a wrap and is not joined).
* **what lies under a false pixel** (:func:`classify_false`), decided from the scan alone:
  grid line, flag/hatching (fills), text, other curve ink, plain paper; see that function.

All inputs are arrays in the section's own coordinates: row 0 is the section's first row.
numpy and OpenCV only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

INK_GREY = 200
"""A pixel is ink where its grey (ITU-R 601-2 luma) is below this: the kit's own 1-bit rule."""
PAPER_GREY = 245
"""A pixel is paper where its grey is at least this; between the two lie light tints (fills)."""
COINCIDE = 2.0
"""px: another curve whose truth lies this close on a row may own the ink on top there."""
FALSE_KINDS = ("grid", "fill", "text", "curve ink", "paper")
"""What a false curve pixel lies on, in the order the tests are applied."""


def grey(image: np.ndarray) -> np.ndarray:
    """float32 (H, W) grey (0.299 R + 0.587 G + 0.114 B) of a uint8 (H, W, 3) RGB image.

    >>> grey(np.array([[[255, 255, 255], [0, 0, 204]]], np.uint8)).round(1).tolist()
    [[255.0, 23.3]]
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (H, W, 3) RGB, got {image.shape} {image.dtype}")
    rgb = image.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def centre_line_hits(masks: np.ndarray, cols: np.ndarray, *, tol: float = 1.0) -> np.ndarray:
    """bool (3, n): for each row r, whether a pixel of row r within ``tol`` columns of ``cols[r]``
    carries class k (k = 0, 1, 2); all False where ``cols[r]`` is NaN.

    Args:
        masks: bool (3, n, W), one class per pixel (the output of ``threshold``).
        cols: float (n,), the truth column of one curve at each row; NaN where not drawn.
        tol: px, the largest horizontal distance from the truth column to a counted pixel.

    >>> masks = np.zeros((3, 3, 6), bool); masks[0] = True
    >>> masks[0, 0, 2] = False; masks[1, 0, 2] = True      # row 0: solid at column 2
    >>> masks[0, 1, 5] = False; masks[2, 1, 5] = True      # row 1: dashed at column 5
    >>> centre_line_hits(masks, np.array([3.0, 3.0, np.nan])).astype(int).tolist()
    [[1, 1, 0], [1, 0, 0], [0, 0, 0]]
    """
    if masks.ndim != 3 or masks.shape[0] != 3 or masks.dtype != bool:
        raise ValueError(f"masks must be bool (3, n, W), got {masks.shape} {masks.dtype}")
    if cols.shape != (masks.shape[1],):
        raise ValueError(f"cols must be ({masks.shape[1]},) (one per mask row), got {cols.shape}")
    n, w = masks.shape[1:]
    out = np.zeros((3, n), bool)
    rows = np.flatnonzero(np.isfinite(cols))
    lo = np.clip(np.ceil(cols[rows] - tol - 1e-9).astype(np.int64), 0, w)
    hi = np.clip(np.floor(cols[rows] + tol + 1e-9).astype(np.int64) + 1, 0, w)
    for k in range(3):
        # prefix sums along each row: pixels of class k in columns [lo, hi)
        csum = np.zeros((len(rows), w + 1), np.int32)
        np.cumsum(masks[k][rows], axis=1, out=csum[:, 1:])
        out[k, rows] = csum[np.arange(len(rows)), hi] > csum[np.arange(len(rows)), lo]
    return out


def ink_near(ink: np.ndarray, cols: np.ndarray, *, tol: float = 1.0) -> np.ndarray:
    """bool (n,): the scan has ink on row r within ``tol`` columns of ``cols[r]`` (False at NaN).

    >>> ink = np.zeros((3, 6), bool); ink[0, 4] = True; ink[1, 5] = True
    >>> ink_near(ink, np.array([3.0, 3.0, 3.0])).tolist()
    [True, False, False]
    """
    stacked = np.stack([~ink, ink, np.zeros_like(ink)])
    return centre_line_hits(stacked, cols, tol=tol)[1]


def truth_path(shape: tuple[int, int], curves: Sequence[tuple[np.ndarray, float, np.ndarray | None]]) -> np.ndarray:
    """bool (H, W): every curve's truth drawn as a 1-px polyline through its per-row columns.

    Consecutive drawn rows are joined unless the column jumps by more than half the track
    width at a wrap (the curve leaves at one edge and comes back at the other; the truth
    flags the rows around the jump). A fast sweep across the track is joined.

    Args:
        shape: (H, W) of the section.
        curves: per curve, (cols float (H,), track width px, wrap flags bool (H,) or None:
            then every jump over half the width is taken for a wrap).

    >>> path = truth_path((3, 8), [(np.array([1.0, 5.0, np.nan]), 20.0, None)])
    >>> path.astype(int).tolist()
    [[0, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]
    """
    out = np.zeros(shape, np.uint8)
    for cols, width, wrap in curves:
        x = np.asarray(cols, np.float64)
        drawn = np.flatnonzero(np.isfinite(x))
        xi = np.rint(x[drawn]).astype(np.int64)
        out[drawn, np.clip(xi, 0, shape[1] - 1)] = 1
        flag = np.ones(len(x), bool) if wrap is None else np.asarray(wrap, bool)
        r = drawn[:-1]
        jump = (np.abs(np.diff(x[drawn])) > width / 2) & (flag[r] | flag[r + 1])
        joined = r[(np.diff(drawn) == 1) & ~jump]
        for r in joined[np.abs(x[joined + 1] - x[joined]) > 1]:  # only strokes that leave their column
            cv2.line(out, (int(round(x[r])), int(r)), (int(round(x[r + 1])), int(r + 1)), 1, 1)
    return out.astype(bool)


def near_truth(path: np.ndarray, *, tol: float = 2.0) -> np.ndarray:
    """bool (H, W): pixels within ``tol`` px (Euclidean) of a pixel of ``path``.

    >>> p = np.zeros((1, 7), bool); p[0, 3] = True
    >>> near_truth(p, tol=2.0).astype(int).tolist()
    [[0, 1, 1, 1, 1, 1, 0]]
    """
    if not path.any():
        return np.zeros(path.shape, bool)
    dist = cv2.distanceTransform((~path).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= tol + 1e-6


def grid_lines(ink: np.ndarray, *, min_len: int) -> np.ndarray:
    """bool (H, W): ink on straight horizontal or vertical runs at least ``min_len`` px long.

    A morphological opening of the ink with a 1 x ``min_len`` and a ``min_len`` x 1 line keeps
    exactly the pixels that lie on such a run: the grid's rulings, track borders and the
    heavy depth lines (the ones a print draws across a whole track), not curves or text.

    >>> ink = np.zeros((5, 9), bool); ink[2, :] = True; ink[0, 1:4] = True
    >>> grid_lines(ink, min_len=6).astype(int).sum(axis=1).tolist()
    [0, 0, 9, 0, 0]
    """
    if min_len < 2:
        raise ValueError(f"min_len must be at least 2 px, got {min_len}")
    u8 = ink.astype(np.uint8)
    horiz = cv2.morphologyEx(u8, cv2.MORPH_OPEN, np.ones((1, min_len), np.uint8))
    vert = cv2.morphologyEx(u8, cv2.MORPH_OPEN, np.ones((min_len, 1), np.uint8))
    return (horiz | vert).astype(bool)


def classify_false(
    false: np.ndarray,
    *,
    ink: np.ndarray,
    tint: np.ndarray,
    grid: np.ndarray,
    curve: np.ndarray,
    text_height: int,
) -> dict[str, int]:
    """Count false curve pixels by what lies under them, each in the first kind that fits.

    * ``grid``: within 1 px of grid ink (:func:`grid_lines`).
    * ``fill`` and ``text``: within 1 px of marks that are neither grid nor curve ink: ink or
      light tint (``tint``, paper that is not white, e.g. a flag's fill) outside the grid and
      more than 2 px from every curve's truth. The marks are joined by a 5 x 5 closing (letters
      of a word, dots of a stipple, strokes of hatching) and each joined piece is ``text`` when
      its bounding box is at most ``text_height`` rows tall, else ``fill`` (flags, hatching,
      shading: pieces taller than a line of print).
    * ``curve ink``: on or within 1 px of ink that lies within 2 px of a curve's truth
      (``curve``): a curve's own ink, more than 2 px from its path (thick strokes, pen ends).
    * ``paper``: none of these.

    Args:
        false: bool (H, W), predicted curve pixels more than 2 px from every truth path.
        ink: bool (H, W), ink pixels of the scan; tint: bool (H, W), non-white non-ink pixels.
        grid: bool (H, W), from :func:`grid_lines`; curve: bool (H, W), within 2 px of a truth path.
        text_height: px, the tallest piece called text (about a fifth of an inch).

    >>> z = np.zeros((30, 12), bool)
    >>> ink, tint = z.copy(), z.copy()
    >>> ink[:, 0] = True; grid = ink.copy()      # a ruling
    >>> ink[2:5, 5:8] = True                     # a letter, 3 rows tall
    >>> tint[10:30, 5:11] = True                 # a fill, 20 rows tall
    >>> false = z.copy(); false[0, 1] = false[3, 6] = false[20, 8] = false[20, 3] = True
    >>> classify_false(false, ink=ink, tint=tint, grid=grid, curve=z, text_height=8)
    {'grid': 1, 'fill': 1, 'text': 1, 'curve ink': 0, 'paper': 1}
    """
    near = np.ones((3, 3), np.uint8)

    def grow(mask: np.ndarray) -> np.ndarray:
        return cv2.dilate(mask.astype(np.uint8), near).astype(bool)

    marks = (ink | tint) & ~grid & ~curve
    joined = cv2.morphologyEx(marks.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) | marks
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined.astype(np.uint8), connectivity=8)
    tall = stats[:, cv2.CC_STAT_HEIGHT] > text_height
    tall[0] = False
    piece = labels > 0
    kinds = {
        "grid": grow(grid),
        "fill": grow(piece & tall[labels] & marks),
        "text": grow(piece & ~tall[labels] & marks),
        "curve ink": grow(ink & curve),
    }
    left = false.copy()
    out = {}
    for name, where in kinds.items():
        out[name] = int((left & where).sum())
        left &= ~where
    out["paper"] = int(left.sum())
    return out


def share(num: int, den: int) -> float | None:
    """``num / den`` rounded to 4 places, None when ``den`` is 0.

    >>> share(3, 4), share(0, 0)
    (0.75, None)
    """
    return round(num / den, 4) if den else None


def score_section(
    masks: np.ndarray,
    image: np.ndarray,
    truth: Mapping[str, np.ndarray],
    classes: Mapping[str, int],
    tracks: Sequence[tuple[int, int]],
    *,
    curve_tracks: Mapping[str, tuple[float, float]],
    text_height: int,
    grid_len: int,
    wraps: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """Every figure of one section: recall per class and for any class, precision, the false
    pixels by what lies under them, and recall within 1 px of a track border.

    Args:
        masks: bool (3, H, W), the class masks of the section's rows (all columns).
        image: uint8 (H, W, 3), the scan's same rows.
        truth: mnemonic -> float (H,), truth columns.
        classes: mnemonic -> printed class (1 solid, 2 dashed).
        tracks: the layout's (left, right) track columns: precision counts predictions in them.
        curve_tracks: mnemonic -> (left, right) of the curve's track (its width tells a wrap).
        text_height: px, see :func:`classify_false`; grid_len: px, see :func:`grid_lines`.
        wraps: mnemonic -> bool (H,), the truth's wrap flags (see :func:`truth_path`).

    Returns:
        dict of counts and shares (see ``docs/evaluate-real.md``).
    """
    h, w = masks.shape[1:]
    if image.shape[:2] != (h, w):
        raise ValueError(f"image must cover the masks' {h} x {w} px, got {image.shape[:2]}")
    g = grey(image)
    ink, tint = g < INK_GREY, (g >= INK_GREY) & (g < PAPER_GREY)
    names = [m for m in classes if m in truth]
    hits = {m: centre_line_hits(masks, truth[m], tol=1.0) for m in names}
    inked = {m: ink_near(ink, truth[m], tol=1.0) for m in names}
    borders = np.array(sorted({c for t in tracks for c in t}), np.float64)
    per_class = {1: np.zeros(4, np.int64), 2: np.zeros(4, np.int64)}  # points, printed, strict, any
    anyc = np.zeros(4, np.int64)  # points, any-class hits, points on every drawn row, hits there
    edge = np.zeros(2, np.int64)
    curves_out = {}
    for m in names:
        cols, k = truth[m], classes[m]
        drawn = np.isfinite(cols)
        ok = inked[m]
        anyhit = hits[m][1] | hits[m][2]
        printed = hits[m][k].copy()
        for o in names:  # coinciding curves: the ink on top may be the other curve's class
            if o != m and classes[o] != k:
                with np.errstate(invalid="ignore"):
                    close = np.abs(truth[o] - cols) <= COINCIDE
                printed |= close & hits[m][classes[o]]
        row = np.array([ok.sum(), (printed & ok).sum(), (hits[m][k] & ok).sum(), (anyhit & ok).sum()])
        per_class[k] += row
        anyc += [ok.sum(), (anyhit & ok).sum(), drawn.sum(), (anyhit & drawn).sum()]
        with np.errstate(invalid="ignore"):
            at_edge = ok & (np.min(np.abs(cols[:, None] - borders[None, :]), axis=1) <= 1.0)
        edge += [at_edge.sum(), (anyhit & at_edge).sum()]
        curves_out[m] = {
            "class": k,
            "drawn_rows": int(drawn.sum()),
            "ink_rows": int(ok.sum()),
            "recall_any": share(int(row[3]), int(row[0])),
            "recall_printed": share(int(row[1]), int(row[0])),
        }
    wraps = wraps or {}
    path = truth_path((h, w), [(truth[m], float(np.diff(curve_tracks[m])[0]), wraps.get(m)) for m in names])
    curve = near_truth(path, tol=2.0)
    inside = np.zeros(w, bool)
    for left, right in tracks:
        inside[max(left, 0) : min(right + 1, w)] = True
    pred = (masks[1] | masks[2]) & inside[None, :]
    false = pred & ~curve
    kinds = classify_false(
        false, ink=ink, tint=tint, grid=grid_lines(ink, min_len=grid_len), curve=curve, text_height=text_height
    )
    n_pred, n_false = int(pred.sum()), int(false.sum())
    return {
        "rows": h,
        "recall": {
            "any": share(int(anyc[1]), int(anyc[0])),
            **{
                name: share(int(per_class[k][1]), int(per_class[k][0]))
                for k, name in ((1, "solid printed"), (2, "dashed printed"))
            },
            "printed": share(int(per_class[1][1] + per_class[2][1]), int(per_class[1][0] + per_class[2][0])),
            "printed strict": share(int(per_class[1][2] + per_class[2][2]), int(per_class[1][0] + per_class[2][0])),
            **{
                name: share(int(per_class[k][3]), int(per_class[k][0]))
                for k, name in ((1, "solid any"), (2, "dashed any"))
            },
            "any, every drawn row": share(int(anyc[3]), int(anyc[2])),
            "any, within 1 px of a track border": share(int(edge[1]), int(edge[0])),
        },
        "points": {
            "ink rows": int(anyc[0]),
            "drawn rows": int(anyc[2]),
            "solid": int(per_class[1][0]),
            "dashed": int(per_class[2][0]),
            "at a border": int(edge[0]),
        },
        "precision": share(n_pred - n_false, n_pred),
        "predicted pixels": n_pred,
        "false pixels": {"total": n_false, **kinds},
        "curves": curves_out,
    }
