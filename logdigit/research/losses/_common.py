"""Private helpers shared by the loss modules: input checks, option checks, masking, the Module base."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

#: Every string option of the library and the values it accepts.
CHOICES: dict[str, tuple[str, ...]] = {
    "reduce": ("batch", "image", "class"),
    "classes": ("all", "all_masked", "present", "prob", "label", "both"),
    "gamma_mode": ("per_class", "after_mean"),
    "class_reduction": ("sum", "mean"),
    "reduction": ("mean", "sum", "none"),
    "metric": ("jml1", "jml2"),
}
_NONNEGATIVE = (
    "smooth",
    "threshold",
    "gamma",
    "alpha",
    "beta",
    "label_weight",
    "teacher_weight",
    "ce_weight",
    "jml_weight",
)
_POSITIVE = ("eps", "temperature")
_UNIT_INTERVAL = ("label_smoothing",)


def check_options(**options: Any) -> None:
    """Raise ValueError for a string option outside :data:`CHOICES` or a number outside its range."""
    for name, value in options.items():
        if name in CHOICES and value not in CHOICES[name]:
            hint = "; pass class indices as subset=" if name == "classes" and not isinstance(value, str) else ""
            raise ValueError(f"{name} must be one of {list(CHOICES[name])}, got {value!r}{hint}")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        if name in _NONNEGATIVE and not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
        if name in _POSITIVE and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
        if name in _UNIT_INTERVAL and not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def check_logits(logits: Tensor) -> Tensor:
    """Validate raw scores (B, C, H, W) and return them as float32 (float64 is kept, for gradcheck).

    Half precision is promoted here because the per-class sums of a 512 x 512 batch overflow
    fp16 (SMP issue #463).
    """
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor (B, C, H, W), got {type(logits).__name__}")
    if logits.ndim != 4 or logits.shape[1] < 2 or not logits.is_floating_point():
        raise ValueError(
            f"logits must be floating (B, C, H, W) raw scores with C >= 2, got {tuple(logits.shape)} {logits.dtype}"
        )
    return logits if logits.dtype == torch.float64 else logits.float()


def check_labels(labels: Tensor, num_classes: int, ignore_index: int | None, *, name: str = "labels") -> None:
    """Validate hard labels: integer (B, H, W) in [0, num_classes) or equal to ignore_index."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (B, H, W), got {type(labels).__name__}")
    if labels.ndim != 3 or labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"{name} must be integer (B, H, W) class indices, got {tuple(labels.shape)} {labels.dtype}")
    bad = (labels < 0) | (labels >= num_classes)
    if ignore_index is not None:
        bad &= labels != ignore_index
    if bool(bad.any()):
        found = sorted(set(labels[bad].unique().tolist()))[:5]
        raise ValueError(
            f"{name} must hold classes 0..{num_classes - 1} or ignore_index={ignore_index}, got values {found}"
        )


def dense_onehot(codes: Tensor, num_channels: int, dtype: torch.dtype) -> Tensor:
    """One-hot (B, num_channels, H, W) of int codes (B, H, W) in [0, num_channels), built by scatter."""
    out = torch.zeros((codes.shape[0], num_channels, *codes.shape[1:]), dtype=dtype, device=codes.device)
    return out.scatter_(1, codes[:, None].long(), 1)


class Target(NamedTuple):
    """A target made dense: ``t`` (B, C, H, W) in the logits' dtype, zero rows where ``keep`` is False."""

    t: Tensor
    keep: Tensor
    hard: bool


def parse_target(target: Tensor, logits: Tensor, ignore_index: int | None) -> Target:
    """Turn hard labels (B, H, W) or soft targets (B, C, H, W) into a dense target plus a keep mask.

    Hard labels: pixels equal to ``ignore_index`` are dropped. Soft targets: a pixel whose row sums
    to 0 is dropped (that is how :func:`~logdigit.research.losses.onehot` and the smoothing builders mark
    ignored pixels).
    """
    b, c, h, w = logits.shape
    if not isinstance(target, Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if target.is_floating_point():
        if tuple(target.shape) != (b, c, h, w):
            raise ValueError(
                f"a soft target must be float (B, C, H, W) = {(b, c, h, w)} like the logits, "
                f"got {tuple(target.shape)} {target.dtype}"
            )
        t = target.to(logits.dtype)
        return Target(t, t.sum(1) > 0, hard=False)
    check_labels(target, c, ignore_index, name="target")
    if tuple(target.shape) != (b, h, w):
        raise ValueError(f"hard labels must be (B, H, W) = {(b, h, w)} like the logits, got {tuple(target.shape)}")
    keep = target != ignore_index if ignore_index is not None else torch.ones_like(target, dtype=torch.bool)
    t = dense_onehot(torch.where(keep, target, 0), c, logits.dtype)
    return Target(t * keep[:, None], keep, hard=True)


def class_vector(values: Sequence[float] | Tensor | None, num_classes: int, like: Tensor, *, name: str) -> Tensor:
    """A per-class weight vector (C,) in ``like``'s dtype and device; ones when ``values`` is None."""
    if values is None:
        return torch.ones(num_classes, dtype=like.dtype, device=like.device)
    v = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    if v.shape != (num_classes,) or bool((v < 0).any()):
        raise ValueError(f"{name} must be {num_classes} non-negative numbers, got {values!r}")
    return v


def reduce_pixels(per_pixel: Tensor, keep: Tensor, reduction: str) -> Tensor:
    """Reduce a (B, H, W) per-pixel loss over the kept pixels: mean (divided by the kept count), sum or none."""
    per_pixel = torch.where(keep, per_pixel, torch.zeros_like(per_pixel))
    if reduction == "none":
        return per_pixel
    total = per_pixel.sum()
    if reduction == "sum":
        return total
    return total / keep.sum().clamp_min(1)


def keyword_options(function: Callable[..., Any]) -> list[str]:
    """Names of a function's keyword-only parameters."""
    params = inspect.signature(function).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


class FunctionalLoss(nn.Module):
    """Base of the thin Module wrappers: keeps the keyword options and calls ``function``.

    Subclasses set ``function = staticmethod(some_loss)``. Unknown option names raise a TypeError
    that lists the valid ones; bad option values raise at construction, not at the first batch.
    """

    function: Callable[..., Tensor]

    def __init__(self, **options: Any) -> None:
        super().__init__()
        valid = keyword_options(self.function)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown option(s) {unknown}; valid options: {valid}")
        check_options(**options)
        self.options = dict(options)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.function(logits, target, **self.options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())
