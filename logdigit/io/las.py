"""LAS 2.0 output (and input for scoring) through lasio.

:func:`to_las` builds the ``lasio.LASFile`` (~Version VERS 2.0 / WRAP NO; ~Well with
STRT, STOP, STEP, NULL and the layout's ``[well]`` items; ~Curve with DEPT first;
~Parameter with the run's settings); :func:`write_las` writes it atomically (or to
stdout) with NaN as the NULL value; :func:`read_las` reads one back with clean errors.
Every header field written is one LAS 2.0 holds intact (:mod:`logdigit.io.lasfields`), so
the header is printable ASCII and reads back as written.
"""

from __future__ import annotations

import copy
import io
import math
import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import lasio
import numpy as np
from lasio import HeaderItem

from logdigit.calibrate import Curves
from logdigit.errors import InputError, OutputError
from logdigit.io.atomic import open_output
from logdigit.io.lasfields import field_problem
from logdigit.io.layout import Layout

NULL = -999.25
"""The LAS NULL value NaN gaps are written as."""

DATA_FORMAT = "%.5f"
"""printf format of the ~ASCII numbers."""

PARAM_DESCR: dict[str, str] = {
    "PROG": "DIGITISING PROGRAM AND VERSION",
    "DIGDATE": "WHEN DIGITISED (UTC, ISO 8601)",
    "SRC": "SOURCE SCAN PATH",
    "SRCSHA": "SHA256 OF THE SOURCE SCAN",
    "DPI": "SCAN RESOLUTION X x Y (DPI) FROM ITS HEADER",
    "MODEL": "SEGMENTATION MODEL WEIGHTS",
    "MODELSHA": "SHA256 OF THE WEIGHTS",
    "MODELVER": "WEIGHTS VERSION",
    "LAYOUT": "LAYOUT FILE PATH",
    "LAYSHA": "SHA256 OF THE LAYOUT FILE",
    "TIES": "DEPTH TIES PIXEL_ROW=DEPTH",
    "DEPTHMAP": "ROW TO DEPTH THROUGH THE TIES",
    "TIERES": "RMS RESIDUAL OF THE DEPTH-TIE FIT",
    "THRESH": "CLASS PROBABILITY THRESHOLD SOLID,DASHED",
    "SKEW": "DESKEW ANGLE APPLIED (DEG)",
    "CALIB": "CALIBRATION SOURCE",
    "SETTINGS": "DIGITISING SETTINGS",
    "TILE": "INFERENCE TILE SIZE (PX)",
}
"""Descriptions of the ~Parameter mnemonics logdigit writes; any other item is described
as a digitising setting."""

_PARAM_ESCAPE = re.compile(r"[^ -9;-~]")  # all but printable ASCII without ":"
_OTHER = "Curves digitised from a raster scan of a paper log by logdigit."
_OTHER_UNCALIBRATED = (
    "UNCALIBRATED: the index is the pixel row (0-based from the top of the scan) and the "
    "values are fractions of the track width (0 = left edge, 1 = right edge)."
)


def to_las(
    curves: Curves,
    layout: Layout,
    *,
    meta: Mapping[str, object] | None = None,
    max_gap: int | None = None,
    flagged: Mapping[str, Sequence[tuple[float, float, str]]] | None = None,
) -> lasio.LASFile:
    """Build a LAS 2.0 file from calibrated curves.

    Args:
        curves: the calibrated curves (depth float64 (n,), increasing, n >= 1).
        layout: the layout; its ``[well]`` items go into ~Well, and an uncalibrated
            layout gets a note in ~Other.
        meta: run settings for ~Parameter, mnemonic -> value, e.g.
            ``{"SRC": "scan.tif", "MODEL": "veernet-v1", "THRESH": "0.5"}``. A
            ``TIERES`` item (RMS tie residual, index units) is added unless given.
            Values are provenance (file names, settings): a character LAS 2.0 cannot
            hold there (non-ASCII, control, ``:``) is written as a Python escape,
            e.g. ``"é"`` -> ``"\\xe9"``, ``":"`` -> ``"\\x3a"``.
        max_gap: the tracer's fill limit in pixel rows, stated in ~Other with each curve's
            interpolated stretches (``Curve.filled``); see :func:`other_section`.

    Returns:
        A new ``lasio.LASFile``; the arrays are copies, ``curves`` is not touched.

    Raises:
        ValueError: an empty or non-increasing depth, a curve whose length differs from
            the depth, duplicate mnemonics, or a mnemonic, unit, description or ``[well]``
            item that LAS 2.0 cannot hold (:func:`logdigit.io.lasfields.field_problem`).

    Example:
        >>> import numpy as np
        >>> from logdigit.calibrate import Curve
        >>> from logdigit.io.layout import DepthSpec, Layout
        >>> c = Curves(np.array([100.0, 100.5]), "FT", 0.5, (Curve("GR", "GAPI", np.array([1.0, np.nan])),))
        >>> las = to_las(c, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()), meta={"SRC": "scan.tif"})
        >>> [c.mnemonic for c in las.curves], las.well["STOP"].value, las.params["SRC"].value
        (['DEPT', 'GR'], 100.5, 'scan.tif')
    """
    depth = _check_curves(curves)
    _check_well(layout)
    items = _param_items(curves, dict(meta or {}))
    las = lasio.LASFile()
    _version_section(las)
    _well_section(las, depth, curves, layout)
    index_descr = "PIXEL ROW" if curves.unit.upper() == "PX" else "DEPTH"
    las.append_curve("DEPT", depth.copy(), unit=curves.unit, descr=index_descr)
    scales = _curve_scales(layout)
    for curve in curves.curves:
        values = np.array(curve.values, dtype=np.float64, copy=True)
        descr = "; ".join(d for d in (curve.descr, scales.get(curve.mnemonic, "")) if d)
        las.append_curve(curve.mnemonic, values, unit=curve.unit, descr=descr)
    for item in items:
        las.params[item.mnemonic] = item
    las.other = other_section(curves, layout, max_gap=max_gap, flagged=flagged)
    return las


def other_section(
    curves: Curves,
    layout: Layout,
    *,
    max_gap: int | None = None,
    flagged: Mapping[str, Sequence[tuple[float, float, str]]] | None = None,
) -> str:
    """The ~Other text: provenance, a note when uncalibrated, the fill limit (``max_gap``
    pixel rows, when given) and, per curve, the depth intervals of its samples filled by
    linear interpolation (``Curve.filled``) and of its other flagged stretches
    (``flagged``: mnemonic -> ``(top, bottom, flag)``, e.g. ``low-confidence``), wrapped at
    100 columns.

    Example:
        >>> import numpy as np
        >>> from logdigit.calibrate import Curve
        >>> from logdigit.io.layout import DepthSpec
        >>> gr = Curve("GR", "GAPI", np.ones(3), filled=((100.5, 101.0),))
        >>> c = Curves(np.array([100.0, 100.5, 101.0]), "FT", 0.5, (gr,))
        >>> print(other_section(c, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()), max_gap=15))
        Curves digitised from a raster scan of a paper log by logdigit.
        Gaps of up to 15 pixel rows in a curve are filled by linear interpolation; longer gaps are NULL.
        A longer gap where the curve runs under another curve takes its value and is listed as hidden.
        GR interpolated: 100.50-101.00 FT
    """
    lines = [_OTHER] if layout.calibrated else [_OTHER, _OTHER_UNCALIBRATED]
    if max_gap is not None:
        lines.append(
            f"Gaps of up to {max_gap} pixel rows in a curve are filled by linear interpolation; longer gaps are NULL."
        )
        lines.append("A longer gap where the curve runs under another curve takes its value and is listed as hidden.")
    decimals = max(2, len(f"{curves.step:f}".rstrip("0").partition(".")[2]))
    for curve in curves.curves:
        runs = [(a, b, "interpolated") for a, b in curve.filled] + list((flagged or {}).get(curve.mnemonic, ()))
        for kind in dict.fromkeys(k for _, _, k in runs):
            spans = [
                f"{a:.{decimals}f}" + (f"-{b:.{decimals}f}" if b != a else "") + f" {curves.unit}"
                for a, b, k in runs
                if k == kind
            ]
            text = f"{curve.mnemonic} {kind}: {', '.join(spans)}"
            lines += textwrap.wrap(text, width=100, subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines)


def _curve_scales(layout: Layout) -> dict[str, str]:
    """mnemonic -> how it was read off the print, for its ~Curve description, e.g.
    ``digitised from track 1, 0 to 150 GAPI linear, solid, ink #00cc00``."""
    out = {}
    for i, track in enumerate(layout.tracks):
        for c in track.curves:
            ink = ", ink #{:02x}{:02x}{:02x}".format(*c.color) if c.color else ""
            unit = f" {c.unit}" if c.unit else ""
            wrap = ", wraps on its scale" if c.wrap else ""
            backup = f", backup {c.backup[0]:g} to {c.backup[1]:g}" if c.backup is not None else ""
            out[c.mnemonic] = (
                f"digitised from track {i + 1}, {c.left_value:g} to {c.right_value:g}{unit} "
                f"{track.scale}, {c.line}{ink}{wrap}{backup}"
            )
    return out


def _check_curves(curves: Curves) -> np.ndarray:
    depth = np.asarray(curves.depth, dtype=np.float64)
    if depth.ndim != 1 or depth.size == 0 or not np.all(np.isfinite(depth)):
        raise ValueError(f"curves.depth must be finite float64 (n,) with n >= 1, got shape {depth.shape}")
    if np.any(np.diff(depth) <= 0):
        raise ValueError("curves.depth must increase strictly; calibrate() returns it so")
    _check_field("unit", curves.unit, "curves.unit")
    seen = {"DEPT"}
    for curve in curves.curves:
        if np.shape(curve.values) != depth.shape:
            raise ValueError(
                f"curve {curve.mnemonic!r} has values of shape {np.shape(curve.values)}; "
                f"the depth has shape {depth.shape}"
            )
        for kind in ("mnemonic", "unit", "descr"):
            _check_field(kind, getattr(curve, kind), f"curve {curve.mnemonic!r} {kind}")
        if curve.mnemonic.upper() in seen:
            raise ValueError(f"curve mnemonic {curve.mnemonic!r} is used twice (DEPT is the index)")
        seen.add(curve.mnemonic.upper())
    return depth


def _check_well(layout: Layout) -> None:
    for key, value in layout.well.items():
        _check_field("mnemonic", key, f"layout.well key {key!r}")
        _check_field("value", str(value), f"layout.well[{key!r}]")


def _check_field(kind: str, text: str, name: str) -> None:
    problem = field_problem(kind, text)
    if problem is not None:
        raise ValueError(f"{name} is not a LAS {kind}: {problem[0]}; {problem[1]}")


def _param_items(curves: Curves, meta: dict[str, object]) -> list[HeaderItem]:
    meta.setdefault("TIERES", round(float(curves.tie_residual), 4))
    items = []
    for key, value in meta.items():
        if not isinstance(key, str):
            raise ValueError(f'meta key {key!r} must be a string, a LAS mnemonic such as "SRC"')
        _check_field("mnemonic", key, f"meta key {key!r}")
        if "\n" in str(value) or "\r" in str(value):
            raise ValueError(f"meta[{key!r}] must be one line, got {str(value)!r}")
        text = _param_text(value)
        unit = curves.unit if key == "TIERES" else ""
        items.append(HeaderItem(key, unit=unit, value=text, descr=PARAM_DESCR.get(key.upper(), "DIGITISING SETTING")))
    return items


def _param_text(value: object) -> str:
    """A ~Parameter value with what LAS 2.0 cannot hold there written as an escape ("\\xe9")."""
    return _PARAM_ESCAPE.sub(lambda m: "\\x3a" if m.group() == ":" else ascii(m.group())[1:-1], str(value).strip())


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
    renamed over; see :func:`logdigit.io.atomic.open_output`).

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
        >>> from logdigit.io.layout import DepthSpec, Layout
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
        raise OutputError(f"{path}: cannot write the LAS file ({reason}); choose a writable file path") from None


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

    The text is read as UTF-8 (which covers ASCII; a leading byte-order mark is
    dropped), else as Latin-1, the same way whatever the file holds: no guessing.

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
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc}); check the path and its permissions") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        las = lasio.read(io.StringIO(text))
    except Exception as exc:  # lasio raises many types for garbled text; all mean "not LAS"
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(f"{p}: not a readable LAS file ({reason}); check that it is LAS 1.2/2.0 text") from None
    if not las.curves:
        raise InputError(f"{p}: no curves (no ~Curve section or empty data); check that it is a LAS file")
    return las
