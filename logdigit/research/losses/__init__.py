"""Segmentation losses for VeerNet (3 classes: 0 background, 1 solid curve, 2 dashed curve).

Every loss is a typed function plus a thin ``nn.Module`` (``dice_loss`` / ``DiceLoss``). Losses
take raw logits float (B, C, H, W), cast to float32 at entry (fp16 sums overflow), and a target
that is either int64 (B, H, W) hard labels (``ignore_index`` = 255 dropped) or a float
(B, C, H, W) per-pixel probability target (all-zero rows dropped). Conventions that differ
between reference libraries are explicit options; each docstring lists the settings that
reproduce SMP 0.6.0 / 0.5 / 0.3.3, MONAI 1.6.1, JDML and JDTLoss, checked against frozen
reference values in ``tests/data/loss_refs.json``. Summary:

=====================================================================  ==========================================
logdigit call                                                          reproduces
=====================================================================  ==========================================
``dice_loss(x, y, classes="all_masked")``                              SMP 0.6.0 ``DiceLoss("multiclass")``
``dice_loss(x, y, reduce="image", classes="all", smooth=5e-6)``        MONAI ``DiceLoss(softmax, to_onehot_y)``
``tversky_loss(x, y, alpha=a, beta=b, gamma=g, gamma_mode=             SMP ``TverskyLoss(alpha=a, beta=b, gamma=g)``
"after_mean", classes="all_masked")``
``jaccard_metric_loss(x, y, classes="all_masked")``                    SMP ``JaccardLoss("multiclass")``
``jaccard_metric_loss(x, y, smooth=s, classes="present"|"all")``       JDTLoss(smooth=s) on hard / soft targets
``jaccard_metric_loss(x, t, metric="jml1", smooth=s/2, threshold=.1)``  JDML ``JaccardMetricLoss("JML1", smooth=s)``
``focal_loss(x, y)`` / ``focal_loss(x, y, class_reduction="mean")``    softmax focal / MONAI ``use_softmax=True``
``sigmoid_focal_loss(x, y)``                                           SMP 0.6.0 ``FocalLoss("multiclass")``
``lovasz_softmax_loss(x, y, reduce="batch"|"image")``                  SMP ``LovaszLoss(per_image=False|True)``
``soft_cross_entropy(x, y_or_t, label_smoothing=e)``                   ``F.cross_entropy(..., label_smoothing=e)``
``kd_loss(x, y, teacher)``                                             JDTLosses af6c1f6 ``forward_loss_kd``
=====================================================================  ==========================================

Target builders (:func:`onehot`, :func:`label_smoothing`, :func:`boundary_label_smoothing`,
:func:`teacher_targets`) are separate from the losses. :data:`LOSSES` maps the names of
``logdigit train --loss`` to training recipes called as ``loss(logits, labels, soft=None)``.

Example:
    >>> import torch
    >>> loss = make_loss("dice-ce")
    >>> logits = torch.zeros(2, 3, 8, 8, requires_grad=True)
    >>> labels = torch.zeros(2, 8, 8, dtype=torch.long)
    >>> value = loss(logits, labels)
    >>> value.backward()
    >>> round(value.item(), 4)
    1.2653
"""

from __future__ import annotations

from logdigit.research.losses._common import CHOICES
from logdigit.research.losses.lovasz import LovaszSoftmaxLoss, lovasz_softmax_loss
from logdigit.research.losses.overlap import (
    DiceLoss,
    JaccardMetricLoss,
    OverlapStats,
    TverskyLoss,
    dice_loss,
    jaccard_metric_loss,
    overlap_stats,
    tversky_loss,
)
from logdigit.research.losses.pixel import (
    FocalLoss,
    KLDivergenceLoss,
    SigmoidFocalLoss,
    SoftCrossEntropyLoss,
    focal_loss,
    kl_divergence_loss,
    sigmoid_focal_loss,
    soft_cross_entropy,
)
from logdigit.research.losses.recipes import LOSSES, CEJMLLoss, KDLoss, TrainingLoss, ce_jml_loss, kd_loss, make_loss
from logdigit.research.losses.targets import boundary_label_smoothing, label_smoothing, onehot, teacher_targets

__all__ = [
    "CHOICES",
    "LOSSES",
    "CEJMLLoss",
    "DiceLoss",
    "FocalLoss",
    "JaccardMetricLoss",
    "KDLoss",
    "KLDivergenceLoss",
    "LovaszSoftmaxLoss",
    "OverlapStats",
    "SigmoidFocalLoss",
    "SoftCrossEntropyLoss",
    "TrainingLoss",
    "TverskyLoss",
    "boundary_label_smoothing",
    "ce_jml_loss",
    "dice_loss",
    "focal_loss",
    "jaccard_metric_loss",
    "kd_loss",
    "kl_divergence_loss",
    "label_smoothing",
    "lovasz_softmax_loss",
    "make_loss",
    "onehot",
    "overlap_stats",
    "sigmoid_focal_loss",
    "soft_cross_entropy",
    "teacher_targets",
    "tversky_loss",
]
