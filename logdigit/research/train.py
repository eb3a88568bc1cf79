"""Training VeerNet on on-the-fly synthetic sheets (readable top to bottom, nanoGPT style).

Checkpoints in ``outdir``:

* ``last.safetensors`` + ``last.json``: the model at the latest checkpoint (loadable by
  :func:`logdigit.model.weights.load_model`), the JSON also holding the training state;
* ``last.optim.safetensors``: AdamW moments, so ``resume=True`` continues exactly;
* ``best.safetensors`` + ``best.json``: the model with the best validation score
  (mean F1 of the two curve classes) so far.

Batches depend only on ``(seed, step)`` (see :mod:`logdigit.research.data`) and the learning
rate only on ``step``, so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from logdigit.errors import InputError
from logdigit.io.atomic import atomic_path
from logdigit.model.device import resolve_device
from logdigit.model.veernet import VeerNet, VeerNetConfig
from logdigit.model.weights import load_model, read_card, save_model
from logdigit.research.data import DataConfig, SheetPool
from logdigit.research.metrics import confusion, scores_from_confusion
from logdigit.research.synth import make_sheet, sheet_rng, sheet_style


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (saved with every checkpoint)."""

    steps: int = 3000
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 150
    min_lr_ratio: float = 0.02
    loss: str = "dice-ce"
    eval_every: int = 250
    checkpoint_every: int = 250
    val_sheets: int = 16
    val_seed: int = 0
    grad_clip: float = 1.0
    teacher: str = ""  # weights of a teacher VeerNet (with loss "kd"): the student learns its probabilities too
    temperature: float = 1.0  # T of the teacher's softmax and of the KL term (Hinton et al.)
    init: str = ""  # weights of a VeerNet to start from (fine-tuning) instead of a random init

    def __post_init__(self) -> None:
        for name, low in (
            ("steps", 1),
            ("warmup", 0),
            ("eval_every", 1),
            ("checkpoint_every", 1),
            ("val_sheets", 1),
            ("val_seed", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise InputError(f"--{name.replace('_', '-')} {value!r}: {name} must be a whole number >= {low}")
        if (self.loss == "kd") != bool(self.teacher):
            raise InputError(
                f"--loss {self.loss} with --teacher {self.teacher or '(none)'}: distillation takes both "
                "(--loss kd --teacher models/veernet.safetensors), other losses neither"
            )
        for name, low, high in (
            ("lr", 0, 10),
            ("weight_decay", 0, 10),
            ("min_lr_ratio", 0, 1),
            ("grad_clip", 0, 1e6),
            ("temperature", 0, 100),
        ):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            nonzero = ("lr", "grad_clip", "temperature")
            if not ok or not low <= value <= high or (name in nonzero and value == 0):
                raise InputError(
                    f"--{name.replace('_', '-')} {value!r}: {name} must be a number from {low} "
                    f"to {high}{' (not 0)' if name in nonzero else ''}, e.g. "
                    f"{getattr(TrainConfig, name)}"
                )


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay to ``min_lr_ratio * lr``.

    >>> cfg = TrainConfig(steps=100, lr=1.0, warmup=10, min_lr_ratio=0.0)
    >>> lr_at(0, cfg), lr_at(9, cfg), round(lr_at(55, cfg), 3), lr_at(100, cfg)
    (0.1, 1.0, 0.5, 0.0)
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min((step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1), 1.0)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def validation_set(n: int, seed: int, *, height: int = 384, width: int = 512, style: str = "print"):
    """The fixed validation sheets of the generator's ``style``: (x float32 (n,3,H,W), labels uint8 (n,H,W))."""
    sheets = [
        make_sheet(height=height, width=width, rng=sheet_rng("val", seed, i), style=sheet_style(style, i))
        for i in range(n)
    ]
    x = np.stack([s.image for s in sheets]).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    return torch.from_numpy(x), np.stack([s.labels for s in sheets])


@torch.inference_mode()
def validate(
    model: torch.nn.Module, x: torch.Tensor, labels: np.ndarray, *, device: torch.device, batch: int = 4
) -> dict[str, float]:
    """Pixel F1 per class (argmax) on the validation sheets, and ``score`` = mean curve-class F1."""
    model.eval()
    cm = np.zeros((3, 3), np.int64)
    for i in range(0, len(x), batch):
        pred = model(x[i : i + batch].to(device)).argmax(1).cpu().numpy()
        cm += confusion(pred, labels[i : i + batch])
    model.train()
    f1 = scores_from_confusion(cm)["f1"]
    return {"f1_solid": float(f1[1]), "f1_dashed": float(f1[2]), "score": float(np.nanmean(f1[1:]))}


def train(
    outdir: str | Path,
    *,
    model_config: VeerNetConfig | None = None,
    data_config: DataConfig | None = None,
    train_config: TrainConfig | None = None,
    device: str = "auto",
    resume: bool = False,
    progress: Callable[[dict], None] | None = None,
    pool: SheetPool | None = None,
) -> dict:
    """Train VeerNet; returns the final training state (step, best score, history).

    ``pool``: a :class:`SheetPool` already drawn for ``data_config`` (the loss comparison
    shares one, with a memo, across its runs); it is brought to the start step first.

    ``progress(event)`` receives dicts: ``{"phase": "data", "done", "total"}`` while the
    sheet pool is drawn, ``{"phase": "train", "step", "loss", "lr"}`` every step, and
    ``{"phase": "val", "step", ...metrics}`` after each validation.
    """
    from logdigit.research.losses import make_loss, teacher_targets

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    emit = progress or (lambda event: None)
    state = {"step": 0, "best": -1.0, "history": [], "seconds": 0.0}
    if resume:
        model, opt, state, model_config, data_config, train_config = _resume(out)
        dev = resolve_device(device)
        model.to(dev)
        _optimizer_to(opt, dev)
    else:
        model_config = model_config or VeerNetConfig()
        data_config = data_config or DataConfig()
        train_config = train_config or TrainConfig()
        torch.manual_seed(data_config.seed)
        dev = resolve_device(device)
        model = _start(train_config.init, model_config).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
    loss_fn = make_loss(train_config.loss)
    teacher = _teacher(train_config.teacher, dev)
    if pool is None:
        pool = SheetPool(data_config, progress=lambda i, n: emit({"phase": "data", "done": i, "total": n}))
    elif pool.config != data_config:
        raise ValueError(f"the pool was drawn for {pool.config}, not {data_config}")
    pool.sync(state["step"])
    val_x, val_labels = validation_set(train_config.val_sheets, train_config.val_seed, style=data_config.style)
    amp = dev.type == "cuda"
    meta = {"data": asdict(data_config), "train": asdict(train_config)}
    if teacher is not None:
        meta["teacher_sha256"] = _sha256(train_config.teacher)
    if train_config.init:
        meta["init_sha256"] = _sha256(train_config.init)
    model.train()
    t0 = time.perf_counter() - state["seconds"]
    for step in range(state["step"], train_config.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, train_config)
        batch = pool.batch(step)
        x, labels, soft = batch.x.to(dev), batch.labels.to(dev), batch.soft.to(dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
        if teacher is None:
            loss = loss_fn(logits.float(), labels, soft=soft)
        else:
            with torch.no_grad(), torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp):
                taught = teacher(x)
            probs = teacher_targets(taught.float(), temperature=train_config.temperature)
            loss = loss_fn(logits.float(), labels, soft=soft, teacher=probs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.grad_clip)
        opt.step()
        done = step + 1
        emit(
            {
                "phase": "train",
                "step": done,
                "steps": train_config.steps,
                "loss": float(loss.detach()),
                "lr": lr_at(step, train_config),
            }
        )
        if done % train_config.eval_every == 0 or done == train_config.steps:
            metrics = validate(model, val_x, val_labels, device=dev)
            state["history"].append({"step": done, "loss": float(loss.detach()), **metrics})
            emit({"phase": "val", "step": done, **metrics})
            if metrics["score"] > state["best"]:
                state["best"] = metrics["score"]
                state["best_step"] = done
                save_model(model, out / "best.safetensors", meta={**meta, "step": done, "val": metrics})
        if done % train_config.checkpoint_every == 0 or done == train_config.steps:
            state["step"] = done
            state["seconds"] = time.perf_counter() - t0
            _checkpoint(out, model, opt, state, meta)
    state["seconds"] = time.perf_counter() - t0
    return state


def _teacher(path: str, device: torch.device) -> torch.nn.Module | None:
    """The frozen teacher network (weights loaded as plain data), or None."""
    if not path:
        return None
    if not Path(path).is_file():
        raise InputError(f"--teacher {path}: no such weights file; give the teacher's .safetensors")
    model = _nchw(load_model(path)).to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def _start(init: str, config: VeerNetConfig) -> VeerNet:
    """A random VeerNet of ``config``, or the one saved in ``init`` (weights as plain data), whose
    configuration must be ``config``: fine-tuning keeps the network's shape."""
    if not init:
        return VeerNet(config)
    if not Path(init).is_file():
        raise InputError(f"--init {init}: no such weights file; give a VeerNet's weights (models/veernet.safetensors)")
    model = _nchw(load_model(init))
    if not isinstance(model, VeerNet) or model.config != config:
        got = getattr(model, "config", None)
        if isinstance(got, VeerNetConfig) and got.widths != config.widths:
            what = f"widths {','.join(map(str, got.widths))}, not {','.join(map(str, config.widths))}"
            raise InputError(f"--init {init}: its network has {what}; give --widths to match it")
        raise InputError(f"--init {init}: its network is {got or type(model).__name__}, not {config}")
    return model


def _sha256(path: str) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _checkpoint(out: Path, model: VeerNet, opt: torch.optim.Optimizer, state: dict, meta: dict) -> None:
    # Optimizer first, model card last: the card's step is the commit point of a checkpoint.
    tensors, scalars = {}, {}
    for idx, st in opt.state_dict()["state"].items():
        for key, value in st.items():
            tensors[f"{idx}.{key}"] = value.detach().cpu().contiguous()
    with atomic_path(out / "last.optim.safetensors") as tmp:
        save_file(tensors, str(tmp))
    scalars = [{k: v for k, v in g.items() if k != "params"} for g in opt.state_dict()["param_groups"]]
    save_model(model, out / "last.safetensors", meta={**meta, "train_state": state, "param_groups": scalars})


def _nchw(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its weights in NCHW memory order, as training made and runs them (so a resumed
    or distilled run is the same, bit for bit, as before): ``load_model`` lays them out
    channels-last on CPU, for inference."""
    return model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # in torch, not its stubs


def _resume(out: Path):
    if not (out / "last.json").is_file():
        raise InputError(f"{out}: no checkpoint to resume (last.json missing); start without --resume")
    card = read_card(out / "last.safetensors")
    model = _nchw(load_model(out / "last.safetensors"))
    model_config = model.config
    data_config = DataConfig(**_known(DataConfig, card["data"]))
    train_config = TrainConfig(**_known(TrainConfig, card["train"]))
    opt = torch.optim.AdamW(model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
    flat = load_file(str(out / "last.optim.safetensors"))
    per_param: dict[int, dict] = {}
    for key, value in flat.items():
        idx, name = key.split(".", 1)
        per_param.setdefault(int(idx), {})[name] = value
    groups = opt.state_dict()["param_groups"]
    for g, saved in zip(groups, card["param_groups"], strict=True):
        g.update(saved)
    opt.load_state_dict({"state": per_param, "param_groups": groups})
    state = dict(card["train_state"])
    return model.train(), opt, state, model_config, data_config, train_config


def _known(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names}


def _optimizer_to(opt: torch.optim.Optimizer, device: torch.device) -> None:
    for st in opt.state.values():
        for k, v in st.items():
            if isinstance(v, torch.Tensor) and k != "step":
                st[k] = v.to(device)


__all__ = ["TrainConfig", "lr_at", "resolve_device", "train", "validate", "validation_set"]
