"""One log section of a long print: seconds to digitise it with its layout's ``rows``, the network
run only on the layout's tracks and rows (the default) against the whole page (``--whole-scan``),
in the same run, and whether the LAS is the same.

The synthetic page is 31,000 x 864 px: a 2,600-row section (a synthetic sheet and its layout) among
other sheets standing in for headers, report pages and other sections (ink everywhere, so no window
is skipped as blank paper). With ``--real``, the West Sandy Creek print of ``../shared/realdata``
(44,933 rows) and its section A layout are measured too; skipped when the kit is absent.

    python benchmarks/bench_section.py [--real] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "realdata" / "wsc"


def synthetic_page(height: int = 31_000, width: int = 864, section: int = 2_600, at: int = 9_000):
    """(image uint8 (H, W, 3), Layout of the section) of a long synthetic page."""
    from logdigit.io.layout import DepthSpec
    from logdigit.research.synth import make_sheet

    sheet = make_sheet(height=section, width=width, rng=7)
    filler = [make_sheet(height=section, width=width, rng=100 + k).image for k in range(3)]
    image = np.concatenate([filler[k % 3] for k in range(-(-height // section))], axis=0)[:height].copy()
    image[at : at + section] = sheet.image
    d = sheet.layout.depth
    ties = tuple((r + at, depth) for r, depth in d.ties)
    layout = dataclasses.replace(sheet.layout, depth=DepthSpec(d.unit, d.step, ties, rows=(at, at + section - 1)))
    return image, layout


def measure(scan: Path, layout, repeats: int) -> dict:
    from logdigit.pipeline import InferOptions, digitise

    out = {}
    las = {}
    for name, whole in (("section", False), ("whole_page", True)):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            result = digitise(scan, layout=layout, options=InferOptions(device="cpu", whole_scan=whole))
            times.append(time.perf_counter() - t)
        out[f"{name}_s"] = round(float(np.median(times)), 2)
        las[name] = [c.values for c in result.curves.curves]
    out["speedup"] = round(out["whole_page_s"] / out["section_s"], 2)
    out["same_las"] = all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(las["section"], las["whole_page"], strict=True)
    )
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", action="store_true", help="also the WSC print's section A (../shared/realdata)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import cv2

    res = {"threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        image, layout = synthetic_page()
        scan = Path(tmp) / "page.png"
        cv2.imwrite(str(scan), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        res["synthetic"] = {"rows": image.shape[0], "section_rows": 2600, **measure(scan, layout, args.repeats)}
    if args.real:
        if REAL.is_dir():
            from logdigit.io.layout import load_layout

            res["wsc_A"] = {
                "rows": 44_933,
                **measure(
                    REAL / "LAVACARIVER_WESTSANDYCREEKUNIT3_MS.tif",
                    load_layout(REAL / "wsc_A.layout.toml"),
                    args.repeats,
                ),
            }
        else:
            res["wsc_A"] = "skipped: ../shared/realdata absent"
    print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
