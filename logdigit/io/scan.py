"""Reading scans: PNG, JPEG, BMP, TIFF (1-bit CCITT G4, LZW palette...) -> RGB uint8."""

from __future__ import annotations

import logging
import os
import stat
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from logdigit.errors import ScanError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 200_000_000
"""Decompression-bomb guard: images with more pixels are refused unless overridden."""

MIN_SIDE = 16
"""Smallest scan side the digitiser accepts, px (``read_scan(min_side=MIN_SIDE)``): VeerNet
halves the image four times, so a shorter side is mostly replicated padding, and a track
needs two rulings with a curve between them."""

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PIL_LOCK = threading.Lock()  # guards the temporary change of PIL's global pixel limit


@dataclass(frozen=True)
class Scan:
    """A scanned log as read from disk.

    Attributes:
        image: uint8 (H, W, 3) RGB; grey and 1-bit scans are expanded to 3 channels
            (1-bit: ink 0, paper 255).
        dpi: (x, y) resolution from the file, or None when the file does not say.
        source: the path it was read from.
    """

    image: np.ndarray
    dpi: tuple[float, float] | None
    source: str


def read_scan(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 1) -> Scan:
    """Read a scanned log into an RGB uint8 image.

    PNG, JPEG, BMP and TIFF are read: 1-bit TIFF (CCITT Group 3/4, PackBits, LZW, either
    PhotometricInterpretation), palette, grey, RGB(A) and 16-bit images. 1-bit images give
    ink 0 / paper 255, 16-bit images are scaled to 8 bits (value / 257), transparency is
    composited on white and grey is repeated into 3 channels. A multi-page TIFF gives its
    first page (logged as a warning). The size is read from the header and checked
    against ``max_pixels`` before any pixel is decoded. The file is only read.

    Args:
        path: the scan file.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).
        min_side: refuse images narrower or shorter than this, px (the digitiser passes
            :data:`MIN_SIDE`).

    Returns:
        A :class:`Scan`: image uint8 (H, W, 3) RGB, dpi (x, y) or None, source path.

    Raises:
        ScanError: missing file, a folder, a FIFO, device or socket (never opened), an
            empty, truncated or unreadable file, an unsupported pixel format, an image
            larger than ``max_pixels`` or with a side shorter than ``min_side``.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.png"
        >>> Image.new("L", (4, 2), 255).save(p)
        >>> scan = read_scan(p)
        >>> scan.image.shape, scan.image.dtype, int(scan.image.min())
        ((2, 4, 3), dtype('uint8'), 255)
    """
    if not isinstance(max_pixels, int) or isinstance(max_pixels, bool) or max_pixels < 1:
        raise ValueError(f"max_pixels must be a positive int, got {max_pixels!r}")
    file = Path(path)
    head = _check_file(file)
    try:
        if head[:4] in _TIFF_MAGIC:
            image, dpi = _read_tiff(file, max_pixels)
        else:
            image, dpi = _read_pil(file, max_pixels)
    except ScanError:
        raise
    except MemoryError:
        raise ScanError(f"{file}: not enough memory to decode this scan; lower its resolution") from None
    except Exception as exc:  # decoders raise many types on damaged files
        raise ScanError(
            f"{file}: cannot decode the image ({type(exc).__name__}: {_one_line(exc)}); "
            "the file may be truncated or damaged; re-export it as PNG or TIFF"
        ) from None
    if min(image.shape[:2]) < min_side:
        raise ScanError(
            f"{file}: {image.shape[1]} x {image.shape[0]} px is too small to digitise: each side needs at "
            f"least {min_side} px; give the full scan, not a crop or thumbnail"
        )
    return Scan(image=image, dpi=dpi, source=str(file))


def check_scan_file(path: str | os.PathLike) -> None:
    """Refuse at once what :func:`read_scan` would refuse before decoding: a missing path, a
    folder, a FIFO, device or socket (never opened), an unreadable or empty file.

    Raises:
        ScanError: one line naming the file and the fix.
    """
    _check_file(Path(path))


def _check_file(file: Path) -> bytes:
    """Check that ``file`` is a readable non-empty file and return its first bytes."""
    if not file.exists():
        raise ScanError(f"{file}: no such file; check the path")
    if file.is_dir():
        raise ScanError(f"{file}: is a folder, not a scan file; give the image file inside it")
    kind = _special_kind(file)
    if kind:  # opening a FIFO would block until a writer came; a device never ends
        raise ScanError(f"{file}: is a {kind}, not a regular file; save the scan to a file and give that path")
    try:
        with open(file, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ScanError(f"{file}: cannot open ({exc.strerror}); check its permissions") from None
    if not head:
        raise ScanError(f"{file}: the file is empty; re-export or re-copy the scan")
    return head


def _special_kind(file: Path) -> str | None:
    """``"FIFO"``, ``"character device"``, ... for a file that is not a regular file; else None."""
    try:
        mode = os.stat(file).st_mode
    except OSError:
        return None  # open() below says why
    if stat.S_ISREG(mode):
        return None
    kinds = (
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def _check_size(file: Path, width: int, height: int, max_pixels: int) -> None:
    """Refuse images over the pixel limit, before decoding."""
    if width < 1 or height < 1:
        raise ScanError(f"{file}: the header says the image is {width} x {height} pixels; the file is damaged")
    if width * height > max_pixels:
        raise ScanError(
            f"{file}: {width} x {height} = {width * height:,} pixels is over the limit of "
            f"{max_pixels:,}; pass --max-pixels {width * height} (max_pixels=...) if the file is trusted"
        )


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or "no details"


# --------------------------------------------------------------------------- PIL formats


def _read_pil(file: Path, max_pixels: int) -> tuple[np.ndarray, tuple[float, float] | None]:
    """PNG, JPEG, BMP and anything else PIL opens (not TIFF, which goes to tifffile)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    with _PIL_LOCK:
        # PIL's own bomb check fires inside open() at a fixed limit; ours replaces it.
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            im = Image.open(file)
        except UnidentifiedImageError:
            raise ScanError(
                f"{file}: not an image PIL or tifffile can read; give a PNG, JPEG, BMP or TIFF scan"
            ) from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    with im:
        _check_size(file, im.width, im.height, max_pixels)
        if getattr(im, "n_frames", 1) > 1:
            log.warning("%s: %d frames; reading the first only", file, getattr(im, "n_frames", 1))
        dpi = _clean_dpi(im.info.get("dpi"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im.load()
        if im.getexif().get(0x0112, 1) not in (1, None):  # EXIF Orientation: viewers honour it
            log.info("%s: rotated/flipped as its EXIF orientation tag says", file)
            return _pil_to_rgb(file, ImageOps.exif_transpose(im)), dpi
        return _pil_to_rgb(file, im), dpi


def _pil_to_rgb(file: Path, im) -> np.ndarray:
    """Convert a loaded PIL image of any common mode to uint8 (H, W, 3)."""
    mode = im.mode
    if mode == "1":
        return _grey_to_rgb(np.where(np.asarray(im), np.uint8(255), np.uint8(0)))
    if mode == "L":
        return _grey_to_rgb(np.asarray(im))
    if mode == "RGB":
        return np.array(im, dtype=np.uint8)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return _grey_to_rgb(_scale16(np.asarray(im)))
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        return _composite_on_white(np.asarray(im.convert("RGBA")))
    if mode in ("P", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.array(im.convert("RGB"), dtype=np.uint8)
    raise ScanError(f"{file}: unsupported pixel mode {mode!r}; convert the scan to 8-bit RGB or grey")


# --------------------------------------------------------------------------- TIFF


def _read_tiff(file: Path, max_pixels: int) -> tuple[np.ndarray, tuple[float, float] | None]:
    """TIFF through tifffile (+imagecodecs): CCITT, LZW, palette, 16-bit, multi-page."""
    import tifffile

    try:
        tif = tifffile.TiffFile(file)
    except Exception as exc:
        raise ScanError(
            f"{file}: not a readable TIFF ({_one_line(exc)}); the file may be truncated; re-export it"
        ) from None
    with tif:
        if not tif.pages:
            raise ScanError(f"{file}: the TIFF holds no readable image (truncated or damaged?); re-export it")
        page = cast("tifffile.TiffPage", tif.pages[0])  # the first page is always read in full (a TiffPage)
        full_pages = [p for p in tif.pages if not getattr(p, "is_reduced", False)]
        if len(full_pages) > 1:
            log.warning("%s: %d pages; reading the first only", file, len(full_pages))
        _check_size(file, int(page.imagewidth), int(page.imagelength), max_pixels)
        if page.imagedepth > 1:
            raise ScanError(f"{file}: a volumetric (3-D) TIFF is not a scan; export one 2-D page")
        dpi = _tiff_dpi(page)
        data = page.asarray()
        return _tiff_to_rgb(file, page, data), dpi


def _tiff_to_rgb(file: Path, page, data: np.ndarray) -> np.ndarray:
    """Interpret decoded TIFF samples by PhotometricInterpretation."""
    photometric = int(page.photometric)
    extra = len(page.extrasamples)
    if page.planarconfig == 2 and data.ndim == 3 and data.shape[0] == page.samplesperpixel:
        data = np.moveaxis(data, 0, -1)  # (S, H, W) -> (H, W, S)
    if data.ndim == 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if photometric == 3:  # palette
        return _apply_colormap(file, page, data.view(np.uint8) if data.dtype == bool else data)
    if data.dtype == bool or page.bitspersample == 1:
        bits = data.astype(bool, copy=False)
        ink = bits if photometric == 0 else ~bits  # MinIsWhite (0): a set bit is ink
        return _grey_to_rgb(np.where(ink, np.uint8(0), np.uint8(255)))
    data = _to_uint8(file, data)
    if photometric in (0, 1):  # MinIsWhite / MinIsBlack grey (+ optional alpha)
        if data.ndim == 3:
            grey = data[..., 0] if photometric == 1 else 255 - data[..., 0]
            return _composite_on_white(np.dstack([grey, grey, grey, data[..., 1]]))
        return _grey_to_rgb(data if photometric == 1 else 255 - data)
    if photometric in (2, 6) and data.ndim == 3 and data.shape[-1] >= 3:  # RGB; YCbCr is decoded to RGB
        if extra and data.shape[-1] >= 4:
            return _composite_on_white(data[..., :4])
        return np.ascontiguousarray(data[..., :3])
    if photometric == 5 and data.ndim == 3 and data.shape[-1] >= 4:  # CMYK (separated)
        cmy = data[..., :3].astype(np.float32) / 255
        k = data[..., 3:4].astype(np.float32) / 255
        return np.rint(255 * (1 - cmy) * (1 - k)).astype(np.uint8)
    raise ScanError(
        f"{file}: unsupported TIFF colour model (photometric {photometric}, "
        f"{page.bitspersample}-bit, {page.samplesperpixel} samples); convert it to 8-bit RGB or grey"
    )


def _apply_colormap(file: Path, page, index: np.ndarray) -> np.ndarray:
    """Palette indices -> RGB through the TIFF ColorMap (16-bit entries)."""
    cmap = page.colormap
    if cmap is None:
        raise ScanError(f"{file}: palette TIFF without a ColorMap; re-export it as RGB or grey")
    cmap = np.asarray(cmap)
    # Some writers store 8-bit values in the 16-bit fields; others write v << 8 or v * 257.
    lut = cmap.astype(np.uint8) if cmap.max() < 256 else (cmap >> 8).astype(np.uint8)
    lut = np.ascontiguousarray(lut.T)  # (3, N) -> (N, 3)
    if index.max(initial=0) >= len(lut):
        raise ScanError(f"{file}: palette index {int(index.max())} past the {len(lut)}-entry ColorMap")
    return lut[index]


def _tiff_dpi(page) -> tuple[float, float] | None:
    """XResolution/YResolution with ResolutionUnit (inch or centimetre), else None."""
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None
    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    if unit not in (2, 3):
        return None
    factor = 2.54 if unit == 3 else 1.0

    def value(tag) -> float:
        num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
        return float(num) / float(den) * factor if den else 0.0

    return _clean_dpi((value(tags["XResolution"]), value(tags["YResolution"])))


# --------------------------------------------------------------------------- shared helpers


def _clean_dpi(dpi) -> tuple[float, float] | None:
    """Round away the pixels-per-metre round trip; 0 or 1 dpi means 'not stated'."""
    if not dpi or len(dpi) != 2:
        return None
    try:
        x, y = (round(float(v), 2) for v in dpi)
    except (TypeError, ValueError):
        return None
    if not (x > 1 and y > 1 and np.isfinite(x) and np.isfinite(y)):
        return None
    return (x, y)


def _scale16(data: np.ndarray) -> np.ndarray:
    """16-bit (or 32-bit integer 'I') samples -> uint8 by value / 257, rounded, clipped."""
    wide = np.clip(data, 0, 65535).astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _to_uint8(file: Path, data: np.ndarray) -> np.ndarray:
    if data.dtype == np.uint8:
        return data
    if data.dtype in (np.uint16, np.int16, np.int32, np.uint32):
        return _scale16(data)
    raise ScanError(f"{file}: unsupported sample type {data.dtype}; convert the scan to 8- or 16-bit integers")


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    out = np.empty((*grey.shape, 3), dtype=np.uint8)
    out[...] = grey[..., None]
    return out


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 4) straight alpha -> uint8 (H, W, 3) over a white page."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16)
    return ((rgb * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
