"""The parts of a vendor log print that are not curves, for the synthetic generator.

Flags and tick marks at a track edge, text inside tracks, curve-name labels along curves,
track-head scale labels, section banners, depth numbers (upright or turned 90 degrees),
crossover shading and the hatching of backup traces. Every function draws into ``image``
(float32 (H, W, 3) RGB, 0-255) in place (the generator's own canvas, never a caller's input)
and returns the ink it laid as float32 (H, W) alpha in [0, 1], so tests can check that this
ink is background in the labels. None of them touches the labels: this ink belongs to no curve.

Drawing helpers are numpy/OpenCV only; randomness comes from the ``rng`` argument.
"""

from __future__ import annotations

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL)

MNEMONICS = (
    "GR",
    "SP",
    "ILD",
    "ILM",
    "SFLU",
    "LLD",
    "LLS",
    "MSFL",
    "DT",
    "RHOB",
    "NPHI",
    "CALI",
    "AT10",
    "AT30",
    "AT90",
    "DRHO",
    "PEF",
    "TENS",
)
WORDS = (
    "CSG 9 5/8",
    "TD",
    "RUN 1",
    "RUN 2",
    "REPEAT",
    "CASING SHOE",
    "LINE SPEED",
    "TENSION",
    "x5",
    "BACKUP",
    "CORE 3",
    "TOP SAND",
    "FT/MIN",
    "LB",
    "GAPI",
    "OHMM",
    "US/F",
    "MV",
    "G/C3",
    "V/V",
)
BANNERS = ("MAIN PASS", "REPEAT SECTION", "MAIN LOG", "CALIBRATION", "5 IN / 100 FT", "1 IN / 100 FT", "LOG DATA")


def blend(image: np.ndarray, alpha: np.ndarray, color) -> np.ndarray:
    """Lay ink of ``color`` with per-pixel ``alpha`` (H, W) onto ``image`` in place; returns ``alpha``."""
    a = alpha[..., None]
    image *= 1 - a
    image += a * np.asarray(color, np.float32)
    return alpha


def text_mask(shape, text: str, org, scale: float, *, font=FONT, thickness: int = 1, rotate: int = 0) -> np.ndarray:
    """Alpha (H, W) of ``text`` with its bottom-left at ``org`` (x, y); ``rotate`` 0, 90 or -90 degrees
    turns it about its own box, which then has its top-left at ``org`` minus the text height."""
    h, w = shape
    out = np.zeros((h, w), np.float32)
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    box = np.zeros((th + base + 2, tw + 2), np.uint8)
    cv2.putText(box, text, (1, th + 1), font, scale, 255, thickness, cv2.LINE_AA)
    if rotate:
        box = np.rot90(box, 1 if rotate > 0 else -1)
    x0, y0 = int(org[0]), int(org[1]) - th - 1
    bh, bw = box.shape
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + bw, w), min(y0 + bh, h)
    if xb > xa and yb > ya:
        out[ya:yb, xa:xb] = box[ya - y0 : yb - y0, xa - x0 : xb - x0] / 255.0
    return out


def text_size(text: str, scale: float, *, font=FONT, thickness: int = 1) -> tuple[int, int]:
    """(width, height) in px of ``text`` as :func:`text_mask` lays it, before any rotation."""
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    return tw + 2, th + base + 2


def line_mask(shape, pts, thickness: int = 1) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.polylines(m, [np.round(np.asarray(pts, float)).astype(np.int32)], False, 255, thickness, cv2.LINE_AA)
    return m.astype(np.float32) / 255.0


# ----------------------------------------------------------------- depth numbers


def depth_numbers(image, depth_col, depth_at, ink, rng, *, rotated: bool, skip_rows) -> tuple[np.ndarray, list]:
    """Round depth values printed centred on their depth's row in the depth column.

    ``depth_at`` float64 (H,): the true depth of every row (increasing). Returns the ink and
    ``[(row of the number's centre, value), ...]`` for the numbers drawn (none inside ``skip_rows``).
    """
    h = image.shape[0]
    left, right = depth_col
    span = right - left
    px_per_unit = (h - 1) / max(depth_at[-1] - depth_at[0], 1e-9)
    every = next(e for e in (5, 10, 20, 25, 50, 100, 200, 500, 1000) if e * px_per_unit >= 36)
    scale = float(rng.uniform(0.3, 0.45))
    font = FONTS[int(rng.integers(len(FONTS)))] if rng.random() < 0.5 else FONT
    thick = 2 if rng.random() < 0.15 else 1
    first = np.ceil(depth_at[0] / every) * every
    widest, _ = text_size(f"{int(round(depth_at[-1]))}", scale, font=font, thickness=thick)
    if not rotated and widest > span - 4:  # the numbers must fit the column: print them smaller
        scale *= max(span - 4, 8) / widest
    alpha = np.zeros((h, image.shape[1]), np.float32)
    labels = []
    for value in np.arange(first, depth_at[-1], every):
        row = float(np.interp(value, depth_at, np.arange(h, dtype=np.float64)))
        text = f"{int(round(value))}"
        tw, th = text_size(text, scale, font=font, thickness=thick)
        bw, bh = (th, tw) if rotated else (tw, th)
        if bw > span - 2 or row - bh / 2 < 1 or row + bh / 2 > h - 2 or skip_rows[int(round(row))]:
            continue
        x0 = left + (span - bw) // 2
        y_top = int(round(row - bh / 2))
        # text_mask puts the box's top at org.y - (text height) - 1: place the top at y_top.
        (_, th0), _ = cv2.getTextSize(text, font, scale, thick)
        m = text_mask(
            alpha.shape, text, (x0, y_top + th0 + 1), scale, font=font, thickness=thick, rotate=90 if rotated else 0
        )
        if m.sum() == 0:
            continue
        ys = np.flatnonzero(m.max(1) > 0)
        labels.append((float((ys[0] + ys[-1]) / 2), float(value)))
        alpha = np.maximum(alpha, m)
        if rng.random() < 0.5:  # a depth tick on both edges of the column
            r = int(round(row))
            alpha[r, left : left + 4] = 1.0
            alpha[r, right - 3 : right + 1] = 1.0
    blend(image, alpha, ink)
    return alpha, labels


# ---------------------------------------------------------------- page structure


def banner(image, r0: int, r1: int, x0: int, x1: int, paper, ink, rng) -> np.ndarray:
    """A section banner across the page between rows r0 and r1: blank paper, a box and a title."""
    image[r0:r1, x0:x1] = paper
    alpha = np.zeros(image.shape[:2], np.float32)
    t = int(rng.integers(1, 3))
    cv2.rectangle(alpha, (x0, r0), (x1 - 1, r1 - 1), 1.0, t)
    text = str(rng.choice(BANNERS))
    scale = float(np.clip((r1 - r0) / 40.0, 0.3, 0.6))
    tw, th = text_size(text, scale)
    cx = int(rng.integers(x0 + 4, max(x1 - tw - 4, x0 + 5)))
    alpha = np.maximum(alpha, text_mask(alpha.shape, text, (cx, (r0 + r1) // 2 + th // 3), scale))
    return blend(image, alpha, ink)


def scale_head(image, left: int, right: int, row: int, mnemonic: str, lv: str, rv: str, ink, line_alpha, rng):
    """A track-head scale label: left value, name, right value, and a stroke of the curve's line
    drawn as on the print's legend (``line_alpha``, same shape as ``image[..., 0]``, is the stroke)."""
    scale = float(rng.uniform(0.28, 0.4))
    alpha = text_mask(image.shape[:2], lv, (left + 2, row), scale)
    tw, _ = text_size(rv, scale)
    alpha = np.maximum(alpha, text_mask(image.shape[:2], rv, (right - tw - 1, row), scale))
    mw, _ = text_size(mnemonic, scale)
    alpha = np.maximum(alpha, text_mask(image.shape[:2], mnemonic, ((left + right - mw) // 2, row), scale))
    alpha = np.maximum(alpha, line_alpha)
    return blend(image, alpha, ink)


# ---------------------------------------------------------------- track furniture


def flags(image, left: int, right: int, rows: tuple[int, int], ink, rng) -> np.ndarray:
    """Line-speed / tension flags: small boxes at one track edge with ticks and hatching inside."""
    h, w = image.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    at_left = rng.random() < 0.5
    bw = int(rng.integers(4, 12))
    x0 = left + 1 if at_left else right - bw - 1
    y = int(rows[0] + rng.integers(0, 40))
    while y < rows[1] - 6:
        bh = int(rng.integers(5, 24))
        y1 = min(y + bh, rows[1] - 1)
        cv2.rectangle(alpha, (x0, y), (x0 + bw, y1), 1.0, 1)
        if rng.random() < 0.6:  # hatching inside the box
            hatch = np.zeros_like(alpha)
            for k in range(-bw, y1 - y, 3):
                cv2.line(hatch, (x0, y + k), (x0 + bw, y + k + bw), 1.0, 1)
            inside = (slice(y, y1 + 1), slice(x0, x0 + bw + 1))
            alpha[inside] = np.maximum(alpha[inside], hatch[inside])
        tick = int(rng.integers(3, 10))
        cv2.line(alpha, (x0 + bw, y1), (x0 + bw + tick if at_left else x0 - tick, y1), 1.0, 1)
        y = y1 + int(rng.integers(10, 80))
    box = np.zeros_like(alpha)
    box[rows[0] : rows[1], max(x0 - 12, 0) : x0 + bw + 13] = 1
    return blend(image, alpha * box, ink)


def ticks(image, left: int, right: int, rows: tuple[int, int], ink, rng) -> np.ndarray:
    """Time or depth ticks: short horizontal strokes at a track edge every few rows."""
    alpha = np.zeros(image.shape[:2], np.float32)
    step = float(rng.uniform(6, 40))
    length = int(rng.integers(3, 10))
    at_left = rng.random() < 0.5
    y = rows[0] + float(rng.uniform(0, step))
    k = 0
    while y < rows[1]:
        r = int(y)
        ln = length * 2 if k % 5 == 0 else length
        if at_left:
            alpha[r, left : left + ln] = 1.0
        else:
            alpha[r, right - ln + 1 : right + 1] = 1.0
        y += step
        k += 1
    return blend(image, alpha, ink)


def track_text(image, left: int, right: int, rows: tuple[int, int], ink, rng) -> np.ndarray:
    """Words and numbers inside a track: remarks, units, values, some boxed or turned 90 degrees."""
    alpha = np.zeros(image.shape[:2], np.float32)
    for _ in range(int(rng.integers(1, 4))):
        text = str(rng.choice(WORDS + MNEMONICS)) if rng.random() < 0.7 else f"{rng.integers(0, 3000)}"
        scale = float(rng.uniform(0.3, 0.55))
        font = FONTS[int(rng.integers(len(FONTS)))]
        rot = int(rng.choice([0, 0, 90, -90]))
        tw, th = text_size(text, scale, font=font)
        bw = th if rot else tw
        if right - left - bw < 6:
            continue
        x = int(rng.integers(left + 2, right - bw - 2))
        y = int(rng.integers(rows[0] + (tw if rot else th) + 2, max(rows[1] - 2, rows[0] + (tw if rot else th) + 3)))
        m = text_mask(alpha.shape, text, (x, y), scale, font=font, rotate=rot)
        if rng.random() < 0.25 and m.any():  # boxed remark
            ys, xs = np.nonzero(m)
            cv2.rectangle(m, (int(xs.min()) - 2, int(ys.min()) - 2), (int(xs.max()) + 2, int(ys.max()) + 2), 1.0, 1)
        alpha = np.maximum(alpha, m)
    return blend(image, alpha, ink)


def curve_label(image, x: np.ndarray, left: int, right: int, mnemonic: str, ink, rng) -> np.ndarray:
    """The curve's name printed beside the curve at a few rows, in the curve's ink."""
    alpha = np.zeros(image.shape[:2], np.float32)
    h = len(x)
    scale = float(rng.uniform(0.28, 0.42))
    tw, th = text_size(mnemonic, scale)
    for _ in range(int(rng.integers(1, 3))):
        r = int(rng.integers(th + 2, max(h - 2, th + 3)))
        if not np.isfinite(x[r]):
            continue
        side = 1 if x[r] - left < (right - left) / 2 else -1
        cx = int(x[r] + 4) if side > 0 else int(x[r] - 4 - tw)
        if cx < left + 1 or cx + tw > right - 1:
            continue
        near = x[max(r - th - 2, 0) : r + 3]  # beside the curve, never on it
        if ((near > cx - 3) & (near < cx + tw + 3)).any():
            continue
        alpha = np.maximum(alpha, text_mask(alpha.shape, mnemonic, (cx, r), scale))
    return blend(image, alpha, ink)


def shading(image, xa: np.ndarray, xb: np.ndarray, under: np.ndarray, color, rng) -> np.ndarray:
    """Crossover shading: fill between two curves where ``xa`` lies left of ``xb``, as a flat tint,
    a hatch or a dot screen; ``under`` (H, W) is the curves' coverage, which the fill never covers."""
    h, w = under.shape
    cols = np.arange(w)[None, :]
    a, b = np.nan_to_num(xa, nan=-1)[:, None], np.nan_to_num(xb, nan=-1)[:, None]
    ok = (np.isfinite(xa) & np.isfinite(xb))[:, None]
    region = (ok & (cols > a + 1) & (cols < b - 1)).astype(np.float32)
    kind = int(rng.integers(3))
    rows = np.arange(h)[:, None]
    if kind == 0:
        fill = region * rng.uniform(0.15, 0.45)
    elif kind == 1:
        period = int(rng.integers(4, 9))
        fill = region * (((cols + rows) % period) == 0) * rng.uniform(0.5, 1.0)
    else:
        period = int(rng.integers(3, 6))
        fill = region * ((cols % period == 0) & (rows % period == 0)) * rng.uniform(0.5, 1.0)
    fill = fill.astype(np.float32) * (1.0 - np.clip(under, 0, 1))
    return blend(image, fill, color)


def backup_hatch(image, x: np.ndarray, wrapped: np.ndarray, left: int, under: np.ndarray, ink, rng) -> np.ndarray:
    """Hatching between the track's left edge and a backup trace (rows where the curve wrapped)."""
    h, w = under.shape
    cols = np.arange(w)[None, :]
    rows = np.arange(h)[:, None]
    xr = np.nan_to_num(x, nan=-1)[:, None]
    region = (wrapped[:, None] & (cols > left + 1) & (cols < xr - 1)).astype(np.float32)
    period = int(rng.integers(3, 8))
    sign = 1 if rng.random() < 0.5 else -1
    fill = region * (((cols + sign * rows) % period) == 0)
    fill = fill.astype(np.float32) * rng.uniform(0.6, 1.0) * (1.0 - np.clip(under, 0, 1))
    return blend(image, fill, ink)


__all__ = [
    "backup_hatch",
    "banner",
    "blend",
    "curve_label",
    "depth_numbers",
    "flags",
    "line_mask",
    "scale_head",
    "shading",
    "text_mask",
    "text_size",
    "ticks",
    "track_text",
]
