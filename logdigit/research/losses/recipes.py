"""Combined losses and the training registry ``LOSSES`` behind ``logdigit train --loss``.

Every registry entry builds a :class:`TrainingLoss`, called uniformly as
``loss(logits, labels, soft=None)`` with logits float (B, 3, H, W) raw scores, labels int64
(B, H, W) (255 = ignore) and ``soft`` the data generator's float32 (B, 3, H, W)
partial-volume soft labels, or None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import Tensor, nn

from logdigit.research.losses._common import FunctionalLoss, check_labels, check_logits, check_options, keyword_options
from logdigit.research.losses.lovasz import LovaszSoftmaxLoss
from logdigit.research.losses.overlap import DiceLoss, JaccardMetricLoss, TverskyLoss, jaccard_metric_loss
from logdigit.research.losses.pixel import FocalLoss, SoftCrossEntropyLoss, kl_divergence_loss, soft_cross_entropy
from logdigit.research.losses.targets import boundary_label_smoothing, label_smoothing, onehot


def ce_jml_loss(
    logits: Tensor,
    target: Tensor,
    *,
    jml_weight: float = 0.75,
    metric: str = "jml1",
    smooth: float = 0.0,
    reduce: str = "batch",
    classes: str = "present",
    threshold: float = 0.01,
    ignore_index: int | None = 255,
) -> Tensor:
    """``(1 - lambda) * CE + lambda * JML`` on the same (hard or soft) target.

    lambda = ``jml_weight`` = 0.75 is the 0.25:0.75 CE:Jaccard split of the JDTLosses configs
    and FAQ. CE is :func:`soft_cross_entropy` (JDTLosses uses a KL term on soft labels, which
    differs by the target entropy, a constant); JML is :func:`jaccard_metric_loss`.

    Args:
        logits: float (B, C, H, W) raw scores.
        target: int64 (B, H, W) labels or float (B, C, H, W) soft target.
        jml_weight: lambda in [0, 1].
        metric, smooth, reduce, classes, threshold: passed to :func:`jaccard_metric_loss`.
        ignore_index: label value of ignored pixels, or None.

    Returns:
        float32 scalar.

    Example:
        >>> import torch
        >>> logits = torch.zeros(1, 3, 2, 2)
        >>> labels = torch.zeros(1, 2, 2, dtype=torch.long)
        >>> round(ce_jml_loss(logits, labels).item(), 4)  # 0.25 * log 3 + 0.75 * (1 - 1/3)
        0.7747
    """
    if not 0 <= jml_weight <= 1:
        raise ValueError(f"jml_weight must be in [0, 1], got {jml_weight!r}")
    ce = soft_cross_entropy(logits, target, ignore_index=ignore_index)
    jml = jaccard_metric_loss(
        logits,
        target,
        metric=metric,
        smooth=smooth,
        reduce=reduce,
        classes=classes,
        threshold=threshold,
        ignore_index=ignore_index,
    )
    return (1 - jml_weight) * ce + jml_weight * jml


class CEJMLLoss(FunctionalLoss):
    """Module form of :func:`ce_jml_loss`; options as there.

    Example:
        >>> CEJMLLoss(jml_weight=0.5)
        CEJMLLoss(jml_weight=0.5)
    """

    function = staticmethod(ce_jml_loss)


def kd_loss(
    logits: Tensor,
    labels: Tensor,
    teacher: Tensor,
    *,
    ce_weight: float = 0.25,
    jml_weight: float = 0.75,
    label_weight: float = 0.5,
    teacher_weight: float = 0.5,
    temperature: float = 1.0,
    smooth: float = 1.0,
    hard_classes: str = "present",
    soft_classes: str = "all",
    ignore_index: int | None = 255,
) -> Tensor:
    """Knowledge distillation mixing ground truth and a teacher (JDTLosses ``forward_loss_kd``)::

          ce_weight  * (label_weight * CE(x, y)   + teacher_weight * T^2 KL(teacher || softmax(x / T)))
        + jml_weight * (label_weight * JML1(x, y) + teacher_weight * JML1(x, teacher))

    The defaults are JDTLosses af6c1f6's configs (loss yaml ce 0.25 / jdt 0.75; kd.yaml label and
    teacher weights 0.5, T = 1; JDT ``smooth=1``, ``PRESENT`` on labels, ``ALL`` on the teacher), and
    reproduce the ``kd_mix.jdt_af6c`` references. In the paper's notation lambda (hard-label
    weight) is ``label_weight`` and mu (teacher weight) is ``teacher_weight``; that mapping is
    inferred from the code. The JML terms use the student at T = 1. Pixels ignored in ``labels``
    are ignored in the teacher terms too.

    Args:
        logits: float (B, C, H, W) raw student scores.
        labels: int64 (B, H, W) ground-truth labels.
        teacher: float (B, C, H, W) teacher probabilities from
            :func:`~logdigit.research.losses.teacher_targets` at the same ``temperature``.
        ce_weight: weight of the CE/KL pair.
        jml_weight: weight of the JML pair.
        label_weight: weight of the ground-truth term inside each pair.
        teacher_weight: weight of the teacher term inside each pair.
        temperature: T > 0 of the KL term.
        smooth: JML smoothing, added to TP and the denominator.
        hard_classes: active-class mode of JML against the labels.
        soft_classes: active-class mode of JML against the teacher.
        ignore_index: label value of ignored pixels, or None.

    Returns:
        float32 scalar.

    Example:
        >>> import torch
        >>> logits = torch.zeros(1, 3, 2, 2)
        >>> labels = torch.zeros(1, 2, 2, dtype=torch.long)
        >>> teacher = torch.full((1, 3, 2, 2), 1 / 3)
        >>> round(kd_loss(logits, labels, teacher).item(), 4)
        0.3373
    """
    check_options(
        ce_weight=ce_weight,
        label_weight=label_weight,
        teacher_weight=teacher_weight,
        temperature=temperature,
        classes=hard_classes,
    )
    check_options(classes=soft_classes, jml_weight=jml_weight)
    x = check_logits(logits)
    check_labels(labels, x.shape[1], ignore_index)
    if not isinstance(teacher, Tensor) or teacher.shape != x.shape or not teacher.is_floating_point():
        got = f"{tuple(teacher.shape)} {teacher.dtype}" if isinstance(teacher, Tensor) else type(teacher).__name__
        raise ValueError(
            f"teacher must be float (B, C, H, W) probabilities like the logits {tuple(x.shape)}, got {got}"
        )
    keep = (labels != ignore_index)[:, None] if ignore_index is not None else 1
    teacher = teacher.detach().to(x.dtype) * keep
    hard_ce = soft_cross_entropy(x, labels, ignore_index=ignore_index)
    soft_kl = kl_divergence_loss(x, teacher, temperature=temperature)
    hard_jml = jaccard_metric_loss(x, labels, smooth=smooth, classes=hard_classes, ignore_index=ignore_index)
    soft_jml = jaccard_metric_loss(x, teacher, smooth=smooth, classes=soft_classes)
    return ce_weight * (label_weight * hard_ce + teacher_weight * soft_kl) + jml_weight * (
        label_weight * hard_jml + teacher_weight * soft_jml
    )


class KDLoss(nn.Module):
    """Module form of :func:`kd_loss`, called as ``loss(logits, labels, teacher)``.

    Example:
        >>> KDLoss(temperature=2.0)
        KDLoss(temperature=2.0)
    """

    def __init__(self, **options: Any) -> None:
        super().__init__()
        valid = keyword_options(kd_loss)
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise TypeError(f"KDLoss got unknown option(s) {unknown}; valid options: {valid}")
        check_options(**{k: v for k, v in options.items() if not k.endswith("_classes")})
        for key in ("hard_classes", "soft_classes"):
            if key in options:
                check_options(classes=options[key])
        self.options = dict(options)

    def forward(self, logits: Tensor, labels: Tensor, teacher: Tensor) -> Tensor:
        return kd_loss(logits, labels, teacher, **self.options)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


#: Target kinds a :class:`TrainingLoss` can feed its terms.
TARGETS = ("labels", "soft", "ls", "bls")


class TrainingLoss(nn.Module):
    """A training recipe: a weighted sum of loss terms, all fed the same kind of target.

    Called as ``loss(logits, labels, soft=None)``. The target kind says what the terms see:
    ``"labels"`` the hard labels; ``"soft"`` the partial-volume soft labels (zeroed where
    ``labels == ignore_index``; None raises ValueError); ``"ls"`` uniform label smoothing of the
    labels with ``eps``; ``"bls"`` boundary label smoothing with window ``k`` and ``eps``.

    Args:
        terms: name -> (weight, loss module called as ``module(logits, target)``).
        target: one of ``"labels"``, ``"soft"``, ``"ls"``, ``"bls"``.
        eps: smoothing mass of ``"ls"`` / ``"bls"``.
        k: BLS window.
        ignore_index: label value of ignored pixels.

    Example:
        >>> import torch
        >>> loss = TrainingLoss({"ce": (1.0, SoftCrossEntropyLoss())})
        >>> round(loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)).item(), 4)
        1.0986
    """

    def __init__(
        self,
        terms: Mapping[str, tuple[float, nn.Module]],
        *,
        target: str = "labels",
        eps: float = 0.1,
        k: int = 3,
        ignore_index: int = 255,
    ) -> None:
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}")
        if not terms:
            raise ValueError("terms must name at least one (weight, loss) pair")
        check_options(label_smoothing=eps)
        self.weights = {name: float(weight) for name, (weight, _) in terms.items()}
        self.terms = nn.ModuleDict({name: module for name, (_, module) in terms.items()})
        self.target, self.eps, self.k, self.ignore_index = target, eps, k, ignore_index

    def make_target(self, labels: Tensor, soft: Tensor | None = None) -> Tensor:
        """The target the terms see: labels int64 (B, H, W) or float32 (B, C, H, W)."""
        if self.target == "labels":
            return labels
        if self.target == "ls":
            return label_smoothing(onehot(labels, ignore_index=self.ignore_index), eps=self.eps)
        if self.target == "bls":
            return boundary_label_smoothing(labels, k=self.k, eps=self.eps, ignore_index=self.ignore_index)
        if soft is None:
            raise ValueError(
                "this loss trains on partial-volume soft labels: pass soft=float32 (B, 3, H, W) "
                "from the data generator, got soft=None"
            )
        if not soft.is_floating_point() or soft.shape[0] != labels.shape[0] or soft.shape[2:] != labels.shape[1:]:
            raise ValueError(
                f"soft must be float (B, C, H, W) matching labels {tuple(labels.shape)}, "
                f"got {tuple(soft.shape)} {soft.dtype}"
            )
        return soft.float() * (labels != self.ignore_index)[:, None]

    def parts(self, logits: Tensor, labels: Tensor, soft: Tensor | None = None) -> dict[str, Tensor]:
        """Each term's unweighted value, for logging."""
        target = self.make_target(labels, soft)
        return {name: module(logits, target) for name, module in self.terms.items()}

    def forward(self, logits: Tensor, labels: Tensor, soft: Tensor | None = None) -> Tensor:
        parts = self.parts(logits, labels, soft)
        return sum((self.weights[name] * value for name, value in parts.items()), start=logits.new_zeros(()).float())

    def extra_repr(self) -> str:
        weights = ", ".join(f"{name}={w:g}" for name, w in self.weights.items())
        return f"target={self.target!r}, weights=({weights})"


def _dice_ce(*, dice_weight: float = 1.0, ce_weight: float = 1.0, ignore_index: int = 255) -> TrainingLoss:
    """Dice + CE (1:1, nnU-Net's default pairing) on the hard labels.

    The Dice term follows SMP 0.6.0 multiclass (``classes="all_masked"``): per batch, a class
    absent from the batch's truth contributes 0 but still counts in the mean over 3 classes.
    The shipped model was trained with exactly this.
    """
    return TrainingLoss(
        {
            "dice": (dice_weight, DiceLoss(classes="all_masked", ignore_index=ignore_index)),
            "ce": (ce_weight, SoftCrossEntropyLoss(ignore_index=ignore_index)),
        },
        ignore_index=ignore_index,
    )


def _dice(*, ignore_index: int = 255) -> TrainingLoss:
    """Dice alone on the hard labels (per batch, present classes)."""
    return TrainingLoss({"dice": (1.0, DiceLoss(ignore_index=ignore_index))}, ignore_index=ignore_index)


def _focal(*, gamma: float = 2.0, ignore_index: int = 255) -> TrainingLoss:
    """Softmax focal loss, gamma 2, summed over classes, on the hard labels."""
    return TrainingLoss({"focal": (1.0, FocalLoss(gamma=gamma, ignore_index=ignore_index))}, ignore_index=ignore_index)


def _lovasz(*, ignore_index: int = 255) -> TrainingLoss:
    """Lovász-Softmax per batch on the hard labels (best for fine-tuning)."""
    return TrainingLoss({"lovasz": (1.0, LovaszSoftmaxLoss(ignore_index=ignore_index))}, ignore_index=ignore_index)


def _ce(*, ignore_index: int = 255) -> TrainingLoss:
    """Cross-entropy on the hard labels."""
    return TrainingLoss({"ce": (1.0, SoftCrossEntropyLoss(ignore_index=ignore_index))}, ignore_index=ignore_index)


def _ce_pv(*, ignore_index: int = 255) -> TrainingLoss:
    """Soft cross-entropy on the partial-volume soft labels (needs soft)."""
    return TrainingLoss({"ce": (1.0, SoftCrossEntropyLoss())}, target="soft", ignore_index=ignore_index)


def _tversky(*, alpha: float = 0.3, beta: float = 0.7, ignore_index: int = 255) -> TrainingLoss:
    """Tversky alpha 0.3 / beta 0.7 (recall-favouring) on the hard labels."""
    loss = TverskyLoss(alpha=alpha, beta=beta, ignore_index=ignore_index)
    return TrainingLoss({"tversky": (1.0, loss)}, ignore_index=ignore_index)


def _ce_ls(*, eps: float = 0.1, ignore_index: int = 255) -> TrainingLoss:
    """Cross-entropy on uniformly label-smoothed targets, eps 0.1."""
    return TrainingLoss({"ce": (1.0, SoftCrossEntropyLoss())}, target="ls", eps=eps, ignore_index=ignore_index)


def _ce_jml_bls(*, jml_weight: float = 0.75, k: int = 3, eps: float = 0.5, ignore_index: int = 255) -> TrainingLoss:
    """0.25 CE + 0.75 JML1 on boundary-label-smoothed targets (k 3, eps 0.5)."""
    # "label" keeps every class that BLS gives target mass, so a batch without a dashed curve
    # still teaches the eps/C halo; it equals "present" on hard labels (JDTLoss HEAD PRESENT).
    jml = JaccardMetricLoss(classes="label")
    terms = {"ce": (1 - jml_weight, SoftCrossEntropyLoss()), "jml": (jml_weight, jml)}
    return TrainingLoss(terms, target="bls", k=k, eps=eps, ignore_index=ignore_index)


def _jml_pv(*, metric: str = "jml1", ignore_index: int = 255) -> TrainingLoss:
    """JML on the partial-volume soft labels (needs soft), classes with target mass."""
    jml = JaccardMetricLoss(metric=metric, classes="label")
    return TrainingLoss({"jml": (1.0, jml)}, target="soft", ignore_index=ignore_index)


def _ce_jml(*, jml_weight: float = 0.75, ignore_index: int = 255) -> TrainingLoss:
    """0.25 CE + 0.75 JML1 (smooth 1, present classes) on the hard labels: the label terms of the
    ``kd`` recipe alone, to train a student from scratch for comparison with its distilled twin."""
    terms = {
        "ce": (1 - jml_weight, SoftCrossEntropyLoss(ignore_index=ignore_index)),
        "jml": (jml_weight, JaccardMetricLoss(classes="present", smooth=1.0, ignore_index=ignore_index)),
    }
    return TrainingLoss(terms, ignore_index=ignore_index)


class DistillationLoss(nn.Module):
    """:func:`kd_loss` as a training recipe, called as ``loss(logits, labels, soft=None,
    teacher=probs)``: the teacher's probabilities (:func:`~logdigit.research.losses.teacher_targets`
    at ``temperature``) are needed, the partial-volume soft labels are not used.

    Example:
        >>> import torch
        >>> loss = DistillationLoss()
        >>> logits, labels = torch.zeros(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long)
        >>> round(loss(logits, labels, teacher=torch.full((1, 3, 2, 2), 1 / 3)).item(), 4)
        0.3373
    """

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.kd = KDLoss(**options)

    def forward(self, logits: Tensor, labels: Tensor, soft: Tensor | None = None, teacher: Tensor | None = None):
        if teacher is None:
            raise ValueError("the kd loss needs the teacher's probabilities: train with a teacher (--teacher)")
        return self.kd(logits, labels, teacher)


def _kd(**options: Any) -> DistillationLoss:
    """Distillation (Wang & Blaschko's recipe, JDTLosses ``forward_loss_kd``): 0.25 (CE + KL to the
    teacher) + 0.75 (JML1 to the labels, present classes + JML1 to the teacher, all classes),
    labels and teacher weighted 1:1 in each pair (needs ``--teacher``)."""
    return DistillationLoss(**options)


#: Training recipes by CLI name (``logdigit train --loss NAME``); each builds a TrainingLoss.
LOSSES: dict[str, Callable[..., nn.Module]] = {
    "dice-ce": _dice_ce,
    "dice": _dice,
    "focal": _focal,
    "lovasz": _lovasz,
    "ce": _ce,
    "ce-pv": _ce_pv,
    "tversky": _tversky,
    "ce-ls": _ce_ls,
    "ce-jml-bls": _ce_jml_bls,
    "jml-pv": _jml_pv,
    "ce-jml": _ce_jml,
    "kd": _kd,
}


def make_loss(name: str = "dice-ce", **kwargs: Any) -> nn.Module:
    """Build the training loss registered as ``name`` in :data:`LOSSES`.

    Args:
        name: a key of :data:`LOSSES`; ``"dice-ce"`` is the default recipe.
        **kwargs: keyword options of that recipe (e.g. ``ce_weight`` for ``"dice-ce"``).

    Returns:
        an ``nn.Module`` called as ``loss(logits, labels, soft=None)``.

    Example:
        >>> make_loss("dice-ce")
        TrainingLoss(
          target='labels', weights=(dice=1, ce=1)
          (terms): ModuleDict(
            (dice): DiceLoss(classes='all_masked', ignore_index=255)
            (ce): SoftCrossEntropyLoss(ignore_index=255)
          )
        )
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(LOSSES)}")
    return LOSSES[name](**kwargs)
