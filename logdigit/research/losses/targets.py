"""Target builders: hard labels -> dense (B, C, H, W) float targets for the losses.

They are kept apart from the losses so that every loss sees a plain probability target and
the smoothing recipe is a visible choice of the training recipe. Ignored pixels
(``labels == ignore_index``) come out as all-zero rows, which every loss of
:mod:`logdigit.research.losses` treats as "ignore". Partial-volume soft labels come ready-made from the
synthetic data generator and need no builder here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from logdigit.research.losses._common import check_labels, check_logits, check_options, dense_onehot


def onehot(labels: Tensor, num_classes: int = 3, *, ignore_index: int | None = 255) -> Tensor:
    """One-hot encode hard labels; ignored pixels get an all-zero row.

    Args:
        labels: int64 (B, H, W) classes in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: C.
        ignore_index: label value of pixels to ignore, or None.

    Returns:
        float32 (B, C, H, W), each row one-hot, zero at ignored pixels.

    Example:
        >>> onehot(torch.tensor([[[0, 2, 255]]]))[0, :, 0]
        tensor([[1., 0., 0.],
                [0., 0., 0.],
                [0., 1., 0.]])
    """
    check_labels(labels, num_classes, ignore_index)
    keep = labels != ignore_index if ignore_index is not None else torch.ones_like(labels, dtype=torch.bool)
    return dense_onehot(torch.where(keep, labels, 0), num_classes, torch.float32) * keep[:, None]


def label_smoothing(target: Tensor, *, eps: float = 0.1) -> Tensor:
    """Uniform label smoothing ``(1 - eps) * target + eps / C`` of every non-ignored pixel.

    Soft CE on this target equals ``F.cross_entropy(..., label_smoothing=eps)`` (and SMP's
    ``SoftCrossEntropyLoss(smooth_factor=eps)`` without ignored pixels).

    Args:
        target: float (B, C, H, W) one-hot or soft target; all-zero rows (ignored pixels) stay zero.
        eps: smoothing mass in [0, 1], spread evenly over the C classes.

    Returns:
        float (B, C, H, W), rows summing to 1 (0 at ignored pixels).

    Example:
        >>> label_smoothing(onehot(torch.tensor([[[1]]])), eps=0.3)[0, :, 0, 0]
        tensor([0.1000, 0.8000, 0.1000])
    """
    if not isinstance(target, Tensor) or target.ndim != 4 or not target.is_floating_point():
        got = f"{tuple(target.shape)} {target.dtype}" if isinstance(target, Tensor) else type(target).__name__
        raise ValueError(f"target must be float (B, C, H, W), got {got}")
    check_options(label_smoothing=eps)
    keep = (target.sum(1, keepdim=True) > 0).to(target.dtype)
    return ((1 - eps) * target + eps / target.shape[1]) * keep


def boundary_label_smoothing(
    labels: Tensor, *, num_classes: int = 3, k: int = 3, eps: float = 0.5, ignore_index: int | None = 255
) -> Tensor:
    """Boundary label smoothing (BLS, Wang & Blaschko; JDTLosses ``train_soft_label.py``).

    A pixel is a boundary pixel when its k x k window holds another valid class. The window is
    found by max-pooling the one-hot, whose implicit -inf padding means the image border never
    makes a boundary. Boundary pixels get ``(1 - eps) * onehot + eps / C``, the others keep
    their one-hot. As in JDTLosses, pixels within ``k // 2`` of an ignored pixel are left
    unsmoothed and ignored pixels get an all-zero row. On 1-2 px curves every curve pixel is a
    boundary pixel at k=3, so BLS smooths the whole curve plus a one-pixel halo.

    Args:
        labels: int64 (B, H, W) classes or ``ignore_index``.
        num_classes: C.
        k: odd window size in pixels.
        eps: smoothing mass in [0, 1] at boundary pixels.
        ignore_index: label value of pixels to ignore, or None.

    Returns:
        float32 (B, C, H, W), rows summing to 1 (0 at ignored pixels).

    Example:
        >>> bls = boundary_label_smoothing(torch.tensor([[[0, 0, 0, 1]]]))
        >>> bls[0, :, 0]  # the two pixels either side of the 0|1 edge are smoothed
        tensor([[1.0000, 1.0000, 0.6667, 0.1667],
                [0.0000, 0.0000, 0.1667, 0.6667],
                [0.0000, 0.0000, 0.1667, 0.1667]])
    """
    if not isinstance(k, int) or k < 1 or k % 2 == 0:
        raise ValueError(f"k must be an odd window size >= 1, got {k!r}")
    check_options(label_smoothing=eps)
    check_labels(labels, num_classes, ignore_index)
    ignored = labels == ignore_index if ignore_index is not None else torch.zeros_like(labels, dtype=torch.bool)
    # channel C marks ignored pixels so that the pooled window knows whether it touches one
    codes = torch.where(ignored, num_classes, labels).long()
    oh = dense_onehot(codes, num_classes + 1, torch.float32)
    seen = F.max_pool2d(oh, kernel_size=k, stride=1, padding=k // 2)
    boundary = (seen[:, :num_classes] > oh[:, :num_classes]).any(1) & (seen[:, num_classes] == 0)
    t = oh[:, :num_classes]
    smoothed = (1 - eps) * t + eps / num_classes
    return torch.where(boundary[:, None], smoothed, t)


def teacher_targets(teacher_logits: Tensor, *, temperature: float = 1.0) -> Tensor:
    """Soft targets from a teacher network: ``softmax(teacher_logits / T)``, detached.

    Args:
        teacher_logits: float (B, C, H, W) raw teacher scores (any float dtype; computed in float32).
        temperature: T > 0; T > 1 flattens the distribution (Hinton et al.).

    Returns:
        float32 (B, C, H, W) probabilities without gradient.

    Example:
        >>> teacher_targets(torch.zeros(1, 3, 1, 1)).flatten()
        tensor([0.3333, 0.3333, 0.3333])
    """
    check_options(temperature=temperature)
    return (check_logits(teacher_logits).detach() / temperature).softmax(1)
