"""Thresholding: VeerNet class probabilities -> one boolean mask per class."""

from __future__ import annotations

import math

import cv2
import numpy as np

_RANGE_SLACK = 1e-3  # softmax in float16 can overshoot 1 by a rounding step


def threshold(
    probs: np.ndarray,
    *,
    thresholds: tuple[float, float] = (0.5, 0.5),
    hysteresis: tuple[float, float] | tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> np.ndarray:
    """Turn class probabilities into masks: background, solid-line curve, dashed-line curve.

    ``masks[1] = probs[1] >= thresholds[0]`` and ``masks[2] = probs[2] >= thresholds[1]``;
    where both pass (possible only with thresholds below 0.5) the more probable class
    keeps the pixel; ``masks[0]`` is every pixel in neither. So each pixel is in exactly
    one mask. With ``hysteresis=(low, high)`` (one pair for both classes, or one pair
    per class) a pixel is kept when ``p >= low`` and it is 8-connected through such
    pixels to one with ``p >= high``, which keeps faint stretches of a line without
    keeping faint specks; ``thresholds`` is then unused. (This is
    :func:`skimage.filters.apply_hysteresis_threshold` but with 8-connectivity: its
    4-connected labelling cuts 1-px diagonal lines into single pixels.)

    Args:
        probs: float32 or float16 (3, H, W), softmax over classes, values in [0, 1].
        thresholds: (solid, dashed) probability thresholds, each in (0, 1].
        hysteresis: optional (low, high) or ((low1, high1), (low2, high2)), 0 < low <= high <= 1.

    Returns:
        bool (3, H, W), a new array; probs is not modified.

    Raises:
        ValueError: wrong shape, dtype, NaN or out-of-range values, bad thresholds.

    Example:
        >>> p = np.array([[[0.9, 0.2, 0.4]], [[0.1, 0.7, 0.1]], [[0.0, 0.1, 0.5]]], np.float32)
        >>> threshold(p).astype(int).tolist()
        [[[1, 0, 0]], [[0, 1, 0]], [[0, 0, 1]]]
    """
    _check_probs(probs)
    if hysteresis is not None:
        pairs = _check_hysteresis(hysteresis)
        solid = _hysteresis(probs[1], *pairs[0])
        dashed = _hysteresis(probs[2], *pairs[1])
    else:
        t1, t2 = _check_thresholds(thresholds)
        solid = probs[1] >= t1
        dashed = probs[2] >= t2
    return _partition(probs, solid, dashed)


def _hysteresis(prob: np.ndarray, low: float, high: float) -> np.ndarray:
    """bool (H, W): pixels >= low in an 8-connected component holding a pixel >= high."""
    weak = (prob >= low).view(np.uint8)
    count, labels = cv2.connectedComponents(weak, connectivity=8, ltype=cv2.CV_32S)
    keep = np.zeros(count, dtype=bool)
    keep[labels[prob >= high]] = True
    keep[0] = False  # label 0 is everything below low
    return keep[labels]


def _partition(probs: np.ndarray, solid: np.ndarray, dashed: np.ndarray) -> np.ndarray:
    """Stack the class masks so each pixel lands in exactly one of them."""
    both = solid & dashed
    if both.any():
        solid_wins = probs[1] >= probs[2]
        solid = solid & ~(both & ~solid_wins)
        dashed = dashed & ~(both & solid_wins)
    masks = np.empty((3, *probs.shape[1:]), dtype=bool)
    masks[1] = solid
    masks[2] = dashed
    np.logical_not(solid | dashed, out=masks[0])
    return masks


def _check_probs(probs: np.ndarray) -> None:
    if not isinstance(probs, np.ndarray):
        raise ValueError(f"probs must be a numpy array (3, H, W) float32, got {type(probs).__name__}")
    if probs.ndim != 3 or probs.shape[0] != 3 or probs.shape[1] == 0 or probs.shape[2] == 0:
        raise ValueError(f"probs must be (3, H, W) (background, solid, dashed), got shape {probs.shape}")
    if probs.dtype not in (np.float32, np.float16):
        raise ValueError(
            f"probs must be float32 or float16 softmax probabilities, got {probs.dtype}; "
            "pass the output of predict_proba (or probs.astype(np.float32))"
        )
    lo, hi = float(np.min(probs[1:])), float(np.max(probs[1:]))
    if math.isnan(lo) or math.isnan(hi):
        raise ValueError("probs holds NaN; the model output is broken (check the weights and the input scan)")
    if lo < -_RANGE_SLACK or hi > 1 + _RANGE_SLACK:
        raise ValueError(
            f"probs must be probabilities in [0, 1], got values from {lo:.4g} to {hi:.4g}; "
            "apply softmax over the class axis to logits first"
        )


def _check_thresholds(thresholds) -> tuple[float, float]:
    try:
        t1, t2 = (float(t) for t in thresholds)
    except (TypeError, ValueError):
        raise ValueError(f"thresholds must be two numbers (solid, dashed), got {thresholds!r}") from None
    for name, t in (("solid", t1), ("dashed", t2)):
        if not 0 < t <= 1:
            raise ValueError(f"the {name} threshold must be in (0, 1], got {t}")
    return t1, t2


def _check_hysteresis(hysteresis) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        arr = np.asarray(hysteresis, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.shape == (2,):
        arr = np.stack([arr, arr])
    if arr.shape != (2, 2):
        raise ValueError(f"hysteresis must be (low, high) or ((low1, high1), (low2, high2)), got {hysteresis!r}")
    for (low, high), name in zip(arr, ("solid", "dashed"), strict=True):
        if not 0 < low <= high <= 1:
            raise ValueError(f"{name} hysteresis needs 0 < low <= high <= 1, got low={low}, high={high}")
    return (float(arr[0, 0]), float(arr[0, 1])), (float(arr[1, 0]), float(arr[1, 1]))
