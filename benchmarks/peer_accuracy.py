"""Accuracy of the peer network beside VeerNet's, at the same training budget.

The throughput benchmark runs the peer (segmentation_models_pytorch ``Unet`` with a
``resnet18`` encoder) with random weights: speed does not depend on the weights, but
the performance issue asks for VeerNet's speed-up "at equal or better accuracy". This
script answers that under a reduced budget that fits 2 CPU cores: it trains a fresh
VeerNet (the shipped config) and the peer with one loop and one recipe (the same
sheets in the same order, crops, batch, loss, AdamW, warm-up and cosine schedule, step
count and seed; the schedule of ``logdigit compare-losses``), then scores both at the
final step on the same seeded test sheets with :func:`logdigit.evaluate.evaluate`.

    python benchmarks/peer_accuracy.py --steps 200 --seed 0 --eval-n 100 --json docs/peer-accuracy.json

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

from logdigit.atomic import write_text_atomic  # noqa: E402
from logdigit.data import DataConfig, SheetPool  # noqa: E402
from logdigit.evaluate import draw_test_sheets, evaluate  # noqa: E402
from logdigit.losses import make_loss  # noqa: E402
from logdigit.machine import cpu_model  # noqa: E402
from logdigit.model.veernet import VeerNet, VeerNetConfig  # noqa: E402
from logdigit.train import TrainConfig, lr_at  # noqa: E402


def train_same(model: torch.nn.Module, pool: SheetPool, *, steps: int, loss: str = "dice-ce",
               progress=None) -> tuple[torch.nn.Module, float]:
    """The training loop of :func:`logdigit.train.train` on any network (no validation;
    the final weights), on ``pool`` reset to step 0. Returns the model and the seconds."""
    cfg = TrainConfig(steps=steps, warmup=min(150, steps // 5), loss=loss)  # the comparison's schedule
    pool.sync(0)
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
        if progress and ((step + 1) % 25 == 0 or step < 2):
            progress(f"step {step + 1}/{steps} loss {value.item():.4f}")
    return model.eval(), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", default="dice-ce")
    ap.add_argument("--eval-n", type=int, default=100)
    ap.add_argument("--eval-seed", type=int, default=0)
    ap.add_argument("--pool-size", type=int, default=DataConfig.pool_size)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--doc", type=Path, default=None, help="also write the result as Markdown here")
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
    data = DataConfig(seed=args.seed, pool_size=args.pool_size)
    say(f"drawing {data.pool_size} training sheets")
    pool = SheetPool(data, memo={})
    builders = {"veernet": lambda: VeerNet(VeerNetConfig()),
                "peer": lambda: type(loaded.model)(_fresh_unet())}
    report = {"steps": args.steps, "seed": args.seed, "loss": args.loss,
              "eval": {"n": args.eval_n, "seed": args.eval_seed},
              "machine": f"{cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads",
              "data": asdict(data), "networks": {}, "methods": {}}
    sheets = None
    for name, build in builders.items():
        torch.manual_seed(args.seed)  # initial weights, as train() seeds them
        model, seconds = train_same(build(), pool, steps=args.steps, loss=args.loss,
                                    progress=lambda m, name=name: say(f"{name} {m}"))
        if sheets is None:
            sheets = draw_test_sheets(args.eval_n, args.eval_seed)
        with torch.inference_mode():
            out = evaluate(model, n=args.eval_n, seed=args.eval_seed, methods=("veernet",), sheets=sheets)
        m = report["methods"][name] = out["methods"]["veernet"]
        report["networks"][name] = {
            "name": "VeerNet (shipped config)" if name == "veernet" else loaded.source.replace(
                "random weights", f"trained {args.steps} steps"),
            "parameters": sum(p.numel() for p in model.parameters()), "train_seconds": round(seconds, 1)}
        say(f"{name}: trained in {seconds / 60:.1f} min; F1 {m['f1'][1]:.3f} / {m['f1'][2]:.3f}, "
            f"IoU {m['iou'][1]:.3f} / {m['iou'][2]:.3f}, ECE {m['ece']:.4f}, curve NMAE {m['curve']['nmae']:.4f}")
    report["command"] = "python benchmarks/peer_accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = json.dumps(report, indent=2)
    if args.doc:
        write_text_atomic(args.doc, to_markdown(report))
    if args.json:
        write_text_atomic(args.json, text)
    else:
        print(text)
    return 0


_ROWS = (("F1 solid", lambda m: m["f1"][1], 3), ("F1 dashed", lambda m: m["f1"][2], 3),
         ("IoU solid", lambda m: m["iou"][1], 3), ("IoU dashed", lambda m: m["iou"][2], 3),
         ("F1 @1px solid", lambda m: m["f1_tol1"][1], 3), ("F1 @1px dashed", lambda m: m["f1_tol1"][2], 3),
         ("ECE", lambda m: m["ece"], 4), ("BECE", lambda m: m["bece"], 3),
         ("curve NMAE mean", lambda m: m["curve"]["nmae"], 4),
         ("curve NMAE median", lambda m: m["curve"]["nmae_median"], 4),
         ("rows within 2 %", lambda m: m["curve"]["within2"], 3))


def to_markdown(report: dict) -> str:
    """The report as a Markdown page (docs/peer-accuracy.md)."""
    nets = report["networks"]
    lines = ["# VeerNet and the peer at the same training budget", "",
             f"Both networks trained by one loop (`benchmarks/peer_accuracy.py`) with one recipe: loss "
             f"`{report['loss']}`, {report['steps']} steps, data seed {report['seed']} (the same "
             f"{report['data']['pool_size']}-sheet pool, the same crops in the same order), AdamW with the warm-up and "
             f"cosine schedule of `logdigit compare-losses`; scored at the final step on {report['eval']['n']} test "
             f"sheets (seed {report['eval']['seed']}, the `test` stream) by `logdigit.evaluate`.", "",
             f"Command: `{report['command']}`", "", f"Machine: {report['machine']}", "",
             "| metric | " + " | ".join(nets[n]["name"] for n in nets) + " |", "|---" * (len(nets) + 1) + "|"]
    for name, get, digits in _ROWS:
        cells = []
        for n in nets:
            v = get(report["methods"][n])
            cells.append("-" if v is None else f"{v:.{digits}f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["| parameters | " + " | ".join(f"{nets[n]['parameters']:,}" for n in nets) + " |",
              "| training minutes | " + " | ".join(f"{nets[n]['train_seconds'] / 60:.1f}" for n in nets) + " |", ""]
    return "\n".join(lines)


def _fresh_unet() -> torch.nn.Module:
    import segmentation_models_pytorch as smp

    return smp.Unet("resnet18", encoder_weights=None, classes=3)


if __name__ == "__main__":
    raise SystemExit(main())
