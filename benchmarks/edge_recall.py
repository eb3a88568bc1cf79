"""Network recall of curve ink by distance to the nearest track edge, on seeded test sheets.

Why wrapped stretches of curve (a curve past its scale drawn on from the other edge) are lost
with the network's masks when the tracer follows them on the true masks: the network labels less
of a curve's ink near a track edge than inside the track.
For each curve pixel of the true class map (class 1 or 2) within 4 px outside to anywhere
inside a track, this counts whether the network's masks (``threshold`` of ``predict_proba``,
as ``logdigit evaluate`` uses them) hold it in either curve class, binned by the distance in
columns to the nearer of the track's two edges.

    .venv/bin/python benchmarks/edge_recall.py --n 200 --seed 0 --threads 2

The model card quotes its result.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from logdigit.image.threshold import threshold
from logdigit.model.inference import predict_proba
from logdigit.model.weights import load_model
from logdigit.research.evaluate import draw_test_sheets

BINS = ((0, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 10_000))  # px from the nearer edge, inclusive


def edge_recall(masks: np.ndarray, labels: np.ndarray, tracks) -> tuple[np.ndarray, np.ndarray]:
    """(curve pixels, of them held by ``masks``) per bin of ``BINS`` for one sheet.

    >>> labels = np.zeros((2, 12), np.uint8); labels[:, [1, 6]] = 1
    >>> masks = np.zeros((3, 2, 12), bool); masks[1, :, 6] = True
    >>> class T: left, right = 1, 20
    >>> total, held = edge_recall(masks, labels, [T])
    >>> total.tolist(), held.tolist()
    ([2, 0, 0, 2, 0, 0], [0, 0, 0, 2, 0, 0])
    """
    cols = np.arange(labels.shape[1])
    curve = labels > 0
    held = masks[1] | masks[2]
    total, hit = np.zeros(len(BINS), np.int64), np.zeros(len(BINS), np.int64)
    for track in tracks:
        dist = np.minimum(np.abs(cols - track.left), np.abs(cols - track.right))
        near = (cols >= track.left - 4) & (cols <= track.right + 4)
        for b, (lo, hi) in enumerate(BINS):
            c = np.flatnonzero(near & (dist >= lo) & (dist <= hi))
            total[b] += int(curve[:, c].sum())
            hit[b] += int((curve[:, c] & held[:, c]).sum())
    return total, hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", help="VeerNet weights (default: the shipped model)")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.weights)
    total, hit = np.zeros(len(BINS), np.int64), np.zeros(len(BINS), np.int64)
    for sheet in draw_test_sheets(args.n, args.seed):
        masks = threshold(predict_proba(model, sheet.image, device="cpu"))
        t, h = edge_recall(masks, sheet.labels, sheet.layout.tracks)
        total += t
        hit += h
    rows = [
        {"px_from_edge": f"{lo}-{hi}" if hi < 10_000 else f"{lo}+", "pixels": int(t), "recall": round(h / t, 4)}
        for (lo, hi), t, h in zip(BINS, total, hit, strict=True)
    ]
    print(f"test sheets: n={args.n} seed={args.seed}")
    print("| px from the nearer track edge | curve pixels | network recall |\n| --- | --- | --- |")
    for r in rows:
        print(f"| {r['px_from_edge']} | {r['pixels']} | {r['recall']:.3f} |")
    if args.json:
        with open(args.json, "w") as f:
            meta = {"n": args.n, "seed": args.seed, "style": "print", "weights": args.weights or "shipped"}
            json.dump({**meta, "bins": rows}, f, indent=2)


if __name__ == "__main__":
    main()
