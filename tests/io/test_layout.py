"""Tests for logdigit.io.layout: strict TOML loading, scan checks, writing, drafts."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from logdigit.errors import InputError, LayoutError
from logdigit.io.layout import (
    CurveSpec,
    DepthSpec,
    Layout,
    Track,
    check_layout,
    find_layout,
    layout_to_toml,
    load_layout,
    uncalibrated_layout,
    write_layout,
)

DATA = Path(__file__).parents[1] / "data"
EXAMPLE = DATA / "layout_myska.layout.toml"

BASE = """\
[depth]
unit = "FT"
step = 0.5
ties = [[100, 1000.0], [300, 1100.0]]

[[tracks]]
left = 8
right = 258
scale = "linear"

[[tracks.curves]]
mnemonic = "GR"
unit = "GAPI"
left_value = 0
right_value = 150

[[tracks]]
left = 300
right = 550
scale = "log"

[[tracks.curves]]
mnemonic = "ILD"
unit = "OHMM"
left_value = 0.2
right_value = 2000
"""


def _load(tmp_path: Path, text: str) -> Layout:
    path = tmp_path / "scan.layout.toml"
    path.write_text(text, encoding="utf-8")
    return load_layout(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(LayoutError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "scan.layout.toml") + ": ")
    return message


# --------------------------------------------------------------------------- loading


def test_example_file_loads_every_field():
    layout = load_layout(EXAMPLE)
    assert layout.source == str(EXAMPLE)
    assert layout.calibrated
    assert dict(layout.well) == {"WELL": "MYSKA 4 ST", "UWI": "42-157-32993"}
    assert layout.depth == DepthSpec("FT", 0.5, ((1779.0, 1200.2), (4397.0, 3818.2)), rows=(1700, 4500))
    gr_track, res_track = layout.tracks
    assert (gr_track.left, gr_track.right, gr_track.scale) == (8, 258, "linear")
    assert gr_track.curves == (CurveSpec("GR", 0.0, 150.0, unit="GAPI", line="solid", color=(0, 204, 0)),)
    assert res_track.scale == "log"
    ild, ilm = res_track.curves
    assert ild.descr == "Deep induction resistivity" and ild.color is None and ild.klass == 1
    assert ilm.line == "dotted" and ilm.klass == 2  # dotted: VeerNet class 2, like dashed


def test_defaults_and_case_insensitive_words(tmp_path):
    text = BASE.replace('unit = "FT"', 'unit = "ft"').replace('scale = "log"', 'scale = "LOG"')
    text = text.replace('scale = "linear"\n', "")
    layout = _load(tmp_path, text)
    assert layout.depth.unit == "FT"
    assert [t.scale for t in layout.tracks] == ["linear", "log"]
    gr = layout.tracks[0].curves[0]
    assert (gr.line, gr.color, gr.descr) == ("solid", None, "")
    assert layout.well == {}


def test_short_colour_and_px_unit_mean_uncalibrated(tmp_path):
    text = BASE.replace('unit = "FT"', 'unit = "PX"').replace('unit = "GAPI"', 'unit = "GAPI"\ncolor = "#0C0"')
    layout = _load(tmp_path, text)
    assert not layout.calibrated
    assert layout.tracks[0].curves[0].color == (0, 204, 0)


def test_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "scan.layout.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_layout(path).depth.unit == "FT"


def test_reversed_scale_and_integer_valued_float_columns_accepted(tmp_path):
    text = BASE.replace("left_value = 0\n", "left_value = 150\n").replace("right_value = 150", "right_value = 0")
    layout = _load(tmp_path, text.replace("left = 8", "left = 8.0"))
    assert layout.tracks[0].left == 8 and isinstance(layout.tracks[0].left, int)
    assert (layout.tracks[0].curves[0].left_value, layout.tracks[0].curves[0].right_value) == (150.0, 0.0)


def test_the_documented_log_scale_message(tmp_path):
    text = BASE.replace("left_value = 0.2", "left_value = 0")
    path = tmp_path / "scan.layout.toml"
    assert _error(tmp_path, text) == (
        f"{path}: tracks[1].curves[0].left_value: log scale needs values > 0, got 0; "
        "use the track's lowest decade, e.g. 0.2"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # typos: unknown keys, with the closest valid key
        ("[depth]", "[dpth]", 'dpth: unknown key; did you mean "depth"? (valid keys: well, depth, tracks)'),
        ("left = 8\n", "lefft = 8\n", 'tracks[0].lefft: unknown key; did you mean "left"?'),
        (
            "left_value = 0\n",
            "left_valeu = 0\n",
            'tracks[0].curves[0].left_valeu: unknown key; did you mean "left_value"?',
        ),
        ("step = 0.5", "step = 0.5\nsteps = 1", 'depth.steps: unknown key; did you mean "step"?'),
        (
            "step = 0.5",
            "step = 0.5\nzzz = 1",
            "depth.zzz: unknown key; remove it (valid keys: unit, step, ties, rows, interpolate)",
        ),
        (
            "step = 0.5",
            'step = 0.5\ninterpolate = "yes"',
            'depth.interpolate: must be true or false, got "yes" (str); write interpolate = true',
        ),
        # missing keys
        ("step = 0.5\n", "", "depth.step: missing; add the required key 'step'"),
        ('mnemonic = "GR"\n', "", "tracks[0].curves[0].mnemonic: missing"),
        ("right_value = 2000\n", "", "tracks[1].curves[0].right_value: missing"),
        # invalid TOML, with the line
        ("step = 0.5", "step = ", "line 3: invalid TOML (Invalid value); fix the syntax on that line"),
        # depth
        ('unit = "FT"', 'unit = "KM"', 'depth.unit: must be one of "FT", "F", "M", "PX", got "KM"'),
        ('unit = "FT"', "unit = 3", "depth.unit: must be a string, got 3 (int)"),
        ("step = 0.5", "step = 0", "depth.step: must be > 0, got 0; use the output sampling step, e.g. 0.5"),
        ("step = 0.5", "step = -1.5", "depth.step: must be > 0, got -1.5"),
        ("step = 0.5", 'step = "0.5"', 'depth.step: must be a finite number, got "0.5" (str)'),
        ("step = 0.5", "step = true", "depth.step: must be a finite number, got True (bool)"),
        ("step = 0.5", "step = nan", "depth.step: must be a finite number, got nan (float)"),
        (
            "ties = [[100, 1000.0], [300, 1100.0]]",
            "ties = [[100, 1000.0]]",
            "depth.ties: needs at least two [row, depth] pairs, got 1",
        ),
        (
            "ties = [[100, 1000.0], [300, 1100.0]]",
            "ties = [[100, 1000.0], [100, 1100.0]]",
            "depth.ties[1]: row 100 is already tied by depth.ties[0]",
        ),
        (
            "ties = [[100, 1000.0], [300, 1100.0]]",
            "ties = [[100, 1000.0], [300, 1100.0], [200, 1200.0]]",
            "depth.ties[1]: depth 1100 at row 300 is out of order with depth.ties[2] (depth 1200 at row 200)",
        ),
        ("ties = [[100, 1000.0], [300, 1100.0]]", "ties = [[100, 1000.0], [300, 1000.0]]", "out of order"),
        (
            "ties = [[100, 1000.0], [300, 1100.0]]",
            "ties = [[100, 1000.0], [300]]",
            "depth.ties[1]: must be a [row, depth] pair",
        ),
        (
            "ties = [[100, 1000.0], [300, 1100.0]]",
            "ties = [[-5, 1000.0], [300, 1100.0]]",
            "depth.ties[0]: row must be >= 0, got -5",
        ),
        (
            "step = 0.5",
            "step = 0.5\nrows = [4500, 1700]",
            "depth.rows: first row must be < last row, got [4500, 1700]",
        ),
        (
            "step = 0.5",
            "step = 0.5\nrows = [1.5, 20]",
            "depth.rows: must be a whole number of pixels, got 1.5 (float)",
        ),
        ("step = 0.5", "step = 0.5\nrows = [10]", "depth.rows: must be [first, last]"),
        # tracks
        ("right = 258", "right = 8", "tracks[0].right: must be > left (8), got 8; check both edges"),
        ("left = 8", 'left = "8"', 'tracks[0].left: must be a whole number of pixels, got "8" (str)'),
        ("left = 8", "left = -1", "tracks[0].left: must be >= 0"),
        (
            'scale = "log"',
            'scale = "logarithmic"',
            'tracks[1].scale: must be one of "linear", "log", got "logarithmic"',
        ),
        (
            '[[tracks.curves]]\nmnemonic = "GR"\nunit = "GAPI"\nleft_value = 0\nright_value = 150\n',
            "curves = []\n",
            "tracks[0].curves: is empty; add at least one [[tracks.curves]] section",
        ),
        (
            '[[tracks.curves]]\nmnemonic = "GR"\nunit = "GAPI"\nleft_value = 0\nright_value = 150\n',
            "",
            "tracks[0].curves: missing",
        ),
        (
            '[[tracks.curves]]\nmnemonic = "ILD"',
            '[tracks.curves]\nmnemonic = "ILD"',
            "tracks[1].curves: must be an array of tables",
        ),
        # curves
        (
            'unit = "GAPI"',
            'unit = "GAPI"\nline = "dash"',
            'did you mean "dashed"? use one of "solid", "dashed", "dotted"',
        ),
        (
            'mnemonic = "ILD"',
            'mnemonic = "GR"',
            'tracks[1].curves[0].mnemonic: "GR" is already used by tracks[0].curves[0]',
        ),
        ('mnemonic = "ILD"', 'mnemonic = "gr"', 'tracks[1].curves[0].mnemonic: "gr" is already used by'),
        (
            'mnemonic = "ILD"',
            'mnemonic = "IL D"',
            'tracks[1].curves[0].mnemonic: "IL D" is not a LAS mnemonic',
        ),
        ('mnemonic = "ILD"', 'mnemonic = "dept"', 'tracks[1].curves[0].mnemonic: "DEPT" is the depth index'),
        ('unit = "GAPI"', 'unit = "G API"', 'tracks[0].curves[0].unit: a LAS unit is one word, got "G API"'),
        ("right_value = 150", "right_value = 0", "tracks[0].curves[0].right_value: equals left_value (0)"),
        (
            "right_value = 2000",
            "right_value = -2000",
            "tracks[1].curves[0].right_value: log scale needs values > 0, got -2000",
        ),
        (
            'unit = "GAPI"',
            'unit = "GAPI"\ncolor = "green"',
            'tracks[0].curves[0].color: must be a "#rrggbb" hex colour, got "green"',
        ),
        (
            'unit = "GAPI"',
            'unit = "GAPI"\ncolor = "#00cc0"',
            'tracks[0].curves[0].color: must be a "#rrggbb" hex colour',
        ),
        (
            'unit = "GAPI"',
            'unit = "GAPI"\ncolor = [0, 204, 0]',
            "tracks[0].curves[0].color: must be a string",
        ),
        # wrap and backup
        ('unit = "GAPI"', 'unit = "GAPI"\nwrap = "yes"', "tracks[0].curves[0].wrap: must be true or false"),
        ('unit = "GAPI"', 'unit = "GAPI"\nbackup = [150]', "tracks[0].curves[0].backup: must be [a, b], got [150]"),
        ('unit = "GAPI"', 'unit = "GAPI"\nbackup = 150', "tracks[0].curves[0].backup: must be [a, b]"),
        (
            'unit = "GAPI"',
            'unit = "GAPI"\nbackup = [150, "300"]',
            "tracks[0].curves[0].backup: must be a finite number",
        ),
        ('unit = "GAPI"', 'unit = "GAPI"\nbackup = [150, 150]', "tracks[0].curves[0].backup: both values are 150"),
        (
            'unit = "OHMM"',
            'unit = "OHMM"\nbackup = [0, 20]',
            "tracks[1].curves[0].backup: log scale needs values > 0, got [0, 20]",
        ),
        (
            'unit = "GAPI"',
            'unit = "GAPI"\nwrap = true\nbackup = [150, 300]',
            "tracks[0].curves[0].backup: given with wrap = true; declare one",
        ),
        ('unit = "GAPI"', 'unit = "GAPI"\nbackups = [150, 300]', 'did you mean "backup"?'),
        # well
        (
            "[depth]",
            '[well]\nSTRT = "1"\n[depth]',
            "well.STRT: is written by logdigit from the depth grid; remove it",
        ),
        ("[depth]", "[well]\nWELL = [1, 2]\n[depth]", "well.WELL: must be a string or a number"),
        ("[depth]", 'well = "x"\n[depth]', "well: must be a table"),
    ],
)
def test_every_mistake_is_one_line_naming_field_and_fix(tmp_path, old, new, expected):
    assert old in BASE
    message = _error(tmp_path, BASE.replace(old, new, 1))
    assert expected in message
    assert "; " in message  # every message ends with how to fix it


def test_missing_tracks_and_depth(tmp_path):
    assert "tracks: missing" in _error(tmp_path, BASE.split("[[tracks]]")[0])
    assert "depth: missing" in _error(tmp_path, "[[tracks]]" + BASE.split("[[tracks]]", 1)[1])


def test_missing_and_unreadable_files(tmp_path):
    missing = tmp_path / "nope.layout.toml"
    with pytest.raises(LayoutError, match=f"^{missing}: file not found; "):
        load_layout(missing)
    with pytest.raises(LayoutError, match="cannot read"):
        load_layout(tmp_path)
    bad = tmp_path / "bin.layout.toml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LayoutError, match="not UTF-8"):
        load_layout(bad)


def test_layout_error_is_an_input_error_and_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        _load(tmp_path, "")
    with pytest.raises(InputError):
        _load(tmp_path, "")


# --------------------------------------------------------------------------- find / check


def test_find_layout_is_the_sidecar(tmp_path):
    scan = tmp_path / "scan.tif"
    assert find_layout(scan) is None
    sidecar = tmp_path / "scan.layout.toml"
    sidecar.write_text(BASE)
    assert find_layout(scan) == sidecar
    assert find_layout(str(scan)) == sidecar


def test_check_layout_accepts_a_fitting_scan():
    layout = load_layout(EXAMPLE)
    check_layout(layout, (5000, 600, 3))
    check_layout(layout, (4501, 551))


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((5000, 550), "tracks[1].right: column 550 is outside the image (550 px wide: columns 0..549)"),
        ((5000, 200), "tracks[0].right: column 258 is outside the image"),
        ((4500, 600), "depth.rows: row 4500 is outside the image (4500 px tall: rows 0..4499)"),
    ],
)
def test_check_layout_refuses_what_lies_outside(shape, expected):
    layout = load_layout(EXAMPLE)
    with pytest.raises(LayoutError) as info:
        check_layout(layout, shape, path="scan.layout.toml")
    assert str(info.value).startswith(f"scan.layout.toml: {expected}")


def test_check_layout_only_warns_about_ties_outside(caplog):
    layout = replace(load_layout(EXAMPLE), depth=DepthSpec("FT", 0.5, ((10, 0.0), (9000, 100.0))))
    with caplog.at_level(logging.WARNING, logger="logdigit.io.layout"):
        check_layout(layout, (5000, 600))
    assert "depth.ties[1]: row 9000 is outside the image" in caplog.text


def test_check_layout_names_source_by_default_and_refuses_bad_shapes():
    layout = load_layout(EXAMPLE)
    with pytest.raises(LayoutError, match=f"^{EXAMPLE}: tracks"):
        check_layout(layout, (5000, 100))
    with pytest.raises(ValueError, match=r"shape must be \(H, W\)"):
        check_layout(layout, (5000,))


# --------------------------------------------------------------------------- writing


def test_round_trip_of_the_example(tmp_path):
    layout = load_layout(EXAMPLE)
    out = write_layout(layout, tmp_path / "copy.layout.toml")
    again = load_layout(out)
    assert again == layout
    assert again.source == str(out)  # provenance, not part of ==


def test_round_trip_of_awkward_strings_and_floats(tmp_path):
    curve = CurveSpec(
        "SP", -80.5, 19.25, unit="MV", line="dashed", color=(1, 2, 255), descr="Spont. \"pot\" \\ #~[x] 'y'"
    )
    layout = Layout(
        depth=DepthSpec("M", 0.1524, ((0.5, 100.0), (1e5, 3.5e4), (2e5, 7e4 - 1e-7)), rows=(0, 199_999)),
        tracks=(Track(0, 10, "linear", (curve,)),),
        well={"WELL": 'A "B" \\ C', "API#": "42", "COMP": "~A # [x] 1:2"},
    )
    text = layout_to_toml(layout)
    assert '"API#" = "42"' in text and "interpolate" not in text
    assert load_layout(write_layout(layout, tmp_path / "x.layout.toml")) == layout
    stretched = replace(layout, depth=replace(layout.depth, interpolate=True))
    assert "interpolate = true" in layout_to_toml(stretched)
    assert load_layout(write_layout(stretched, tmp_path / "y.layout.toml")) == stretched


def test_wrap_and_backup_load_and_round_trip(tmp_path):
    text = BASE.replace('unit = "GAPI"', 'unit = "GAPI"\nbackup = [150, 300]').replace(
        'unit = "OHMM"', 'unit = "OHMM"\nwrap = true'
    )
    layout = _load(tmp_path, text)
    gr, ild = layout.tracks[0].curves[0], layout.tracks[1].curves[0]
    assert (gr.wrap, gr.backup, ild.wrap, ild.backup) == (False, (150.0, 300.0), True, None)
    written = layout_to_toml(layout)
    assert "backup = [150, 300]\n" in written and "wrap = true\n" in written
    assert load_layout(write_layout(layout, tmp_path / "copy.layout.toml")) == layout
    plain = layout_to_toml(load_layout(EXAMPLE))
    assert "wrap" not in plain and "backup" not in plain  # nothing declared, nothing written


def test_layout_to_toml_of_the_example_is_plain():
    text = layout_to_toml(load_layout(EXAMPLE))
    assert "fill in" not in text
    assert "ties = [[1779, 1200.2], [4397, 3818.2]]\nrows = [1700, 4500]\n" in text
    assert 'color = "#00cc00"' in text
    assert 'line = "dotted"' in text  # kept apart from "dashed"


def test_layout_to_toml_refuses_a_flag_it_cannot_record():
    layout = load_layout(EXAMPLE)
    with pytest.raises(ValueError, match="disagrees with depth.unit"):
        layout_to_toml(replace(layout, calibrated=False))


def test_write_layout_is_atomic_and_leaves_no_temporary(tmp_path):
    write_layout(uncalibrated_layout([(0, 9)], 20), tmp_path / "a.layout.toml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.layout.toml"]


# --------------------------------------------------------------------------- drafts


def test_uncalibrated_layout_fields():
    layout = uncalibrated_layout([(10, 90), (100, 180)], 500)
    assert not layout.calibrated
    assert layout.depth == DepthSpec("PX", 1, ((0, 0), (499, 499)))
    assert [(t.left, t.right, t.scale) for t in layout.tracks] == [(10, 90, "linear"), (100, 180, "linear")]
    assert [c.mnemonic for t in layout.tracks for c in t.curves] == [
        "T1_SOLID",
        "T1_DASHED",
        "T2_SOLID",
        "T2_DASHED",
    ]
    assert all((c.left_value, c.right_value) == (0, 1) for t in layout.tracks for c in t.curves)
    assert [c.klass for c in layout.tracks[0].curves] == [1, 2]


def test_uncalibrated_layout_numbers_repeated_classes():
    layout = uncalibrated_layout([(0, 50)], 100, classes_per_track=[[1, 1, 2]])
    assert [c.mnemonic for c in layout.tracks[0].curves] == ["T1_SOLID1", "T1_SOLID2", "T1_DASHED"]


def test_draft_round_trips_and_says_what_to_fill_in(tmp_path):
    draft = uncalibrated_layout([(10, 90), (100, 180)], 500, classes_per_track=[[1], [2]])
    path = write_layout(draft, tmp_path / "scan.layout.toml")
    text = path.read_text()
    assert text.startswith("# Draft layout written by logdigit: NOT calibrated yet.")
    assert 'unit = "PX"  # fill in: "FT", "F" or "M"' in text
    assert "ties = [[0, 0], [499, 499]]  # fill in" in text
    assert "left_value = 0  # fill in: value at the left edge" in text
    assert load_layout(path) == draft


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (([(10, 90)], 1), {}, "n_rows must be an int >= 2"),
        (([], 100), {}, "tracks is empty"),
        (([(90, 10)], 100), {}, r"tracks\[0\] must have 0 <= left < right, got \(90, 10\)"),
        (([(1.5, 10)], 100), {}, "whole pixel columns"),
        (([(10, 90)], 100), {"classes_per_track": [[1], [2]]}, "2 entries for 1 tracks"),
        (
            ([(10, 90)], 100),
            {"classes_per_track": [[3]]},
            r"classes_per_track\[0\] must list classes from \[1, 2\]",
        ),
    ],
)
def test_uncalibrated_layout_refuses_bad_input(args, kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        uncalibrated_layout(*args, **kwargs)


GR_COPY = """
[[tracks.curves]]
mnemonic = "GRX"
left_value = 0
right_value = 30
"""


def test_copy_of_loads_round_trips_and_is_checked(tmp_path):
    text = BASE.replace("right_value = 150\n", "right_value = 150\n" + GR_COPY + 'copy_of = "GR"\n', 1)
    layout = _load(tmp_path, text)
    assert [c.copy_of for c in layout.tracks[0].curves] == ["", "GR"]
    assert 'copy_of = "GR"\n' in layout_to_toml(layout)
    assert load_layout(write_layout(layout, tmp_path / "again.layout.toml")) == layout
    assert "copy_of" not in layout_to_toml(load_layout(EXAMPLE))
    unknown = _error(tmp_path, text.replace('copy_of = "GR"', 'copy_of = "ILD"'))  # another track's curve
    assert "tracks[0].curves[1].copy_of" in unknown and "'ILD' is not another curve of this track" in unknown
    assert "name one of ['GR']" in unknown
    itself = _error(tmp_path, text.replace('copy_of = "GR"', 'copy_of = "GRX"'))
    assert "'GRX' is not another curve of this track" in itself
    chain = text.replace("right_value = 150\n", 'right_value = 150\ncopy_of = "GRX"\n', 1)
    assert "'GRX' is itself a copy of 'GR'" in _error(tmp_path, chain)
    wrapped = text.replace('copy_of = "GR"', 'copy_of = "GR"\nwrap = true')
    assert "copy_of: given with wrap or backup" in _error(tmp_path, wrapped)
