"""Preprocessing: scan image -> network input, and optional deskew with its layout mapping.

Angles are in degrees, positive counter-clockwise as the image is displayed (row 0 at the
top), the OpenCV convention of :func:`cv2.getRotationMatrix2D`. :func:`estimate_skew`
returns the angle the page content is rotated by; :func:`deskew` undoes it and returns the
2x3 affine that maps original pixel coordinates (x = column, y = row) to deskewed ones.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import cv2
import numpy as np

from logdigit.errors import InputError
from logdigit.io.layout import Layout

log = logging.getLogger(__name__)

_MAX_SAMPLES = 400_000  # ink pixels used per profile: plenty for a sharp optimum, fast to bin
STRIP_ROWS = 4096
"""Rows :func:`deskew` warps at a time: OpenCV's remap (behind warpAffine) breaks past 32767 rows or columns."""


def to_model_input(image: np.ndarray) -> np.ndarray:
    """Scale an RGB scan to the network's input: float32 (3, H, W) in [0, 1].

    VeerNet normalises internally, so this is only ``image / 255`` in channel-first order.
    :func:`logdigit.model.inference.predict_proba` converts a uint8 scan with this function,
    one band of rows at a time, on the CPU (on CUDA, the uint8 band crosses to the device and
    is scaled there by the same formula).

    Args:
        image: uint8 (H, W, 3) RGB.

    Returns:
        float32 (3, H, W), a new array (its memory keeps the scan's channels-last order,
        which is what the tiled inference copies windows from fastest).

    Example:
        >>> x = to_model_input(np.full((2, 4, 3), 255, np.uint8))
        >>> x.shape, x.dtype, float(x.max())
        ((3, 2, 4), dtype('float32'), 1.0)
    """
    _check_image(image, "image")
    out = image.transpose(2, 0, 1).astype(np.float32)  # (H, W, 3) -> (3, H, W), memory order kept
    out /= 255.0
    return out


def estimate_skew(image: np.ndarray, *, max_angle: float = 5.0) -> float:
    """Estimate the page rotation from the long rulings (track borders, grid lines).

    Projection profiles of the dark pixels are scored for sharpness over candidate
    angles: columns for the vertical rulings, rows for the horizontal ones; the angle
    whose profiles are sharpest wins (coarse 0.1 degree search, then 0.005 degree, then a
    parabola through the best three).

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey.
        max_angle: search range in degrees, ``-max_angle .. max_angle`` (0 < max_angle <= 20).

    Returns:
        The content's rotation in degrees (counter-clockwise positive); 0.0 when the
        page has no clear rulings or the optimum sits at the edge of the range.

    Example:
        >>> page = np.full((200, 200, 3), 255, np.uint8)
        >>> page[:, 50] = page[:, 150] = page[100] = 0
        >>> round(estimate_skew(page), 2)
        0.0
    """
    _check_image(image, "image", grey_ok=True)
    if not 0 < max_angle <= 20:
        raise ValueError(f"max_angle must be in (0, 20] degrees, got {max_angle}")
    return _estimate_skew(_ink_mask(image), float(max_angle))


def deskew(image: np.ndarray, angle: float, *, strip_rows: int = STRIP_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the page by ``-angle`` degrees about its centre, keeping its size.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grey; not modified.
        angle: the content's rotation as :func:`estimate_skew` returns it, degrees.
        strip_rows: output rows warped at a time (the result is the same, to 1 grey level, for any value).

    Returns:
        (rotated, affine): rotated has the same shape and dtype (corners filled white,
        bilinear resampling); affine is float64 (2, 3) mapping original (x, y) to rotated.

    Example:
        >>> page = np.full((5, 7, 3), 255, np.uint8)
        >>> out, affine = deskew(page, 0.0)
        >>> out.shape, affine.tolist()
        ((5, 7, 3), [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    """
    _check_image(image, "image", grey_ok=True)
    if not math.isfinite(angle) or abs(angle) > 45:
        raise ValueError(f"angle must be a finite number of degrees in [-45, 45], got {angle}")
    if not isinstance(strip_rows, int) or not 1 <= strip_rows <= 32766:
        raise ValueError(f"strip_rows must be an int in [1, 32766], got {strip_rows!r}")
    h, w = image.shape[:2]
    affine = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -float(angle), 1.0)
    if angle == 0:
        return image.copy(), np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if w >= 32767:
        raise InputError(f"cannot deskew a scan {w} px wide (OpenCV's limit is 32766); turn it so depth runs down")
    return _warp_in_strips(image, affine, strip_rows), affine


def map_layout(layout: Layout, affine: np.ndarray, *, shape: tuple[int, int] | None = None) -> Layout:
    """Carry a layout measured on the original scan onto the deskewed one.

    Track edges are mapped at the middle of the digitised rows, digitised rows and depth
    ties at the middle of the tracks (where a rotation moves them by the amount that
    matters). Edges and digitised rows are then clipped into the image.

    Args:
        layout: the layout in original pixel coordinates; not modified.
        affine: float (2, 3) from :func:`deskew` (original -> deskewed).
        shape: (H, W) of the image; by default the size whose centre is the rotation
            centre of ``affine`` (what :func:`deskew` rotates about).

    Returns:
        A new :class:`Layout` in deskewed pixel coordinates.

    Example:
        >>> from logdigit.io.layout import DepthSpec, Track
        >>> lay = Layout(DepthSpec("FT", 0.5, ((0, 1000.0), (99, 1010.0))), (Track(10, 40),))
        >>> map_layout(lay, np.array([[1.0, 0, 2], [0, 1, 0]]), shape=(100, 60)).tracks[0].left
        12
    """
    affine = _check_affine(affine)
    if not layout.tracks:
        raise InputError("the layout has no tracks to map; add at least one [[track]]")
    shape = _implied_shape(affine) if shape is None else (int(shape[0]), int(shape[1]))
    x_mid = (min(t.left for t in layout.tracks) + max(t.right for t in layout.tracks)) / 2
    if layout.depth.rows is not None:
        y_mid = sum(layout.depth.rows) / 2
    else:
        y_mid = _fixed_point(affine)[1] if shape is None else (shape[0] - 1) / 2

    def col(x: float) -> int:
        c = int(round(float(_map_points(affine, x, y_mid)[0])))
        return c if shape is None else min(max(c, 0), shape[1] - 1)

    def row(y: float) -> float:
        return float(_map_points(affine, x_mid, y)[1])

    tracks = tuple(dataclasses.replace(t, left=col(t.left), right=col(t.right)) for t in layout.tracks)
    ties = tuple((row(r), d) for r, d in layout.depth.ties)
    rows = layout.depth.rows
    if rows is not None:
        first, last = (int(round(row(r))) for r in rows)
        if shape is not None:
            first, last = max(first, 0), min(last, shape[0] - 1)
        rows = (first, last)
    depth = dataclasses.replace(layout.depth, ties=ties, rows=rows)
    return dataclasses.replace(layout, depth=depth, tracks=tracks)


def unmap_points(x, y, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map deskewed pixel coordinates back onto the original scan.

    Args:
        x: columns in the deskewed image, scalar or array (NaN stays NaN).
        y: rows in the deskewed image, same shape as ``x``.
        affine: float (2, 3) from :func:`deskew` (original -> deskewed).

    Returns:
        (x, y) float64 arrays in original pixel coordinates.

    Example:
        >>> xo, yo = unmap_points(12.0, 5.0, np.array([[1.0, 0, 2], [0, 1, 0]]))
        >>> float(xo), float(yo)
        (10.0, 5.0)
    """
    inverse = cv2.invertAffineTransform(_check_affine(affine))
    return _map_points(inverse, x, y)


# --------------------------------------------------------------------------- helpers


def _check_image(image: np.ndarray, name: str, *, grey_ok: bool = False) -> None:
    is_array = isinstance(image, np.ndarray)
    ok_shape = is_array and ((image.ndim == 3 and image.shape[2] == 3) or (grey_ok and image.ndim == 2))
    if not ok_shape or image.dtype != np.uint8 or image.size == 0:
        want = "(H, W, 3) or (H, W)" if grey_ok else "(H, W, 3)"
        got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"{name} must be a non-empty uint8 {want} array (read_scan gives one), got {got}")


def _check_affine(affine) -> np.ndarray:
    m = np.asarray(affine, dtype=np.float64)
    if m.shape != (2, 3) or not np.isfinite(m).all():
        raise ValueError(f"affine must be a finite (2, 3) matrix as deskew returns, got shape {m.shape}")
    return m


def _map_points(affine: np.ndarray, x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return (
        affine[0, 0] * x + affine[0, 1] * y + affine[0, 2],
        affine[1, 0] * x + affine[1, 1] * y + affine[1, 2],
    )


def _fixed_point(affine: np.ndarray) -> np.ndarray:
    """The rotation centre (the point the affine leaves in place); (0, 0) for a shift."""
    a = np.eye(2) - affine[:, :2]
    if abs(np.linalg.det(a)) < 1e-12:
        return np.zeros(2)
    return np.linalg.solve(a, affine[:, 2])


def _implied_shape(affine: np.ndarray) -> tuple[int, int] | None:
    """(H, W) of an image rotated about its centre by ``affine``; None for a pure shift."""
    if abs(np.linalg.det(np.eye(2) - affine[:, :2])) < 1e-12:
        return None
    cx, cy = _fixed_point(affine)
    h, w = int(round(2 * cy + 1)), int(round(2 * cx + 1))
    return (h, w) if h > 0 and w > 0 else None


def _ink_mask(image: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels darker than the Otsu threshold (ink on paper)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    level, _ = cv2.threshold(grey[:: max(1, grey.shape[0] // 2000)], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return grey < max(level, 1)


def _estimate_skew(ink: np.ndarray, max_angle: float) -> float:
    """Sharpest projection profiles over candidate angles (see :func:`estimate_skew`)."""
    if np.count_nonzero(ink[:: max(1, ink.shape[0] // 500)]) < 50:
        log.info("skew: too little ink to measure; assuming 0")
        return 0.0
    vert = _ink_coords(ink)  # (x, y) of ink, rows thinned: for vertical rulings
    horiz = _ink_coords(ink.T)[::-1]  # columns thinned: for horizontal rulings

    def score(angle: float) -> float:
        t = math.tan(math.radians(angle))
        return _sharpness(vert[0] - vert[1] * t) + _sharpness(horiz[1] + horiz[0] * t)

    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.1)
    coarse_scores = np.array([score(a) for a in coarse])
    best = float(coarse[np.argmax(coarse_scores)])
    if coarse_scores.max() < 1.1 * np.median(coarse_scores):
        log.info("skew: no clear rulings; assuming 0")
        return 0.0
    fine = np.arange(best - 0.1, best + 0.1 + 1e-9, 0.005)
    fine_scores = np.array([score(a) for a in fine])
    k = int(np.clip(np.argmax(fine_scores), 1, len(fine) - 2))
    s0, s1, s2 = fine_scores[k - 1 : k + 2]
    curvature = s0 - 2 * s1 + s2
    angle = float(fine[k] + (0.5 * 0.005 * (s0 - s2) / curvature if curvature < 0 else 0.0))
    if abs(angle) > max_angle - 0.05:
        log.info("skew: optimum %.2f deg at the edge of the search range; assuming 0", angle)
        return 0.0
    return angle


def _ink_coords(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 (x, y) of ink pixels from every k-th row, at most about _MAX_SAMPLES."""
    step = max(1, int(np.count_nonzero(ink[::16]) * 16 // _MAX_SAMPLES) + 1)
    ys, xs = np.nonzero(ink[::step])
    return xs.astype(np.float64), ys.astype(np.float64) * step


def _sharpness(u: np.ndarray) -> float:
    """Sum of squared counts of a linearly binned 1-px histogram: high when u clusters."""
    if u.size == 0:
        return 0.0
    u = u - u.min()
    lo = np.floor(u)
    frac = u - lo
    lo = lo.astype(np.intp)
    hist = np.bincount(lo, weights=1 - frac, minlength=lo.max() + 2)
    hist += np.bincount(lo + 1, weights=frac, minlength=hist.size)[: hist.size]
    return float(np.dot(hist, hist))


def _warp_in_strips(image: np.ndarray, affine: np.ndarray, strip_rows: int) -> np.ndarray:
    """warpAffine in horizontal strips, each from only the source rows it needs."""
    h, w = image.shape[:2]
    inverse = cv2.invertAffineTransform(affine)
    out = np.empty_like(image)
    fill = (255,) * (1 if image.ndim == 2 else image.shape[2])
    for top in range(0, h, strip_rows):
        bottom = min(top + strip_rows, h)
        corners_x = np.array([0, w - 1, 0, w - 1], dtype=np.float64)
        corners_y = np.array([top, top, bottom - 1, bottom - 1], dtype=np.float64)
        src_y = _map_points(inverse, corners_x, corners_y)[1]
        s0 = max(int(math.floor(src_y.min())) - 2, 0)
        s1 = min(int(math.ceil(src_y.max())) + 3, h)
        strip = affine.copy()
        strip[:, 2] += strip[:, 1] * s0  # source rows start at s0
        strip[1, 2] -= top  # destination rows start at top
        if s1 <= s0:
            out[top:bottom] = 255
            continue
        out[top:bottom] = cv2.warpAffine(
            image[s0:s1],
            strip,
            (w, bottom - top),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=fill,
        ).reshape(out[top:bottom].shape)
    return out
