"""The real-print pixel metrics (logdigit.research.realeval) on tiny arrays worked out by hand,
and benchmarks/evaluate_real.py skipping cleanly without the kit."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from logdigit.research.realeval import (
    centre_line_hits,
    classify_false,
    grid_lines,
    near_truth,
    score_section,
    truth_path,
)

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "evaluate_real.py"


def _masks(h: int, w: int, solid=(), dashed=()) -> np.ndarray:
    m = np.zeros((3, h, w), bool)
    for r, c in solid:
        m[1, r, c] = True
    for r, c in dashed:
        m[2, r, c] = True
    m[0] = ~(m[1] | m[2])
    return m


def test_section_scored_by_hand():
    # 4 rows x 20 columns, one track 2..17 with a ruling on column 2.
    # S (solid) at column 5 on every row, inked on every row.
    # D (dashed) at column 12 on every row, inked on rows 0, 1, 3 (row 2 is a dash gap).
    h, w = 4, 20
    image = np.full((h, w, 3), 255, np.uint8)
    image[:, 2] = 0
    image[:, 5] = 0
    image[[0, 1, 3], 12] = 0
    truth = {"S": np.full(h, 5.0), "D": np.full(h, 12.0)}
    masks = _masks(
        h,
        w,
        solid=[(0, 5), (1, 6), (2, 7), (3, 5), (1, 12), (1, 2)],
        dashed=[(0, 12), (3, 13), (0, 17)],
    )
    res = score_section(
        masks,
        image,
        truth,
        {"S": 1, "D": 2},
        [(2, 17)],
        curve_tracks={"S": (2, 17), "D": (2, 17)},
        text_height=8,
        grid_len=3,
    )
    r = res["recall"]
    # S: rows 0, 1, 3 held (row 2's pixel is 2 px off): 3 of 4, in its own class.
    # D: 3 inked rows; row 0 and 3 dashed, row 1 solid only: any 3 of 3, printed 2 of 3.
    assert res["points"] == {"ink rows": 7, "drawn rows": 8, "solid": 4, "dashed": 3, "at a border": 0}
    assert r["any"] == round(6 / 7, 4)
    assert r["printed"] == r["printed strict"] == round(5 / 7, 4)
    assert r["solid printed"] == 0.75 and r["dashed printed"] == round(2 / 3, 4)
    assert r["solid any"] == 0.75 and r["dashed any"] == 1.0
    assert r["any, every drawn row"] == 0.75  # D's dash gap on row 2 counts as a miss here
    assert r["any, within 1 px of a track border"] is None
    # 9 predicted pixels in the track; (0, 17) is 5 px from D and (1, 2) 3 px from S.
    assert res["predicted pixels"] == 9 and res["precision"] == round(7 / 9, 4)
    assert res["false pixels"] == {"total": 2, "grid": 1, "fill": 0, "text": 0, "curve ink": 0, "paper": 1}
    assert res["curves"]["D"] == {
        "class": 2,
        "drawn_rows": 4,
        "ink_rows": 3,
        "recall_any": 1.0,
        "recall_printed": round(2 / 3, 4),
    }


def test_coinciding_curves_share_the_class_on_top():
    # D (dashed) runs 1 px beside S (solid) and the ink on top is S's: the solid label counts
    # for D's printed class, not for its strict one. S lies within 1 px of the border at 3.
    h, w = 2, 10
    image = np.full((h, w, 3), 255, np.uint8)
    image[:, 4:6] = 0
    masks = _masks(h, w, solid=[(0, 4), (1, 4)])
    res = score_section(
        masks,
        image,
        {"S": np.full(h, 4.0), "D": np.full(h, 5.0)},
        {"S": 1, "D": 2},
        [(3, 9)],
        curve_tracks={"S": (3, 9), "D": (3, 9)},
        text_height=8,
        grid_len=3,
    )
    assert res["recall"]["printed"] == 1.0 and res["recall"]["printed strict"] == 0.5
    assert res["recall"]["any, within 1 px of a track border"] == 1.0
    assert res["points"]["at a border"] == 2 and res["precision"] == 1.0


def test_centre_line_hits_tolerance_is_inclusive():
    masks = _masks(1, 10, dashed=[(0, 6)])
    assert centre_line_hits(masks, np.array([5.0]), tol=1.0)[2].tolist() == [True]
    assert centre_line_hits(masks, np.array([4.9]), tol=1.0)[2].tolist() == [False]
    assert centre_line_hits(masks, np.array([np.nan]))[:, 0].tolist() == [False, False, False]


def test_centre_line_hits_refuses_mismatched_rows():
    with pytest.raises(ValueError, match=r"cols must be \(3,\)"):
        centre_line_hits(_masks(3, 5), np.zeros(4))


def test_truth_path_joins_a_sweep_but_not_a_wrap():
    sweep = np.array([2.0, 17.0])  # 15 px in one row, over half of a 20-px track
    joined = truth_path((2, 20), [(sweep, 20.0, np.zeros(2, bool))])
    assert joined.sum() == 16  # every column 2..17 on one of the two rows
    wrapped = truth_path((2, 20), [(sweep, 20.0, np.ones(2, bool))])
    assert wrapped.sum() == 2


def test_near_truth_is_euclidean():
    path = np.zeros((5, 5), bool)
    path[2, 2] = True
    near = near_truth(path, tol=2.0)
    assert near[0, 2] and near[2, 0] and not near[0, 0]  # (2, 2) to (0, 0) is 2.83 px


def test_grid_lines_keep_rulings_not_diagonal_curves():
    ink = np.zeros((12, 12), bool)
    ink[:, 0] = True
    ink[np.arange(12), np.arange(12)] = True
    assert grid_lines(ink, min_len=6)[:, 0].all() and grid_lines(ink, min_len=6).sum() == 12


def test_classify_false_prefers_grid_then_fill_then_text():
    z = np.zeros((30, 12), bool)
    ink, tint, grid = z.copy(), z.copy(), z.copy()
    grid[:, 0] = ink[:, 0] = True
    tint[5:30, 2:11] = True  # a flag's fill 25 rows tall touching the ruling's neighbourhood
    false = z.copy()
    false[10, 1] = True  # beside the ruling and the fill: grid first
    false[20, 6] = True
    got = classify_false(false, ink=ink, tint=tint, grid=grid, curve=z, text_height=8)
    assert got == {"grid": 1, "fill": 1, "text": 0, "curve ink": 0, "paper": 0}


def test_benchmark_skips_without_the_kit(tmp_path):
    spec = importlib.util.spec_from_file_location("logdigit_bench_evaluate_real", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    with redirect_stdout(out):
        assert module.main(["--kit", str(tmp_path / "absent"), "--doc", str(tmp_path / "r.md")]) == 0
    assert out.getvalue().startswith("skipped:") and not (tmp_path / "r.md").exists()
