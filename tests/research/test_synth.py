import json

import numpy as np
import pytest

from logdigit.research.synth import (
    CurvePlan,
    SheetPlan,
    TrackPlan,
    hard_labels,
    make_sheet,
    sheet_rng,
    write_dataset,
)


@pytest.fixture(scope="module")
def sheets():
    return [make_sheet(height=160, width=320, rng=sheet_rng("test", 5, i)) for i in range(4)]


def test_same_seed_same_sheet_bit_for_bit():
    a = make_sheet(height=128, width=300, rng=sheet_rng("train", 3, 7))
    b = make_sheet(height=128, width=300, rng=sheet_rng("train", 3, 7))
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.soft, b.soft) and np.array_equal(a.labels, b.labels)
    assert len(a.truth) == len(b.truth)
    for ta, tb in zip(a.truth, b.truth, strict=True):
        assert np.array_equal(ta.x, tb.x, equal_nan=True)
    assert a.layout == b.layout


def test_splits_and_seeds_draw_different_sheets():
    a = make_sheet(height=96, width=200, rng=sheet_rng("train", 0, 0))
    b = make_sheet(height=96, width=200, rng=sheet_rng("test", 0, 0))
    c = make_sheet(height=96, width=200, rng=sheet_rng("train", 1, 0))
    assert not np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)


def test_unknown_split_lists_valid_ones():
    with pytest.raises(ValueError, match="valid"):
        sheet_rng("holdout", 0, 0)


def test_soft_labels_are_fractions_summing_to_one(sheets):
    for s in sheets:
        assert s.soft.dtype == np.float32 and s.soft.shape == (3, *s.image.shape[:2])
        assert s.soft.min() >= 0 and s.soft.max() <= 1 + 1e-6
        np.testing.assert_allclose(s.soft.sum(0), 1.0, atol=1e-5)


def test_hard_label_is_argmax_of_soft_where_unambiguous(sheets):
    for s in sheets:
        top2 = np.sort(s.soft, axis=0)
        clear = top2[2] - top2[1] > 1e-6
        assert np.array_equal(s.labels[clear], s.soft.argmax(0)[clear])
        assert set(np.unique(s.labels)) <= {0, 1, 2}


def test_partial_volume_edges_exist(sheets):
    # Area-averaged rendering leaves fractional ink at line edges, not only 0 and 1.
    frac = sheets[0].soft[1:].sum(0)
    assert ((frac > 0.05) & (frac < 0.95)).sum() > 50


def test_hard_labels_ties_go_to_the_curve():
    soft = np.array([[[0.5, 0.2, 1.0]], [[0.0, 0.8, 0.0]], [[0.5, 0.0, 0.0]]], np.float32)
    assert hard_labels(soft).tolist() == [[2, 1, 0]]


def _planned(klass=1, width=8):
    plan = SheetPlan(
        tracks=(TrackPlan("linear", (CurvePlan("GR", klass, (0, 0, 0), "gr", 0, 150, "GAPI", width=width),)),)
    )
    return make_sheet(height=200, width=260, rng=11, plan=plan)


def test_curve_truth_matches_the_drawn_pixels():
    s = _planned()
    x = s.truth[0].x
    rows = np.arange(len(x))
    slope = np.abs(np.gradient(x))
    steady = np.isfinite(x) & (slope < 0.3)  # near-vertical rows: the row's ink is centred on the truth
    cols = np.arange(s.soft.shape[2])
    ink = s.soft[1]
    centroid = (ink * cols).sum(1) / ink.sum(1).clip(1e-9)
    assert steady.sum() > 30
    err = np.abs(centroid[steady] - x[steady])
    assert err.max() < 0.35, err.max()
    # Every true row has class-1 ink within 1.5 px of the true position.
    near = [ink[r, max(int(round(x[r])) - 2, 0) : int(round(x[r])) + 3].max() for r in rows[np.isfinite(x)]]
    assert min(near) > 0.2


def test_plan_fixes_tracks_curves_and_values():
    s = _planned(klass=2)
    (track,) = s.layout.tracks
    (curve,) = track.curves
    assert curve.mnemonic == "GR" and curve.unit == "GAPI" and curve.line == "dashed"
    assert s.truth[0].klass == 2
    assert (s.labels == 2).sum() > 0 and (s.labels == 1).sum() == 0
    assert np.isfinite(s.truth[0].x).all()


def test_dashed_curves_have_gaps_but_continuous_truth():
    s = _planned(klass=2)
    x = s.truth[0].x
    on = np.array(
        [s.soft[2, r, max(int(round(x[r])) - 2, 0) : int(round(x[r])) + 3].max() > 0.5 for r in range(len(x))]
    )
    assert 0.2 < on.mean() < 0.95  # dashes and gaps
    assert np.isfinite(x).all()


def test_write_dataset_round_trips(tmp_path):
    import cv2

    paths = write_dataset(tmp_path, n=2, seed=4, height=96, width=200)
    assert [p.name for p in paths] == ["00000.png", "00001.png"]
    sheet = make_sheet(height=96, width=200, rng=sheet_rng("test", 4, 1))
    img = cv2.imread(str(paths[1]))[..., ::-1]
    assert np.array_equal(img, sheet.image)
    assert np.array_equal(cv2.imread(str(tmp_path / "00001.labels.png"), cv2.IMREAD_UNCHANGED), sheet.labels)
    soft = np.load(tmp_path / "00001.soft.npz")["soft"]
    np.testing.assert_allclose(soft.astype(np.float32), sheet.soft, atol=1e-3)
    truth = json.loads((tmp_path / "00001.truth.json").read_text())
    assert len(truth["curves"]) == len(sheet.truth)


def test_too_small_sheet_is_refused():
    with pytest.raises(ValueError, match="at least"):
        make_sheet(height=10, width=10, rng=0)


def test_layouts_list_same_style_curves_left_to_right():
    """The documented order: infer hands out curves it cannot tell apart by colour in
    left-to-right order of their median column, so the generated layouts list them so."""
    seen_pairs = seen_dotted = 0
    for i in range(30):
        sheet = make_sheet(height=128, width=420, rng=sheet_rng("test", 9, i))
        truth = {t.mnemonic: t for t in sheet.truth}
        for t, track in enumerate(sheet.layout.tracks):
            assert {c.mnemonic for c in track.curves} == {m for m, x in truth.items() if x.track == t}
            for line in ("solid", "dashed", "dotted"):
                medians = [np.nanmedian(truth[c.mnemonic].x) for c in track.curves if c.line == line]
                assert medians == sorted(medians)
                seen_pairs += len(medians) > 1
                seen_dotted += line == "dotted" and len(medians) > 0
            for c in track.curves:  # each spec still describes its own truth curve
                assert c.klass == truth[c.mnemonic].klass
    assert seen_pairs >= 5 and seen_dotted >= 3  # the property was exercised
