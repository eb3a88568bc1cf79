"""VeerNet: a small U-Net-style encoder-decoder for thin-curve segmentation.

Encoder: residual blocks each followed by CBAM (channel-then-spatial) attention,
downsampling by strided convolution. Bottleneck: a few transformer layers over
the coarsest feature map. Decoder: bilinear upsampling, skip concatenation,
residual blocks. Head: 1x1 convolution to 3 classes (0 background, 1 solid
curve, 2 dashed/dotted curve); ``forward`` returns logits, softmax is applied
by the caller. GroupNorm throughout. Input: RGB float in [0, 1], any size (it is
padded inside to a multiple of ``2 ** (len(widths) - 1)``).

>>> import torch
>>> model = VeerNet(VeerNetConfig(widths=(8, 16), attn_layers=1, attn_heads=2, groups=4))
>>> model(torch.rand(1, 3, 37, 50)).shape
torch.Size([1, 3, 37, 50])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from logdigit.model.blocks import CBAM, ResBlock, TransformerBottleneck

CLASS_NAMES: tuple[str, ...] = ("background", "solid", "dashed")

MIN_LEVELS, MAX_LEVELS = 2, 8
"""Resolution levels (``len(widths)``): 8 levels already shrink a side 128 times."""

MAX_WIDTH = 1024
"""Most channels per level: 8x the shipped model's widest; bounds what a config can allocate."""

_BOUNDS = (
    ("blocks", 1, 8),
    ("attn_layers", 0, 16),
    ("attn_heads", 1, 64),
    ("groups", 1, MAX_WIDTH),
    ("cbam_reduction", 1, MAX_WIDTH),
    ("num_classes", 2, 256),
)
"""(field, lowest, highest) for the other settings: whole numbers in a range that builds."""


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class VeerNetConfig:
    """Build settings of a VeerNet, saved beside its weights.

    Attributes:
        widths: channels per resolution level, finest first; ``len(widths) - 1`` downsamplings.
        blocks: residual blocks per encoder level.
        attn_layers: transformer layers at the bottleneck.
        attn_heads: attention heads (must divide ``widths[-1]``).
        groups: GroupNorm groups (capped at the channel count).
        cbam_reduction: channel-attention MLP reduction.
        num_classes: output classes (3 for logdigit).
    """

    widths: tuple[int, ...] = (8, 16, 32, 64, 128)
    blocks: int = 1
    attn_layers: int = 2
    attn_heads: int = 4
    groups: int = 8
    cbam_reduction: int = 4
    num_classes: int = 3

    def __post_init__(self) -> None:
        widths, example = self.widths, list(VeerNetConfig.widths)
        if not isinstance(widths, tuple) or not MIN_LEVELS <= len(widths) <= MAX_LEVELS:
            raise ValueError(
                f"widths: needs at least {MIN_LEVELS} levels and at most {MAX_LEVELS}, got {widths!r}; e.g. {example}"
            )
        if not all(_whole(w, 1, MAX_WIDTH) for w in widths):
            raise ValueError(
                f"widths: channels must be whole numbers from 1 to {MAX_WIDTH}, got {list(widths)}; e.g. {example}"
            )
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if not _whole(value, low, high):
                raise ValueError(f"{name}: expected a whole number from {low} to {high}, got {value!r}")
        if widths[-1] % self.attn_heads:
            raise ValueError(f"attn_heads: {self.attn_heads} must divide widths[-1]={widths[-1]}")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> VeerNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown VeerNetConfig keys {unknown}; valid keys: {sorted(known)}")
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)


class VeerNet(nn.Module):
    """The logdigit segmentation network: (B, 3, H, W) in [0, 1] -> (B, num_classes, H, W) logits."""

    def __init__(self, config: VeerNetConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or VeerNetConfig()
        w = cfg.widths
        self.stem = nn.Conv2d(3, w[0], 3, padding=1)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        for i, c in enumerate(w):
            c_in = w[0] if i == 0 else c
            blocks = [ResBlock(c_in if j == 0 else c, c, groups=cfg.groups) for j in range(cfg.blocks)]
            self.enc.append(nn.Sequential(*blocks, CBAM(c, reduction=cfg.cbam_reduction)))
            if i + 1 < len(w):
                self.down.append(nn.Conv2d(c, w[i + 1], 3, stride=2, padding=1))
        self.bottleneck = TransformerBottleneck(w[-1], layers=cfg.attn_layers, heads=cfg.attn_heads)
        self.dec = nn.ModuleList(
            ResBlock(w[i] + w[i + 1], w[i], groups=cfg.groups) for i in reversed(range(len(w) - 1))
        )
        self.head = nn.Conv2d(w[0], cfg.num_classes, 1)

    @property
    def multiple(self) -> int:
        """Input sides are padded to a multiple of this."""
        return 2 ** (len(self.config.widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"VeerNet expects (B, 3, H, W) RGB in [0, 1], got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        m = self.multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        # Replicate padding: paper continues past the edge, no artificial dark border.
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        x = self.stem((x - 0.5) / 0.25)
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x)
            if i < len(self.down):
                skips.append(x)
                x = self.down[i](x)
        x = self.bottleneck(x)
        for dec, skip in zip(self.dec, reversed(skips), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], dim=1))
        return self.head(x)[..., :h, :w]


MODELS: dict[str, Callable[..., nn.Module]] = {"veernet": VeerNet}
"""Model registry: name -> constructor taking a config."""


def create_model(name: str = "veernet", config: VeerNetConfig | None = None) -> nn.Module:
    """Build a registered model by name.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {sorted(MODELS)}")
    return MODELS[name](config)
