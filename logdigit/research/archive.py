"""Archive-scan degradation for synthetic sheets: what decades in a file room and a 1-bit
scanner do to a log print.

:func:`archive_scan` takes the rendered sheet (float32 (H, W, 3) RGB, 0-255) and returns a new
uint8 image: stains and fold lines on the paper, photocopy generations (blur, contrast, toner
noise), then often a 200 dpi 1-bit G4-like scan: the page resampled to a coarser grid, a
halftone screen on grey tints, a threshold that drifts across the page (broken thin strokes in
light areas, blobs in dark ones), speckle, and the result back at the sheet's size. Faint
colours (light grid inks, tints) fall below the threshold and vanish. The geometry is unchanged
(every pixel stays where it was), so the labels still hold.

>>> img = np.full((64, 96, 3), 240, np.float32); img[:, 40:43] = 0
>>> out = archive_scan(img, rng=0, binarise=True)
>>> out.dtype, out.shape, sorted(np.unique(out).tolist()) == [0, 255] or len(np.unique(out)) > 2
(dtype('uint8'), (64, 96, 3), True)
"""

from __future__ import annotations

import cv2
import numpy as np


def archive_scan(
    image: np.ndarray,
    *,
    rng=None,
    binarise: bool = True,
    p_stain: float = 0.4,
    p_fold: float = 0.4,
    p_photocopy: float = 0.5,
) -> np.ndarray:
    """Degrade a rendered sheet like an archive scan (see the module docstring).

    Args:
        image: float32 (H, W, 3) RGB in 0-255; not modified.
        rng: seed or ``np.random.Generator``.
        binarise: end with the 1-bit scan (else stay in colour or grey).
        p_stain, p_fold, p_photocopy: probability of each defect.

    Returns:
        uint8 (H, W, 3).
    """
    rng = np.random.default_rng(rng)
    img = np.array(image, np.float32, copy=True)
    if rng.random() < p_stain:
        img = _stains(img, rng)
    if rng.random() < p_fold:
        img = _fold(img, rng)
    if rng.random() < p_photocopy:
        for _ in range(int(rng.integers(1, 4))):
            img = _photocopy(img, rng)
    if binarise:
        img = _one_bit(img, rng)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def _stains(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        c = (int(rng.integers(w)), int(rng.integers(h)))
        axes = (int(rng.integers(8, max(w // 4, 9))), int(rng.integers(8, max(h // 4, 9))))
        cv2.ellipse(m, c, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.15, 0.5)), -1)
    m = cv2.GaussianBlur(m, (0, 0), rng.uniform(3, 12))
    tint = np.array([rng.uniform(150, 210), rng.uniform(120, 180), rng.uniform(60, 130)], np.float32)
    a = m[..., None]
    rim = np.abs(cv2.Laplacian(m, cv2.CV_32F, ksize=5))[..., None] * 0.5  # darker tide mark at the edge
    return img * (1 - a) + a * np.minimum(img, tint) - rim * 40


def _fold(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    m = np.zeros((h, w), np.float32)
    if rng.random() < 0.7:  # across the page: a horizontal fold of a fan-folded print
        y = int(rng.integers(h))
        cv2.line(m, (0, y), (w - 1, y + int(rng.integers(-4, 5))), 1.0, int(rng.integers(1, 4)), cv2.LINE_AA)
    else:
        x = int(rng.integers(w))
        cv2.line(m, (x, 0), (x + int(rng.integers(-4, 5)), h - 1), 1.0, int(rng.integers(1, 4)), cv2.LINE_AA)
    shade = cv2.GaussianBlur(m, (0, 0), rng.uniform(2, 8)) * rng.uniform(20, 60)
    return img - (m * rng.uniform(30, 120) + shade)[..., None]


def _photocopy(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey = img.mean(axis=2, keepdims=True)
    img = img * (1 - 0.5) + grey * 0.5 if rng.random() < 0.5 else img
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 0.9))
    gain = rng.uniform(1.1, 1.5)
    img = (img - 200.0) * gain + 200.0 + rng.uniform(0, 25)  # paper whiter, ink darker, faint tints lost
    toner = (rng.random(img.shape[:2]) < rng.uniform(0.0, 0.002)).astype(np.float32)
    img = img - cv2.dilate(toner, np.ones((2, 2), np.uint8))[..., None] * 200
    return img + rng.normal(0, rng.uniform(1, 5), img.shape[:2]).astype(np.float32)[..., None]


def _one_bit(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 200 dpi 1-bit scan: coarser grid, halftone on tints, drifting threshold, speckle."""
    h, w = img.shape[:2]
    grey = img @ np.array([0.299, 0.587, 0.114], np.float32)  # colour to luminance: faint inks go light
    f = float(rng.uniform(0.55, 1.0))  # the print at 300-400 dpi scanned at 200 dpi
    small = cv2.resize(grey, (max(int(w * f), 8), max(int(h * f), 8)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    if rng.random() < 0.5:  # halftone screen: tints become dot patterns, not flat grey
        period = int(rng.integers(3, 6))
        yy, xx = np.mgrid[0:sh, 0:sw]
        screen = (np.cos(2 * np.pi * xx / period) + np.cos(2 * np.pi * yy / period)) * rng.uniform(15, 40)
        small = small + screen.astype(np.float32)
    # The threshold drifts across the page (uneven lamp, auto-threshold per strip).
    drift = rng.normal(0, 1, (max(sh // 48, 2), max(sw // 48, 2))).astype(np.float32)
    drift = cv2.resize(drift, (sw, sh), interpolation=cv2.INTER_CUBIC) * rng.uniform(5, 25)
    level = rng.uniform(0.5, 0.72) * 255 + drift
    bits = np.where(small < level, 0.0, 255.0).astype(np.float32)
    p_speck = rng.uniform(0.0, 0.003)
    flip = rng.random(bits.shape) < p_speck
    bits[flip] = 255.0 - bits[flip]
    out = cv2.resize(bits, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.repeat(out[..., None], 3, axis=2)


__all__ = ["archive_scan"]
