"""Curves hidden under another curve of the track (logdigit.trace.hidden), worked by hand."""

import numpy as np

from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.quality import FLAGS, flag_rows
from logdigit.trace import PixelTrace
from logdigit.trace.hidden import HiddenOptions, follow_hidden

NAN = np.nan


def _layout(copy_of: str = "") -> Layout:
    curves = (CurveSpec("DEEP", 0, 20, line="dashed"), CurveSpec("SHALLOW", 0, 20, copy_of=copy_of))
    return Layout(depth=DepthSpec("FT", 1, ((0, 0), (99, 99))), tracks=(Track(0, 100, "linear", curves),))


def _deep(gap=(20, 60), left=30.0, right=31.0, n=80):
    x = np.full(n, left)
    x[gap[1] :] = right
    x[gap[0] : gap[1]] = NAN
    return PixelTrace("DEEP", 0, 0, x)


def test_a_gap_under_another_curve_takes_its_columns_and_is_flagged():
    shallow = PixelTrace("SHALLOW", 0, 0, np.linspace(32.0, 36.0, 80))
    out = follow_hidden([_deep(), shallow], _layout())
    deep = out[0]
    np.testing.assert_allclose(deep.x[20:60], shallow.x[20:60])
    np.testing.assert_allclose(deep.x[:20], 30.0)
    assert deep.hidden == ((20, 59),) and out[1] is shallow
    codes = flag_rows(deep, None, low=0.5)
    assert {FLAGS[c] for c in codes[20:60]} == {"hidden"} and {FLAGS[c] for c in codes[:20]} == {"ok"}


def test_a_gap_is_left_null_when_no_curve_runs_along_both_ends():
    far = PixelTrace("SHALLOW", 0, 0, np.full(80, 50.0))  # 20 px away at both ends
    assert follow_hidden([_deep(), far], _layout())[0].hidden == ()
    near_one_end = PixelTrace("SHALLOW", 0, 0, np.r_[np.full(40, 32.0), np.full(40, 60.0)])
    assert np.isnan(follow_hidden([_deep(), near_one_end], _layout())[0].x[20:60]).all()
    broken = np.full(80, 32.0)
    broken[40] = NAN  # the covering curve itself has a hole in the gap
    assert follow_hidden([_deep(), PixelTrace("SHALLOW", 0, 0, broken)], _layout())[0].hidden == ()
    shallow = PixelTrace("SHALLOW", 0, 0, np.full(80, 32.0))
    tight = follow_hidden([_deep(), shallow], _layout(), HiddenOptions(reach=1.0))
    assert tight[0].hidden == ()


def test_a_gap_at_either_end_of_the_trace_is_left_null():
    x = np.r_[np.full(30, NAN), np.full(50, 31.0)]
    out = follow_hidden([PixelTrace("DEEP", 0, 0, x), PixelTrace("SHALLOW", 0, 0, np.full(80, 32.0))], _layout())
    assert np.isnan(out[0].x[:30]).all() and out[0].hidden == ()


def test_scaled_copies_do_not_cover_each_other():
    layout = Layout(
        depth=DepthSpec("FT", 1, ((0, 0), (99, 99))),
        tracks=(Track(0, 100, "linear", (CurveSpec("DEEP", 0, 20), CurveSpec("SHALLOW", 0, 4, copy_of="DEEP"))),),
    )
    shallow = PixelTrace("SHALLOW", 0, 0, np.full(80, 32.0))
    assert follow_hidden([_deep(), shallow], layout)[0].hidden == ()
