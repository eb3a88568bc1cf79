import numpy as np

from logdigit.research.metrics import boundary_band, calibration_bins, confusion, curve_errors, ece, tolerant_counts


def test_confusion_counts_by_hand():
    truth = np.array([[0, 1, 1], [2, 2, 0]])
    pred = np.array([[0, 1, 0], [2, 1, 0]])
    assert confusion(pred, truth).tolist() == [[2, 0, 0], [1, 1, 0], [0, 1, 1]]


def test_tolerant_counts_forgive_one_pixel_shifts():
    truth = np.zeros((5, 5), np.uint8)
    truth[:, 2] = 1
    pred = np.zeros_like(truth)
    pred[:, 3] = 1
    tp_p, n_p, tp_t, n_t = tolerant_counts(pred, truth, 1, tol=1)
    assert (tp_p, n_p, tp_t, n_t) == (5, 5, 5, 5)
    assert tolerant_counts(pred, truth, 1, tol=0)[0] == 0


def test_perfectly_confident_and_right_has_zero_ece():
    probs = np.zeros((3, 2, 2), np.float32)
    probs[0] = 1
    assert ece(calibration_bins(probs, np.zeros((2, 2), int))) == 0.0
    assert ece(calibration_bins(probs, np.ones((2, 2), int))) == 1.0


def test_boundary_band_of_a_line():
    labels = np.zeros((5, 7), np.uint8)
    labels[:, 3] = 1
    band = boundary_band(labels)
    assert band[:, 2:5].all() and not band[:, 0].any() and not band[:, 6].any()


def test_curve_errors_by_hand():
    r = curve_errors(np.array([10.0, 12.0, np.nan, 14.0]), np.array([10.0, 10.0, 10.0, np.nan]), 100.0)
    assert r["nmae"] == 0.01 and r["coverage"] == 2 / 3 and r["within2"] == 2 / 3 and r["n"] == 3
