"""Family templates registered onto shifted and cropped scans of the family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from logdigit.errors import LayoutError
from logdigit.image.template import register_template
from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from tests.image.test_layout_scan import BORDERS, SECTION, TOP, _page, needs_ocr

TEMPLATE = Layout(
    DepthSpec("FT", 0.5, ((0, 0.0), (2, 1.0))),  # a template's ties give its depth scale only: 0.5 ft per row
    (
        Track(BORDERS[0], BORDERS[1], curves=(CurveSpec("GR", 0, 150, unit="GAPI", color=(0, 0, 0)),)),
        Track(BORDERS[2], BORDERS[3], scale="log", curves=(CurveSpec("ILD", 1, 100, unit="OHMM"),)),
        Track(BORDERS[3], BORDERS[4], curves=(CurveSpec("NPHI", 0.45, -0.15, unit="V/V", line="dashed"),)),
    ),
    well={"WELL": "FAMILY"},
    source="family.toml",
)


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _shifted_and_cropped(dx: int, crop: int) -> np.ndarray:
    page = _page()
    moved = np.full((page.shape[0] - crop, page.shape[1] + dx), 255, np.uint8)
    moved[:, dx:] = page[crop:]
    return _rgb(moved)


@needs_ocr
def test_a_shifted_and_cropped_scan_registers_with_its_own_ties():
    reg = register_template(TEMPLATE, _shifted_and_cropped(37, 150), dpi=100)
    assert reg.shift == 37 and reg.edge_residual <= 1
    assert [(t.left, t.right) for t in reg.layout.tracks] == [(57, 257), (337, 537), (537, 737)]
    assert [c.mnemonic for t in reg.layout.tracks for c in t.curves] == ["GR", "ILD", "NPHI"]
    assert reg.layout.tracks[1].scale == "log" and reg.layout.well == {"WELL": "FAMILY"}
    rows = np.array([r for r, _ in reg.ties])
    depths = np.array([d for _, d in reg.ties])
    assert np.abs(depths - (1000 + 0.5 * (rows + 150 - TOP))).max() <= 0.5  # the scan's rows, not the page's
    first, last = reg.layout.depth.rows
    assert abs(first - (TOP - 150)) <= 10 and abs(last - (TOP + SECTION - 1 - 150)) <= 10
    assert reg.layout.depth.unit == "FT" and reg.layout.depth.step == 0.5


def test_without_depth_numbers_read_registration_is_refused():
    with pytest.raises(LayoutError, match="no depth ties read"):
        register_template(TEMPLATE, _shifted_and_cropped(10, 0), dpi=100, ocr=False, source="new.tif")


def test_a_scan_of_another_family_is_refused_with_the_reason():
    other = Layout(TEMPLATE.depth, (Track(40, 120), Track(400, 460)), source="other.toml")
    with pytest.raises(LayoutError, match=r"new.tif: the template's tracks do not register: [0-3] of 4 track edges"):
        register_template(other, _rgb(_page()), dpi=100, ocr=False, source="new.tif")


def _write(path, rgb):
    import cv2

    assert cv2.imwrite(str(path), rgb[..., ::-1])
    return path


@needs_ocr
def test_cli_layout_and_infer_with_a_template(tmp_path):
    from typer.testing import CliRunner

    from logdigit.cli import app
    from logdigit.io.layout import layout_to_toml, load_layout

    family = tmp_path / "family.toml"
    family.write_text(layout_to_toml(TEMPLATE))
    scan = _write(tmp_path / "new.png", _shifted_and_cropped(37, 150))
    r = CliRunner().invoke(app, ["layout", str(scan), "--template", str(family), "-o", str(tmp_path / "reg.toml")])
    assert r.exit_code == 0, r.output
    assert "registered: tracks shifted +37 px" in r.stderr
    reg = load_layout(tmp_path / "reg.toml")
    assert [(t.left, t.right) for t in reg.tracks] == [(57, 257), (337, 537), (537, 737)]
    r = CliRunner().invoke(
        app, ["infer", str(scan), "--template", str(family), "-o", str(tmp_path / "new.las"), "--quiet"]
    )
    assert r.exit_code == 0, r.output
    import lasio

    las = lasio.read(str(tmp_path / "new.las"))
    assert [c.mnemonic for c in las.curves] == ["DEPT", "GR", "ILD", "NPHI"] and 995 <= las.index[0] <= 1005
    other = _write(tmp_path / "other.png", _rgb(np.full((900, 400), 255, np.uint8)))
    r = CliRunner().invoke(app, ["infer", str(other), "--template", str(family), "-o", str(tmp_path / "o.las")])
    assert r.exit_code == 2 and f"error: {other}: " in r.output and not (tmp_path / "o.las").exists()


@needs_ocr
@pytest.mark.slow  # a local Dask cluster
def test_batch_with_a_template_records_registrations_and_refusals(tmp_path):
    import json

    from typer.testing import CliRunner

    from logdigit.cli import app
    from logdigit.io.layout import layout_to_toml

    family = tmp_path / "family.toml"
    family.write_text(layout_to_toml(TEMPLATE))
    archive = tmp_path / "archive"
    archive.mkdir()
    _write(archive / "a.png", _shifted_and_cropped(12, 100))
    _write(archive / "b.png", _rgb(np.full((900, 400), 255, np.uint8)))
    out = tmp_path / "las"
    r = CliRunner().invoke(
        app,
        [
            "batch",
            str(archive),
            "--outdir",
            str(out),
            "--template",
            str(family),
            "--workers",
            "1",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert r.exit_code == 1, r.output  # b failed
    records = {
        Path(rec["scan"]).name: rec for rec in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())
    }
    assert records["a.png"]["status"] == "done" and records["a.png"]["registration"]["shift"] == 12
    assert records["b.png"]["status"] == "failed" and "b.png" in records["b.png"]["error"]


@needs_ocr
def test_a_template_of_another_depth_scale_is_refused():
    other_scale = Layout(DepthSpec("FT", 0.5, ((0, 0.0), (4, 4.0))), TEMPLATE.tracks, source="family.toml")
    with pytest.raises(LayoutError, match=r"new.tif: no log section is drawn at the template's depth scale \(1 per"):
        register_template(other_scale, _shifted_and_cropped(5, 0), dpi=100, source="new.tif")
