"""`logdigit layout`'s draft (``scan_layout``) on seeded synthetic sheets with printed depth numbers.

For each of ``--n`` test sheets (``make_sheet`` on the ``test`` seed stream) the draft is right
when

* **tracks**: it has as many tracks as the sheet's layout, each border within 3 px of the
  sheet's and each scale type (linear, log) the sheet's; and
* **ties**: depth ties were drafted, and at every printed depth number of the sheet
  (``sheet.meta["depth_labels"]``: (pixel row of the number's centre, depth value)) the draft's
  depth (:func:`logdigit.calibrate.depth_map`: its line, or piecewise through the ties where it
  interpolates) is the printed depth within 0.5 depth units.

Prints (and with --json / --doc writes) the share of sheets right on both (target >= 95 %), on
each alone, and the first failures. Sheets without ``depth_labels`` (a generator that prints no
depth numbers, or a sheet on which it printed none) are counted apart and fail the ties test. Run: make layout-synth
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

BORDER_PX = 3
DEPTH_TOL = 0.5
TARGET = 0.95


def score_sheet(
    found: Sequence[tuple[int, int, str]],
    fit: Callable[[np.ndarray], np.ndarray] | tuple[float, float] | None,
    truth: Sequence[tuple[int, int, str]],
    labels: Sequence[tuple[float, float]] | None,
) -> dict:
    """Whether a draft's tracks and depth are right for one sheet.

    Args:
        found: the draft's tracks as (left, right, scale); truth: the sheet's.
        fit: the draft's depth at pixel rows (a function), or (a, b) of depth = a + b * row, or
            None when no depth numbers were read.
        labels: the sheet's printed depth numbers as (row, depth), or None when it has none.

    Returns:
        ``{"tracks": bool, "ties": bool, "border_px": worst border error or None,
        "depth_err": worst depth error or None, "why": "" or what failed}``.

    >>> truth = [(20, 220, "linear"), (300, 500, "log")]
    >>> score_sheet([(21, 218, "linear"), (300, 503, "log")], (1000.0, 0.5), truth, [(0, 1000.2), (100, 1050)])
    {'tracks': True, 'ties': True, 'border_px': 3, 'depth_err': 0.2, 'why': ''}
    >>> score_sheet([(21, 218, "linear"), (300, 504, "linear")], None, truth, [(0, 1000)])["why"]
    'border 4 px; track 2 scale linear, not log; no depth line fitted'
    """
    why = []
    border = None
    if len(found) != len(truth):
        why.append(f"{len(found)} tracks, not {len(truth)}")
    else:
        border = max(max(abs(f[0] - t[0]), abs(f[1] - t[1])) for f, t in zip(found, truth, strict=True))
        if border > BORDER_PX:
            why.append(f"border {border} px")
        why += [
            f"track {i + 1} scale {f[2]}, not {t[2]}"
            for i, (f, t) in enumerate(zip(found, truth, strict=True))
            if f[2] != t[2]
        ]
    tracks_ok = not why
    err = None
    if not labels:
        why.append("no depth labels on the sheet")
    elif fit is None:
        why.append("no depth line fitted")
    else:
        at = fit if callable(fit) else (lambda rows, a=fit[0], b=fit[1]: a + b * rows)
        rows = np.asarray([r for r, _ in labels], float)
        err = round(float(np.max(np.abs(at(rows) - np.asarray([d for _, d in labels], float)))), 3)
        if err > DEPTH_TOL:
            why.append(f"depth off by {err:g}")
    ties_ok = bool(labels) and fit is not None and err is not None and err <= DEPTH_TOL
    return {"tracks": tracks_ok, "ties": ties_ok, "border_px": border, "depth_err": err, "why": "; ".join(why)}


def score_draft(sheet, *, dpi: float, ocr: bool = True) -> dict:
    """:func:`score_sheet` of ``scan_layout`` on one sheet (anything with ``image``, ``layout``, ``meta``)."""
    from logdigit.errors import LayoutError
    from logdigit.image.layout_scan import scan_layout

    truth = [(t.left, t.right, t.scale) for t in sheet.layout.tracks]
    labels = sheet.meta.get("depth_labels")
    try:
        rep = scan_layout(sheet.image, dpi=dpi, ocr=ocr)
    except LayoutError as exc:
        return {"tracks": False, "ties": False, "border_px": None, "depth_err": None, "why": str(exc)}
    from logdigit.calibrate import depth_map

    found = [(t.left, t.right, t.scale) for t in rep.layout.tracks]
    try:
        at = depth_map(rep.layout).depth if rep.layout.calibrated else None
    except LayoutError as exc:  # a draft calibration refuses is wrong
        return {"tracks": False, "ties": False, "border_px": None, "depth_err": None, "why": str(exc)}
    return score_sheet(found, at, truth, labels)


def run(n: int, seed: int, height: int, width: int, dpi: float) -> dict:
    from logdigit.research.synth import make_sheet, sheet_rng

    rows, t0 = [], time.perf_counter()
    for i in range(n):
        sheet = make_sheet(height=height, width=width, rng=sheet_rng("test", seed, i))
        rows.append({"sheet": i, **score_draft(sheet, dpi=dpi), "labels": bool(sheet.meta.get("depth_labels"))})
    both = sum(r["tracks"] and r["ties"] for r in rows)
    return {
        "n": n,
        "seed": seed,
        "height": height,
        "width": width,
        "dpi": dpi,
        "right": round(both / n, 4) if n else None,
        "tracks_right": round(sum(r["tracks"] for r in rows) / n, 4) if n else None,
        "ties_right": round(sum(r["ties"] for r in rows) / n, 4) if n else None,
        "sheets_without_labels": sum(not r["labels"] for r in rows),
        "seconds": round(time.perf_counter() - t0, 1),
        "sheets": rows,
    }


def report(res: dict) -> str:
    lines = [
        "# `logdigit layout` on synthetic sheets with printed depth numbers",
        "",
        "Made by `make layout-synth` (benchmarks/layout_synth.py): `scan_layout` on "
        f"{res['n']} test sheets of seed {res['seed']} ({res['height']} x {res['width']} px, {res['dpi']:g} dpi), "
        f"{res['seconds']} s.",
        "",
        f"- tracks and ties right: {res['right']:.1%} (target >= {TARGET:.0%})",
        f"- tracks right (count, borders within {BORDER_PX} px, scale type): {res['tracks_right']:.1%}",
        f"- ties right (depth within {DEPTH_TOL} at every printed number): {res['ties_right']:.1%}",
    ]
    if res["sheets_without_labels"]:
        lines.append(f"- sheets without printed depth numbers (`meta['depth_labels']`): {res['sheets_without_labels']}")
    bad = [r for r in res["sheets"] if not (r["tracks"] and r["ties"])][:10]
    if bad:
        lines += ["", "First failures:", ""] + [f"- sheet {r['sheet']}: {r['why']}" for r in bad]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--dpi", type=float, default=100.0, help="resolution the sheets are read at")
    parser.add_argument("--json", type=Path, help="write every sheet's result here")
    parser.add_argument("--doc", type=Path, help="write the report here (markdown)")
    args = parser.parse_args(argv)
    res = run(args.n, args.seed, args.height, args.width, args.dpi)
    text = report(res)
    print(text)
    from logdigit.io.atomic import write_text_atomic

    for path, body in ((args.doc, text), (args.json, json.dumps(res, indent=1) + "\n")):
        if path:
            write_text_atomic(path, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
