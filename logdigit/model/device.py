"""Which torch device a run uses."""

from __future__ import annotations

import torch

from logdigit.errors import InputError


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error.

    >>> resolve_device("cpu").type
    'cpu'
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is visible to torch; use --device cpu or auto")
    if device != "cpu" and not device.startswith("cuda"):
        raise InputError(f"--device {device!r}: expected auto, cpu or cuda")
    return torch.device(device)
