"""trace: hand-worked masks, anti-aliased synthetic curves against their formulas, invariants."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from logdigit.errors import InputError, LayoutError
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.trace import Cues, PixelTrace, trace

S = 4  # supersampling factor of the synthetic drawings


def _layout(tracks, height, rows=None) -> Layout:
    return Layout(DepthSpec("PX", 1.0, ((0, 0), (height - 1, height - 1)), rows=rows), tuple(tracks))


def _draw(fn, height, width, *, thickness=2, dashes=None, out=None, colour=255):
    """Draw x = fn(row) anti-aliased at S x resolution and area-average it back down.

    Returns uint8 (height, width) (or draws into ``out`` (height*S, width*S[, 3]) when
    given). Pixel-centre convention: small pixel i <-> big coordinate i*S + (S-1)/2.
    """
    big = np.zeros((height * S, width * S), np.uint8) if out is None else out
    ys = np.arange(height * S) / S
    pts = np.stack([fn(ys) * S + (S - 1) / 2, ys * S + (S - 1) / 2], axis=1)
    pieces = (
        [pts]
        if dashes is None
        else [pts[(ys >= y0) & (ys < y0 + dashes[0])] for y0 in range(0, height, dashes[0] + dashes[1])]
    )
    for piece in pieces:
        if len(piece) > 1:
            fixed = np.round(piece * 16).astype(np.int32)  # 4 fractional bits
            cv2.polylines(big, [fixed], False, colour, thickness * S, cv2.LINE_AA, shift=4)
    if out is not None:
        return out
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


def _mask(*layers, klass=1):
    """bool (3, H, W) with the given uint8 drawings (>= 128) in class ``klass``."""
    h, w = layers[0].shape
    masks = np.zeros((3, h, w), bool)
    for layer in layers:
        masks[klass] |= layer >= 128
    masks[0] = ~(masks[1] | masks[2])
    return masks


def _sine(y):
    return 60 + 30 * np.sin(2 * np.pi * y / 150) + 5 * np.sin(2 * np.pi * y / 37)


def _solid_track(*names, left=5, right=115, line="solid", colors=None):
    colors = colors or [None] * len(names)
    curves = tuple(CurveSpec(n, 0, 1, line=line, color=c) for n, c in zip(names, colors, strict=True))
    return Track(left, right, curves=curves)


# --------------------------------------------------------------------------- worked by hand


def test_vertical_two_pixel_line_is_exact():
    masks = np.zeros((3, 30, 20), bool)
    masks[1, :, 10:12] = True
    (tr,) = trace(masks, _layout([Track(2, 17, curves=(CurveSpec("GR", 0, 1),))], 30))
    assert isinstance(tr, PixelTrace) and tr.mnemonic == "GR" and tr.track == 0 and tr.row0 == 0
    assert tr.x.dtype == np.float64
    np.testing.assert_array_equal(tr.x, np.full(30, 10.5))


def test_hand_worked_step_and_gap():
    # Rows 0-9 at column 4 (x 4.0), rows 10-11 empty, rows 12-21 on columns 6-8 (x 7.0).
    masks = np.zeros((3, 22, 12), bool)
    masks[1, :10, 4] = True
    masks[1, 12:, 6:9] = True
    (tr,) = trace(masks, _layout([_solid_track("A", left=1, right=10)], 22))
    expected = np.r_[np.full(10, 4.0), 5.0, 6.0, np.full(10, 7.0)]  # gap rows interpolated
    np.testing.assert_allclose(tr.x, expected)


def test_digitised_rows_and_offsets():
    masks = np.zeros((3, 40, 30), bool)
    masks[1, :, 20] = True
    lay = _layout([Track(2, 12), _solid_track("B", left=15, right=27)], 40, rows=(5, 34))
    (tr,) = trace(masks, lay)
    assert tr.track == 1 and tr.row0 == 5 and len(tr.x) == 30
    np.testing.assert_array_equal(tr.rows, np.arange(5, 35))
    np.testing.assert_array_equal(tr.x, np.full(30, 20.0))


# --------------------------------------------------------------------------- synthetic curves


@pytest.mark.parametrize("thickness", [1, 2, 3])
def test_antialiased_sinusoid_subpixel(thickness):
    h, w = 300, 120
    masks = _mask(_draw(_sine, h, w, thickness=thickness))
    (tr,) = trace(masks, _layout([_solid_track("A")], h))
    error = np.abs(tr.x - _sine(np.arange(h)))
    assert not np.isnan(tr.x).any()
    assert error.mean() < 0.3  # measured about 0.16-0.18 px
    assert error.max() <= 1.0


def test_steep_near_horizontal_segment():
    # The curve moves 50 px across 4 rows (a fast excursion): each row there holds a long
    # run, whose centroid is the centreline's crossing of the row.
    def step(y):
        return 30 + 50 * np.clip((y - 50) / 4, 0, 1)

    h, w = 100, 100
    masks = _mask(_draw(step, h, w))
    (tr,) = trace(masks, _layout([_solid_track("A", right=95)], h))
    assert not np.isnan(tr.x).any()
    error = np.abs(tr.x - step(np.arange(h)))
    knees = np.zeros(h, bool)
    knees[[50, 54]] = True  # the kinks themselves: the stroke's width blurs them by design
    assert error[~knees].max() <= 1.0 and error.mean() < 0.2
    assert np.all(np.diff(tr.x[40:65]) >= 0)  # follows the stroke, no zig-zag


@pytest.mark.parametrize("half_width", [0.5, 1, 2, 4, 8])
def test_spike_tip_is_kept(half_width):
    # A spike out to column 80 and back, half_width rows each way: the tip row must say 80,
    # not the middle of its long run.
    def spike(y):
        return 30 + 50 * np.clip(1 - np.abs(y - 50) / half_width, 0, 1)

    h, w = 100, 100
    masks = _mask(_draw(spike, h, w))
    (tr,) = trace(masks, _layout([_solid_track("A", right=95)], h))
    assert abs(tr.x[50] - 80) <= 0.5
    assert np.nanmax(tr.x) <= 80.5
    assert np.abs(tr.x[:40] - 30).max() == 0 and np.abs(tr.x[60:] - 30).max() == 0


def _s_sweep(y, *, start, rows, across):
    """x of a curve at column 20 that sweeps ``across`` px to the right over ``rows`` rows
    from row ``start``, speeding up and slowing down (a smoothstep)."""
    t = np.clip((np.asarray(y, float) - start) / rows, 0, 1)
    return 20 + across * t * t * (3 - 2 * t)


@pytest.mark.parametrize("thickness", [1, 2, 3])
def test_fast_sweep_rows_take_the_curve_not_the_middle_of_their_run(thickness):
    # An S-shaped sweep of 70 px in 8 rows: each row's run holds the stroke from a pen
    # radius above the row to one below, so where the sweep bends the middle of the run
    # is off by up to half the pen's reach in x (measured: 1.1 / 2.1 / 4.6 px for pens of
    # 1 / 2 / 3 px); the points where one row's run hands over to the next are not.
    def sweep(y):
        return _s_sweep(y, start=40, rows=8, across=70)

    h, w = 90, 110
    masks = _mask(_draw(sweep, h, w, thickness=thickness))
    (tr,) = trace(masks, _layout([_solid_track("A", right=105)], h))
    error = np.abs(tr.x - sweep(np.arange(h)))
    assert error[42:47].max() <= 0.9 * thickness
    assert error[:38].max() == 0 and error[52:].max() == 0


@pytest.mark.parametrize("ruling", [3, 5, 8])
def test_sweep_cut_by_rulings_is_one_stroke(ruling):
    # A sweep of 150 px in 10 rows (up to 22 px per row) with its ink cut out where six
    # vertical rulings cross it, as the network leaves them: each cut row holds a few
    # pieces side by side. Taken apart, the chain follows single fragments and is off by
    # up to 18 px; the row's pieces are one stroke (holes up to 12 px beside a wide run).
    def sweep(y):
        return _s_sweep(y, start=40, rows=10, across=150)

    h, w = 90, 200
    img = _draw(sweep, h, w)
    for c in range(35, 190, 30):
        img[:, c : c + ruling] = 0
    (tr,) = trace(_mask(img), _layout([_solid_track("A", right=195)], h))
    error = np.abs(tr.x - sweep(np.arange(h)))
    assert error.max() <= 7  # of a 22 px step per row
    assert error[:38].max() == 0 and error[55:].max() == 0


@pytest.mark.parametrize("ruling", [0, 3, 6])
def test_spike_drawn_in_pieces_is_followed_past_a_ruling_piece(ruling):
    # A spike out 160 px and back within 14 rows, cut by rulings (or not), with a ruling
    # piece labelled as curve standing across its middle. The spike's rows are one- and
    # two-row runs up to 30 px apart; priced as slow pieces, the chain took the ruling
    # piece for the tip (x 100 where the tip is 180).
    def spike(y):
        return 20 + 160 * np.clip(1 - np.abs(y - 47) / 7, 0, 1) ** 1.5

    h, w = 100, 200
    img = _draw(spike, h, w)
    for c in range(45, 190, 30) if ruling else ():
        img[:, c : c + ruling] = 0
    masks = _mask(img)
    masks[1, 36:62, 100:102] = True
    (tr,) = trace(masks, _layout([_solid_track("A", right=195)], h))
    assert abs(tr.x[47] - 180) <= 1
    assert np.abs(tr.x - spike(np.arange(h))).max() <= 6


def test_dashed_line_is_bridged():
    h, w = 300, 120
    masks = _mask(_draw(_sine, h, w, dashes=(12, 8)), klass=2)
    (tr,) = trace(masks, _layout([_solid_track("D", line="dashed")], h))
    last_ink = np.nonzero(masks[2].any(axis=1))[0].max()
    assert not np.isnan(tr.x[: last_ink + 1]).any()
    assert np.isnan(tr.x[last_ink + 1 :]).all()  # nothing invented past the last dash
    assert np.nanmean(np.abs(tr.x - _sine(np.arange(h)))) < 0.4


def test_long_gap_stays_nan():
    h, w = 300, 120
    masks = _mask(_draw(_sine, h, w))
    masks[1, 100:200] = False
    (tr,) = trace(masks, _layout([_solid_track("A")], h))
    np.testing.assert_array_equal(np.nonzero(np.isnan(tr.x))[0], np.arange(100, 200))


def test_max_gap_option():
    masks = np.zeros((3, 60, 10), bool)
    masks[1, :20, 5] = masks[1, 30:, 5] = True  # a 10-row gap
    lay = _layout([_solid_track("A", left=1, right=8)], 60)
    assert np.isnan(trace(masks, lay, max_gap=9)[0].x).sum() == 10
    assert np.isnan(trace(masks, lay, max_gap=10)[0].x).sum() == 0


def test_specks_are_ignored():
    h, w = 300, 120
    clean = _mask(_draw(_sine, h, w))
    noisy = clean.copy()
    rng = np.random.default_rng(3)
    truth = _sine(np.arange(h))
    placed = 0
    while placed < 80:  # 2x2 specks not touching the curve
        y, x = int(rng.integers(0, h - 2)), int(rng.integers(5, w - 7))
        if np.abs(truth[max(y - 3, 0) : y + 5] - x).min() > 6:
            noisy[1, y : y + 2, x : x + 2] = True
            placed += 1
    lay = _layout([_solid_track("A")], h)
    np.testing.assert_array_equal(trace(noisy, lay)[0].x, trace(clean, lay)[0].x)


def test_only_specks_gives_nan():
    masks = np.zeros((3, 100, 50), bool)
    masks[1, 10:12, 10:12] = masks[1, 60:63, 30:32] = True
    (tr,) = trace(masks, _layout([_solid_track("A", left=2, right=45)], 100))
    assert np.isnan(tr.x).all()


def test_other_class_crossing_is_bridged():
    h, w = 200, 120
    solid = _draw(lambda y: 40 + 0.3 * y, h, w)
    dashed = _draw(lambda y: 100 - 0.3 * y, h, w)
    masks = _mask(solid)
    masks[2] = dashed >= 128
    masks[1] &= ~masks[2]  # the network gives the crossing to one class only
    masks[0] = ~(masks[1] | masks[2])
    lay = _layout([Track(5, 115, curves=(CurveSpec("S", 0, 1), CurveSpec("D", 0, 1, line="dashed")))], h)
    solid_tr, dashed_tr = trace(masks, lay)
    rows = np.arange(h)
    assert np.abs(solid_tr.x - (40 + 0.3 * rows)).max() < 1.0
    assert np.abs(dashed_tr.x - (100 - 0.3 * rows)).max() < 1.0


def test_crossing_curves_split_by_colour():
    h, w = 240, 120
    red, blue = (220, 30, 30), (30, 60, 220)

    def f(y):
        return 60 + 35 * np.sin(2 * np.pi * y / 160)

    def g(y):
        return 60 - 35 * np.sin(2 * np.pi * y / 160)

    big = np.full((h * S, w * S, 3), 255, np.uint8)
    _draw(f, h, w, out=big, colour=red)
    _draw(g, h, w, out=big, colour=blue)
    image = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    masks = np.zeros((3, h, w), bool)
    masks[1] = image.min(axis=2) < 160  # ink of either colour
    masks[0] = ~masks[1]
    lay = _layout([_solid_track("BLUE", "RED", colors=[blue, red])], h)
    blue_tr, red_tr = trace(masks, lay, image=image)
    assert blue_tr.twins == red_tr.twins == ()  # colour told them apart
    rows = np.arange(h)
    for tr, fn in ((red_tr, f), (blue_tr, g)):
        error = np.abs(tr.x - fn(rows))
        assert not np.isnan(tr.x).any()
        assert np.mean(error < 1.0) > 0.97 and error.max() < 3.0


def test_steep_stroke_under_another_ink_keeps_its_hidden_pixels():
    # A red curve sweeps across the track (20 px per row) under a blue vertical line
    # 4 px wide drawn on top: in the sweep's rows the red run is cut where blue covers
    # it. The hidden pixels are the red curve's too, so its centre stays on the curve.
    h, w = 120, 200
    red, blue = (220, 30, 30), (30, 60, 220)

    def f(y):
        return 40 + 120 * np.clip((y - 58) / 6, 0, 1)

    def g(y):
        return 100 + 0 * y

    big = np.full((h * S, w * S, 3), 255, np.uint8)
    _draw(f, h, w, out=big, colour=red)
    _draw(g, h, w, out=big, colour=blue, thickness=4)
    image = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    masks = np.zeros((3, h, w), bool)
    masks[1] = image.min(axis=2) < 160
    masks[0] = ~masks[1]
    lay = _layout([_solid_track("RED", "BLUE", left=5, right=195, colors=[red, blue])], h)
    red_tr, blue_tr = trace(masks, lay, image=image)
    rows = np.arange(h)
    sweep = (rows >= 59) & (rows <= 63)  # (the corner rows 58 and 64 hold half a sweep)
    assert np.abs(red_tr.x - f(rows))[sweep].max() < 3.0
    assert np.abs(blue_tr.x - g(rows)).max() < 1.0


def _inked_track(ink, *, ruling=(60, 140, 60), h=200, w=120):
    """A scan with rulings at the track edges and a curve drawn in ``ink``; the mask
    holds the curve only in its first 150 rows (the network lost the rest)."""
    big = np.full((h * S, w * S, 3), 245, np.uint8)
    for edge in (5, 115):
        big[:, edge * S : (edge + 1) * S] = ruling

    def f(y):
        return 60 + 20 * np.sin(2 * np.pi * y / 180)

    _draw(f, h, w, out=big, colour=ink)
    image = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    masks = _mask(_draw(f, h, w))
    masks[1, 150:] = False
    masks[0] = ~(masks[1] | masks[2])
    return image, masks, f(np.arange(h))


def test_curve_carried_on_along_its_ink_where_the_mask_lost_it():
    image, masks, truth = _inked_track((90, 10, 130))
    (tr,) = trace(masks, _layout([_solid_track("RT", colors=[(80, 0, 120)])], 200), image=image)
    assert np.isfinite(tr.x).all()
    assert np.abs(tr.x - truth).max() < 1.0


@pytest.mark.parametrize(
    ("ink", "ruling", "why"),
    [
        ((20, 20, 20), (60, 140, 60), "black ink: text and grid look the same"),
        ((60, 140, 60), (60, 140, 60), "ink of the grid's colour"),
    ],
)
def test_ink_not_followed_where_it_cannot_be_told_apart(ink, ruling, why):
    image, masks, _ = _inked_track(ink, ruling=ruling)
    (tr,) = trace(masks, _layout([_solid_track("C", colors=[ink])], 200), image=image)
    assert np.isnan(tr.x[160:]).all(), why


def test_same_colour_curves_separated_by_continuity():
    h, w = 300, 120

    def left(y):
        return 30 + 10 * np.sin(2 * np.pi * y / 120)

    def right(y):
        return 80 + 8 * np.sin(2 * np.pi * y / 90)

    masks = _mask(_draw(left, h, w), _draw(right, h, w))
    lay = _layout([_solid_track("LEFT", "RIGHT")], h)
    left_tr, right_tr = trace(masks, lay)  # handed out left to right in layout order
    rows = np.arange(h)
    assert np.abs(left_tr.x - left(rows)).mean() < 0.3
    assert np.abs(right_tr.x - right(rows)).mean() < 0.3
    # Nothing but continuity told them apart: each names the other as its twin.
    assert left_tr.twins == ("RIGHT",) and right_tr.twins == ("LEFT",)


def test_twins_are_the_curves_only_continuity_told_apart():
    # One track, one solid class: a red curve and two black ones on a colour scan. Colour
    # sets the red one apart; the two black ones are twins of each other only.
    h, w = 200, 160
    red, black = (220, 30, 30), (20, 20, 20)
    big = np.full((h * S, w * S, 3), 255, np.uint8)
    for x0, ink in ((40, black), (80, red), (120, black)):
        _draw(lambda y, x0=x0: x0 + 8 * np.sin(2 * np.pi * y / 100), h, w, out=big, colour=ink)
    image = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    masks = np.zeros((3, h, w), bool)
    masks[1] = image.min(axis=2) < 160
    masks[0] = ~masks[1]
    lay = _layout([_solid_track("B1", "R", "B2", left=5, right=155, colors=[black, red, black])], h)
    b1, r, b2 = trace(masks, lay, image=image)
    assert (b1.twins, r.twins, b2.twins) == (("B2",), (), ("B1",))
    # Without the scan, colour cannot tell: all three look alike.
    b1, r, b2 = trace(masks, lay)
    assert (b1.twins, r.twins, b2.twins) == (("R", "B2"), ("B1", "B2"), ("B1", "R"))


def test_dashed_and_dotted_of_one_ink_and_curves_of_two_classes_are_no_twins():
    h, w = 200, 120
    dashes = _draw(lambda y: 40 + 0 * y, h, w, dashes=(12, 6))
    dots = _draw(lambda y: 80 + 0 * y, h, w, dashes=(2, 5))
    lay = _layout([Track(5, 115, curves=(CurveSpec("D", 0, 1, line="dashed"), CurveSpec("O", 0, 1, line="dotted")))], h)
    assert [t.twins for t in trace(_mask(dashes, dots, klass=2), lay)] == [(), ()]
    solid = _mask(_draw(lambda y: 40 + 0 * y, h, w))
    solid[2] = _mask(dots, klass=2)[2]
    lay = _layout([Track(5, 115, curves=(CurveSpec("S", 0, 1), CurveSpec("O", 0, 1, line="dotted")))], h)
    assert [t.twins for t in trace(solid, lay)] == [(), ()]


def test_same_colour_crossing_keeps_each_curve_through_the_crossing():
    h, w = 300, 120

    def f(y):
        return 50 + 20 * np.sin(2 * np.pi * y / 120)

    def g(y):
        return 50 - 20 * np.sin(2 * np.pi * y / 120)

    masks = _mask(_draw(f, h, w), _draw(g, h, w))
    traces = trace(masks, _layout([_solid_track("A", "B")], h))
    rows = np.arange(h)
    followed = sorted((np.mean(np.abs(t.x - f(rows)) < 1.5), np.mean(np.abs(t.x - g(rows)) < 1.5)) for t in traces)
    # One trace stays on g and the other on f over (nearly) every row: no bounce at crossings.
    assert followed[0][1] > 0.97 and followed[1][0] > 0.97


def test_curves_that_touch_and_turn_back_are_told_apart_by_stroke_width():
    # Two same-ink curves meet point to point and each turns back: slopes alone say they
    # cross (each incoming slope matches the other's outgoing one); the stroke widths,
    # 3 px and 1 px, say they bounce.
    h, w = 200, 120

    def f(y):  # thick, on the left, its peak at row 100
        return 60 - 0.5 * np.abs(y - 100)

    def g(y):  # thin, on the right, its trough at row 100
        return 61.5 + 0.5 * np.abs(y - 100)

    masks = _mask(_draw(f, h, w, thickness=3), _draw(g, h, w, thickness=1))
    left, right = trace(masks, _layout([_solid_track("A", "B")], h))
    rows = np.arange(h)
    assert np.nanmean(np.abs(left.x - f(rows))) < 0.5
    assert np.nanmean(np.abs(right.x - g(rows))) < 0.5


def _bounce(y):
    """Two curves that meet point to point at row 100 and turn back: (left one, right one)."""
    return 60 - 0.5 * np.abs(y - 100), 61.5 + 0.5 * np.abs(y - 100)


def test_curves_that_touch_and_turn_back_are_told_apart_by_shade():
    # As above, but both strokes 2 px wide and given one layout colour: the left curve is
    # drawn in black, the right one in mid grey. Only the scan's shades say they bounce.
    h, w = 200, 120
    f, g = (lambda y: _bounce(y)[0]), (lambda y: _bounce(y)[1])
    black, grey = _draw(f, h, w), _draw(g, h, w)
    scan = np.minimum(255 - black.astype(np.int32), 255 - grey.astype(np.int32) * (255 - 140) // 255)
    scan = np.repeat(scan.astype(np.uint8)[:, :, None], 3, axis=2)
    masks = _mask(black, grey)
    lay = _layout([_solid_track("A", "B", colors=[(0, 0, 0), (0, 0, 0)])], h)
    rows = np.arange(h)

    def errors(image, cues=None):
        left, right = trace(masks, lay, image=image, cues=cues)
        return np.nanmean(np.abs(left.x - f(rows))), np.nanmean(np.abs(right.x - g(rows)))

    assert max(errors(scan)) < 0.5
    assert min(errors(None)) > 5  # without the scan they come out crossed
    assert min(errors(scan, Cues(sigma_shade=np.inf))) > 5  # and with the scan but no shade cue


@pytest.mark.parametrize("order", [("DOT", "DASH"), ("DASH", "DOT")])
def test_dotted_and_dashed_curves_handed_out_by_line_style(order):
    # A dotted curve right of a dashed one, both of one ink. The layout says which is
    # dotted: each gets its own curve whatever the order it lists them in. Said "dashed"
    # both, they go out in left-to-right order.
    h, w = 240, 120

    def dashed(y):
        return 35 + 8 * np.sin(2 * np.pi * y / 120)

    def dotted(y):
        return 80 + 8 * np.sin(2 * np.pi * y / 90)

    masks = _mask(
        _draw_arc_dashed(dashed, h, w, dash=10, gap=6), _draw_arc_dashed(dotted, h, w, dash=0.6, gap=4), klass=2
    )
    curves = tuple(CurveSpec(n, 0, 1, line="dotted" if n == "DOT" else "dashed") for n in order)
    traces = {t.mnemonic: t for t in trace(masks, _layout([Track(5, 115, curves=curves)], h))}
    rows = np.arange(h)
    for name, fn in (("DOT", dotted), ("DASH", dashed)):
        assert np.nanmean(np.abs(traces[name].x - fn(rows))) < 1.0, name
    plain = tuple(CurveSpec(n, 0, 1, line="dashed") for n in order)
    first, second = trace(masks, _layout([Track(5, 115, curves=plain)], h))
    assert np.nanmean(np.abs(first.x - dashed(rows))) < 1.0
    assert np.nanmean(np.abs(second.x - dotted(rows))) < 1.0


def _draw_arc_dashed(fn, height, width, *, dash, gap, thickness=2):
    """Like _draw, but dashed along the arc length (as a pen draws), so a sweep across
    the track is dashed too. ``dash``/``gap`` in pixels; a dash under 1 px is a dot."""
    ys = np.arange(height * S * 4) / (S * 4)  # dense samples along the curve
    pts = np.stack([fn(ys) * S + (S - 1) / 2, ys * S + (S - 1) / 2], axis=1)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]) / S
    on = (arc % (dash + gap + thickness)) <= dash  # round caps add a line width to each dash
    big = np.zeros((height * S, width * S), np.uint8)
    edges = np.flatnonzero(np.diff(np.r_[0, on.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        piece = pts[a:b] if b - a > 1 else np.repeat(pts[a : a + 1], 2, axis=0)
        cv2.polylines(big, [np.round(piece * 16).astype(np.int32)], False, 255, thickness * S, cv2.LINE_AA, shift=4)
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)


def _step(y):
    # A sweep of 60 px across 6 rows between two calm stretches.
    return 25 + 60 * np.clip((y - 60) / 6, 0, 1) + 2 * np.sin(y / 9)


def test_dashed_sweep_across_the_track_is_followed():
    h, w = 140, 110
    masks = _mask(_draw_arc_dashed(_step, h, w, dash=8, gap=6), klass=2)
    (tr,) = trace(masks, _layout([_solid_track("D", left=5, right=105, line="dashed")], h))
    rows = np.arange(h)
    truth = _step(rows)
    inked = slice(int(np.nonzero(masks[2].any(axis=1))[0][0]), int(np.nonzero(masks[2].any(axis=1))[0][-1]) + 1)
    assert not np.isnan(tr.x[inked]).any()
    sweep = slice(61, 66)  # inside the sweep: 10 px per row, so judge across the stroke
    across = np.abs(tr.x[sweep] - truth[sweep]) / np.hypot(1, np.gradient(truth)[sweep])
    assert across.max() < 1.5  # measured about 1.1: a 1-px-wide drawn-in gap, rounded
    assert np.all(np.diff(tr.x[55:72]) > -1.0)  # goes across once, no zig-zag
    calm = np.r_[10:55, 75:130]
    assert np.abs(tr.x[calm] - truth[calm]).mean() < 0.5


def test_dotted_line_is_bridged():
    h, w = 240, 120
    masks = _mask(_draw_arc_dashed(_sine, h, w, dash=0.6, gap=4), klass=2)
    (tr,) = trace(masks, _layout([_solid_track("D", line="dashed")], h))
    inked = np.nonzero(masks[2].any(axis=1))[0]
    span = tr.x[inked[0] : inked[-1] + 1]
    assert not np.isnan(span).any()
    assert np.abs(span - _sine(np.arange(inked[0], inked[-1] + 1))).mean() < 0.5


def test_faded_inks_still_split_by_colour():
    # Inks laid over cream paper at 55 % strength: the blue is no longer near its nominal
    # colour, but it is still on the way from paper to blue, not to black.
    h, w = 200, 120
    paper, blue, black = np.array([245, 240, 228.0]), (0, 40, 160), (20, 20, 20)

    def f(y):
        return 60 + 35 * np.sin(2 * np.pi * y / 160)

    def g(y):
        return 60 - 35 * np.sin(2 * np.pi * y / 160)

    image = np.empty((h, w, 3))
    image[:] = paper
    cover = {}
    for name, fn, ink in (("BLUE", f, blue), ("BLACK", g, black)):
        alpha = _draw(fn, h, w).astype(np.float64)[..., None] / 255 * 0.55
        image = image * (1 - alpha) + alpha * np.array(ink)
        cover[name] = alpha[..., 0] > 0.55 * 0.5
    image = np.round(image).astype(np.uint8)
    masks = np.zeros((3, h, w), bool)
    masks[1] = cover["BLUE"] | cover["BLACK"]
    lay = _layout([_solid_track("BLACK", "BLUE", colors=[black, blue])], h)
    black_tr, blue_tr = trace(masks, lay, image=image)
    rows = np.arange(h)
    assert np.mean(np.abs(blue_tr.x - f(rows)) < 1.5) > 0.95
    assert np.mean(np.abs(black_tr.x - g(rows)) < 1.5) > 0.95


def test_same_ink_twice_falls_back_to_continuity():
    h, w = 200, 120
    red = (200, 20, 20)

    def left(y):
        return 30 + 8 * np.sin(y / 20)

    def right(y):
        return 85 + 8 * np.sin(y / 25)

    big = np.full((h * S, w * S, 3), 255, np.uint8)
    _draw(left, h, w, out=big, colour=red)
    _draw(right, h, w, out=big, colour=red)
    image = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    masks = np.zeros((3, h, w), bool)
    masks[1] = image.min(axis=2) < 160
    lay = _layout([_solid_track("A", "B", colors=[red, (210, 25, 25)])], h)
    a_tr, b_tr = trace(masks, lay, image=image)
    rows = np.arange(h)
    assert np.abs(a_tr.x - left(rows)).mean() < 0.4 and np.abs(b_tr.x - right(rows)).mean() < 0.4
    # A grey (or binarised) copy of the scan cannot tell red from blue: continuity again.
    grey = np.repeat(image.min(axis=2, keepdims=True), 3, axis=2)
    lay = _layout([_solid_track("A", "B", colors=[red, (0, 0, 200)])], h)
    a_tr, b_tr = trace(masks, lay, image=grey)
    assert np.abs(a_tr.x - left(rows)).mean() < 0.4 and np.abs(b_tr.x - right(rows)).mean() < 0.4


def test_ruling_labelled_as_curve_is_ignored():
    h, w = 200, 80
    masks = _mask(_draw(lambda y: 40 + 10 * np.sin(y / 20), h, w))
    masks[1, :, 9:11] = True  # the track's left border, wrongly labelled solid
    (tr,) = trace(masks, _layout([_solid_track("A", left=10, right=70)], h))
    assert np.abs(tr.x - (40 + 10 * np.sin(np.arange(h) / 20))).max() < 1.0


def test_steep_sweep_cut_at_its_bend_is_followed_rather_than_a_ruling():
    """A sweep at 5 px/row, cut by a 4-row gap where it bends to 1.5 px/row: its slope
    is known less well than a vertical stroke's, so the bend is a fair continuation, and
    the trace keeps it rather than a ruling piece labelled as curve that runs straight
    down from the cut and is a row shorter (a fixed tolerance would cost the bend 3.4,
    nearly half a restart, and take the ruling)."""
    h, w = 140, 200

    def curve(y):
        y = np.asarray(y, float)
        bend = np.where(y < 80, 120 + 1.5 * (y - 60), 150.0)
        return np.where(y < 40, 20.0, np.where(y < 60, 20 + 5 * (y - 40), bend))

    img = _draw(curve, h, w)
    img[61:65] = 0  # the pen lifted where the sweep bends
    masks = _mask(img)
    masks[1, 66:140, 118:120] = True
    (tr,) = trace(masks, _layout([_solid_track("A", left=5, right=195)], h))
    assert np.abs(tr.x - curve(np.arange(h)))[65:].max() < 1.5


def test_merge_with_a_horizontal_line_keeps_the_curve():
    h, w = 100, 80
    masks = _mask(_draw(lambda y: 40 + 0.2 * y, h, w))
    masks[1, 50, 10:70] = True  # a grid line labelled as curve in one row
    (tr,) = trace(masks, _layout([_solid_track("A", left=5, right=75)], h))
    assert abs(tr.x[50] - (40 + 0.2 * 50)) < 1.0


# --------------------------------------------------------------------------- invariants


def test_one_value_per_row_and_layout_order():
    h, w = 120, 200
    masks = _mask(_draw(_sine, h, w))
    masks[2] = _draw(lambda y: 150 + 10 * np.sin(y / 15), h, w, dashes=(6, 4)) >= 128
    tracks = [
        Track(5, 110, curves=(CurveSpec("S1", 0, 1), CurveSpec("D1", 0, 1, line="dashed"))),
        Track(120, 190, curves=(CurveSpec("D2", 0, 1, line="dashed"), CurveSpec("S2", 0, 1))),
    ]
    traces = trace(masks, _layout(tracks, h, rows=(10, 109)))
    assert [t.mnemonic for t in traces] == ["S1", "D1", "D2", "S2"]
    assert [t.track for t in traces] == [0, 0, 1, 1]
    for t in traces:
        assert t.row0 == 10 and t.x.shape == (100,) and t.x.dtype == np.float64
        ok = np.isfinite(t.x)
        assert np.all((t.x[ok] >= tracks[t.track].left - 3) & (t.x[ok] <= tracks[t.track].right + 3))
    assert np.isfinite(traces[0].x).all() and np.isfinite(traces[2].x).sum() > 90


def test_inputs_not_modified():
    h, w = 120, 120
    masks = _mask(_draw(_sine, h, w))
    masks[1, :, 4:6] = True
    image = np.full((h, w, 3), 255, np.uint8)
    before_masks, before_image = masks.copy(), image.copy()
    lay = _layout([_solid_track("A", "B", colors=[(0, 0, 0), (255, 0, 0)])], h)
    trace(masks, lay, image=image)
    trace(masks, lay)
    np.testing.assert_array_equal(masks, before_masks)
    np.testing.assert_array_equal(image, before_image)


def test_empty_mask_gives_nan_per_row():
    traces = trace(np.zeros((3, 10, 10), bool), _layout([_solid_track("A", "B", left=1, right=8)], 10))
    assert len(traces) == 2 and all(t.x.shape == (10,) and np.isnan(t.x).all() for t in traces)


# --------------------------------------------------------------------------- errors


def test_bad_masks():
    lay = _layout([_solid_track("A", left=1, right=8)], 10)
    with pytest.raises(InputError, match=r"bool \(3, H, W\).*got \(3, 10, 10\) uint8.*astype\(bool\)"):
        trace(np.zeros((3, 10, 10), np.uint8), lay)
    with pytest.raises(InputError, match="bool"):
        trace(np.zeros((2, 10, 10), bool), lay)


def test_track_outside_image():
    with pytest.raises(LayoutError, match=r"track 0: columns 5\.\.40 .*0\.\.19"):
        trace(np.zeros((3, 10, 20), bool), _layout([_solid_track("A", left=5, right=40)], 10))


def test_rows_outside_image():
    with pytest.raises(LayoutError, match=r"depth rows \(0, 50\).*0\.\.9"):
        trace(np.zeros((3, 10, 20), bool), _layout([_solid_track("A", left=1, right=8)], 10, rows=(0, 50)))


def test_image_shape_mismatch():
    lay = _layout([_solid_track("A", left=1, right=8)], 10)
    with pytest.raises(InputError, match=r"image must be uint8 \(10, 20, 3\)"):
        trace(np.zeros((3, 10, 20), bool), lay, image=np.zeros((10, 21, 3), np.uint8))


def test_bad_option():
    lay = _layout([_solid_track("A", left=1, right=8)], 10)
    with pytest.raises(ValueError, match="max_gap must be an int >= 0"):
        trace(np.zeros((3, 10, 20), bool), lay, max_gap=-1)


def _wrapped_scene(h=200, w=125, left=5, right=115, *, hook_rows=7):
    """Masks and truth of one curve that runs past the right edge for ``hook_rows`` rows
    around row 86 and is drawn there from the left edge on (a wrap, as on paper logs)."""
    half = hook_rows / 2 / np.sqrt(np.log(35 / 25))  # u > right on hook_rows rows

    def unwrapped(y):
        return 90 + 35 * np.exp(-(((y - 86) / half) ** 2))

    span = right - left
    wide = _draw(unwrapped, h, w + span)  # drawn unwrapped, then cut at the edge and wrapped
    cols = np.arange(w)
    ink = np.where(cols <= right, wide[:, :w], 0)
    hook = wide[:, span : span + w]
    ink = np.maximum(ink, np.where(cols >= left, hook, 0))
    y = np.arange(h, dtype=float)
    u = unwrapped(y)
    truth = np.where(u > right, u - span, u)
    return _mask(ink), truth


@pytest.mark.parametrize("hook_rows", [5, 7, 11])
def test_a_curve_that_wraps_past_the_track_edge_is_followed_onto_the_other_edge(hook_rows):
    # The wrapped stretch near the left edge is the curve, even when it is shorter than
    # min_segment (8 rows): a join from one edge to the other is a wrap, not a restart.
    # Without wrap joins the trace would run down the right edge where there is no ink, 0.9
    # of the track width off, and for a long hook draw lines across the track.
    masks, truth = _wrapped_scene(hook_rows=hook_rows)
    (t,) = trace(masks, _layout([_solid_track("GR")], masks.shape[1]))
    err = np.abs(t.x - truth)
    hook = np.flatnonzero(truth < 40)
    assert len(hook) == hook_rows
    assert np.isfinite(t.x[hook]).sum() >= hook_rows - 2  # the rows at the jump may stay empty
    # The worst rows are where the steep stroke is cut by the edge: a cut run's middle is off.
    assert np.nanmax(err) <= 3.5, (np.nanargmax(err), np.nanmax(err))
    assert np.nanmean(err) <= 0.6
    assert np.isfinite(t.x).mean() >= 0.98


def test_a_curve_that_turns_back_at_the_edge_is_not_wrapped_onto_a_piece_leaving_the_other():
    # A peak reaches the right edge and comes back, its tip lost (as the network often loses
    # ink along a track edge); a longer piece starts at the left edge meanwhile, heading out
    # of the track. A wrapped curve would re-enter heading in: the piece is not the curve.
    # With the heading test off, the trace jumps onto it for its extra rows.

    h, w = 200, 125

    def peak(y):
        return 80 + 34 * np.exp(-(((y - 86) / 8) ** 2))

    curve = _draw(peak, h, w)
    curve[85:88] = 0
    other = _draw(lambda y: np.maximum(13 - 0.7 * (y - 86), 7), h, w)  # then along the edge, to the end
    other[:86] = 0
    masks = _mask(curve, other)

    def traced(cues=None):
        (t,) = trace(masks, _layout([_solid_track("GR")], h), cues=cues)
        return t.x

    assert np.nanmin(traced()) >= 70
    assert np.nanmin(traced(Cues(wrap_slope=np.inf))) < 20


def test_nearest_clusters_by_hand():
    from logdigit.trace.tracer import _nearest_clusters

    kept = np.zeros((5, 20), bool)
    kept[0, [2, 3, 4, 10, 11]] = True  # clusters 2..4 and 10..11; x=7 is 3 from both: the left one
    kept[1, [2, 3, 15, 16, 17]] = True  # x=16 lies inside 15..17
    kept[2, [1, 3, 5]] = True  # gaps of 2 <= gap 2: one cluster 1..5
    kept[3, [9]] = True  # x NaN: rows 2 (x=4) and 4 (x=18) are equally near; the upper one wins
    kept[3, [17]] = True
    x = np.array([7.0, 16.0, 4.0, np.nan, 18.0])
    lo, hi = _nearest_clusters(kept, x, gap=2)
    np.testing.assert_array_equal(lo, [2, 15, 1, 9, np.nan])
    np.testing.assert_array_equal(hi, [4, 17, 5, 9, np.nan])


# --------------------------------------------------------------------------- one solid, one dashed


def _pair_layout(h):
    curves = (CurveSpec("S", 0, 1), CurveSpec("D", 0, 1, line="dashed"))
    return _layout([Track(5, 120, curves=curves)], h)


def _bend(y):
    return 85 + 20 * np.sin(2 * np.pi * y / 80)


def _stolen_stretch(h=240, w=125):
    """Masks of a straight solid curve and a dashed curve (``_bend``) whose rows 100-135
    run together and are labelled solid; also the three drawings (solid, stolen, dashed)."""
    solid = _draw(lambda y: 30 + 0.05 * y, h, w) >= 128
    stolen = _draw(_bend, h, w) >= 128
    stolen[:100], stolen[136:] = False, False
    dashed = (_draw(_bend, h, w, dashes=(8, 4)) >= 128) & ~stolen
    masks = np.zeros((3, h, w), bool)
    masks[1], masks[2] = solid | stolen, dashed
    return masks, (solid, stolen, dashed)


def test_dashed_curve_takes_back_a_stretch_the_network_gave_the_solid_class():
    # Black on black: where the dashed curve bends, its dashes run together (a 1-bit scan
    # of a sweep) and the network calls those 36 rows solid. Bridging them with a straight
    # line would miss the bend by about 6 px.
    h = 240
    masks, (solid, _, _) = _stolen_stretch(h)
    s, d = trace(masks, _pair_layout(h))
    rows = np.arange(h)
    assert np.abs(s.x - (30 + 0.05 * rows)).max() < 1.0
    assert np.abs(d.x - _bend(rows))[100:136].max() < 1.5
    masks[1] = solid  # (without that stretch the dashed curve is bridged straight, given a long fill)
    _, bridged = trace(masks, _pair_layout(h), max_gap=40)
    assert np.abs(bridged.x - _bend(rows))[100:136].max() > 4


def test_dashed_curve_hidden_under_the_solid_one_follows_it():
    # The dashed curve runs under the solid one for 34 rows, where the solid one wavers
    # by 6 px; its dashes there are the solid curve's ink, so the mask shows a long gap.
    h, w = 260, 125

    def solid_fn(y):
        return 60 + 6 * np.sin(2 * np.pi * (y - 100) / 34)

    def dashed_fn(y):
        return solid_fn(y) + 0.5 * np.maximum(100 - y, 0) + 0.5 * np.maximum(y - 134, 0)

    solid = _draw(solid_fn, h, w) >= 128
    dashed = _draw(dashed_fn, h, w, dashes=(8, 4)) >= 128
    masks = np.zeros((3, h, w), bool)
    masks[1], masks[2] = solid, dashed & ~solid
    s, d = trace(masks, _pair_layout(h))
    rows = np.arange(h)
    assert np.abs(s.x - solid_fn(rows)).max() < 1.0
    assert np.nanmax(np.abs(d.x - dashed_fn(rows))[103:132]) < 1.5
    # A dashed curve 7 px beside the solid one, with long gaps, is bridged as before.
    masks[2] = _draw(lambda y: solid_fn(y) + 7, h, w, thickness=1, dashes=(6, 8)) >= 128
    masks[1] = solid & ~masks[2]
    _, beside = trace(masks, _pair_layout(h))
    assert np.abs(beside.x - (solid_fn(rows) + 7))[20:240].max() < 2.5  # (on the solid curve: 7)


@pytest.mark.parametrize("colour_scan", [False, True])
def test_pair_tracing_needs_curves_the_ink_cannot_tell_apart(colour_scan):
    # Layout inks differ (green solid, red dashed). On a grey scan they cannot be told
    # apart, so the pair is traced together and the dashed curve takes back its stretch;
    # on a colour scan the network's class is not second-guessed.
    h, w = 240, 125
    masks, (solid, stolen, dashed) = _stolen_stretch(h, w)
    image = np.full((h, w, 3), 255, np.uint8)
    image[solid] = (0, 160, 0) if colour_scan else (60, 60, 60)
    image[dashed | stolen] = (200, 0, 0) if colour_scan else (60, 60, 60)
    curves = (CurveSpec("S", 0, 1, color=(0, 160, 0)), CurveSpec("D", 0, 1, line="dashed", color=(200, 0, 0)))
    _, d = trace(masks, _layout([Track(5, 120, curves=curves)], h), image=image)
    error = np.abs(d.x - _bend(np.arange(h)))[100:136].max()
    assert (error > 4) if colour_scan else (error < 1.5)


def test_solid_curve_gives_back_the_dashed_stroke_it_took_as_a_short_cut():
    # The network calls a stretch of the dashed line solid (rows 84-116) where the solid
    # curve spikes out across it and back, and loses the spike's tip (3 rows). Traced
    # alone, the solid curve takes the straight stroke as a short cut; the pair gives
    # the stroke back to the dashed curve and the solid curve follows its spike.

    h, w = 200, 125

    def spike(y):
        return 20 + 0.25 * y + 80 * np.clip(1 - np.abs(y - 100) / 12, 0, None)

    solid = _draw(spike, h, w) >= 128
    solid[99:102] = False
    stroke = _draw(lambda y: 60 + 0 * y, h, w) >= 128
    stroke[:84], stroke[117:] = False, False
    masks = np.zeros((3, h, w), bool)
    masks[1] = solid | stroke
    masks[2] = (_draw(lambda y: 60 + 0 * y, h, w, dashes=(8, 4)) >= 128) & ~masks[1]
    rows = np.arange(h)
    s, d = trace(masks, _pair_layout(h))
    assert np.abs(s.x - spike(rows))[84:117].mean() < 2
    assert np.abs(d.x - 60).max() <= 1.5
    s, _ = trace(masks, _pair_layout(h), cues=Cues(yield_to_dashed=False))
    assert np.abs(s.x - spike(rows))[84:117].mean() > 10  # (the short cut)


def _upright_bend(y):
    """A dashed curve that stands upright at x = 60 for rows 100-130."""
    return np.minimum(60 + 1.5 * np.maximum(100 - y, 0) + 1.5 * np.maximum(y - 130, 0), 115)


def _upright_scene(h=240, w=125):
    """Masks and scan ink (bool) of a straight solid curve and ``_upright_bend`` drawn in
    dashes, black on black: the network leaves rows 92-131 of the dashed curve out of both
    classes, the scan shows the stroke there (rows 96-134), rulings every 40 rows and at
    columns 30 and 90."""
    solid = _draw(lambda y: 25 + 0.05 * y, h, w) >= 128
    dashes = _draw(_upright_bend, h, w, dashes=(8, 4)) >= 128
    masks = np.zeros((3, h, w), bool)
    masks[1] = solid
    masks[2] = dashes & ~solid
    masks[2][92:132] = False
    rows = np.arange(h)[:, None]
    ink = solid | dashes | (_draw(_upright_bend, h, w) >= 128) & (rows >= 96) & (rows < 135)
    ink[::40] = True  # horizontal rulings
    ink[:, [30, 90]] = True
    return masks, ink


@pytest.mark.parametrize("ruling", [False, True])
def test_dashed_curve_follows_an_upright_stretch_the_network_took_for_a_ruling(ruling):
    # Black on black, 1-bit: the dashed curve stands upright at x = 60 for rows 100-130,
    # where its dashes run together. The network leaves that stretch (and the dashes
    # next to it) out of both classes, as it does a grid line. The scan shows the stroke;
    # a real ruling at x = 60 (a column dark from top to bottom) is not followed.
    h = 240
    masks, ink = _upright_scene(h)
    if ruling:
        ink[:, 59:62] = True
    image = np.where(ink[..., None], 0, 255).astype(np.uint8).repeat(3, axis=2)
    rows = np.arange(h)
    _, d = trace(masks, _pair_layout(h), image=image, max_gap=40)
    _, blind = trace(masks, _pair_layout(h), max_gap=40)
    assert np.abs(blind.x - _upright_bend(rows))[100:131].max() > 5  # (bridged straight)
    if ruling:
        np.testing.assert_array_equal(d.x, blind.x)
    else:
        assert np.abs(d.x - _upright_bend(rows))[100:131].max() < 1.5


def test_solid_curve_takes_a_spike_the_network_called_dashed():
    # The solid curve spikes out to the left and back (rows 90-110) and the network calls
    # the whole spike dashed. A solid line has no gaps: the spike touches the solid curve
    # just above and just below its gap, so it goes to the solid curve. Without that
    # step the solid curve is bridged straight across the spike.

    h, w = 200, 125

    def spike(y):
        return 60 - 35 * np.clip(1 - np.abs(y - 100) / 10, 0, None)

    solid = _draw(spike, h, w) >= 128
    lent = solid.copy()
    lent[:92], lent[109:] = False, False
    masks = np.zeros((3, h, w), bool)
    masks[1] = solid & ~lent
    masks[2] = (_draw(lambda y: 95 + 0 * y, h, w, dashes=(8, 4)) >= 128) | lent
    rows = np.arange(h)
    s, d = trace(masks, _pair_layout(h))
    assert np.abs(s.x - spike(rows))[88:113].max() < 2
    assert np.abs(d.x - 95).max() <= 1.0
    s, _ = trace(masks, _pair_layout(h), cues=Cues(lent_rows=h + 1))
    assert np.abs(s.x - spike(rows))[88:113].max() > 20


def test_a_speck_beside_a_dashed_line_is_no_dot():
    # Long dashes down column 10 and a one-pixel speck 17 px to the side of the last
    # dash's end: for a curve alone in its class the speck is noise, not a dot of the
    # line, and is not bridged to it.
    # Among dots (all pieces round) a join of the same length is drawn.
    import logdigit.trace.tracer as tracing

    window = np.zeros((80, 60), bool)
    for top in (0, 20, 40):
        window[top : top + 15, 10:12] = True
    window[58, 28] = True
    bridged = tracing._bridge_dashes(window, 40)
    assert not bridged[50:60, 13:27].any()
    assert tracing._bridge_dashes(window, 40, speck_join=np.inf)[50:60, 13:27].any()  # (the join it would draw)
    # With several curves of the class in the track one of them may be dotted: no limit.
    assert tracing._bridge_dashes(window, 40, lone=False)[50:60, 13:27].any()
    dots = np.zeros((80, 60), bool)
    for k in range(4):
        dots[10 + 4 * k : 12 + 4 * k, 2 + 17 * k : 4 + 17 * k] = True
    bridged = tracing._bridge_dashes(dots, 40)
    assert bridged[10:26, 4:19].any() and bridged[10:26, 21:36].any() and bridged[10:26, 38:53].any()


def test_pair_track_fills_only_narrow_holes_beside_a_sweep():
    # A solid sweep passes 10 px left of a blob the network also called solid (in a pair
    # track of one ink, typically a piece of the dashed curve). Closing 12 px holes, as
    # for a curve alone in its class, joins the two in row 97; a pair track closes 6 px.
    h, w = 200, 125

    def sweep(y):
        return 20 + 60 / (1 + np.exp(-(y - 100) / 2.5))  # about 6 px per row at its steepest

    masks = np.zeros((3, h, w), bool)
    masks[1] = _draw(sweep, h, w) >= 128
    masks[1, 95:98, 50:58] = True
    masks[2] = _draw(lambda y: 100 + 0 * y, h, w, dashes=(8, 4)) >= 128
    rows = np.arange(h)
    s, _ = trace(masks, _pair_layout(h))
    assert np.abs(s.x - sweep(rows)).max() < 1.0
    (alone,) = trace(masks, _layout([_solid_track("S")], h))
    assert np.abs(alone.x - sweep(rows))[97] > 5


def test_upright_stretch_goes_on_through_dark_ink_beside_it():
    # As above, but the first rows of the upright stretch (99-106) lie in a wide dark
    # blot (text, a crossing stroke): no narrow run of bare ink there. The stroke goes on,
    # upright, through the rows next to it where the scan is dark at its column.
    h = 240
    masks, ink = _upright_scene(h)
    ink[99:107, 52:72] = True  # the blot
    image = np.where(ink[..., None], 0, 255).astype(np.uint8).repeat(3, axis=2)
    _, d = trace(masks, _pair_layout(h), image=image)
    rows = np.arange(h)
    assert np.abs(d.x - _upright_bend(rows))[100:131].max() < 1.0


def test_dashed_curve_takes_back_a_stretch_a_few_pixels_off_its_dashes():
    # As in the take-back test above, but the stretch labelled solid stops 3 rows short
    # of the dashes on either side (the network left those rows out of both classes).

    h = 240
    masks, (_, stolen, _) = _stolen_stretch(h)
    masks[1, 100:103] &= ~stolen[100:103]
    masks[1, 133:136] &= ~stolen[133:136]
    rows = np.arange(h)
    _, d = trace(masks, _pair_layout(h))
    assert np.abs(d.x - _bend(rows))[103:133].max() < 1.5
    _, bridged = trace(masks, _pair_layout(h), max_gap=40, cues=Cues(take_reach=2))
    assert np.abs(bridged.x - _bend(rows))[103:133].max() > 4


def test_hidden_stretch_reaches_the_rows_where_the_curves_merge():
    # Worked by hand: a dashed curve at x = 50 loses its ink in rows 10-19 (a long gap)
    # while the solid curve runs 5 px beside it, so it runs hidden under the solid one
    # there. Rows 6-9 show its ink merging into the solid stroke: rows 8-9 take the solid
    # curve's x too, row 7 (12 px apart) and the rows above it keep their own; rows 20-21
    # are not merged and keep theirs.
    from logdigit.trace.tracer import _hidden_under

    xd = np.full(30, 50.0)
    xs = np.full(30, 55.0)
    xs[7] = 62.0
    ink = np.zeros((30, 80), bool)
    ink[:, 50] = True
    ink[10:20] = False
    ink[2:5] = ink[24:27] = False  # the pen's own dash gaps: 10 rows is far longer
    merged = np.zeros(30, bool)
    merged[6:10] = True
    out = _hidden_under(xd, xs, ink, merged)
    expected = xd.copy()
    expected[8:20] = 55.0
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(_hidden_under(xd, xs, ink), np.r_[xd[:10], xs[10:20], xd[20:]])


def test_median_per_tracklet_by_hand():
    from logdigit.trace.tracer import _build_tracklets, _find_runs, _median_per_tracklet

    window = np.zeros((10, 12), bool)
    window[0:6, 2] = True  # a stroke of 6 rows
    window[0:3, 8] = True  # a piece of 3 rows: too few to measure
    tk = _build_tracklets(_find_runs(window))
    runs = tk.runs
    value = runs.row.astype(float) * 10 + runs.start  # one value per run
    column = np.round(tk.head_x).astype(int).tolist()
    odd = dict(zip(column, _median_per_tracklet(tk, value, runs.row != 5), strict=True))  # stroke's last row left out
    assert odd[2] == 22.0  # rows 0-4: values 2, 12, 22, 32, 42
    assert np.isnan(odd[8])
    even = dict(zip(column, _median_per_tracklet(tk, value, np.ones(len(runs.row), bool)), strict=True))
    assert even[2] == 27.0  # rows 0-5: the mean of 22 and 32


def test_a_curve_alone_in_its_class_keeps_to_its_declared_ink():
    """A blue dashed curve, the only dashed one of its track, ends at row 99; from there the network
    also labels the red solid curve beside it dashed. The blue curve does not run on in red ink
    (issue #19: a curve alone in its line style ignored its colour); on a grey scan, where colour
    says nothing, it still may."""
    h, w = 200, 80
    blue, red = (0, 0, 204), (204, 0, 0)
    image = np.full((h, w, 3), 255, np.uint8)
    masks = np.zeros((3, h, w), bool)
    for r in range(100):
        if r % 8 < 5:  # dashes
            image[r, 19:22] = blue
            masks[2, r, 19:22] = True
    image[:, 44:47] = red
    masks[1, :, 44:47] = True
    masks[2, 100:, 44:47] = True  # the network's mistake: red ink labelled dashed below row 100
    masks[0] = ~(masks[1] | masks[2])
    curves = (CurveSpec("BLUE", 0, 1, line="dashed", color=blue), CurveSpec("RED", 0, 1, color=red))
    lay = _layout([Track(0, w - 1, "linear", curves)], h)
    out = {t.mnemonic: t.x for t in trace(masks, lay, image=image)}
    assert np.nanmax(np.abs(out["BLUE"][:95] - 20)) < 1.5
    assert not (np.abs(out["BLUE"][120:] - 45) < 3).any()  # never on the red curve
    grey = np.repeat(image.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    on_grey = {t.mnemonic: t.x for t in trace(masks, lay, image=grey)}
    assert np.isfinite(on_grey["BLUE"][:95]).all()


def _stranger_scan(h: int, strokes, stranger, inks):
    """A 120 px wide white scan with dashed strokes ``(column, colour, rows)`` in class 2, and a
    layout of a left track (columns 2-50) holding one dashed curve of ink ``stranger`` and a right
    track (50-110) holding dashed curves of ``inks`` (named by their index)."""
    image = np.full((h, 120, 3), 255, np.uint8)
    masks = np.zeros((3, h, 120), bool)
    dash = (np.arange(h) % 9) < 6
    for col, colour, rows in strokes:
        on = rows[dash[rows]]
        image[on, col : col + 2] = colour
        masks[2, on, col : col + 2] = True
    masks[0] = ~masks[2]
    left = Track(2, 50, curves=(CurveSpec("S", 0, 1, line="dashed", color=stranger),))
    right = Track(50, 110, curves=tuple(CurveSpec(f"C{i}", 0, 1, line="dashed", color=c) for i, c in enumerate(inks)))
    return image, masks, Layout(DepthSpec("PX", 1.0, ((0, 0), (h - 1, h - 1))), (left, right))


def test_a_curve_straying_in_from_the_next_track_is_no_ones_ink_here():
    """An orange curve of the left track runs inside the right track along its border; the right
    track's dashed magenta and teal curves split their pixels by colour, and the teal one, whose
    own ink stops at row 100 (hidden), does not take up the orange stroke (worked by hand)."""
    orange, magenta, teal = (255, 140, 0), (204, 0, 204), (0, 204, 204)
    rows = np.arange(200)
    strokes = ((53, orange, rows), (75, magenta, rows), (95, teal, rows[:100]))
    image, masks, lay = _stranger_scan(200, strokes, orange, (magenta, teal))
    _, mag, tl = trace(masks, lay, image=image)
    assert np.nanmax(np.abs(mag.x - 75.5)) < 1
    assert np.nanmax(np.abs(tl.x[:90] - 95.5)) < 1
    assert np.isnan(tl.x[110:]).all()  # not carried on along the stray stroke at column 53
    alone = Layout(lay.depth, lay.tracks[1:])  # without the left track's ink declared, a curve here takes it
    assert any(np.nanmin(np.abs(t.x - 53.5)) < 1 for t in trace(masks, alone, image=image))


def test_a_tinted_grey_stroke_stays_with_the_black_curve_beside_a_coloured_stranger():
    """The kind rule: a black curve printed as a greenish grey (chroma under 20) beside a blue
    one, with a green curve declared in the next track: the grey pixels stay the black curve's."""
    black, blue, green, grey = (0, 0, 0), (30, 60, 220), (0, 130, 40), (110, 135, 110)
    rows = np.arange(120)
    image, masks, lay = _stranger_scan(120, ((70, grey, rows), (95, blue, rows)), green, (black, blue))
    _, k, b = trace(masks, lay, image=image)
    assert np.nanmax(np.abs(k.x - 70.5)) < 1 and np.isfinite(k.x).mean() > 0.9
    assert np.nanmax(np.abs(b.x - 95.5)) < 1


def test_an_empty_class_in_a_track_of_several_inks_beside_a_stranger_traces_nothing():
    image, masks, lay = _stranger_scan(40, (), (0, 130, 40), ((0, 0, 0), (30, 60, 220)))
    assert all(np.isnan(t.x).all() for t in trace(masks, lay, image=image))
