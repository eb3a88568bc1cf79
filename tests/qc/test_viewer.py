"""The HTML QC viewer: its text, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
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
    page = render_qc_html(image, traces, lay, flags={"GR": [(300, 319, "interpolated")]}, title="a<b>.tif")
    assert "a&lt;b&gt;.tif" in page and "a<b>.tif" not in page
    gr = re.search(r'<g class="curve" data-curve="GR">(.*?)</g>', page, re.S).group(1)
    assert gr.count("<polyline") == 2  # the NaN stretch splits the curve, it is not bridged
    assert 'stroke="#00cc00"' in gr and 'stroke-dasharray="8 4"' in gr
    assert f'fill="{FLAG_COLOURS["interpolated"]}"' in gr and 'y="300"' in gr and 'height="20"' in gr
    assert page.count('class="tie"') == 2
    data = json.loads(re.search(r'<script id="qcdata" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert (data["a"], data["b"]) == pytest.approx((1000.0, 1.0))
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
        render_qc_html(image, traces, lay, title="scene", flags={"GR": [(300, 319, "interpolated")]}),
    )
    errors = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 800, "height": 700})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("polyline").count() == 4
        assert page.locator("text.depth").count() >= 2 and page.locator("path.tie").count() == 2
        gr = page.locator('g[data-curve="GR"]')
        assert gr.is_visible()
        page.locator('input[data-toggle="GR"]').uncheck()
        assert not gr.is_visible() and page.locator('g[data-curve="SP"]').is_visible()
        page.locator('input[data-toggle="GR"]').check()
        assert gr.is_visible()
        box = page.locator("#view").bounding_box()
        page.mouse.move(box["x"] + 50, box["y"] + 100)  # zoom starts at 100 %: row 100, column 50 (track 1)
        text = page.locator("#hover").text_content()
        # GR: x 50 is (50 - 10) / 80 of 0-150; SP: x = 20 + 60 * 100 / 599 on -80..20
        assert text.startswith("1100.00 FT (row 100)") and "GR 75.00 GAPI" in text and "SP -54.98 MV" in text, text
        page.screenshot(path=str(tmp_path / "qc.png"))
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
