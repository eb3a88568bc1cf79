"""Tests for logdigit.calibrate: golden values worked out by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from logdigit.calibrate import calibrate, check_grid, depth_map, fit_ties
from logdigit.errors import InputError, LayoutError
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track, uncalibrated_layout
from logdigit.trace import PixelTrace

GR = CurveSpec("GR", 0.0, 150.0, unit="GAPI", descr="Gamma ray")


def _layout(ties, *, step=0.5, rows=None, tracks=None, unit="FT") -> Layout:
    tracks = tracks or (Track(0, 100, "linear", (GR,)),)
    return Layout(DepthSpec(unit, step, tuple(ties), rows=rows), tuple(tracks), source="t.layout.toml")


def _trace(x, *, row0=0, mnemonic="GR", track=0) -> PixelTrace:
    return PixelTrace(mnemonic, track, row0, np.asarray(x, dtype=np.float64))


def test_two_ties_golden_values():
    # depth = 1000.2 + 0.5 row; rows 0..10 cover 1000.2..1005.2 -> grid 1000.5..1005.0.
    # x = 10 row, so GR = 150 * x / 100 = 15 row = 15 (d - 1000.2) / 0.5.
    out = calibrate([_trace(10.0 * np.arange(11))], _layout([(0, 1000.2), (100, 1050.2)]))
    np.testing.assert_array_equal(out.depth, np.arange(10) * 0.5 + 1000.5)
    np.testing.assert_allclose(out.curves[0].values, 9.0 + 15.0 * np.arange(10), atol=1e-9)
    assert (out.unit, out.step, out.tie_residual) == ("FT", 0.5, 0.0)
    curve = out.curves[0]
    assert (curve.mnemonic, curve.unit, curve.descr) == ("GR", "GAPI", "Gamma ray")
    assert out.depth.dtype == np.float64 and curve.values.dtype == np.float64


def test_three_ties_report_their_rms_residual():
    # rows 0, 100, 200 at depths 0, 101, 200: b = 1, a = 1/3, residuals -1/3, 2/3, -1/3.
    layout = _layout([(0, 0.0), (100, 101.0), (200, 200.0)])
    out = calibrate([_trace(np.full(201, 50.0))], layout)
    assert out.tie_residual == pytest.approx(math.sqrt(2) / 3)
    assert out.depth[0] == 0.5 and out.depth[-1] == 200.0  # 1/3 -> first multiple 0.5; 200 1/3 -> 200
    with pytest.raises(LayoutError, match=r"depth\.ties\[1\]: tie \[100, 101\] is 0\.6667 off"):
        calibrate([_trace(np.full(201, 50.0))], layout, max_residual=0.5)


def test_ties_that_disagree_badly_are_refused():
    # depths 0, 100, 210: b = 1.05, a = -5/3, residuals 5/3, -10/3, 5/3;
    # limit max(2 * 0.5, 0.5 % of 210) = 1.05.
    layout = _layout([(0, 0.0), (100, 100.0), (200, 210.0)])
    with pytest.raises(LayoutError) as info:
        calibrate([_trace(np.full(201, 50.0))], layout)
    assert str(info.value) == (
        "t.layout.toml: depth.ties[1]: tie [100, 100] is 3.333 off the least-squares line through all ties "
        "(limit 1.05); check its row and depth, or raise max_residual if the scan is stretched"
    )
    out = calibrate([_trace(np.full(201, 50.0))], layout, max_residual=4.0)
    assert out.tie_residual == pytest.approx(math.sqrt((25 / 9 + 100 / 9 + 25 / 9) / 3))


def test_reversed_linear_scale():
    track = Track(0, 100, "linear", (CurveSpec("NPHI", 0.45, -0.15),))
    out = calibrate([_trace([25.0, 25.0], mnemonic="NPHI")], _layout([(0, 0.0), (1, 1.0)], tracks=[track]))
    np.testing.assert_allclose(out.curves[0].values, [0.30, 0.30, 0.30])  # 0.45 - 0.25 * 0.6


@pytest.mark.parametrize(
    ("left_value", "right_value", "x", "expected"),
    [
        (0.2, 2000.0, 50.0, 20.0),  # f = 0.5: halfway through four decades
        (0.2, 2000.0, 0.0, 0.2),
        (0.2, 2000.0, 25.0, 2.0),
        (0.2, 2000.0, 100.0, 2000.0),
        (2000.0, 0.2, 25.0, 200.0),  # reversed log scale
    ],
)
def test_log_scale(left_value, right_value, x, expected):
    track = Track(0, 100, "log", (CurveSpec("ILD", left_value, right_value, unit="OHMM"),))
    out = calibrate([_trace([x, x], mnemonic="ILD")], _layout([(0, 0.0), (1, 1.0)], tracks=[track]))
    np.testing.assert_allclose(out.curves[0].values, expected, rtol=1e-12)


def test_track_offset_and_values_beyond_the_track_are_kept():
    # track columns 200..300; x = 190 is f = -0.1 (the curve left its track), x = 310 is f = 1.1.
    track = Track(200, 300, "linear", (GR,))
    out = calibrate([_trace([190.0, 250.0, 310.0])], _layout([(0, 0.0), (2, 1.0)], tracks=[track]))
    np.testing.assert_allclose(out.curves[0].values, [-15.0, 75.0, 165.0])


@pytest.mark.parametrize(
    ("step", "ties", "first_three", "last"),
    [
        (0.1, [(0, 1000.25), (1000, 1100.25)], ["1000.3", "1000.4", "1000.5"], "1100.2"),
        (0.1524, [(0, 300.0), (1000, 400.0)], ["300.0756", "300.228", "300.3804"], "399.8976"),
        (0.25, [(0, 10.0), (1000, 20.0)], ["10.0", "10.25", "10.5"], "20.0"),
        (2.0, [(0, 11.0), (1000, 31.0)], ["12.0", "14.0", "16.0"], "30.0"),
    ],
)
def test_grid_holds_exact_multiples_of_step(step, ties, first_three, last):
    out = calibrate([_trace(np.full(1001, 50.0))], _layout(ties, step=step))
    assert [repr(float(v)) for v in out.depth[:3]] == first_three
    assert repr(float(out.depth[-1])) == last
    k = np.rint(out.depth / step)
    np.testing.assert_allclose(out.depth, k * step, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.diff(k), 1)


def test_nan_gaps_and_trace_ends_propagate():
    # depth == row; step 0.5 puts grid points on and between rows 0..5.
    gr = _trace([0.0, 10.0, 20.0, np.nan, 40.0, 50.0])
    sp = _trace([20.0, 30.0], row0=2, mnemonic="SP")
    track = Track(0, 100, "linear", (CurveSpec("GR", 0, 100), CurveSpec("SP", 0, 100)))
    out = calibrate([gr, sp], _layout([(0, 0.0), (10, 10.0)], tracks=[track]))
    np.testing.assert_array_equal(out.depth, np.arange(11) * 0.5)
    nan = np.nan
    np.testing.assert_allclose(
        out.curves[0].values, [0, 5, 10, 15, 20, nan, nan, nan, 40, 45, 50], equal_nan=True, atol=1e-12
    )
    np.testing.assert_allclose(
        out.curves[1].values, [nan, nan, nan, nan, 20, 25, 30, nan, nan, nan, nan], equal_nan=True, atol=1e-12
    )


def test_depth_decreasing_down_the_scan_still_gives_increasing_depth():
    # depth = 1010 - 0.5 row; x = 5 row, GR 0..100 -> value = 5 row = 10 (1010 - d).
    track = Track(0, 100, "linear", (CurveSpec("GR", 0, 100),))
    out = calibrate([_trace(5.0 * np.arange(21))], _layout([(0, 1010.0), (20, 1000.0)], tracks=[track]))
    np.testing.assert_array_equal(out.depth, 1000.0 + 0.5 * np.arange(21))
    np.testing.assert_allclose(out.curves[0].values, 10.0 * (1010.0 - out.depth), atol=1e-9)


def test_rows_range_limits_the_grid():
    # depth == row; rows 2..8 -> depths 2..8 even though the trace covers 0..5.
    out = calibrate([_trace(np.arange(6) * 10.0)], _layout([(0, 0.0), (10, 10.0)], step=1.0, rows=(2, 8)))
    np.testing.assert_array_equal(out.depth, [2.0, 3, 4, 5, 6, 7, 8])
    np.testing.assert_allclose(out.curves[0].values, [30.0, 45, 60, 75, np.nan, np.nan, np.nan], equal_nan=True)


def test_curves_come_in_layout_order_and_untraced_curves_are_left_out():
    tracks = (
        Track(0, 100, "linear", (CurveSpec("GR", 0, 100), CurveSpec("SP", 0, 100))),
        Track(100, 200, "log", (CurveSpec("ILD", 1, 100),)),
    )
    traces = [_trace([150.0], mnemonic="ILD", track=1), _trace([5.0], mnemonic="GR")]
    out = calibrate(traces, _layout([(0, 0.0), (1, 1.0)], tracks=tracks, step=1.0))
    assert [c.mnemonic for c in out.curves] == ["GR", "ILD"]
    np.testing.assert_allclose([c.values[0] for c in out.curves], [5.0, 10.0])


def test_uncalibrated_layout_gives_pixel_rows_and_fractions():
    layout = uncalibrated_layout([(10, 90)], 50, classes_per_track=[[1]])
    out = calibrate([_trace([10.0, 30.0, 50.0, 90.0], row0=20, mnemonic="T1_SOLID")], layout)
    assert out.unit == "PX"
    np.testing.assert_array_equal(out.depth, [20.0, 21, 22, 23])
    np.testing.assert_allclose(out.curves[0].values, [0.0, 0.25, 0.5, 1.0])


def test_inputs_are_not_written_into():
    x = np.array([0.0, np.nan, 20.0])
    trace = _trace(x)
    calibrate([trace], _layout([(0, 0.0), (2, 1.0)]))
    np.testing.assert_array_equal(trace.x, [0.0, np.nan, 20.0])


@pytest.mark.parametrize(
    ("traces", "layout", "kwargs", "error", "match"),
    [
        (
            [_trace([1.0], mnemonic="XX")],
            _layout([(0, 0.0), (1, 1.0)]),
            {},
            ValueError,
            "not a curve of track 0",
        ),
        ([_trace([1.0], track=3)], _layout([(0, 0.0), (1, 1.0)]), {}, ValueError, "has track index 3"),
        (
            [_trace([1.0]), _trace([2.0])],
            _layout([(0, 0.0), (1, 1.0)]),
            {},
            ValueError,
            "two traces for curve",
        ),
        ([], _layout([(0, 0.0), (1, 1.0)]), {}, InputError, "nothing to calibrate"),
        ([_trace([1.0])], _layout([(0, 0.0)]), {}, LayoutError, r"depth\.ties: need two or more ties"),
        ([_trace([1.0])], _layout([(5, 0.0), (5, 1.0)]), {}, LayoutError, "on different rows"),
        ([_trace([1.0])], _layout([(0, 0.0), (1, 1.0)], step=0), {}, LayoutError, r"depth\.step: must be"),
        ([_trace([1.0])], _layout([(0, 0.0), (1, 1.0)]), {"max_residual": -1}, ValueError, "max_residual"),
        ([_trace([1.0])], _layout([(0, 0.2), (10, 0.3)], rows=(1, 3)), {}, LayoutError, "less than one step"),
    ],
)
def test_refusals(traces, layout, kwargs, error, match):
    with pytest.raises(error, match=match):
        calibrate(traces, layout, **kwargs)


def test_fit_ties_alone_checks_before_inference():
    a, b, rms = fit_ties(_layout([(0, 1000.2), (100, 1050.2)]))
    assert (a, b, rms) == (pytest.approx(1000.2), pytest.approx(0.5), 0.0)
    with pytest.raises(LayoutError, match=r"^t\.layout\.toml: depth\.ties\[1\]"):
        fit_ties(_layout([(0, 0.0), (100, 100.0), (200, 210.0)]))


# --------------------------------------------------------------------------- wrapped rows (PixelTrace.wrap)


def _wrapped(x, wrap, spec, *, track=(0, 100), scale="linear", ties=((0, 1000.0), (3, 1003.0)), step=1.0):
    lay = Layout(DepthSpec("FT", step, ties), (Track(*track, scale, (spec,)),))
    t = PixelTrace(spec.mnemonic, 0, 0, np.asarray(x, np.float64), wrap=np.asarray(wrap, np.int8))
    return calibrate([t], lay).curves[0].values


def test_linear_wrap_both_ways():
    # GR 0-150 over columns 0-100: value = 150 (f + L), f = x / 100.
    gr = CurveSpec("GR", 0, 150, wrap=True)
    assert np.allclose(_wrapped([50, 90, 10, 20], [0, 0, 1, 1], gr), [75, 135, 165, 180])
    # SP -160..40: value = -160 + 200 (f + L); past the left edge at x = 95: f - 1 = -0.05 -> -170.
    sp = CurveSpec("SP", -160, 40, wrap=True)
    assert np.allclose(_wrapped([10, 5, 95, 90], [0, 0, -1, -1], sp), [-140, -150, -170, -180])


def test_log_wrap_both_ways():
    # 0.2-200 over columns 0-90 (three decades): log10 v = log10 0.2 + 3 (f + L).
    rt = CurveSpec("RT", 0.2, 200, wrap=True)
    assert np.allclose(_wrapped([30, 30, 60, 60], [0, 1, 0, -1], rt, track=(0, 90), scale="log"), [2, 2000, 20, 0.02])


def test_wrap_on_a_reversed_scale():
    # NPHI 0.45..-0.15: value = 0.45 - 0.6 (f + L).
    nphi = CurveSpec("NPHI", 0.45, -0.15, wrap=True)
    assert np.allclose(_wrapped([20, 20, 80, 50], [1, 0, -1, 0], nphi), [-0.27, 0.33, 0.57, 0.15])


def test_backup_reads_level_plus_one_on_its_scale_and_leaves_minus_one_null():
    # backup 100-400 (not 150-300, so a shifted own scale would give other numbers): 100 + 300 f.
    gr = CurveSpec("GR", 0, 150, backup=(100.0, 400.0))
    out = _wrapped([50, 20, 80, 30], [0, 1, -1, 0], gr)
    assert np.allclose(out, [75, 160, np.nan, 45], equal_nan=True)


def test_backup_on_a_log_track_is_read_in_decades():
    rt = CurveSpec("RT", 0.2, 200, backup=(2.0, 2000.0))
    out = _wrapped([30, 30, 30, 30], [0, 1, 1, 0], rt, track=(0, 90), scale="log")
    assert np.allclose(out, [2, 20, 20, 2])


def test_undeclared_wrap_is_null():
    out = _wrapped([50, 90, 10, 20], [0, 0, 1, -1], CurveSpec("GR", 0, 150))
    assert np.allclose(out, [75, 135, np.nan, np.nan], equal_nan=True)


def test_a_sample_between_levels_takes_the_nearer_row():
    # Rows 0-3 at quarter rows; the curve jumps from x = 95 (level 0) to x = 5 (level +1)
    # between rows 1 and 2. GR 0-100 over columns 0-100: value = x + 100 L.
    ties, step = ((0, 1000.0), (4, 1001.0)), 0.0625  # 0.0625 ft per quarter row
    gr = CurveSpec("GR", 0, 100, wrap=True)
    out = _wrapped([90, 95, 5, 10], [0, 0, 1, 1], gr, ties=ties, step=step)
    want = [90, 91.25, 92.5, 93.75, 95, 95, 95, 105, 105, 106.25, 107.5, 108.75, 110]
    assert np.allclose(out, want)
    undeclared = _wrapped([90, 95, 5, 10], [0, 0, 1, 1], CurveSpec("GR", 0, 100), ties=ties, step=step)
    assert np.allclose(undeclared, want[:7] + [np.nan] * 6, equal_nan=True)


def test_all_zero_wrap_changes_nothing():
    x = 10.0 * np.arange(11) + 0.3
    lay = _layout([(0, 1000.2), (100, 1050.2)])
    plain = calibrate([_trace(x)], lay).curves[0].values
    zeros = calibrate([PixelTrace("GR", 0, 0, x, wrap=np.zeros(11, np.int8))], lay).curves[0].values
    assert np.array_equal(plain, zeros, equal_nan=True)


@pytest.mark.parametrize("wrap", [np.zeros(3, np.int8), np.zeros(4, np.float64)])
def test_wrap_levels_must_be_integers_shaped_like_x(wrap):
    with pytest.raises(ValueError, match="wrap must be integer levels shaped like x"):
        calibrate([PixelTrace("GR", 0, 0, np.ones(4), wrap=wrap)], _layout([(0, 1000.0), (3, 1003.0)]))


def test_interpolated_depth_follows_every_tie_of_stretched_paper():
    """Ties every 100 rows, the middle one 6 ft off the line through the ends (paper stretched by
    6 %): with ``interpolate`` depth is piecewise-linear through them, worked by hand: rows 0-100
    hold 1000-1056 (0.56 ft a row), rows 100-200 hold 1056-1100 (0.44 ft a row), and past the end
    ties the end pieces carry on."""
    ties = ((0.0, 1000.0), (100.0, 1056.0), (200.0, 1100.0))
    lay = Layout(DepthSpec("FT", 1.0, ties, interpolate=True), (Track(0, 100, curves=(CurveSpec("GR", 0, 100),)),))
    x = np.arange(221, dtype=np.float64) * 0.25  # the curve's column: value = x
    out = calibrate([PixelTrace("GR", 0, 0, x)], lay)
    assert out.depth[0] == 1000.0 and out.depth[-1] == 1108.0 and out.tie_residual == 0.0
    rows = {1000.0: 0.0, 1028.0: 50.0, 1056.0: 100.0, 1100.0: 200.0, 1108.0: 200.0 + 8 / 0.44}
    for depth, row in rows.items():
        got = out.curves[0].values[np.flatnonzero(out.depth == depth)[0]]
        assert got == pytest.approx(0.25 * row), depth
    # the same ties as one line are refused: the middle one is 4 ft off it (limit 2 steps, 2 ft)
    with pytest.raises(LayoutError, match=r"depth.ties\[1\].*off the least-squares line"):
        calibrate([PixelTrace("GR", 0, 0, x)], replace(lay, depth=replace(lay.depth, interpolate=False)))
    assert depth_map(lay).row(np.array([1028.0, 1078.0])).tolist() == pytest.approx([50.0, 150.0])
    assert check_grid(lay, height=221) == 109  # 1000 .. 1108 by 1


def test_interpolated_ties_must_rise_row_by_row():
    bad = Layout(DepthSpec("FT", 0.5, ((0.0, 1000.0), (100.0, 1050.0), (200.0, 1040.0)), interpolate=True), ())
    with pytest.raises(LayoutError, match="interpolate = true the ties must lie on different rows with depths rising"):
        depth_map(bad)
    up = Layout(DepthSpec("FT", 0.5, ((0.0, 1100.0), (100.0, 1040.0), (200.0, 1000.0)), interpolate=True), ())
    assert depth_map(up).depth(np.array([50.0, 150.0, 250.0])).tolist() == [1070.0, 1020.0, 980.0]
