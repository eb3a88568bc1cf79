"""The network's class masks on the real prints of ../shared/realdata against the kit's pixel truth.

For WSC sections A and B, on the colour print and on its 1-bit copy, the shipped model's (or
``--weights``) class masks, thresholded as ``logdigit infer`` does, are scored inside each
section's rows and tracks (``logdigit.research.realeval``): centre-line recall within 1 px, per
printed class and for any curve class; curve-pixel precision within 2 px; false curve pixels by
what lies under them; recall within 1 px of a track border. With ``--edge-json`` the synthetic
edge recall of ``benchmarks/edge_recall.py`` is added to the report.

Writes figures only (no pixels of the prints). The network's probabilities are cached per scan,
section, weights and network code in ``.cache/evaluate-real/`` (untracked), so a re-run only
scores. Skips cleanly (exit 0) when the kit is absent. Run: make evaluate-real
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from logdigit.io.layout import Layout, load_layout
from logdigit.io.scan import read_scan
from logdigit.research.realeval import FALSE_KINDS, score_section

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT.parent / "shared" / "realdata"
CACHE = ROOT / ".cache" / "evaluate-real"
SCANS = {
    "colour": "wsc/LAVACARIVER_WESTSANDYCREEKUNIT3_MS.tif",
    "1-bit": "wsc/LAVACARIVER_WESTSANDYCREEKUNIT3_MS_1bit_g4.tif",
}
SECTIONS = {
    "A": ("wsc/wsc_A.layout.toml", "wsc/wsc_A.truth.npz"),
    "B": ("wsc/wsc_B.layout.toml", "wsc/wsc_B.truth.npz"),
}
TARGETS = {"any": 0.95, "printed": 0.90, "precision": 0.90, "edge": 0.85}
TEXT_HEIGHT_IN = 0.2
"""Tallest mark called text: a fifth of an inch (20 px at 100 dpi), a line of print."""


def _sha16(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _section_masks(model, image: np.ndarray, layout: Layout, rows: tuple[int, int], cache: Path) -> np.ndarray:
    """bool (3, n, W) class masks of rows [r0, r1) as ``logdigit infer`` makes them (its inference
    region and thresholds, strip by strip), cached with the float16 probabilities."""
    from logdigit.image.threshold import threshold
    from logdigit.model.inference import iter_proba
    from logdigit.pipeline import InferOptions, inference_region

    r0, r1 = rows
    w = image.shape[1]
    if cache.is_file():
        with np.load(cache) as z:
            return np.unpackbits(z["masks"], axis=-1, count=w).astype(bool)
    opts = InferOptions()
    probs = np.zeros((2, r1 - r0, w), np.float16)
    masks = np.zeros((3, r1 - r0, w), bool)
    masks[0] = True
    region = inference_region(layout, image.shape)
    for row0, strip in iter_proba(
        model, image, tile=opts.tile, overlap=opts.overlap, batch=opts.batch, region=region, skip_blank=opts.skip_blank
    ):
        a, b = max(row0, r0), min(row0 + strip.shape[1], r1)
        if a >= b:
            continue
        part = strip[:, a - row0 : b - row0]
        probs[:, a - r0 : b - r0] = part[1:]
        masks[:, a - r0 : b - r0] = threshold(part, thresholds=opts.thresholds)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, probs=probs, masks=np.packbits(masks, axis=-1))
    os.replace(tmp, cache)
    return masks


def _truth(path: Path) -> tuple[int, int, dict, dict, dict]:
    """rows0, nrows, and per curve: truth columns, its track's (left, right), wrap flags."""
    with np.load(path, allow_pickle=False) as z:
        names = [str(c) for c in z["curves"]]
        cols = {m: z[m].astype(np.float64) for m in names}
        tracks = {m: (float(z[f"{m}__track"][0]), float(z[f"{m}__track"][1])) for m in names}
        wraps = {m: z[f"{m}__wrap"].astype(bool) for m in names}
        return int(z["rows0"]), int(z["nrows"]), cols, tracks, wraps


def run(kit: Path, weights: Path | None, cache_dir: Path) -> dict:
    """Every case's figures, keyed ``"<section> <colour|1-bit>"``."""
    from logdigit.model.weights import default_weights, load_model, network_code_sha

    weights = Path(weights) if weights else default_weights()
    wsha = _sha16(weights)
    code = network_code_sha()  # the probabilities change when the network's code does
    model = None
    out: dict = {"weights": str(weights.name), "weights_sha256_16": wsha, "cases": {}}
    for kind, scan_rel in SCANS.items():
        scan_path = kit / scan_rel
        page = read_scan(scan_path)
        dpi = page.dpi[1] if page.dpi else 100.0
        ssha = _sha16(scan_path)
        for sec, (lay_rel, truth_rel) in SECTIONS.items():
            layout = load_layout(kit / lay_rel)
            rows0, nrows, truth, curve_tracks, wraps = _truth(kit / truth_rel)
            rows = (rows0, rows0 + nrows)
            cache = cache_dir / f"{ssha}-{wsha}-{code}-{rows[0]}-{rows[1]}.npz"
            t0 = time.perf_counter()
            if model is None and not cache.is_file():
                model = load_model(weights)
            masks = _section_masks(model, page.image, layout, rows, cache)
            t1 = time.perf_counter()
            tracks = [(t.left, t.right) for t in layout.tracks]
            classes = {c.mnemonic: c.klass for t in layout.tracks for c in t.curves}
            res = score_section(
                masks,
                page.image[rows[0] : rows[1]],
                truth,
                classes,
                tracks,
                curve_tracks=curve_tracks,
                wraps=wraps,
                text_height=round(TEXT_HEIGHT_IN * dpi),
                grid_len=min(r - left for left, r in tracks) // 2,
            )
            res["seconds"] = {"network": round(t1 - t0, 1), "scoring": round(time.perf_counter() - t1, 1)}
            out["cases"][f"{sec} {kind}"] = res
            print(f"section {sec} {kind}: scored", file=sys.stderr)
    return out


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _mark(v, target) -> str:
    return _fmt(v) + ("" if v is None or v >= target else " (below)")


def report(res: dict, edge: dict | None) -> str:
    cases = res["cases"]
    lines = [
        "# The network on the real prints, pixel by pixel",
        "",
        "Made by `make evaluate-real` (benchmarks/evaluate_real.py, metrics in `logdigit/research/realeval.py`):",
        "the class masks of `logdigit infer` (its inference region, thresholds 0.5/0.5) on the West Sandy",
        "Creek print of `../shared/realdata/wsc`, colour and 1-bit, against the kit's pixel truth, inside",
        "each section's rows and tracks. Figures only; the prints stay outside the repository.",
        f"Weights: `{res['weights']}` (sha256 {res['weights_sha256_16']}...).",
        "",
        "## Figures",
        "",
        f"Targets (issue 21): any-class recall >= {TARGETS['any']}, printed-class recall >= {TARGETS['printed']}, "
        f"precision >= {TARGETS['precision']}, recall within 1 px of a track border >= {TARGETS['edge']}.",
        "",
        "| case | recall, any class | recall, printed class | solid | dashed | printed, strict | "
        "any, every drawn row | precision | recall at a border | points (ink rows) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, c in cases.items():
        r = c["recall"]
        lines.append(
            f"| {name} | {_mark(r['any'], TARGETS['any'])} | {_mark(r['printed'], TARGETS['printed'])} | "
            f"{_fmt(r['solid printed'])} | {_fmt(r['dashed printed'])} | {_fmt(r['printed strict'])} | "
            f"{_fmt(r['any, every drawn row'])} | {_mark(c['precision'], TARGETS['precision'])} | "
            f"{_mark(r['any, within 1 px of a track border'], TARGETS['edge'])} | {c['points']['ink rows']} |"
        )
    lines += [
        "",
        "False curve pixels (predicted curve pixels more than 2 px from every curve's truth), by what lies under them:",
        "",
        "| case | predicted curve pixels | false | " + " | ".join(FALSE_KINDS) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in FALSE_KINDS) + " |",
    ]
    for name, c in cases.items():
        f = c["false pixels"]
        lines.append(
            f"| {name} | {c['predicted pixels']} | {f['total']} | " + " | ".join(str(f[k]) for k in FALSE_KINDS) + " |"
        )
    lines += ["", "Recall per curve (any class / printed class):", ""]
    for name, c in cases.items():
        lines.append(
            f"- {name}: "
            + ", ".join(f"{m} {_fmt(v['recall_any'])}/{_fmt(v['recall_printed'])}" for m, v in c["curves"].items())
        )
    if edge is not None:
        lines += [
            "",
            f"## Edge recall on synthetic test sheets (benchmarks/edge_recall.py, n={edge['n']}, seed {edge['seed']}, "
            f"{edge.get('style', 'print')} style)",
            "",
            "| px from the nearer track edge | curve pixels | network recall |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {b['px_from_edge']} | {b['pixels']} | {b['recall']:.3f} |" for b in edge["bins"]]
    lines += ["", HOW]
    return "\n".join(lines) + "\n"


HOW = """## How each figure is decided

- **Centre-line points**: each curve's truth column at each row where it is drawn. A point counts
  where the scan has ink (grey < 200, the kit's own 1-bit rule) within 1 px of it on its row; the
  others are the gaps of dashed lines, which the truth runs through (column "any, every drawn row"
  counts them too).
- **Recall, any class**: the share of points with a pixel labelled solid or dashed on the same row
  within 1 px of the truth column.
- **Recall, printed class** (and per class, by the layout's `line`): the same with the curve's
  printed class, or with the class of another curve whose truth lies within 2 px on that row:
  where curves coincide the ink on top is the later curve's, and that is what the print shows.
  "printed, strict" accepts only the curve's own class.
- **Precision**: the share of pixels labelled solid or dashed inside the layout's tracks that lie
  within 2 px (Euclidean) of some curve's truth path (the per-row columns joined into a polyline,
  except across a wrap).
- **Recall at a border**: any-class recall of the points whose truth column lies within 1 px of a
  track border.
- **What lies under a false pixel**, first that fits: *grid* within 1 px of ink on a straight
  horizontal or vertical run at least half the narrowest track long; *fill* and *text* within
  1 px of other marks (ink, or light tint: grey 200-244, e.g. a flag's fill) outside the grid and
  more than 2 px from every curve, joined by a 5 x 5 closing, the joined piece being text when at
  most 0.2 in tall and fill (flags, hatching, shading) when taller; *curve ink* within 1 px of ink
  near a curve's truth (the curve's own ink, more than 2 px from its path); else *paper*. On the
  1-bit print the light fills are gone, so their hatching and stipples count as fill only where
  they are ink.
- **Known limit of the truth**: it holds one column per row and NaN where a value is off every
  scale, so the stroke a print draws from the last drawn row out to the track edge (a spike past
  the scale) is no curve's truth. Network labels there count as false, and the stroke, a short
  mark of curve ink, is classed as *text*: in section A most *text* pixels are such strokes at
  track 2's right edge (short horizontal marks in the resistivity curves' red and blue).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", type=Path, default=KIT)
    parser.add_argument("--weights", type=Path, help="VeerNet weights (default: the shipped model)")
    parser.add_argument("--cache", type=Path, default=CACHE, help="probability cache folder")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--edge-json", type=Path, help="output of benchmarks/edge_recall.py --json, to include")
    parser.add_argument("--doc", type=Path, help="write the report here (markdown)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args(argv)
    if not args.kit.is_dir():
        print(f"skipped: {args.kit} is absent (the real-print kit is local only)")
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    res = run(args.kit, args.weights, args.cache)
    edge = json.loads(args.edge_json.read_text()) if args.edge_json and args.edge_json.is_file() else None
    if edge is not None:
        res["edge_recall_synthetic"] = edge
    text = report(res, edge)
    print(text)
    from logdigit.io.atomic import write_text_atomic

    for path, body in ((args.doc, text), (args.json, json.dumps(res, indent=1) + "\n")):
        if path:
            write_text_atomic(path, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
