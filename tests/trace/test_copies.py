"""Scaled copies of one log read as one value per row (logdigit.trace.copies), worked by hand.

A track of columns 0..100; a base curve 0-20, an amplified copy 0-4 and an over-range copy
0-200 (all linear, left value 0). At value v the base is at column 5 v (drawn for v <= 20), the
amplified copy at 25 v (v <= 4) and the over-range copy at v / 2 (only where v > 20).
"""

import numpy as np

from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.trace import PixelTrace
from logdigit.trace.copies import CopyOptions, reconcile_copies


def _layout(*, copies: bool = True) -> Layout:
    curves = (
        CurveSpec("RES", 0, 20, color=(204, 0, 0)),
        CurveSpec("RES_AMP", 0, 4, color=(204, 0, 0), copy_of="RES" if copies else ""),
        CurveSpec("RES_OVR", 0, 200, color=(204, 0, 0), copy_of="RES" if copies else ""),
    )
    return Layout(depth=DepthSpec("FT", 1, ((0, 0), (9, 9))), tracks=(Track(0, 100, "linear", curves),))


def _traces(res, amp, ovr, *, filled=((), (), ())):
    cols = [np.asarray(c, float) for c in (res, amp, ovr)]
    names = ("RES", "RES_AMP", "RES_OVR")
    return [PixelTrace(n, 0, 0, c, filled=f) for n, c, f in zip(names, cols, filled, strict=True)]


NAN = np.nan


def test_swapped_strokes_go_back_to_the_curve_whose_scale_they_fit():
    # v = 2, 3, 2: RES at 10, 15, 10; RES_AMP at 50, 75, 50. The tracer swapped them on row 1 and
    # sent the over-range copy (not drawn below 20) onto RES's stroke on row 2.
    traces = _traces([10, 75, 10], [50, 15, 50], [NAN, NAN, 10])
    out = reconcile_copies(traces, _layout())
    np.testing.assert_allclose(out[0].x, [10, 15, 10])
    np.testing.assert_allclose(out[1].x, [50, 75, 50])
    assert np.isnan(out[2].x).all()


def test_past_the_base_scale_only_the_over_range_copy_is_drawn():
    # v = 16, 19, 24, 60: RES at 80 and 95, then past its right edge, where only RES_OVR is drawn,
    # at 12 and 30. The tracer followed the ink with RES throughout; the amplified copy is off its
    # scale on every row.
    traces = _traces([80, 95, 12, 30], [NAN] * 4, [NAN] * 4)
    out = reconcile_copies(traces, _layout())
    np.testing.assert_allclose(out[0].x, [80, 95, NAN, NAN])
    assert np.isnan(out[1].x).all()
    np.testing.assert_allclose(out[2].x, [NAN, NAN, 12, 30])


def test_nothing_is_invented_where_a_member_has_no_stroke():
    # v = 2: RES at 10 and RES_AMP at 50 should both show, but only the stroke at 10 was traced (by
    # both). It is read as one of them; the other gets no value rather than a made-up column.
    out = reconcile_copies(_traces([10], [10], [NAN]), _layout())
    got = sorted(np.nan_to_num([out[0].x[0], out[1].x[0]], nan=-1.0).tolist())
    assert got == [-1.0, 10.0] and np.isnan(out[2].x).all()


def test_an_interpolated_stroke_stays_flagged_as_filled():
    traces = _traces([10, 12, 14], [50, 60, 70], [NAN] * 3, filled=(((1, 1),), (), ()))
    out = reconcile_copies(traces, _layout())
    assert out[0].filled == ((1, 1),) and out[1].filled == ()
    # swapped on the filled row: the flag follows the stroke to the curve that takes it
    swapped = _traces([10, 60, 14], [50, 12, 70], [NAN] * 3, filled=(((1, 1),), (), ()))
    out = reconcile_copies(swapped, _layout())
    np.testing.assert_allclose(out[0].x, [10, 12, 14])
    assert out[0].filled == () and out[1].filled == ((1, 1),)


def test_without_copy_of_the_traces_are_left_alone():
    traces = _traces([10, 75], [50, 15], [NAN, 10])
    out = reconcile_copies(traces, _layout(copies=False))
    assert all(a is b for a, b in zip(out, traces, strict=True))


def test_continuity_picks_between_readings_that_fit_equally():
    # One stroke at column 40 on every row fits RES at v = 8 (the amplified copy, off its scale,
    # is not expected) and RES_OVR at v = 80 (RES past its scale) equally; the row above decides:
    # coming from v = 7.6 (RES at 38, the amplified copy off its scale) it stays RES.
    traces = _traces([38, 40, 40], [NAN] * 3, [NAN, 40, 40])
    out = reconcile_copies(traces, _layout(), CopyOptions())
    np.testing.assert_allclose(out[0].x, [38, 40, 40])
    assert np.isnan(out[2].x).all()


def test_the_pipeline_reads_a_declared_over_range_copy_only_where_it_is_drawn(tmp_path):
    """End to end (digitise with the ink's own probabilities): one red pen draws RES 0-20 while the
    value is below 20 and RES_OVR 0-200 above it. With copy_of, RES_OVR has no value where RES is
    on its scale and RES none past it."""
    import cv2

    from logdigit.pipeline import InferOptions, digitise

    h, w, left, right = 240, 140, 20, 120
    rows = np.arange(h)
    value = np.where(rows < 120, 6 + rows * 0.1, 26 + (rows - 120) * 0.5)  # 6..17.9, then 26..85.5
    frac = np.where(value <= 20, value / 20, value / 200)
    image = np.full((h, w, 3), 255, np.uint8)
    cols = left + frac * (right - left)
    for r in range(h - 1):
        if (value[r] <= 20) == (value[r + 1] <= 20):  # the pen lifts where the curve leaves its scale
            cv2.line(image, (round(cols[r]), r), (round(cols[r + 1]), r + 1), (204, 0, 0), 2)
    ink = (image[..., 1] < 128).astype(np.float32)
    probs = np.stack([1 - ink, ink, np.zeros_like(ink)]).astype(np.float32)
    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), image[..., ::-1])
    depth = DepthSpec("FT", 1, ((0, 1000), (h - 1, 1000 + h - 1)))

    def run(copy: str):
        curves = (
            CurveSpec("RES", 0, 20, color=(204, 0, 0)),
            CurveSpec("RES_OVR", 0, 200, color=(204, 0, 0), copy_of=copy),
        )
        lay = Layout(depth=depth, tracks=(Track(left, right, "linear", curves),))
        got = digitise(path, layout=lay, options=InferOptions(device="cpu"), probs=probs)
        return {c.mnemonic: c.values for c in got.curves.curves}, got.curves.depth

    values, depth_index = run("RES")
    on_scale = np.interp(depth_index - 1000, rows, value) <= 20
    res, ovr = values["RES"], values["RES_OVR"]
    assert np.isfinite(res[on_scale]).mean() > 0.9 and not np.isfinite(res[~on_scale][2:]).any()
    assert np.isfinite(ovr[~on_scale]).mean() > 0.9 and not np.isfinite(ovr[on_scale][:-2]).any()
    near = np.isfinite(res) & on_scale
    np.testing.assert_allclose(res[near], np.interp(depth_index[near] - 1000, rows, value), atol=0.5)
    plain, _ = run("")
    # without the declaration RES takes the over-range stroke too, read on its own scale (26-85 as 2.6-8.5)
    assert np.isfinite(plain["RES"][~on_scale]).all() and not np.isfinite(plain["RES_OVR"]).any()
