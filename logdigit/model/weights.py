"""Saving and loading VeerNet weights as plain data.

A model is two files: ``NAME.safetensors`` (tensors only) and ``NAME.json`` (the
frozen :class:`VeerNetConfig`, class names, and free-form training metadata).
Nothing is ever unpickled: safetensors holds only tensors, and a ``.pt``/``.pth``
file is read with ``torch.load(weights_only=True)``, which refuses code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors import SafetensorError

from logdigit.errors import WeightsError
from logdigit.io.atomic import atomic_path, write_text_atomic

if TYPE_CHECKING:  # torch is imported by the functions that need it: paths and cards need none
    import torch

    from logdigit.model.veernet import VeerNet, VeerNetConfig

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
"""Where the shipped models live (the source tree; installed copies name theirs via ``LOGDIGIT_WEIGHTS``)."""

MODELS: dict[str, str] = {
    "veernet": "veernet.safetensors",
    "fast": "veernet-fast.safetensors",
    "print": "veernet-print.safetensors",
}
"""Shipped models by name (``--model NAME``): the default VeerNet and its distilled student
(half the channels; ``models/MODEL_CARD.md`` gives both models' figures)."""

DEFAULT_WEIGHTS = MODELS_DIR / MODELS["veernet"]
"""The shipped default model."""


def default_weights() -> Path:
    """The weights used when none are named: ``$LOGDIGIT_WEIGHTS`` or the shipped model."""
    return Path(os.environ.get("LOGDIGIT_WEIGHTS", DEFAULT_WEIGHTS))


def shipped_weights(name: str) -> Path:
    """The weights of the shipped model called ``name`` (a key of :data:`MODELS`).

    >>> shipped_weights("fast").name
    'veernet-fast.safetensors'
    """
    if name not in MODELS:
        raise WeightsError(f"--model {name}: no shipped model of that name; choose one of {', '.join(MODELS)}")
    return MODELS_DIR / MODELS[name]


def config_path(weights: str | os.PathLike) -> Path:
    """The JSON sidecar of a weights file: ``veernet.safetensors`` -> ``veernet.json``."""
    return Path(weights).with_suffix(".json")


def network_code_sha() -> str:
    """sha256 (16 hex digits) of the code that turns weights into probabilities: the network's
    and the tiled inference's sources, and torch's version.

    A cache of probabilities keyed by the weights alone goes stale when this code changes (a
    faster kernel path moves float32 probabilities in their last bits); key it by this too.

    >>> len(network_code_sha())
    16
    """
    import hashlib

    import torch

    here = Path(__file__).resolve().parent
    h = hashlib.sha256(torch.__version__.encode())
    for name in ("veernet.py", "blocks.py", "inference.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()[:16]


def save_model(model: VeerNet, path: str | os.PathLike, *, meta: dict | None = None) -> Path:
    """Write ``model`` to ``path`` (.safetensors) and its config to the JSON sidecar, atomically."""
    from safetensors.torch import save_file

    from logdigit.model.veernet import CLASS_NAMES

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "logdigit-veernet"})
    card = {"architecture": "veernet", "config": model.config.to_dict(), "classes": list(CLASS_NAMES)}
    card.update(meta or {})
    write_text_atomic(config_path(path), json.dumps(card, indent=2) + "\n")
    return path


def read_card(path: str | os.PathLike) -> dict:
    """The JSON sidecar of ``path`` as a dict (config, classes, metadata)."""
    cfg = config_path(path)
    try:
        return json.loads(cfg.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"{cfg}: config file missing; weights need their JSON config beside them") from None
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{cfg}: not valid JSON (line {exc.lineno}); restore it from the model's source") from None


def load_model(path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu") -> VeerNet:
    """Build the VeerNet described by the JSON sidecar and load its weights, in eval mode.

    Raises:
        WeightsError: missing or unreadable file, a pickle that is not plain data, or
            tensors that do not match the config.
    """
    import torch

    from logdigit.model.veernet import VeerNet

    path = Path(path) if path is not None else default_weights()
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found; pass --weights PATH or reinstall the shipped model")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: the weights file is empty; copy it again or re-export the weights")
    config = _config(path, read_card(path))
    state = _read_tensors(path)
    _check_finite(path, state)
    model = VeerNet(config)
    missing, unexpected = _diff_keys(model.state_dict(), state)
    if missing or unexpected:
        raise WeightsError(
            f"{path}: tensors do not match the config (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}); use the JSON that was saved with these weights"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise WeightsError(
            f"{path}: tensor shapes do not match the config ({first}); use the JSON that was saved with these weights"
        ) from None
    model = model.to(device).eval()
    if torch.device(device).type == "cpu":
        # The windows reach the network channels-last; weights laid out the same way run the
        # shipped VeerNet's CPU convolutions about 1.16x faster (1 thread, 512 px; `make bench`'s
        # channels_last variant). Values agree with the NCHW layout to float rounding.
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # in torch, not its stubs
    return model


def _config(path: Path, card) -> VeerNetConfig:
    """The card's VeerNetConfig, checked (bounded sizes, the classes logdigit predicts)."""
    from logdigit.model.veernet import CLASS_NAMES, VeerNetConfig

    fix = "use the JSON that was saved with these weights"
    data = card.get("config", {}) if isinstance(card, dict) else None
    if not isinstance(data, dict):
        raise WeightsError(f"{config_path(path)}: config: expected an object of VeerNet settings; {fix}")
    try:
        config = VeerNetConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{config_path(path)}: config: {exc}; {fix}") from None
    if config.num_classes != len(CLASS_NAMES):
        raise WeightsError(
            f"{config_path(path)}: config: num_classes: {config.num_classes}, but logdigit predicts "
            f"{len(CLASS_NAMES)} classes {list(CLASS_NAMES)}; use weights trained by `logdigit train`"
        )
    return config


def _check_finite(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Refuse NaN or infinite weights: such a network would give NaN probabilities, hence empty masks."""
    import torch

    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise WeightsError(
                f"{path}: tensor {name} holds NaN or infinite values (a diverged or damaged model); "
                "use an earlier checkpoint or retrain"
            )


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    import torch
    from safetensors.torch import load_file

    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise WeightsError(f"{path}: not a readable safetensors file ({exc}); re-export the weights") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a refused pickle
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise WeightsError(
            f"{path}: refused: only plain tensor data is loaded, never pickled code ({first}); "
            "convert it to .safetensors"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: not a state dict of tensors; save model.state_dict() or use .safetensors")
    return state


def _diff_keys(expected: dict, got: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
