"""threshold: tiny probability arrays written out in full."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.filters import apply_hysteresis_threshold

from logdigit.image.threshold import threshold


def _probs(solid, dashed, dtype=np.float32) -> np.ndarray:
    solid = np.array(solid, dtype=np.float64)
    dashed = np.array(dashed, dtype=np.float64)
    return np.stack([1 - solid - dashed, solid, dashed]).astype(dtype)


def test_golden_default_thresholds():
    probs = _probs(
        [[0.9, 0.5, 0.1, 0.0], [0.49, 0.2, 0.0, 0.3]],
        [[0.1, 0.0, 0.5, 0.2], [0.0, 0.51, 0.0, 0.3]],
    )
    masks = threshold(probs)
    assert masks.dtype == bool and masks.shape == (3, 2, 4)
    np.testing.assert_array_equal(masks[1], [[1, 1, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(masks[2], [[0, 0, 1, 0], [0, 1, 0, 0]])
    np.testing.assert_array_equal(masks[0], [[0, 0, 0, 1], [1, 0, 1, 1]])


def test_custom_thresholds_and_partition():
    probs = _probs([[0.35, 0.2, 0.45]], [[0.35, 0.4, 0.3]])
    masks = threshold(probs, thresholds=(0.3, 0.3))
    # (0, 0): tie -> solid; (0, 1): only dashed passes; (0, 2): both pass, solid more probable.
    np.testing.assert_array_equal(masks[1], [[1, 0, 1]])
    np.testing.assert_array_equal(masks[2], [[0, 1, 0]])
    np.testing.assert_array_equal(masks.sum(axis=0), np.ones((1, 3)))


def test_float16_accepted():
    probs = _probs([[0.75, 0.25]], [[0.0, 0.625]], dtype=np.float16)
    masks = threshold(probs)
    np.testing.assert_array_equal(masks[1], [[1, 0]])
    np.testing.assert_array_equal(masks[2], [[0, 1]])


def test_hysteresis_keeps_connected_faint_pixels():
    solid = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.3, 0.3, 0.9, 0.3, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.3],
        [0.3, 0.0, 0.0, 0.0, 0.0],
    ]
    probs = _probs(solid, np.zeros((4, 5)))
    masks = threshold(probs, hysteresis=(0.25, 0.8))
    np.testing.assert_array_equal(
        masks[1],
        [[0, 0, 0, 0, 0], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
    )
    assert not masks[2].any()


def test_hysteresis_8_connected_diagonal_line():
    diag = np.eye(6) * 0.3
    diag[0, 0] = 0.9
    probs = _probs(diag, np.zeros((6, 6)))
    masks = threshold(probs, hysteresis=((0.2, 0.8), (0.5, 0.9)))
    np.testing.assert_array_equal(masks[1], np.eye(6, dtype=bool))
    # skimage's version labels 4-connected and keeps only the one strong pixel.
    assert apply_hysteresis_threshold(diag, 0.2, 0.8).sum() == 1


def test_hysteresis_per_class():
    probs = _probs([[0.6, 0.7, 0.0]], [[0.0, 0.0, 0.6]])
    masks = threshold(probs, hysteresis=((0.5, 0.65), (0.5, 0.7)))
    np.testing.assert_array_equal(masks[1], [[1, 1, 0]])
    np.testing.assert_array_equal(masks[2], [[0, 0, 0]])


def test_probs_not_modified():
    probs = _probs([[0.9, 0.2]], [[0.0, 0.7]])
    before = probs.copy()
    threshold(probs, hysteresis=(0.1, 0.5))
    np.testing.assert_array_equal(probs, before)


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (np.zeros((2, 3, 3), np.float32), r"\(3, H, W\).*got shape \(2, 3, 3\)"),
        (np.zeros((3, 4), np.float32), r"got shape \(3, 4\)"),
        (np.zeros((3, 2, 2), np.float64), "float32 or float16.*got float64"),
        (np.zeros((3, 2, 2), np.uint8), "got uint8"),
        (np.full((3, 2, 2), np.nan, np.float32), "NaN"),
        (np.full((3, 2, 2), 3.0, np.float32), "apply softmax"),
        ([[[0.5]]], "numpy array"),
    ],
)
def test_bad_probs(probs, message):
    with pytest.raises(ValueError, match=message):
        threshold(probs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thresholds": (0.5,)}, "two numbers"),
        ({"thresholds": (0.0, 0.5)}, r"solid threshold must be in \(0, 1\]"),
        ({"thresholds": (0.5, 1.5)}, "dashed threshold"),
        ({"hysteresis": (0.6, 0.4)}, "low <= high"),
        ({"hysteresis": (0.1, 0.2, 0.3)}, "hysteresis must be"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        threshold(_probs([[0.5]], [[0.2]]), **kwargs)
