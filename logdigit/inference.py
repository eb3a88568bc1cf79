"""Tiled VeerNet inference with smooth blending and memory bounded by the tile size.

The scan is covered by overlapping ``tile`` x ``tile`` windows. Each window's softmax
is weighted by a ramp that falls towards the window's edges (where the network sees
the least context) and accumulated; the result is the weighted mean. Windows are
processed band by band down the scan, and rows no later band touches are finalised
and handed out, so only one band of accumulators (3 x tile x W floats) is ever held,
whatever the scan's height.

>>> import torch
>>> from logdigit.model import VeerNet, VeerNetConfig
>>> model = VeerNet(VeerNetConfig(widths=(8, 16), attn_layers=0, groups=4)).eval()
>>> image = np.full((70, 50, 3), 255, np.uint8)
>>> probs = predict_proba(model, image, tile=32, overlap=8)
>>> probs.shape, probs.dtype, bool(np.allclose(probs.sum(0), 1, atol=1e-5))
((3, 70, 50), dtype('float32'), True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
BLANK_RANGE = 40 / 255
"""A window whose values span less than this (in [0, 1]) is bare paper: pure background."""


def predict_proba(
    model: torch.nn.Module,
    image: np.ndarray,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch: int = 4,
    device: str | torch.device = "cpu",
    amp: bool | None = None,
    skip_blank: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Class probabilities of a whole scan.

    Args:
        model: a VeerNet (any module mapping (B,3,h,w) in [0,1] to (B,3,h,w) logits).
        image: uint8 (H, W, 3) RGB scan, or float32 (3, H, W) in [0, 1].
        tile: window side in px; overlap: px shared by neighbouring windows.
        device: where the network runs; amp: float16 autocast (default: on for CUDA).
        progress: ``progress(rows_done, H)``.

    Returns:
        float32 (3, H, W), softmax over classes (0 background, 1 solid, 2 dashed).
    """
    h, w = _hw(image)
    out = np.empty((3, h, w), np.float32)
    for row0, strip in iter_proba(
        model,
        image,
        tile=tile,
        overlap=overlap,
        batch=batch,
        device=device,
        amp=amp,
        skip_blank=skip_blank,
        progress=progress,
    ):
        out[:, row0 : row0 + strip.shape[1]] = strip
    return out


def iter_proba(
    model: torch.nn.Module,
    image: np.ndarray,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch: int = 4,
    device: str | torch.device = "cpu",
    amp: bool | None = None,
    skip_blank: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(row0, probs)`` strips, float32 (3, n, W), top to bottom, covering every row once.

    Same arguments as :func:`predict_proba`; peak memory is about one band of windows.
    """
    h, w = _hw(image)
    if tile < 32 or not 0 <= overlap < tile // 2:
        raise ValueError(f"tile must be >= 32 and 0 <= overlap < tile/2, got tile={tile} overlap={overlap}")
    device = torch.device(device)
    amp = device.type == "cuda" if amp is None else amp
    th, tw = min(tile, h), min(tile, w)
    ys, xs = _starts(h, th, tile - overlap), _starts(w, tw, tile - overlap)
    model.eval()
    # Everything between reading a band and handing out a strip stays on `device`: on CUDA only
    # the finished strips cross to the host. No inference_mode block spans a yield.
    with torch.inference_mode():
        window = torch.from_numpy(_window(th, tw, overlap)).to(device)
        acc = torch.zeros((3, th, w), dtype=torch.float32, device=device)  # rows [buf0, buf0 + th)
        wsum = torch.zeros((th, w), dtype=torch.float32, device=device)
    buf0 = 0
    for y in ys:
        if y > buf0:  # rows above y are final: no later band reaches them
            n = y - buf0
            with torch.inference_mode():
                strip = (acc[:, :n] / wsum[:n]).cpu().numpy()
                acc = torch.cat([acc[:, n:], acc.new_zeros((3, n, w))], dim=1)
                wsum = torch.cat([wsum[n:], wsum.new_zeros((n, w))], dim=0)
            yield buf0, strip
            buf0 = y
        with torch.inference_mode():
            band = _band(image, y, y + th, device)  # float32 (3, th, W)
            probs = _run_band(model, band, xs, tw, batch=batch, amp=amp, skip_blank=skip_blank)
            for x, p in zip(xs, probs, strict=True):
                acc[:, :, x : x + tw] += p * window
                wsum[:, x : x + tw] += window
        if progress is not None:
            progress(min(y + th, h), h)
    with torch.inference_mode():
        strip = (acc / wsum).cpu().numpy()
    yield buf0, strip


def _hw(image: np.ndarray) -> tuple[int, int]:
    if image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8:
        return image.shape[0], image.shape[1]
    if image.ndim == 3 and image.shape[0] == 3 and image.dtype == np.float32:
        return image.shape[1], image.shape[2]
    raise ValueError(f"image must be uint8 (H, W, 3) or float32 (3, H, W), got {image.shape} {image.dtype}")


def _band(image: np.ndarray, r0: int, r1: int, device: torch.device) -> torch.Tensor:
    """Rows [r0, r1) as float32 (3, n, W) in [0, 1] on ``device`` (uint8 crosses as uint8)."""
    if image.dtype != np.uint8:
        return torch.from_numpy(np.ascontiguousarray(image[:, r0:r1])).to(device)
    # (n, W, 3) -> (3, n, W) as a strided view: _run_band copies the windows into the
    # channels-last batch the network gets, so no copy is made here beyond the conversion.
    if device.type == "cpu":  # NumPy's conversion, as the model card's figures were measured with
        return torch.from_numpy(image[r0:r1].transpose(2, 0, 1).astype(np.float32) / 255.0)
    return torch.from_numpy(image[r0:r1]).to(device).permute(2, 0, 1).float() / 255.0


def _starts(n: int, size: int, stride: int) -> list[int]:
    """Window starts covering [0, n): regular steps, the last one flush with the end.

    >>> _starts(100, 40, 30), _starts(30, 30, 20)
    ([0, 30, 60], [0])
    """
    starts = list(range(0, max(n - size, 0) + 1, stride))
    if starts[-1] + size < n:
        starts.append(n - size)
    return starts


def _window(h: int, w: int, overlap: int) -> np.ndarray:
    """float32 (h, w) blending weights: 1 inside, ramping to a small positive value at the edges."""

    def ramp(n: int) -> np.ndarray:
        d = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
        return np.clip((d + 0.5) / max(overlap, 1), 1e-3, 1.0)

    return np.outer(ramp(h), ramp(w))


def _run_band(
    model,
    band: torch.Tensor,
    xs: list[int],
    tw: int,
    *,
    batch: int,
    amp: bool,
    skip_blank: bool,
) -> list[torch.Tensor]:
    """Softmax of each window of one band: float32 (3, th, tw) tensors on the band's device."""
    tiles = [band[:, :, x : x + tw] for x in xs]
    if skip_blank:  # a window of bare paper (no ink anywhere) is background; the network is not asked
        spread = (torch.stack([t.amax() for t in tiles]) - torch.stack([t.amin() for t in tiles])).cpu()
        blank = (spread < BLANK_RANGE).tolist()
    else:
        blank = [False] * len(xs)
    out: list[torch.Tensor | None] = [None] * len(tiles)
    if any(blank):
        background = torch.zeros_like(tiles[0])
        background[0] = 1.0
        for i in np.flatnonzero(blank):
            out[i] = background
    todo = [i for i, b in enumerate(blank) if not b]
    for k in range(0, len(todo), batch):
        idx = todo[k : k + batch]
        # channels-last input (as the NumPy tiling always handed the network; faster on CPU)
        x = torch.stack([tiles[i] for i in idx]).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=band.device.type, dtype=torch.float16, enabled=amp):
            logits = model(x)
        probs = torch.softmax(logits.float(), dim=1)
        for j, i in enumerate(idx):
            out[i] = probs[j]
    return out  # type: ignore[return-value]
