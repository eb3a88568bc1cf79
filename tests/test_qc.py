"""draw_qc / write_qc: overlay contents and atomic writing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from logdigit.errors import InputError, OutputError
from logdigit.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.qc import PALETTE, draw_qc, write_qc
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
