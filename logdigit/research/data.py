"""Training batches from synthetic sheets: a seeded, deterministic, self-refreshing pool.

Drawing a sheet costs far more than a training crop, so batches are cut from a pool
of ``pool_size`` sheets; every ``refresh_every`` steps one pool slot is replaced by a
brand-new sheet. Which sheet sits in which slot, and which crops a step cuts, depend
only on ``(seed, step)``, so a resumed run sees exactly the batches an uninterrupted
run would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from logdigit.research.synth import SynthStyle, hard_labels, make_sheet, sheet_rng, sheet_style


@dataclass(frozen=True)
class DataConfig:
    """Synthetic training data settings (saved with the checkpoints)."""

    seed: int = 0
    pool_size: int = 400
    refresh_every: int = 4
    sheet_height: int = 384
    sheet_width: int = 512
    crop: int = 192
    batch_size: int = 8
    skew_deg: float = 2.0  # a crop is turned by up to this: archive scans sit up to 2 degrees off
    p_skew: float = 0.3  # the share of crops turned
    style: str = "print"  # synth.STYLES or "mixed"; "classic" with 0.7 and 0.2 is the first recipe

    def __post_init__(self) -> None:
        from logdigit.errors import InputError
        from logdigit.research.synth import MAX_SIDE, MIN_HEIGHT, MIN_WIDTH

        # crops are cut at up to 1.25x zoom-out plus a 2-px margin from one sheet
        max_crop = (
            4 * (min(self.sheet_height, self.sheet_width) - 2) // 5
            if _whole(self.sheet_height) and _whole(self.sheet_width)
            else 0
        )
        for name, value, low, high in (
            ("seed", self.seed, 0, None),
            ("pool_size", self.pool_size, 1, None),
            ("refresh_every", self.refresh_every, 1, None),
            ("sheet_height", self.sheet_height, MIN_HEIGHT, MAX_SIDE),
            ("sheet_width", self.sheet_width, MIN_WIDTH, MAX_SIDE),
            ("crop", self.crop, 32, max(max_crop, 32)),
            ("batch_size", self.batch_size, 1, None),
        ):
            if not _whole(value) or value < low or (high is not None and value > high):
                bound = f"from {low} to {high}" if high is not None else f">= {low}"
                raise InputError(f"--{name.replace('_', '-')} {value!r}: {name} must be a whole number {bound}")
        for name, high in (("skew_deg", 10.0), ("p_skew", 1.0)):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not 0 <= value <= high:
                raise InputError(
                    f"{name} {value!r}: must be a number from 0 to {high:g}, e.g. {getattr(DataConfig, name)}"
                )
        sheet_style(self.style, 0)  # an unknown style fails here


def _whole(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@dataclass(frozen=True)
class Batch:
    """x float32 (B,3,h,w) in [0,1]; labels int64 (B,h,w); soft float32 (B,3,h,w)."""

    x: torch.Tensor
    labels: torch.Tensor
    soft: torch.Tensor


class SheetPool:
    """The pool of sheets; ``batch(step)`` cuts the crops of one training step."""

    def __init__(
        self, config: DataConfig, *, style: SynthStyle | None = None, progress=None, memo: dict | None = None
    ) -> None:
        """``memo`` (a dict, shared by the caller) keeps every sheet drawn, so pools of the
        same config built later, or this pool reset with ``sync(0)``, redraw nothing. The
        loss comparison uses it; training alone does not (it would hold every sheet).
        ``style`` overrides ``config.style``."""
        self.config = config
        self.style = style  # None: each sheet in config.style's (sheet_style)
        self._memo = memo
        self._slots: list[tuple[int, tuple]] = []
        for i in range(config.pool_size):
            self._slots.append((i, self._sheet(i)))
            if progress is not None:
                progress(i + 1, config.pool_size)

    def _sheet(self, index: int) -> tuple:
        if self._memo is not None and index in self._memo:
            return self._memo[index]
        c = self.config
        s = make_sheet(
            height=c.sheet_height,
            width=c.sheet_width,
            rng=sheet_rng("train", c.seed, index),
            style=self.style if self.style is not None else sheet_style(c.style, index),
        )
        sheet = s.image, s.soft.astype(np.float16)
        if self._memo is not None:
            self._memo[index] = sheet
        return sheet

    def _slot_index(self, slot: int, step: int) -> int:
        """Sheet index held by ``slot`` just before ``step`` runs."""
        c = self.config
        refreshes = step // c.refresh_every  # refreshes done at steps 0, k, 2k, ... < step
        # Refresh r replaces slot r % P with sheet P + r.
        if refreshes <= slot:
            return slot
        last = slot + ((refreshes - 1 - slot) // c.pool_size) * c.pool_size
        return c.pool_size + last

    def sync(self, step: int) -> None:
        """Bring the pool to the state it has just before ``step`` (used when resuming)."""
        for slot in range(self.config.pool_size):
            want = self._slot_index(slot, step)
            if self._slots[slot][0] != want:
                self._slots[slot] = (want, self._sheet(want))

    def batch(self, step: int) -> Batch:
        """The crops of training step ``step`` (refreshing the pool first when due)."""
        c = self.config
        if step % c.refresh_every == 0 and step > 0:
            self.sync(step)
        rng = np.random.default_rng(np.random.SeedSequence([c.seed, 7, step]))
        xs, softs = [], []
        for _ in range(c.batch_size):
            image, soft = self._slots[int(rng.integers(c.pool_size))][1]
            img, sft = _augment(image, soft.astype(np.float32), c.crop, rng, skew=c.skew_deg, p_skew=c.p_skew)
            xs.append(img)
            softs.append(sft)
        soft = np.stack(softs)  # (B, 3, h, w)
        labels = np.stack([hard_labels(s) for s in softs]).astype(np.int64)
        x = np.stack(xs).astype(np.float32).transpose(0, 3, 1, 2) / 255.0  # (B, h, w, 3) -> (B, 3, h, w)
        return Batch(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(labels), torch.from_numpy(soft))


def _augment(
    image: np.ndarray, soft: np.ndarray, crop: int, rng: np.random.Generator, *, skew: float = 2.0, p_skew: float = 0.3
):
    """Random crop with scale, skew (up to ``skew`` degrees in a share ``p_skew`` of crops), flips and
    colour jitter; labels follow the geometry."""
    h, w = image.shape[:2]
    scale = rng.uniform(0.8, 1.25) if rng.random() < 0.3 else 1.0
    angle = rng.uniform(-skew, skew) if rng.random() < p_skew else 0.0
    size = int(np.ceil(crop / scale)) + 2
    y0 = int(rng.integers(0, h - size + 1))
    x0 = int(rng.integers(0, w - size + 1))
    img = image[y0 : y0 + size, x0 : x0 + size].astype(np.float32)
    sft = soft[:, y0 : y0 + size, x0 : x0 + size].transpose(1, 2, 0)  # (size, size, 3)
    if scale != 1.0 or angle:
        m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
        m[:, 2] += (crop - size) / 2  # keep the centre in the middle of the output crop
        img = cv2.warpAffine(img, m, (crop, crop), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        sft = cv2.warpAffine(sft, m, (crop, crop), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        sft /= sft.sum(axis=2, keepdims=True).clip(1e-6)
    else:
        img, sft = img[1 : crop + 1, 1 : crop + 1], sft[1 : crop + 1, 1 : crop + 1]
    if rng.random() < 0.5:
        img, sft = img[:, ::-1], sft[:, ::-1]
    if rng.random() < 0.5:
        img, sft = img[::-1], sft[::-1]
    if rng.random() < 0.3:  # unseen ink and grid colours
        img = img[..., rng.permutation(3)]
    if rng.random() < 0.15:
        img = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    if rng.random() < 0.5:  # exposure and contrast of the scanner
        img = (img - 128.0) * rng.uniform(0.8, 1.2) + 128.0 + rng.uniform(-20, 20)
    img = np.clip(img, 0, 255)
    return np.ascontiguousarray(img), np.ascontiguousarray(sft.transpose(2, 0, 1))
