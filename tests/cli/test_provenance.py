"""The LAS records where it came from: lasio reads back every provenance item."""

from __future__ import annotations

import datetime
import hashlib
import shutil
from pathlib import Path

import lasio
from typer.testing import CliRunner

from logdigit import __version__
from logdigit.cli import app
from logdigit.model.weights import default_weights

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_las_provenance_reads_back_through_lasio(tmp_path):
    for name in ("colour.png", "colour.layout.toml"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    scan, lay = tmp_path / "colour.png", tmp_path / "colour.layout.toml"
    out = tmp_path / "colour.las"
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    result = CliRunner().invoke(app, ["infer", str(scan), "--layout", str(lay), "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    las = lasio.read(str(out))
    p = {item.mnemonic: item for item in las.params}
    assert p["PROG"].value == f"logdigit {__version__}"
    when = datetime.datetime.strptime(p["DIGDATE"].value, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    assert before <= when <= datetime.datetime.now(datetime.timezone.utc)
    assert p["SRC"].value == str(scan) and p["SRCSHA"].value == _sha(scan)
    assert p["DPI"].value == "200x200"
    assert p["MODEL"].value == default_weights().name and p["MODELSHA"].value == _sha(default_weights())
    assert p["MODELVER"].value == "0.1.0"
    assert p["LAYOUT"].value == str(lay) and p["LAYSHA"].value == _sha(lay)
    assert p["TIES"].value == "0=1200 1390=1547.5" and float(p["TIERES"].value) == 0.0
    assert "(" not in p["SETTINGS"].value and "None" not in p["SETTINGS"].value
    assert "thresholds=0.5,0.5" in p["SETTINGS"].value.split()
    assert all(item.descr.strip() for item in las.params), [i.mnemonic for i in las.params if not i.descr]
    descr = {c.mnemonic: c.descr for c in las.curves}
    assert descr["GR"] == "digitised from track 1, 0 to 150 GAPI linear, solid, ink #007878"
    assert descr["ILD"].startswith("digitised from track 2, 0.2 to 2000 OHMM log, solid")


def test_detected_layout_is_named_as_such(tmp_path):
    scan = tmp_path / "simple.jpg"
    shutil.copy(SAMPLES / "simple.jpg", scan)
    result = CliRunner().invoke(app, ["infer", str(scan), "-o", str(tmp_path / "s.las"), "--quiet"])
    assert result.exit_code == 0, result.output
    p = {item.mnemonic: item.value for item in lasio.read(str(tmp_path / "s.las")).params}
    assert p["LAYOUT"] == "detected from the scan" and p["LAYSHA"] == "none" and p["CALIB"] == "uncalibrated"
