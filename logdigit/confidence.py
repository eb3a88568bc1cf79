"""Per-row confidence of traced curves: the probability that a row is within 2 % of track width.

A separate, re-fittable stage after :func:`logdigit.trace.tracer.trace`: it reads only what the
pipeline holds once a scan is traced (the class masks, the layout and the pixel traces) and
maps a few features of each traced row to a calibrated probability with a small logistic
regression. The coefficients are plain JSON (``logdigit/data/confidence.json``), fitted on
synthetic ``val`` sheets and checked on held-out ``test`` seeds by
``benchmarks/fit_confidence.py`` (``make fit-confidence``), which also writes its reliability
diagram and ECE to ``docs/confidence.json``.

The features of one traced row (:data:`FEATURES`, in this order; "ink" is the mask of the
curve's own class, solid or dashed, and distances are in px unless said otherwise):

* ``on_ink``: 1 where ink lies within 1 px of the traced column, else 0 (the tracer drew
  the row in across a gap);
* ``ink_dist``: distance to the nearest ink in the row, capped at ``_REACH`` px, over ``_REACH``;
* ``gap_len``: log(1 + rows) of the stretch of rows off ink the row belongs to (0 on ink);
* ``support``: share of the rows within ``_SUPPORT`` rows either side that are on ink;
* ``other_ink``: 1 where ink of the other curve class lies within 1 px (a class mix-up);
* ``runs``: log(1 + separate ink runs in the row between the track edges);
* ``run_width``: log(1 + width of the ink run under the traced column, up to ``2 _REACH + 1``), 0 off ink;
* ``near_other``: exp(-d / (2 % of track width)), d the distance to the nearest other
  trace of the track in that row (0 where there is none);
* ``near_twin``: the same, over the curves in ``PixelTrace.twins`` only;
* ``step``: log(1 + the larger of the steps to the rows above and below);
* ``near_edge``: exp(-d / 3), d the distance to the nearer track edge (1 beyond it);
* ``stretch``: log(1 + rows) of the continuous traced stretch the row belongs to;
* ``near_end``: exp(-d / 5), d the rows to the nearer end of that stretch;
* ``dashed``: 1 for a dashed or dotted curve;
* ``mates``: the number of other curves of the same class in the track;
* ``twin``: 1 where the trace has twins (curves of one look told apart by continuity);
* ``crossings``: log(1 + stretches of the trace where a twin comes within 2 % of track width);
* ``trace_ink``: share of the trace's rows on ink;
* ``twin_gap``: ``gap_len`` of a trace with twins (0 for others).

Example:
    >>> from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
    >>> from logdigit.trace import PixelTrace
    >>> masks = np.zeros((3, 6, 10), bool); masks[1, :, 4] = True
    >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (5, 5))), (Track(1, 8, curves=(CurveSpec("GR", 0, 150),)),))
    >>> x = np.array([4.0, 4.0, 4.0, np.nan, 4.0, 4.0])
    >>> p = confidence([PixelTrace("GR", 0, 0, x)], masks, lay)[0]
    >>> p.shape, bool(np.isnan(p[3])), bool(((p > 0) & (p < 1))[[0, 1, 2, 4, 5]].all())
    ((6,), True, True)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from logdigit.errors import InputError
from logdigit.io.layout import Layout

FEATURES: tuple[str, ...] = (
    "on_ink",
    "ink_dist",
    "gap_len",
    "support",
    "other_ink",
    "runs",
    "run_width",
    "near_other",
    "near_twin",
    "step",
    "near_edge",
    "stretch",
    "near_end",
    "dashed",
    "mates",
    "twin",
    "crossings",
    "trace_ink",
    "twin_gap",
)
"""Names of the columns :func:`row_features` returns, in order (see the module docstring)."""

LOW_CONFIDENCE = 0.8
"""Rows whose :func:`confidence` is below this are flagged low-confidence: more than a one-in-five
chance of being off by more than 2 % of the track width. Chosen on the val sheets, where it flags
about a fifth of the rows and most (about 70 %) of those more than 10 % off; at 0.5 it flagged
5 % of the rows and only a quarter of those (``docs/confidence.json`` lists other thresholds)."""

MODEL_PATH = Path(__file__).resolve().parent / "data" / "confidence.json"
"""The shipped coefficients (plain JSON; see ``benchmarks/fit_confidence.py``)."""

MODEL_KEYS: tuple[str, ...] = ("features", "mean", "scale", "coef", "intercept", "tolerance", "fit", "heldout")
"""Keys every confidence model file holds."""

_REACH = 8  # px either side searched for the nearest ink and measured of the ink run
_SUPPORT = 8  # rows either side counted in `support`
_EDGE_SCALE = 3.0  # px
_END_SCALE = 5.0  # rows
_CROSS = float(np.exp(-1.0))  # `near_twin` from which a twin is within 2 % of track width: a crossing


def row_features(traces: Sequence, masks: np.ndarray, layout: Layout) -> list[np.ndarray]:
    """Per trace, float32 (n, len(FEATURES)) features of each of its rows (see :data:`FEATURES`).

    Args:
        traces: :class:`logdigit.trace.tracer.PixelTrace` list as ``trace(masks, layout)`` returns it.
        masks: bool (3, H, W) class masks the traces came from; not modified.
        layout: the layout the traces were made with.

    Returns:
        One array per trace, its rows matching ``trace.x``; rows where ``x`` is NaN are NaN.
    """
    _check(traces, masks, layout)
    grouped = _aligned_by_track(traces)
    rows_cache: dict = {}
    return [_features_of(t, grouped, masks, layout, rows_cache) for t in traces]


def confidence(traces: Sequence, masks: np.ndarray, layout: Layout, *, model: dict | None = None) -> list[np.ndarray]:
    """Per trace, float64 (n,) probability in [0, 1] that each row is within 2 % of track width.

    Args:
        traces: :class:`logdigit.trace.tracer.PixelTrace` list as ``trace(masks, layout)`` returns it.
        masks: bool (3, H, W) class masks the traces came from; not modified.
        layout: the layout the traces were made with.
        model: coefficients as :func:`load_confidence_model` returns them; None: the shipped ones.

    Returns:
        One array per trace matching ``trace.x``; NaN where ``x`` is NaN. Rows below
        :data:`LOW_CONFIDENCE` are the ones to check.
    """
    model = load_confidence_model() if model is None else _checked_model(model, "model")
    return [_predict(f, model) for f in row_features(traces, masks, layout)]


def load_confidence_model(path: str | Path | None = None) -> dict:
    """The confidence coefficients from plain JSON (default: the shipped :data:`MODEL_PATH`)."""
    if path is None:
        return _shipped()
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read a confidence model ({exc})") from None
    return _checked_model(data, str(path))


@lru_cache(maxsize=1)
def _shipped() -> dict:
    return _checked_model(json.loads(MODEL_PATH.read_text(encoding="utf-8")), str(MODEL_PATH))


def _checked_model(data, where: str) -> dict:
    missing = [k for k in MODEL_KEYS if not isinstance(data, dict) or k not in data]
    if missing:
        raise InputError(f"{where}: confidence model lacks {missing}; refit with benchmarks/fit_confidence.py")
    if list(data["features"]) != list(FEATURES):
        raise InputError(
            f"{where}: features {list(data['features'])} do not match this logdigit's {list(FEATURES)}; "
            "refit with benchmarks/fit_confidence.py"
        )
    return data


def _predict(features: np.ndarray, model: dict) -> np.ndarray:
    z = (features.astype(np.float64) - np.asarray(model["mean"])) / np.asarray(model["scale"])
    logit = z @ np.asarray(model["coef"], np.float64) + float(model["intercept"])
    p = 1.0 / (1.0 + np.exp(-logit))
    iso = model.get("isotonic")
    if iso is not None:  # a monotone recalibration table (probability in -> probability out)
        p = np.where(np.isnan(p), np.nan, np.interp(p, iso["x"], iso["y"]))
    return p


# --------------------------------------------------------------------------- validation


def _check(traces, masks, layout) -> None:
    if not isinstance(masks, np.ndarray) or masks.ndim != 3 or masks.shape[0] != 3 or masks.dtype != bool:
        got = f"{masks.shape} {masks.dtype}" if isinstance(masks, np.ndarray) else type(masks).__name__
        raise InputError(f"masks must be bool (3, H, W) as threshold() returns, got {got}")
    height = masks.shape[1]
    for t in traces:
        if not 0 <= t.track < len(layout.tracks):
            raise InputError(f"trace {t.mnemonic}: track {t.track} is not in the layout's {len(layout.tracks)} tracks")
        if t.row0 < 0 or t.row0 + len(t.x) > height:
            raise InputError(
                f"trace {t.mnemonic}: rows {t.row0}..{t.row0 + len(t.x) - 1} are not inside the masks' "
                f"rows 0..{height - 1}; are the masks the ones it was traced from?"
            )
        if _curve(layout, t) is None:
            raise InputError(f"trace {t.mnemonic}: no such curve in track {t.track} of the layout")


def _curve(layout: Layout, t):
    return next((c for c in layout.tracks[t.track].curves if c.mnemonic == t.mnemonic), None)


# --------------------------------------------------------------------------- features


def _aligned_by_track(traces) -> dict[int, tuple[int, int, list]]:
    """Per track: (first row, last row + 1, [(mnemonic, x over those rows)])."""
    out: dict[int, tuple[int, int, list]] = {}
    for track in {t.track for t in traces}:
        mine = [t for t in traces if t.track == track]
        r0 = min(t.row0 for t in mine)
        r1 = max(t.row0 + len(t.x) for t in mine)
        xs = []
        for t in mine:
            x = np.full(r1 - r0, np.nan)
            x[t.row0 - r0 : t.row0 - r0 + len(t.x)] = t.x
            xs.append((t.mnemonic, x))
        out[track] = (r0, r1, xs)
    return out


def _features_of(t, grouped, masks, layout, rows_cache) -> np.ndarray:
    n = len(t.x)
    out = np.full((n, len(FEATURES)), np.nan, np.float32)
    x = np.asarray(t.x, np.float64)
    ok = np.isfinite(x)
    if not ok.any():
        return out
    track = layout.tracks[t.track]
    curve = _curve(layout, t)
    klass = curve.klass
    width = float(track.right - track.left)
    xi = np.clip(np.rint(np.where(ok, x, 0)).astype(np.int64), 0, masks.shape[2] - 1)
    window = _window(masks[klass], t.row0, xi, _REACH)
    dist = _ink_distance(window, _REACH)
    on_ink = (dist <= 1) & ok
    gap_len = _run_length(~on_ink & ok)
    stretch = _run_length(ok)
    near_twin = _nearness(t, x, grouped, width, twins_only=True)
    f = {
        "on_ink": on_ink,
        "ink_dist": np.minimum(dist, _REACH) / _REACH,
        "gap_len": np.log1p(gap_len),
        "support": _window_mean(on_ink, _SUPPORT),
        "other_ink": _ink_distance(_window(masks[3 - klass], t.row0, xi, 1), 1) <= 1,
        "runs": np.log1p(_runs_in(masks, klass, track, t.row0, n, rows_cache)),
        "run_width": np.where(on_ink, np.log1p(_run_width(window)), 0.0),
        "near_other": _nearness(t, x, grouped, width, twins_only=False),
        "near_twin": near_twin,
        "step": np.log1p(_step(x)),
        "near_edge": np.exp(-np.maximum(np.minimum(x - track.left, track.right - x), 0) / _EDGE_SCALE),
        "stretch": np.log1p(stretch),
        "near_end": np.exp(-_to_end(ok) / _END_SCALE),
        "dashed": np.full(n, klass == 2),
        "mates": np.full(n, sum(c.klass == klass for c in track.curves) - 1),
        "twin": np.full(n, bool(t.twins)),
        "crossings": np.full(n, np.log1p(len(_runs(near_twin > _CROSS)[0]))),
        "trace_ink": np.full(n, on_ink[ok].mean()),
        "twin_gap": np.log1p(gap_len) * bool(t.twins),
    }
    for j, name in enumerate(FEATURES):
        out[ok, j] = np.asarray(f[name], np.float64)[ok]
    return out


def _window(mask: np.ndarray, row0: int, xi: np.ndarray, reach: int) -> np.ndarray:
    """bool (n, 2 reach + 1): pixels ``xi - reach .. xi + reach`` of rows ``row0 ..`` of a (H, W)
    mask (False outside it)."""
    width = mask.shape[1]
    cols = xi[:, None] + np.arange(-reach, reach + 1)  # (n, 2 reach + 1)
    inside = (cols >= 0) & (cols < width)
    flat = (row0 + np.arange(len(xi)))[:, None] * width + np.clip(cols, 0, width - 1)
    return np.take(mask.reshape(-1), flat) & inside  # one flat gather: far faster than 2-D indexing


def _ink_distance(window: np.ndarray, reach: int) -> np.ndarray:
    """float (n,): columns from the middle of each row of ``window`` to its nearest set pixel
    within ``reach``, ``reach + 1`` if none."""
    mid = window.shape[1] // 2
    offsets = np.abs(np.arange(-reach, reach + 1))
    d = np.where(window[:, mid - reach : mid + reach + 1], offsets, reach + 1).min(axis=1)
    return d.astype(np.float64)


def _run_width(window: np.ndarray) -> np.ndarray:
    """float (n,): width of the run of set pixels through the middle of each row of ``window``
    (the middle counted whether set or not; at most the window's width)."""
    mid = window.shape[1] // 2
    right, left = ~window[:, mid + 1 :], ~window[:, :mid][:, ::-1]
    # argmax finds the first unset pixel; a side set to the window's end counts in full
    r = np.where(right.any(axis=1), right.argmax(axis=1), mid)
    lft = np.where(left.any(axis=1), left.argmax(axis=1), mid)
    return (1 + r + lft).astype(np.float64)


def _runs_in(masks, klass, track, row0, n, cache) -> np.ndarray:
    """float (n,): separate runs of class ``klass`` ink per row between the track's edges."""
    key = (klass, track.left, track.right, row0, n)
    if key not in cache:
        seg = masks[klass, row0 : row0 + n, track.left : track.right + 1]
        cache[key] = (seg[:, 0].astype(np.int64) + (seg[:, 1:] & ~seg[:, :-1]).sum(axis=1)).astype(np.float64)
    return cache[key]


def _nearness(t, x, grouped, width: float, *, twins_only: bool) -> np.ndarray:
    """float (n,): exp(-d / (2 % of width)), d the distance to the nearest other trace of the track."""
    r0, _, xs = grouped[t.track]
    lo = t.row0 - r0
    d = np.full(len(x), np.inf)
    for name, other in xs:
        if name == t.mnemonic or (twins_only and name not in t.twins):
            continue
        o = other[lo : lo + len(x)]
        d = np.fmin(d, np.where(np.isfinite(o), np.abs(x - o), np.inf))
    return np.exp(-d / (0.02 * width))


def _step(x: np.ndarray) -> np.ndarray:
    """float (n,): the larger step to the neighbouring rows (0 where a neighbour is NaN or absent)."""
    dx = np.abs(np.diff(x))
    dx = np.where(np.isfinite(dx), dx, 0.0)
    return np.maximum(np.r_[0.0, dx], np.r_[dx, 0.0])


def _run_length(flags: np.ndarray) -> np.ndarray:
    """float (n,): length of the run of True that each True element belongs to, 0 elsewhere."""
    start, stop = _runs(flags)
    out = np.zeros(len(flags))
    out[flags] = np.repeat(stop - start, stop - start)
    return out


def _to_end(flags: np.ndarray) -> np.ndarray:
    """float (n,): elements to the nearer end of the True run each belongs to (0 at an end)."""
    start, stop = _runs(flags)
    i = np.arange(len(flags))
    s = np.repeat(start, stop - start)
    e = np.repeat(stop - 1, stop - start)
    out = np.zeros(len(flags))
    out[flags] = np.minimum(i[flags] - s, e - i[flags])
    return out


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and stops (exclusive) of the runs of True in a 1-D bool array."""
    d = np.diff(np.r_[0, flags.astype(np.int8), 0])
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _window_mean(flags: np.ndarray, half: int) -> np.ndarray:
    """float (n,): mean of ``flags`` over the ``2 half + 1`` elements around each (cut at the ends)."""
    c = np.r_[0, np.cumsum(flags, dtype=np.int64)]
    i = np.arange(len(flags))
    lo = np.maximum(i - half, 0)
    hi = np.minimum(i + half + 1, len(flags))
    return (c[hi] - c[lo]) / (hi - lo)
