"""Tests for logdigit.score: hand-computed metrics, track normalisation, shift search."""

from __future__ import annotations

import json
import math

import lasio
import numpy as np
import pytest

from logdigit.calibrate import Curve, Curves
from logdigit.errors import InputError
from logdigit.io.las import to_las, write_las
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.score import CurveScore, ScoreReport, score

nan = np.nan


def _las(depth, *, unit="FT", **curves) -> lasio.LASFile:
    las = lasio.LASFile()
    las.append_curve("DEPT", np.asarray(depth, dtype=np.float64), unit=unit)
    for mnemonic, values in curves.items():
        las.append_curve(mnemonic, np.asarray(values, dtype=np.float64), unit="U")
    return las


def _layout(*tracks: Track) -> Layout:
    return Layout(DepthSpec("FT", 0.5, ((0, 0.0), (1, 1.0))), tracks)


TRUTH = _las([0, 1, 2, 3, 4], GR=[0, 10, 20, 30, 40])
DIGITISED = _las([0, 1, 2, 3, 4], GR=[1, 10, 18, nan, 40])
# paired at depths 0, 1, 2, 4: |dv| = 1, 0, 2, 0
R_BY_HAND = 852.5 / math.sqrt(834.75 * 875.0)  # Pearson of [1, 10, 18, 40] and [0, 10, 20, 40]


def test_without_layout_errors_are_normalised_by_the_truth_range():
    row = score(DIGITISED, TRUTH).curves[0]
    assert row == CurveScore(
        mnemonic="GR",
        unit="U",
        samples=4,
        mae=0.75,
        nmae=pytest.approx(0.75 / 40),
        within_2pct=0.5,  # 1/40 and 2/40 miss, two exact samples hit
        coverage=0.8,  # 4 of 5 truth samples digitised
        correlation=pytest.approx(R_BY_HAND),
        normalised_by="truth range",
    )


def test_with_a_layout_errors_are_shares_of_track_width():
    layout = _layout(Track(0, 100, "linear", (CurveSpec("GR", 150.0, 0.0),)))  # reversed: width is |rv - lv|
    row = score(DIGITISED, TRUTH, layout=layout).curves[0]
    assert (row.mae, row.nmae, row.within_2pct, row.normalised_by) == (0.75, 0.005, 1.0, "track width")


def test_log_tracks_are_normalised_by_decades():
    truth = _las([0, 1, 2], ILD=[1, 10, 100])
    dig = _las([0, 1, 2], ILD=[2, 10, 50])
    layout = _layout(Track(0, 100, "log", (CurveSpec("ILD", 0.2, 2000.0),)))  # four decades
    row = score(dig, truth, layout=layout).curves[0]
    assert row.mae == pytest.approx(17.0)  # (1 + 0 + 50) / 3 ohm.m
    assert row.nmae == pytest.approx(2 * math.log10(2) / 3 / 4)
    assert row.within_2pct == pytest.approx(1 / 3)  # 0.08 decades: only the exact sample
    assert row.correlation == pytest.approx(1.0)  # log10 values 0.301, 1, 1.699 vs 0, 1, 2
    assert row.normalised_by == "track decades"


def test_truth_is_interpolated_onto_digitised_depths_with_nan_propagation():
    truth = _las([0, 1, 2, 3, 4], GR=[0, 10, nan, 30, 40])
    dig = _las(np.arange(9) * 0.5, GR=np.arange(9) * 5.0)
    row = score(dig, truth).curves[0]
    assert row.samples == 6  # 1.5, 2.0 and 2.5 sit next to the truth gap
    assert row.mae == pytest.approx(0.0, abs=1e-12)
    assert row.coverage == 1.0


def test_coverage_counts_truth_samples_inside_the_digitised_range_only():
    truth = _las(np.arange(11.0), GR=np.arange(11.0))
    dig = _las([2, 3, 4, 5], GR=[2, 3, nan, 5])
    row = score(dig, truth).curves[0]
    assert row.coverage == 0.75


def _wiggle(depth):
    return 50 + 30 * np.sin(depth / 3.0) + 0.2 * depth


def test_shift_search_recovers_a_shifted_copy():
    truth_depth = np.arange(0, 100, 0.5)
    truth = _las(truth_depth, GR=_wiggle(truth_depth), SP=-_wiggle(truth_depth) * 2)
    dig_depth = np.arange(10, 60, 0.5)
    dig = _las(dig_depth, GR=_wiggle(dig_depth + 1.5), SP=-_wiggle(dig_depth + 1.5) * 2)

    unshifted = score(dig, truth)
    assert unshifted.shift == 0 and unshifted.mean_nmae > 0.01
    found = score(dig, truth, max_shift=3.0)
    assert found.shift == 1.5
    assert [c.nmae for c in found.curves] == [pytest.approx(0, abs=1e-12)] * 2
    assert all(c.correlation == pytest.approx(1.0) for c in found.curves)
    assert score(dig, truth, max_shift=1.0).shift == 1.0  # the best within reach


def test_shift_search_prefers_no_shift_on_a_tie():
    report = score(_las([0, 1, 2], GR=[5, 5, 5]), _las(np.arange(-5.0, 8.0), GR=np.full(13, 5.0)), max_shift=2)
    assert report.shift == 0


def test_missing_curves_are_reported_and_matching_ignores_case():
    truth = _las([0, 1], GR=[1, 2], RHOB=[2.3, 2.4])
    dig = _las([0, 1], gr=[1, 2], NPHI=[0.1, 0.2])
    report = score(dig, truth)
    assert [c.mnemonic for c in report.curves] == ["gr"]
    assert (report.missing_in_digitised, report.missing_in_truth) == (("RHOB",), ("NPHI",))


def test_empty_overlap_gives_nans_not_errors():
    row = score(_las([10, 11], GR=[1, 2]), _las([0, 1], GR=[1, 2])).curves[0]
    assert row.samples == 0
    assert all(math.isnan(v) for v in (row.mae, row.nmae, row.within_2pct, row.coverage, row.correlation))


def test_to_dict_is_json_ready():
    report = score(_las([10, 11], GR=[1, 2]), _las([0, 1], GR=[1, 2], SP=[0, 0]))
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["curves"][0]["mae"] is None and data["curves"][0]["mnemonic"] == "GR"
    assert data["missing_in_digitised"] == ["SP"] and data["mean_nmae"] is None
    assert isinstance(report, ScoreReport)
    with pytest.raises(AttributeError):
        report.shift = 1.0  # frozen


def test_files_on_disk_through_to_las(tmp_path):
    depth = np.array([100.0, 100.5, 101.0])
    curves = Curves(depth, "FT", 0.5, (Curve("GR", "GAPI", np.array([10.0, nan, 30.0])),))
    layout = _layout(Track(0, 100, "linear", (CurveSpec("GR", 0, 150),)))
    write_las(to_las(curves, layout), tmp_path / "dig.las")
    write_las(
        to_las(Curves(depth, "FT", 0.5, (Curve("GR", "GAPI", np.array([13.0, 20.0, 30.0])),)), layout),
        tmp_path / "t.las",
    )
    report = score(tmp_path / "dig.las", str(tmp_path / "t.las"), layout=layout, max_shift=0.5)
    row = report.curves[0]
    assert (report.shift, report.index_unit, row.samples, row.mae, row.coverage) == (0.0, "FT", 2, 1.5, 2 / 3)
    assert row.nmae == pytest.approx(0.01)


def test_refusals(tmp_path):
    with pytest.raises(InputError, match="depth unit M differs from the digitised file's FT"):
        score(_las([0, 1], GR=[1, 2]), _las([0, 1], unit="M", GR=[1, 2]))
    score(_las([0, 1], unit="F", GR=[1, 2]), _las([0, 1], unit="ft", GR=[1, 2]))  # both feet
    with pytest.raises(InputError, match="no such LAS file"):
        score(tmp_path / "nope.las", TRUTH)
    for bad in (-1.0, math.inf, math.nan, True):
        with pytest.raises(ValueError, match="max_shift"):
            score(DIGITISED, TRUTH, max_shift=bad)


def test_inputs_are_not_written_into():
    dig = _las([0, 1, 2, 3, 4], GR=[1, 10, 18, nan, 40])
    score(dig, TRUTH, max_shift=2)
    np.testing.assert_array_equal(dig["GR"], [1, 10, 18, nan, 40])
    np.testing.assert_array_equal(TRUTH["GR"], [0, 10, 20, 30, 40])
