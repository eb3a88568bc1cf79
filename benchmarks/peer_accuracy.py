"""Accuracy of the peer network beside VeerNet's, at the same training budget.

The throughput benchmark runs the peer (segmentation_models_pytorch ``Unet`` with a
``resnet18`` encoder) with random weights: speed does not depend on the weights, but
the performance issue asks for VeerNet's speed-up "at equal or better accuracy". This
script answers that under a reduced budget that fits 2 CPU cores: it trains the peer
with exactly the recipe of one loss-comparison run (same sheets, crops, batch, loss,
AdamW, warm-up and cosine schedule, step count and seed; ``logdigit.compare``), then
scores it and that run's VeerNet weights at the same final step on the same seeded test
sheets with :func:`logdigit.evaluate.evaluate`.

    python benchmarks/peer_accuracy.py --veernet runs/compare/dice-ce-seed0/last.safetensors \\
        --steps 400 --seed 0 --eval-n 100 --json docs/peer-accuracy.json

The peer sees ImageNet-normalised input (what its encoder expects) and its input is
padded to a multiple of 32 (``bench_infer.PeerUnet``). Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_infer import load_peer  # noqa: E402

from logdigit.atomic import write_text_atomic  # noqa: E402
from logdigit.data import DataConfig, SheetPool  # noqa: E402
from logdigit.evaluate import draw_test_sheets, evaluate  # noqa: E402
from logdigit.losses import make_loss  # noqa: E402
from logdigit.machine import cpu_model  # noqa: E402
from logdigit.train import TrainConfig, lr_at  # noqa: E402
from logdigit.weights import load_model  # noqa: E402


def train_peer(model: torch.nn.Module, *, steps: int, seed: int, loss: str = "dice-ce",
               data: DataConfig | None = None, progress=None) -> tuple[torch.nn.Module, float]:
    """The training loop of :func:`logdigit.train.train` (no validation, final weights) on ``model``."""
    data = replace(data or DataConfig(), seed=seed)
    cfg = TrainConfig(steps=steps, warmup=min(150, steps // 5), loss=loss)  # the comparison's schedule
    pool = SheetPool(data)
    loss_fn = make_loss(cfg.loss)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    t0 = time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        batch = pool.batch(step)
        value = loss_fn(model(batch.x).float(), batch.labels, soft=batch.soft)
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if progress and ((step + 1) % 25 == 0 or step < 3):
            progress(f"peer step {step + 1}/{steps} loss {value.item():.4f}")
    return model.eval(), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--veernet", required=True,
                    help="VeerNet weights trained with the same recipe (a comparison run); read after the peer trains")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", default="dice-ce")
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--eval-seed", type=int, default=0)
    ap.add_argument("--pool-size", type=int, default=DataConfig.pool_size,
                    help="training sheets (the comparison's: 400)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    import logdigit.inference  # noqa: F401 - evaluate's lazy imports, bound at start so that
    import logdigit.threshold  # noqa: F401   edits to the package during a long run change nothing
    import logdigit.trace  # noqa: F401
    if args.threads:
        torch.set_num_threads(args.threads)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    loaded = load_peer()
    if loaded.model is None:
        say(f"peer unavailable: {loaded.skipped}")
        return 1
    torch.manual_seed(args.seed)  # the peer's initial weights, as train() seeds VeerNet's
    data = DataConfig(seed=args.seed, pool_size=args.pool_size)
    peer, seconds = train_peer(type(loaded.model)(_fresh_unet()), steps=args.steps, seed=args.seed, loss=args.loss,
                               data=data, progress=say)
    say(f"peer trained in {seconds / 60:.1f} min; evaluating on {args.eval_n} test sheets")
    veernet = load_model(args.veernet)
    card = json.loads(Path(args.veernet).with_suffix(".json").read_text())
    trained = card.get("train_state", {}).get("step", card.get("step"))
    if card.get("train", {}).get("loss") != args.loss or trained != args.steps or card["data"]["seed"] != args.seed:
        say(f"warning: {args.veernet} was trained with loss {card.get('train', {}).get('loss')}, "
            f"{trained} steps, seed {card['data']['seed']}; the peer gets {args.loss}, {args.steps}, {args.seed}")
    sheets = draw_test_sheets(args.eval_n, args.eval_seed)
    report = {"steps": args.steps, "seed": args.seed, "loss": args.loss,
              "eval": {"n": args.eval_n, "seed": args.eval_seed},
              "machine": f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads",
              "peer": {"name": loaded.source.replace("random weights", f"trained {args.steps} steps"),
                       "parameters": sum(p.numel() for p in peer.parameters()), "train_seconds": round(seconds, 1)},
              "veernet": {"weights": str(args.veernet), "parameters": sum(p.numel() for p in veernet.parameters())},
              "data": asdict(data), "methods": {}}
    for name, model in (("veernet", veernet), ("peer", peer)):
        with torch.inference_mode():
            out = evaluate(model, n=args.eval_n, seed=args.eval_seed, methods=("veernet",), sheets=sheets)
        report["methods"][name] = out["methods"]["veernet"]
        m = report["methods"][name]
        say(f"{name}: F1 {m['f1'][1]:.3f} / {m['f1'][2]:.3f}, IoU {m['iou'][1]:.3f} / {m['iou'][2]:.3f}, "
            f"ECE {m['ece']:.4f}, curve NMAE {m['curve']['nmae']:.4f}")
    text = json.dumps(report, indent=2)
    if args.json:
        write_text_atomic(args.json, text)
    else:
        print(text)
    return 0


def _fresh_unet() -> torch.nn.Module:
    import segmentation_models_pytorch as smp

    return smp.Unet("resnet18", encoder_weights=None, classes=3)


if __name__ == "__main__":
    raise SystemExit(main())
