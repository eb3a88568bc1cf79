"""VeerNet building blocks: residual conv block, CBAM attention, transformer bottleneck.

All blocks keep the spatial size; shapes are (B, C, H, W) unless stated.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    # GroupNorm: statistics per sample, so small training batches and single tiles
    # at inference behave the same.
    return nn.GroupNorm(math.gcd(groups, channels), channels)


class ResBlock(nn.Module):
    """Two 3x3 conv + GroupNorm + SiLU with an identity (or 1x1) shortcut: (B,Cin,H,W) -> (B,Cout,H,W)."""

    def __init__(self, c_in: int, c_out: int, *, groups: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = _norm(c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = _norm(c_out, groups)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return F.silu(h + self.skip(x))


class CBAM(nn.Module):
    """Convolutional block attention: channel gate then spatial gate (Woo et al. 2018)."""

    def __init__(self, channels: int, *, reduction: int = 4, kernel: int = 7) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, channels, 1))
        self.spatial = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        mx = x.amax(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        return x * torch.sigmoid(self.spatial(pooled))


class TransformerBottleneck(nn.Module):
    """Pre-norm transformer encoder layers over the (H*W) tokens of a feature map.

    Positions come from a depthwise 3x3 convolution (a conditional positional
    encoding), so the block works at any tile size and stays translation-equivariant.
    """

    def __init__(self, channels: int, *, layers: int, heads: int) -> None:
        super().__init__()
        self.pos = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        layer = nn.TransformerEncoderLayer(
            channels,
            heads,
            dim_feedforward=2 * channels,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            return x
        b, c, h, w = x.shape
        x = x + self.pos(x)
        tokens = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
        tokens = self.encoder(tokens)
        return tokens.transpose(1, 2).reshape(b, c, h, w)
