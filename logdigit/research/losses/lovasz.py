"""Lovász-Softmax loss (Berman, Rannen Triki & Blaschko, CVPR 2018), hard labels only."""

from __future__ import annotations

import torch
from torch import Tensor

from logdigit.research.losses._common import FunctionalLoss, check_logits, check_options, parse_target


def _lovasz_grad(fg_sorted: Tensor) -> Tensor:
    """Gradient of the Lovász extension of the Jaccard loss along the last dim (errors sorted desc)."""
    gts = fg_sorted.sum(-1, keepdim=True)
    intersection = gts - fg_sorted.cumsum(-1)
    union = gts + (1 - fg_sorted).cumsum(-1)
    jaccard = 1 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], -1)


def lovasz_softmax_loss(
    logits: Tensor, labels: Tensor, *, reduce: str = "batch", ignore_index: int | None = 255
) -> Tensor:
    """Lovász-Softmax: the Lovász extension of the per-class Jaccard loss, averaged over present classes.

    For each class present in the (kept) labels, the errors ``|[y == c] - p_c|`` are sorted in
    decreasing order and dotted with the Lovász gradient of the sorted indicators. Ignored
    pixels are given error 0 and indicator 0, which leaves the value unchanged (they sort last
    and add nothing). There is no soft-label form: a float target raises ValueError. Best
    combined with cross-entropy or used for fine-tuning (LovaszSoftmax #5).

    Reproduces SMP 0.6.0 ``LovaszLoss(mode="multiclass", per_image=b, ignore_index=i)`` with
    ``reduce="image" if b else "batch"``; per image, an image without kept pixels is left out
    of the mean (SMP counts it as 0).

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        labels: int64 (B, H, W) labels.
        reduce: ``"batch"`` (all pixels together) or ``"image"`` (mean of per-image losses).
        ignore_index: label value of ignored pixels, or None.

    Returns:
        float32 scalar (float64 for float64 logits); 0 with zero gradient if no pixel is kept.

    Example:
        >>> logits = torch.zeros(1, 3, 1, 2)
        >>> round(lovasz_softmax_loss(logits, torch.tensor([[[0, 1]]])).item(), 4)
        0.6667
    """
    check_options(reduce=reduce)
    if reduce == "class":
        raise ValueError("lovasz_softmax_loss: reduce must be 'batch' or 'image', got 'class'")
    x = check_logits(logits)
    if isinstance(labels, Tensor) and labels.is_floating_point():
        raise ValueError(
            f"lovasz_softmax_loss needs int64 (B, H, W) hard labels, got a float {tuple(labels.shape)} {labels.dtype} "
            "target; Lovász-Softmax has no soft-label form (use jaccard_metric_loss for soft targets)"
        )
    tg = parse_target(labels, x, ignore_index)
    b, c = x.shape[:2]
    p = x.softmax(1)
    keep = tg.keep[:, None].to(p.dtype)
    err = ((tg.t - p).abs() * keep).reshape(b, c, -1)  # (B, C, HW)
    fg = tg.t.reshape(b, c, -1)
    if reduce == "batch":
        err, fg = err.transpose(0, 1).reshape(1, c, -1), fg.transpose(0, 1).reshape(1, c, -1)  # (1, C, B*HW)
    err_sorted, order = err.sort(-1, descending=True)
    per_class = (err_sorted * _lovasz_grad(fg.gather(-1, order))).sum(-1)  # (U, C)
    present = (fg.sum(-1) > 0).to(p.dtype)
    n_present = present.sum(-1)
    per_unit = (per_class * present).sum(-1) / n_present.clamp_min(1)
    has = (n_present > 0).to(p.dtype)
    return (per_unit * has).sum() / has.sum().clamp_min(1)


class LovaszSoftmaxLoss(FunctionalLoss):
    """Module form of :func:`lovasz_softmax_loss`; options as there.

    Example:
        >>> LovaszSoftmaxLoss(reduce="image")
        LovaszSoftmaxLoss(reduce='image')
    """

    function = staticmethod(lovasz_softmax_loss)
