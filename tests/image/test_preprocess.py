"""preprocess: network input scaling, skew estimation, deskew and layout mapping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from logdigit.errors import InputError
from logdigit.image.preprocess import deskew, estimate_skew, map_layout, to_model_input, unmap_points
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track


def _grid_sheet(h: int = 500, w: int = 360) -> np.ndarray:
    """Upright log-like sheet: heavy track borders, light grid, a curve and some text."""
    img = np.full((h, w, 3), 255, np.uint8)
    for x in range(30, w - 20, 25):
        cv2.line(img, (x, 0), (x, h - 1), (170, 170, 170), 1)
    for y in range(15, h, 25):
        cv2.line(img, (0, y), (w - 1, y), (170, 170, 170), 1)
    for x in (30, 180, 330):
        cv2.line(img, (x, 0), (x, h - 1), (0, 0, 0), 3)
    ys = np.arange(h)
    curve = np.stack([100 + 40 * np.sin(ys / 30), ys], axis=1).astype(np.int32)
    cv2.polylines(img, [curve], False, (0, 0, 0), 2)
    cv2.putText(img, "GR 0-150", (190, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    return img


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))


# --------------------------------------------------------------------------- to_model_input


def test_to_model_input_golden():
    image = np.array([[[0, 51, 255], [255, 255, 255]]], np.uint8)  # (1, 2, 3)
    x = to_model_input(image)
    assert x.shape == (3, 1, 2) and x.dtype == np.float32 and not np.shares_memory(x, image)
    np.testing.assert_allclose(x[:, 0, 0], [0.0, 0.2, 1.0], atol=1e-7)
    np.testing.assert_allclose(x[:, 0, 1], [1.0, 1.0, 1.0])


def test_to_model_input_does_not_touch_input():
    image = np.full((4, 5, 3), 7, np.uint8)
    to_model_input(image)
    assert (image == 7).all()


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 5), np.uint8), np.zeros((4, 5, 3), np.float32), np.zeros((4, 5, 4), np.uint8)]
)
def test_to_model_input_rejects(bad):
    with pytest.raises(InputError, match=r"uint8 \(H, W, 3\).*got"):
        to_model_input(bad)


# --------------------------------------------------------------------------- skew


@pytest.mark.parametrize("angle", [1.5, -2.0, 0.4])
def test_estimate_skew_recovers_rotation(angle):
    estimate = estimate_skew(_rotate(_grid_sheet(), angle))
    assert abs(estimate - angle) < 0.1


def test_estimate_skew_upright_is_zero():
    assert abs(estimate_skew(_grid_sheet())) < 0.02


def test_estimate_skew_unsure_is_zero():
    assert estimate_skew(np.full((50, 60, 3), 255, np.uint8)) == 0.0
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    assert estimate_skew(noise) == 0.0


def test_estimate_skew_grey_input_and_bad_range():
    grey = cv2.cvtColor(_rotate(_grid_sheet(), 1.0), cv2.COLOR_RGB2GRAY)
    assert abs(estimate_skew(grey) - 1.0) < 0.1
    with pytest.raises(ValueError, match="max_angle"):
        estimate_skew(grey, max_angle=0)


def test_deskew_straightens_and_keeps_size():
    skewed = _rotate(_grid_sheet(), 1.5)
    before = skewed.copy()
    straight, affine = deskew(skewed, 1.5)
    assert straight.shape == skewed.shape and straight.dtype == np.uint8
    np.testing.assert_array_equal(skewed, before)
    assert abs(estimate_skew(straight)) < 0.05
    assert affine.shape == (2, 3) and affine.dtype == np.float64
    # The heavy border at column 30 is vertical again: dark at both ends of the page.
    col = straight[:, 28:33].min(axis=1)
    assert col[20:-20].max() < 100


def test_deskew_zero_is_identity_copy():
    img = _grid_sheet(40, 30)
    out, affine = deskew(img, 0.0)
    assert out is not img
    np.testing.assert_array_equal(out, img)
    np.testing.assert_array_equal(affine, [[1, 0, 0], [0, 1, 0]])


def test_deskew_in_strips_matches_one_warp():
    img = _grid_sheet(300, 200)
    whole, affine = deskew(img, 2.0)
    strips, _ = deskew(img, 2.0, strip_rows=37)
    assert np.abs(whole.astype(int) - strips).max() <= 1
    direct = cv2.warpAffine(img, affine, (200, 300), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    assert np.abs(direct.astype(int) - strips).max() <= 1


def test_deskew_rejects_large_angle():
    with pytest.raises(ValueError, match="angle"):
        deskew(_grid_sheet(20, 20), 90.0)


# --------------------------------------------------------------------------- layout mapping


def _layout(rows=(100, 200)) -> Layout:
    curve = CurveSpec("GR", 0, 150)
    return Layout(
        DepthSpec("FT", 0.5, ((100.0, 1000.0), (200.0, 1010.0)), rows=rows),
        (Track(30, 180, curves=(curve,)), Track(180, 260)),
    )


def test_map_layout_undoes_rotation():
    h, w, angle = 500, 360, 1.5
    skew = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)  # upright -> skewed scan
    upright = _layout()
    y_mid, x_mid = 150.0, 145.0  # middle of the digitised rows and of the tracks

    def to_skewed(x, y):
        return skew @ np.array([x, y, 1.0])

    # What a person reads off the skewed scan: edges at the middle row, ties at the middle column.
    measured = Layout(
        DepthSpec(
            "FT",
            0.5,
            tuple((float(to_skewed(x_mid, r)[1]), d) for r, d in upright.depth.ties),
            rows=tuple(int(round(to_skewed(x_mid, r)[1])) for r in upright.depth.rows),
        ),
        tuple(
            Track(int(round(to_skewed(t.left, y_mid)[0])), int(round(to_skewed(t.right, y_mid)[0])), curves=t.curves)
            for t in upright.tracks
        ),
    )
    assert measured.tracks[0].left == upright.tracks[0].left - 3  # the skew moved it
    copy = Layout(measured.depth, measured.tracks)
    _, affine = deskew(np.full((h, w, 3), 255, np.uint8), angle)
    mapped = map_layout(measured, affine)
    assert measured == copy
    for got, want in zip(mapped.tracks, upright.tracks, strict=True):
        assert abs(got.left - want.left) <= 1 and abs(got.right - want.right) <= 1
        assert got.curves == want.curves
    for (row, depth), (want_row, want_depth) in zip(mapped.depth.ties, upright.depth.ties, strict=True):
        assert abs(row - want_row) < 1.0 and depth == want_depth
    assert all(abs(a - b) <= 1 for a, b in zip(mapped.depth.rows, upright.depth.rows, strict=True))


def test_map_layout_clips_rows_into_image():
    _, affine = deskew(np.full((500, 360, 3), 255, np.uint8), 3.0)
    mapped = map_layout(_layout(rows=(0, 499)), affine)
    assert mapped.depth.rows[0] >= 0 and mapped.depth.rows[1] <= 499
    explicit = map_layout(_layout(rows=(0, 499)), affine, shape=(500, 360))
    assert explicit.depth.rows == mapped.depth.rows


def test_unmap_points_inverts_affine():
    _, affine = deskew(np.full((100, 80, 3), 255, np.uint8), 2.0)
    x, y = np.array([10.0, 40.0, np.nan]), np.array([5.0, 90.0, 3.0])
    fx = affine[0, 0] * x + affine[0, 1] * y + affine[0, 2]
    fy = affine[1, 0] * x + affine[1, 1] * y + affine[1, 2]
    bx, by = unmap_points(fx, fy, affine)
    np.testing.assert_allclose(bx[:2], x[:2], atol=1e-9)
    np.testing.assert_allclose(by[:2], y[:2], atol=1e-9)
    assert np.isnan(bx[2])


def test_bad_affine():
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        unmap_points(1.0, 2.0, np.eye(3))
