"""Fit the statistics of real log curves that the synthetic generator draws its curves from.

Reads the public LAS and CSV logs of ``../shared/realdata/las`` (see the README there for what
each file is and its licence) and writes ``logdigit/data/curve_stats.json``: per curve family
(gr, sp, res, sonic, density, neutron, caliper), on the family's usual print scale as a fraction
of track width,

* quantiles of the mean and of the standard deviation in 30 m windows (a sheet's worth of log);
* quantiles of the standardised value within a window (the shape of the value distribution);
* quantiles of bed thickness in metres (spacing of the signal's prominent extrema);
* the spectral slope beta of the power spectrum (P ~ f^-beta, 0.1-2 cycles/m);
* the autocorrelation length in metres (lag where it first falls below 1/e);
* spikes per metre (one- or two-sample excursions) and quantiles of their size.

Only these numbers are saved, with each source's citation and licence; no data is copied.

    make fit-curve-stats      # = python benchmarks/fit_curve_stats.py (~5 s)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LEVELS = [round(q, 2) for q in np.linspace(0.0, 1.0, 21)]
"""Quantile levels saved for every distribution (0, 0.05, ..., 1; the ends are the 0.5 % and 99.5 %)."""

WINDOW_M = 30.0

SOURCES = {
    "alma": {
        "file": "ALMA_3_D399_CNSOPB.las",
        "citation": "Alma 3 (D399), Sable Island offshore Nova Scotia; scienxlab/datasets, cnsopb/",
        "licence": "CC BY-SA 4.0 (Canada-Nova Scotia Offshore Petroleum Board)",
    },
    "scorpio": {
        "file": "6038187_v1.2.las",
        "citation": "bore 'Scorpio E1' (6038187_v1.2.las); kinverarity1/lasio, tests/examples/",
        "licence": "MIT (lasio)",
    },
    "kgs": {
        "file": "kgs_panoma_training_data.csv",
        "citation": "Panoma/Hugoton field, Kansas, 10 wells (SEG 2016 machine-learning contest); "
        "scienxlab/datasets, kgs/. The source of this material is the Kansas Geological Survey "
        "website at http://www.kgs.ku.edu/. All Rights Reserved.",
        "licence": "use and redistribution granted with the citation above",
    },
}

# family: (print scale left, right, unit), [(source, curve, to-scale-unit function, valid range)]
FAMILIES = {
    "gr": (
        (0.0, 150.0, "GAPI"),
        [("alma", "GR", None, (0, 400)), ("scorpio", "GAMN", None, (0, 400)), ("kgs", "GR", None, (0, 400))],
    ),
    "sp": ((-80.0, 20.0, "MV"), [("scorpio", "SP", "sp", (-500, 500))]),
    "res": ((np.log10(0.2), np.log10(2000.0), "log10 OHMM"), [("kgs", "ILD_log10", None, (-2, 4))]),
    "sonic": ((140.0, 40.0, "US/F"), [("alma", "DT4P", "us/m", (100, 700))]),
    "density": ((1.95, 2.95, "G/C3"), [("alma", "RHOB", "kg/m3", (1000, 3300)), ("scorpio", "DFAR", None, (1.0, 3.3))]),
    "neutron": ((0.45, -0.15, "V/V"), [("alma", "NPOR", None, (-0.2, 1.0)), ("kgs", "PHIND", "percent", (-20, 100))]),
    "caliper": ((6.0, 16.0, "IN"), [("alma", "CALI", "mm", (50, 800))]),
}

CONVERT = {
    None: lambda v: v,
    "us/m": lambda v: v / 3.28084,
    "kg/m3": lambda v: v / 1000.0,
    "percent": lambda v: v / 100.0,
    "mm": lambda v: v / 25.4,
    "sp": lambda v: v - np.nanmedian(v) - 10.0,  # SP has no absolute zero: shale baseline near the right
}


def _series(root: Path):
    """{source: [(depth m float64 (n,), {curve: float64 (n,)})]}, one entry per well."""
    import lasio
    import pandas as pd

    out = {}
    for key in ("alma", "scorpio"):
        las = lasio.read(root / SOURCES[key]["file"])
        df = las.df()
        out[key] = [(df.index.to_numpy(float), {c: df[c].to_numpy(float) for c in df.columns})]
    kgs = pd.read_csv(root / SOURCES["kgs"]["file"])
    out["kgs"] = [
        (g["Depth"].to_numpy(float), {c: g[c].to_numpy(float) for c in ("GR", "ILD_log10", "PHIND")})
        for _, g in kgs.sort_values("Depth").groupby("Well Name")
    ]
    return out


def _fraction(values, scale):
    left, right, _ = scale
    return (values - left) / (right - left)


def _windows(depth, frac):
    """(mean, std, standardised values) of each 30 m window at least 80 % valid."""
    step = float(np.median(np.diff(depth)))
    n = max(int(round(WINDOW_M / step)), 8)
    means, stds, zs = [], [], []
    for i in range(0, len(frac) - n + 1, n):
        w = frac[i : i + n]
        ok = np.isfinite(w)
        if ok.mean() < 0.8 or np.nanstd(w) == 0:
            continue
        means.append(np.nanmean(w))
        stds.append(np.nanstd(w))
        zs.append((w[ok] - means[-1]) / stds[-1])
    return means, stds, zs


def _beds(depth, frac):
    """Spacing (m) of successive prominent extrema: the thickness of the log's beds."""
    from scipy.signal import find_peaks

    ok = np.isfinite(frac)
    x, d = frac[ok], depth[ok]
    prom = 0.25 * np.std(x)  # a bed: a swing of a quarter of the log's spread, not tool noise
    peaks = np.sort(np.concatenate([find_peaks(x, prominence=prom)[0], find_peaks(-x, prominence=prom)[0]]))
    return np.diff(d[peaks])


def _spectrum(depth, frac):
    """Spectral slope beta (P ~ f^-beta over 0.1-2 cycles/m) and the 1/e autocorrelation length (m)."""
    from scipy.signal import detrend, welch

    step = float(np.median(np.diff(depth)))
    x = frac[np.isfinite(frac)]
    x = detrend(x)
    f, p = welch(x, fs=1.0 / step, nperseg=min(len(x), int(round(80.0 / step))))
    band = (f >= 0.1) & (f <= min(2.0, 0.4 / step))
    beta = -np.polyfit(np.log(f[band]), np.log(p[band]), 1)[0]
    x = x - x.mean()
    acf = np.correlate(x[:4000], x[:4000], "full")[min(len(x), 4000) - 1 :]
    acf = acf / acf[0]
    below = np.flatnonzero(acf < 1 / np.e)
    return float(beta), float((below[0] if len(below) else len(acf)) * step)


def _spikes(depth, frac):
    """Spikes per metre and their sizes: samples that leave a 5-sample running median by more
    than 6 robust deviations of the residual and 0.02 of track width."""
    from scipy.signal import medfilt

    ok = np.isfinite(frac)
    x = frac[ok]
    resid = x - medfilt(x, 5)
    mad = 1.4826 * np.median(np.abs(resid)) + 1e-9
    spike = (np.abs(resid) > 6 * mad) & (np.abs(resid) > 0.02)
    length = float(depth[ok][-1] - depth[ok][0])
    return float(spike.sum() / length), np.abs(resid[spike])


def _q(values) -> list[float]:
    v = np.asarray(values, float)
    levels = np.clip(LEVELS, 0.005, 0.995)
    return [round(float(q), 5) for q in np.quantile(v, levels)]


def fit(root: Path) -> dict:
    data = _series(root)
    families = {}
    for family, (scale, curves) in FAMILIES.items():
        means, stds, zs, beds, betas, acfs, rates, amps, used = [], [], [], [], [], [], [], [], []
        for source, curve, unit, (lo, hi) in curves:
            for depth, cols in data[source]:
                v = cols[curve].copy()
                v[(v < lo) | (v > hi)] = np.nan
                if np.isfinite(v).sum() < 100:
                    continue
                frac = _fraction(CONVERT[unit](v), scale)
                m, s, z = _windows(depth, frac)
                means += m
                stds += s
                zs += z
                beds.append(_beds(depth, frac))
                beta, acf = _spectrum(depth, frac)
                betas.append(beta)
                acfs.append(acf)
                rate, amp = _spikes(depth, frac)
                rates.append(rate)
                amps.append(amp)
            used.append(f"{source}:{curve}")
        amp_all = np.concatenate(amps)
        families[family] = {
            "scale": [round(float(scale[0]), 4), round(float(scale[1]), 4), scale[2]],
            "curves": used,
            "windows": len(means),
            "window_mean_q": _q(means),
            "window_std_q": _q(stds),
            "z_q": _q(np.concatenate(zs)),
            "bed_m_q": _q(np.concatenate(beds)),
            "spectral_slope": round(float(np.median(betas)), 3),
            "acf_length_m": round(float(np.median(acfs)), 3),
            "spikes_per_m": round(float(np.median(rates)), 4),
            "spike_size_q": _q(amp_all) if len(amp_all) >= 5 else _q([0.02, 0.05]),
        }
    return {
        "about": "Statistics of real log curves on each family's print scale, as fractions of track "
        "width (benchmarks/fit_curve_stats.py). Fitted numbers only: no sample of the sources is stored.",
        "command": "python benchmarks/fit_curve_stats.py",
        "quantile_levels": LEVELS,
        "window_m": WINDOW_M,
        "sources": {k: {kk: vv for kk, vv in v.items()} for k, v in SOURCES.items()},
        "families": families,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--realdata", default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "las")
    )
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1] / "logdigit" / "data" / "curve_stats.json")
    )
    args = ap.parse_args()
    root = Path(args.realdata)
    if not (root / SOURCES["alma"]["file"]).is_file():
        raise SystemExit(f"{root}: the real logs are missing ({SOURCES['alma']['file']}); pass --realdata DIR")
    from logdigit.io.atomic import write_text_atomic

    stats = fit(root)
    write_text_atomic(args.out, json.dumps(stats, indent=1) + "\n")
    for name, f in stats["families"].items():
        print(
            f"{name:8s} windows {f['windows']:4d}  mean {f['window_mean_q'][10]:.2f}  std {f['window_std_q'][10]:.3f}  "
            f"bed {f['bed_m_q'][10]:.2f} m  beta {f['spectral_slope']:.2f}  acf {f['acf_length_m']:.2f} m  "
            f"spikes/m {f['spikes_per_m']:.3f}"
        )


if __name__ == "__main__":
    main()
