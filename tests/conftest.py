"""Shared fixtures: tiny models and sheets so the suite stays fast on 2 CPU cores."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_config():
    from logdigit.model import VeerNetConfig

    # Five levels like the shipped model: attention runs at 1/16 resolution (few tokens).
    return VeerNetConfig(widths=(4, 4, 8, 8, 8), attn_layers=1, attn_heads=2, groups=4)


@pytest.fixture(scope="session")
def tiny_model(tiny_config):
    import torch

    from logdigit.model import VeerNet

    torch.manual_seed(0)
    return VeerNet(tiny_config).eval()
