"""Skeleton-based centreline tracing: class masks -> one x per pixel row per curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PixelTrace:
    """One curve's centreline in image pixels.

    Attributes:
        mnemonic: the curve's mnemonic (from the layout, or generated when uncalibrated).
        track: index of the track in ``layout.tracks``.
        row0: first pixel row covered (0-based, image coordinates).
        x: float64 (n,), sub-pixel column of the centreline for rows ``row0 .. row0+n-1``;
           NaN where the curve is absent (a gap left as NULL).
    """

    mnemonic: str
    track: int
    row0: int
    x: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        """int64 (n,) pixel rows matching ``x``."""
        return np.arange(self.row0, self.row0 + len(self.x), dtype=np.int64)
