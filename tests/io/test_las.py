"""Tests for logdigit.io.las: LAS 2.0 building, golden written text, atomic output, reading."""

from __future__ import annotations

import os
from pathlib import Path

import lasio
import numpy as np
import pytest

from logdigit.calibrate import Curve, Curves
from logdigit.errors import InputError, OutputError
from logdigit.io.las import NULL, read_las, to_las, write_las
from logdigit.io.layout import DepthSpec, Layout, load_layout, uncalibrated_layout

DATA = Path(__file__).parents[1] / "data"
GOLDEN = DATA / "las_golden.las"
META = {"SRC": "myska.tif", "MODEL": "veernet-v1", "THRESH": "0.5"}


def _curves() -> Curves:
    return Curves(
        depth=np.array([1200.0, 1200.5, 1201.0, 1201.5]),
        unit="FT",
        step=0.5,
        curves=(
            Curve("GR", "GAPI", np.array([45.5, np.nan, 60.25, 75.0])),
            Curve("ILD", "OHMM", np.array([2.0, 20.0, np.nan, 200.0]), "Deep induction resistivity"),
        ),
        tie_residual=0.1234567,
    )


def _las() -> lasio.LASFile:
    return to_las(_curves(), load_layout(DATA / "layout_myska.layout.toml"), meta=META)


def test_written_text_matches_the_golden_file(tmp_path):
    out = tmp_path / "out.las"
    write_las(_las(), out)
    assert out.read_text(encoding="utf-8") == GOLDEN.read_text(encoding="utf-8")


def test_stdout_gets_the_same_text(capsys):
    write_las(_las(), "-")
    assert capsys.readouterr().out == GOLDEN.read_text(encoding="utf-8")


def test_sections_hold_what_the_contract_says():
    las = _las()
    assert list(las.version.keys()) == ["VERS", "WRAP"]
    assert (las.version["VERS"].value, las.version["WRAP"].value) == (2.0, "NO")
    well = {item.mnemonic: item for item in las.well}
    assert (well["STRT"].value, well["STOP"].value, well["STEP"].value) == (1200.0, 1201.5, 0.5)
    assert {well[k].unit for k in ("STRT", "STOP", "STEP")} == {"FT"}
    assert well["NULL"].value == NULL == -999.25
    assert (well["WELL"].value, well["UWI"].value) == ("MYSKA 4 ST", "42-157-32993")
    assert [(c.mnemonic, c.unit) for c in las.curves] == [("DEPT", "FT"), ("GR", "GAPI"), ("ILD", "OHMM")]
    assert las.curves["ILD"].descr == "Deep induction resistivity; digitised from track 2, 0.2 to 2000 OHMM log, solid"
    assert las.curves["GR"].descr == "digitised from track 1, 0 to 150 GAPI linear, solid, ink #00cc00"
    assert [(p.mnemonic, p.value) for p in las.params] == [*META.items(), ("TIERES", "0.1235")]


def test_read_back_gives_nan_for_null(tmp_path):
    write_las(_las(), tmp_path / "out.las")
    back = read_las(tmp_path / "out.las")
    np.testing.assert_array_equal(back.index, [1200.0, 1200.5, 1201.0, 1201.5])
    np.testing.assert_array_equal(back["GR"], [45.5, np.nan, 60.25, 75.0])
    np.testing.assert_array_equal(back["ILD"], [2.0, 20.0, np.nan, 200.0])
    assert back.well["WELL"].value == "MYSKA 4 ST"
    assert back.params["SRC"].value == "myska.tif"


def test_neither_curves_nor_las_are_written_into(tmp_path):
    curves = _curves()
    las = to_las(curves, load_layout(DATA / "layout_myska.layout.toml"), meta=META)
    las["GR"][0] = 999.0  # the LAS holds copies
    np.testing.assert_array_equal(curves.curves[0].values, [45.5, np.nan, 60.25, 75.0])
    before = (str(las.version), str(las.well), str(las.curves), str(las.params))
    write_las(las, tmp_path / "out.las")
    assert (str(las.version), str(las.well), str(las.curves), str(las.params)) == before


def test_uncalibrated_output_says_so():
    depth = np.array([10.0, 11.0])
    curves = Curves(depth, "PX", 1.0, (Curve("T1_SOLID", "", np.array([0.25, 0.5])),))
    las = to_las(curves, uncalibrated_layout([(0, 9)], 20))
    assert las.curves[0].unit == "PX" and las.curves[0].descr == "PIXEL ROW"
    assert "UNCALIBRATED" in las.other


def test_well_items_override_defaults_case_insensitively_and_meta_overrides_tieres():
    layout = Layout(DepthSpec("M", 1.0, ((0, 0), (1, 1))), (), well={"comp": "ACME", "ELEV": "123.4"})
    curves = Curves(np.array([1.0]), "M", 1.0, ())
    las = to_las(curves, layout, meta={"TIERES": "n/a"})
    assert las.well["COMP"].value == "ACME" and las.well["ELEV"].value == "123.4"
    assert [(p.mnemonic, p.value) for p in las.params] == [("TIERES", "n/a")]


@pytest.mark.parametrize(
    ("curves", "meta", "match"),
    [
        (Curves(np.array([]), "FT", 0.5, ()), None, r"n >= 1"),
        (Curves(np.array([1.0, 0.5]), "FT", 0.5, ()), None, "increase strictly"),
        (Curves(np.array([1.0, 1.5]), "FT", 0.5, (Curve("GR", "", np.zeros(3)),)), None, "shape"),
        (
            Curves(np.array([1.0]), "FT", 0.5, (Curve("GR", "", np.zeros(1)), Curve("gr", "", np.zeros(1)))),
            None,
            "used twice",
        ),
        (Curves(np.array([1.0]), "FT", 0.5, (Curve("DEPT", "", np.zeros(1)),)), None, "used twice"),
        (Curves(np.array([1.0]), "FT", 0.5, ()), {"BAD KEY": "1"}, "not a LAS mnemonic"),
        (Curves(np.array([1.0]), "FT", 0.5, ()), {"SRC": "a\nb"}, "one line"),
    ],
)
def test_to_las_refuses_bad_curves(curves, meta, match):
    with pytest.raises(ValueError, match=match):
        to_las(curves, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()), meta=meta)


def test_write_is_atomic(tmp_path):
    target = tmp_path / "out.las"
    target.write_text("old")
    write_las(_las(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.las"]
    assert target.read_text().startswith("~Version")


def test_unwritable_paths_give_one_line_output_errors(tmp_path):
    with pytest.raises(OutputError, match=r"does not exist; create it or choose another path$"):
        write_las(_las(), tmp_path / "missing" / "out.las")
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputError) as info:
        write_las(_las(), tmp_path / "adir")
    assert str(info.value).startswith(f"{tmp_path / 'adir'}: cannot write the LAS file (")
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]  # no temporary left behind


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="choose a writable path"):
            write_las(_las(), folder / "out.las")
    finally:
        folder.chmod(0o700)


def test_read_las_refuses_missing_garbled_and_folders(tmp_path):
    with pytest.raises(InputError, match=r"nope\.las: no such LAS file; check the path$"):
        read_las(tmp_path / "nope.las")
    with pytest.raises(InputError, match="is a folder"):
        read_las(tmp_path)
    garbled = tmp_path / "garbled.las"
    garbled.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    with pytest.raises(InputError) as info:
        read_las(garbled)
    assert str(info.value).startswith(f"{garbled}: not a readable LAS file (")
    assert "\n" not in str(info.value)


def test_read_las_reads_the_golden_file():
    las = read_las(GOLDEN)
    assert [c.mnemonic for c in las.curves] == ["DEPT", "GR", "ILD"]
    assert las.well["STEP"].value == 0.5
