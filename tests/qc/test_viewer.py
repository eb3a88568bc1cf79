"""The HTML QC viewer: its text, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
from logdigit.qc.viewer import FLAG_COLOURS, render_qc_html, write_qc_html
from logdigit.trace import PixelTrace

H, W = 600, 200


def _scene():
    lay = Layout(
        DepthSpec("FT", 0.5, ((0, 1000.0), (599, 1599.0))),
        (
            Track(
                10,
                90,
                curves=(
                    CurveSpec("GR", 0, 150, unit="GAPI", color=(0, 204, 0), line="dashed"),
                    CurveSpec("SP", -80, 20, unit="MV"),
                ),
            ),
            Track(110, 190, scale="log", curves=(CurveSpec("ILD", 0.2, 200, unit="OHMM", color=(0, 0, 204)),)),
        ),
    )
    x = np.full(H, 50.0)
    x[300:320] = np.nan
    traces = [
        PixelTrace("GR", 0, 0, x),
        PixelTrace("SP", 0, 0, np.linspace(20, 80, H)),
        PixelTrace("ILD", 1, 0, np.full(H, 150.0)),
    ]
    image = np.full((H, W, 3), 255, np.uint8)
    image[:, 50] = (0, 204, 0)
    return image, traces, lay


def test_page_holds_curves_inks_styles_flags_and_ties():
    image, traces, lay = _scene()
    page = render_qc_html(
        image, traces, lay, flags={"GR": [(100, 119, "interpolated"), (0, 599, "look-alike")]}, title="a<b>.tif"
    )
    assert "a&lt;b&gt;.tif" in page and "a<b>.tif" not in page
    gr = re.search(r'<g class="curve" data-curve="GR">(.*?)</g>', page, re.S).group(1)
    curve = re.findall(r'<polyline stroke="#00cc00" stroke-dasharray="8 4" points="([^"]*)"', gr)
    assert len(curve) == 2  # the NaN stretch splits the curve, it is not bridged
    (halo,) = re.findall(rf'<polyline class="halo" stroke="{FLAG_COLOURS["interpolated"]}" points="([^"]*)"', gr)
    assert halo == "50.00,100 50.00,119"  # under the flagged rows of the curve only
    assert re.search(r'data-toggle="GR">.*?look-alike</span></label>', page)
    assert "look-alike</span></label>" not in page.split('data-toggle="SP"')[1].split("</label>")[0] + "</label>"
    assert page.count('class="tie"') == 2
    data = json.loads(re.search(r'<script id="qcdata" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert data["knots"] == [[0.0, 1.0], pytest.approx([1000.0, 1001.0])]  # the line through the ties
    assert [c["name"] for c in data["curves"]] == ["GR", "SP", "ILD"]
    assert data["curves"][0]["x"][300] is None and data["curves"][0]["x"][0] == 50.0
    assert "http://" not in page and "https://" not in page  # nothing fetched


def test_straight_stretch_is_one_segment_and_inputs_unchanged():
    image, traces, lay = _scene()
    before = image.copy(), [t.x.copy() for t in traces]
    page = render_qc_html(image, traces, lay)
    sp = re.search(r'data-curve="SP">(.*?)</g>', page, re.S).group(1)
    assert re.search(r'points="([^"]*)"', sp).group(1).count(",") == 2  # a straight line: two points
    assert np.array_equal(image, before[0]) and all(
        np.array_equal(t.x, b, equal_nan=True) for t, b in zip(traces, before[1], strict=True)
    )


def test_rejects_bad_image():
    _, traces, lay = _scene()
    with pytest.raises(ValueError, match="uint8"):
        render_qc_html(np.zeros((4, 4)), traces, lay)


def _browser():
    playwright = pytest.importorskip("playwright.sync_api")
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("no Chromium on PATH (`apt-get install chromium`; .ci/run installs it)")
    return playwright, exe


def test_page_in_headless_chromium(tmp_path):
    playwright, exe = _browser()
    image, traces, lay = _scene()
    path = write_qc_html(
        tmp_path / "qc.html",
        render_qc_html(image, traces, lay, title="scene", flags={"GR": [(100, 119, "interpolated")]}),
    )
    errors = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 800, "height": 700})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("polyline").count() == 5  # GR in two stretches, its halo, SP, ILD
        assert page.locator("text.depth").count() >= 2 and page.locator("path.tie").count() == 2

        def shown(name: str) -> bool:  # GR is a vertical line: no width, so not "visible" to Playwright
            return (
                page.evaluate(f"getComputedStyle(document.querySelector('g[data-curve=\"{name}\"]')).display") != "none"
            )

        assert shown("GR") and shown("SP")
        page.locator('input[data-toggle="GR"]').uncheck()
        assert not shown("GR") and shown("SP")
        page.locator('input[data-toggle="GR"]').check()
        assert shown("GR")
        box = page.locator("#view").bounding_box()
        page.mouse.move(box["x"] + 50, box["y"] + 100)  # zoom starts at 100 %: row 100, column 50 (track 1)
        text = page.locator("#hover").text_content()
        # GR: x 50 is (50 - 10) / 80 of 0-150; SP: x = 20 + 60 * 100 / 599 on -80..20
        assert text.startswith("1100.00 FT (row 100)") and "GR 75.00 GAPI" in text and "SP -54.98 MV" in text, text
        page.screenshot(path=str(tmp_path / "qc.png"))
        # stretched paper: depth piecewise through three ties, 1110 at row 100, read back between and past them
        stretched = replace(
            lay, depth=replace(lay.depth, ties=((0, 1000.0), (100, 1110.0), (200, 1200.0)), interpolate=True)
        )
        other = write_qc_html(tmp_path / "qc2.html", render_qc_html(image, traces, stretched, title="stretched"))
        page.goto(other.as_uri())
        page.wait_for_load_state("load")
        for row, want in ((50, "1055.00"), (150, "1155.00"), (300, "1290.00")):
            page.mouse.move(box["x"] + 50, box["y"] + row)
            assert page.locator("#hover").text_content().startswith(f"{want} FT (row {row})")
        browser.close()
    assert not errors, errors
    assert (tmp_path / "qc.png").stat().st_size > 1000


def test_infer_writes_the_viewer_for_an_html_qc(tmp_path):
    from typer.testing import CliRunner

    from logdigit.cli import app

    samples = Path(__file__).resolve().parents[2] / "samples"
    for name in ("simple.jpg", "simple.layout.toml"):
        shutil.copy(samples / name, tmp_path / name)
    out = tmp_path / "simple.qc.html"
    result = CliRunner().invoke(
        app, ["infer", str(tmp_path / "simple.jpg"), "-o", str(tmp_path / "s.las"), "--qc", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('<g class="curve"') >= 1
    assert "<title>simple.jpg</title>" in page


def test_a_wide_scan_is_embedded_downsampled_at_its_full_size():
    import base64

    import cv2

    from logdigit.qc.viewer import MAX_TILE_WIDTH

    image, traces, lay = _scene()
    wide = np.full((40, 2 * MAX_TILE_WIDTH + 10, 3), 200, np.uint8)
    page = render_qc_html(wide, [], Layout(lay.depth, ()), tile_rows=16)
    tiles = re.findall(r'<img [^>]*width="(\d+)" height="(\d+)" src="data:image/\w+;base64,([^"]+)"', page)
    assert [(int(w), int(h)) for w, h, _ in tiles] == [(wide.shape[1], 15), (wide.shape[1], 15), (wide.shape[1], 10)]
    first = cv2.imdecode(np.frombuffer(base64.b64decode(tiles[0][2]), np.uint8), cv2.IMREAD_COLOR)
    assert first.shape[:2] == (5, wide.shape[1] // 3)  # factor 3: 15 rows of 4106 px -> 5 x 1368
