"""Per-row trace confidence: hand-worked features on tiny arrays, invariants, the shipped model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from logdigit.confidence import (
    FEATURES,
    LOW_CONFIDENCE,
    MODEL_KEYS,
    MODEL_PATH,
    confidence,
    load_confidence_model,
    row_features,
)
from logdigit.errors import InputError
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.trace import PixelTrace

NAN = np.nan


def _layout(*curves: CurveSpec, left: int = 1, right: int = 31) -> Layout:
    return Layout(DepthSpec("PX", 1.0, ((0, 0), (5, 5))), (Track(left, right, curves=curves),))


def _col(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, FEATURES.index(name)]


# A solid curve at column 4 in rows 0-5, its ink missing in rows 2-3 (drawn in by the tracer).
MASKS = np.zeros((3, 6, 40), bool)
MASKS[1, [0, 1, 4, 5], 4] = True
X = np.array([4.0, 4.0, 4.0, 4.0, 4.0, 4.0])


def test_features_of_a_lone_trace_with_an_interpolated_stretch():
    lay = _layout(CurveSpec("GR", 0, 150))
    f = row_features([PixelTrace("GR", 0, 0, X)], MASKS, lay)[0]
    assert f.shape == (6, len(FEATURES)) and f.dtype == np.float32
    np.testing.assert_array_equal(_col(f, "on_ink"), [1, 1, 0, 0, 1, 1])
    np.testing.assert_allclose(_col(f, "ink_dist"), [0, 0, 1, 1, 0, 0])  # no ink within 8 px: capped at 1
    np.testing.assert_allclose(_col(f, "gap_len"), np.log1p([0, 0, 2, 2, 0, 0]), rtol=1e-6)
    np.testing.assert_allclose(_col(f, "support"), [4 / 6] * 6, rtol=1e-6)  # every window spans all six rows
    np.testing.assert_allclose(_col(f, "runs"), np.log1p([1, 1, 0, 0, 1, 1]), rtol=1e-6)
    np.testing.assert_allclose(_col(f, "run_width"), np.log1p([1, 1, 0, 0, 1, 1]), rtol=1e-6)
    np.testing.assert_allclose(_col(f, "near_edge"), [np.exp(-1.0)] * 6, rtol=1e-6)  # 3 px from the left edge
    np.testing.assert_allclose(_col(f, "stretch"), [np.log1p(6)] * 6, rtol=1e-6)
    np.testing.assert_allclose(_col(f, "near_end"), np.exp(-np.array([0, 1, 2, 2, 1, 0]) / 5), rtol=1e-6)
    np.testing.assert_allclose(_col(f, "trace_ink"), [4 / 6] * 6, rtol=1e-6)
    for name in ("other_ink", "near_other", "near_twin", "step", "dashed", "mates", "twin", "crossings", "twin_gap"):
        np.testing.assert_array_equal(_col(f, name), 0, err_msg=name)


def test_features_of_a_trace_off_by_two_columns():
    lay = _layout(CurveSpec("GR", 0, 150))
    f = row_features([PixelTrace("GR", 0, 0, X + 2)], MASKS, lay)[0]
    np.testing.assert_array_equal(_col(f, "on_ink"), 0)
    np.testing.assert_allclose(_col(f, "ink_dist"), [2 / 8, 2 / 8, 1, 1, 2 / 8, 2 / 8])
    np.testing.assert_allclose(_col(f, "gap_len"), [np.log1p(6)] * 6, rtol=1e-6)


def test_a_neighbour_at_a_known_distance_and_a_twin():
    masks = MASKS.copy()
    masks[1, :, 7] = True
    lay = _layout(CurveSpec("A", 0, 1), CurveSpec("B", 0, 1))  # track 30 px wide: 2 % is 0.6 px
    x_b = np.array([7.0, 7.0, 7.0, 7.0, 4.5, NAN])
    strangers = [PixelTrace("A", 0, 0, X), PixelTrace("B", 0, 0, x_b)]
    twins = [PixelTrace("A", 0, 0, X, twins=("B",)), PixelTrace("B", 0, 0, x_b, twins=("A",))]
    fa = row_features(strangers, masks, lay)[0]
    near = np.exp(-np.array([3, 3, 3, 3, 0.5, np.inf]) / 0.6)
    np.testing.assert_allclose(_col(fa, "near_other"), near, rtol=1e-5)
    np.testing.assert_array_equal(_col(fa, "near_twin"), 0)
    np.testing.assert_array_equal(_col(fa, "mates"), 1)
    np.testing.assert_allclose(_col(fa, "runs"), np.log1p([2, 2, 1, 1, 2, 2]), rtol=1e-6)
    ft = row_features(twins, masks, lay)[0]
    np.testing.assert_allclose(_col(ft, "near_twin"), near, rtol=1e-5)
    np.testing.assert_array_equal(_col(ft, "twin"), 1)
    np.testing.assert_allclose(_col(ft, "crossings"), np.log1p(1), rtol=1e-6)  # row 4: within 0.6 px
    np.testing.assert_allclose(_col(ft, "twin_gap"), np.log1p([0, 0, 2, 2, 0, 0]), rtol=1e-6)
    fb = row_features(twins, masks, lay)[1]
    assert np.isnan(fb[5]).all() and np.isfinite(fb[:5]).all()
    np.testing.assert_allclose(_col(fb, "step")[:5], np.log1p([0, 0, 0, 2.5, 2.5]), rtol=1e-6)


def test_dashed_curve_reads_its_own_class_and_sees_the_other():
    masks = MASKS.copy()
    masks[2, :, 5] = True
    lay = _layout(CurveSpec("SP", 0, 1, line="dashed"))
    f = row_features([PixelTrace("SP", 0, 0, X)], masks, lay)[0]
    np.testing.assert_array_equal(_col(f, "on_ink"), 1)
    np.testing.assert_array_equal(_col(f, "dashed"), 1)
    np.testing.assert_array_equal(_col(f, "other_ink"), [1, 1, 0, 0, 1, 1])


def test_confidence_shape_range_nan_and_inputs_unchanged():
    lay = _layout(CurveSpec("A", 0, 1), CurveSpec("B", 0, 1))
    masks = MASKS.copy()
    x_b = np.array([NAN, 9.0, 9.5, NAN, NAN, 10.0])
    traces = [PixelTrace("A", 0, 0, X.copy()), PixelTrace("B", 0, 0, x_b.copy(), twins=("A",))]
    out = confidence(traces, masks, lay)
    assert [p.shape for p in out] == [(6,), (6,)] and all(p.dtype == np.float64 for p in out)
    for p, t in zip(out, traces, strict=True):
        np.testing.assert_array_equal(np.isnan(p), np.isnan(t.x))
        assert ((p[~np.isnan(p)] >= 0) & (p[~np.isnan(p)] <= 1)).all()
    np.testing.assert_array_equal(masks, MASKS)
    np.testing.assert_array_equal(traces[0].x, X)
    np.testing.assert_array_equal(traces[1].x, x_b)


def test_a_row_on_ink_alone_beats_one_off_ink_beside_a_twin():
    masks = np.zeros((3, 60, 40), bool)
    masks[1, :, 15] = True  # a straight solid curve down the middle of the track
    x = np.full(60, 15.0)
    lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (59, 59))), (Track(1, 31, curves=(CurveSpec("A", 0, 1),)),))
    good = confidence([PixelTrace("A", 0, 0, x)], masks, lay)[0]
    pair = Layout(lay.depth, (Track(1, 31, curves=(CurveSpec("A", 0, 1), CurveSpec("B", 0, 1))),))
    off = [PixelTrace("A", 0, 0, x + 4, twins=("B",)), PixelTrace("B", 0, 0, x + 4.4, twins=("A",))]
    bad = confidence(off, masks, pair)[0]
    assert (good > bad).all()
    assert good.min() > LOW_CONFIDENCE > bad.max()


def test_no_traced_row_gives_all_nan():
    lay = _layout(CurveSpec("GR", 0, 150))
    empty = PixelTrace("GR", 0, 0, np.full(6, NAN))
    assert np.isnan(row_features([empty], MASKS, lay)[0]).all()
    assert np.isnan(confidence([empty], MASKS, lay)[0]).all()


def test_bad_inputs_say_what_arrived():
    lay = _layout(CurveSpec("GR", 0, 150))
    with pytest.raises(InputError, match="bool"):
        confidence([PixelTrace("GR", 0, 0, X)], MASKS.astype(np.uint8), lay)
    with pytest.raises(InputError, match="no such curve"):
        confidence([PixelTrace("XX", 0, 0, X)], MASKS, lay)
    with pytest.raises(InputError, match="rows"):
        confidence([PixelTrace("GR", 0, 3, X)], MASKS, lay)
    with pytest.raises(InputError, match="features"):
        confidence([PixelTrace("GR", 0, 0, X)], MASKS, lay, model={**load_confidence_model(), "features": ["a"]})


def test_shipped_model_is_plain_json_with_the_documented_keys():
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert set(MODEL_KEYS) <= set(data)
    assert data["features"] == list(FEATURES)
    assert len(data["coef"]) == len(data["mean"]) == len(data["scale"]) == len(FEATURES)
    assert data["low_confidence"] == LOW_CONFIDENCE
    assert data["fit"]["split"] == "val" and data["fit"]["sheets"] > 0
    for seed, h in data["heldout"].items():
        assert int(seed) in (2, 3) and h["ece"] <= 0.03
    assert load_confidence_model(MODEL_PATH) == load_confidence_model()


def test_load_confidence_model_rejects_a_file_missing_keys(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"features": list(FEATURES)}))
    with pytest.raises(InputError, match="lacks"):
        load_confidence_model(path)


def _fit_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "fit_confidence.py"
    spec = importlib.util.spec_from_file_location("logdigit_fit_confidence", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fit_script_scores_by_hand():
    fit = _fit_script()
    p = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    # bins 1 and 13 of 15: |0.2 - 1| + |1.8 - 2| over 4 rows
    assert fit.ece(p, y) == pytest.approx((0.8 + 0.2) / 4)
    table = fit.reliability(p, y)
    assert [b["count"] for b in table if b["count"]] == [2, 2] and table[1]["accuracy"] == 0.5
    assert fit.auc(np.array([0.2, 0.4, 0.6, 0.8]), np.array([0, 1, 0, 1])) == pytest.approx(0.75)
    err = np.array([0.0, 0.5, 0.01, np.inf])
    s = fit.score(np.array([0.9, 0.3, 0.95, 0.7]), err, 0.8)
    assert (s["large_flagged"], s["flagged"], s["within2"]) == (1.0, 0.5, 0.5)


def test_fit_script_recovers_a_known_logistic():
    fit = _fit_script()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 2))
    y = (rng.random(20000) < 1 / (1 + np.exp(-(1.5 * x[:, 0] - 0.5)))).astype(float)
    m = fit.fit_logistic(x, y, l2=0.0)
    np.testing.assert_allclose(m["coef"] / m["scale"], [1.5, 0.0], atol=0.08)
    a, c = fit.fit_platt(fit.logit_of(m, x), y)
    assert a == pytest.approx(1.0, abs=0.02) and c == pytest.approx(0.0, abs=0.02)
