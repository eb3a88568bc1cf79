"""Calibration: pixel traces + layout -> curves on one depth grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    """One calibrated curve: ``values`` float64 (n,) on ``Curves.depth``; NaN = gap (LAS NULL)."""

    mnemonic: str
    unit: str
    values: np.ndarray
    descr: str = ""


@dataclass(frozen=True)
class Curves:
    """Calibrated curves sharing one index.

    Attributes:
        depth: float64 (n,), multiples of ``step``, increasing.
        unit: index unit (``"FT"``, ``"M"``, ``"PX"`` ...).
        step: the sampling step.
        curves: one :class:`Curve` per traced curve, in layout order.
        tie_residual: RMS residual of the depth-tie fit in index units (0 with two ties).
    """

    depth: np.ndarray
    unit: str
    step: float
    curves: tuple[Curve, ...]
    tie_residual: float = 0.0
