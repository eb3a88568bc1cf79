"""The layout file: where tracks, curves and depth ties are on a scan (TOML)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LINE_CLASSES: dict[str, int] = {"solid": 1, "dashed": 2}
"""Layout ``line`` value -> VeerNet class index."""


@dataclass(frozen=True)
class CurveSpec:
    """One curve drawn in a track.

    Attributes:
        mnemonic: LAS mnemonic, e.g. ``"GR"``.
        unit: LAS unit, e.g. ``"GAPI"`` (may be empty).
        left_value: value at the track's left edge.
        right_value: value at the track's right edge (may be < left_value: reversed scale).
        line: ``"solid"`` (VeerNet class 1) or ``"dashed"`` (class 2; dotted lines too).
        color: optional ink colour as an (R, G, B) tuple of 0-255 ints.
        descr: optional LAS description.
    """

    mnemonic: str
    left_value: float
    right_value: float
    unit: str = ""
    line: str = "solid"
    color: tuple[int, int, int] | None = None
    descr: str = ""

    @property
    def klass(self) -> int:
        """The VeerNet class index of this curve's line style."""
        return LINE_CLASSES[self.line]


@dataclass(frozen=True)
class Track:
    """A vertical track between two pixel columns (``left`` < ``right``), 0-based."""

    left: int
    right: int
    scale: str = "linear"  # "linear" or "log"
    curves: tuple[CurveSpec, ...] = ()


@dataclass(frozen=True)
class DepthSpec:
    """Pixel row -> depth calibration.

    Attributes:
        unit: LAS index unit: ``"FT"``, ``"F"``, ``"M"``; ``"PX"`` for uncalibrated pixel rows.
        step: output sampling step in ``unit``.
        ties: >= 2 (pixel row, depth) pairs; depth = a + b * row by least squares.
        rows: optional (first, last) pixel rows to digitise, inclusive.
    """

    unit: str
    step: float
    ties: tuple[tuple[float, float], ...]
    rows: tuple[int, int] | None = None


@dataclass(frozen=True)
class Layout:
    """Everything logdigit needs to know about a scan beyond its pixels.

    ``calibrated`` is False for a layout detected from the scan alone: the index is the
    pixel row and the values are fractions of track width.
    """

    depth: DepthSpec
    tracks: tuple[Track, ...]
    well: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    calibrated: bool = True
