"""Read printed depth numbers with Tesseract (through pytesseract), if it is installed.

Tesseract is an optional system program (``apt-get install tesseract-ocr``; ``make install``
installs it where it can). Nothing is downloaded at run time. Without it, or with the
environment variable ``LOGDIGIT_OCR=off``, :func:`ocr_engine` says why in one line and
:func:`read_number` is never called: ``logdigit layout`` then drafts depth ties from the grid
alone.
"""

from __future__ import annotations

import functools
import os
import re

import cv2
import numpy as np

OCR_ENV = "LOGDIGIT_OCR"
"""Set to ``off`` (or ``0``, ``no``, ``none``) to use no OCR engine even where one is installed."""

ANGLES: tuple[int, ...] = (0, 90, 270)
"""Rotations tried, in degrees clockwise of the text: upright, and read top-down or bottom-up."""

_CONFIG = "--psm 7 -c tessedit_char_whitelist=0123456789"
_TEXT_PX = 40  # numbers are scaled to this height (px) before reading: Tesseract likes 30-50 px text


def ocr_engine() -> tuple[bool, str]:
    """(available, one line saying which engine or why none).

    Example:
        >>> import os
        >>> os.environ["LOGDIGIT_OCR"] = "off"
        >>> ocr_engine()
        (False, 'OCR switched off (LOGDIGIT_OCR=off); depth ties from the grid alone')
        >>> del os.environ["LOGDIGIT_OCR"]
    """
    setting = os.environ.get(OCR_ENV, "").strip().lower()
    if setting in ("off", "0", "no", "none", "false"):
        return False, f"OCR switched off ({OCR_ENV}={setting}); depth ties from the grid alone"
    return _probe()


@functools.lru_cache(maxsize=1)
def _probe() -> tuple[bool, str]:
    try:
        import pytesseract
    except ImportError:
        return False, "no OCR: pytesseract is not installed (pip install pytesseract); depth ties from the grid alone"
    try:
        version = pytesseract.get_tesseract_version()
    except (pytesseract.TesseractNotFoundError, OSError):
        return False, (
            "no OCR: the tesseract program is not installed (apt-get install tesseract-ocr); "
            "depth ties from the grid alone"
        )
    return True, f"OCR: Tesseract {version}"


def read_number(crop: np.ndarray, *, angles: tuple[int, ...] = ANGLES) -> tuple[int, float, int] | None:
    """Read one printed whole number from a grey crop, trying each rotation.

    Args:
        crop: uint8 (h, w) grey, dark ink on light paper, the number and a little margin.
        angles: rotations to try (degrees, from :data:`ANGLES`); the first confident reading wins.

    Returns:
        (value, confidence 0-100, angle) of the best reading, or None when no rotation reads as digits.
        Call only when :func:`ocr_engine` says an engine is available.
    """
    best = None
    for angle in angles:
        text, conf = _tesseract(_upright(crop, angle))
        if re.fullmatch(r"\d{1,6}", text) and (best is None or conf > best[1]):
            best = (int(text), conf, angle)
            if conf >= 85:
                break
    return best


def _upright(crop: np.ndarray, angle: int) -> np.ndarray:
    """The crop turned so that text printed at ``angle`` reads left to right, scaled and padded."""
    turn = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 270: cv2.ROTATE_90_CLOCKWISE}
    if angle not in turn:
        raise ValueError(f"angle must be one of {sorted(turn)}, got {angle!r}")
    code = turn[angle]
    img = crop if code is None else cv2.rotate(crop, code)
    scale = _TEXT_PX / max(img.shape[0], 1)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    pad = _TEXT_PX // 2
    return cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def _tesseract(img: np.ndarray) -> tuple[str, float]:
    import pytesseract

    data = pytesseract.image_to_data(img, config=_CONFIG, output_type=pytesseract.Output.DICT)
    words = [(w, float(c)) for w, c in zip(data["text"], data["conf"], strict=True) if w.strip()]
    if not words:
        return "", 0.0
    return "".join(w for w, _ in words), min(c for _, c in words)
