"""Overlap losses (Dice, Tversky, Jaccard metric losses JML1/JML2) on one L1 ("JDT") core.

The core, :func:`overlap_stats`, turns probabilities ``p`` and a target ``t`` (hard labels
one-hot encoded first) into per-(image, class) sums in the L1 form of Wang & Blaschko::

    TP = (|p| + |t| - |p - t|) / 2      FP = |p| - TP      FN = |t| - TP      PROD = <p, t>

with ``|.|`` the L1 norm over a class's pixels. On hard targets TP equals the usual
``sum(p * t)``; on soft targets the L1 form keeps the losses reflexive (loss(t, t) = 0), which
the product form is not (SMP <= 0.3, MONAI ``soft_label=False``). Every loss is then a score per
(unit, class), a choice of active classes and a reduction:

* score: Tversky ``(TP + s) / max(TP + alpha FP + beta FN + s, eps)`` (Dice alpha=beta=0.5,
  Jaccard = JML1 alpha=beta=1) or JML2 ``(PROD + s) / max(PROD + FP + FN + s, eps)``.
  ``smooth`` s is added to TP and to the denominator (SMP >= 0.4, JDTLoss, MONAI Tversky).
* ``classes`` (which classes count in the mean):

  - ``"all"``: every class (MONAI; JDTLoss ``ALL``). A class with no target pixel scores
    loss ~1 when predicted at all.
  - ``"all_masked"``: every class counts in the denominator, but one with no target mass in the
    unit contributes 0 (SMP >= 0.4 Dice/Jaccard/Tversky).
  - ``"present"``: classes that are the target's argmax at some kept pixel (hard labels: the
    classes that occur; JDML ``present``; JDTLoss af6c ``PRESENT`` on hard and one-hot targets).
  - ``"prob"``: max predicted probability > ``threshold``.
  - ``"label"``: max target value > ``threshold`` (JDTLoss HEAD ``PRESENT``; equals
    ``"present"`` on hard labels).
  - ``"both"``: max of p + t > ``threshold``.

  A unit (image or batch) without kept pixels has no active class in any mode.
* ``reduce``: ``"batch"`` sums the statistics over the batch, then averages over active
  classes (SMP; JDTLoss mIoU^D; JDML ``per_image=False``); ``"image"`` averages over each
  image's active classes, then over images with an active class (MONAI ``batch=False``;
  JDTLoss mIoU^I; JDML ``per_image=True``); ``"class"`` averages each class over the images
  where it is active, then over classes (JDTLoss mIoU^C).

Smoothing conversions: JDML JML1 ``smooth=s`` is ours ``s / 2`` (it adds s to 2 TP and 2 union);
JDML JML2 ``smooth=s`` is ours ``s``; SMP <= 0.3 Dice ``smooth=s`` is ours ``s / 2`` on hard
labels; MONAI Dice ``smooth_nr = smooth_dr = s`` is ours ``s / 2``.

Defaults for logdigit's thin curves: ``reduce="batch"`` because a 1-3 px curve leaves few
pixels in a crop, and a per-image score of a short curve stub is noisy; ``classes="present"``
because a random crop batch may hold no dashed curve (class 2), and an absent class has no
overlap to measure: counting it would add a constant ~1 ("all") or dilute the mean ("all_masked");
its false positives are left to the cross-entropy term of the training recipes.
Background is included: its false negatives are the curves' false positives. ``smooth=0``:
the active-class rule already keeps denominators away from 0 and the ``eps`` clamp keeps every
value finite, so no smoothing bias is added to the numerator (MONAI #807).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from logdigit.research.losses._common import (
    FunctionalLoss,
    Target,
    check_logits,
    check_options,
    class_vector,
    parse_target,
)


class OverlapStats(NamedTuple):
    """Per-(image, class) L1 overlap sums, each (B, C): true/false positives, false negatives, <p, t>."""

    tp: Tensor
    fp: Tensor
    fn: Tensor
    prod: Tensor


def overlap_stats(probs: Tensor, target: Tensor, *, keep: Tensor | None = None) -> OverlapStats:
    """The functional core: per-(image, class) TP/FP/FN in the L1 ("JDT") form, plus <p, t>.

    Args:
        probs: float (B, C, H, W) predicted probabilities.
        target: float (B, C, H, W) target in [0, 1] (one-hot or soft), same shape.
        keep: optional bool (B, H, W); pixels where it is False are zeroed in both inputs.

    Returns:
        :class:`OverlapStats` of four (B, C) tensors; ``fp + fn`` equals ``sum |p - t|``.

    Example:
        >>> p = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 1, 4)
        >>> t = torch.ones(1, 1, 1, 4)
        >>> [round(float(v), 6) for v in overlap_stats(p, t)]
        [2.0, 0.0, 2.0, 2.0]
    """
    if probs.ndim != 4 or probs.shape != target.shape or not target.is_floating_point():
        raise ValueError(
            f"probs and target must be float (B, C, H, W) of one shape, got {tuple(probs.shape)} {probs.dtype} "
            f"and {tuple(target.shape)} {target.dtype}"
        )
    if keep is not None:
        if keep.shape != probs[:, 0].shape or keep.dtype != torch.bool:
            raise ValueError(f"keep must be bool (B, H, W), got {tuple(keep.shape)} {keep.dtype}")
        m = keep[:, None].to(probs.dtype)
        probs, target = probs * m, target * m
    sp, st = probs.sum((2, 3)), target.sum((2, 3))
    tp = (sp + st - (probs - target).abs().sum((2, 3))) / 2
    return OverlapStats(tp, sp - tp, st - tp, (probs * target).sum((2, 3)))


def _power(v: Tensor, gamma: float) -> Tensor:
    """v ** gamma for v >= 0, with a finite gradient at v = 0 also when gamma < 1."""
    tiny = torch.finfo(v.dtype).tiny
    return torch.where(v > 0, v.clamp_min(tiny) ** gamma, torch.zeros_like(v))


def _active(p: Tensor, tg: Target, classes: str, threshold: float) -> Tensor:
    """bool (B, C): which classes are active in each image (no gradient)."""
    keep = tg.keep[:, None].to(p.dtype)
    if classes in ("all", "all_masked"):
        return tg.keep.flatten(1).any(1)[:, None].expand(p.shape[0], p.shape[1])
    if classes == "present":
        top = tg.t.argmax(1)
        return torch.stack([((top == c) & tg.keep).flatten(1).any(1) for c in range(p.shape[1])], 1)
    score = {"prob": p, "label": tg.t, "both": p + tg.t}[classes]
    return (score * keep).amax((2, 3)) > threshold


def _units(p: Tensor, tg: Target, *, reduce: str, classes: str, threshold: float, subset: Sequence[int] | None):
    """Overlap stats per (unit, class), target mass per (unit, class), and which classes count (U, C)."""
    n_classes = p.shape[1]
    chosen = torch.zeros(n_classes, dtype=torch.bool, device=p.device)
    if subset is not None and (not subset or any(not 0 <= int(c) < n_classes for c in subset)):
        raise ValueError(f"subset must name classes in 0..{n_classes - 1}, got {subset!r}")
    chosen[list(range(n_classes)) if subset is None else list(subset)] = True
    stats = overlap_stats(p, tg.t, keep=tg.keep)
    mass = tg.t.sum((2, 3))
    with torch.no_grad():
        active = _active(p.detach(), tg, classes, threshold)
    if reduce == "batch":
        stats = OverlapStats(*(v.sum(0, keepdim=True) for v in stats))
        mass, active = mass.sum(0, keepdim=True), active.any(0, keepdim=True)
    return stats, mass, active & chosen


def _class_loss(stats: OverlapStats, *, score: str, alpha: float, beta: float, smooth: float, eps: float,
                log_loss: bool) -> Tensor:  # fmt: skip
    """1 - score (or -log score) per (unit, class)."""
    tp, fp, fn, prod = stats
    if score == "jml2":
        value = (prod + smooth) / (prod + fp + fn + smooth).clamp_min(eps)
    else:
        value = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth).clamp_min(eps)
    return -value.clamp_min(eps).log() if log_loss else 1 - value


def _mean_over_active(loss: Tensor, counted: Tensor, weights: Tensor, *, reduce: str, normalise: bool) -> Tensor:
    """Weighted mean of a (U, C) loss over the counted entries: classes first, then units (or the reverse)."""
    counted = counted.to(loss.dtype)
    tiny = torch.finfo(loss.dtype).tiny
    if reduce == "class":
        per_class = (loss * counted).sum(0) / counted.sum(0).clamp_min(1)
        ok = (counted.sum(0) > 0).to(loss.dtype)
        den = (weights * ok).sum() if normalise else ok.sum()
        return (weights * per_class * ok).sum() / den.clamp_min(tiny)
    den = (weights * counted).sum(1) if normalise else counted.sum(1)
    per_unit = (loss * weights * counted).sum(1) / den.clamp_min(tiny)
    ok = (counted.sum(1) > 0).to(loss.dtype)
    return (per_unit * ok).sum() / ok.sum().clamp_min(1)


def _overlap_loss(
    logits: Tensor,
    target: Tensor,
    *,
    score: str,
    alpha: float,
    beta: float,
    gamma: float,
    gamma_mode: str,
    smooth: float,
    eps: float,
    reduce: str,
    classes: str,
    threshold: float,
    subset: Sequence[int] | None,
    class_weights: Sequence[float] | Tensor | None,
    normalise_weights: bool,
    log_loss: bool,
    ignore_index: int | None,
) -> Tensor:
    check_options(reduce=reduce, classes=classes, gamma_mode=gamma_mode, smooth=smooth, eps=eps,
                  threshold=threshold, gamma=gamma, alpha=alpha, beta=beta)  # fmt: skip
    x = check_logits(logits)
    tg = parse_target(target, x, ignore_index)
    p = x.softmax(1)
    stats, mass, counted = _units(p, tg, reduce=reduce, classes=classes, threshold=threshold, subset=subset)
    loss = _class_loss(stats, score=score, alpha=alpha, beta=beta, smooth=smooth, eps=eps, log_loss=log_loss)
    if gamma != 1 and gamma_mode == "per_class":
        loss = _power(loss, gamma)
    if classes == "all_masked":
        loss = loss * (mass > 0)
    weights = class_vector(class_weights, p.shape[1], p, name="class_weights")
    out = _mean_over_active(loss, counted, weights, reduce=reduce, normalise=normalise_weights)
    return _power(out, gamma) if gamma != 1 and gamma_mode == "after_mean" else out


def tversky_loss(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    gamma: float = 1.0,
    gamma_mode: str = "per_class",
    smooth: float = 0.0,
    eps: float = 1e-7,
    reduce: str = "batch",
    classes: str = "present",
    threshold: float = 0.01,
    subset: Sequence[int] | None = None,
    class_weights: Sequence[float] | Tensor | None = None,
    normalise_weights: bool = True,
    log_loss: bool = False,
    ignore_index: int | None = 255,
) -> Tensor:
    """Tversky loss ``1 - (TP + s) / max(TP + alpha FP + beta FN + s, eps)`` in the L1 form.

    ``beta > alpha`` penalises missed curve pixels more than spurious ones, which suits thin
    curves whose gaps break the traces; the default (0.3, 0.7) is the usual recall-favouring
    pair. See the module docstring for ``classes``, ``reduce`` and ``smooth``.

    Reproduces (same value at atol 1e-5):

    * SMP 0.6.0 ``TverskyLoss(mode="multiclass", alpha=a, beta=b, gamma=g)``:
      ``alpha=a, beta=b, gamma=g, gamma_mode="after_mean", classes="all_masked", smooth=0``
      (multilabel on probabilities for soft targets; SMP 0.3.3 too, on hard labels).
    * MONAI 1.6.1 ``TverskyLoss(softmax=True, to_onehot_y=True, alpha=a, beta=b)``:
      ``classes="all", reduce="image", smooth=1e-5`` (``batch=True``: ``reduce="batch"``).
    * JDTLoss ``JDTLoss(alpha=a, beta=b, gamma=g)``: ``gamma_mode="per_class"``.

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        target: int64 (B, H, W) labels (``ignore_index`` allowed) or float (B, C, H, W) soft
            target (all-zero rows are ignored).
        alpha: weight of false positives, >= 0.
        beta: weight of false negatives, >= 0.
        gamma: focal exponent on the loss; 1 disables it.
        gamma_mode: ``"per_class"`` raises each class loss to gamma before the mean (JDTLoss);
            ``"after_mean"`` raises the mean (SMP).
        smooth: added to TP and to the denominator.
        eps: lower clamp of the denominator (and of the score under ``log_loss``).
        reduce: ``"batch"``, ``"image"`` or ``"class"``.
        classes: active-class mode: ``"all"``, ``"all_masked"``, ``"present"``, ``"prob"``,
            ``"label"`` or ``"both"``.
        threshold: threshold of the ``"prob"``, ``"label"`` and ``"both"`` modes.
        subset: only these class indices count (SMP ``classes=[1, 2]``; MONAI
            ``include_background=False`` is ``(1, 2)``).
        class_weights: C non-negative per-class weights, or None.
        normalise_weights: divide by the sum of the counted classes' weights (SMP); False divides
            by their number (JDTLoss, whose weights change the loss scale).
        log_loss: use ``-log(score)`` instead of ``1 - score``.
        ignore_index: label value of ignored pixels, or None.

    Returns:
        float32 scalar (float64 for float64 logits).

    Example:
        >>> logits = torch.zeros(1, 3, 2, 2)
        >>> labels = torch.zeros(1, 2, 2, dtype=torch.long)
        >>> round(tversky_loss(logits, labels).item(), 4)  # TP=4/3, FN=8/3: 1 - (4/3)/(4/3 + 0.7*8/3)
        0.5833
    """
    return _overlap_loss(
        logits,
        target,
        score="tversky",
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        gamma_mode=gamma_mode,
        smooth=smooth,
        eps=eps,
        reduce=reduce,
        classes=classes,
        threshold=threshold,
        subset=subset,
        class_weights=class_weights,
        normalise_weights=normalise_weights,
        log_loss=log_loss,
        ignore_index=ignore_index,
    )


def dice_loss(
    logits: Tensor,
    target: Tensor,
    *,
    smooth: float = 0.0,
    eps: float = 1e-7,
    reduce: str = "batch",
    classes: str = "present",
    threshold: float = 0.01,
    subset: Sequence[int] | None = None,
    class_weights: Sequence[float] | Tensor | None = None,
    normalise_weights: bool = True,
    log_loss: bool = False,
    ignore_index: int | None = 255,
) -> Tensor:
    """Soft Dice loss ``1 - (TP + s) / max(TP + FP/2 + FN/2 + s, eps)`` in the L1 form.

    The L1 form is reflexive on soft targets (loss(t, t) = 0) but only a semimetric: it can break
    the triangle inequality, unlike :func:`jaccard_metric_loss`.

    Reproduces (same value at atol 1e-5):

    * SMP 0.6.0 ``DiceLoss(mode="multiclass", smooth=s, log_loss=l, classes=[...],
      ignore_index=i)``: ``reduce="batch", classes="all_masked", smooth=s, log_loss=l,
      subset=[...], ignore_index=i``; with a soft target it is SMP's
      ``DiceLoss(mode="multilabel", from_logits=False)(softmax(logits), target)``.
    * SMP <= 0.3.x ``DiceLoss(smooth=s)`` on hard labels: as above with ``smooth=s / 2``.
    * MONAI 1.6.1 ``DiceLoss(softmax=True, to_onehot_y=True)`` (defaults):
      ``reduce="image", classes="all", smooth=5e-6``; with ``include_background=False`` add
      ``subset=(1, 2)``; with ``batch=True, smooth_nr=0`` use ``reduce="batch", classes="all"``
      (``soft_label=True`` for soft targets).
    * JDTLoss ``JDTLoss(alpha=0.5, beta=0.5, smooth=s)``: ``smooth=s``, ``classes="present"``
      for hard labels, ``"all"`` for soft ones.

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        target: int64 (B, H, W) labels or float (B, C, H, W) soft target.
        smooth, eps, reduce, classes, threshold, subset, class_weights, normalise_weights,
            log_loss, ignore_index: as in :func:`tversky_loss`.

    Returns:
        float32 scalar (float64 for float64 logits).

    Example:
        >>> logits = torch.zeros(1, 3, 4, 4)
        >>> labels = torch.zeros(1, 4, 4, dtype=torch.long)
        >>> round(dice_loss(logits, labels).item(), 4)  # class 0 only: TP=16/3, FN=32/3
        0.5
    """
    return _overlap_loss(
        logits,
        target,
        score="tversky",
        alpha=0.5,
        beta=0.5,
        gamma=1.0,
        gamma_mode="per_class",
        smooth=smooth,
        eps=eps,
        reduce=reduce,
        classes=classes,
        threshold=threshold,
        subset=subset,
        class_weights=class_weights,
        normalise_weights=normalise_weights,
        log_loss=log_loss,
        ignore_index=ignore_index,
    )


def jaccard_metric_loss(
    logits: Tensor,
    target: Tensor,
    *,
    metric: str = "jml1",
    smooth: float = 0.0,
    eps: float = 1e-7,
    reduce: str = "batch",
    classes: str = "present",
    threshold: float = 0.01,
    subset: Sequence[int] | None = None,
    class_weights: Sequence[float] | Tensor | None = None,
    normalise_weights: bool = True,
    log_loss: bool = False,
    ignore_index: int | None = 255,
) -> Tensor:
    """Jaccard metric losses JML1 / JML2 (Wang & Blaschko, NeurIPS 2023), per class then averaged.

    * JML1 = ``1 - (|p| + |t| - |p - t|) / (|p| + |t| + |p - t|)`` = ``1 - TP / (TP + FP + FN)``,
      the soft Jaccard loss in the L1 form (SMP >= 0.4 ``JaccardLoss``, JDTLoss default).
    * JML2 = ``1 - <p, t> / (<p, t> + |p - t|)``.

    Both equal the classic soft Jaccard loss ``1 - <p,t> / (|p| + |t| - <p,t>)`` on hard
    labels, and both are metrics on [0, 1]^n: zero iff p == t, symmetric, triangle inequality.
    ``smooth`` s is added to the numerator and the denominator as written here.

    Reproduces (same value at atol 1e-5):

    * SMP 0.6.0 ``JaccardLoss(mode="multiclass", ignore_index=i)``: ``classes="all_masked"``;
      MONAI ``DiceLoss(jaccard=True, batch=True, smooth_nr=0)``: ``classes="all"``.
    * JDTLoss HEAD ``JDTLoss(smooth=s)``: ``smooth=s`` with ``classes="present"`` (hard labels) or
      ``"all"`` (soft, its ``ALL``) or ``"label"`` (soft, its ``PRESENT``); ``mIoUI=1`` is
      ``reduce="image"``, ``mIoUC=1`` is ``reduce="class"``; ``class_weights=w`` is
      ``class_weights=w, normalise_weights=False``.
    * JDTLoss af6c1f6 modes ``ALL/PRESENT/PROB/LABEL/BOTH``: ``classes="all"/"present"/"prob"/
      "label"/"both"``, ``threshold=0.01``.
    * JDML ``JaccardMetricLoss(loss="JML1", smooth=s, classes=m, per_image=b, threshold=0.1)``:
      ``metric="jml1", smooth=s / 2, classes=m, reduce="image" if b else "batch", threshold=0.1``
      (``loss="JML2"``: ``metric="jml2", smooth=s``). Not reproduced: JDML's ``all`` also skips a
      class whose total mass sum(p + t) < threshold.

    Args:
        logits: float (B, C, H, W) raw scores; half precision is computed in float32.
        target: int64 (B, H, W) labels or float (B, C, H, W) soft target (all-zero rows ignored).
        metric: ``"jml1"`` or ``"jml2"``.
        smooth, eps, reduce, classes, threshold, subset, class_weights, normalise_weights,
            log_loss, ignore_index: as in :func:`tversky_loss`.

    Returns:
        float32 scalar (float64 for float64 logits).

    Example:
        >>> t = torch.tensor([0.5, 0.5]).view(1, 2, 1, 1)
        >>> jaccard_metric_loss(t.log(), t, classes="all").item()  # zero at p == t
        0.0
    """
    check_options(metric=metric)
    return _overlap_loss(
        logits,
        target,
        score="jml2" if metric == "jml2" else "tversky",
        alpha=1.0,
        beta=1.0,
        gamma=1.0,
        gamma_mode="per_class",
        smooth=smooth,
        eps=eps,
        reduce=reduce,
        classes=classes,
        threshold=threshold,
        subset=subset,
        class_weights=class_weights,
        normalise_weights=normalise_weights,
        log_loss=log_loss,
        ignore_index=ignore_index,
    )


class TverskyLoss(FunctionalLoss):
    """Module form of :func:`tversky_loss`; options as there.

    Example:
        >>> TverskyLoss(alpha=0.3, beta=0.7)
        TverskyLoss(alpha=0.3, beta=0.7)
    """

    function = staticmethod(tversky_loss)


class DiceLoss(FunctionalLoss):
    """Module form of :func:`dice_loss`; ``DiceLoss(reduce="batch", classes="all_masked")`` is SMP 0.6.0's.

    Example:
        >>> DiceLoss(classes="all_masked")(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
        tensor(0.1667)
    """

    function = staticmethod(dice_loss)


class JaccardMetricLoss(FunctionalLoss):
    """Module form of :func:`jaccard_metric_loss`; options as there.

    Example:
        >>> JaccardMetricLoss(metric="jml2", classes="label")
        JaccardMetricLoss(metric='jml2', classes='label')
    """

    function = staticmethod(jaccard_metric_loss)
