"""Read printed depth numbers: with Tesseract where installed, and DigitNet, shipped with logdigit.

Two engines read each number, and :func:`read_numbers` returns what each of them reads:

* **Tesseract** (through pytesseract), an optional system program (``apt-get install
  tesseract-ocr``; ``make install`` installs it where it can);
* **DigitNet** (:mod:`logdigit.model.digits`), a small network shipped with its weights, fitted
  on numbers rendered in outline and stroke fonts (``make fit-digits``); always there.

The first reading is the number's; the other is an alternative that the sequence decoding of
:func:`logdigit.image.layout_scan.decode_labels` weighs too (two engines rarely misread a
number the same way).

Nothing is downloaded at run time. With the environment variable ``LOGDIGIT_OCR=off``,
:func:`ocr_engine` says so in one line and no number is read: ``logdigit layout`` then drafts
depth ties from the grid alone; with ``LOGDIGIT_OCR=digitnet`` DigitNet reads alone.
"""

from __future__ import annotations

import functools
import logging
import os
import re

import cv2
import numpy as np

log = logging.getLogger(__name__)

OCR_ENV = "LOGDIGIT_OCR"
"""Set to ``off`` (or ``0``, ``no``, ``none``) to read no number, or to ``digitnet`` to read with
DigitNet alone even where Tesseract is installed."""

ANGLES: tuple[int, ...] = (0, 90, 270)
"""Rotations tried, in degrees clockwise of the text: upright, and read top-down or bottom-up."""

_CONFIG = "--psm 7 -c tessedit_char_whitelist=0123456789"
_TEXT_PX = 40  # numbers are scaled to this height (px) before reading: Tesseract likes 30-50 px text


def ocr_engine() -> tuple[bool, str]:
    """(available, one line saying which engines read, or why none).

    Example:
        >>> import os
        >>> os.environ["LOGDIGIT_OCR"] = "off"
        >>> ocr_engine()
        (False, 'OCR switched off (LOGDIGIT_OCR=off); depth ties from the grid alone')
        >>> os.environ["LOGDIGIT_OCR"] = "digitnet"
        >>> ocr_engine()
        (True, 'OCR: DigitNet (Tesseract not used: LOGDIGIT_OCR=digitnet)')
        >>> del os.environ["LOGDIGIT_OCR"]
    """
    setting = os.environ.get(OCR_ENV, "").strip().lower()
    if setting in ("off", "0", "no", "none", "false"):
        return False, f"OCR switched off ({OCR_ENV}={setting}); depth ties from the grid alone"
    if setting == "digitnet":
        return True, f"OCR: DigitNet (Tesseract not used: {OCR_ENV}={setting})"
    found, why = tesseract_version()
    return True, f"OCR: Tesseract {why} and DigitNet" if found else f"OCR: DigitNet ({why})"


def _use_tesseract() -> bool:
    return os.environ.get(OCR_ENV, "").strip().lower() != "digitnet" and tesseract_version()[0]


@functools.lru_cache(maxsize=1)
def tesseract_version() -> tuple[bool, str]:
    """(Tesseract available, its version or why it is not)."""
    try:
        import pytesseract
    except ImportError:
        return False, "no Tesseract: pytesseract is not installed (pip install pytesseract)"
    try:
        version = pytesseract.get_tesseract_version()
    except (pytesseract.TesseractNotFoundError, OSError):
        return False, "no Tesseract: the tesseract program is not installed (apt-get install tesseract-ocr)"
    return True, str(version)


def read_numbers(crop: np.ndarray, *, angles: tuple[int, ...] = ANGLES) -> list[tuple[int, float, int]]:
    """What each engine reads in one grey crop of a printed whole number, trying each rotation.

    Args:
        crop: uint8 (h, w) grey, dark ink on light paper, the number and a little margin.
        angles: rotations to try (degrees, from :data:`ANGLES`).

    Returns:
        One (value, confidence 0-100, angle) per engine that reads digits: Tesseract's (where
        installed and not switched off), then DigitNet's; each from the rotation it reads best.
        Call only when :func:`ocr_engine` says reading is on.
    """
    got = [read_number(crop, angles=angles) if _use_tesseract() else None, read_digitnet(crop, angles=angles)]
    return [g for g in got if g is not None]


def read_digitnet(crop: np.ndarray, *, angles: tuple[int, ...] = ANGLES) -> tuple[int, float, int] | None:
    """(value, confidence 0-100, angle) of a grey number crop read by DigitNet, or None.

    DigitNet reads a number turned the wrong way as nothing, or as the few digits that look the
    same upside down (0, 8): of the rotations, the one that reads the most digits wins, then the
    surest.
    """
    from logdigit.model.digits import read_digits

    readings = [(read_digits(_turn(crop, angle)), angle) for angle in angles]
    ok = [(len(t), c, int(t), a) for (t, c), a in readings if re.fullmatch(r"[1-9]\d{0,5}|0", t)]
    if not ok:
        return None
    _, conf, value, angle = max(ok)
    return value, conf, angle


def read_number(crop: np.ndarray, *, angles: tuple[int, ...] = ANGLES) -> tuple[int, float, int] | None:
    """Read one printed whole number from a grey crop with Tesseract, trying each rotation.

    Args:
        crop: uint8 (h, w) grey, dark ink on light paper, the number and a little margin.
        angles: rotations to try (degrees, from :data:`ANGLES`); the first confident reading wins.

    Returns:
        (value, confidence 0-100, angle) of the best reading, or None when no rotation reads as digits.
        Call only where Tesseract is installed (:func:`ocr_engine` names it).
    """
    best = None
    for angle in angles:
        text, conf = _tesseract(_upright(crop, angle))
        if re.fullmatch(r"\d{1,6}", text) and (best is None or conf > best[1]):
            best = (int(text), conf, angle)
            if conf >= 85:
                break
    return best


def _turn(crop: np.ndarray, angle: int) -> np.ndarray:
    """The crop turned so that text printed at ``angle`` reads left to right."""
    turn = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 270: cv2.ROTATE_90_CLOCKWISE}
    if angle not in turn:
        raise ValueError(f"angle must be one of {sorted(turn)}, got {angle!r}")
    code = turn[angle]
    return crop if code is None else cv2.rotate(crop, code)


def _upright(crop: np.ndarray, angle: int) -> np.ndarray:
    """The crop turned so that text printed at ``angle`` reads left to right, scaled and padded (Tesseract)."""
    img = _turn(crop, angle)
    scale = _TEXT_PX / max(img.shape[0], 1)
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    pad = _TEXT_PX // 2
    return cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def _tesseract(img: np.ndarray) -> tuple[str, float]:
    """Tesseract's text and least word confidence; ("", 0) where Tesseract fails on the crop (it
    exits with an error on some shapes of image): one unreadable crop is a number not read."""
    import pytesseract

    try:
        data = pytesseract.image_to_data(img, config=_CONFIG, output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError as exc:
        log.debug("Tesseract failed on a %s crop: %s", img.shape, exc)
        return "", 0.0
    words = [(w, float(c)) for w, c in zip(data["text"], data["conf"], strict=True) if w.strip()]
    if not words:
        return "", 0.0
    return "".join(w for w, _ in words), min(c for _, c in words)
