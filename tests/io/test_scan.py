"""read_scan: every format archives hold, round-tripped through PIL/tifffile writers."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tifffile
from PIL import Image

from logdigit.errors import ScanError
from logdigit.io.scan import DEFAULT_MAX_PIXELS, Scan, read_scan


def _ink_grey() -> np.ndarray:
    """uint8 (12, 20): white page, a black bar on rows 3-5, a mid-grey block."""
    grey = np.full((12, 20), 255, np.uint8)
    grey[3:6, :] = 0
    grey[8:10, 4:9] = 128
    return grey


def _bilevel_grey() -> np.ndarray:
    grey = np.full((12, 20), 255, np.uint8)
    grey[3:6, :] = 0
    grey[:, 7] = 0
    return grey


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


@pytest.mark.parametrize("suffix", ["png", "bmp", "tif"])
def test_rgb_lossless_round_trip(tmp_path, suffix):
    rgb = np.zeros((12, 20, 3), np.uint8)
    rgb[..., 0] = np.arange(20, dtype=np.uint8) * 12
    rgb[..., 1] = np.arange(12, dtype=np.uint8)[:, None] * 20
    rgb[..., 2] = 77
    path = tmp_path / f"scan.{suffix}"
    Image.fromarray(rgb).save(path)
    scan = read_scan(path)
    assert isinstance(scan, Scan)
    assert scan.image.dtype == np.uint8 and scan.image.shape == (12, 20, 3)
    np.testing.assert_array_equal(scan.image, rgb)
    assert scan.source == str(path)


def test_jpeg_close_and_dpi(tmp_path):
    rgb = _rgb(_ink_grey())
    path = tmp_path / "scan.jpg"
    Image.fromarray(rgb).save(path, quality=95, dpi=(200, 200))
    scan = read_scan(path)
    assert scan.image.shape == (12, 20, 3)
    assert np.abs(scan.image.astype(int) - rgb).mean() < 8
    assert scan.dpi == (200.0, 200.0)


def test_png_dpi_rounded_and_grey_expanded(tmp_path):
    grey = _ink_grey()
    path = tmp_path / "scan.png"
    Image.fromarray(grey).save(path, dpi=(300, 300))  # stored as pixels per metre
    scan = read_scan(path)
    assert scan.dpi == (300.0, 300.0)
    np.testing.assert_array_equal(scan.image, _rgb(grey))


def test_no_dpi_is_none(tmp_path):
    path = tmp_path / "scan.png"
    Image.fromarray(_ink_grey()).save(path)
    assert read_scan(path).dpi is None


@pytest.mark.parametrize("compression", ["group4", "group3", "tiff_lzw", "packbits", None])
def test_bilevel_tiff_min_is_black(tmp_path, compression):
    grey = _bilevel_grey()
    path = tmp_path / "scan.tif"
    Image.fromarray(grey).convert("1").save(path, compression=compression, dpi=(400, 400))
    scan = read_scan(path)
    np.testing.assert_array_equal(scan.image, _rgb(grey))
    assert scan.dpi == (400.0, 400.0)


@pytest.mark.parametrize("suffix", ["png", "bmp"])
def test_bilevel_png_bmp(tmp_path, suffix):
    path = tmp_path / f"scan.{suffix}"
    Image.fromarray(_bilevel_grey()).convert("1").save(path)
    np.testing.assert_array_equal(read_scan(path).image, _rgb(_bilevel_grey()))


def test_bilevel_tiff_min_is_white_g4(tmp_path):
    grey = _bilevel_grey()
    path = tmp_path / "scan.tif"
    Image.fromarray(grey).convert("1").save(path, compression="group4", tiffinfo={262: 0})
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].photometric == 0  # really MinIsWhite on disk
    np.testing.assert_array_equal(read_scan(path).image, _rgb(grey))


def test_bilevel_tiff_min_is_white_tifffile(tmp_path):
    ink = _bilevel_grey() == 0
    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, ink, photometric="miniswhite")
    np.testing.assert_array_equal(read_scan(path).image, _rgb(_bilevel_grey()))


def test_palette_lzw_tiff(tmp_path):
    rgb = np.full((12, 20, 3), 255, np.uint8)
    rgb[3:6] = (200, 0, 0)
    rgb[:, 7] = (0, 0, 255)
    path = tmp_path / "scan.tif"
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path, compression="tiff_lzw")
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].photometric == 3
    np.testing.assert_array_equal(read_scan(path).image, rgb)


def test_palette_png(tmp_path):
    rgb = np.full((4, 5, 3), 255, np.uint8)
    rgb[1, :] = (0, 128, 0)
    path = tmp_path / "scan.png"
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=2).save(path)
    np.testing.assert_array_equal(read_scan(path).image, rgb)


def test_16bit_grey_scaled(tmp_path):
    grey16 = np.array([[0, 257, 65535], [32896, 1000, 65278]], np.uint16)
    expected = np.array([[0, 1, 255], [128, 4, 254]], np.uint8)
    for name, write in {
        "g16.png": lambda p: Image.fromarray(grey16).save(p),
        "g16.tif": lambda p: tifffile.imwrite(p, grey16, compression="zlib"),
    }.items():
        path = tmp_path / name
        write(path)
        np.testing.assert_array_equal(read_scan(path).image, _rgb(expected))


def test_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (0, 0, 0)
    rgba[0, :, 3] = (0, 255, 128)
    rgba[1, :, 3] = 255
    path = tmp_path / "scan.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    image = read_scan(path).image
    np.testing.assert_array_equal(image[0, :, 0], [255, 0, 127])
    np.testing.assert_array_equal(image[1], np.zeros((3, 3), np.uint8))


def test_multipage_tiff_first_page_with_warning(tmp_path, caplog):
    pages = np.zeros((3, 4, 5), np.uint8)
    pages[0] = 10
    pages[1] = 200
    path = tmp_path / "scan.tif"
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page, photometric="minisblack")
    with caplog.at_level(logging.WARNING, logger="logdigit.io.scan"):
        image = read_scan(path).image
    assert image.shape == (4, 5, 3) and (image == 10).all()
    assert "3 pages" in caplog.text


def test_tiff_dpi_in_centimetres(tmp_path):
    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, _ink_grey(), resolution=(100, 100), resolutionunit="CENTIMETER")
    assert read_scan(path).dpi == (254.0, 254.0)


def test_pixel_limit_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (100, 50), 255).save(path)
    with pytest.raises(ScanError, match=r"5,000 pixels is over the limit of 4,999.*--max-pixels"):
        read_scan(path, max_pixels=4999)
    assert read_scan(path, max_pixels=5000).image.shape == (50, 100, 3)


def test_pixel_limit_tiff_header_only(tmp_path):
    path = tmp_path / "big.tif"
    Image.new("1", (100, 50), 1).save(path, compression="group4")
    # Break the strip data: a refusal must come from the header, before any decoding.
    data = bytearray(path.read_bytes())
    data[8:20] = b"\xff" * 12
    path.write_bytes(bytes(data))
    with pytest.raises(ScanError, match="over the limit"):
        read_scan(path, max_pixels=100)


def test_pixel_limit_above_pil_default_is_ours(tmp_path, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 10)  # PIL's own guard must not interfere
    path = tmp_path / "scan.png"
    Image.new("L", (8, 8), 255).save(path)
    assert read_scan(path).image.shape == (8, 8, 3)
    assert PILImage.MAX_IMAGE_PIXELS == 10


def test_default_limit_is_large():
    assert DEFAULT_MAX_PIXELS >= 45_000 * 4_000


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif"])
def test_truncated_file(tmp_path, suffix):
    path = tmp_path / f"scan.{suffix}"
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ScanError, match=rf"{path.name}.*(truncated|damaged)"):
        read_scan(path)


def test_missing_file(tmp_path):
    with pytest.raises(ScanError, match="no such file"):
        read_scan(tmp_path / "nope.png")


def test_directory(tmp_path):
    with pytest.raises(ScanError, match="is a folder"):
        read_scan(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ScanError, match="empty"):
        read_scan(path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("depth,gr\n1000,45\n")
    with pytest.raises(ScanError, match="not an image"):
        read_scan(path)


def test_float_tiff_unsupported(tmp_path):
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, np.zeros((3, 4), np.float32))
    with pytest.raises(ScanError, match="unsupported sample type float32"):
        read_scan(path)


def test_scan_error_is_value_error(tmp_path):
    with pytest.raises(ValueError):
        read_scan(tmp_path / "nope.png")


def test_input_file_not_modified(tmp_path):
    path = tmp_path / "scan.tif"
    Image.fromarray(_bilevel_grey()).convert("1").save(path, compression="group4")
    before = path.read_bytes()
    stat = path.stat()
    read_scan(path)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == stat.st_mtime_ns


def test_bad_max_pixels(tmp_path):
    with pytest.raises(ValueError, match="max_pixels must be a positive int"):
        read_scan(tmp_path / "x.png", max_pixels=0)
