"""LAS 2.0 output (and input for scoring) through lasio.

:func:`to_las` builds the ``lasio.LASFile`` (~Version VERS 2.0 / WRAP NO; ~Well with
STRT, STOP, STEP, NULL and the layout's ``[well]`` items; ~Curve with DEPT first;
~Parameter with the run's settings); :func:`write_las` writes it atomically (or to
stdout) with NaN as the NULL value; :func:`read_las` reads one back with clean errors.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import lasio
import numpy as np
from lasio import HeaderItem

from logdigit.atomic import open_output
from logdigit.calibrate import Curves
from logdigit.errors import InputError, OutputError
from logdigit.layout import Layout

NULL = -999.25
"""The LAS NULL value NaN gaps are written as."""

DATA_FORMAT = "%.5f"
"""printf format of the ~ASCII numbers."""

PARAM_DESCR: dict[str, str] = {
    "SRC": "SOURCE SCAN",
    "LAYOUT": "LAYOUT FILE",
    "MODEL": "SEGMENTATION MODEL",
    "THRESH": "CLASS PROBABILITY THRESHOLD",
    "TILE": "INFERENCE TILE SIZE (PX)",
    "DPI": "SCAN RESOLUTION (DPI)",
    "TIERES": "RMS RESIDUAL OF THE DEPTH-TIE FIT",
    "PROG": "DIGITISING PROGRAM",
}
"""Descriptions given to known ~Parameter mnemonics (others get none)."""

_MNEMONIC = re.compile(r"^[^\s.:]+$")
_OTHER = "Curves digitised from a raster scan of a paper log by logdigit."
_OTHER_UNCALIBRATED = (
    "UNCALIBRATED: the index is the pixel row (0-based from the top of the scan) and the "
    "values are fractions of the track width (0 = left edge, 1 = right edge)."
)


def to_las(curves: Curves, layout: Layout, *, meta: Mapping[str, object] | None = None) -> lasio.LASFile:
    """Build a LAS 2.0 file from calibrated curves.

    Args:
        curves: the calibrated curves (depth float64 (n,), increasing, n >= 1).
        layout: the layout; its ``[well]`` items go into ~Well, and an uncalibrated
            layout gets a note in ~Other.
        meta: run settings for ~Parameter, mnemonic -> value, e.g.
            ``{"SRC": "scan.tif", "MODEL": "veernet-v1", "THRESH": "0.5"}``. A
            ``TIERES`` item (RMS tie residual, index units) is added unless given.

    Returns:
        A new ``lasio.LASFile``; the arrays are copies, ``curves`` is not touched.

    Raises:
        ValueError: an empty or non-increasing depth, a curve whose length differs from
            the depth, duplicate or invalid mnemonics.

    Example:
        >>> import numpy as np
        >>> from logdigit.calibrate import Curve
        >>> from logdigit.layout import DepthSpec, Layout
        >>> c = Curves(np.array([100.0, 100.5]), "FT", 0.5, (Curve("GR", "GAPI", np.array([1.0, np.nan])),))
        >>> las = to_las(c, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()), meta={"SRC": "scan.tif"})
        >>> [c.mnemonic for c in las.curves], las.well["STOP"].value, las.params["SRC"].value
        (['DEPT', 'GR'], 100.5, 'scan.tif')
    """
    depth = _check_curves(curves)
    items = _param_items(curves, dict(meta or {}))
    las = lasio.LASFile()
    _version_section(las)
    _well_section(las, depth, curves, layout)
    index_descr = "PIXEL ROW" if curves.unit.upper() == "PX" else "DEPTH"
    las.append_curve("DEPT", depth.copy(), unit=curves.unit, descr=index_descr)
    for curve in curves.curves:
        values = np.array(curve.values, dtype=np.float64, copy=True)
        las.append_curve(curve.mnemonic, values, unit=curve.unit, descr=curve.descr)
    for item in items:
        las.params[item.mnemonic] = item
    las.other = _OTHER if layout.calibrated else f"{_OTHER}\n{_OTHER_UNCALIBRATED}"
    return las


def _check_curves(curves: Curves) -> np.ndarray:
    depth = np.asarray(curves.depth, dtype=np.float64)
    if depth.ndim != 1 or depth.size == 0 or not np.all(np.isfinite(depth)):
        raise ValueError(f"curves.depth must be finite float64 (n,) with n >= 1, got shape {depth.shape}")
    if np.any(np.diff(depth) <= 0):
        raise ValueError("curves.depth must increase strictly; calibrate() returns it so")
    seen = {"DEPT"}
    for curve in curves.curves:
        if np.shape(curve.values) != depth.shape:
            raise ValueError(
                f"curve {curve.mnemonic!r} has values of shape {np.shape(curve.values)}; "
                f"the depth has shape {depth.shape}"
            )
        if not _MNEMONIC.match(curve.mnemonic) or curve.mnemonic.upper() in seen:
            raise ValueError(
                f"curve mnemonic {curve.mnemonic!r} is invalid or used twice (DEPT is the index)"
            )
        seen.add(curve.mnemonic.upper())
    return depth


def _param_items(curves: Curves, meta: dict[str, object]) -> list[HeaderItem]:
    meta.setdefault("TIERES", round(float(curves.tie_residual), 4))
    items = []
    for key, value in meta.items():
        if not isinstance(key, str) or not _MNEMONIC.match(key):
            raise ValueError(f"meta key {key!r} is not a LAS mnemonic (one word, no periods or colons)")
        text = str(value)
        if "\n" in text or "\r" in text:
            raise ValueError(f"meta[{key!r}] must be one line, got {text!r}")
        unit = curves.unit if key == "TIERES" else ""
        items.append(HeaderItem(key, unit=unit, value=text, descr=PARAM_DESCR.get(key.upper(), "")))
    return items


def _version_section(las: lasio.LASFile) -> None:
    # lasio adds DLM, a LAS 3.0 item; a LAS 2.0 ~Version holds VERS and WRAP only.
    if "DLM" in las.version:
        del las.version["DLM"]
    las.version["VERS"].value = 2.0
    las.version["WRAP"] = HeaderItem("WRAP", "", "NO", "One line per depth step")


def _well_section(las: lasio.LASFile, depth: np.ndarray, curves: Curves, layout: Layout) -> None:
    for mnemonic, value in (("STRT", depth[0]), ("STOP", depth[-1]), ("STEP", curves.step)):
        las.well[mnemonic].value = float(value)
        las.well[mnemonic].unit = curves.unit
    las.well["NULL"].value = NULL
    existing = {key.upper(): key for key in las.well.keys()}
    for key, value in layout.well.items():
        if key.upper() in existing:
            las.well[existing[key.upper()]].value = str(value)
        else:
            las.well[key] = HeaderItem(key, value=str(value))


def write_las(las: lasio.LASFile, path: str | os.PathLike) -> None:
    """Write a LAS file as LAS 2.0, unwrapped, NaN as NULL; atomically, or to stdout.

    ``"-"``, an existing FIFO or a character device is written as a stream (never
    renamed over; see :func:`logdigit.atomic.open_output`).

    lasio's writer rewrites header items of the object it is given, so a copy is
    written and ``las`` stays as it was.

    Args:
        las: the LAS file, e.g. from :func:`to_las`.
        path: the target file, or ``"-"`` for standard output.

    Raises:
        OutputError: one line naming the file and the fix when it cannot be written.

    Example:
        >>> import numpy as np
        >>> from logdigit.calibrate import Curve
        >>> from logdigit.layout import DepthSpec, Layout
        >>> c = Curves(np.array([100.0, 100.5]), "FT", 0.5, (Curve("GR", "GAPI", np.array([1.0, np.nan])),))
        >>> las = to_las(c, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()))
        >>> write_las(las, "-")  # doctest: +ELLIPSIS
        ~Version ---...
        ~ASCII -----------------------------------------------------
         100.00000    1.00000
         100.50000    -999.25
    """
    try:
        with open_output(path, "w") as f:
            _write(las, f)
    except OutputError:
        raise
    except OSError as exc:
        if str(path) == "-":
            raise  # a closed stdout (BrokenPipeError) is the caller's to report
        reason = exc.strerror or str(exc)
        raise OutputError(
            f"{path}: cannot write the LAS file ({reason}); choose a writable file path"
        ) from None


def _write(las: lasio.LASFile, stream: IO[str]) -> None:
    las = copy.deepcopy(las)
    bounds = {key: _header_number(las, key) for key in ("STRT", "STOP", "STEP")}
    las.write(stream, version=2.0, wrap=False, fmt=DATA_FORMAT, **bounds)


def _header_number(las: lasio.LASFile, key: str) -> float | None:
    """The header's STRT/STOP/STEP as a number, or None to let lasio take it from the data."""
    try:
        value = float(las.well[key].value)
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_las(path: str | os.PathLike) -> lasio.LASFile:
    """Read a LAS file (1.2 or 2.0); NULL values come back as NaN.

    Args:
        path: the ``.las`` file.

    Returns:
        The ``lasio.LASFile``, with at least one curve (the index).

    Raises:
        InputError: one line naming the file when it is missing, unreadable or not LAS.

    Example:
        >>> read_las("no/such/file.las")
        Traceback (most recent call last):
        ...
        logdigit.errors.InputError: no/such/file.las: no such LAS file; check the path
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not a LAS file; name the .las file")
    if not p.is_file():
        raise InputError(f"{p}: no such LAS file; check the path")
    try:
        las = lasio.read(str(p))
    except Exception as exc:  # lasio raises many types for garbled text; all mean "not LAS"
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(
            f"{p}: not a readable LAS file ({reason}); check that it is LAS 1.2/2.0 text"
        ) from None
    if not las.curves:
        raise InputError(f"{p}: no curves (no ~Curve section or empty data); check that it is a LAS file")
    return las
