"""benchmarks/layout_synth.py: its scoring by hand, and on a sheet stubbed by hand (printed
depth numbers at known rows) as the synthetic generator will hand it over."""

from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from tests.image.test_layout_scan import SECTION, TOP, _page

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "layout_synth.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("logdigit_bench_layout_synth", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stub(labels):
    """The page of tests/image/test_layout_scan.py: depth = 1000 + 0.5 * (row - TOP), a number every 100 rows."""
    curve = (CurveSpec("A", 0, 1),)
    tracks = (Track(20, 220, "linear", curve), Track(300, 500, "log", curve), Track(500, 700, "linear", curve))
    ties = ((float(TOP), 1000.0), (float(TOP + 100), 1050.0))
    meta = {} if labels is None else {"depth_labels": labels}
    return SimpleNamespace(image=_page(), layout=Layout(DepthSpec("FT", 0.5, ties), tracks), meta=meta)


def test_score_sheet_examples(bench):
    assert doctest.testmod(bench, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_score_sheet_counts_a_missing_or_extra_track(bench):
    got = bench.score_sheet([(20, 220, "linear")], (0.0, 1.0), [(20, 220, "linear"), (300, 500, "log")], [(0, 0)])
    assert got["tracks"] is False and got["ties"] is True and got["why"] == "1 tracks, not 2"


def test_a_stubbed_sheet_is_right(bench):  # with Tesseract where installed, else DigitNet alone
    labels = [(TOP + 100 * k, 1000.0 + 50 * k) for k in range(SECTION // 100)]
    got = bench.score_draft(_stub(labels), dpi=100)
    assert got["tracks"] and got["ties"], got
    assert got["border_px"] <= 1 and got["depth_err"] <= 0.5


def test_a_sheet_without_depth_numbers_fails_the_ties(bench):
    got = bench.score_draft(_stub(None), dpi=100, ocr=False)
    assert got["tracks"] is True and got["ties"] is False and got["why"] == "no depth labels on the sheet"


def test_read_numbers_scores_each_engine_by_hand():
    spec = importlib.util.spec_from_file_location("logdigit_bench_read_numbers", BENCH.parent / "read_numbers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from tests.model.test_digits import _hershey

    # two crops DigitNet reads exactly, and a third whose truth is one digit off what is printed
    found = [(_hershey("2350", 0.4), "2350", False), (_hershey("875", 0.4), "875", False)]
    found.append((_hershey("10450", 0.4), "10460", False))
    got = module.score(found)
    assert got["crops"] == 3
    assert got["digitnet"] == {"exact": round(2 / 3, 3), "mean_edits": round(1 / 3, 3)}
