"""Look-alike curves' names settled over the whole log (logdigit.trace.identity), worked by hand."""

import numpy as np
import pytest

from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.trace import PixelTrace, trace_curves
from logdigit.trace.identity import IdentityOptions, settle, settle_identities

NAN = np.nan


def _layout(*names: str, copy_of: str = "", width: int = 100) -> Layout:
    curves = tuple(CurveSpec(m, 0, 1, copy_of=copy_of if i else "") for i, m in enumerate(names))
    return Layout(depth=DepthSpec("FT", 1, ((0, 0), (999, 999))), tracks=(Track(0, width, "linear", curves),))


def _twins(*xs: np.ndarray, names=("P", "T", "U")) -> list[PixelTrace]:
    names = names[: len(xs)]
    return [PixelTrace(m, 0, 0, x, twins=tuple(o for o in names if o != m)) for m, x in zip(names, xs, strict=True)]


def _touch_and_leave(n=600, at=300):
    """A curve by column 90 (tension by the edge) and one wandering near 40 that comes to run
    beside it for ~40 rows at ``at`` and goes back; the tracer swapped the names in the touch."""
    rows = np.arange(n, dtype=float)
    base = 40 + 8 * np.sin(rows / 23.0)
    wander = base + (88 - base) * np.exp(-(((rows - at) / 40) ** 6))  # by 88 for ~70 rows
    edge = np.full(n, 90.0)
    return wander, edge, rows < at


def test_a_long_touch_is_settled_by_where_each_curve_usually_runs():
    wander, edge, before = _touch_and_leave()
    swapped_p = np.where(before, wander, edge)
    swapped_t = np.where(before, edge, wander)
    out = settle_identities(_twins(swapped_p, swapped_t), _layout("P", "T"))
    np.testing.assert_allclose(out[0].x, wander, atol=4)  # in the touch, within its 4 px
    np.testing.assert_allclose(out[1].x, edge, atol=4)
    apart = np.abs(wander - edge) > 4
    np.testing.assert_array_equal(out[0].x[apart], wander[apart])


def test_a_clean_crossing_the_tracer_followed_is_no_event_and_is_kept():
    rows = np.arange(200, dtype=float)
    down, up = 10 + 0.4 * rows, 90 - 0.4 * rows  # an X at row 100, each curve on its slope
    ts = _twins(down, up)
    out = settle_identities(ts, _layout("P", "T"))
    assert out[0] is ts[0] and out[1] is ts[1]


def test_a_restart_far_across_the_track_is_settled_by_where_each_curve_runs():
    """The tracer's restarts: the trace named P jumps from the edge curve onto the wandering one
    across a gap at row 400, the trace named T jumps the other way within one row at row 430."""
    rows = np.arange(800, dtype=float)
    wander, edge = 40 + 10 * np.sin(rows / 30), np.full(800, 90.0)
    p = np.where(rows < 400, edge, wander)
    p[400:410] = NAN
    t = np.where(rows < 430, wander, edge)
    out = settle_identities(_twins(p, t), _layout("P", "T"))
    np.testing.assert_array_equal(out[0].x[:400], wander[:400])
    np.testing.assert_array_equal(out[1].x[:400], edge[:400])
    np.testing.assert_array_equal(out[0].x[430:], wander[430:])
    np.testing.assert_array_equal(out[1].x[430:], edge[430:])


def test_names_columns_and_flags_move_together_and_nothing_is_invented():
    wander, edge, before = _touch_and_leave()
    a, b = np.where(before, wander, edge), np.where(before, edge, wander)
    a[500:505] = NAN  # a short gap of the trace named P, after the touch: it is on the edge ink
    wrap_b = np.zeros(600, np.int8)
    wrap_b[550:560] = 1
    ts = [
        PixelTrace("P", 0, 0, a, twins=("T",), filled=((100, 103),), margin=np.zeros(600)),
        PixelTrace("T", 0, 0, b, twins=("P",), wrap=wrap_b, filled=((520, 521),), margin=np.ones(600)),
    ]
    out = settle_identities(ts, _layout("P", "T"))
    for r in range(600):  # on every row the two columns are the two the tracer found
        got = sorted(np.nan_to_num(np.array([out[0].x[r], out[1].x[r]]), nan=-1))
        assert got == sorted(np.nan_to_num(np.array([a[r], b[r]]), nan=-1))
    assert out[0].filled == ((100, 103), (520, 521)) and out[1].filled == ()
    assert out[0].wrap is not None and out[0].wrap[550:560].tolist() == [1] * 10 and out[0].wrap.sum() == 10
    np.testing.assert_array_equal(out[0].margin[:299], 0.0)  # the touch splits within a row of 300
    np.testing.assert_array_equal(out[0].margin[302:], 1.0)
    assert np.isnan(out[1].x[500:505]).all()  # the gap moved with the edge curve's ink


def test_curves_that_are_not_twins_copies_or_of_unequal_rows_are_left_as_they_are():
    wander, edge, before = _touch_and_leave()
    a, b = np.where(before, wander, edge), np.where(before, edge, wander)
    alone = [PixelTrace("P", 0, 0, a), PixelTrace("T", 0, 0, b)]  # told apart by colour: no twins
    out = settle_identities(alone, _layout("P", "T"))
    assert out[0] is alone[0] and out[1] is alone[1]
    copies = _twins(a, b)
    out = settle_identities(copies, _layout("P", "T", copy_of="P"))  # copies are read with their base
    assert out[0] is copies[0] and out[1] is copies[1]
    short = [PixelTrace("P", 0, 0, a, twins=("T",)), PixelTrace("T", 0, 1, b[1:], twins=("P",))]
    out = settle_identities(short, _layout("P", "T"))
    assert out[0] is short[0] and out[1] is short[1]
    apart = _twins(np.full(600, 20.0), np.full(600, 80.0))  # never touch
    out = settle_identities(apart, _layout("P", "T"))
    assert out[0] is apart[0] and out[1] is apart[1]


def test_three_twins_two_of_them_swapped_at_a_long_touch():
    wander, edge, before = _touch_and_leave()
    third = np.full(600, 10.0)  # never touches the others
    out = settle_identities(
        _twins(third, np.where(before, wander, edge), np.where(before, edge, wander)), _layout("P", "T", "U")
    )
    np.testing.assert_array_equal(out[0].x, third)
    np.testing.assert_allclose(out[1].x, wander, atol=4)
    np.testing.assert_allclose(out[2].x, edge, atol=4)


def test_settle_is_the_identity_without_an_event_and_keeps_the_tracers_names():
    xs = np.vstack([np.full(50, 70.0), np.full(50, 30.0)])
    src = settle(xs, 100.0, IdentityOptions())
    np.testing.assert_array_equal(src, [[0] * 50, [1] * 50])  # nothing happened: left as traced
    rows = np.arange(400.0)
    xs = np.vstack([np.where(rows < 100, 70.0, 30.0), np.where(rows < 100, 30.0, 70.0)])  # both restart
    src = settle(xs, 100.0, IdentityOptions())
    assert src[0, 0] == 1 and src[0, 399] == 0  # renamed where the fewer rows are: the first 100


@pytest.mark.parametrize("n", [2, 3])
def test_settle_is_a_permutation_on_every_row(n):
    rng = np.random.default_rng(n)
    xs = np.cumsum(rng.normal(0, 1.5, (n, 400)), axis=1) + np.linspace(20, 80, n)[:, None]
    xs[rng.random((n, 400)) < 0.05] = NAN
    src = settle(xs, 100.0, IdentityOptions())
    assert (np.sort(src, axis=0) == np.arange(n)[:, None]).all()


def test_the_tracing_stage_settles_twins():
    """Through ``trace_curves``: two solid curves on a 1-bit scan, one by the right edge, one that
    comes to run beside it in the middle; each keeps its own ink at both ends."""
    masks = np.zeros((3, 600, 110), bool)
    wander, edge, _ = _touch_and_leave()
    for r in range(600):
        masks[1, r, int(round(wander[r])) - 1 : int(round(wander[r])) + 1] = True
        masks[1, r, 89:91] = True
    layout = Layout(
        depth=DepthSpec("FT", 1, ((0, 0), (599, 599))),
        tracks=(Track(2, 100, "linear", (CurveSpec("P", 0, 1), CurveSpec("T", 0, 1))),),
    )
    out = trace_curves(masks, layout)
    assert abs(out[1].x[0] - 89.5) < 1 and abs(out[1].x[-1] - 89.5) < 1
    assert abs(out[0].x[0] - wander[0]) < 2 and abs(out[0].x[-1] - wander[-1]) < 2
