"""Accuracy of the peer network beside VeerNet's, at the same training budget.

The throughput benchmark runs the peer (segmentation_models_pytorch ``Unet`` with a
``resnet18`` encoder) with random weights: speed does not depend on the weights, but
the performance issue asks for VeerNet's speed-up "at equal or better accuracy". This
script answers that under a reduced budget that fits 2 CPU cores: it trains a fresh
VeerNet (the shipped config) and the peer with one loop and one recipe (the same
sheets in the same order, crops, batch, loss, AdamW, warm-up and cosine schedule, step
count and seed; the schedule of ``logdigit compare-losses``), then scores both at the
final step on the same seeded test sheets with :func:`logdigit.research.evaluate.evaluate`.

    python benchmarks/peer_accuracy.py --steps 200 --seed 0 --eval-n 100 --json docs/peer-accuracy.json

``--full`` runs the shipped model's own recipe instead (``logdigit train``'s defaults:
3000 steps, the 150-step warm-up, validation every 250 steps with the best checkpoint
kept) on the peer only, and sets it beside the shipped weights, both scored in the same
run on the same test sheets:

    python benchmarks/peer_accuracy.py --full --eval-n 200 --json docs/peer-accuracy-full.json

The peer sees ImageNet-normalised input (what its encoder expects) and its input is
padded to a multiple of 32 (``bench_infer.PeerUnet``). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_infer import load_peer  # noqa: E402

from logdigit.io.atomic import write_text_atomic  # noqa: E402
from logdigit.model.veernet import VeerNet, VeerNetConfig  # noqa: E402
from logdigit.model.weights import load_model  # noqa: E402
from logdigit.research.data import DataConfig, SheetPool  # noqa: E402
from logdigit.research.evaluate import draw_test_sheets, evaluate  # noqa: E402
from logdigit.research.losses import make_loss  # noqa: E402
from logdigit.research.machine import cpu_model  # noqa: E402
from logdigit.research.train import TrainConfig, lr_at, validate, validation_set  # noqa: E402


def train_same(
    model: torch.nn.Module, pool: SheetPool, *, cfg: TrainConfig, val=None, progress=None
) -> tuple[torch.nn.Module, float]:
    """The training loop of :func:`logdigit.research.train.train` on any network, on ``pool`` reset
    to step 0. With ``val`` (the validation sheets), the weights of the best validation
    score, checked every ``cfg.eval_every`` steps as ``train`` does, are the ones returned;
    without, the final ones. Returns the model and the seconds spent training."""
    pool.sync(0)
    loss_fn = make_loss(cfg.loss)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    best, best_state = -1.0, None
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = pool.batch(step)
        value = loss_fn(model(batch.x).float(), batch.labels, soft=batch.soft)
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        done = step + 1
        if progress and (done % 25 == 0 or step < 2):
            progress(f"step {done}/{cfg.steps} loss {value.item():.4f}")
        if val is not None and (done % cfg.eval_every == 0 or done == cfg.steps):
            metrics = validate(model, *val, device=torch.device("cpu"))
            if progress:
                progress(f"step {done} validation F1 {metrics['f1_solid']:.3f} / {metrics['f1_dashed']:.3f}")
            if metrics["score"] > best:
                best = metrics["score"]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument(
        "--full",
        action="store_true",
        help="the shipped recipe (logdigit train's defaults, best validation checkpoint) "
        "for the peer only, beside the shipped VeerNet weights; --steps is ignored",
    )
    ap.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="with --full: VeerNet weights to set beside the peer (default: the shipped ones)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", default="dice-ce")
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--eval-seed", type=int, default=0)
    ap.add_argument("--pool-size", type=int, default=DataConfig.pool_size)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--doc", type=Path, default=None, help="also write the result as Markdown here")
    args = ap.parse_args(argv)
    import logdigit.image.threshold  # noqa: F401   edits to the package during a long run change nothing
    import logdigit.model.inference  # noqa: F401 - evaluate's lazy imports, bound at start so that
    import logdigit.trace.tracer  # noqa: F401

    if args.threads:
        torch.set_num_threads(args.threads)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    loaded = load_peer()
    if loaded.model is None:
        say(f"peer unavailable: {loaded.skipped}")
        return 1
    data = DataConfig(seed=args.seed, pool_size=args.pool_size)
    say(f"drawing {data.pool_size} training sheets")
    pool = SheetPool(data, memo={})
    if args.full:
        cfg = TrainConfig(loss=args.loss)
        val = validation_set(cfg.val_sheets, cfg.val_seed)
        builders = {"peer": lambda: type(loaded.model)(_fresh_unet()), "veernet": lambda: load_model(args.weights)}
    else:
        cfg, val = TrainConfig(steps=args.steps, warmup=min(150, args.steps // 5), loss=args.loss), None
        builders = {"veernet": lambda: VeerNet(VeerNetConfig()), "peer": lambda: type(loaded.model)(_fresh_unet())}
    report = {
        "steps": cfg.steps,
        "seed": args.seed,
        "loss": args.loss,
        "full_recipe": args.full,
        "eval": {"n": args.eval_n, "seed": args.eval_seed},
        "machine": f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "data": asdict(data),
        "train": asdict(cfg),
        "networks": {},
        "methods": {},
    }
    sheets = None
    for name, build in builders.items():
        torch.manual_seed(args.seed)  # initial weights, as train() seeds them
        if args.full and name == "veernet":  # the shipped weights, trained by `logdigit train`
            model, seconds = build().eval(), None
        else:
            model, seconds = train_same(
                build(), pool, cfg=cfg, val=val, progress=lambda m, name=name: say(f"{name} {m}")
            )
        if sheets is None:
            sheets = draw_test_sheets(args.eval_n, args.eval_seed)
        with torch.inference_mode():
            out = evaluate(model, n=args.eval_n, seed=args.eval_seed, methods=("veernet",), sheets=sheets)
        m = report["methods"][name] = out["methods"]["veernet"]
        if name == "peer":
            label = loaded.source.replace("random weights", f"trained {cfg.steps} steps")
        elif args.full:
            label = f"VeerNet ({args.weights or 'shipped weights'})"
        else:
            label = "VeerNet (shipped config)"
        report["networks"][name] = {
            "name": label,
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_seconds": None if seconds is None else round(seconds, 1),
        }
        say(
            f"{name}: F1 {m['f1'][1]:.3f} / {m['f1'][2]:.3f}, IoU {m['iou'][1]:.3f} / {m['iou'][2]:.3f}, "
            f"ECE {m['ece']:.4f}, curve NMAE {m['curve']['nmae']:.4f}"
            + ("" if seconds is None else f"; trained in {seconds / 60:.1f} min")
        )
    report["command"] = "python benchmarks/peer_accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = json.dumps(report, indent=2)
    if args.doc:
        write_text_atomic(args.doc, to_markdown(report))
    if args.json:
        write_text_atomic(args.json, text)
    else:
        print(text)
    return 0


_ROWS = (
    ("F1 solid", lambda m: m["f1"][1], 3),
    ("F1 dashed", lambda m: m["f1"][2], 3),
    ("IoU solid", lambda m: m["iou"][1], 3),
    ("IoU dashed", lambda m: m["iou"][2], 3),
    ("F1 @1px solid", lambda m: m["f1_tol1"][1], 3),
    ("F1 @1px dashed", lambda m: m["f1_tol1"][2], 3),
    ("ECE", lambda m: m["ece"], 4),
    ("BECE", lambda m: m["bece"], 3),
    ("curve NMAE mean", lambda m: m["curve"]["nmae"], 4),
    ("curve NMAE median", lambda m: m["curve"]["nmae_median"], 4),
    ("rows within 2 %", lambda m: m["curve"]["within2"], 3),
)


def to_markdown(report: dict) -> str:
    """The report as a Markdown page (docs/peer-accuracy.md)."""
    nets = report["networks"]
    if report.get("full_recipe"):
        t = report["train"]
        how = (
            f"The shipped recipe, `logdigit train`'s defaults: loss `{report['loss']}`, {t['steps']} steps, "
            f"{t['warmup']}-step warm-up and cosine decay, data seed {report['seed']} (the "
            f"{report['data']['pool_size']}-sheet pool and crops the shipped model saw, in the same order), "
            f"the best of the validations every {t['eval_every']} steps kept. The peer is trained here by "
            f"`benchmarks/peer_accuracy.py`, whose loop gives VeerNet the very weights `logdigit train` gives "
            f"(`tests/test_benchmarks.py`); VeerNet's column is the shipped weights. Both scored in the same "
            f"run on {report['eval']['n']} test sheets (seed {report['eval']['seed']}, the `test` stream) by "
            f"`logdigit.research.evaluate`."
        )
    else:
        how = (
            f"Both networks trained by one loop (`benchmarks/peer_accuracy.py`) with one recipe: loss "
            f"`{report['loss']}`, {report['steps']} steps, data seed {report['seed']} (the same "
            f"{report['data']['pool_size']}-sheet pool, the same crops in the same order), AdamW with the "
            f"warm-up and cosine schedule of `logdigit compare-losses`; scored at the final step on "
            f"{report['eval']['n']} test sheets (seed {report['eval']['seed']}, the `test` stream) by "
            f"`logdigit.research.evaluate`."
        )
    lines = [
        "# VeerNet and the peer at the same training budget",
        "",
        how,
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine']}",
        "",
        "| metric | " + " | ".join(nets[n]["name"] for n in nets) + " |",
        "|---" * (len(nets) + 1) + "|",
    ]
    for name, get, digits in _ROWS:
        cells = []
        for n in nets:
            v = get(report["methods"][n])
            cells.append("-" if v is None else f"{v:.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "| parameters | " + " | ".join(f"{nets[n]['parameters']:,}" for n in nets) + " |",
        "| training minutes (this run) | "
        + " | ".join("-" if nets[n]["train_seconds"] is None else f"{nets[n]['train_seconds'] / 60:.1f}" for n in nets)
        + " |",
        "",
    ]
    return "\n".join(lines)


def _fresh_unet() -> torch.nn.Module:
    import segmentation_models_pytorch as smp

    return smp.Unet("resnet18", encoder_weights=None, classes=3)


if __name__ == "__main__":
    raise SystemExit(main())
