"""Fit the tracer's weights (``make fit-tracer``): two logistic regressions on synthetic sheets.

Procedure (anyone can re-run it; it reads nothing but the generator and the shipped network):

1. Draw ``n`` sheets of the *train* split in the first generator's style (``CLASSIC_STYLE``, the
   shipped network's training distribution; ``sheet_rng("train", seed, i)``; the evaluation's
   test seeds are never drawn), run the shipped VeerNet on each and threshold it as ``infer``
   does. A tenth of the curves have their declared line style flipped, so that the fit learns how
   far to trust a declaration (a wrong one must still be traced).
2. Cut every track into skeleton pieces (:func:`logdigit.trace.graph.pieces`). A piece belongs to
   a curve where at least 60 % of its rows lie within 2 px of that curve's true centreline.
3. *Piece model*: one sample per (piece, look of the track), weighted by the piece's rows; label 1
   where the piece belongs to a curve of that look. Features :func:`logdigit.trace.cost.node_features`.
4. *Link model*: one sample per candidate link (:func:`logdigit.trace.cost.link_candidates`) out of a
   piece that belongs to a curve; label 1 where the link goes to that curve's next piece.
   Features :func:`logdigit.trace.cost.link_features`.
5. Both are fitted by L2-regularised logistic regression (Newton's method) and written to
   ``logdigit/data/tracer.json`` with the sample counts and the training log-loss.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from logdigit.trace.cost import link_candidates, link_features, node_features
from logdigit.trace.graph import Pieces, pieces
from logdigit.trace.joint import looks_of
from logdigit.trace.options import LINK_TERMS, NODE_TERMS, TraceOptions

BELONGS = 0.6
"""Share of a piece's rows within ``NEAR`` px of a curve for the piece to belong to it."""
NEAR = 2.0
FLIP = 0.1
"""Share of curves whose declared line style is flipped in the fitting data."""


def collect(n: int, seed: int, *, height: int = 512, width: int = 640, model=None, progress=None) -> dict:
    """Piece and link samples from ``n`` train sheets (see the module docstring)."""
    from logdigit.image.threshold import threshold
    from logdigit.model.inference import predict_proba
    from logdigit.model.weights import load_model
    from logdigit.research.synth import CLASSIC_STYLE, make_sheet, sheet_rng

    model = model or load_model()
    opts = TraceOptions()
    nodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    links: list[tuple[np.ndarray, np.ndarray]] = []
    flip_rng = np.random.default_rng([seed, 7])
    for i in range(n):
        sheet = make_sheet(height=height, width=width, rng=sheet_rng("train", seed, i), style=CLASSIC_STYLE)
        masks = threshold(predict_proba(model, sheet.image))
        for t, track in enumerate(sheet.layout.tracks):
            c0, c1 = max(track.left - 3, 0), min(track.right + 3, width - 1)
            win, rgb = masks[:, :, c0 : c1 + 1], sheet.image[:, c0 : c1 + 1]
            p = pieces(win, rgb, slope_rows=opts.slope_rows)
            if len(p) == 0:
                continue
            truths = [tr for tr in sheet.truth if tr.track == t]
            owner = _owners(p, [tr.x - c0 for tr in truths])
            klass = [tr.klass if flip_rng.random() >= FLIP else 3 - tr.klass for tr in truths]
            curves = [c for c in track.curves]
            by_name = {c.mnemonic: k for k, c in enumerate(curves)}
            groups = looks_of(
                curves,
                p,
                rgb,
                grey_chroma=opts.grey_chroma,
                klass=[klass[[tr.mnemonic for tr in truths].index(c.mnemonic)] for c in curves],
            )
            for look, members in groups.items():
                rivals = [o.rgb for o in groups if o.rgb is not None and o.rgb != look.rgb]
                mine = {[tr.mnemonic for tr in truths].index(curves[k].mnemonic) for k in members}
                label = np.isin(owner, list(mine)).astype(np.float64)
                edges = (float(track.left - c0), float(track.right - c0))
                nodes.append(
                    (
                        node_features(p, look, rivals, edges, unit=opts.colour_unit, min_ink=opts.min_ink),
                        label,
                        p.rows.astype(np.float64),
                    )
                )
            del by_name
            width_px = float(track.right - track.left)
            src, dst = link_candidates(
                p, width_px, rows=opts.link_rows, fanout=opts.link_fanout, max_leap=opts.max_leap
            )
            ok = owner[src] >= 0
            src, dst = src[ok], dst[ok]
            nxt = _next_piece(p, owner)
            links.append(
                (link_features(p, src, dst, width_px, unit=opts.colour_unit), (nxt[src] == dst).astype(np.float64))
            )
        if progress:
            progress(i + 1, n)
    return {
        "node_x": np.concatenate([a for a, _, _ in nodes]),
        "node_y": np.concatenate([b for _, b, _ in nodes]),
        "node_w": np.concatenate([c for _, _, c in nodes]),
        "link_x": np.concatenate([a for a, _ in links]),
        "link_y": np.concatenate([b for _, b in links]),
    }


def _owners(p: Pieces, truth_x: list[np.ndarray]) -> np.ndarray:
    """int (n,) index of the curve each piece belongs to (-1: none)."""
    owner = np.full(len(p), -1)
    for i in range(len(p)):
        rows = np.arange(p.top[i], p.bottom[i] + 1)
        best = BELONGS
        for k, tx in enumerate(truth_x):
            share = float(np.mean(np.abs(p.xs(i) - tx[rows]) <= NEAR))  # NaN rows count as misses
            if share >= best:
                owner[i], best = k, share
    return owner


def _next_piece(p: Pieces, owner: np.ndarray) -> np.ndarray:
    """int (n,) the next piece of the same curve after each piece (-1: none)."""
    nxt = np.full(len(p), -1)
    for k in set(owner.tolist()) - {-1}:
        idx = np.nonzero(owner == k)[0]  # pieces are in order of first row
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            nxt[a] = b
    return nxt


def logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, l2: float = 1e-3, iters: int = 50
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method; returns (weights, mean log-loss).

    >>> x = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]]); y = np.array([0.0, 0.0, 1.0, 1.0])
    >>> beta, loss = logistic(x, y, l2=1.0)
    >>> bool(beta[1] > 0), round(loss, 3) < 0.693
    (True, True)
    """
    w = np.ones(len(y)) if w is None else w / w.mean()
    beta = np.zeros(x.shape[1])
    reg = l2 * np.eye(x.shape[1])
    reg[0, 0] = 0.0  # no penalty on the intercept
    for _ in range(iters):
        z = x @ beta
        prob = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (w * (prob - y)) / len(y) + reg @ beta
        hess = (x * (w * prob * (1 - prob))[:, None]).T @ x / len(y) + reg
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(beta)), grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    z = x @ beta
    loss = float(np.average(np.logaddexp(0, z) - y * z, weights=w))
    return beta, loss


def _logit(q: float) -> float:
    return float(np.log(q / (1.0 - q)))


def fit(n: int = 100, seed: int = 0, *, out: Path | None = None, progress=None) -> dict:
    """Collect, fit both models and write the weights JSON; returns what it wrote."""
    t = time.perf_counter()
    data = collect(n, seed, progress=progress)
    node, node_loss = logistic(data["node_x"], data["node_y"], data["node_w"])
    link, link_loss = logistic(data["link_x"], data["link_y"])
    report = {
        "about": "Tracer weights (logdigit.trace.options.TraceOptions), fitted by `make fit-tracer` "
        "(logdigit/research/fit_tracer.py) on synthetic train sheets.",
        "sheets": n,
        "seed": seed,
        "weights": {
            **dict(zip(NODE_TERMS, node.round(4).tolist(), strict=True)),
            **dict(zip(LINK_TERMS, link.round(4).tolist(), strict=True)),
        },
        "priors": {
            "node_prior": round(_logit(float(np.average(data["node_y"], weights=data["node_w"]))), 4),
            "link_prior": round(_logit(float(data["link_y"].mean())), 4),
        },
        "samples": {"pieces": int(len(data["node_y"])), "links": int(len(data["link_y"]))},
        "positives": {"pieces": float(data["node_y"].mean().round(4)), "links": float(data["link_y"].mean().round(4))},
        "log_loss": {"pieces": round(node_loss, 4), "links": round(link_loss, 4)},
        "seconds": round(time.perf_counter() - t, 1),
    }
    if out is not None:
        out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def main() -> None:  # pragma: no cover - `make fit-tracer`
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "tracer.json")
    args = ap.parse_args()
    report = fit(args.n, args.seed, out=args.out, progress=lambda i, n: print(f"\r{i}/{n} sheets", end="", flush=True))
    print()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
