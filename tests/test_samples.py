"""End to end on the shipped samples with the shipped weights, on CPU: the product's targets.

Each sample is digitised through the CLI exactly as a user would, then scored against its
true LAS: normalised mean absolute error <= 0.005 of track width for every curve, >= 98 %
of depth samples within 2 % of track width, coverage >= 99 %.
"""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from logdigit.cli import app
from logdigit.layout import load_layout
from logdigit.score import score

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
CASES = [("colour", "colour.png"), ("mono", "mono.tif"), ("simple", "simple.jpg")]


@pytest.mark.slow
@pytest.mark.parametrize(("stem", "scan"), CASES)
def test_sample_meets_targets(tmp_path, stem, scan):
    out = tmp_path / f"{stem}.las"
    r = CliRunner().invoke(app, ["infer", str(SAMPLES / scan), "-o", str(out), "--device", "cpu", "--quiet"])
    assert r.exit_code == 0, r.output
    layout = load_layout(SAMPLES / f"{stem}.layout.toml")
    report = score(out, SAMPLES / f"{stem}.truth.las", layout=layout)
    assert not report.missing_in_digitised, report.missing_in_digitised
    for c in report.curves:
        assert c.nmae <= 0.005, (c.mnemonic, c.nmae)
        assert c.within_2pct >= 0.98, (c.mnemonic, c.within_2pct)
        assert c.coverage >= 0.99, (c.mnemonic, c.coverage)


def test_samples_are_complete():
    for stem, scan in CASES:
        assert (SAMPLES / scan).is_file()
        assert (SAMPLES / f"{stem}.truth.las").is_file()
        lay = load_layout(SAMPLES / f"{stem}.layout.toml")
        assert lay.calibrated and lay.tracks
