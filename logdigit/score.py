"""Scoring: compare a digitised LAS with a reference ("truth") LAS, curve by curve.

Curves are matched by mnemonic (case-insensitive; the index curve is skipped). The
truth is interpolated linearly onto the digitised depths (NaN next to a truth NULL
or outside the truth's depth range), so every digitised sample is compared at most
once. Per curve:

* ``mae``: mean absolute error in the curve's unit;
* ``nmae``: mean normalised error. With a layout that names the curve: a share of
  the track width, ``|dv| / |rv - lv|`` on linear tracks, ``|d log10 v| / decades``
  on log tracks. Without one: ``|dv|`` / (truth max - truth min), and
  ``normalised_by`` says so;
* ``within_2pct``: share of compared samples whose normalised error is <= 0.02;
* ``coverage``: share of the truth's non-NULL samples inside the digitised depth
  range where the digitised curve is non-NULL (gaps the digitiser left);
* ``correlation``: Pearson r of the compared samples (of log10 values on log tracks).

``max_shift`` searches depth shifts ``s`` in steps of the digitised index step, up to
``max_shift`` either way; the digitised sample at depth ``d`` is compared with the
truth at ``d + s``. One shift is chosen for all curves: the one with the lowest mean
``nmae`` (ties go to the smaller ``|s|``). The index step is the header's ``STEP`` when
it matches the data's spacing (within 1 %), else the data's median spacing. Shifts past
the span of both files compare nothing and are not tried; at most :data:`MAX_SHIFTS`
are searched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import lasio
import numpy as np

from logdigit.errors import InputError
from logdigit.io.las import read_las
from logdigit.io.layout import Layout

WITHIN = 0.02
"""Normalised error counted as a hit by ``within_2pct`` (2 % of track width)."""

MAX_SHIFTS = 10_001
"""Most depth shifts searched (5000 steps either way); each one is a full comparison."""

_FEET = {"FT", "F", "FEET", "FOOT"}
_METRES = {"M", "METER", "METERS", "METRE", "METRES"}


@dataclass(frozen=True)
class CurveScore:
    """The comparison of one curve.

    Attributes:
        mnemonic: the curve mnemonic (as in the digitised file).
        unit: its unit (digitised file).
        samples: number of depths where both curves have a value.
        mae: mean absolute error, in ``unit``.
        nmae: mean normalised error (see ``normalised_by``); 0.01 = 1 % of track width.
        within_2pct: share (0-1) of compared samples with normalised error <= 0.02.
        coverage: share (0-1) of the truth's non-NULL samples (inside the digitised
            depth range) where the digitised curve is non-NULL.
        correlation: Pearson r (log10 values on log tracks); NaN with < 2 samples or
            a flat curve.
        normalised_by: ``"track width"``, ``"track decades"`` (log track) or
            ``"truth range"`` (no layout entry for this curve).
    """

    mnemonic: str
    unit: str
    samples: int
    mae: float
    nmae: float
    within_2pct: float
    coverage: float
    correlation: float
    normalised_by: str


@dataclass(frozen=True)
class ScoreReport:
    """The comparison of a digitised LAS file with a truth LAS file.

    Attributes:
        curves: one :class:`CurveScore` per curve found in both files, digitised order.
        shift: depth shift applied (index units): digitised depth ``d`` was compared
            with truth depth ``d + shift``.
        index_unit: the digitised file's index unit.
        missing_in_digitised: truth curves the digitised file lacks.
        missing_in_truth: digitised curves the truth file lacks.
    """

    curves: tuple[CurveScore, ...]
    shift: float
    index_unit: str
    missing_in_digitised: tuple[str, ...] = ()
    missing_in_truth: tuple[str, ...] = ()

    @property
    def mean_nmae(self) -> float:
        """Mean ``nmae`` over the curves that have one; NaN when none has."""
        values = [c.nmae for c in self.curves if math.isfinite(c.nmae)]
        return float(np.mean(values)) if values else math.nan

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; NaN becomes None."""
        return {
            "shift": self.shift,
            "index_unit": self.index_unit,
            "mean_nmae": _json_number(self.mean_nmae),
            "curves": [{k: _json_number(v) for k, v in asdict(c).items()} for c in self.curves],
            "missing_in_digitised": list(self.missing_in_digitised),
            "missing_in_truth": list(self.missing_in_truth),
        }


def _json_number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass(frozen=True)
class _Norm:
    """How one curve's errors are normalised."""

    log: bool
    scale: float
    by: str


@dataclass(frozen=True)
class _Pair:
    """One matched curve: digitised and truth values on their own indexes."""

    mnemonic: str
    unit: str
    dig: np.ndarray
    truth: np.ndarray
    norm: _Norm


def score(
    digitised: str | os.PathLike | lasio.LASFile,
    truth: str | os.PathLike | lasio.LASFile,
    *,
    layout: Layout | None = None,
    max_shift: float = 0.0,
) -> ScoreReport:
    """Compare a digitised LAS file with a reference, curve by curve.

    Args:
        digitised: the digitised LAS (path or ``lasio.LASFile``).
        truth: the reference LAS (path or ``lasio.LASFile``).
        layout: the layout the scan was digitised with; normalises errors by track
            width (or decades on log tracks). Without it errors are normalised by the
            truth curve's range.
        max_shift: largest depth shift to search either way, in index units (0: none).

    Returns:
        A :class:`ScoreReport` at the best shift.

    Raises:
        InputError: an unreadable file, or depth units that differ (feet vs metres).
        InputError: also a negative or non-finite ``max_shift``, or one that needs more
            than :data:`MAX_SHIFTS` shifts.

    Example:
        >>> import lasio, numpy as np
        >>> t = lasio.LASFile(); t.append_curve("DEPT", np.array([0.0, 1, 2]), unit="M")
        >>> t.append_curve("GR", np.array([10.0, 20, 30]))
        >>> d = lasio.LASFile(); d.append_curve("DEPT", np.array([0.0, 1, 2]), unit="M")
        >>> d.append_curve("GR", np.array([11.0, 20, 29]))
        >>> r = score(d, t)
        >>> r.curves[0].mae, round(r.curves[0].nmae, 4), r.curves[0].normalised_by
        (0.6667, 0.0333, 'truth range')
    """
    if (
        isinstance(max_shift, bool)
        or not isinstance(max_shift, int | float)
        or not math.isfinite(max_shift)
        or max_shift < 0
    ):
        raise InputError(
            f"--max-shift {max_shift!r}: max_shift must be a finite number >= 0 (index units); e.g. 5, or 0 for none"
        )
    dig_las, truth_las = _as_las(digitised), _as_las(truth)
    dig_depth, dig_unit = _index(dig_las, "digitised")
    truth_depth, truth_unit = _index(truth_las, "truth")
    _check_units(dig_unit, truth_unit)
    pairs, missing_dig, missing_truth = _match(dig_las, truth_las, layout)
    step, k_max = _shift_steps(dig_las, dig_depth, truth_depth, float(max_shift), dig_unit)
    best = _best_shift(dig_depth, truth_depth, pairs, _shifts(step, k_max))
    rows = tuple(_score_curve(dig_depth, truth_depth, p, best) for p in pairs)
    return ScoreReport(rows, best, dig_unit, tuple(missing_dig), tuple(missing_truth))


def _as_las(source: str | os.PathLike | lasio.LASFile) -> lasio.LASFile:
    return source if isinstance(source, lasio.LASFile) else read_las(source)


def _index(las: lasio.LASFile, name: str) -> tuple[np.ndarray, str]:
    if not las.curves:
        raise InputError(f"{name}: the LAS file has no curves; check that it is a LAS file")
    depth = np.asarray(las.curves[0].data, dtype=np.float64)
    unit = las.curves[0].unit or (las.well["STRT"].unit if "STRT" in las.well else "")
    return depth, str(unit or "")


def _check_units(dig_unit: str, truth_unit: str) -> None:
    families = [_unit_family(u) for u in (dig_unit, truth_unit)]
    if None not in families and families[0] != families[1]:
        raise InputError(
            f"truth: depth unit {truth_unit} differs from the digitised file's {dig_unit}; "
            "convert one file so both use the same depth unit"
        )


def _unit_family(unit: str) -> str | None:
    u = unit.strip().upper()
    return "ft" if u in _FEET else "m" if u in _METRES else None


def _curves(las: lasio.LASFile) -> dict[str, tuple[str, str, np.ndarray]]:
    """Numeric non-index curves: upper-case mnemonic -> (mnemonic, unit, float64 data)."""
    out: dict[str, tuple[str, str, np.ndarray]] = {}
    for curve in las.curves[1:]:
        try:
            data = np.asarray(curve.data, dtype=np.float64)
        except (TypeError, ValueError):
            continue  # a text curve has nothing to score
        out.setdefault(curve.mnemonic.upper(), (curve.mnemonic, str(curve.unit or ""), data))
    return out


def _match(
    dig_las: lasio.LASFile, truth_las: lasio.LASFile, layout: Layout | None
) -> tuple[list[_Pair], list[str], list[str]]:
    dig, truth = _curves(dig_las), _curves(truth_las)
    pairs = [
        _Pair(name, unit, data, truth[key][2], _normaliser(key, truth[key][2], layout))
        for key, (name, unit, data) in dig.items()
        if key in truth
    ]
    missing_dig = [name for key, (name, _, _) in truth.items() if key not in dig]
    missing_truth = [name for key, (name, _, _) in dig.items() if key not in truth]
    return pairs, missing_dig, missing_truth


def _normaliser(key: str, truth: np.ndarray, layout: Layout | None) -> _Norm:
    for track in layout.tracks if layout is not None else ():
        for spec in track.curves:
            if spec.mnemonic.upper() == key:
                lv, rv = float(spec.left_value), float(spec.right_value)
                if track.scale == "log":
                    return _Norm(True, abs(math.log10(rv) - math.log10(lv)), "track decades")
                return _Norm(False, abs(rv - lv), "track width")
    finite = truth[np.isfinite(truth)]
    span = float(finite.max() - finite.min()) if finite.size else math.nan
    return _Norm(False, span, "truth range")


def _shift_steps(
    las: lasio.LASFile, dig_depth: np.ndarray, truth_depth: np.ndarray, max_shift: float, unit: str
) -> tuple[float, int]:
    """The shift step and the most steps either way worth searching; refuse more than MAX_SHIFTS."""
    step = _index_step(las, dig_depth)
    if max_shift == 0 or not step:
        return step, 0
    both = np.concatenate([dig_depth, truth_depth])
    both = both[np.isfinite(both)]
    span = float(both.max() - both.min()) if both.size else 0.0  # further shifts compare nothing
    k_max = math.floor(min(max_shift, span) / step + 1e-9)
    if 2 * k_max + 1 > MAX_SHIFTS:
        raise InputError(
            f"--max-shift {max_shift:g}: {2 * k_max + 1:,} shifts of {step:g} {unit} to search, over the limit of "
            f"{MAX_SHIFTS:,}; give --max-shift {MAX_SHIFTS // 2 * step:g} or less"
        )
    return step, k_max


def _shifts(step: float, k_max: int) -> Iterator[float]:
    """0, +step, -step, +2 step, ... up to ``k_max`` steps; smaller shifts first, one at a time."""
    yield 0.0
    for k in range(1, k_max + 1):
        yield round(k * step, 10)
        yield round(-k * step, 10)


def _index_step(las: lasio.LASFile, depth: np.ndarray) -> float:
    """The header's STEP when the data's spacing agrees (within 1 %), else the data's median spacing."""
    try:
        header = abs(float(las.well["STEP"].value))
    except (KeyError, TypeError, ValueError):
        header = 0.0
    diffs = np.abs(np.diff(depth[np.isfinite(depth)]))
    diffs = diffs[diffs > 0]
    spacing = float(np.median(diffs)) if diffs.size else 0.0
    if math.isfinite(header) and header > 0 and (not spacing or abs(header - spacing) <= 0.01 * spacing):
        return header
    return spacing


def _best_shift(dig_depth: np.ndarray, truth_depth: np.ndarray, pairs: list[_Pair], shifts: Iterable[float]) -> float:
    best, best_cost = 0.0, math.inf
    for shift in shifts:
        errors = [_score_curve(dig_depth, truth_depth, p, shift).nmae for p in pairs]
        finite = [e for e in errors if math.isfinite(e)]
        cost = float(np.mean(finite)) if finite else math.inf
        if cost < best_cost - 1e-12:
            best, best_cost = shift, cost
    return best


def _score_curve(dig_depth: np.ndarray, truth_depth: np.ndarray, pair: _Pair, shift: float) -> CurveScore:
    dv = pair.dig
    tv = _interp(dig_depth + shift, truth_depth, pair.truth)  # truth at the digitised depths
    both = np.isfinite(dv) & np.isfinite(tv)
    mae = float(np.mean(np.abs(dv[both] - tv[both]))) if both.any() else math.nan
    a, b = _transform(dv[both], pair.norm), _transform(tv[both], pair.norm)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    scale_ok = math.isfinite(pair.norm.scale) and pair.norm.scale > 0
    nerr = np.abs(a - b) / pair.norm.scale if scale_ok else np.array([])
    return CurveScore(
        mnemonic=pair.mnemonic,
        unit=pair.unit,
        samples=int(both.sum()),
        mae=mae,
        nmae=float(nerr.mean()) if nerr.size else math.nan,
        within_2pct=float(np.mean(nerr <= WITHIN + 1e-12)) if nerr.size else math.nan,
        coverage=_coverage(dig_depth, truth_depth, pair, shift),
        correlation=_pearson(a, b),
        normalised_by=pair.norm.by,
    )


def _transform(values: np.ndarray, norm: _Norm) -> np.ndarray:
    if not norm.log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def _coverage(dig_depth: np.ndarray, truth_depth: np.ndarray, pair: _Pair, shift: float) -> float:
    finite = dig_depth[np.isfinite(dig_depth)]
    if not finite.size:
        return math.nan
    tol = 1e-9 * max(1.0, float(np.abs(finite).max()))
    lo, hi = finite.min() + shift - tol, finite.max() + shift + tol
    wanted = np.isfinite(pair.truth) & (truth_depth >= lo) & (truth_depth <= hi)
    if not wanted.any():
        return math.nan
    got = _interp(truth_depth[wanted] - shift, dig_depth, pair.dig)
    return float(np.mean(np.isfinite(got)))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def _interp(x_new: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``y`` at ``x_new``: linear between the neighbouring samples; NaN outside ``x`` or next to a NaN."""
    keep = np.isfinite(x)
    order = np.argsort(x[keep], kind="stable")
    x, y = x[keep][order], y[keep][order]
    out = np.full(np.shape(x_new), np.nan)
    n = len(x)
    if n == 0:
        return out
    gaps = np.diff(x)
    tol = 1e-6 * (float(gaps[gaps > 0].min()) if np.any(gaps > 0) else 1.0)
    j = np.searchsorted(x, x_new)  # x[j-1] < x_new <= x[j]
    hi, lo = np.clip(j, 0, n - 1), np.clip(j - 1, 0, n - 1)
    at_hi, at_lo = np.abs(x[hi] - x_new) <= tol, np.abs(x[lo] - x_new) <= tol
    exact = at_hi | at_lo
    out[exact] = y[np.where(at_hi, hi, lo)[exact]]
    between = ~exact & (j > 0) & (j < n)
    i0, i1 = j[between] - 1, j[between]
    f = (x_new[between] - x[i0]) / (x[i1] - x[i0])
    out[between] = y[i0] + f * (y[i1] - y[i0])
    return out
