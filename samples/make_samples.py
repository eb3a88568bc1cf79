"""Render the shipped samples: scans, their layout files and their true LAS.

Each sample is a synthetic log drawn from a fixed seed in a style the training
generator does not use by default (inks, grid colours, line widths, dash lengths,
file formats), so the samples test generalisation rather than recall. The true LAS
comes from the exact centrelines the curves were drawn along, calibrated by the
same code path as the digitiser's output.

    python samples/make_samples.py          # rewrites samples/*
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from logdigit.calibrate import calibrate
from logdigit.io.las import to_las, write_las
from logdigit.io.layout import write_layout
from logdigit.research.synth import DEFAULT_STYLE, CurvePlan, SheetPlan, TrackPlan, make_sheet, sheet_rng
from logdigit.trace import PixelTrace

HERE = Path(__file__).resolve().parent

# Clean paper: the samples' difficulty is the unfamiliar style, not heavy damage.
QUIET = replace(
    DEFAULT_STYLE,
    p_blur=0.0,
    p_jpeg=0.0,
    p_binarise=0.0,
    p_bleed=0.0,
    p_bleed_through=0.0,
    p_specks=1.0,
    p_noise=1.0,
    p_text=1.0,
)

SAMPLES = {
    # Two solid curves of different inks per track; one linear, one log track; a blue-grey
    # grid and teal/magenta/olive inks that are not in the training palette.
    "colour": dict(
        size=(1400, 700),
        fmt="png",
        style=QUIET,
        plan=SheetPlan(
            grid=(70, 90, 160),
            depth_top=1200.0,
            px_per_unit=4.0,
            well=(("WELL", "SAMPLE COLOUR 1"), ("COMP", "LOGDIGIT SAMPLES"), ("FLD", "SYNTHETIC")),
            tracks=(
                TrackPlan(
                    "linear",
                    (
                        CurvePlan("GR", 1, (0, 120, 120), "gr", 0.0, 150.0, "GAPI", width=9),
                        CurvePlan("SP", 1, (180, 0, 140), "sp", -160.0, 40.0, "MV", width=9),
                    ),
                ),
                TrackPlan(
                    "log",
                    (
                        CurvePlan("ILD", 1, (110, 120, 0), "res", 0.2, 2000.0, "OHMM", width=9),
                        CurvePlan("SFLU", 1, (200, 90, 0), "res", 0.2, 2000.0, "OHMM", width=7),
                    ),
                ),
            ),
        ),
    ),
    # Black solid and dashed curves over a black grid, binarised to 1 bit and stored as a
    # CCITT Group 4 TIFF as archives hold them; dashes longer than the training range.
    "mono": dict(
        size=(1400, 700),
        fmt="tiff-g4",
        style=replace(QUIET, dash_lengths=(20.0, 24.0), dash_gaps=(5.0, 7.0)),
        plan=SheetPlan(
            grid=(0, 0, 0),
            depth_top=5400.0,
            px_per_unit=5.0,
            well=(("WELL", "SAMPLE MONO 2"), ("UWI", "00-000-00000")),
            tracks=(
                TrackPlan(
                    "linear",
                    (
                        CurvePlan("GR", 1, (0, 0, 0), "gr", 0.0, 150.0, "GAPI", width=8),
                        CurvePlan("CALI", 2, (0, 0, 0), "sonic", 6.0, 16.0, "IN", width=8),
                    ),
                ),
                TrackPlan(
                    "linear",
                    (
                        CurvePlan("DT", 2, (0, 0, 0), "sonic", 140.0, 40.0, "US/F", width=8),
                        CurvePlan("NPHI", 1, (0, 0, 0), "sp", 0.45, -0.15, "V/V", width=6),
                    ),
                ),
            ),
        ),
    ),
    # One curve per track, thin 1.5 px purple ink on a grey-green grid, saved as JPEG.
    "simple": dict(
        size=(1000, 800),
        fmt="jpeg",
        style=QUIET,
        plan=SheetPlan(
            grid=(120, 150, 120),
            depth_top=850.0,
            px_per_unit=3.0,
            depth_unit="M",
            well=(("WELL", "SAMPLE SIMPLE 3"),),
            tracks=(
                TrackPlan("linear", (CurvePlan("GR", 1, (80, 0, 120), "gr", 0.0, 200.0, "GAPI", width=6),)),
                TrackPlan("log", (CurvePlan("RT", 1, (80, 0, 120), "res", 0.2, 2000.0, "OHMM", width=6),)),
                TrackPlan("linear", (CurvePlan("RHOB", 1, (80, 0, 120), "sonic", 1.95, 2.95, "G/C3", width=6),)),
            ),
        ),
    ),
}


def render(name: str, spec: dict, outdir: Path = HERE) -> dict:
    height, width = spec["size"]
    index = list(SAMPLES).index(name)
    sheet = make_sheet(
        height=height, width=width, rng=sheet_rng("sample", 0, index), style=spec["style"], plan=spec["plan"]
    )
    layout = replace(sheet.layout, source=f"{name}.layout.toml")
    scan = _save_scan(sheet.image, outdir / name, spec["fmt"])
    write_layout(layout, outdir / f"{name}.layout.toml")
    truth = [PixelTrace(mnemonic=c.mnemonic, track=c.track, row0=0, x=c.x) for c in sheet.truth]
    curves = calibrate(truth, layout)
    las = to_las(curves, layout, meta={"SRC": scan.name, "NOTE": "true curves of a synthetic sample"})
    write_las(las, outdir / f"{name}.truth.las")
    return {"scan": scan, "curves": [c.mnemonic for c in sheet.truth]}


def _save_scan(image: np.ndarray, stem: Path, fmt: str) -> Path:
    if fmt == "png":
        path = stem.with_suffix(".png")
        Image.fromarray(image).save(path, dpi=(200, 200))
    elif fmt == "jpeg":
        path = stem.with_suffix(".jpg")
        Image.fromarray(image).save(path, quality=85, dpi=(200, 200))
    else:  # 1-bit, Group 4, as archive TIFFs
        path = stem.with_suffix(".tif")
        bw = image.mean(axis=2) >= 150
        Image.fromarray(bw).convert("1").save(path, compression="group4", dpi=(200, 200))
    return path


def main(argv: list[str]) -> None:
    for name, spec in SAMPLES.items():
        info = render(name, spec)
        print(f"{info['scan'].name}: {', '.join(info['curves'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
