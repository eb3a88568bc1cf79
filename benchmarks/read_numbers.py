"""How well each engine reads the printed depth numbers of seeded synthetic sheets.

For each of ``--n`` test sheets (``make_sheet`` on the ``test`` seed stream, 1000 x 640 px at
100 dpi) the numbers are found and cut out as ``logdigit layout`` does (its depth track, its
number blobs, 3 px of paper around each) and matched to the sheet's printed depth numbers
(``sheet.meta["depth_labels"]``, within 6 rows); each engine then reads every crop (rotations
as ``scan_layout`` tries them). Prints the share read exactly and the mean edit distance (each
capped at 3) per engine: Tesseract (where installed), DigitNet, and either one exact.

Run: python benchmarks/read_numbers.py --n 40 --seed 13
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def crops(n: int, seed: int) -> list[tuple[np.ndarray, str, bool]]:
    """(grey crop, printed digits, printed turned) of each number found on the sheets."""
    from logdigit.errors import LayoutError
    from logdigit.image import layout_scan
    from logdigit.image.detect import _grey
    from logdigit.research.synth import make_sheet, sheet_rng

    out = []
    for i in range(n):
        sheet = make_sheet(height=1000, width=640, rng=sheet_rng("test", seed, i))
        labels = sheet.meta.get("depth_labels") or []
        try:
            rep = layout_scan.scan_layout(sheet.image, dpi=100, ocr=False)
        except LayoutError:
            continue
        if not labels or rep.depth_track is None:
            continue
        grey = _grey(sheet.image)
        ink = sheet.image.min(axis=2) < layout_scan._INK_LEVEL
        sec = rep.sections[rep.section] if rep.section >= 0 else None
        first, last = (sec.first, sec.last) if sec else (0, grey.shape[0] - 1)
        rows = np.array([r for r, _ in labels])
        for top, bottom, left, right in layout_scan._number_blobs(ink, first, last, rep.depth_track, 100):
            k = int(np.argmin(np.abs(rows - (top + bottom) / 2)))
            if abs(rows[k] - (top + bottom) / 2) <= 6:
                crop = grey[max(0, top - 3) : bottom + 4, max(0, left - 3) : right + 4]
                out.append((crop, str(int(labels[k][1])), (bottom - top) > 1.3 * (right - left)))
    return out


def score(found: list[tuple[np.ndarray, str, bool]]) -> dict:
    """Per engine: crops read exactly (share) and mean edit distance (capped at 3)."""
    from logdigit.image import ocr
    from logdigit.image.layout_scan import edit_distance

    tesseract = ocr.tesseract_version()[0]
    hits: dict[str, list[float]] = {"tesseract": [], "digitnet": [], "either": []}
    for crop, truth, turned in found:
        angles = tuple(a for a in ocr.ANGLES if (a != 0) == turned)
        got_t = ocr.read_number(crop, angles=angles) if tesseract else None
        got_n = ocr.read_digitnet(crop, angles=angles)
        text_n = str(got_n[0]) if got_n else ""
        text_t = str(got_t[0]) if got_t else ""
        hits["digitnet"].append(min(edit_distance(text_n, truth), 3))
        if tesseract:
            hits["tesseract"].append(min(edit_distance(text_t, truth), 3))
            hits["either"].append(0 if 0 in (hits["digitnet"][-1], hits["tesseract"][-1]) else 1)
    return {
        k: {"exact": round(float(np.mean(np.asarray(v) == 0)), 3), "mean_edits": round(float(np.mean(v)), 3)}
        for k, v in hits.items()
        if v
    } | {"crops": len(found)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    res = score(crops(args.n, args.seed))
    print(f"{res['crops']} printed depth numbers on {args.n} test sheets of seed {args.seed}")
    for k in ("tesseract", "digitnet", "either"):
        if k in res:
            extra = "" if k == "either" else f", mean edits {res[k]['mean_edits']:.3f}"
            print(f"- {k}: read exactly {100 * res[k]['exact']:.1f} %{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
