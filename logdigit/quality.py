"""Per-depth quality: each curve's value, its calibrated confidence and a flag, row by row.

Flags, in the order one wins over the next on a row:

* ``interpolated``: the value was filled across a gap with no ink (``PixelTrace.filled``);
* ``hidden``: the curve runs hidden under another curve, whose column it takes there
  (``PixelTrace.hidden``, :mod:`logdigit.trace.hidden`);
* ``wrapped``: the curve is drawn there past a track edge, on from the other edge
  (``PixelTrace.wrap``); its value is true where the layout declares the wrap or backup
  scale (:class:`logdigit.io.layout.CurveSpec`), else NULL;
* ``low-confidence``: the calibrated confidence (:mod:`logdigit.confidence`), the probability
  that the row is within 2 % of track width, is below the threshold;
* ``look-alike``: the curve was told apart from another of the same look by continuity
  alone (``PixelTrace.twins``): where they cross or touch they can swap;
* ``ok``: none of these.

:func:`flag_rows` gives the flags per pixel row, :func:`flag_stretches` the runs of each
flag in rows (for the QC) and :func:`depth_stretches` in depth (for the LAS ~Other
section); :func:`quality_csv` resamples everything onto the LAS depth grid.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

FLAGS: tuple[str, ...] = ("ok", "interpolated", "hidden", "wrapped", "low-confidence", "look-alike")
"""Flag names by code (``flag_rows`` returns codes into this tuple); lower codes win."""

Stretches = Mapping[str, Sequence[tuple[int, int, str]]]
"""mnemonic -> ``(first_row, last_row, flag)`` pixel-row runs, inclusive."""


def flag_rows(trace, confidence: np.ndarray | None, *, low: float) -> np.ndarray:
    """int8 (n,) flag code per row of ``trace`` (index into :data:`FLAGS`); -1 where x is NaN.

    Args:
        trace: a :class:`logdigit.trace.tracer.PixelTrace` (``x``, ``row0``, ``filled``, ``twins``,
            ``wrap``).
        confidence: float (n,) in [0, 1] per row, or None (no low-confidence flag).
        low: rows with a confidence below this are ``low-confidence``.

    Example:
        >>> from logdigit.trace import PixelTrace
        >>> t = PixelTrace("GR", 0, 10, np.array([1.0, 2.0, 3.0, np.nan]), ("SP",), filled=((11, 11),))
        >>> [FLAGS[c] if c >= 0 else None for c in flag_rows(t, np.array([0.9, 0.9, 0.2, np.nan]), low=0.5)]
        ['look-alike', 'interpolated', 'low-confidence', None]
    """
    x = np.asarray(trace.x, dtype=np.float64)
    codes = np.zeros(x.shape, np.int8)
    if getattr(trace, "twins", ()):
        codes[:] = FLAGS.index("look-alike")
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != x.shape:
            raise ValueError(f"confidence must have the trace's shape {x.shape}, got {conf.shape}")
        codes[conf < low] = FLAGS.index("low-confidence")
    wrap = getattr(trace, "wrap", None)
    if wrap is not None:
        codes[np.asarray(wrap) != 0] = FLAGS.index("wrapped")
    for first, last in getattr(trace, "hidden", ()):
        codes[max(first - trace.row0, 0) : max(last - trace.row0 + 1, 0)] = FLAGS.index("hidden")
    for first, last in getattr(trace, "filled", ()):  # wins over wrapped
        codes[max(first - trace.row0, 0) : max(last - trace.row0 + 1, 0)] = FLAGS.index("interpolated")
    codes[~np.isfinite(x)] = -1
    return codes


def flag_stretches(traces: Sequence, confidences: Sequence[np.ndarray] | None, *, low: float) -> dict:
    """:data:`Stretches` of every flag but ``ok`` per curve.

    >>> from logdigit.trace import PixelTrace
    >>> t = PixelTrace("GR", 0, 100, np.ones(6), filled=((102, 103),))
    >>> flag_stretches([t], None, low=0.5)
    {'GR': [(102, 103, 'interpolated')]}
    """
    out = {}
    for k, t in enumerate(traces):
        codes = flag_rows(t, None if confidences is None else confidences[k], low=low)
        out[t.mnemonic] = [(t.row0 + a, t.row0 + b - 1, FLAGS[c]) for a, b, c in _runs(codes) if c > 0]
    return out


def depth_stretches(stretches: Stretches, depth_map) -> dict:
    """The same runs in depth, ``(top, bottom, flag)``, through ``depth_map``
    (:func:`logdigit.calibrate.depth_map`: anything whose ``depth(rows)`` gives depths).

    >>> from logdigit.calibrate import DepthMap
    >>> depth_stretches({"GR": [(10, 19, "low-confidence")]}, DepthMap.line_of(1000.0, 0.5))
    {'GR': [(1005.0, 1009.5, 'low-confidence')]}
    """
    out = {}
    for m, runs in stretches.items():
        ends = [depth_map.depth(np.array([r0, r1], dtype=np.float64)).tolist() for r0, r1, _ in runs]
        out[m] = [(*sorted(e), kind) for e, (_, _, kind) in zip(ends, runs, strict=True)]
    return out


def quality_csv(curves, traces: Sequence, confidences: Sequence[np.ndarray] | None, depth_map, *, low: float) -> str:
    """CSV text: ``depth`` then, per curve, ``M``, ``M_confidence`` and ``M_flag`` columns.

    Values are the LAS's own (``curves``); the confidence and flag of a depth sample are
    those of its nearest pixel row (confidence empty and flag ``null`` where the value is
    NULL, but ``wrapped`` where a wrap the layout does not declare made it NULL).

    Args:
        curves: :class:`logdigit.calibrate.Curves`, one curve per trace in the same order.
        traces: the pixel traces the curves came from.
        confidences: float (n,) per trace, or None.
        depth_map: row <-> depth (:func:`logdigit.calibrate.depth_map`).
        low: the low-confidence threshold.
    """
    rows = np.rint(depth_map.row(np.asarray(curves.depth, dtype=np.float64))).astype(np.int64)  # nearest row
    columns: list[tuple[str, list[str]]] = [("depth", [f"{d:.5f}".rstrip("0").rstrip(".") for d in curves.depth])]
    for k, (curve, t) in enumerate(zip(curves.curves, traces, strict=True)):
        codes = flag_rows(t, None if confidences is None else confidences[k], low=low)
        conf = np.full(len(t.x), np.nan) if confidences is None else np.asarray(confidences[k], dtype=np.float64)
        i = rows - t.row0
        inside = (i >= 0) & (i < len(t.x))
        ii = np.clip(i, 0, max(len(t.x) - 1, 0))
        value = np.asarray(curve.values, dtype=np.float64)
        have = np.isfinite(value) & inside
        c = np.where(have, conf[ii] if len(t.x) else np.nan, np.nan)
        f = np.where(have, codes[ii] if len(t.x) else -1, -1)
        wrap = getattr(t, "wrap", None)
        if wrap is not None and len(t.x):  # wrapped rows the layout does not declare: NULL, still flagged
            f = np.where(inside & (np.asarray(wrap)[ii] != 0) & (codes[ii] >= 0), codes[ii], f)
        columns += [
            (curve.mnemonic, ["" if not np.isfinite(v) else f"{v:.5f}" for v in value]),
            (f"{curve.mnemonic}_confidence", ["" if not np.isfinite(v) else f"{v:.3f}" for v in c]),
            (f"{curve.mnemonic}_flag", [FLAGS[v] if v >= 0 else "null" for v in f]),
        ]
    out = io.StringIO()
    out.write(",".join(name for name, _ in columns) + "\n")
    for line in zip(*(values for _, values in columns), strict=True):
        out.write(",".join(line) + "\n")
    return out.getvalue()


def write_quality(path: str | os.PathLike, text: str) -> Path:
    """Write :func:`quality_csv` text atomically (or to a FIFO/device as a stream)."""
    from logdigit.io.atomic import write_text_atomic

    return write_text_atomic(path, text)


def _runs(codes: np.ndarray) -> list[tuple[int, int, int]]:
    """``(start, stop, code)`` runs of equal codes (stop exclusive)."""
    if codes.size == 0:
        return []
    cut = np.flatnonzero(np.diff(codes)) + 1
    starts = np.r_[0, cut]
    stops = np.r_[cut, codes.size]
    return [(int(s), int(e), int(codes[s])) for s, e in zip(starts, stops, strict=True)]
