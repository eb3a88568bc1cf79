"""Fit DigitNet (:mod:`logdigit.model.digits`) on printed numbers rendered in outline and stroke fonts.

Each training crop is one whole number (1 to 6 digits, most of them depth-like: 3 to 5) drawn
the way a depth column prints it and :func:`logdigit.image.layout_scan` cuts it out: in a
TrueType or OpenType font of :data:`FONT_GLOBS` (DejaVu, Liberation, GNU FreeFont and the URW
base 35: sans, serif, mono, condensed and narrow, regular, bold and italic) or, a third of the
time, in one of OpenCV's Hershey stroke fonts (:data:`HERSHEY`; pen plotters print with stroke
fonts, and so do the synthetic sheets); digits 5 to 18 px tall, spacing from touching to
loose, anti-aliased grey or 1-bit ink on paper of any shade, blur, noise and specks, and often a
ruling or tick through or beside the number; cut to the ink's box plus 2-4 px (sometimes
more). Half the numbers end in 0, 00 or 000, as round depths do (two like digits side by side
need a blank column between them, which greedy CTC decoding must see). Upright, or upside down
with nothing to read: the reader turns a rotated number both ways, and the wrong way must read
as nothing.

``make fit-digits`` runs :func:`main` (seeded; about 15 minutes on 2 CPU cores) and writes
``logdigit/data/digits.safetensors`` and its JSON; the fonts are the Debian packages
``fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-urw-base35``. The test set is
rendered from a seed stream the training never draws from; its exact-read share is printed and
saved in the JSON.
"""

from __future__ import annotations

import argparse
import glob
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from logdigit.model.digits import DIGITS_WEIGHTS, DigitConfig, DigitNet, decode, prepare, save_digits

FONT_GLOBS = (
    "/usr/share/fonts/truetype/dejavu/DejaVu*.ttf",
    "/usr/share/fonts/truetype/liberation/Liberation*.ttf",
    "/usr/share/fonts/truetype/freefont/Free*.ttf",
    "/usr/share/fonts/opentype/urw-base35/*.otf",
)
"""Outline fonts numbers are rendered in (Debian paths)."""
_NO_DIGITS = ("Math", "ExtraLight", "Symbol", "D050000L", "Z003")  # symbols, dingbats, a script face
HERSHEY = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
"""OpenCV's Hershey stroke fonts (the script faces left out)."""


def fonts() -> list[str]:
    """The outline font files found (symbol, dingbat and script faces left out)."""
    found = sorted(f for g in FONT_GLOBS for f in glob.glob(g) if not any(n in f for n in _NO_DIGITS))
    if not found:
        raise SystemExit(
            f"no fonts at {FONT_GLOBS}: apt-get install fonts-dejavu-core fonts-liberation fonts-freefont-ttf "
            "fonts-urw-base35"
        )
    return found


def render(rng: np.random.Generator, font_files: list[str]) -> tuple[np.ndarray, str]:
    """One uint8 grey crop of a printed number and its digits ("" for a number upside down)."""
    n = int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.04, 0.1, 0.2, 0.36, 0.26, 0.04]))
    text = str(int(rng.integers(1, 10))) + "".join(str(int(d)) for d in rng.integers(0, 10, n - 1))
    if n > 1 and rng.random() < 0.5:  # depths are printed at round values: 0, 00 or 000 at the end
        zeros = int(rng.integers(1, min(3, n - 1) + 1))
        text = text[: n - zeros] + "0" * zeros
    digit_px = float(rng.uniform(5, 18))
    sup = 4  # drawn at 4x, then shrunk: anti-aliased like a scan
    spacing = rng.uniform(-0.12, 0.25) * digit_px * sup
    if rng.random() < 1 / 3:
        big = _stroke_text(text, digit_px * sup, spacing, rng)
    else:
        big = _outline_text(text, digit_px * sup, spacing, str(rng.choice(font_files)), rng)
    ys, xs = np.nonzero(big > 0.3)
    if ys.size == 0:
        return render(rng, font_files)
    pad = rng.integers(2, 5, 4) * sup  # the box cut around the ink, and sometimes more paper
    pad += (rng.random(4) < 0.15) * rng.integers(0, int(0.4 * digit_px * sup) + 1, 4)
    top, bottom = max(ys.min() - pad[0], 0), ys.max() + pad[1] + 1
    left, right = max(xs.min() - pad[2], 0), xs.max() + pad[3] + 1
    big = big[top:bottom, left:right]
    h, w = max(1, round(big.shape[0] / sup)), max(1, round(big.shape[1] / sup))
    ink = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.4:  # ink spread or thinned by the print
        k = np.ones((2, 2), np.uint8)
        ink = cv2.dilate(ink, k) * 0.7 + ink * 0.3 if rng.random() < 0.5 else ink * rng.uniform(0.6, 1.0)
    clutter = np.zeros_like(ink)
    if rng.random() < 0.3:  # a ruling through or beside the number
        r = int(rng.integers(0, h))
        clutter[r : r + int(rng.integers(1, 3)), :] = 1.0
    if rng.random() < 0.15:  # a tick at a side
        r, c = int(rng.integers(0, h)), int(rng.choice([0, w - 3]))
        clutter[r, max(c, 0) : c + 3] = 1.0
    for _ in range(int(rng.poisson(0.5))):  # specks
        clutter[int(rng.integers(0, h)), int(rng.integers(0, w))] = 1.0
    ink = np.maximum(ink, clutter)
    if rng.random() < 0.5:
        ink = cv2.GaussianBlur(ink, (0, 0), float(rng.uniform(0.3, 0.8)))
    paper, dark = float(rng.uniform(180, 255)), float(rng.uniform(0, 140))
    grey = paper - ink * (paper - dark) + rng.normal(0, rng.uniform(0, 10), ink.shape)
    if rng.random() < 0.3:  # a 1-bit scan
        grey = np.where(grey < dark + rng.uniform(0.3, 0.7) * (paper - dark), 0.0, 255.0)
    crop = np.clip(grey, 0, 255).round().astype(np.uint8)
    if rng.random() < 0.15:  # upside down reads as nothing: of a number printed turned, the wrong turn
        return crop[::-1, ::-1].copy(), ""
    return crop, text


def _outline_text(text: str, digit_px: float, spacing: float, font_file: str, rng) -> np.ndarray:
    """float32 ink in [0, 1] of ``text`` in an outline font, digits ``digit_px`` tall, on a roomy canvas."""
    size = max(6, int(round(digit_px / 0.73)))  # digits are about 0.73 of the em
    font = ImageFont.truetype(font_file, size)
    bold = int(rng.integers(1, 3)) if rng.random() < 0.3 else 0
    canvas = Image.new("L", (int(size * (len(text) + 2)), int(size * 2)), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(size // 2)
    for ch in text:
        draw.text((x, size // 3), ch, fill=255, font=font, stroke_width=bold, stroke_fill=255)
        x += draw.textlength(ch, font=font) + spacing
    return np.asarray(canvas, np.float32) / 255.0


def _stroke_text(text: str, digit_px: float, spacing: float, rng) -> np.ndarray:
    """float32 ink in [0, 1] of ``text`` in a Hershey stroke font, digits ``digit_px`` tall."""
    font = int(rng.choice(HERSHEY)) | (cv2.FONT_ITALIC if rng.random() < 0.15 else 0)
    (_, h), _ = cv2.getTextSize("0", font, 1.0, 1)
    scale = digit_px / max(h, 1)
    thick = max(1, int(round(scale * rng.uniform(1.0, 3.0))))
    canvas = np.zeros((int(digit_px * 2), int(digit_px * (len(text) + 2))), np.uint8)
    x = int(digit_px // 2)
    for ch in text:
        cv2.putText(canvas, ch, (x, int(digit_px * 1.5)), font, scale, 255, thick, cv2.LINE_AA)
        x += int(cv2.getTextSize(ch, font, scale, thick)[0][0] + spacing)
    return canvas.astype(np.float32) / 255.0


def batch(crops: list[tuple[np.ndarray, str]], config: DigitConfig):
    """(x (B, 1, H, Wmax), input lengths, targets, target lengths) for CTC."""
    xs = [prepare(c, config) for c, _ in crops]
    wmax = max(x.shape[1] for x in xs)
    x = np.zeros((len(xs), 1, config.height, wmax), np.float32)
    for i, a in enumerate(xs):
        x[i, 0, :, : a.shape[1]] = a
    in_len = torch.tensor([a.shape[1] // 2 for a in xs])
    targets = torch.tensor([int(ch) + 1 for _, t in crops for ch in t])
    t_len = torch.tensor([len(t) for _, t in crops])
    return torch.from_numpy(x), in_len, targets, t_len


def exact_share(model: DigitNet, crops: list[tuple[np.ndarray, str]]) -> float:
    """Share of crops read exactly."""
    model.eval()
    with torch.inference_mode():
        hits = 0
        for k in range(0, len(crops), 256):
            part = crops[k : k + 256]
            x, in_len, _, _ = batch(part, model.config)
            logits = model(x)
            for i, (_, text) in enumerate(part):
                hits += decode(logits[i, :, : int(in_len[i])])[0] == text
    model.train()
    return hits / len(crops)


def fit(*, steps: int, seed: int, batch_size: int = 64, pool: int = 40_000, test: int = 2_000, lr: float = 3e-3):
    """Train a DigitNet; returns (model, test exact-read share, seconds)."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    font_files = fonts()
    train_rng, test_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    data = [render(train_rng, font_files) for _ in range(pool)]
    held = [render(test_rng, font_files) for _ in range(test)]
    model = DigitNet(DigitConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    order = np.random.default_rng([seed, 2])
    model.train()
    for step in range(steps):
        for group in opt.param_groups:  # cosine decay after a short warm-up
            group["lr"] = lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = order.integers(0, len(data), batch_size)
        x, in_len, targets, t_len = batch([data[i] for i in idx], model.config)
        logp = torch.log_softmax(model(x), dim=1).permute(2, 0, 1)  # (T, B, C)
        loss = ctc(logp, targets, in_len, t_len)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    share = exact_share(model, held)
    return model.eval(), share, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(DIGITS_WEIGHTS))
    args = ap.parse_args(argv)
    model, share, seconds = fit(steps=args.steps, seed=args.seed)
    meta = {
        "recipe": f"python -m logdigit.research.digits --steps {args.steps} --seed {args.seed}",
        "fonts": [Path(f).name for f in fonts()],
        "test_exact": round(share, 4),
        "seconds": round(seconds, 1),
    }
    save_digits(model, args.out, meta=meta)
    print(f"test crops read exactly: {share:.4f} ({seconds:.0f} s) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
