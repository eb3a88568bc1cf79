"""Tiled VeerNet inference with smooth blending and memory bounded by the tile size.

The scan is covered by overlapping ``tile`` x ``tile`` windows. Each window's softmax
is weighted by a ramp that falls towards the window's edges (where the network sees
the least context) and accumulated; the result is the weighted mean. Windows are
processed band by band down the scan, and rows no later band touches are finalised
and handed out, so only one band of accumulators (3 x tile x W floats) is ever held,
whatever the scan's height.

On CPU the result is the same, bit for bit, whatever the thread count: each window runs
alone on one intra-op thread, the threads (``torch.get_num_threads()`` of the caller) take
windows in parallel, and the windows are blended in one fixed order. (Splitting each
convolution over threads instead changes the order of its float sums with the thread count,
which moves probabilities in their last bits and can flip a pixel at a threshold.)

>>> import torch
>>> from logdigit.model import VeerNet, VeerNetConfig
>>> model = VeerNet(VeerNetConfig(widths=(8, 16), attn_layers=0, groups=4)).eval()
>>> image = np.full((70, 50, 3), 255, np.uint8)
>>> probs = predict_proba(model, image, tile=32, overlap=8)
>>> probs.shape, probs.dtype, bool(np.allclose(probs.sum(0), 1, atol=1e-5))
((3, 70, 50), dtype('float32'), True)
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import itertools
from collections.abc import Callable, Generator, Iterator

import numpy as np
import torch

from logdigit.image.preprocess import to_model_input

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
BLANK_RANGE = 40 / 255
"""A window whose values span less than this (in [0, 1]) is bare paper: pure background."""
Region = tuple[tuple[int, int], tuple[int, int]]
"""``((first_row, stop_row), (first_col, stop_col))``, half-open: the part of a scan that needs probabilities."""
MAX_WINDOWS_AT_ONCE = 8
"""Most windows in the network at once on CPU (each holds about 160 MB of activations at 512 px)."""


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
    region: Region | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Class probabilities of a whole scan.

    Args:
        model: a VeerNet (any module mapping (B,3,h,w) in [0,1] to (B,3,h,w) logits).
        image: uint8 (H, W, 3) RGB scan, or float32 (3, H, W) in [0, 1].
        tile: window side in px; overlap: px shared by neighbouring windows.
        batch: windows per forward call on CUDA (on CPU each window runs alone, see above).
        device: where the network runs; amp: mixed precision, float16 autocast on CUDA (default on)
            and bfloat16 autocast on CPU (default off: fastest where the CPU has bfloat16
            instructions; probabilities move by up to a few hundredths).
        region: ``((r0, r1), (c0, c1))``, rows and columns (half-open) that need probabilities:
            windows that do not reach into it are not run and give background. Inside it the
            result is the same, bit for bit, as without ``region`` (the same windows cover
            it, on the same grid). None: the whole scan.
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
        region=region,
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
    region: Region | None = None,
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
    # the finished strips cross to the host. No inference_mode block spans a yield. The torch
    # work done here, outside the network, is elementwise (+, *, /, min, max): exact in IEEE
    # arithmetic, so its result does not depend on how many threads share it.
    with torch.inference_mode():
        window = torch.from_numpy(_window(th, tw, overlap)).to(device)
        acc = torch.zeros((3, th, w), dtype=torch.float32, device=device)  # rows [buf0, buf0 + th)
        wsum = torch.zeros((th, w), dtype=torch.float32, device=device)
    buf0 = 0
    bands = _bands(
        model,
        image,
        ys,
        xs,
        th,
        tw,
        batch=batch,
        device=device,
        amp=amp,
        skip_blank=skip_blank,
        region=_check_region(region, h, w),
    )
    with contextlib.closing(bands):
        for y, probs in bands:
            if y > buf0:  # rows above y are final: no later band reaches them
                n = y - buf0
                with torch.inference_mode():
                    strip = (acc[:, :n] / wsum[:n]).cpu().numpy()
                    acc = torch.cat([acc[:, n:], acc.new_zeros((3, n, w))], dim=1)
                    wsum = torch.cat([wsum[n:], wsum.new_zeros((n, w))], dim=0)
                yield buf0, strip
                buf0 = y
            with torch.inference_mode():
                for x, p in zip(xs, probs, strict=True):  # always in this order: float sums are not associative
                    acc[:, :, x : x + tw] += p * window
                    wsum[:, x : x + tw] += window
            if progress is not None:
                progress(min(y + th, h), h)
    with torch.inference_mode():
        strip = (acc / wsum).cpu().numpy()
    yield buf0, strip


def _bands(
    model,
    image: np.ndarray,
    ys: list[int],
    xs: list[int],
    th: int,
    tw: int,
    *,
    batch: int,
    device: torch.device,
    amp: bool,
    skip_blank: bool,
    region: Region,
) -> Generator[tuple[int, list[torch.Tensor]], None, None]:
    """Yield ``(y, probs)`` for each band, top to bottom: the softmax of each window, float32 (3, th, tw).

    On CPU each window goes to the network alone, on a worker thread that runs torch on one
    intra-op thread; as many windows run at once as torch has threads here, up to
    ``MAX_WINDOWS_AT_ONCE``, and those of the next bands start while a band is handed out. So
    each window's floats are the same, bit for bit, whatever the thread count and ``batch``:
    the sums inside the network are always done in one order. On CUDA the windows go in groups
    of ``batch``, on this thread.
    """
    threads = torch.get_num_threads() if device.type == "cpu" else 0
    workers = min(threads, MAX_WINDOWS_AT_ONCE)
    size = batch if threads == 0 else 1
    pool = _pool(workers)
    run = functools.partial(_forward, model, amp=amp)
    pending: collections.deque[tuple[int, list, list]] = collections.deque()  # (y, probs, [(idx, future)])
    (r0, r1), (c0, c1) = region
    needed = [x < c1 and x + tw > c0 for x in xs]  # windows reaching into the region's columns
    try:
        for y in ys:
            if not (y < r1 and y + th > r0) or not any(needed):  # a band outside the region: background
                pending.append((y, [_background(th, tw, device)] * len(xs), []))
                while _hand_out(pending, workers):
                    yield _finish(pending.popleft())
                continue
            with torch.inference_mode():
                band = _band(image, y, y + th, device)  # float32 (3, th, W)
                probs, groups = _groups(band, xs, tw, size=size, skip_blank=skip_blank, needed=needed)
            pending.append((y, probs, [(idx, pool.submit(run, x)) for idx, x in groups]))
            while _hand_out(pending, workers):
                yield _finish(pending.popleft())
        while pending:
            yield _finish(pending.popleft())
    finally:
        _close(pool, threads)


def _hand_out(pending, workers: int) -> bool:
    """Whether the oldest pending band is finished and handed out now: at once without workers,
    else once the bands after it keep every worker busy (at most ``workers + 1`` bands wait, so
    memory stays about a band's)."""
    if workers == 0:
        return bool(pending)
    queued = sum(len(groups) for _, _, groups in itertools.islice(pending, 1, None))
    return len(pending) > 1 and (len(pending) > workers + 1 or queued >= workers)


def _finish(entry: tuple[int, list, list]) -> tuple[int, list[torch.Tensor]]:
    y, probs, futures = entry
    for idx, future in futures:
        for i, p in zip(idx, future.result(), strict=True):
            probs[i] = p
    return y, probs


def _pool(threads: int) -> concurrent.futures.Executor:
    """``threads`` worker threads that each run torch on one intra-op thread (0: run on this thread)."""
    if threads == 0:
        return _Inline()
    return concurrent.futures.ThreadPoolExecutor(
        threads, thread_name_prefix="logdigit-infer", initializer=torch.set_num_threads, initargs=(1,)
    )


def _close(pool: concurrent.futures.Executor, threads: int) -> None:
    pool.shutdown(wait=True, cancel_futures=True)
    if threads:  # the workers' set_num_threads(1) also set the default that new threads start with
        torch.set_num_threads(threads)


class _Inline(concurrent.futures.Executor):
    """An executor that runs each call at once, on the calling thread."""

    def submit(self, fn, /, *args, **kwargs):
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


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
    # (n, W, 3) -> (3, n, W) in channels-last memory: _run_band copies the windows into the
    # channels-last batch the network gets, so no copy is made here beyond the conversion.
    if device.type == "cpu":
        return torch.from_numpy(to_model_input(image[r0:r1]))
    # On CUDA the uint8 band crosses (a quarter of the bytes) and is scaled there, as to_model_input does.
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


def _groups(
    band: torch.Tensor, xs: list[int], tw: int, *, size: int, skip_blank: bool, needed: list[bool]
) -> tuple[list[torch.Tensor | None], list[tuple[list[int], torch.Tensor]]]:
    """The windows of one band: softmax of those that are bare paper or not ``needed``, and the
    rest in groups of ``size`` (window indices, channels-last float32 (n, 3, th, tw) input) for
    the network."""
    tiles = [band[:, :, x : x + tw] for x in xs]
    if skip_blank:  # a window of bare paper (no ink anywhere) is background; the network is not asked
        spread = (torch.stack([t.amax() for t in tiles]) - torch.stack([t.amin() for t in tiles])).cpu()
        blank = (spread < BLANK_RANGE).tolist()
    else:
        blank = [False] * len(xs)
    blank = [b or not n for b, n in zip(blank, needed, strict=True)]
    probs: list[torch.Tensor | None] = [None] * len(tiles)
    if any(blank):
        background = _background(tiles[0].shape[1], tiles[0].shape[2], tiles[0].device)
        for i in np.flatnonzero(blank):
            probs[i] = background
    todo = [i for i, b in enumerate(blank) if not b]
    groups = []
    for k in range(0, len(todo), size):
        idx = todo[k : k + size]
        # channels-last input (as the NumPy tiling always handed the network; faster on CPU), filled
        # window by window: one copy (torch.stack then .contiguous would make two)
        batch = torch.empty((len(idx), *tiles[0].shape), dtype=band.dtype, device=band.device)
        batch = batch.contiguous(memory_format=torch.channels_last)
        for j, w in enumerate(idx):
            batch[j].copy_(tiles[w])
        groups.append((idx, batch))
    return probs, groups


def _background(th: int, tw: int, device: torch.device) -> torch.Tensor:
    """float32 (3, th, tw) probabilities of bare paper: class 0 everywhere."""
    out = torch.zeros((3, th, tw), dtype=torch.float32, device=device)
    out[0] = 1.0
    return out


def _check_region(region: Region | None, h: int, w: int) -> Region:
    """The region clipped to the image; the whole image for None."""
    if region is None:
        return (0, h), (0, w)
    try:
        (r0, r1), (c0, c1) = region
    except (TypeError, ValueError):
        raise ValueError(f"region must be ((r0, r1), (c0, c1)), got {region!r}") from None
    return (max(int(r0), 0), min(int(r1), h)), (max(int(c0), 0), min(int(c1), w))


def _forward(model, x: torch.Tensor, *, amp: bool) -> torch.Tensor:
    """float32 (n, 3, th, tw) softmax of the network on one group of windows."""
    dtype = torch.bfloat16 if x.device.type == "cpu" else torch.float16  # CPU float16 is emulated: slow
    with torch.inference_mode(), torch.autocast(device_type=x.device.type, dtype=dtype, enabled=amp):
        logits = model(x)
    with torch.inference_mode():
        return torch.softmax(logits.float(), dim=1)
