"""Reading scans: PNG, JPEG, BMP, TIFF (1-bit CCITT G4, LZW palette...) -> RGB uint8."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_PIXELS = 200_000_000
"""Decompression-bomb guard: images with more pixels are refused unless overridden."""


@dataclass(frozen=True)
class Scan:
    """A scanned log as read from disk.

    Attributes:
        image: uint8 (H, W, 3) RGB; grey and 1-bit scans are expanded to 3 channels
            (1-bit: ink 0, paper 255).
        dpi: (x, y) resolution from the file, or None when the file does not say.
        source: the path it was read from.
    """

    image: np.ndarray
    dpi: tuple[float, float] | None
    source: str
