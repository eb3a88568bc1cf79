"""Fit the per-row trace confidence (:mod:`logdigit.confidence`) and check it on held-out seeds.

Sheets of the ``val`` split, in the first generator's style (``CLASSIC_STYLE``, the shipped
network's training distribution), are traced the way ``logdigit evaluate`` traces its test sheets
(shipped model, ``predict_proba`` -> ``threshold`` -> ``trace_curves`` with the scan), each traced row
is labelled 1 where it lies within 2 % of the track width of the true centreline, and a logistic
regression of :func:`logdigit.confidence.row_features` is fitted to those labels; its output is
then recalibrated (Platt) on out-of-fold logits of the same sheets (five folds of whole sheets).
Sheets of the ``test`` split under seeds 2 and 3, never used in fitting, are scored: ECE over 15
equal-width bins, the reliability table, the share of rows more than 10 % of the track width off
that fall below ``LOW_CONFIDENCE``, and the share of all rows that do.

    .venv/bin/python benchmarks/fit_confidence.py            # make fit-confidence

Writes ``logdigit/data/confidence.json`` (the shipped coefficients), ``docs/confidence.json``
(the held-out report) and ``docs/confidence-reliability.svg``. ``--cache DIR`` keeps each traced
sheet (masks, layout, traces, truth) so that a re-fit skips the network.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from logdigit.io.layout import layout_to_toml, load_layout

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- traced sheets


def traced_sheet(model, split: str, seed: int, index: int, *, height: int = 512, width: int = 640) -> dict:
    """One sheet drawn, segmented by ``model`` and traced: masks, layout, traces, true x per trace."""
    from logdigit.image.threshold import threshold
    from logdigit.model.inference import predict_proba
    from logdigit.research.synth import CLASSIC_STYLE, make_sheet, sheet_rng
    from logdigit.trace import trace_curves

    sheet = make_sheet(height=height, width=width, rng=sheet_rng(split, seed, index), style=CLASSIC_STYLE)
    masks = threshold(predict_proba(model, sheet.image))
    traces = trace_curves(masks, sheet.layout, image=sheet.image)  # the tracing stage as infer runs it
    return {"masks": masks, "layout": sheet.layout, "traces": traces, "truth": _truth_per_trace(sheet, traces)}


def _truth_per_trace(sheet, traces) -> list[np.ndarray]:
    """The true column of each trace's rows (NaN where that curve is not drawn), as evaluate matches them."""
    by_name = {c.mnemonic: c for c in sheet.truth}
    out = []
    for t in traces:
        c = by_name.get(t.mnemonic)
        out.append(np.full(len(t.x), np.nan) if c is None else c.x[t.row0 : t.row0 + len(t.x)].astype(float))
    return out


def _save(rec: dict, path: Path) -> None:
    from logdigit.trace.tracer import PixelTrace  # noqa: F401  (the cache holds its fields)

    ts = rec["traces"]
    np.savez_compressed(
        path.with_suffix(".npz"),
        masks=np.packbits(rec["masks"], axis=-1),
        shape=np.array(rec["masks"].shape),
        names=np.array([t.mnemonic for t in ts]),
        track=np.array([t.track for t in ts]),
        row0=np.array([t.row0 for t in ts]),
        twins=np.array(["\t".join(t.twins) for t in ts]),
        **{f"x{i}": t.x for i, t in enumerate(ts)},
        **{f"truth{i}": v for i, v in enumerate(rec["truth"])},
    )
    path.with_suffix(".toml").write_text(layout_to_toml(rec["layout"]), encoding="utf-8")


def _load(path: Path) -> dict:
    from logdigit.trace import PixelTrace

    z = np.load(path.with_suffix(".npz"))
    shape = tuple(z["shape"])
    masks = np.unpackbits(z["masks"], axis=-1, count=shape[-1]).astype(bool)
    traces = [
        PixelTrace(str(name), int(tr), int(r0), z[f"x{i}"], tuple(t for t in str(tw).split("\t") if t))
        for i, (name, tr, r0, tw) in enumerate(zip(z["names"], z["track"], z["row0"], z["twins"], strict=True))
    ]
    truth = [z[f"truth{i}"] for i in range(len(traces))]
    return {"masks": masks, "layout": load_layout(path.with_suffix(".toml")), "traces": traces, "truth": truth}


def traced_sheets(model, split: str, seed: int, n: int, *, cache: Path | None = None, log=print) -> list[dict]:
    """``n`` traced sheets of ``split``/``seed``, read from ``cache`` where already there."""
    out = []
    t0 = time.time()
    for i in range(n):
        path = None if cache is None else cache / f"{split}-{seed}-{i:04d}"
        if path is not None and path.with_suffix(".toml").exists():
            out.append(_load(path))
            continue
        rec = traced_sheet(model, split, seed, i)
        if path is not None:
            _save(rec, path)
        out.append(rec)
        if (i + 1) % 10 == 0:
            log(f"  {split} seed {seed}: {i + 1}/{n} sheets ({time.time() - t0:.0f} s)")
    return out


# --------------------------------------------------------------------------- rows and labels

TOLERANCE = 0.02  # the label: within 2 % of track width
LARGE = 0.10  # "large" errors: more than 10 % of track width off
BINS = 15
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def labelled_rows(recs: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (N, k), label (N,) and error as a share of track width (N,; inf where there is no
    curve) of every traced row of ``recs``, and the sheet index of each row."""
    from logdigit.confidence import row_features

    feats, errs, sheet = [], [], []
    for i, rec in enumerate(recs):
        lay = rec["layout"]
        for t, f, truth in zip(
            rec["traces"], row_features(rec["traces"], rec["masks"], lay), rec["truth"], strict=True
        ):
            ok = np.isfinite(t.x)
            track = lay.tracks[t.track]
            err = np.abs(t.x[ok] - truth[ok]) / float(track.right - track.left)
            feats.append(f[ok])
            errs.append(np.where(np.isfinite(err), err, np.inf))
            sheet.append(np.full(int(ok.sum()), i))
    err = np.concatenate(errs)
    return np.concatenate(feats).astype(np.float64), err, np.concatenate(sheet)


# --------------------------------------------------------------------------- fitting


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3) -> dict:
    """Standardised logistic regression by L-BFGS on mean log-loss + ``l2``/2 |w|^2."""
    from scipy.optimize import minimize

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = (x - mean) / scale
    zb = np.c_[z, np.ones(len(z))]

    def loss(w):
        s = zb @ w
        # log(1 + e^s) - y s, stably
        nll = np.logaddexp(0.0, s) - y * s
        g = zb.T @ (_sigmoid(s) - y) / len(y)
        reg = 0.5 * l2 * (w[:-1] @ w[:-1])
        g[:-1] += l2 * w[:-1]
        return nll.mean() + reg, g

    res = minimize(loss, np.zeros(zb.shape[1]), jac=True, method="L-BFGS-B")
    return {"mean": mean, "scale": scale, "coef": res.x[:-1], "intercept": float(res.x[-1]), "loss": float(res.fun)}


def fit_platt(logit: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(a, c) of p = sigmoid(a logit + c) by maximum likelihood."""
    from scipy.optimize import minimize

    def loss(w):
        s = w[0] * logit + w[1]
        g = _sigmoid(s) - y
        return (np.logaddexp(0.0, s) - y * s).mean(), np.array([(g * logit).mean(), g.mean()])

    res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


def logit_of(model: dict, x: np.ndarray) -> np.ndarray:
    return ((x - model["mean"]) / model["scale"]) @ model["coef"] + model["intercept"]


# --------------------------------------------------------------------------- scoring


def reliability(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> list[dict]:
    """Per equal-width bin of ``p``: its range, mean confidence, accuracy and row count."""
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(b, minlength=bins)
    conf = np.bincount(b, weights=p, minlength=bins)
    acc = np.bincount(b, weights=y.astype(float), minlength=bins)
    return [
        {
            "bin": [round(k / bins, 4), round((k + 1) / bins, 4)],
            "confidence": round(conf[k] / count[k], 4) if count[k] else None,
            "accuracy": round(acc[k] / count[k], 4) if count[k] else None,
            "count": int(count[k]),
        }
        for k in range(bins)
    ]


def ece(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error over ``bins`` equal-width bins (weighted by rows)."""
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    conf = np.bincount(b, weights=p, minlength=bins)
    acc = np.bincount(b, weights=y.astype(float), minlength=bins)
    return float(np.abs(conf - acc).sum() / len(p))


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (ties averaged)."""
    from scipy.stats import rankdata

    pos = y.astype(bool)
    r = rankdata(p)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def score(p: np.ndarray, err: np.ndarray, low: float) -> dict:
    y = err <= TOLERANCE
    large = err > LARGE
    flagged = p < low
    return {
        "rows": int(len(p)),
        "ece": round(ece(p, y), 4),
        "auc": round(auc(p, y), 4),
        "within2": round(float(y.mean()), 4),
        "mean_confidence": round(float(p.mean()), 4),
        "large_error_rows": int(large.sum()),
        "large_flagged": round(float(flagged[large].mean()), 4) if large.any() else None,
        "flagged": round(float(flagged.mean()), 4),
        "within2_unflagged": round(float(y[~flagged].mean()), 4),
        # what other thresholds would flag: (threshold, rows flagged, rows > 10 % off flagged)
        "thresholds": [
            [th, round(float((p < th).mean()), 4), round(float((p[large] < th).mean()), 4) if large.any() else None]
            for th in THRESHOLDS
        ],
        "reliability": reliability(p, y),
    }


# --------------------------------------------------------------------------- the run


def run(val: list[dict], tests: dict[int, list[dict]], a) -> dict:
    from logdigit.confidence import FEATURES, LOW_CONFIDENCE

    x, err, sheet = labelled_rows(val)
    y = (err <= TOLERANCE).astype(float)
    # Platt on out-of-fold logits (folds of whole sheets): it corrects what the fit learnt from
    # its own sheets, using every val row; on a logistic's logit it is linear, so it folds in.
    fold = sheet % a.folds
    oof = np.empty(len(y))
    for k in range(a.folds):
        m = fit_logistic(x[fold != k], y[fold != k], l2=a.l2)
        oof[fold == k] = logit_of(m, x[fold == k])
    ca, cc = fit_platt(oof, y)
    model = fit_logistic(x, y, l2=a.l2)
    model["coef"] = model["coef"] * ca
    model["intercept"] = model["intercept"] * ca + cc
    p_oof = _sigmoid(ca * oof + cc)
    heldout = {}
    for s, recs in tests.items():
        xt, et, _ = labelled_rows(recs)
        heldout[str(s)] = score(_sigmoid(logit_of(model, xt)), et, LOW_CONFIDENCE)
    shipped = {
        "features": list(FEATURES),
        "mean": _r(model["mean"]),
        "scale": _r(model["scale"]),
        "coef": _r(model["coef"]),
        "intercept": round(float(model["intercept"]), 6),
        "tolerance": TOLERANCE,
        "low_confidence": LOW_CONFIDENCE,
        "fit": {
            "split": "val",
            "seed": a.val_seed,
            "sheets": len(val),
            "platt": [round(ca, 6), round(cc, 6)],
            "platt_on": f"out-of-fold logits, {a.folds} folds of whole sheets",
            "rows": int(len(y)),
            "l2": a.l2,
            "size": [512, 640],
            "model": "models/veernet.safetensors",
        },
        "heldout": {
            s: {k: h[k] for k in ("rows", "ece", "auc", "large_flagged", "flagged")} for s, h in heldout.items()
        },
    }
    report = {
        "command": "make fit-confidence",
        "tolerance": TOLERANCE,
        "large": LARGE,
        "low_confidence": LOW_CONFIDENCE,
        "bins": BINS,
        "fit": shipped["fit"],
        "coefficients": dict(zip(FEATURES, shipped["coef"], strict=True)),
        "val": score(p_oof, err, LOW_CONFIDENCE),  # out of fold: each row scored by a fit without its sheet
        "heldout": {
            s: {"split": "test", "seed": int(s), "sheets": len(tests[int(s)]), **h} for s, h in heldout.items()
        },
    }
    out = ROOT / "logdigit" / "data" / "confidence.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(shipped, indent=1) + "\n", encoding="utf-8")
    (ROOT / "docs" / "confidence.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (ROOT / "docs" / "confidence-reliability.svg").write_text(reliability_svg(report), encoding="utf-8")
    print_report(report)
    return report


def _r(v) -> list[float]:
    return [round(float(u), 6) for u in v]


def print_report(report: dict) -> None:
    print("feature        coef (standardised)")
    for k, v in report["coefficients"].items():
        print(f"  {k:12s} {v:+.3f}")
    for name, h in [("val (out of fold)", report["val"])] + [
        (f"test seed {s}", h) for s, h in report["heldout"].items()
    ]:
        print(
            f"{name}: rows {h['rows']}, ECE {h['ece']:.4f}, AUC {h['auc']:.3f}, within 2% {h['within2']:.3f}, "
            f">10% off flagged {h['large_flagged']}, rows flagged {h['flagged']:.3f}"
        )
    print("threshold | rows flagged | >10% off flagged   (" + ", ".join(["val"] + list(report["heldout"])) + ")")
    for i, th in enumerate(THRESHOLDS):
        cells = [h["thresholds"][i] for h in [report["val"], *report["heldout"].values()]]
        print(f"  {th:.2f} | " + " | ".join(f"{c[1]:.3f} {c[2]:.3f}" for c in cells))
    for s, h in report["heldout"].items():
        print(f"reliability, test seed {s}:  bin | mean confidence | accuracy | rows")
        for b in h["reliability"]:
            if b["count"]:
                lo, hi = b["bin"]
                print(f"  {lo:.3f}-{hi:.3f} | {b['confidence']:.3f} | {b['accuracy']:.3f} | {b['count']}")


def reliability_svg(report: dict) -> str:
    """The held-out seeds' reliability diagrams side by side, as a small standalone SVG."""
    size, pad, gap = 260, 40, 30
    seeds = list(report["heldout"].items())
    w = len(seeds) * (size + pad + gap) + pad
    h = size + 2 * pad + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    colours = ("#1f77b4", "#d62728")
    for i, (s, r) in enumerate(seeds):
        x0, y0 = pad + i * (size + pad + gap), pad
        px = lambda v, x0=x0: x0 + v * size  # noqa: E731
        py = lambda v, y0=y0: y0 + (1 - v) * size  # noqa: E731
        parts.append(f'<rect x="{x0}" y="{y0}" width="{size}" height="{size}" fill="none" stroke="#444"/>')
        parts.append(
            f'<line x1="{px(0)}" y1="{py(0)}" x2="{px(1)}" y2="{py(1)}" stroke="#999" stroke-dasharray="4 3"/>'
        )
        top = max(b["count"] for b in r["reliability"]) or 1
        for b in r["reliability"]:
            lo, hi = b["bin"]
            bar = 0.25 * b["count"] / top  # row counts as grey bars, a quarter of the height at most
            parts.append(
                f'<rect x="{px(lo):.1f}" y="{py(bar):.1f}" width="{(hi - lo) * size:.1f}" '
                f'height="{bar * size:.1f}" fill="#ddd"/>'
            )
        pts = [(b["confidence"], b["accuracy"]) for b in r["reliability"] if b["count"]]
        path = " ".join(f"{px(c):.1f},{py(a):.1f}" for c, a in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colours[i % 2]}" stroke-width="2"/>')
        parts += [f'<circle cx="{px(c):.1f}" cy="{py(a):.1f}" r="3" fill="{colours[i % 2]}"/>' for c, a in pts]
        for v in (0, 0.5, 1):
            parts.append(f'<text x="{px(v):.1f}" y="{y0 + size + 14}" text-anchor="middle">{v}</text>')
            parts.append(f'<text x="{x0 - 4}" y="{py(v) + 4:.1f}" text-anchor="end">{v}</text>')
        parts.append(f'<text x="{x0}" y="{y0 - 8}">test seed {s}: ECE {r["ece"]:.3f}, {r["rows"]} rows</text>')
        parts.append(f'<text x="{px(0.5):.1f}" y="{y0 + size + 30}" text-anchor="middle">confidence</text>')
    parts.append(
        f'<text x="{pad}" y="{h - 6}">accuracy (share of rows within 2 % of track width) per confidence bin; '
        "grey: rows per bin</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--val-seed", type=int, default=0)
    p.add_argument("--n-fit", type=int, default=150, help="val sheets for the logistic fit and recalibration")
    p.add_argument("--test-seeds", default="2,3")
    p.add_argument("--n-test", type=int, default=100, help="test sheets per held-out seed")
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--collect-only", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--folds", type=int, default=5, help="folds of val sheets for the out-of-fold Platt fit")
    p.add_argument("--l2", type=float, default=1e-3)
    a = p.parse_args(argv)
    import torch

    from logdigit.model.weights import load_model

    torch.set_num_threads(a.threads)
    if a.cache is not None:
        a.cache.mkdir(parents=True, exist_ok=True)
    model = load_model()
    seeds = [int(s) for s in a.test_seeds.split(",")]
    val = traced_sheets(model, "val", a.val_seed, a.n_fit, cache=a.cache)
    tests = {s: traced_sheets(model, "test", s, a.n_test, cache=a.cache) for s in seeds}
    if a.collect_only:
        return
    run(val, tests, a)


if __name__ == "__main__":
    main()
