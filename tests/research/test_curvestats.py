import numpy as np
import pytest

from logdigit.research.curvestats import FAMILIES, load_curve_stats, real_curve


def test_stats_cite_every_source_and_hold_no_data():
    stats = load_curve_stats()
    assert set(stats["families"]) == set(FAMILIES)
    for src in stats["sources"].values():
        assert src["citation"] and src["licence"]
    for fam in stats["families"].values():
        for key, value in fam.items():
            if isinstance(value, list) and key != "curves" and key != "scale":
                assert len(value) == len(stats["quantile_levels"])  # quantiles, never samples
                assert value == sorted(value)


@pytest.mark.parametrize("family", FAMILIES)
def test_real_curve_is_seeded_and_finite(family):
    a = real_curve(300, family, rows_per_m=8.0, rng=3)
    b = real_curve(300, family, rows_per_m=8.0, rng=3)
    assert a.shape == (300,) and a.dtype == np.float64 and np.isfinite(a).all()
    assert np.array_equal(a, b)


def test_real_curve_follows_the_fitted_window_statistics():
    st = load_curve_stats()["families"]["gr"]
    means = [real_curve(400, "gr", rows_per_m=10.0, rng=i).mean() for i in range(60)]
    lo, hi = st["window_mean_q"][0], st["window_mean_q"][-1]
    assert lo - 0.1 <= np.median(means) <= hi + 0.1
    # beds: the signal is smooth between beds, not white noise
    x = real_curve(400, "gr", rows_per_m=10.0, rng=1)
    assert np.corrcoef(x[:-1], x[1:])[0, 1] > 0.8


def test_unknown_family_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid"):
        real_curve(10, "xyz", rows_per_m=1.0, rng=0)
