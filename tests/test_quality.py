"""Per-depth quality: flags, their stretches, the CSV, and infer --quality end to end."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import lasio
import numpy as np
import pytest
from typer.testing import CliRunner

from logdigit.calibrate import Curve, Curves, DepthMap, calibrate
from logdigit.cli import app
from logdigit.io.las import other_section, to_las
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.quality import FLAGS, depth_stretches, flag_rows, flag_stretches, quality_csv
from logdigit.trace import PixelTrace

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_flag_priority_worked_by_hand():
    x = np.array([1.0, 1.0, 1.0, 1.0, np.nan, 1.0])
    t = PixelTrace("GR", 0, 100, x, twins=("SP",), filled=((101, 101),))
    conf = np.array([0.95, 0.1, 0.1, 0.9, np.nan, 0.79])
    got = [FLAGS[c] if c >= 0 else "null" for c in flag_rows(t, conf, low=0.8)]
    # interpolated beats low-confidence, which beats look-alike; NaN rows have no flag
    assert got == ["look-alike", "interpolated", "low-confidence", "look-alike", "null", "low-confidence"]
    assert flag_stretches([t], [conf], low=0.8) == {
        "GR": [
            (100, 100, "look-alike"),
            (101, 101, "interpolated"),
            (102, 102, "low-confidence"),
            (103, 103, "look-alike"),
            (105, 105, "low-confidence"),
        ]
    }


def test_flag_rows_refuses_a_confidence_of_another_length():
    t = PixelTrace("GR", 0, 0, np.ones(4))
    try:
        flag_rows(t, np.ones(3), low=0.5)
    except ValueError as exc:
        assert "shape" in str(exc)
    else:
        raise AssertionError("no error")


def test_depth_stretches_follow_the_depth_line_either_way():
    assert depth_stretches({"GR": [(0, 9, "wrapped")]}, DepthMap.line_of(100.0, -1.0)) == {
        "GR": [(91.0, 100.0, "wrapped")]
    }


def test_csv_worked_by_hand():
    # depth = 1000 + 0.5 * row; samples every 0.5 -> rows 0..3
    curves = Curves(
        np.array([1000.0, 1000.5, 1001.0, 1001.5]),
        "FT",
        0.5,
        (Curve("GR", "GAPI", np.array([10.0, 20.0, np.nan, 40.0])),),
    )
    t = PixelTrace("GR", 0, 0, np.array([1.0, 2.0, np.nan, 4.0]), filled=((1, 1),))
    text = quality_csv(curves, [t], [np.array([0.9, 0.5, np.nan, 0.3])], DepthMap.line_of(1000.0, 0.5), low=0.8)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["depth", "GR", "GR_confidence", "GR_flag"],
        ["1000", "10.00000", "0.900", "ok"],
        ["1000.5", "20.00000", "0.500", "interpolated"],
        ["1001", "", "", "null"],
        ["1001.5", "40.00000", "0.300", "low-confidence"],
    ]


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        (CurveSpec("GR", 0, 150, unit="GAPI"), ["75.00000", "135.00000", "", ""]),  # undeclared: NULL
        (CurveSpec("GR", 0, 150, unit="GAPI", wrap=True), ["75.00000", "135.00000", "165.00000", "180.00000"]),
    ],
)
def test_wrapped_rows_are_flagged_declared_or_not(spec, values):
    # depth = 1000 + 0.5 * row; rows 2-3 are drawn after the curve passed the right-hand edge.
    lay = Layout(DepthSpec("FT", 0.5, ((0, 1000.0), (3, 1001.5))), (Track(0, 100, curves=(spec,)),))
    t = PixelTrace("GR", 0, 0, np.array([50.0, 90.0, 10.0, 20.0]), wrap=np.int8([0, 0, 1, 1]))
    curves = calibrate([t], lay)
    flags = flag_stretches([t], None, low=0.8)
    assert flags == {"GR": [(2, 3, "wrapped")]}
    las = to_las(curves, lay, flagged=depth_stretches(flags, DepthMap.line_of(1000.0, 0.5)))
    assert "GR wrapped: 1001.00-1001.50 FT" in las.other
    rows = list(csv.reader(io.StringIO(quality_csv(curves, [t], None, DepthMap.line_of(1000.0, 0.5), low=0.8))))
    assert [r[1] for r in rows[1:]] == values
    assert [r[3] for r in rows[1:]] == ["ok", "ok", "wrapped", "wrapped"]


def test_other_section_lists_every_flag_kind():
    curves = Curves(np.array([100.0, 100.5]), "FT", 0.5, (Curve("GR", "GAPI", np.ones(2), filled=((100.5, 100.5),)),))
    text = other_section(
        curves, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()), flagged={"GR": [(100.0, 100.5, "low-confidence")]}
    )
    assert "GR interpolated: 100.50 FT" in text and "GR low-confidence: 100.00-100.50 FT" in text


def test_infer_quality_csv_matches_the_las(tmp_path):
    for name in ("mono.tif", "mono.layout.toml"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    las_path, q_path = tmp_path / "mono.las", tmp_path / "mono.quality.csv"
    r = CliRunner().invoke(
        app, ["infer", str(tmp_path / "mono.tif"), "-o", str(las_path), "--quality", str(q_path), "--quiet"]
    )
    assert r.exit_code == 0, r.output
    las = lasio.read(str(las_path))
    rows = list(csv.DictReader(q_path.open()))
    assert len(rows) == len(las.index)
    for curve in las.curves[1:]:
        m = curve.mnemonic
        values = np.array([float(row[m]) if row[m] else np.nan for row in rows])
        assert np.allclose(values, curve.data, equal_nan=True, atol=1e-5), m
        conf = np.array([float(row[f"{m}_confidence"]) for row in rows if row[f"{m}_confidence"]])
        assert conf.size and ((conf >= 0) & (conf <= 1)).all()
        flags = {row[f"{m}_flag"] for row in rows}
        assert flags <= set(FLAGS) | {"null"}
        assert {row[f"{m}_flag"] for row in rows if not row[m]} <= {"null"}
        low = [float(row["depth"]) for row in rows if row[f"{m}_flag"] == "low-confidence"]
        if low:  # every low-confidence sample lies in an interval the LAS's ~Other lists
            assert f"{m} low-confidence:" in las.other
    # the quality CSV is an output like the others: kept unless --overwrite
    again = CliRunner().invoke(
        app, ["infer", str(tmp_path / "mono.tif"), "-o", str(tmp_path / "b.las"), "--quality", str(q_path), "--quiet"]
    )
    assert again.exit_code == 3 and "--overwrite" in again.output
    onto_scan = CliRunner().invoke(
        app,
        [
            "infer",
            str(tmp_path / "mono.tif"),
            "-o",
            str(tmp_path / "c.las"),
            "--quality",
            str(tmp_path / "mono.tif"),
            "--overwrite",
            "--quiet",
        ],
    )
    assert onto_scan.exit_code == 3 and (tmp_path / "mono.tif").read_bytes() == (SAMPLES / "mono.tif").read_bytes()


@pytest.mark.slow  # two local Dask clusters
def test_batch_writes_quality_and_qc_beside_each_las(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("simple.jpg", "simple.layout.toml"):
        shutil.copy(SAMPLES / name, scans / name)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["batch", str(scans), "--outdir", str(out), "--workers", "1", "--device", "cpu", "--qc", "html", "--quiet"]
    )
    assert r.exit_code == 0, r.output
    assert (out / "simple.las").is_file() and (out / "simple.qc.html").is_file()
    rows = list(csv.DictReader((out / "simple.quality.csv").open()))
    assert len(rows) == len(lasio.read(str(out / "simple.las")).index)
    no = CliRunner().invoke(
        app,
        [
            "batch",
            str(scans),
            "--outdir",
            str(tmp_path / "o2"),
            "--workers",
            "1",
            "--device",
            "cpu",
            "--no-quality",
            "--qc",
            "png",
            "--quiet",
        ],
    )
    assert no.exit_code == 0, no.output
    assert (tmp_path / "o2" / "simple.qc.png").is_file() and not (tmp_path / "o2" / "simple.quality.csv").exists()
    bad = CliRunner().invoke(app, ["batch", str(scans), "--outdir", str(tmp_path / "o3"), "--qc", "pdf"])
    assert bad.exit_code == 2 and "--qc 'pdf'" in bad.output
