"""Hostile header fields and hostile text in messages (issue 20, part B).

LAS header fields that would mislabel, lose or garble curves are refused at layout load
(one line naming the file, the key and the fix) and by ``to_las``; every field LAS 2.0
can hold round-trips through the writer, lasio and ``read_las``; ``read_las`` decodes the
same way everywhere; messages holding ``[...]`` are printed as given, in infer and batch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import lasio
import numpy as np
import pytest
from typer.testing import CliRunner

from logdigit.calibrate import Curve, Curves
from logdigit.cli import app
from logdigit.errors import LayoutError
from logdigit.io.las import read_las, to_las, write_las
from logdigit.io.layout import DepthSpec, Layout, load_layout

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
GOOD = (SAMPLES / "simple.layout.toml").read_text()
PRINTABLE = [chr(c) for c in range(32, 127)]


def _run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _error_line(result) -> str:
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception)
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _scan_dir(tmp_path: Path, layout_text: str = GOOD) -> Path:
    shutil.copy(SAMPLES / "simple.jpg", tmp_path / "simple.jpg")
    (tmp_path / "simple.layout.toml").write_text(layout_text, encoding="utf-8")
    return tmp_path / "simple.jpg"


# --------------------------------------------------------------------------- layout fields

_WELL = '[well]\nWELL = "SAMPLE SIMPLE 3"\n'


def _edit(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


BAD_FIELDS = [
    # (edit of the sample layout, the field named, a word of what arrived)
    (_edit('mnemonic = "GR"', 'mnemonic = "#GR"'), "tracks[0].curves[0].mnemonic", "#GR"),
    (_edit('mnemonic = "GR"', 'mnemonic = "~A"'), "tracks[0].curves[0].mnemonic", "~A"),
    (_edit('mnemonic = "GR"', 'mnemonic = "GRé"'), "tracks[0].curves[0].mnemonic", "GRé"),
    (_edit('mnemonic = "GR"', "mnemonic = '\"GR'"), "tracks[0].curves[0].mnemonic", '"GR'),
    (_edit('mnemonic = "RT"', 'mnemonic = "R\\tT"'), "tracks[1].curves[0].mnemonic", "\\t"),
    (_edit('unit = "GAPI"', 'unit = "GAPI:API"'), "tracks[0].curves[0].unit", "GAPI:API"),
    (_edit('unit = "GAPI"', 'unit = "GAPI."'), "tracks[0].curves[0].unit", "GAPI."),
    (_edit('unit = "GAPI"', 'unit = ".GAPI"'), "tracks[0].curves[0].unit", ".GAPI"),
    (_edit('unit = "GAPI"', 'unit = "µS/m"'), "tracks[0].curves[0].unit", "µS/m"),
    (_edit('unit = "GAPI"', 'unit = "GAPI"\ndescr = "Gamma ray: natural"'), "tracks[0].curves[0].descr", "Gamma"),
    (_edit('unit = "GAPI"', 'unit = "GAPI"\ndescr = "Gammastrahlung à"'), "tracks[0].curves[0].descr", "à"),
    (_edit('unit = "GAPI"', 'unit = "GAPI"\ndescr = "Gamma "'), "tracks[0].curves[0].descr", "spaces"),
    (_edit(_WELL, _WELL + '"~A" = "x"\n'), "well.~A", "~A"),
    (_edit(_WELL, _WELL + '"#C" = "x"\n'), "well.#C", "#C"),
    (_edit(_WELL, _WELL + '"CÖ" = "x"\n'), "well.CÖ", "CÖ"),
    (_edit(_WELL, _WELL + 'COMP = "Müller AG"\n'), "well.COMP", "ü"),
    (_edit(_WELL, _WELL + 'COMP = " ACME"\n'), "well.COMP", "spaces"),
]


@pytest.mark.parametrize(("edit", "field", "arrived"), BAD_FIELDS)
def test_layout_refuses_header_fields_las_cannot_hold(tmp_path, edit, field, arrived):
    path = tmp_path / "x.layout.toml"
    path.write_text(edit(GOOD), encoding="utf-8")
    with pytest.raises(LayoutError) as info:
        load_layout(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: {field}: ") and arrived in msg, msg
    assert msg.count(";") >= 1 and msg.rsplit(";", 1)[1].strip(), msg  # ... ; the fix


@pytest.mark.parametrize(("edit", "field", "arrived"), BAD_FIELDS[:4] + BAD_FIELDS[9:10] + BAD_FIELDS[12:13])
def test_infer_refuses_them_in_one_line_before_writing(tmp_path, edit, field, arrived):
    scan = _scan_dir(tmp_path, edit(GOOD))
    r = _run("infer", scan, "--device", "cpu")
    assert r.exit_code == 2, r.output
    line = _error_line(r)
    assert "simple.layout.toml" in line and field in line and arrived in line, line
    assert not (tmp_path / "simple.las").exists()


@pytest.mark.parametrize(
    ("curve", "well", "match"),
    [
        (Curve("#GR", "GAPI", np.zeros(2)), {}, "comment"),
        (Curve("~A", "GAPI", np.zeros(2)), {}, "section"),
        (Curve("GRé", "GAPI", np.zeros(2)), {}, "not printable ASCII"),
        (Curve("GR", "GAPI", np.zeros(2), "Gamma: API"), {}, "colon"),
        (Curve("GR", "A B", np.zeros(2)), {}, "one word"),
        (Curve("GR", "GAPI", np.zeros(2)), {"~A": "x"}, "section"),
        (Curve("GR", "GAPI", np.zeros(2)), {"WELL": "Müller 1"}, "not printable ASCII"),
    ],
)
def test_to_las_refuses_them_for_library_callers(curve, well, match):
    curves = Curves(np.array([1.0, 1.5]), "FT", 0.5, (curve,))
    with pytest.raises(ValueError, match=match):
        to_las(curves, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), (), well=well))


# --------------------------------------------------------------------------- round trip


def _chunks(chars: list[str], size: int) -> list[str]:
    return ["".join(chars[i : i + size]) for i in range(0, len(chars), size)]


def _allowed_fields():
    """Mnemonics, units, descriptions and [well] items that use every character allowed there."""
    mnem_chars = [c for c in PRINTABLE if c not in " .:"]
    mnemonics = [f"M{i}{chunk}" for i, chunk in enumerate(_chunks(mnem_chars, 12))]
    unit_chars = [c for c in PRINTABLE if c not in " :."]
    units = [f"U{chunk}" for chunk in _chunks(unit_chars, 12)]
    units[0] = "A.B/C.D"  # periods inside a unit
    units[1] = "1000"  # digits only
    descr_chars = [c for c in PRINTABLE if c != ":"]
    descrs = ["D " + chunk.strip() + " E" for chunk in _chunks(descr_chars, 13)]
    descrs[2] = ""
    # Well values: every printable character, colons included, each value non-numeric.
    values = ["v " + chunk + " w" for chunk in _chunks(PRINTABLE, 11)]
    values.append("".join(PRINTABLE).strip())  # one long value of the whole set
    keys = [f"K{i}{chunk}" for i, chunk in enumerate(_chunks(mnem_chars, 10))]
    well = dict(zip(keys, values, strict=False))
    n = len(mnemonics)
    return mnemonics, (units * n)[:n], (descrs * n)[:n], well


def test_every_allowed_header_field_round_trips(tmp_path):
    mnemonics, units, descrs, well = _allowed_fields()
    assert len(set(well)) == len(well) >= 8 and len(mnemonics) >= 7
    curves = Curves(
        np.array([100.0, 100.5, 101.0]),
        "FT",
        0.5,
        tuple(Curve(m, u, np.array([1.0, np.nan, 3.0]), d) for m, u, d in zip(mnemonics, units, descrs, strict=True)),
    )
    layout = Layout(DepthSpec("FT", 0.5, ((0, 100), (2, 101))), (), well=well)
    meta = {"SRC": "Bohrung Müller: 3 [alt].png", "MODEL": "v:1"}
    path = tmp_path / "all.las"
    write_las(to_las(curves, layout, meta=meta), path)
    text = path.read_bytes().decode("ascii")  # the header is printable ASCII throughout
    assert all(32 <= ord(c) <= 126 for line in text.splitlines() for c in line)
    for las in (lasio.read(path), read_las(path)):
        got = [(c.mnemonic, c.unit, c.descr) for c in las.curves][1:]
        want = [(m.upper(), u, d) for m, u, d in zip(mnemonics, units, descrs, strict=True)]
        assert got == want  # lasio reads mnemonics upper-cased by default
        for key, value in well.items():
            assert las.well[key.upper()].value == value, key
        assert las.params["SRC"].value == "Bohrung M\\xfcller\\x3a 3 [alt].png"
        assert las.params["MODEL"].value == "v\\x3a1"
        assert np.array_equal(las.curves[1].data, [1.0, np.nan, 3.0], equal_nan=True)


def test_read_las_decodes_utf8_and_latin1_alike(tmp_path):
    # LAS files from other programs: a truth LAS with a well name in UTF-8, and one in Latin-1.
    curves = Curves(np.array([1.0, 1.5]), "FT", 0.5, (Curve("GR", "GAPI", np.zeros(2), "Gamma"),))
    layout = Layout(DepthSpec("FT", 0.5, ((0, 1), (1, 1.5))), (), well={"WELL": "MARKER"})
    write_las(to_las(curves, layout), tmp_path / "a.las")
    text = (tmp_path / "a.las").read_text().replace("MARKER", "Müller-Lüdenscheid 1").replace("Gamma", "Gammé")
    for encoding in ("utf-8", "latin-1", "utf-8-sig"):
        (tmp_path / "b.las").write_bytes(text.encode(encoding))
        las = read_las(tmp_path / "b.las")
        assert las.well["WELL"].value == "Müller-Lüdenscheid 1", encoding
        assert las.curves["GR"].descr == "Gammé", encoding


# --------------------------------------------------------------------------- markup


def test_brackets_in_a_missing_scan_path_are_printed_as_given(tmp_path):
    (tmp_path / "x[").mkdir()
    r = _run("infer", tmp_path / "x[" / "].png", "--device", "cpu")
    assert r.exit_code == 2, (r.output, r.exception)
    assert str(tmp_path / "x[" / "].png") in _error_line(r)


def test_fix_hints_keep_their_brackets(tmp_path):
    cases = [
        (_edit("ties = [[0, 850], [990, 1180]]", "ties = [[0, 850]]"), ["[row, depth]", "[[row, depth], "]),
        (lambda t: "tracks = []\n" + t.split("[[tracks]]")[0], ["[[tracks]]"]),
        (_edit(_WELL, _WELL + "STRT = 3\n"), ["[well]"]),
        (_edit("[depth]", "[depth"), ["Expected ']'"]),
    ]
    for edit, needles in cases:
        scan = _scan_dir(tmp_path, edit(GOOD))
        r = _run("infer", scan, "--device", "cpu")
        line = _error_line(r)
        assert r.exit_code == 2 and all(n in line for n in needles), line


def test_layout_command_message_keeps_brackets(tmp_path):
    (tmp_path / "d [").mkdir()
    shutil.copy(SAMPLES / "simple.jpg", tmp_path / "d [" / "s].jpg")
    r = _run("layout", tmp_path / "d [" / "s].jpg")
    assert r.exit_code == 0, (r.output, r.exception)
    assert "[[tracks.curves]] entry" in r.stderr and str(tmp_path / "d [" / "s].layout.toml") in r.stderr


def test_a_scan_path_with_brackets_is_digitised_and_reported(tmp_path):
    folder = tmp_path / "x["
    folder.mkdir()
    shutil.copy(SAMPLES / "simple.jpg", folder / "].jpg")
    shutil.copy(SAMPLES / "simple.layout.toml", folder / "].layout.toml")
    r = _run("infer", folder / "].jpg", "--device", "cpu")
    assert r.exit_code == 0, (r.output, r.exception)
    assert f"{folder / '].jpg'} -> {folder / '].las'}: 3 curves" in r.stderr
    assert (folder / "].las").is_file()


def _bracket_archive(tmp_path: Path) -> tuple[Path, Path]:
    """A scan under ``old [`` whose sidecar layout is broken TOML, and a good scan."""
    old = tmp_path / "old ["
    old.mkdir()
    shutil.copy(SAMPLES / "simple.jpg", old / "bad.jpg")
    (old / "bad.layout.toml").write_text(GOOD.replace("[depth]", "[depth", 1))
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(SAMPLES / "simple.jpg", good / "simple.jpg")
    shutil.copy(SAMPLES / "simple.layout.toml", good / "simple.layout.toml")
    return old, good


def test_batch_reports_a_failure_under_a_bracket_folder_and_goes_on(tmp_path, monkeypatch):
    # The cluster is replaced by the same per-scan work run in this process, in input
    # order (the failing scan first); the CLI's reporting is what is tested here.
    import cv2
    import torch

    from logdigit import batch as lb

    def in_process(plan, *, options=None, workers=None, scheduler=None, torch_threads=None):
        threads = (torch.get_num_threads(), cv2.getNumThreads())
        try:
            for job in plan.jobs:
                yield lb.worker.digitise_job(job, options, plan.settings, threads[0])
        finally:
            torch.set_num_threads(threads[0])
            cv2.setNumThreads(threads[1])

    monkeypatch.setattr(lb, "iter_batch", in_process)
    old, good = _bracket_archive(tmp_path)
    out = tmp_path / "out"
    r = _run("batch", old / "bad.jpg", good / "simple.jpg", "--outdir", out, "--device", "cpu")
    assert r.exit_code == 1, (r.output, r.exception)
    failed = [line for line in r.stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and f"{old / 'bad.layout.toml'}: line 4: invalid TOML (Expected ']'" in failed[0]
    assert (out / "simple.las").is_file() and not (out / "bad.las").exists()


@pytest.mark.slow
def test_batch_on_a_real_cluster_goes_on_after_a_bracket_failure(tmp_path):
    old, good = _bracket_archive(tmp_path)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "logdigit.cli",
        "batch",
        str(old),
        str(good),
        "--outdir",
        str(out),
        "--workers",
        "1",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "invalid TOML (Expected ']'" in proc.stderr
    assert (out / "simple.las").is_file() and not (out / "bad.las").exists()


def test_tables_print_cells_as_given():
    from rich.console import Console

    from logdigit.cli.options import plain, say

    console = Console(record=True, width=200)
    say(console, "a [/] b [bold]c[/bold] [[tracks]]", label="error:", style="bold red")
    from rich.table import Table

    table = Table(title=plain("x[/].las vs [depth]"))
    table.add_column("a wide column for the whole title")
    table.add_row(plain("[/]"))
    console.print(table)
    text = console.export_text()
    assert "error: a [/] b [bold]c[/bold] [[tracks]]" in text
    assert "x[/].las vs [depth]" in text and "│ [/] " in text
