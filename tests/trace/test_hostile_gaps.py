"""Nothing invented silently: long gaps stay NULL, every filled stretch is listed in the LAS,
and a scan with no curve ink, a curve with no value, or overlapping tracks is warned of."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from logdigit.calibrate import calibrate, fit_ties
from logdigit.cli import app
from logdigit.io.las import read_las, to_las, write_las
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track, write_layout
from logdigit.trace import PixelTrace, trace

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_track(height: int, *, left: int = 2, right: int = 37) -> Layout:
    depth = DepthSpec("PX", 1.0, ((0, 0), (height - 1, height - 1)))
    return Layout(depth, (Track(left, right, curves=(CurveSpec("GR", 0, 150),)),))


def _broken_line(height: int, blank: tuple[int, int], cols=(20, 20)) -> np.ndarray:
    """bool (3, H, 40): a 2-px solid line at ``cols[0]`` above the blank rows, ``cols[1]`` below."""
    masks = np.zeros((3, height, 40), bool)
    masks[1, : blank[0], cols[0] : cols[0] + 2] = True
    masks[1, blank[1] :, cols[1] : cols[1] + 2] = True
    masks[0] = ~masks[1]
    return masks


def _png(path: Path, rgb: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


# --------------------------------------------------------------------------- 1. fill limit


def test_default_fill_limit_is_documented_and_short():
    from logdigit.trace import DEFAULT_MAX_GAP

    assert DEFAULT_MAX_GAP == 15  # 0.05 in at 300 dpi: a dash gap, not a lost stretch of curve


def test_thirty_row_blank_strip_stays_null():
    """The GR 188 -> 138 case: a strip with no ink is not bridged by a straight line."""
    masks = _broken_line(200, (100, 130), cols=(30, 20))
    (tr,) = trace(masks, _one_track(200))
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(tr.x)), np.arange(100, 130))
    assert tr.filled == ()


def test_short_gap_is_filled_and_recorded():
    masks = _broken_line(200, (100, 110))
    (tr,) = trace(masks, _one_track(200))
    assert np.isfinite(tr.x).all()
    np.testing.assert_allclose(tr.x[100:110], 20.5)
    assert tr.filled == ((100, 109),)  # image rows, inclusive


def test_max_gap_sets_the_fill_limit():
    masks = _broken_line(200, (100, 130))
    (tr,) = trace(masks, _one_track(200), max_gap=30)
    assert np.isfinite(tr.x).all() and tr.filled == ((100, 129),)
    (tr,) = trace(masks, _one_track(200), max_gap=29)
    assert np.isnan(tr.x[100:130]).all() and tr.filled == ()
    masks = _broken_line(200, (60, 150))  # a fill limit past the default linking reach still fills
    (tr,) = trace(masks, _one_track(200), max_gap=90)
    assert np.isfinite(tr.x).all() and tr.filled == ((60, 149),)


def test_filled_rows_become_depth_intervals():
    track = Track(0, 40, curves=(CurveSpec("GR", 0, 150),))
    x = np.full(101, 20.0)
    # 0.5 ft per row, samples every 1.0 ft: on the even rows; row 61 is used by none.
    lay = Layout(DepthSpec("FT", 1.0, ((0, 1000.0), (100, 1050.0))), (track,))
    curves = calibrate([PixelTrace("GR", 0, 0, x, filled=((10, 14), (50, 50), (61, 61)))], lay)
    assert curves.curves[0].filled == ((1005.0, 1007.0), (1025.0, 1025.0))
    # 0.4 ft per row, samples every 0.5 ft: 1005.0 at row 12.5 and 1005.5 at row 13.75 use row 13.
    lay = Layout(DepthSpec("FT", 0.5, ((0, 1000.0), (100, 1040.0))), (track,))
    curves = calibrate([PixelTrace("GR", 0, 0, x, filled=((13, 13),))], lay)
    assert curves.curves[0].filled == ((1005.0, 1005.5),)


def test_las_other_lists_interpolated_stretches_and_limit(tmp_path):
    track = Track(0, 40, curves=(CurveSpec("GR", 0, 150), CurveSpec("SP", -80, 20)))
    lay = Layout(DepthSpec("FT", 0.5, ((0, 1000.0), (100, 1050.0))), (track,))
    gr = PixelTrace("GR", 0, 0, np.full(101, 20.0), filled=((10, 14), (50, 50)))
    traces = [gr, PixelTrace("SP", 0, 0, np.full(101, 8.0))]
    las = to_las(calibrate(traces, lay), lay, max_gap=15)
    write_las(las, tmp_path / "a.las")
    other = read_las(tmp_path / "a.las").other
    assert "15 pixel rows" in other
    assert "GR interpolated: 1005.00-1007.00 FT, 1025.00 FT" in other
    assert "SP interpolated" not in other


# --------------------------------------------------------------------------- 2. and 3. warnings (library)


def test_empty_output_warnings():
    from logdigit.calibrate import Curve, Curves
    from logdigit.pipeline import _empty_warnings

    nan, one = np.full(3, np.nan), np.ones(3)
    depth = np.array([0.0, 1.0, 2.0])
    both = Curves(depth, "FT", 1.0, (Curve("GR", "", nan), Curve("SP", "", nan)))
    (msg,) = _empty_warnings(both, "scan.tif")
    assert msg.startswith("scan.tif: no curve ink found; every curve is NULL") and "--threshold" in msg
    some = Curves(depth, "FT", 1.0, (Curve("GR", "", one), Curve("SP", "", nan)))
    (msg,) = _empty_warnings(some, "scan.tif")
    assert msg.startswith("scan.tif: curve SP got no value; it is NULL throughout")
    assert _empty_warnings(Curves(depth, "FT", 1.0, (Curve("GR", "", one),)), "scan.tif") == []


def test_overlapping_tracks_warning():
    from logdigit.pipeline import _overlap_warnings

    depth = DepthSpec("FT", 0.5, ((0, 0.0), (10, 5.0)))
    touching = Layout(depth, (Track(5, 40), Track(40, 75)), source="a.layout.toml")  # one shared ruling: fine
    assert _overlap_warnings(touching) == []
    over = Layout(depth, (Track(5, 45), Track(80, 120), Track(40, 75)), source="a.layout.toml")
    (msg,) = _overlap_warnings(over)
    assert msg.startswith("a.layout.toml: track 1 (columns 5..45) and track 3 (columns 40..75) overlap")
    assert "fix" in msg


# --------------------------------------------------------------------------- through the CLI


@pytest.fixture()
def strip_scan(tmp_path):
    """A synthetic sheet with a 30-row white strip across it, its layout beside it; and the rows."""
    from logdigit.research.synth import CLASSIC_STYLE, make_sheet

    sheet = make_sheet(height=256, width=320, rng=1, style=CLASSIC_STYLE)  # curves on every row
    image = sheet.image.copy()
    image[120:150] = 255
    scan = _png(tmp_path / "strip.png", image)
    write_layout(sheet.layout, tmp_path / "strip.layout.toml")
    return scan, sheet.layout, (120, 150)


def _strip_values(las_path: Path, layout: Layout, rows: tuple[int, int]) -> np.ndarray:
    las = read_las(las_path)
    a, b, _ = fit_ties(layout)
    depth = las.index
    inside = (depth > a + b * rows[0]) & (depth < a + b * (rows[1] - 1))
    return np.stack([las[c.mnemonic][inside] for c in las.curves[1:]])


def test_infer_leaves_blank_strip_null_and_max_gap_fills_it(strip_scan, tmp_path):
    scan, layout, rows = strip_scan
    result = _run("infer", scan, "-o", tmp_path / "short.las", "--device", "cpu")
    assert result.exit_code == 0, result.output
    values = _strip_values(tmp_path / "short.las", layout, rows)
    assert values.size and np.isnan(values).all()
    result = _run("infer", scan, "-o", tmp_path / "long.las", "--device", "cpu", "--max-gap", 40)
    assert result.exit_code == 0, result.output
    assert np.isfinite(_strip_values(tmp_path / "long.las", layout, rows)).any()
    other = read_las(tmp_path / "long.las").other
    assert "40 pixel rows" in other and " interpolated: " in other


@pytest.mark.parametrize("command", ["infer", "batch"])
@pytest.mark.parametrize("value", [-1, 1001])
def test_max_gap_out_of_range_is_refused_before_any_work(tmp_path, command, value):
    scan = _png(tmp_path / "w.png", np.full((64, 80, 3), 255, np.uint8))
    out = ["--outdir", tmp_path / "out"] if command == "batch" else []
    result = _run(command, scan, *out, "--max-gap", value)
    assert result.exit_code == 2 and "--max-gap" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "w.las").exists() and not (tmp_path / "out").exists()


def test_max_gap_option_states_the_library_default_and_limit():
    from logdigit.cli.options import DEFAULTS, MaxGapOpt
    from logdigit.trace import DEFAULT_MAX_GAP, MAX_GAP_LIMIT

    option = MaxGapOpt.__metadata__[0]
    assert DEFAULTS.max_gap == DEFAULT_MAX_GAP and (option.min, option.max) == (0, MAX_GAP_LIMIT)
    with pytest.raises(ValueError, match="max_gap must be at most"):
        trace(np.zeros((3, 10, 20), bool), _one_track(10), max_gap=MAX_GAP_LIMIT + 1)


BLANK_LAYOUT = """[depth]
unit = "FT"
step = 0.5
ties = [[0, 1000.0], [63, 1031.5]]

[[tracks]]
left = 5
right = 45

[[tracks.curves]]
mnemonic = "GR"
unit = "GAPI"
left_value = 0
right_value = 150

[[tracks]]
left = 40
right = 75

[[tracks.curves]]
mnemonic = "RT"
unit = "OHMM"
left_value = 0
right_value = 10
"""


def test_one_row_scan_is_refused_not_written_as_all_null(tmp_path):
    scan = _png(tmp_path / "thin.png", np.full((1, 80, 3), 255, np.uint8))
    (tmp_path / "thin.layout.toml").write_text(BLANK_LAYOUT)
    result = _run("infer", scan, "-o", tmp_path / "thin.las", "--device", "cpu")
    assert result.exit_code == 2 and not (tmp_path / "thin.las").exists(), result.output
    assert f"error: {scan}: " in result.output and "16" in result.output


@pytest.mark.parametrize("height", [64, 16])
def test_blank_page_warns(tmp_path, height):
    scan = _png(tmp_path / "blank.png", np.full((height, 80, 3), 255, np.uint8))
    (tmp_path / "blank.layout.toml").write_text(BLANK_LAYOUT)
    result = _run("infer", scan, "-o", tmp_path / "blank.las", "--device", "cpu")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich may wrap
    assert f"warning: {scan}: no curve ink found; every curve is NULL" in text
    assert "track 1 (columns 5..45) and track 2 (columns 40..75) overlap" in text


def test_batch_manifest_records_the_warnings(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    _png(scans / "blank.png", np.full((64, 80, 3), 255, np.uint8))
    (scans / "blank.layout.toml").write_text(BLANK_LAYOUT)
    out = tmp_path / "out"
    result = _run("batch", scans, "--outdir", out, "--workers", 1, "--device", "cpu", "--max-gap", 20, "--quiet")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert record["status"] == "done" and record["settings"]["max_gap"] == 20
    assert any("no curve ink found" in w for w in record["warnings"])
    assert any("overlap" in w for w in record["warnings"])
