"""detect_layout: synthetic log sheets drawn with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from logdigit.errors import InputError, LayoutError
from logdigit.image.detect import detect_layout

TRACKS = [(20, 220), (280, 480), (480, 680)]  # depth column 220..280 between tracks 1 and 2
BORDERS = (20, 220, 280, 480, 680)


def _sheet(h=800, w=700, *, grid=True, border_thickness=3, grid_grey=185) -> np.ndarray:
    """Three tracks with heavy black borders, a light grid inside, depth numbers, two curves."""
    img = np.full((h, w, 3), 255, np.uint8)
    if grid:
        for left, right in TRACKS:
            for x in range(left + 20, right, 20):
                cv2.line(img, (x, 0), (x, h - 1), (grid_grey,) * 3, 1)
            for y in range(0, h, 20):
                cv2.line(img, (left, y), (right, y), (grid_grey,) * 3, 1)
    for x in BORDERS:
        cv2.line(img, (x, 0), (x, h - 1), (0, 0, 0), border_thickness)
    for y in range(50, h, 100):
        cv2.putText(img, str(1000 + y), (226, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    ys = np.arange(h)
    for centre, amp, period, colour in ((120, 60, 40, (0, 0, 0)), (380, 80, 70, (200, 0, 0))):
        pts = np.stack([centre + amp * np.sin(ys / period), ys], axis=1).astype(np.int32)
        cv2.polylines(img, [pts], False, colour, 2)
    return img


def _edges(layout):
    return [(t.left, t.right) for t in layout.tracks]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"grid": False}, {"border_thickness": 2}, {"grid_grey": 120}, {"h": 3000}],
)
def test_finds_three_tracks_within_2px(kwargs):
    layout = detect_layout(_sheet(**kwargs))
    found = _edges(layout)
    assert len(found) == 3
    for (left, right), (want_left, want_right) in zip(found, TRACKS, strict=True):
        assert abs(left - want_left) <= 2 and abs(right - want_right) <= 2


def test_uncalibrated_layout_contents():
    image = _sheet()
    before = image.copy()
    layout = detect_layout(image)
    np.testing.assert_array_equal(image, before)
    assert layout.calibrated is False
    assert layout.depth.unit == "PX" and layout.depth.step == 1.0
    assert layout.depth.ties == ((0, 0), (799, 799))
    assert [c.mnemonic for c in layout.tracks[0].curves] == ["T1_SOLID", "T1_DASHED"]
    assert [c.klass for c in layout.tracks[2].curves] == [1, 2]
    curve = layout.tracks[1].curves[0]
    assert (curve.left_value, curve.right_value) == (0.0, 1.0)


def test_grey_input_and_tall_scan():
    tall = cv2.resize(_sheet(), (700, 20000), interpolation=cv2.INTER_NEAREST)
    grey = cv2.cvtColor(tall, cv2.COLOR_RGB2GRAY)
    assert _edges(detect_layout(grey)) == TRACKS


def test_tolerates_slight_skew_on_a_tall_scan():
    tall = cv2.resize(_sheet(), (700, 6000), interpolation=cv2.INTER_NEAREST)
    m = cv2.getRotationMatrix2D((349.5, 2999.5), 0.1, 1.0)  # borders drift 10 px top to bottom
    skewed = cv2.warpAffine(tall, m, (700, 6000), borderValue=(255, 255, 255))
    for (left, right), (want_left, want_right) in zip(_edges(detect_layout(skewed)), TRACKS, strict=True):
        assert abs(left - want_left) <= 2 and abs(right - want_right) <= 2


def test_depth_column_without_grid_is_not_a_track_even_if_wide():
    # Widen the depth column (no grid in it) to 100 px: still not a track on a gridded sheet.
    img = np.full((600, 760, 3), 255, np.uint8)
    for left, right in ((20, 220), (320, 520), (520, 720)):
        for x in range(left + 20, right, 20):
            cv2.line(img, (x, 0), (x, 599), (180, 180, 180), 1)
    for x in (20, 220, 320, 520, 720):
        cv2.line(img, (x, 0), (x, 599), (0, 0, 0), 3)
    assert _edges(detect_layout(img)) == [(20, 220), (320, 520), (520, 720)]


def test_blank_page_raises():
    with pytest.raises(LayoutError, match="found no tracks.*layout file"):
        detect_layout(np.full((100, 100, 3), 255, np.uint8))


def test_short_lines_are_not_borders():
    img = np.full((600, 300, 3), 255, np.uint8)
    cv2.line(img, (50, 0), (50, 100), (0, 0, 0), 3)  # a tick, not a ruling
    cv2.line(img, (250, 0), (250, 599), (0, 0, 0), 3)
    with pytest.raises(LayoutError, match=r"1 long vertical ruling\(s\)"):
        detect_layout(img)


def test_bad_input():
    with pytest.raises(InputError, match=r"uint8 \(H, W, 3\).*got \(5, 5, 3\) float32"):
        detect_layout(np.zeros((5, 5, 3), np.float32))


def test_linear_track_beside_log_track_splits_at_a_border_no_heavier_than_the_grid():
    img = np.full((600, 460, 3), 250, np.uint8)
    for r in range(0, 600, 25):  # depth rulings across both tracks
        img[r, 20:421] = 120
    for k in range(11):  # linear track 20..220, 10 divisions; its right border is a grid line
        img[:, 20 + 20 * k] = 60
    for d in range(2):  # log track 220..420, 2 decades
        for m in range(1, 11):
            img[:, int(round(220 + 100 * (d + np.log10(m))))] = 60
    img[:, 19:22] = img[:, 419:422] = 0  # the outer borders are heavy
    assert [(t.left, t.right) for t in detect_layout(img).tracks] == [(20, 220), (220, 420)]


@pytest.mark.parametrize("stem", ["colour", "mono", "simple"])
def test_every_sample_track_is_found(stem):
    from pathlib import Path

    from logdigit.io.layout import load_layout
    from logdigit.io.scan import read_scan

    samples = Path(__file__).resolve().parents[2] / "samples"
    scan = next(p for p in samples.glob(f"{stem}.*") if p.suffix in (".png", ".tif", ".jpg"))
    found = [(t.left, t.right) for t in detect_layout(read_scan(scan).image).tracks]
    truth = [(t.left, t.right) for t in load_layout(samples / f"{stem}.layout.toml").tracks]
    assert len(found) == len(truth) and all(
        abs(a - c) <= 2 and abs(b - d) <= 2 for (a, b), (c, d) in zip(found, truth, strict=True)
    ), (found, truth)


def test_a_light_outermost_ruling_bounds_its_grid_as_a_border():
    # The first track's left border is no heavier than its grid; the heavy lines are elsewhere.
    # Nothing outside the outermost long ruling is ruled, so it is a border all the same.
    from logdigit.image.detect import find_tracks

    page = np.full((300, 260), 255, np.uint8)
    for x in list(range(10, 101, 18)) + list(range(150, 241, 18)):
        page[:, x] = 120
    page[:, 99:102] = page[:, 149:152] = page[:, 239:242] = 0
    assert find_tracks(page) == ([(10, 100), (150, 240)], (100, 150))
