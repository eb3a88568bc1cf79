"""scan_layout: sections, tracks and scales, printed depth numbers read by OCR, the robust fit, the CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from logdigit.cli import app
from logdigit.errors import LayoutError
from logdigit.image import ocr
from logdigit.image.layout_scan import draft_text, find_sections, robust_depth_fit, scan_layout, with_line_styles
from logdigit.image.ocr import ocr_engine, read_number, read_numbers, tesseract_version
from logdigit.io.layout import load_layout

BORDERS = (20, 220, 300, 500, 700)  # track 1 linear, depth track, track 2 log (2 decades), track 3 linear
TOP, SECTION = 600, 2000  # section rows TOP .. TOP + SECTION - 1; depth = 1000 + 0.5 * (row - TOP)

needs_ocr = pytest.mark.skipif(not tesseract_version()[0], reason="no Tesseract (tesseract-ocr and pytesseract)")


def _number(text: str, angle: int) -> np.ndarray:
    """A printed number, grey, turned ``angle`` degrees (90: reads top-down)."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
    img = np.full((h + base + 6, w + 6), 255, np.uint8)
    cv2.putText(img, text, (3, h + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 2)
    turn = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}[angle]
    return img if turn is None else cv2.rotate(img, turn)


def _section(img: np.ndarray, top: int, height: int, *, angle: int = 0, misprint: int | None = None) -> None:
    bottom = top + height
    for x in range(40, 220, 20):  # track 1, 10 divisions
        img[top:bottom, x] = 150
    for d in range(2):  # track 2, 2 decades from 1
        for m in range(2, 10):
            img[top:bottom, int(round(300 + 100 * (d + np.log10(m))))] = 150
    img[top:bottom, 400] = 150
    for x in range(520, 700, 20):
        img[top:bottom, x] = 150
    for y in range(top, bottom, 10):
        for a, b in ((20, 220), (300, 700)):
            img[y, a:b] = 150
    for k, y in enumerate(range(top, bottom, 100)):
        for a, b in ((20, 220), (300, 700)):
            img[y - 1 : y + 2, a:b] = 0
        text = str(1000 + 50 * k) if k != misprint else "7150"
        num = _number(text, angle)
        h, w = num.shape
        y0, x0 = max(top, y - h // 2), 260 - w // 2
        img[y0 : y0 + h, x0 : x0 + w] = np.minimum(img[y0 : y0 + h, x0 : x0 + w], num[: bottom - y0])
    for x in BORDERS:
        img[top:bottom, x - 1 : x + 2] = 0
    rows = np.arange(top + 5, bottom - 5)
    img[rows, (120 + 60 * np.sin(rows / 37)).astype(int)] = 0  # a curve in track 1


def _page(*, angle: int = 0, misprint: int | None = None, second: bool = False) -> np.ndarray:
    h = TOP + SECTION + (1500 if second else 300)
    img = np.full((h, 720), 255, np.uint8)
    for y in range(40, 500, 30):  # a header of text lines and a table
        cv2.putText(img, "SERVICE COMPANY WELL 123", (30, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 0, 2)
    img[100:400, 500] = img[100:400, 650] = 0
    _section(img, TOP, SECTION, angle=angle, misprint=misprint)
    if second:
        _section(img, TOP + SECTION + 400, 800)
    return img


def test_sections_are_found_with_their_rows():
    ink = _page(second=True) < 160
    found = [(s.first, s.last) for s in find_sections(ink, dpi=100)]
    assert len(found) == 2, found
    (a, b), (c, d) = found
    assert abs(a - TOP) <= 2 and abs(b - (TOP + SECTION - 1)) <= 2
    assert abs(c - (TOP + SECTION + 400)) <= 2 and abs(d - (TOP + SECTION + 1199)) <= 2


def test_a_section_whose_rulings_vanish_for_a_moment_stays_whole():
    page = _page()
    page[TOP + 1000 : TOP + 1040] = 255  # 0.4 in without rulings (a fill, a bent photo)
    found = [(s.first, s.last) for s in find_sections(page < 160, dpi=100)]
    assert len(found) == 1 and abs(found[0][0] - TOP) <= 2 and abs(found[0][1] - (TOP + SECTION - 1)) <= 2


def test_tracks_scales_and_the_longest_section_by_default():
    page = _page(second=True)
    before = page.copy()
    rep = scan_layout(page, dpi=100, ocr=False)
    np.testing.assert_array_equal(page, before)
    assert rep.section == 0
    assert [(t.left, t.right, t.scale) for t in rep.layout.tracks] == [
        (20, 220, "linear"),
        (300, 500, "log"),
        (500, 700, "linear"),
    ]
    assert rep.tracks[1].divisions == 2 and rep.depth_track == (220, 300)
    curve = rep.layout.tracks[1].curves[0]
    assert (curve.left_value, curve.right_value) == (1.0, 100.0)
    assert rep.layout.calibrated is False and "placeholders" in " ".join(rep.problems)
    assert scan_layout(page, dpi=100, ocr=False, section=2).layout.depth.rows[0] >= TOP + SECTION + 398
    with pytest.raises(LayoutError, match="section 3 does not exist; sections found: 1 .*2 "):
        scan_layout(page, dpi=100, ocr=False, section=3)


def test_each_ink_gets_the_line_style_the_network_sees():
    rgb = np.repeat(_page()[:, :, None], 3, axis=2)
    rows = np.arange(TOP + 5, TOP + SECTION - 5)
    rgb[rows, (570 + 20 * np.sin(rows / 30)).astype(int)] = (204, 0, 0)  # a red curve in track 3
    blue = rows[(rows // 8) % 2 == 0]  # a blue dashed one
    rgb[blue, (650 + 20 * np.cos(blue / 45)).astype(int)] = (0, 0, 204)
    rep = scan_layout(rgb, dpi=100, ocr=False)
    inks = rep.tracks[2].inks
    assert (204, 0, 0) in inks and (0, 0, 204) in inks

    def classify(rows_rgb):  # a stand-in network: red ink solid, blue ink dashed
        masks = np.zeros((3, *rows_rgb.shape[:2]), bool)
        masks[1] = (rows_rgb == (204, 0, 0)).all(axis=2)
        masks[2] = (rows_rgb == (0, 0, 204)).all(axis=2)
        masks[0] = ~(masks[1] | masks[2])
        return masks

    calls = []
    styled = with_line_styles(rep, rgb, lambda band: calls.append(band.shape) or classify(band))
    lines = dict(zip(styled.tracks[2].inks, styled.tracks[2].lines, strict=True))
    assert lines[(204, 0, 0)] == "solid" and lines[(0, 0, 204)] == "dashed"
    assert len(calls) == 3 and all(c[0] == 512 for c in calls)  # three bands of rows, not the section
    text = draft_text(styled)
    assert '# color = "#0000cc"\n# line = "dashed"' in text and '# color = "#cc0000"\n# line = "solid"' in text
    assert "#cc0000 solid" in "\n".join(styled.lines())


@needs_ocr
@pytest.mark.parametrize("centre", [60, 35])  # 35: the numbers' column is narrower than the margin
def test_depth_numbers_in_a_margin_beside_the_tracks_give_the_ties(centre):
    img = np.full((TOP + SECTION + 300, 720), 255, np.uint8)
    bottom = TOP + SECTION
    for x in range(140, 700, 29):
        img[TOP:bottom, x] = 150
    for y in range(TOP, bottom, 10):
        img[y, 120:700] = 150
    for k, y in enumerate(range(TOP, bottom, 100)):
        img[y - 1 : y + 2, 120:700] = 0
        num = _number(str(1000 + 50 * k), 0)
        h, w = num.shape
        y0 = max(TOP, y - h // 2)
        img[y0 : y0 + h, centre - w // 2 : centre - w // 2 + w] = num[: bottom - y0]
    for x in (120, 410, 700):  # two tracks, no depth track between them
        img[TOP:bottom, x - 1 : x + 2] = 0
    rows = np.arange(TOP + 5, bottom - 5)
    img[rows, (250 + 60 * np.sin(rows / 37)).astype(int)] = 0
    rep = scan_layout(img, dpi=100)
    assert [(t.left, t.right) for t in rep.layout.tracks] == [(120, 410), (410, 700)]
    assert rep.depth_track == (0, 120)
    a, b = rep.fit
    assert abs(b - 0.5) < 1e-3 and abs(a + b * TOP - 1000) < 0.5


def test_robust_fit_rejects_a_misread_number():
    pairs = [(100 + 100 * k, 1000 + 50 * k) for k in range(8)]
    pairs[3] = (400, 7150)  # 1150 misread
    (a, b), kept, rms = robust_depth_fit(pairs)
    assert (round(a, 6), round(b, 6), len(kept)) == (950.0, 0.5, 7) and rms < 1e-9
    assert robust_depth_fit([(10, 5)]) is None
    assert robust_depth_fit([(0, 1000), (100, 1050)]) is None  # two readings check nothing
    assert robust_depth_fit([(0, 10), (100, 5000), (200, 3), (300, 9000)]) is None  # no three agree


@needs_ocr
@pytest.mark.parametrize("angle", [0, 90, 270])
def test_ocr_reads_rendered_and_rotated_numbers(angle):
    got = read_number(_number("2350", angle))
    assert got is not None and got[0] == 2350 and got[2] == angle


@needs_ocr
@pytest.mark.parametrize("angle", [0, 90])
def test_ties_from_printed_numbers_survive_a_misprint(angle):
    rep = scan_layout(_page(angle=angle, misprint=4), dpi=100)
    assert rep.fit is not None, rep.lines()
    a, b = rep.fit
    rows = np.arange(TOP, TOP + SECTION, 100)
    assert np.abs(a + b * rows - (1000 + 0.5 * (rows - TOP))).max() <= 0.5
    assert len(rep.readings) - rep.kept >= 1  # the misprint was read and dropped
    assert 7150 in [v for _, v, _, _ in rep.readings] and 7150 not in [d for _, d in rep.ties]
    assert rep.layout.calibrated and rep.layout.depth.unit == "FT"
    assert rep.depth_scale == "2 in/100 ft"


@needs_ocr
def test_both_engines_read_a_number_tesseract_first():
    assert ocr_engine()[1].startswith("OCR: Tesseract ") and ocr_engine()[1].endswith(" and DigitNet")
    got = read_numbers(_number("2350", 0))
    assert [v for v, _, _ in got] == [2350, 2350] and all(a == 0 for _, _, a in got)


def test_a_crop_tesseract_fails_on_is_read_by_digitnet_alone(monkeypatch):
    # Tesseract exits with an error on some crops (TesseractError (-8, '')): that number is read
    # by DigitNet alone, and the layout goes on.
    pytesseract = pytest.importorskip("pytesseract")

    def fails(*args, **kwargs):
        raise pytesseract.TesseractError(-8, "")

    monkeypatch.setattr(pytesseract, "image_to_data", fails)
    monkeypatch.setattr(ocr, "_use_tesseract", lambda: True)
    assert ocr.read_number(_number("2350", 0)) is None
    assert [v for v, _, _ in read_numbers(_number("2350", 0))] == [2350]


@pytest.mark.parametrize("angle", [0, 90])
def test_without_tesseract_digitnet_reads_the_ties(monkeypatch, angle):
    monkeypatch.setattr(ocr, "tesseract_version", lambda: (False, "no Tesseract: not installed (test)"))
    assert ocr_engine() == (True, "OCR: DigitNet (no Tesseract: not installed (test))")
    assert [(v, a) for v, _, a in read_numbers(_number("2350", angle))] == [(2350, angle)]
    rep = scan_layout(_page(angle=angle), dpi=100)
    assert rep.fit is not None and rep.ocr.startswith("OCR: DigitNet"), rep.lines()
    a, b = rep.fit
    rows = np.arange(TOP, TOP + SECTION, 100)
    assert np.abs(a + b * rows - (1000 + 0.5 * (rows - TOP))).max() <= 0.5


def test_digitnet_setting_reads_without_tesseract(monkeypatch):
    monkeypatch.setenv("LOGDIGIT_OCR", "digitnet")
    assert ocr_engine() == (True, "OCR: DigitNet (Tesseract not used: LOGDIGIT_OCR=digitnet)")
    monkeypatch.setattr(ocr, "read_number", lambda *a, **k: pytest.fail("Tesseract asked"))
    assert [v for v, _, _ in read_numbers(_number("2350", 0))] == [2350]


def test_cli_drafts_calibrated_ties_without_tesseract(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr, "tesseract_version", lambda: (False, "no Tesseract: not installed (test)"))
    scan = tmp_path / "log.png"
    cv2.imwrite(str(scan), _page())
    r = CliRunner().invoke(app, ["layout", str(scan)])
    assert r.exit_code == 0, r.output
    assert "OCR: DigitNet (no Tesseract" in r.output
    lay = load_layout(tmp_path / "log.layout.toml")
    assert lay.calibrated and lay.depth.unit == "FT"


def test_without_an_ocr_engine_ties_are_placeholders(monkeypatch):
    monkeypatch.setenv("LOGDIGIT_OCR", "off")
    rep = scan_layout(_page(), dpi=100)
    assert "OCR switched off" in rep.ocr and rep.fit is None
    assert rep.layout.depth.unit == "PX" and rep.layout.depth.ties == ((0.0, 0.0), (TOP + SECTION + 299.0,) * 2)


def test_cli_writes_a_draft_that_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("LOGDIGIT_OCR", "off")
    scan = tmp_path / "log.png"
    cv2.imwrite(str(scan), _page(second=True))
    runner = CliRunner()
    r = runner.invoke(app, ["layout", str(scan)])
    assert r.exit_code == 0, r.output
    assert "OCR switched off" in r.output and "sections: 2" in r.output
    lay = load_layout(tmp_path / "log.layout.toml")
    assert [t.scale for t in lay.tracks] == ["linear", "log", "linear"]
    r = runner.invoke(app, ["layout", str(scan), "--section", "5", "--overwrite"])
    assert r.exit_code == 2 and "section 5 does not exist" in r.output


@pytest.mark.parametrize("stem", ["colour", "mono", "simple"])
def test_every_sample_track_is_drafted(stem, monkeypatch):
    from pathlib import Path

    from logdigit.io.scan import read_scan

    monkeypatch.setenv("LOGDIGIT_OCR", "off")
    samples = Path(__file__).resolve().parents[2] / "samples"
    scan = next(p for p in samples.glob(f"{stem}.*") if p.suffix in (".png", ".tif", ".jpg"))
    image = read_scan(scan).image
    draft = scan_layout(image).layout
    found = [(t.left, t.right) for t in draft.tracks]
    truth = [(t.left, t.right) for t in load_layout(samples / f"{stem}.layout.toml").tracks]
    assert draft.depth.rows == (0, image.shape[0] - 1)  # the samples' curves run top to bottom
    assert len(found) == len(truth) and all(
        abs(a - c) <= 2 and abs(b - d) <= 2 for (a, b), (c, d) in zip(found, truth, strict=True)
    ), (found, truth)


def test_pieces_of_one_grid_cut_at_its_heavy_lines_are_joined():
    # A 3-decade log track cut at its decade lines, beside a 10-division linear track cut at its
    # middle line: one track each. Two 10-division tracks side by side stay two.
    from logdigit.image.layout_scan import merge_pieces

    decades = np.concatenate([100 + 50 * (d + np.log10(np.arange(1, 10))) for d in range(3)] + [[250.0]])
    linear = 250 + 20.0 * np.arange(11)
    pos = np.concatenate([decades, linear])
    assert merge_pieces([(100, 150), (150, 200), (200, 250), (250, 350), (350, 450)], pos) == [(100, 250), (250, 450)]
    two = np.arange(0.0, 401.0, 20)
    assert merge_pieces([(0, 200), (200, 400)], two) == [(0, 200), (200, 400)]
    assert merge_pieces([(0, 100), (120, 200)], np.arange(0.0, 201.0, 10)) == [(0, 100), (120, 200)]  # not touching


def test_a_log_grid_broken_by_a_1bit_scan_is_log():
    # A 1-bit scan keeps the heavy decade line of track 2 whole but breaks its thin lines into
    # black dashes (inked on one row in four): the long-ruling search sees one line at 400, the
    # middle of an even grid (linear, 2 divisions). The broken rulings make it log, 2 decades.
    from logdigit.image.detect import _ink
    from logdigit.image.layout_scan import broken_rulings

    page = _page()
    rows = np.arange(TOP, TOP + SECTION)
    for d in range(2):
        for m in range(2, 10):
            x = int(round(300 + 100 * (d + np.log10(m))))
            page[rows, x] = np.where(rows % 4 == 0, 0, 255)
    assert scan_layout(page, dpi=100, ocr=False).tracks[1].scale == "log"
    broken = broken_rulings(_ink(page[TOP : TOP + SECTION]))
    thin = [round(300 + 100 * (d + np.log10(m))) for d in range(2) for m in range(2, 10)]
    assert set(thin) <= set(np.round(broken).astype(int).tolist())
    rep = scan_layout(page, dpi=100, ocr=False)
    assert [(t.left, t.right, t.scale) for t in rep.layout.tracks] == [
        (20, 220, "linear"),
        (300, 500, "log"),
        (500, 700, "linear"),
    ]
    assert rep.tracks[1].divisions == 2


def test_decade_pieces_of_a_broken_log_grid_are_joined():
    # Only the decade lines run whole; the thin lines come as broken rulings.
    from logdigit.image.layout_scan import merge_pieces

    decade_lines = np.array([100.0, 150.0, 200.0, 250.0, 350.0])
    thin = np.concatenate([100 + 50 * (d + np.log10(np.arange(2, 10))) for d in range(3)])
    pieces = [(100, 150), (150, 200), (200, 250), (250, 350)]
    assert merge_pieces(pieces, decade_lines, thin) == [(100, 250), (250, 350)]


def test_a_log_piece_and_a_linear_piece_stay_apart_when_their_union_fits_worse():
    # A 4-decade log track (9-201) beside a 10-division linear track (201-287): their union fits
    # a 6-decade log grid within the 10 % tolerance (0.082 unmatched), but far worse than either
    # piece (0.014 and 0.0), so they are two tracks.
    from logdigit.image.detect import _grid_fit
    from logdigit.image.layout_scan import merge_pieces

    decades = np.concatenate([9 + 48 * (d + np.log10(np.arange(1, 10))) for d in range(4)] + [[201.0]])
    pos = np.round(np.concatenate([decades, 201 + 8.6 * np.arange(1, 11)]))
    union = _grid_fit(9, 287, pos)
    assert union is not None and union[:2] == ("log", 6) and union[2] > 0.08
    assert merge_pieces([(9, 201), (201, 287)], pos) == [(9, 201), (201, 287)]


def _ruled_page() -> np.ndarray:
    """Darkness of a section: track 1 (20-220) and track 2 (300-500) ruled every 10 rows, heavier
    every 50, the depth track (220-300) bare; in track 2 a blank patch (320-370) behind printed
    numbers keeps only the heavy lines."""
    dark = np.zeros((500, 520), np.uint8)
    for a, b in ((20, 220), (300, 500)):
        dark[::10, a:b] = 120
        dark[::50, a:b] = 255
    dark[:, 320:370][np.arange(500) % 50 != 0] = 0
    dark[:, list(range(40, 220, 20)) + list(range(320, 500, 20))] = 120  # the grids' vertical lines
    dark[:, [20, 220, 300, 500]] = 255  # borders
    return dark


def test_gaps_in_the_horizontal_rulings_are_the_depth_track_not_a_blank_patch():
    from logdigit.image.layout_scan import horizontal_rulings, spans_gap

    dark = _ruled_page()
    regions, gap = horizontal_rulings(dark)
    assert np.flatnonzero(gap).tolist() == list(range(221, 300))  # the border at 220 ends the rulings
    assert regions == [(20, 220), (300, 500)]
    assert spans_gap(20, 500, gap) and spans_gap(200, 310, gap)
    assert not spans_gap(20, 220, gap) and not spans_gap(300, 500, gap) and not spans_gap(20, 220, None)
    # Nothing beyond the outermost rulings is a gap, and a grid without horizontal lines has none.
    assert horizontal_rulings(np.zeros((100, 50), np.uint8))[1].sum() == 0


def test_grid_segments_never_span_a_gap_in_the_horizontal_rulings():
    # An even grid every 20 px reads as two 10-division tracks; where the horizontal rulings
    # stop over columns 90-110 (a depth track), no track reaches over them.
    from logdigit.image.layout_scan import grid_segments, spans_gap

    pos = np.arange(0.0, 401.0, 20)
    assert grid_segments(pos) == [(0, 200), (200, 400)]
    gap = np.zeros(420, bool)
    gap[90:111] = True
    spans = grid_segments(pos, unruled=gap)
    assert spans and not any(spans_gap(a, b, gap) for a, b in spans)


def test_a_reading_over_the_depth_track_is_dropped_and_a_ruled_region_is_a_track(monkeypatch):
    # The heaviest rulings read one track over both tracks and the depth track; the gap in the
    # horizontal rulings rules it out, and the grid alone gives the two tracks.
    from logdigit.image import detect, layout_scan

    def nothing(section, source=None):
        raise LayoutError("no tracks")

    monkeypatch.setattr(detect, "detect_layout", nothing)
    dark = _ruled_page()
    regions, gap = layout_scan.horizontal_rulings(dark)
    pos = np.concatenate([20 + 20.0 * np.arange(11), 300 + 20.0 * np.arange(11)])
    monkeypatch.setattr(layout_scan, "find_tracks", lambda section, source=None: ([(20, 500)], None))
    tracks, depth = layout_scan._best_tracks(dark, dark, pos, np.zeros(0), None, unruled=gap, regions=regions)
    assert tracks == [(20, 220), (300, 500)] and depth == (220, 300)
    # A ruled region no reading finds a track in (its grid has no vertical lines) is a track
    # between the rulings at its ends.
    monkeypatch.setattr(layout_scan, "find_tracks", lambda section, source=None: ([(20, 220)], None))
    monkeypatch.setattr(layout_scan, "grid_segments", lambda *a, **k: [])
    pos = np.concatenate([20 + 20.0 * np.arange(11), [300.0, 500.0]])
    tracks, _ = layout_scan._best_tracks(dark, dark, pos, np.zeros(0), None, unruled=gap, regions=regions)
    assert tracks == [(20, 220), (300, 500)]
    tracks, _ = layout_scan._best_tracks(dark, dark, pos, np.zeros(0), None)  # without the regions
    assert tracks == [(20, 220)]


def test_grid_segments_read_tracks_from_the_grid_alone():
    # A 3-decade log track (100-250), a depth track (250-300) and a 10-division linear track
    # (300-500); a broken ruling at 90 (numbers stacked down the margin) is no border.
    from logdigit.image.layout_scan import grid_segments

    decades = np.concatenate([100 + 50 * (d + np.log10(np.arange(1, 10))) for d in range(3)] + [[250.0]])
    pos = np.concatenate([[90.0], decades, 300 + 20.0 * np.arange(11)])
    full = np.concatenate([decades, 300 + 20.0 * np.arange(11)])
    assert grid_segments(pos, ends=full) == [(100, 250), (300, 500)]
    # Two 10-division tracks side by side stay two; a track is not stretched over the depth track.
    two = np.concatenate([np.arange(0.0, 401.0, 20), 450 + np.arange(0.0, 201.0, 20)])
    assert grid_segments(two) == [(0, 200), (200, 400), (450, 650)]


def test_a_number_misread_off_the_printing_interval_cannot_bend_the_depth_line():
    # Numbers every 10 ft, 60 px apart; "1672" for 1670 lies within the consensus tolerance of
    # the line (a fifth of a step), so only the printing interval tells it apart.
    from logdigit.image.layout_scan import round_readings

    pairs = [(0.0, 1640.0), (60.0, 1650.0), (120.0, 1660.0), (180.0, 1672.0), (240.0, 1680.0), (300.0, 1690.0)]
    (a, b), kept, _ = robust_depth_fit(pairs, step=60)
    assert (180.0, 1672.0) in kept  # the consensus alone keeps it
    (a, b), kept, rms = robust_depth_fit(round_readings(pairs), step=60)
    assert (180.0, 1672.0) not in kept and rms < 1e-9
    assert abs(a - 1640) < 1e-9 and abs(b - 1 / 6) < 1e-9
    assert round_readings(pairs[:2]) == pairs[:2]  # too few to tell an interval
    odd = [(0.0, 1641.0), (60.0, 1652.0), (120.0, 1663.0)]
    assert round_readings(odd) == odd  # no interval holds: all kept


def test_grid_segments_end_at_rulings_heavier_than_the_grid_inside():
    # A border is no thin grid line: with the rulings' strengths, a span between two thin lines
    # (whose grid happens to fit) is not a track.
    from logdigit.image.layout_scan import grid_segments

    thin = 140 + 29.0 * np.arange(20)
    pos = np.sort(np.concatenate([thin, [120.0, 410.0, 700.0]]))
    weights = [(x, 3.0 if x in (120.0, 410.0, 700.0) else 1.0) for x in pos]
    assert (140, 401) in grid_segments(pos)
    assert all(a in (120, 410, 700) and b in (120, 410, 700) for a, b in grid_segments(pos, weights=weights))


def test_a_middle_line_as_heavy_as_the_borders_is_no_border_when_the_thin_lines_are_broken():
    # Track 100-300 shows one long ruling inside, its middle line, as heavy as its borders; its
    # thin lines are only broken rulings. Counted as weak rulings inside, they let the track be one.
    from logdigit.image.layout_scan import grid_segments

    other = 400 + 20.0 * np.arange(11)  # beside it, a 10-division track 400-600 with all its lines
    pos = np.concatenate([[100.0, 200.0, 300.0], other])
    weights = [(x, 5.0 if x in (100, 200, 300, 400, 600) else 1.0) for x in pos]
    thin = 100 + 20.0 * np.array([1, 2, 3, 4, 6, 7, 8, 9])
    assert grid_segments(pos, ends=pos, weights=weights) == [(400, 600)]
    broken = np.concatenate([thin, other])
    assert grid_segments(pos, ends=pos, weights=weights, broken=broken) == [(100, 300), (400, 600)]


def test_a_track_only_one_reading_finds_is_kept(monkeypatch):
    # The grid alone reads track 300-500 (and wins: it explains more columns); the heaviest
    # rulings read track 20-220, where the grid alone has nothing: both are drafted, and the
    # depth track is the gap between them.
    from logdigit.image import detect, layout_scan

    monkeypatch.setattr(layout_scan, "find_tracks", lambda section, source=None: ([(20, 220)], None))

    def nothing(section, source=None):
        raise LayoutError("no tracks")

    monkeypatch.setattr(detect, "detect_layout", nothing)
    monkeypatch.setattr(layout_scan, "grid_segments", lambda *a, **k: [(300, 500)])
    pos = np.concatenate([300 + 20.0 * np.arange(11), [20.0, 220.0]])
    tracks, depth = layout_scan._best_tracks(
        np.full((50, 520), 255, np.uint8), np.zeros((50, 520), np.uint8), pos, np.zeros(0), None
    )
    assert tracks == [(20, 220), (300, 500)] and depth == (220, 300)
    # A track added beside a chosen one shares its border where the two readings place it 2 px apart.
    monkeypatch.setattr(layout_scan, "find_tracks", lambda section, source=None: ([(20, 222)], None))
    monkeypatch.setattr(layout_scan, "grid_segments", lambda *a, **k: [(220, 500)])
    pos = np.concatenate([220 + 28.0 * np.arange(11), [20.0]])
    tracks, _ = layout_scan._best_tracks(
        np.full((50, 520), 255, np.uint8), np.zeros((50, 520), np.uint8), pos, np.zeros(0), None
    )
    assert tracks == [(20, 220), (220, 500)]


def test_rulings_fit_labels_every_heavy_line_and_leaves_a_banner_out():
    """Three readings near the top tilt the line by a reading's rounding; the 20 heavy rulings
    (every 10 ft, 44.3 rows apart, worked by hand: depth = 1000 + 10 * (row - 54.3) / 44.3) put
    it back, and a banner line 29 rows below a ruling is not taken for one."""
    from logdigit.image.layout_scan import rulings_fit

    exact = [54.3 + 44.3 * k for k in range(20)]
    heavy = sorted([round(r) for r in exact] + [round(exact[15]) + 29])
    readings = [(54.0, 1000.0), (99.0, 1010.0), (143.0, 1020.0)]  # rows rounded the other way: slope 0.2247
    (a, b), ties, rms = rulings_fit((988.0, 10 / 44.5), heavy, readings)
    assert len(ties) == 20 and round(exact[15]) + 29 not in [r for r, _ in ties]
    assert [d for _, d in ties] == [1000.0 + 10 * k for k in range(20)]
    assert abs(b - 10 / 44.3) < 2e-4 and max(abs(a + b * r - (1000 + 10 * k)) for k, r in enumerate(exact)) < 0.1
    assert rulings_fit((988.0, 10 / 44.5), heavy[:3], readings) is None  # too few rulings
    assert rulings_fit((988.0, 10 / 37.0), heavy, readings) is None  # 12 ft a ruling: no round interval


def test_ruling_indices_count_intervals_skip_a_hidden_ruling_and_leave_a_banner_out():
    from logdigit.image.layout_scan import ruling_indices

    # every 50 rows; the one at 210 hidden (gap of two), a banner's box at 285 (half an interval off)
    heavy = [10, 60, 110, 160, 260, 285, 310, 360]
    assert ruling_indices(heavy).tolist() == [0, 1, 2, 3, 5, -1, 6, 7]
    # stretched paper: the spacing drifts from 50 to 56 rows, still one interval each
    drift = np.cumsum([0] + [50 + k for k in range(7)]).tolist()
    assert ruling_indices(drift).tolist() == list(range(8))
    # a page edge 20 rows above the first ruling is not on the lattice either
    assert ruling_indices([0, 20, 70, 120, 170]).tolist() == [-1, 0, 1, 2, 3]
    # a row listed twice is one ruling; rows all alike or none are no lattice to fail on
    assert ruling_indices([100, 100, 100, 200]).tolist() == [0, -1, -1, 1]
    assert ruling_indices([5, 5]).tolist() == [0, -1] and ruling_indices([]).tolist() == []


def test_edit_distance_worked_by_hand():
    from logdigit.image.layout_scan import edit_distance

    assert edit_distance("1640", "1640") == 0
    assert edit_distance("3426", "3420") == 1  # one substitution
    assert edit_distance("540", "1540") == 1  # a lost digit
    assert edit_distance("21660", "1600") == 2  # an added digit and a substitution
    assert edit_distance("", "12") == 2


def test_depth_numbers_misread_digit_by_digit_are_labelled_by_their_sequence():
    """Numbers every 20 ft on rulings 60 rows apart, read as small print is read (a slashed zero
    taken for 6 or 9, a digit lost or added): only 3500 and 3560 are exact, yet the sequence
    3420 + 20 k is the only one within an edit or so of most readings, so every ruling is labelled."""
    from logdigit.image.layout_scan import decode_labels

    heavy = [30 + 60 * k for k in range(10)]
    read = [3426, 3449, 3460, 34480, 3500, 352, 3546, 3560, 358, 3606]  # truth 3420 .. 3600
    ties, exact, cost = decode_labels(list(zip(heavy, read, strict=True)), heavy)
    assert ties == [(float(r), 3420.0 + 20 * k) for k, r in enumerate(heavy)]
    assert exact == 3 and cost == pytest.approx(7 / 10)  # 3460, 3500, 3560 exact; seven one edit off
    # labels on every other ruling (every 20 ft, rulings every 10 ft), two unread
    ties, exact, _ = decode_labels([(30, 1000), (150, 1020), (270, 1040), (390, 1060)], heavy)
    assert ties[1] == (90.0, 1010.0) and ties[-1] == (570.0, 1090.0) and exact == 4


def test_depth_numbers_that_tell_no_single_sequence_give_no_labels():
    from logdigit.image.layout_scan import decode_labels

    heavy = [30 + 60 * k for k in range(6)]
    # a consistent misreading (8 read as 9, 0 as 2) leaves one exact number: not enough
    assert decode_labels(list(zip(heavy, [1932, 1942, 1952, 1962, 1972, 1980], strict=True)), heavy) is None
    # two exact numbers that disagree with each other and nonsense between: no sequence wins
    assert decode_labels(list(zip(heavy, [1000, 7, 99999, 5, 1400, 3], strict=True)), heavy) is None
    assert decode_labels([(30, 1000), (90, 1010)], heavy) is None  # fewer than three


def test_two_engines_readings_are_decoded_together():
    """The 1-bit small print of the test above, read by two engines that err differently: each
    alone has one exact number (no labels); together every number costs its nearer reading."""
    from logdigit.image.layout_scan import decode_labels

    heavy = [30 + 60 * k for k in range(6)]
    first = [1932, 1942, 1952, 1962, 1972, 1980]  # truth 1930 .. 1980: one exact (1980)
    second = [1933, 1940, 1952, 1962, 1973, 1982]  # one exact (1940)
    assert decode_labels(list(zip(heavy, second, strict=True)), heavy) is None
    both = [(r, (a, b)) for r, a, b in zip(heavy, first, second, strict=True)]
    ties, exact, cost = decode_labels(both, heavy)
    assert ties == [(float(r), 1930.0 + 10 * k) for k, r in enumerate(heavy)]
    # exact: 1940 (second), 1980 (first); one edit off: 1932/1933, 1952, 1962, 1972/1973
    assert exact == 2 and cost == pytest.approx(4 / 6)
    # one engine's reading listed twice is one reading: no extra votes, still one exact
    assert decode_labels([(r, (b, b)) for r, b in zip(heavy, second, strict=True)], heavy) is None


@needs_ocr
def test_stretched_paper_is_tied_at_every_ruling_and_interpolated(tmp_path):
    """The test page warped down its length (row y shows page row y + 12 sin(2 pi y / 1800)):
    paper that stretched up to 12 rows (6 ft) unevenly. The heavy rulings follow the warp, so
    labelled by their count along the lattice they tie depth within the target everywhere,
    where the best single line misses by feet; the draft interpolates and says so."""
    from logdigit.calibrate import depth_map

    page = _page()
    h = page.shape[0]
    y = np.arange(h, dtype=np.float32)
    src = y + 12 * np.sin(2 * np.pi * y / 1800)
    mapx = np.tile(np.arange(page.shape[1], dtype=np.float32), (h, 1))
    mapy = np.tile(src[:, None], (1, page.shape[1])).astype(np.float32)
    warped = cv2.remap(page, mapx, mapy, cv2.INTER_LINEAR, borderValue=255)
    rep = scan_layout(warped, dpi=100)
    assert rep.layout.depth.interpolate and rep.ruled >= 15, rep.lines()
    assert any("depth.interpolate" in p for p in rep.problems)
    depths = np.arange(1000.0, 1000 + 0.5 * SECTION, 25.0)
    rows = np.interp(TOP + 2 * (depths - 1000), src, y)  # where each depth lies on the warped page
    err = np.abs(depth_map(rep.layout).depth(rows) - depths)
    assert err.max() <= 0.5, err.max()
    b, a = np.polyfit(rows, depths, 1)
    assert np.abs(a + b * rows - depths).max() > 2  # no line could do it
    draft = tmp_path / "stretched.layout.toml"
    draft.write_text(draft_text(rep))
    assert load_layout(draft).depth == rep.layout.depth  # the draft file says interpolate = true


def test_number_blobs_beside_a_heavy_border_with_a_ragged_edge():
    """A 5-px border whose outer column is inked on every other row (anti-aliasing on a 1-bit
    scan): that edge is not a mark, so the numbers beside it stay separate blobs, one each."""
    from logdigit.image.layout_scan import _number_blobs

    ink = np.zeros((600, 160), bool)
    ink[:, 95:100] = True  # the border
    ink[::2, 100] = True  # its ragged edge, inside the margin
    for top in range(40, 560, 100):  # numbers 24 rows tall, 8 px wide, 6 px right of the edge
        ink[top : top + 24 : 3, 106:114] = True
        ink[top : top + 24, 106] = ink[top : top + 24, 113] = True
    blobs = _number_blobs(ink, 0, 599, (95, 150), 100.0)
    assert [(b[0], b[2], b[3]) for b in blobs] == [(top, 106, 113) for top in range(40, 560, 100)]


def test_a_lone_ruling_off_the_line_is_left_out_but_smooth_stretch_is_kept():
    # Heavy rulings every 50 rows, 10 ft apart. One ruling's centre moved 2 rows (merged with a
    # curve's flat stretch): it alone is dropped and the line refitted exactly. Paper that stretches
    # smoothly (rows drifting by up to 3 rows along the page) drops nothing.
    from logdigit.image.layout_scan import _drop_lone_misses, _line_fit

    depths = 1000.0 + 10.0 * np.arange(12)
    rows = 50.0 * np.arange(12)
    moved = rows.copy()
    moved[6] += 2
    (a, b), rms = _line_fit(moved, depths)
    problems: list[str] = []
    out = _drop_lone_misses(
        {"fit": (a, b), "ties": tuple(zip(moved, depths, strict=True)), "ruled": 12, "residual": rms}, problems
    )
    assert [r for r, _ in out["ties"]] == [r for k, r in enumerate(rows) if k != 6] and out["ruled"] == 11
    assert abs(out["fit"][1] - 0.2) < 1e-9 and out["residual"] < 1e-9 and "left out" in problems[0]
    stretched = rows + 3.0 * (rows / rows[-1]) ** 2
    (a, b), rms = _line_fit(stretched, depths)
    ties = tuple(zip(stretched, depths, strict=True))
    assert _drop_lone_misses({"fit": (a, b), "ties": ties, "ruled": 12, "residual": rms}, [])["ties"] == ties
