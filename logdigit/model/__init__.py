"""The network stage: VeerNet and its blocks, the weights loader, tiled inference and the device.

``create_model(name, config)`` builds a network from the registry. The names below are loaded on
first use, so importing ``logdigit.model.weights`` or ``logdigit.model.device`` does not import
torch until a network is built.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MODELS", "VeerNet", "VeerNetConfig", "create_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("logdigit.model.veernet"), name)
    raise AttributeError(f"module 'logdigit.model' has no attribute {name!r}")
