"""Segmentation and curve metrics (numpy only).

Pixel metrics accumulate a confusion matrix over many sheets, so a test set of any
size is summarised exactly (micro-averaged over pixels). Calibration error is the
expected calibration error of the predicted class's confidence in equal-width bins
(ECE), overall and inside the boundary band of the curves (BECE).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

NUM_CLASSES = 3


def confusion(pred: np.ndarray, truth: np.ndarray, *, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """int64 (C, C) confusion matrix, rows = truth, columns = prediction.

    >>> confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    """
    idx = truth.astype(np.int64).ravel() * num_classes + pred.astype(np.int64).ravel()
    return np.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def scores_from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and IoU, float64 (C,); NaN where undefined.

    >>> s = scores_from_confusion(np.array([[5, 1], [1, 3]]))
    >>> [round(float(v), 3) for v in s["f1"]], [round(float(v), 3) for v in s["iou"]]
    ([0.833, 0.75], [0.714, 0.6])
    """
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(0) - tp
    fn = cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = 2 * tp / (2 * tp + fp + fn)
        iou = tp / (tp + fp + fn)
    return {"precision": precision, "recall": recall, "f1": f1, "iou": iou}


def tolerant_counts(pred: np.ndarray, truth: np.ndarray, klass: int, *, tol: int = 1) -> np.ndarray:
    """int64 [tp_pred, n_pred, tp_truth, n_truth] for F1 within ``tol`` px (chessboard distance).

    A predicted pixel counts as correct when a true pixel of the class lies within
    ``tol``; a true pixel counts as found when a predicted one lies within ``tol``.
    """
    p, t = pred == klass, truth == klass
    k = np.ones((2 * tol + 1, 2 * tol + 1), bool)
    near_t = ndimage.binary_dilation(t, structure=k)
    near_p = ndimage.binary_dilation(p, structure=k)
    return np.array([(p & near_t).sum(), p.sum(), (t & near_p).sum(), t.sum()], np.int64)


def tolerant_f1(counts: np.ndarray) -> float:
    """F1 from accumulated :func:`tolerant_counts`."""
    tp_p, n_p, tp_t, n_t = (float(v) for v in counts)
    precision = tp_p / n_p if n_p else float("nan")
    recall = tp_t / n_t if n_t else float("nan")
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def calibration_bins(
    probs: np.ndarray, truth: np.ndarray, *, bins: int = 15, mask: np.ndarray | None = None
) -> np.ndarray:
    """float64 (bins, 3): per confidence bin [count, sum of confidence, sum of correct].

    ``probs`` float (C, H, W) softmax; ``truth`` int (H, W); ``mask`` bool (H, W) limits the pixels.
    """
    conf = probs.max(axis=0)
    correct = (probs.argmax(axis=0) == truth).astype(np.float64)
    if mask is not None:
        conf, correct = conf[mask], correct[mask]
    b = np.minimum((conf.ravel() * bins).astype(np.int64), bins - 1)
    out = np.zeros((bins, 3))
    out[:, 0] = np.bincount(b, minlength=bins)
    out[:, 1] = np.bincount(b, weights=conf.ravel().astype(np.float64), minlength=bins)
    out[:, 2] = np.bincount(b, weights=correct.ravel(), minlength=bins)
    return out


def ece(bins: np.ndarray) -> float:
    """Expected calibration error from accumulated :func:`calibration_bins`.

    >>> ece(np.array([[10, 9.0, 9.0], [10, 5.0, 6.0]]))
    0.05
    """
    n = bins[:, 0].sum()
    if n == 0:
        return float("nan")
    return float(np.abs(bins[:, 1] - bins[:, 2]).sum() / n)


def boundary_band(labels: np.ndarray, *, width: int = 1) -> np.ndarray:
    """bool (H, W): pixels within ``width`` px of a class change (the curves' edge band)."""
    k = np.ones((2 * width + 1, 2 * width + 1), bool)
    band = np.zeros(labels.shape, bool)
    for c in np.unique(labels):
        m = labels == c
        # border_value=1: the image border is not a class edge.
        band |= ndimage.binary_dilation(m, structure=k) & ~ndimage.binary_erosion(m, structure=k, border_value=1)
    return band


def curve_errors(x_pred: np.ndarray, x_true: np.ndarray, width: float) -> dict[str, float]:
    """Curve-level error of one traced curve against its truth, per pixel row.

    Args:
        x_pred: float (n,) traced column per row, NaN = not traced.
        x_true: float (n,) true column per row, NaN = no curve.
        width: track width in px (the normaliser).

    Returns:
        ``nmae`` (mean |error| / width over rows traced and true), ``within2``
        (share of true rows traced within 2 % of width), ``coverage`` (share of true
        rows traced), ``n`` (true rows).

    >>> r = curve_errors(np.array([1.0, 2.0, np.nan]), np.array([1.0, 3.0, 5.0]), 100.0)
    >>> r["nmae"], r["coverage"], round(r["within2"], 3)
    (0.005, 0.6666666666666666, 0.667)
    """
    have = np.isfinite(x_true)
    both = have & np.isfinite(x_pred)
    err = np.abs(x_pred[both] - x_true[both]) / width
    n = int(have.sum())
    return {
        "nmae": float(err.mean()) if err.size else float("nan"),
        "within2": float((err <= 0.02).sum() / n) if n else float("nan"),
        "coverage": float(both.sum() / n) if n else float("nan"),
        "n": n,
    }
