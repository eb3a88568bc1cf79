"""The layout file: where tracks, curves and depth ties are on a scan (TOML).

A layout sits beside its scan as ``<stem>.layout.toml`` (``scan.tif`` ->
``scan.layout.toml``)::

    [well]                      # optional; copied into the LAS ~Well section
    WELL = "MYSKA 4 ST"
    UWI = "42-157-32993"

    [depth]
    unit = "FT"                 # "FT", "F" or "M"; the LAS index unit
    step = 0.5                  # output sampling step
    ties = [[1779, 1200.2], [4397, 3818.2]]   # >= 2 (pixel row, depth) pairs; least-squares line
    rows = [1700, 4500]         # optional: digitise only this row range (one log section)

    [[tracks]]
    left = 8                    # pixel column of the track's left edge
    right = 258                 # pixel column of its right edge
    scale = "linear"            # "linear" or "log"

    [[tracks.curves]]
    mnemonic = "GR"
    unit = "GAPI"
    left_value = 0              # value at the left edge (may exceed right_value: reversed scale)
    right_value = 150
    line = "solid"              # "solid" -> VeerNet class 1, "dashed" -> class 2 (default "solid")
    color = "#00cc00"           # optional ink colour; separates curves of the same line style
    backup = [150, 300]         # optional: past the right edge, drawn on from the left on 150..300

Pixel rows and columns are 0-based from the image's top-left corner. Besides the
keys above, a curve may carry ``descr`` (its LAS description); ``scale`` defaults to
``"linear"``, ``unit`` to ``""`` and ``line`` to ``"solid"``; ``line = "dotted"`` is a
class-2 line like ``"dashed"`` (VeerNet draws both as class 2); where a track holds dashed and
dotted curves of one ink, saying which is which lets the tracer hand them out by the length of
their pieces instead of by column. A curve drawn past a track edge and on from the other edge
declares it: ``wrap = true`` (on its own scale shifted by one track width, past either edge) or
``backup = [a, b]`` (past the right edge only, on the scale ``a..b`` from the left edge); see
:class:`CurveSpec`. A curve that redraws another curve of its track on another scale (an
amplified or an over-range copy) says so with ``copy_of = "MNEMONIC"``. Unit, scale and line words are
read case-insensitively. ``unit = "PX"`` marks an uncalibrated draft written by
``logdigit layout``: the index is then the pixel row and values are fractions of the
track width. Tie depths must rise (or fall) steadily with the row. Mnemonics, units,
descriptions and ``[well]`` keys and values must be text a LAS 2.0 header holds intact
(printable ASCII, no colon in a description; see :mod:`logdigit.io.lasfields`).

Every problem is a :class:`~logdigit.errors.LayoutError` with one line:
``"{path}: {field}: {what is wrong}; {how to fix}"``.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from logdigit.errors import LayoutError
from logdigit.io.atomic import write_text_atomic
from logdigit.io.lasfields import field_problem

log = logging.getLogger(__name__)

LINE_CLASSES: dict[str, int] = {"solid": 1, "dashed": 2, "dotted": 2}
"""Layout ``line`` value -> VeerNet class index. VeerNet draws dashed and dotted lines as one
class; the tracer tells them apart by the length of their pieces (see :mod:`logdigit.trace.tracer`)."""

DRAFT_LINES: dict[int, str] = {1: "solid", 2: "dashed"}
"""VeerNet class index -> the ``line`` a draft layout (:func:`uncalibrated_layout`) gives it."""

DEPTH_UNITS: tuple[str, ...] = ("FT", "F", "M")
"""Index units a calibrated layout may use."""

UNCALIBRATED_UNIT = "PX"
"""Index unit of an uncalibrated draft: the pixel row."""

SCALES: tuple[str, ...] = ("linear", "log")
"""Track scales."""

LAYOUT_SUFFIX = ".layout.toml"
"""Sidecar suffix: ``scan.tif`` -> ``scan.layout.toml``."""

RESERVED_WELL_ITEMS: tuple[str, ...] = ("STRT", "STOP", "STEP", "NULL")
"""~Well items logdigit writes itself from the depth grid."""


@dataclass(frozen=True)
class CurveSpec:
    """One curve drawn in a track.

    Attributes:
        mnemonic: LAS mnemonic, e.g. ``"GR"``.
        unit: LAS unit, e.g. ``"GAPI"`` (may be empty).
        left_value: value at the track's left edge.
        right_value: value at the track's right edge (may be < left_value: reversed scale).
        line: ``"solid"`` (VeerNet class 1), ``"dashed"`` or ``"dotted"`` (class 2).
        color: optional ink colour as an (R, G, B) tuple of 0-255 ints.
        descr: optional LAS description.
        wrap: past an edge the curve is drawn on from the other edge, on its own scale
            shifted by one track width: at wrap level L (+1 past the right edge, -1 past the
            left) and fraction f across the track, ``value = lv + (f + L) (rv - lv)``, in
            log10 of the values on a log track. Its wrapped stretches become true values.
        backup: ``(a, b)``: past the right edge the curve is drawn again from the left edge on
            the scale ``a..b`` (a GR 0-150 with backup 150-300): at level +1,
            ``value = a + f (b - a)`` (in log10 on a log track). Past the left edge: NULL.
            A wrapped stretch that neither declares is written NULL (and flagged ``wrapped``).
        copy_of: mnemonic of another curve of the track that this one is a scaled copy of (the
            same log drawn again on its own scale): an *amplified* copy, whose scale lies within
            the other's, is drawn where the value is on its scale; an *over-range* copy, whose
            scale reaches past the other's, only where the value is past the other's scale. The
            group is then read as one value per row (:mod:`logdigit.trace.copies`). Empty: none.
    """

    mnemonic: str
    left_value: float
    right_value: float
    unit: str = ""
    line: str = "solid"
    color: tuple[int, int, int] | None = None
    descr: str = ""
    wrap: bool = False
    backup: tuple[float, float] | None = None
    copy_of: str = ""

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
        interpolate: depth piecewise-linear through every tie instead of one line (paper that
            stretched unevenly, tied at many rows); :func:`logdigit.calibrate.depth_map`.
    """

    unit: str
    step: float
    ties: tuple[tuple[float, float], ...]
    rows: tuple[int, int] | None = None
    interpolate: bool = False


@dataclass(frozen=True)
class Layout:
    """Everything logdigit needs to know about a scan beyond its pixels.

    ``calibrated`` is False for a layout detected from the scan alone: the index is the
    pixel row and the values are fractions of track width. ``source`` is the file the
    layout was read from ("" when built in memory); it is provenance, not content, so
    it takes no part in ``==`` (``load_layout(write_layout(x, p)) == x``).
    """

    depth: DepthSpec
    tracks: tuple[Track, ...]
    well: Mapping[str, str] = field(default_factory=dict)
    source: str = field(default="", compare=False)
    calibrated: bool = True


# --------------------------------------------------------------------------- reading

# key -> required?
_TOP_KEYS = {"well": False, "depth": True, "tracks": True}
_DEPTH_KEYS = {"unit": True, "step": True, "ties": True, "rows": False, "interpolate": False}
_TRACK_KEYS = {"left": True, "right": True, "scale": False, "curves": True}
_CURVE_KEYS = {
    "mnemonic": True,
    "unit": False,
    "left_value": True,
    "right_value": True,
    "line": False,
    "color": False,
    "descr": False,
    "wrap": False,
    "backup": False,
    "copy_of": False,
}
_COLOR = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_TOML_LOCATION = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def load_layout(path: str | os.PathLike) -> Layout:
    """Read and check a layout TOML file.

    Args:
        path: the ``.layout.toml`` file.

    Returns:
        The :class:`Layout`, with ``source`` set to ``str(path)``; ``calibrated`` is
        False when ``depth.unit`` is ``"PX"``.

    Raises:
        LayoutError: one line ``"{path}: {field}: {what is wrong}; {how to fix}"`` for a
            missing or unreadable file, invalid TOML, an unknown key (with the closest
            valid key), a missing key, a wrong type or an invalid value.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "scan.layout.toml"
        >>> _ = p.write_text('''
        ... [depth]
        ... unit = "FT"
        ... step = 0.5
        ... ties = [[100, 1000.0], [300, 1100.0]]
        ... [[tracks]]
        ... left = 8
        ... right = 258
        ... [[tracks.curves]]
        ... mnemonic = "GR"
        ... left_value = 0
        ... right_value = 150
        ... ''')
        >>> layout = load_layout(p)
        >>> layout.tracks[0].curves[0].mnemonic, layout.depth.ties
        ('GR', ((100.0, 1000.0), (300.0, 1100.0)))
    """
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise LayoutError(f"{where}: file not found; check the path or write one with `logdigit layout`") from None
    except OSError as exc:
        raise LayoutError(f"{where}: cannot read ({exc.strerror}); check the path and its permissions") from None
    return _parse_bytes(raw, where)


def parse_layout(text: str, *, source: str = "layout") -> Layout:
    r"""A layout from TOML text, checked as :func:`load_layout` checks a file (``source`` names
    it in errors).

    >>> text = ('[depth]\nunit = "PX"\nstep = 1\nties = [[0, 0], [9, 9]]\n[[tracks]]\nleft = 0\nright = 9\n'
    ...         '[[tracks.curves]]\nmnemonic = "GR"\nleft_value = 0\nright_value = 150\n')
    >>> parse_layout(text).tracks[0].curves[0].mnemonic
    'GR'
    """
    return _parse_bytes(text.encode("utf-8"), source)


def _parse_bytes(raw: bytes, where: str) -> Layout:
    """Decode and parse layout TOML bytes; ``where`` names the file in errors."""
    try:
        text = raw.decode("utf-8-sig")  # editors on Windows may add a BOM
    except UnicodeDecodeError as exc:
        raise LayoutError(f"{where}: byte {exc.start}: not UTF-8 text; save the layout as UTF-8 TOML") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LOCATION.match(str(exc))
        place, msg = (f"line {m['line']}", m["msg"]) if m else ("TOML", str(exc))
        raise LayoutError(f"{where}: {place}: invalid TOML ({msg}); fix the syntax on that line") from None
    return _parse(data, where)


def _parse(data: dict[str, Any], where: str) -> Layout:
    """Turn parsed TOML into a checked :class:`Layout`."""
    _check_keys(data, _TOP_KEYS, where, "")
    well = _parse_well(data.get("well", {}), where)
    depth = _parse_depth(_table(data["depth"], where, "depth", "[depth]"), where)
    tracks = _parse_tracks(data["tracks"], where)
    _check_unique_mnemonics(tracks, where)
    return Layout(
        depth=depth,
        tracks=tracks,
        well=well,
        source=where,
        calibrated=depth.unit != UNCALIBRATED_UNIT,
    )


def _fail(where: str, name: str, what: str, fix: str) -> LayoutError:
    """The one-line error: ``"{path}: {field}: {what}; {fix}"``."""
    return LayoutError(f"{where}: {name}: {what}; {fix}")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _check_keys(table: Mapping[str, Any], spec: Mapping[str, bool], where: str, prefix: str) -> None:
    """Refuse unknown keys (suggesting the closest valid one), then missing required keys."""
    valid = list(spec)
    for key in table:
        if key not in spec:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            fix = f'did you mean "{close[0]}"?' if close else "remove it"
            raise _fail(where, _join(prefix, key), "unknown key", f"{fix} (valid keys: {', '.join(valid)})")
    for key, required in spec.items():
        if required and key not in table:
            raise _fail(where, _join(prefix, key), "missing", f"add the required key {key!r}")


def _table(value: Any, where: str, name: str, how: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, name, f"must be a table, got {_show(value)}", f"write it as a {how} section")
    return value


def _tables(value: Any, where: str, name: str, how: str) -> list[dict[str, Any]]:
    """An array of tables (``[[name]]``) with at least one entry."""
    if isinstance(value, dict) or not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(where, name, f"must be an array of tables, got {_show(value)}", f"write each one as {how}")
    if not value:
        raise _fail(where, name, "is empty", f"add at least one {how} section")
    return value


def _show(value: Any) -> str:
    """A short description of what arrived, for error messages."""
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"


def _number(value: Any, where: str, name: str, fix: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, name, f"must be a finite number, got {_show(value)}", fix)
    return float(value)


def _integer(value: Any, where: str, name: str, fix: str) -> int:
    ok = not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))
    if not ok:
        raise _fail(where, name, f"must be a whole number of pixels, got {_show(value)}", fix)
    if value < 0:
        raise _fail(where, name, f"must be >= 0 (pixels from the top-left), got {value}", fix)
    return int(value)


def _string(value: Any, where: str, name: str, fix: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, name, f"must be a string, got {_show(value)}", fix)
    if "\n" in value or "\r" in value:
        raise _fail(where, name, "must be one line", "remove the line break")
    return value


def _las_field(kind: str, text: str, where: str, name: str) -> str:
    """``text`` unchanged when LAS 2.0 can hold it as a header ``kind`` (see :mod:`logdigit.io.lasfields`)."""
    problem = field_problem(kind, text)
    if problem is not None:
        raise _fail(where, name, *problem)
    return text


def _choice(value: Any, choices: Sequence[str], where: str, name: str) -> str:
    """A case-insensitive choice from ``choices``, returned in canonical spelling."""
    word = _string(value, where, name, f"use one of {_quoted(choices)}")
    lookup = {c.lower(): c for c in choices}
    if word.lower() in lookup:
        return lookup[word.lower()]
    close = difflib.get_close_matches(word.lower(), list(lookup), n=1, cutoff=0.5)
    hint = f'did you mean "{lookup[close[0]]}"? ' if close else ""
    raise _fail(where, name, f'must be one of {_quoted(choices)}, got "{word}"', f"{hint}use one of {_quoted(choices)}")


def _quoted(words: Sequence[str] | Mapping[str, str]) -> str:
    return ", ".join(f'"{w}"' for w in words)


def _parse_well(value: Any, where: str) -> dict[str, str]:
    table = _table(value, where, "well", "[well]")
    well: dict[str, str] = {}
    for key, item in table.items():
        name = f"well.{key}"
        _las_field("mnemonic", key, where, name)
        if key.upper() in RESERVED_WELL_ITEMS:
            raise _fail(where, name, "is written by logdigit from the depth grid", "remove it from [well]")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _fail(where, name, f"must be a string or a number, got {_show(item)}", 'quote it, e.g. "..."')
        well[key] = _las_field("value", _string(str(item), where, name, ""), where, name)
    return well


def _parse_depth(table: dict[str, Any], where: str) -> DepthSpec:
    _check_keys(table, _DEPTH_KEYS, where, "depth")
    unit = _choice(table["unit"], (*DEPTH_UNITS, UNCALIBRATED_UNIT), where, "depth.unit")
    step = _number(table["step"], where, "depth.step", "use the output sampling step, e.g. 0.5")
    if step <= 0:
        raise _fail(where, "depth.step", f"must be > 0, got {table['step']}", "use the output sampling step, e.g. 0.5")
    ties = _parse_ties(table["ties"], where)
    rows = _parse_rows(table["rows"], where) if "rows" in table else None
    interpolate = table.get("interpolate", False)
    if not isinstance(interpolate, bool):
        raise _fail(
            where,
            "depth.interpolate",
            f"must be true or false, got {_show(interpolate)}",
            "write interpolate = true to follow every tie (stretched paper), or leave it out for one line",
        )
    return DepthSpec(unit=unit, step=step, ties=ties, rows=rows, interpolate=interpolate)


def _parse_ties(value: Any, where: str) -> tuple[tuple[float, float], ...]:
    fix = "write ties = [[row, depth], [row, depth], ...] with two or more depth labels read off the scan"
    if not isinstance(value, list) or len(value) < 2:
        n = len(value) if isinstance(value, list) else _show(value)
        raise _fail(where, "depth.ties", f"needs at least two [row, depth] pairs, got {n}", fix)
    ties = []
    for i, pair in enumerate(value):
        name = f"depth.ties[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise _fail(where, name, f"must be a [row, depth] pair, got {_show(pair)}", fix)
        row = _number(pair[0], where, name, "the row is a pixel row counted from the top (0-based)")
        depth = _number(pair[1], where, name, "the depth is the number printed on the log at that row")
        if row < 0:
            raise _fail(where, name, f"row must be >= 0, got {pair[0]}", "count pixel rows from the top (0-based)")
        ties.append((row, depth))
    _check_tie_order(ties, where)
    return tuple(ties)


def _check_tie_order(ties: Sequence[tuple[float, float]], where: str) -> None:
    """Refuse two ties on one row, and depths that do not rise (or fall) steadily with row."""
    order = sorted(range(len(ties)), key=lambda i: ties[i][0])
    lo, hi = ties[order[0]], ties[order[-1]]
    direction = math.copysign(1.0, hi[1] - lo[1])
    for prev, cur in zip(order, order[1:], strict=False):
        (r0, d0), (r1, d1) = ties[prev], ties[cur]
        if r1 == r0:
            raise _fail(
                where,
                f"depth.ties[{cur}]",
                f"row {r1:g} is already tied by depth.ties[{prev}]",
                "each tie needs its own row: remove one or fix its row",
            )
        if (d1 - d0) * direction <= 0:
            raise _fail(
                where,
                f"depth.ties[{cur}]",
                f"depth {d1:g} at row {r1:g} is out of order with depth.ties[{prev}] (depth {d0:g} at row {r0:g})",
                "depth must rise (or fall) steadily with row: check the row and depth of both ties",
            )


def _parse_rows(value: Any, where: str) -> tuple[int, int]:
    fix = "write rows = [first, last], pixel rows counted from the top (0-based), first < last"
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(where, "depth.rows", f"must be [first, last], got {_show(value)}", fix)
    first = _integer(value[0], where, "depth.rows", fix)
    last = _integer(value[1], where, "depth.rows", fix)
    if first >= last:
        raise _fail(where, "depth.rows", f"first row must be < last row, got [{first}, {last}]", fix)
    return (first, last)


def _parse_tracks(value: Any, where: str) -> tuple[Track, ...]:
    tracks = []
    for i, table in enumerate(_tables(value, where, "tracks", "[[tracks]]")):
        prefix = f"tracks[{i}]"
        _check_keys(table, _TRACK_KEYS, where, prefix)
        fix = "use the pixel column of the track edge, counted from the left (0-based)"
        left = _integer(table["left"], where, f"{prefix}.left", fix)
        right = _integer(table["right"], where, f"{prefix}.right", fix)
        if left >= right:
            raise _fail(
                where,
                f"{prefix}.right",
                f"must be > left ({left}), got {right}",
                "check both edges (swap them if reversed)",
            )
        scale = _choice(table.get("scale", "linear"), SCALES, where, f"{prefix}.scale")
        tables = _tables(table["curves"], where, f"{prefix}.curves", "[[tracks.curves]]")
        curves = tuple(_parse_curve(c, scale, where, f"{prefix}.curves[{j}]") for j, c in enumerate(tables))
        _check_copies(curves, where, prefix)
        tracks.append(Track(left=left, right=right, scale=scale, curves=curves))
    return tuple(tracks)


def _parse_curve(table: dict[str, Any], scale: str, where: str, prefix: str) -> CurveSpec:
    _check_keys(table, _CURVE_KEYS, where, prefix)
    mnemonic = _string(table["mnemonic"], where, f"{prefix}.mnemonic", 'e.g. mnemonic = "GR"')
    _las_field("mnemonic", mnemonic, where, f"{prefix}.mnemonic")
    if mnemonic.upper() == "DEPT":
        raise _fail(where, f"{prefix}.mnemonic", '"DEPT" is the depth index', "choose another mnemonic")
    unit = _string(table.get("unit", ""), where, f"{prefix}.unit", 'e.g. unit = "GAPI"')
    _las_field("unit", unit, where, f"{prefix}.unit")
    values = [
        _number(table[k], where, f"{prefix}.{k}", f"use the value printed at the track's {k.split('_')[0]} edge")
        for k in ("left_value", "right_value")
    ]
    _check_values(values, scale, where, prefix)
    line = _choice(table.get("line", "solid"), tuple(LINE_CLASSES), where, f"{prefix}.line")
    color = _parse_color(table["color"], where, f"{prefix}.color") if "color" in table else None
    descr = _string(table.get("descr", ""), where, f"{prefix}.descr", 'e.g. descr = "Gamma ray"')
    _las_field("descr", descr, where, f"{prefix}.descr")
    wrap, backup = _parse_wrap(table, scale, where, prefix)
    copy_of = _string(table.get("copy_of", ""), where, f"{prefix}.copy_of", 'e.g. copy_of = "M2R2"')
    if copy_of and (wrap or backup is not None):
        raise _fail(
            where,
            f"{prefix}.copy_of",
            "given with wrap or backup",
            "a scaled copy is drawn on its own scale only: declare wrap or backup on the curve it copies",
        )
    return CurveSpec(
        mnemonic,
        values[0],
        values[1],
        unit=unit,
        line=line,
        color=color,
        descr=descr,
        wrap=wrap,
        backup=backup,
        copy_of=copy_of,
    )


def _check_copies(curves: tuple[CurveSpec, ...], where: str, prefix: str) -> None:
    """Each ``copy_of`` names another curve of the same track, which is no copy itself."""
    names = {c.mnemonic: c for c in curves}
    for j, c in enumerate(curves):
        if not c.copy_of:
            continue
        field = f"{prefix}.curves[{j}].copy_of"
        other = names.get(c.copy_of)
        if other is None or other is c:
            raise _fail(
                where,
                field,
                f"{c.copy_of!r} is not another curve of this track",
                f"name one of {sorted(set(names) - {c.mnemonic})}, the curve this one redraws on another scale",
            )
        if other.copy_of:
            raise _fail(
                where,
                field,
                f"{c.copy_of!r} is itself a copy of {other.copy_of!r}",
                f'write copy_of = "{other.copy_of}"',
            )


def _parse_wrap(table: dict[str, Any], scale: str, where: str, prefix: str) -> tuple[bool, tuple[float, float] | None]:
    """The curve's ``wrap`` and ``backup`` declarations (at most one of them)."""
    wrap = table.get("wrap", False)
    if not isinstance(wrap, bool):
        raise _fail(where, f"{prefix}.wrap", f"must be true or false, got {_show(wrap)}", "write wrap = true")
    if "backup" not in table:
        return wrap, None
    fix = "write backup = [a, b], the values at the track's left and right edges on the backup scale, e.g. [150, 300]"
    value = table["backup"]
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(where, f"{prefix}.backup", f"must be [a, b], got {_show(value)}", fix)
    a, b = (_number(v, where, f"{prefix}.backup", fix) for v in value)
    if a == b:
        raise _fail(where, f"{prefix}.backup", f"both values are {a:g}", fix)
    if scale == "log" and min(a, b) <= 0:
        raise _fail(where, f"{prefix}.backup", f"log scale needs values > 0, got [{a:g}, {b:g}]", fix)
    if wrap:
        raise _fail(
            where,
            f"{prefix}.backup",
            "given with wrap = true",
            "declare one: wrap = true (the curve's own scale, past either edge) or backup = [a, b]",
        )
    return False, (a, b)


def _check_values(values: Sequence[float], scale: str, where: str, prefix: str) -> None:
    if scale == "log":
        for key, v in zip(("left_value", "right_value"), values, strict=True):
            if v <= 0:
                raise _fail(
                    where,
                    f"{prefix}.{key}",
                    f"log scale needs values > 0, got {v:g}",
                    "use the track's lowest decade, e.g. 0.2",
                )
    if values[0] == values[1]:
        raise _fail(
            where,
            f"{prefix}.right_value",
            f"equals left_value ({values[0]:g})",
            "use the values printed at the two edges of the track",
        )


def _parse_color(value: Any, where: str, name: str) -> tuple[int, int, int]:
    text = _string(value, where, name, 'write it as "#rrggbb", e.g. "#00cc00"')
    m = _COLOR.match(text.strip())
    if not m:
        raise _fail(where, name, f'must be a "#rrggbb" hex colour, got "{text}"', 'write it as e.g. "#00cc00"')
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def _check_unique_mnemonics(tracks: Sequence[Track], where: str) -> None:
    seen: dict[str, str] = {}
    for i, track in enumerate(tracks):
        for j, curve in enumerate(track.curves):
            name = f"tracks[{i}].curves[{j}]"
            key = curve.mnemonic.upper()
            if key in seen:
                raise _fail(
                    where,
                    f"{name}.mnemonic",
                    f'"{curve.mnemonic}" is already used by {seen[key]}',
                    f'give each curve its own mnemonic, e.g. "{curve.mnemonic}2"',
                )
            seen[key] = name


# --------------------------------------------------------------------------- scan checks


def find_layout(scan_path: str | os.PathLike) -> Path | None:
    """The sidecar layout of a scan, if there is one.

    Args:
        scan_path: the scan, e.g. ``scan.tif``.

    Returns:
        ``scan.layout.toml`` in the scan's folder when that file exists, else None.

    Example:
        >>> find_layout("no/such/scan.tif") is None
        True
    """
    scan = Path(scan_path)
    candidate = scan.with_name(scan.stem + LAYOUT_SUFFIX)
    return candidate if candidate.is_file() else None


def check_layout(layout: Layout, shape: Sequence[int], *, path: str | os.PathLike | None = None) -> None:
    """Check a layout against the scan it will be applied to.

    Tracks and ``depth.rows`` must lie inside the image; depth ties outside it are
    only logged (a tie may be read off a longer copy of the log).

    Args:
        layout: the layout.
        shape: the image shape, ``(H, W)`` or ``(H, W, C)``, in pixels.
        path: the layout file named in errors; defaults to ``layout.source``.

    Raises:
        LayoutError: one line naming the file, the field and the fix.
        ValueError: if ``shape`` is not an image shape.

    Example:
        >>> lay = uncalibrated_layout([(10, 90)], 200)
        >>> check_layout(lay, (200, 100))
        >>> check_layout(lay, (200, 50), path="scan.layout.toml")
        Traceback (most recent call last):
        ...
        logdigit.errors.LayoutError: scan.layout.toml: tracks[0].right: column 90 is outside the image ...
    """
    if len(shape) < 2 or any(int(n) <= 0 for n in shape[:2]):
        raise ValueError(f"shape must be (H, W) or (H, W, C) with H, W > 0, got {tuple(shape)}")
    where = str(path) if path is not None else (layout.source or "layout")
    _check_inside(layout, int(shape[0]), int(shape[1]), where)


def _check_inside(layout: Layout, height: int, width: int, where: str) -> None:
    fix = "check the layout against this scan (same file, same resolution, not cropped)"
    for i, track in enumerate(layout.tracks):
        for key in ("left", "right"):
            col = getattr(track, key)
            if not 0 <= col < width:
                what = f"column {col} is outside the image ({width} px wide: columns 0..{width - 1})"
                raise _fail(where, f"tracks[{i}].{key}", what, fix)
    if layout.depth.rows is not None:
        for row in layout.depth.rows:
            if not 0 <= row < height:
                what = f"row {row} is outside the image ({height} px tall: rows 0..{height - 1})"
                raise _fail(where, "depth.rows", what, fix)
    for i, (tie_row, _) in enumerate(layout.depth.ties):
        if not 0 <= tie_row < height:
            log.warning("%s: depth.ties[%d]: row %g is outside the image (%d px tall)", where, i, tie_row, height)


# --------------------------------------------------------------------------- writing

_DRAFT_HEADER = """\
# Draft layout written by logdigit: NOT calibrated yet.
# The tracks below were detected from the scan. Before digitising, fill in:
#   [depth]  unit = "FT", "F" or "M"; step = the output sampling step (e.g. 0.5);
#            ties = [[row, depth], ...]: two or more depth labels read off the scan
#            (pixel row counted from the top, 0-based, and the depth printed there).
#   each [[tracks.curves]]: mnemonic, unit, left_value and right_value read off the
#            track header (the values printed at the track's left and right edges).
# Delete the curves a track does not have. While unit = "PX" the output index is the
# pixel row and the values are fractions of the track width (0 = left edge, 1 = right).
"""


def layout_to_toml(layout: Layout) -> str:
    """The layout as TOML text that :func:`load_layout` reads back to an equal layout.

    An uncalibrated draft (``layout.calibrated`` False, ``depth.unit == "PX"``) gets
    comments telling the user which keys to fill in.

    Args:
        layout: the layout.

    Returns:
        TOML text.

    Raises:
        ValueError: if ``calibrated`` disagrees with ``depth.unit`` (only ``"PX"`` is
            uncalibrated), which a file could not record.

    Example:
        >>> print(layout_to_toml(uncalibrated_layout([(10, 90)], 200, classes_per_track=[[1]])))
        # Draft layout ...
        [depth]
        unit = "PX"  # fill in: "FT", "F" or "M"
        step = 1  # fill in: output sampling step, e.g. 0.5
        ties = [[0, 0], [199, 199]]  # fill in: [[row, depth], ...] read off the scan
        <BLANKLINE>
        [[tracks]]
        left = 10
        right = 90
        scale = "linear"  # "linear" or "log"
        <BLANKLINE>
        [[tracks.curves]]
        mnemonic = "T1_SOLID"  # fill in
        unit = ""  # fill in, e.g. "GAPI"
        left_value = 0  # fill in: value at the left edge
        right_value = 1  # fill in: value at the right edge
        line = "solid"
    """
    if layout.calibrated == (layout.depth.unit == UNCALIBRATED_UNIT):
        raise ValueError(
            f"layout.calibrated={layout.calibrated} disagrees with depth.unit={layout.depth.unit!r}; "
            f'only unit "{UNCALIBRATED_UNIT}" marks an uncalibrated layout'
        )
    draft = not layout.calibrated
    parts = [_DRAFT_HEADER] if draft else []
    if layout.well:
        lines = [f"{_toml_key(k)} = {_toml_str(v)}" for k, v in layout.well.items()]
        parts.append("\n".join(["[well]", *lines]) + "\n")
    parts.append(_depth_toml(layout.depth, draft))
    scale_note = '  # "linear" or "log"' if draft else ""
    for track in layout.tracks:
        parts.append(
            f"[[tracks]]\nleft = {track.left}\nright = {track.right}\nscale = {_toml_str(track.scale)}{scale_note}\n"
        )
        parts.extend(_curve_toml(curve, draft) for curve in track.curves)
    return "\n".join(parts)


def _depth_toml(depth: DepthSpec, draft: bool) -> str:
    notes = (
        (
            '  # fill in: "FT", "F" or "M"',
            "  # fill in: output sampling step, e.g. 0.5",
            "  # fill in: [[row, depth], ...] read off the scan",
        )
        if draft
        else ("", "", "")
    )
    ties = ", ".join(f"[{_toml_num(r)}, {_toml_num(d)}]" for r, d in depth.ties)
    lines = [
        "[depth]",
        f"unit = {_toml_str(depth.unit)}{notes[0]}",
        f"step = {_toml_num(depth.step)}{notes[1]}",
        f"ties = [{ties}]{notes[2]}",
    ]
    if depth.rows is not None:
        lines.append(f"rows = [{depth.rows[0]}, {depth.rows[1]}]")
    if depth.interpolate:
        lines.append("interpolate = true  # depth piecewise-linear through every tie, not one line")
    return "\n".join(lines) + "\n"


def _curve_toml(curve: CurveSpec, draft: bool) -> str:
    notes = (
        (
            "  # fill in",
            '  # fill in, e.g. "GAPI"',
            "  # fill in: value at the left edge",
            "  # fill in: value at the right edge",
        )
        if draft
        else ("", "", "", "")
    )
    lines = [
        "[[tracks.curves]]",
        f"mnemonic = {_toml_str(curve.mnemonic)}{notes[0]}",
        f"unit = {_toml_str(curve.unit)}{notes[1]}",
        f"left_value = {_toml_num(curve.left_value)}{notes[2]}",
        f"right_value = {_toml_num(curve.right_value)}{notes[3]}",
        f"line = {_toml_str(curve.line)}",
    ]
    if curve.color is not None:
        lines.append('color = "#{:02x}{:02x}{:02x}"'.format(*curve.color))
    if curve.descr:
        lines.append(f"descr = {_toml_str(curve.descr)}")
    if curve.wrap:
        lines.append("wrap = true")
    if curve.backup is not None:
        lines.append(f"backup = [{_toml_num(curve.backup[0])}, {_toml_num(curve.backup[1])}]")
    if curve.copy_of:
        lines.append(f"copy_of = {_toml_str(curve.copy_of)}")
    return "\n".join(lines) + "\n"


def _toml_num(value: float) -> str:
    """Integers without a decimal point (``1779``), other floats in shortest round-trip form."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"layout numbers must be finite, got {value}")
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _toml_str(text: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in str(text):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\t":
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_str(key)


def write_layout(layout: Layout, path: str | os.PathLike) -> Path:
    """Write a layout as TOML, atomically, after checking that it reads back unchanged.

    Args:
        layout: the layout (e.g. a detected draft from :func:`uncalibrated_layout`).
        path: the target, conventionally ``<scan stem>.layout.toml``.

    Returns:
        The path written.

    Raises:
        LayoutError: if the layout would not read back (names the target and the field).
        OutputError: if the path cannot be written.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "scan.layout.toml"
        >>> lay = uncalibrated_layout([(10, 90)], 200)
        >>> load_layout(write_layout(lay, p)) == lay
        True
    """
    text = layout_to_toml(layout)
    if _parse_bytes(text.encode("utf-8"), str(path)) != layout:
        raise LayoutError(f"{path}: layout: does not read back unchanged; report this as a logdigit bug")
    return write_text_atomic(path, text)


# --------------------------------------------------------------------------- drafts


def uncalibrated_layout(
    tracks: Sequence[tuple[int, int]],
    n_rows: int,
    *,
    classes_per_track: Sequence[Sequence[int]] | None = None,
) -> Layout:
    """A draft layout for detected tracks: pixel-row index, values as fractions of track width.

    Args:
        tracks: ``(left, right)`` pixel columns of each track, 0-based, ``left < right``.
        n_rows: image height in pixels (>= 2); the ties map row r to "depth" r.
        classes_per_track: VeerNet classes (1 solid, 2 dashed) to list in each track;
            default both. A class listed twice gets numbered mnemonics.

    Returns:
        A :class:`Layout` with ``calibrated=False``, ``DepthSpec("PX", 1, ((0, 0),
        (n_rows - 1, n_rows - 1)))`` and curves ``T{i}_SOLID`` / ``T{i}_DASHED``
        (i counts tracks from 1) whose values run 0 (left edge) to 1 (right edge).

    Raises:
        ValueError: for tracks that are not ``0 <= left < right`` integer pairs,
            ``n_rows < 2`` or unknown classes.

    Example:
        >>> lay = uncalibrated_layout([(10, 90), (100, 180)], 500, classes_per_track=[[1], [1, 2]])
        >>> [c.mnemonic for t in lay.tracks for c in t.curves]
        ['T1_SOLID', 'T2_SOLID', 'T2_DASHED']
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 2:
        raise ValueError(f"n_rows must be an int >= 2 (image height in pixels), got {n_rows!r}")
    if not tracks:
        raise ValueError("tracks is empty; pass at least one (left, right) pixel-column pair")
    classes = [tuple(DRAFT_LINES)] * len(tracks) if classes_per_track is None else classes_per_track
    if len(classes) != len(tracks):
        raise ValueError(f"classes_per_track has {len(classes)} entries for {len(tracks)} tracks; give one per track")
    depth = DepthSpec(unit=UNCALIBRATED_UNIT, step=1.0, ties=((0.0, 0.0), (float(n_rows - 1), float(n_rows - 1))))
    built = tuple(
        _draft_track(i, edges, klasses) for i, (edges, klasses) in enumerate(zip(tracks, classes, strict=True))
    )
    return Layout(depth=depth, tracks=built, calibrated=False)


def _draft_track(i: int, edges: tuple[int, int], klasses: Sequence[int]) -> Track:
    names = DRAFT_LINES
    if len(edges) != 2 or not all(isinstance(e, int | float) and float(e).is_integer() for e in edges):
        raise ValueError(f"tracks[{i}] must be a (left, right) pair of whole pixel columns, got {edges!r}")
    left, right = int(edges[0]), int(edges[1])
    if not 0 <= left < right:
        raise ValueError(f"tracks[{i}] must have 0 <= left < right, got ({left}, {right})")
    bad = [k for k in klasses if k not in names]
    if bad or not klasses:
        raise ValueError(f"classes_per_track[{i}] must list classes from {sorted(names)}, got {list(klasses)!r}")
    curves: list[CurveSpec] = []
    for k in klasses:
        line = names[k]
        base = f"T{i + 1}_{line.upper()}"
        count = list(klasses).count(k)
        n = sum(1 for c in curves if c.line == line) + 1
        curves.append(CurveSpec(base if count == 1 else f"{base}{n}", 0.0, 1.0, line=line))
    return Track(left=left, right=right, curves=tuple(curves))
