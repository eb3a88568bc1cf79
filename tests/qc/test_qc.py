"""draw_qc / write_qc: overlay contents and atomic writing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from logdigit.errors import InputError, OutputError
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.qc.image import PALETTE, draw_qc, write_qc
from logdigit.trace import PixelTrace


def _setup():
    h, w = 60, 80
    image = np.full((h, w, 3), 200, np.uint8)
    image[:, 40] = 0
    layout = Layout(
        DepthSpec("PX", 1.0, ((0, 0), (h - 1, h - 1))),
        (
            Track(5, 35, curves=(CurveSpec("GR", 0, 150), CurveSpec("SP", -80, 20, line="dashed"))),
            Track(45, 75, curves=(CurveSpec("ILD", 0.2, 2000),)),
        ),
    )
    x_gr = np.full(h, 12.2)
    x_sp = np.linspace(20.0, 30.0, h)
    x_sp[25:35] = np.nan
    x_ild = np.full(h, 60.0)
    x_ild[::7] = np.nan  # single-row gaps
    traces = [PixelTrace("GR", 0, 0, x_gr), PixelTrace("SP", 0, 0, x_sp), PixelTrace("ILD", 1, 0, x_ild)]
    return image, traces, layout


def test_shape_dtype_and_input_untouched():
    image, traces, layout = _setup()
    before = image.copy()
    xs_before = [t.x.copy() for t in traces]
    out = draw_qc(image, traces, layout)
    assert out.shape == image.shape and out.dtype == np.uint8 and out is not image
    np.testing.assert_array_equal(image, before)
    for t, x in zip(traces, xs_before, strict=True):
        np.testing.assert_array_equal(t.x, x)


def test_traced_pixels_have_the_curve_colour():
    image, traces, layout = _setup()
    out = draw_qc(image, traces, layout)
    for k, tr in enumerate(traces):
        if k == 1:
            continue  # SP is dashed: see test_dashed_curve_is_drawn_dashed
        ok = np.isfinite(tr.x)
        rows, x = tr.rows[ok], tr.x[ok]
        at_floor = (out[rows, np.floor(x).astype(int)] == PALETTE[k]).all(axis=1)
        at_ceil = (out[rows, np.ceil(x).astype(int)] == PALETTE[k]).all(axis=1)
        assert (at_floor | at_ceil).all(), tr.mnemonic  # 1 px line through the sub-pixel x
        whole = np.isclose(x, np.round(x), atol=0.4)
        assert (out[rows[whole], np.round(x[whole]).astype(int)] == PALETTE[k]).all()


def test_gaps_are_not_joined_and_scan_is_faded():
    image, traces, layout = _setup()
    out = draw_qc(image, traces, layout, legend=False)
    sp_colour = np.array(PALETTE[1])
    assert not (out[26:34, 18:33] == sp_colour).all(axis=2).any()  # SP's NaN rows stay empty
    assert (out[50, 20] > image[50, 20]).all()  # faded toward white
    assert (out[30, 40] < 200).all()  # ink still visible
    assert (out[30, 5] == (110, 110, 110)).all() and (out[30, 75] == (110, 110, 110)).all()


def test_legend_names_curves():
    image, traces, layout = _setup()
    with_legend = draw_qc(image, traces, layout)
    without = draw_qc(image, traces, layout, legend=False)
    assert (with_legend[:25, 5:35] != without[:25, 5:35]).any()


def test_fade_range_and_bad_image():
    image, traces, layout = _setup()
    with pytest.raises(ValueError, match="fade"):
        draw_qc(image, traces, layout, fade=2.0)
    with pytest.raises(InputError, match=r"uint8 \(H, W, 3\)"):
        draw_qc(image[..., 0], traces, layout)


def test_write_qc_round_trip_rgb(tmp_path):
    overlay = np.zeros((4, 5, 3), np.uint8)
    overlay[..., 0] = 255  # pure red in RGB
    path = write_qc(tmp_path / "qc.png", overlay)
    back = cv2.imread(str(path), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(back[..., ::-1], overlay)  # BGR on disk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qc.png"]  # no temporary left


def test_write_qc_errors(tmp_path):
    overlay = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(OutputError, match="does not exist"):
        write_qc(tmp_path / "missing" / "qc.png", overlay)
    with pytest.raises(OutputError, match="use a .png"):
        write_qc(tmp_path / "qc.unknownext", overlay)
    assert list(tmp_path.iterdir()) == []


def test_dashed_curve_is_drawn_dashed():
    image, traces, layout = _setup()
    out = draw_qc(image, traces, layout, legend=False)
    sp = (out[:, 18:33] == np.array(PALETTE[1])).all(axis=2).any(axis=1)  # rows with SP's colour
    # on 8 px, off 4 px along a near-vertical path (slope 10/59): rows 0-7 drawn, 8-11 not, 12-19 drawn
    assert sp[:8].all() and not sp[9:11].any() and sp[13:19].all()


def test_ink_colour_from_the_layout():
    image, traces, layout = _setup()
    inked = Layout(
        layout.depth,
        (
            Track(5, 35, curves=(CurveSpec("GR", 0, 150, color=(0, 204, 0)), CurveSpec("SP", -80, 20, line="dashed"))),
            layout.tracks[1],
        ),
    )
    out = draw_qc(image, traces, inked, legend=False)
    assert (out[40, 12] == (0, 204, 0)).all()  # GR at x 12.2 in its ink, not the palette


def test_flags_halo_the_curve_and_ticks_mark_depths():
    image, traces, layout = _setup()
    plain = draw_qc(image, traces, layout, legend=False)
    flagged = draw_qc(image, traces, layout, legend=False, flags={"GR": [(40, 49, "interpolated")]})
    changed = (plain != flagged).any(axis=2)
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 37 and rows.max() <= 52 and changed[42:48, 10].all() and changed[42:48, 14].all()
    assert cols.min() >= 9 and cols.max() <= 16  # a halo along GR (x 12.2) alone, not the track
    alike = draw_qc(image, traces, layout, legend=False, flags={"GR": [(0, 59, "look-alike")]})
    assert np.array_equal(alike, plain)  # a look-alike curve is said in the legend, not drawn over
    faded = cv2.addWeighted(image, 0.35, np.full_like(image, 255), 0.65, 0.0)
    tick = (0, 87, 183)
    assert (plain[:, 5:9] == tick).all(axis=2).any()  # depth ticks and tie marks at the first track's edge
    assert not (faded == tick).all(axis=2).any()


def test_legend_is_legible_on_a_wide_image():
    h, w = 400, 2400
    image = np.full((h, w, 3), 255, np.uint8)
    layout = Layout(
        DepthSpec("PX", 1.0, ((0, 0), (h - 1, h - 1))), (Track(100, 1100, curves=(CurveSpec("GR", 0, 1),)),)
    )
    traces = [PixelTrace("GR", 0, 0, np.full(h, 600.0))]
    box = draw_qc(image, traces, layout)[:, 104:400] != draw_qc(image, traces, layout, legend=False)[:, 104:400]
    rows = np.flatnonzero(box.any(axis=(1, 2)))
    assert rows.max() - rows.min() >= 20  # the legend box is at least 20 px tall
