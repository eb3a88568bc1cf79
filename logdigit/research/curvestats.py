"""Curve shapes with the statistics of real logs.

``logdigit/data/curve_stats.json`` holds, per curve family (gr, sp, res, sonic, density,
neutron, caliper), statistics fitted on public LAS and CSV logs by
``benchmarks/fit_curve_stats.py`` (the file names each source, its citation and licence; it
holds no data). :func:`real_curve` draws a bedded signal with those statistics: beds of the
fitted thickness, a fractal texture of the fitted spectral slope, the fitted value distribution
within a window and the fitted mean and spread of a window, and spikes at the fitted rate.

>>> frac = real_curve(200, "gr", rows_per_m=10.0, rng=0)
>>> frac.shape, frac.dtype
((200,), dtype('float64'))
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import cv2
import numpy as np

FAMILIES = ("gr", "sp", "res", "sonic", "density", "neutron", "caliper")


@cache
def load_curve_stats() -> dict:
    """The fitted statistics (``logdigit/data/curve_stats.json``) as a dict."""
    text = resources.files("logdigit").joinpath("data/curve_stats.json").read_text()
    return json.loads(text)


def _draw(q: list[float], rng: np.random.Generator, size=None):
    """Samples from a distribution given by its quantiles at evenly spaced levels (inverse CDF)."""
    levels = np.linspace(0.0, 1.0, len(q))
    return np.interp(rng.random(size), levels, q)


def real_curve(n: int, family: str, *, rows_per_m: float, rng=None) -> np.ndarray:
    """A bedded log of ``n`` rows with family ``family``'s statistics, as track fractions.

    Args:
        n: rows.
        family: one of :data:`FAMILIES`.
        rows_per_m: pixel rows per metre of depth (the print's depth scale).
        rng: seed or ``np.random.Generator``.

    Returns:
        float64 (n,): the curve's position as a fraction of the track (0 left edge, 1 right),
        on the family's usual print scale; values outside [0, 1] are off scale.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown curve family {family!r}; valid: {list(FAMILIES)}")
    rng = np.random.default_rng(rng)
    st = load_curve_stats()["families"][family]
    z = _standard_shape(n, st, rows_per_m, rng)
    mean = float(_draw(st["window_mean_q"], rng))
    std = float(_draw(st["window_std_q"], rng)) * rng.uniform(0.8, 1.6)
    frac = mean + std * z
    n_spikes = rng.poisson(st["spikes_per_m"] * n / rows_per_m)
    for _ in range(int(n_spikes)):
        r = int(rng.integers(n))
        frac[r : r + int(rng.integers(1, 3))] += float(_draw(st["spike_size_q"], rng)) * rng.choice([-1.0, 1.0])
    return frac


def _standard_shape(n: int, st: dict, rows_per_m: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean unit-spread signal: beds plus fractal texture, mapped to the fitted value shape."""
    # Beds: thicknesses from the fitted distribution, each a random level.
    thick = np.maximum(_draw(st["bed_m_q"], rng, n + 2) * rows_per_m, 1.0)
    edges = np.cumsum(thick)
    bed = np.searchsorted(edges[: np.searchsorted(edges, n) + 1], np.arange(n), side="right")
    blocky = rng.normal(0, 1, bed.max() + 1)[bed]
    tool = max(0.25 * rows_per_m * rng.uniform(0.5, 1.5), 0.6)  # the tool's vertical resolution
    blocky = cv2.GaussianBlur(blocky.reshape(-1, 1), (0, 0), tool)[:, 0]
    # Texture: power spectrum f^-beta (f in cycles per metre).
    m = 1 << int(np.ceil(np.log2(max(n, 8)) + 1))
    f = np.fft.rfftfreq(m, d=1.0 / rows_per_m)
    amp = np.zeros_like(f)
    amp[1:] = f[1:] ** (-st["spectral_slope"] / 2)
    spec = amp * (rng.normal(size=len(f)) + 1j * rng.normal(size=len(f)))
    texture = np.fft.irfft(spec, m)[:n]
    w = rng.uniform(0.3, 0.8)
    z = w * _unit(blocky) + (1 - w) * _unit(texture)
    # Quantile mapping onto the fitted within-window value distribution (skewness, bimodality).
    ranks = (np.argsort(np.argsort(z, kind="stable"), kind="stable") + 0.5) / n
    return np.interp(ranks, np.linspace(0.0, 1.0, len(st["z_q"])), st["z_q"])


def _unit(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / s if s > 0 else x - x.mean()


__all__ = ["FAMILIES", "load_curve_stats", "real_curve"]
