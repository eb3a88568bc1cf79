"""Evaluation on a seeded synthetic test split that training never draws from.

Training sheets come from the ``train`` seed stream and validation sheets from
``val``; the test sheets here come from ``test`` (see :func:`logdigit.research.synth.sheet_rng`),
so no test sheet was ever seen in training. Two methods are scored the same way:

* ``veernet``: the network, argmax of the tiled probabilities;
* ``classical``: no learning: Otsu binarisation, grid removal by morphological
  opening with long horizontal and vertical lines, then small connected components
  called dashed and large ones solid.

Pixel metrics (strict, and F1 within 1 px) are micro-averaged over all test pixels;
ECE/BECE over all pixels / the 1 px band around class edges; curve metrics come from
the product's own thresholding and tracing, per curve, against the true centreline.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from logdigit.research.metrics import (
    boundary_band,
    calibration_bins,
    confusion,
    curve_errors,
    ece,
    scores_from_confusion,
    tolerant_counts,
    tolerant_f1,
)
from logdigit.research.synth import make_sheet, sheet_rng, style_named

METHODS = ("veernet", "classical", "true-masks")
"""Rows :func:`evaluate` can score; ``true-masks`` traces the true class map (the tracer's ceiling)."""


@dataclass
class _Acc:
    cm: np.ndarray
    tol: dict
    cal: np.ndarray
    cal_band: np.ndarray
    curves: list

    @classmethod
    def new(cls) -> _Acc:
        return cls(
            np.zeros((3, 3), np.int64),
            {1: np.zeros(4, np.int64), 2: np.zeros(4, np.int64)},
            np.zeros((15, 3)),
            np.zeros((15, 3)),
            [],
        )


def evaluate(
    model=None,
    *,
    n: int = 200,
    seed: int = 0,
    height: int = 512,
    width: int = 640,
    methods: tuple[str, ...] = ("veernet", "classical"),
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    sheets: Sequence | None = None,
    probs: Sequence[np.ndarray] | None = None,
    tracer: str = "greedy",
    style: str = "print",
    amp: bool | None = None,
) -> dict:
    """Score ``methods`` on ``n`` test sheets drawn with ``seed`` from the generator's ``style``
    (a key of :data:`logdigit.research.synth.STYLES`: ``print``, the training distribution, or
    ``classic``, the first generator's sheets).

    ``sheets``: the same sheets drawn beforehand by :func:`draw_test_sheets` (with this ``n``,
    ``seed`` and size), so that several models scored on one test set draw it once.
    ``probs``: for ``veernet``, the model's float32 (3, H, W) probabilities of each sheet as
    :func:`logdigit.model.inference.predict_proba` gives them (kept from an earlier run, so a
    harness that re-traces after each tracer change skips the network); ``model`` is then unused.
    ``tracer``: a name in :data:`logdigit.trace.TRACERS`. ``amp``: as for
    :func:`~logdigit.model.inference.predict_proba` (None: float16 on CUDA, float32 on CPU; True on
    CPU: bfloat16).

    Returns:
        ``{"n": n, "seed": seed, "size": [h, w], "style": style, "methods": {name: metrics}}`` where metrics
        holds per-class ``iou``, ``f1``, ``precision``, ``recall``, ``f1_tol1`` (lists over
        classes 0, 1, 2; the tolerant F1 for curve classes only), ``ece``, ``bece`` (None
        for classical), and ``curve``: ``nmae`` (mean over curves), ``nmae_median``,
        ``within2``, ``coverage``, ``curves``, and ``by_class_mates``: the same per number
        of curves of its class in the curve's track (``"1"``: alone in its class), each
        with ``share_of_mean``, its part of ``nmae`` (the parts add up to it); and
        ``by_look``: the same for ``"twins"``, the curves the tracer told apart from another
        of one look by continuity alone (``PixelTrace.twins``), and ``"others"``.
    """
    from logdigit.image.threshold import threshold
    from logdigit.model.inference import predict_proba
    from logdigit.trace import TRACERS, trace_curves

    if tracer not in TRACERS:  # said before the network runs on the first sheet
        raise ValueError(f"unknown tracer {tracer!r}; valid names: {sorted(TRACERS)}")
    trace = functools.partial(trace_curves, tracer=tracer)  # the tracing stage as infer runs it

    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown methods {unknown}; valid: {list(METHODS)}")
    if "veernet" in methods and model is None and probs is None:
        raise ValueError("evaluating 'veernet' needs a model (or its probabilities, probs)")
    style_named(style)  # an unknown style fails before any work
    if sheets is not None and len(sheets) != n:
        raise ValueError(f"{len(sheets)} pre-drawn sheets given for n={n}")
    if probs is not None and len(probs) != n:
        raise ValueError(f"probabilities of {len(probs)} sheets given for n={n}")
    acc = {m: _Acc.new() for m in methods}
    for i in range(n):
        sheet = sheets[i] if sheets is not None else _test_sheet(i, seed, height, width, style)
        band = boundary_band(sheet.labels)
        for m in methods:
            if m == "veernet":
                p = predict_proba(model, sheet.image, device=device, amp=amp) if probs is None else np.asarray(probs[i])
                pred = p.argmax(0)
                masks = threshold(p)
                acc[m].cal += calibration_bins(p, sheet.labels)
                acc[m].cal_band += calibration_bins(p, sheet.labels, mask=band)
            else:  # a class map: the truth itself, or the classical route's
                pred = sheet.labels if m == "true-masks" else classical_segment(sheet.image, sheet.layout)
                masks = np.stack([pred == 0, pred == 1, pred == 2])
            _accumulate(acc[m], pred, sheet, trace(masks, sheet.layout, image=sheet.image))
        if progress is not None:
            progress(i + 1, n)
    return {
        "n": n,
        "seed": seed,
        "size": [height, width],
        "style": style,
        "methods": {m: _summarise(a, with_cal=(m == "veernet")) for m, a in acc.items()},
    }


def draw_test_sheets(n: int = 200, seed: int = 0, *, height: int = 512, width: int = 640, style: str = "print") -> list:
    """The ``n`` test sheets :func:`evaluate` scores for ``seed`` and ``style`` (to share among models)."""
    return [_test_sheet(i, seed, height, width, style) for i in range(n)]


def _test_sheet(i: int, seed: int, height: int, width: int, style: str = "print"):
    return make_sheet(height=height, width=width, rng=sheet_rng("test", seed, i), style=style_named(style))


def _accumulate(a: _Acc, pred: np.ndarray, sheet, traces) -> None:
    a.cm += confusion(pred, sheet.labels)
    for c in (1, 2):
        a.tol[c] += tolerant_counts(pred, sheet.labels, c)
    by_name = {t.mnemonic: t for t in traces}
    for truth in sheet.truth:
        tr = by_name.get(truth.mnemonic)
        x_pred = np.full(len(truth.x), np.nan)
        if tr is not None:
            x_pred[tr.row0 : tr.row0 + len(tr.x)] = tr.x
        track = sheet.layout.tracks[truth.track]
        errors = curve_errors(x_pred, truth.x, float(track.right - track.left))
        errors["class_mates"] = sum(c.klass == truth.klass for c in track.curves)  # itself included
        errors["twin"] = tr is not None and bool(tr.twins)  # told apart by continuity alone (infer warns)
        a.curves.append(errors)


def _summarise(a: _Acc, *, with_cal: bool) -> dict:
    s = scores_from_confusion(a.cm)
    curves = [c for c in a.curves if c["n"] > 0]
    groups: dict[int, list] = {}
    for c in curves:
        groups.setdefault(c["class_mates"], []).append(c)
    scored = max(sum(np.isfinite(c["nmae"]) for c in curves), 1)  # the curves the mean is over

    def part(g: list) -> dict:
        return {**_curve_summary(g), "share_of_mean": _num(np.nansum([c["nmae"] for c in g]) / scored)}

    return {
        **{k: [_num(v) for v in s[k]] for k in ("iou", "f1", "precision", "recall")},
        "f1_tol1": [None, _num(tolerant_f1(a.tol[1])), _num(tolerant_f1(a.tol[2]))],
        "ece": _num(ece(a.cal)) if with_cal else None,
        "bece": _num(ece(a.cal_band)) if with_cal else None,
        "curve": {
            **_curve_summary(curves),
            # By how many curves of its class (itself included) share the curve's track:
            # curves alone in theirs are told apart by the class masks; the others by
            # colour where the scan has it, else by continuity and look.
            "by_class_mates": {str(k): part(g) for k, g in sorted(groups.items())},
            # Curves that look like another of their track (one line style, inks not told
            # apart): only continuity tells them apart, and `infer` warns of them.
            "by_look": {
                "twins": part([c for c in curves if c["twin"]]),
                "others": part([c for c in curves if not c["twin"]]),
            },
        },
    }


def _curve_summary(curves: list[dict]) -> dict:
    """Mean and median NMAE over ``curves``, and rows within 2 % and coverage over their rows."""
    nmae = np.array([c["nmae"] for c in curves], float)
    nmae = nmae[np.isfinite(nmae)]  # NaN: a curve with no row traced
    rows = np.array([c["n"] for c in curves], float)
    return {
        "nmae": _num(np.mean(nmae)) if len(nmae) else None,
        "nmae_median": _num(np.median(nmae)) if len(nmae) else None,
        "within2": _num(np.average([c["within2"] for c in curves], weights=rows)) if curves else None,
        "coverage": _num(np.average([c["coverage"] for c in curves], weights=rows)) if curves else None,
        "curves": len(curves),
    }


def _num(v) -> float | None:
    v = float(v)
    return None if not np.isfinite(v) else round(v, 6)


def classical_segment(image: np.ndarray, layout=None, *, line_length: int = 61) -> np.ndarray:
    """The no-learning baseline: uint8 (H, W) classes from binarisation and grid removal.

    Dark pixels (Otsu on grey) minus long horizontal/vertical runs (the grid and track
    borders, found by morphological opening: horizontal lines of ``line_length`` px,
    vertical ones of a third of the height, since rulings run down the whole sheet while
    a steep curve stays straight for far less) are curve pixels; connected components
    under 60 px are called dashed (class 2), larger solid.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    tall = max(line_length, image.shape[0] // 3)
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (line_length, 1)))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, tall)))
    curve = (ink > 0) & (horiz == 0) & (vert == 0)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(curve.astype(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= 60
    out = np.where(curve, np.where(big[comp], 1, 2), 0).astype(np.uint8)
    return out


def format_rows(report: dict) -> list[list[str]]:
    """Rows for a table: method, then per curve class IoU/F1/P/R, F1@1px, ECE, BECE, curve errors."""
    rows = []
    for name, m in report["methods"].items():

        def f(v, pct=False):
            return "-" if v is None else (f"{100 * v:.1f}%" if pct else f"{v:.3f}")

        c = m["curve"]
        rows.append(
            [
                name,
                f(m["iou"][1]),
                f(m["f1"][1]),
                f(m["precision"][1]),
                f(m["recall"][1]),
                f(m["f1_tol1"][1]),
                f(m["iou"][2]),
                f(m["f1"][2]),
                f(m["precision"][2]),
                f(m["recall"][2]),
                f(m["f1_tol1"][2]),
                f(m["ece"]),
                f(m["bece"]),
                f(c["nmae"]) if c["nmae"] is None else f"{c['nmae']:.4f}",
                f(c["within2"], True),
                f(c["coverage"], True),
            ]
        )
    return rows


HEADERS = [
    "method",
    "IoU 1",
    "F1 1",
    "P 1",
    "R 1",
    "F1@1px 1",
    "IoU 2",
    "F1 2",
    "P 2",
    "R 2",
    "F1@1px 2",
    "ECE",
    "BECE",
    "curve NMAE",
    "within 2%",
    "coverage",
]
