"""Per-pixel losses: soft cross-entropy, KL divergence, softmax focal and SMP's sigmoid focal.

All take raw logits (B, C, H, W) and either hard labels int64 (B, H, W) (``ignore_index``
pixels dropped) or a float (B, C, H, W) probability target (all-zero rows dropped). Ignored
pixels are masked by hand and ``reduction="mean"`` divides by the number of kept pixels, so an
all-ignored batch gives 0 with a zero gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from logdigit.research.losses._common import (
    FunctionalLoss,
    check_logits,
    check_options,
    class_vector,
    parse_target,
    reduce_pixels,
)


def soft_cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    label_smoothing: float = 0.0,
    weight: Sequence[float] | Tensor | None = None,
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy ``-sum_c w_c t_c log softmax(logits)_c`` with hard or per-pixel soft targets.

    Its minimum over the prediction is the target's entropy, not 0. ``label_smoothing=eps``
    first replaces t by ``(1 - eps) t + eps / C``.

    Reproduces ``torch.nn.functional.cross_entropy(logits, target, label_smoothing=eps)`` for
    index targets (including ``ignore_index``, whose mean is over kept pixels) and for probability
    targets (where torch has no ``ignore_index``); SMP 0.6.0
    ``SoftCrossEntropyLoss(smooth_factor=eps)`` without ignored pixels (with them SMP divides by
    all pixels, issue #852: that is ``reduction="sum"`` divided by B*H*W). With ``weight`` the
    mean divides by the kept-pixel count, torch's probability-target convention; torch's
    index-target CE divides by ``sum_i w[y_i]`` instead.

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        target: int64 (B, H, W) labels or float (B, C, H, W) probabilities (rows summing to 1,
            all-zero rows ignored).
        label_smoothing: eps in [0, 1].
        weight: C non-negative class weights, or None.
        ignore_index: label value of ignored pixels, or None.
        reduction: ``"mean"`` over kept pixels, ``"sum"``, or ``"none"`` for the (B, H, W) map
            (0 at ignored pixels).

    Returns:
        float32 scalar, or (B, H, W) for ``reduction="none"``.

    Example:
        >>> logits = torch.zeros(1, 3, 2, 2)
        >>> labels = torch.tensor([[[0, 1], [2, 255]]])
        >>> round(soft_cross_entropy(logits, labels).item(), 4)  # log 3 over 3 kept pixels
        1.0986
    """
    check_options(label_smoothing=label_smoothing, reduction=reduction)
    x = check_logits(logits)
    tg = parse_target(target, x, ignore_index)
    t = tg.t
    if label_smoothing:
        t = ((1 - label_smoothing) * t + label_smoothing / t.shape[1]) * tg.keep[:, None]
    w = class_vector(weight, x.shape[1], x, name="weight")
    per_pixel = -(t * w[:, None, None] * x.log_softmax(1)).sum(1)
    return reduce_pixels(per_pixel, tg.keep, reduction)


def kl_divergence_loss(
    logits: Tensor,
    target: Tensor,
    *,
    temperature: float = 1.0,
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    """Distillation KL ``T^2 * sum_c t_c (log t_c - log softmax(logits / T)_c)`` per pixel.

    It equals :func:`soft_cross_entropy` minus the target's entropy (same gradient); it is 0 at
    ``softmax(logits / T) == t``. Reproduces JDTLosses ``KLDivLoss(T)`` (``kd_mix.kl_only``).

    Args:
        logits: float (B, C, H, W) raw student scores.
        target: float (B, C, H, W) teacher probabilities (see
            :func:`~logdigit.research.losses.teacher_targets`) or int64 (B, H, W) labels.
        temperature: T > 0 applied to the student; the teacher should use the same T.
        ignore_index: label value of ignored pixels, or None.
        reduction: ``"mean"`` over kept pixels, ``"sum"`` or ``"none"``.

    Returns:
        float32 scalar, or (B, H, W) for ``reduction="none"``.

    Example:
        >>> t = torch.full((1, 3, 2, 2), 1 / 3)
        >>> kl_divergence_loss(torch.zeros(1, 3, 2, 2), t).abs().item() < 1e-7
        True
    """
    check_options(temperature=temperature, reduction=reduction)
    x = check_logits(logits)
    tg = parse_target(target, x, ignore_index)
    per_pixel = (torch.xlogy(tg.t, tg.t) - tg.t * (x / temperature).log_softmax(1)).sum(1)
    return reduce_pixels(temperature**2 * per_pixel, tg.keep, reduction)


def focal_loss(
    logits: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    alpha: Sequence[float] | Tensor | None = None,
    class_reduction: str = "sum",
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    """Softmax focal loss in per-class form ``-sum_c alpha_c t_c (1 - p_c)^gamma log p_c``.

    The per-class form accepts soft targets directly (smoothing the target does not corrupt a
    ``p_t``, keras-cv #672); with soft targets its minimum is not at p == t. gamma = 0 gives
    (weighted) cross-entropy.

    Reproduces: ``class_reduction="sum"`` is the textbook softmax focal loss (Lin et al.;
    ``formula.softmax_focal`` references); ``class_reduction="mean"`` divides by C and is MONAI
    1.6.1 ``FocalLoss(use_softmax=True, gamma=g)`` (with ``to_onehot_y=True`` for hard labels;
    MONAI's scalar ``alpha=a`` is ``alpha=(1 - a, a, a)`` here). Not SMP's ``FocalLoss``, which is
    :func:`sigmoid_focal_loss`.

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        target: int64 (B, H, W) labels or float (B, C, H, W) soft target.
        gamma: focusing exponent >= 0.
        alpha: C non-negative class weights, or None.
        class_reduction: ``"sum"`` or ``"mean"`` over classes.
        ignore_index: label value of ignored pixels, or None.
        reduction: ``"mean"`` over kept pixels, ``"sum"`` or ``"none"``.

    Returns:
        float32 scalar, or (B, H, W) for ``reduction="none"``.

    Example:
        >>> logits = torch.zeros(1, 3, 1, 1)
        >>> round(focal_loss(logits, torch.zeros(1, 1, 1, dtype=torch.long)).item(), 4)  # (2/3)^2 log 3
        0.4883
    """
    check_options(gamma=gamma, class_reduction=class_reduction, reduction=reduction)
    x = check_logits(logits)
    tg = parse_target(target, x, ignore_index)
    logp = x.log_softmax(1)
    # clamp keeps d/dp (1-p)^gamma finite where p rounds to 1 (saturated logits, gamma < 1)
    focus = (1 - logp.exp()).clamp_min(torch.finfo(x.dtype).tiny) ** gamma
    w = class_vector(alpha, x.shape[1], x, name="alpha")
    per_pixel = -(w[:, None, None] * tg.t * focus * logp).sum(1)
    if class_reduction == "mean":
        per_pixel = per_pixel / x.shape[1]
    return reduce_pixels(per_pixel, tg.keep, reduction)


def sigmoid_focal_loss(
    logits: Tensor,
    labels: Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    class_reduction: str = "mean",
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> Tensor:
    """One-vs-rest sigmoid focal loss on each class's raw logit (SMP's "multiclass" FocalLoss).

    Per pixel and class: ``l = BCEWithLogits(z_c, [y == c])``, ``term = (1 - exp(-l))^gamma l``,
    times ``alpha t + (1 - alpha)(1 - t)`` when ``alpha`` is set; no softmax is involved.
    Hard labels only.

    Reproduces SMP 0.6.0 ``FocalLoss(mode="multiclass", gamma=g, alpha=a, ignore_index=i)``
    (= MONAI ``FocalLoss(to_onehot_y=True)``) with ``class_reduction="mean"``, and SMP <= 0.5.x
    (which summed the classes, 3x larger for C=3) with ``class_reduction="sum"``.

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        labels: int64 (B, H, W) labels; a float target raises ValueError.
        gamma: focusing exponent >= 0.
        alpha: scalar in [0, 1] weighting the positive term, or None.
        class_reduction: ``"mean"`` (SMP 0.6) or ``"sum"`` (SMP <= 0.5) over classes.
        ignore_index: label value of ignored pixels, or None.
        reduction: ``"mean"`` over kept pixels, ``"sum"`` or ``"none"``.

    Returns:
        float32 scalar, or (B, H, W) for ``reduction="none"``.

    Example:
        >>> logits = torch.zeros(1, 3, 1, 1)
        >>> round(sigmoid_focal_loss(logits, torch.zeros(1, 1, 1, dtype=torch.long)).item(), 4)  # log 2 / 4
        0.1733
    """
    check_options(gamma=gamma, class_reduction=class_reduction, reduction=reduction)
    if alpha is not None and not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be None or in [0, 1], got {alpha!r}")
    x = check_logits(logits)
    if isinstance(labels, Tensor) and labels.is_floating_point():
        raise ValueError(
            f"sigmoid_focal_loss needs int64 (B, H, W) hard labels, got a float {tuple(labels.shape)} target; "
            "use focal_loss for soft targets"
        )
    tg = parse_target(labels, x, ignore_index)
    bce = F.binary_cross_entropy_with_logits(x, tg.t, reduction="none")
    term = (1 - torch.exp(-bce)).clamp_min(torch.finfo(x.dtype).tiny) ** gamma * bce
    if alpha is not None:
        term = term * (alpha * tg.t + (1 - alpha) * (1 - tg.t))
    per_pixel = term.sum(1) if class_reduction == "sum" else term.mean(1)
    return reduce_pixels(per_pixel, tg.keep, reduction)


class SoftCrossEntropyLoss(FunctionalLoss):
    """Module form of :func:`soft_cross_entropy`; options as there.

    Example:
        >>> SoftCrossEntropyLoss(label_smoothing=0.1)
        SoftCrossEntropyLoss(label_smoothing=0.1)
    """

    function = staticmethod(soft_cross_entropy)


class KLDivergenceLoss(FunctionalLoss):
    """Module form of :func:`kl_divergence_loss`; options as there.

    Example:
        >>> KLDivergenceLoss(temperature=2.0)
        KLDivergenceLoss(temperature=2.0)
    """

    function = staticmethod(kl_divergence_loss)


class FocalLoss(FunctionalLoss):
    """Module form of :func:`focal_loss` (softmax, soft targets allowed); options as there.

    Example:
        >>> FocalLoss(gamma=2.0, class_reduction="mean")
        FocalLoss(gamma=2.0, class_reduction='mean')
    """

    function = staticmethod(focal_loss)


class SigmoidFocalLoss(FunctionalLoss):
    """Module form of :func:`sigmoid_focal_loss` (SMP's one-vs-rest focal); options as there.

    Example:
        >>> SigmoidFocalLoss(class_reduction="sum")
        SigmoidFocalLoss(class_reduction='sum')
    """

    function = staticmethod(sigmoid_focal_loss)
