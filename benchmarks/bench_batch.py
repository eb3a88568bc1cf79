"""Batch throughput: scans per minute of ``logdigit.batch`` with 1 and 2 worker processes.

Each worker count gets a fresh LocalCluster (single-threaded worker processes, torch
threads = cores / workers, so every run uses the same cores). Every worker loads the
model and digitises one scan before the clock starts; then the same scans are
digitised with ``force`` into a fresh folder. Start-up (cluster, model, warm-up) is
reported apart from throughput.

    python benchmarks/bench_batch.py                       # 8 synthetic 768 x 640 scans, workers 1,2
    python benchmarks/bench_batch.py --n 16 --workers 1,2,4 --weights models/veernet.safetensors

``benchmarks/run.py`` calls :func:`bench_batch` on its own scans.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def bench_batch(
    scans: Sequence[str | os.PathLike],
    workers: Sequence[int] = (1, 2),
    *,
    weights: str | os.PathLike | None = None,
    device: str = "cpu",
    tile: int = 512,
) -> dict:
    """Scans per minute of the batch runner on ``scans`` with each worker count.

    Args:
        scans: scan files (their sidecar layouts are used when present).
        workers: worker process counts to compare, each on a fresh local cluster.
        weights: VeerNet weights (default: ``$LOGDIGIT_WEIGHTS`` or the shipped model).
        device: ``cpu`` or ``cuda``.
        tile: inference window, px.

    Returns:
        ``{"scans": n, "cores": c, "runs": [{"workers", "torch_threads", "startup_s", "wall_s",
        "scans_per_minute", "failed", "seconds_per_scan": {stage: median}}], "speedup": {...}}``.
    """
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    from logdigit.batch import run_batch
    from logdigit.pipeline import InferOptions

    opts = InferOptions(weights=str(weights) if weights else None, device=device, tile=tile)
    out: dict = {"scans": len(scans), "cores": CPU_COUNT, "device": device, "runs": []}
    for n in workers:
        threads = max(1, CPU_COUNT // n)
        t0 = time.perf_counter()
        with (
            LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
            tempfile.TemporaryDirectory(prefix="logdigit-bench-batch-") as outdir,
        ):
            client.wait_for_workers(n)
            client.run(_warm, str(scans[0]), opts, threads)
            startup = time.perf_counter() - t0
            t = time.perf_counter()
            results = run_batch(
                scans,
                outdir=outdir,
                options=opts,
                force=True,
                scheduler=cluster.scheduler_address,
                torch_threads=threads,
            )
            wall = time.perf_counter() - t
        done = [r for r in results if r.status == "done"]
        stages = sorted({k for r in done for k in r.seconds})
        out["runs"].append(
            {
                "workers": n,
                "torch_threads": threads,
                "startup_s": round(startup, 2),
                "wall_s": round(wall, 3),
                "scans_per_minute": round(60.0 * len(scans) / wall, 2),
                "failed": len(results) - len(done),
                "seconds_per_scan": {
                    k: round(statistics.median(r.seconds.get(k, 0.0) for r in done), 4) for k in stages
                }
                if done
                else {},
            }
        )
    base = out["runs"][0]["scans_per_minute"] if out["runs"] else 0.0
    out["speedup"] = (
        {f"{r['workers']}_over_{workers[0]}": round(r["scans_per_minute"] / base, 3) for r in out["runs"][1:]}
        if base
        else {}
    )
    return out


def _warm(scan: str, opts, threads: int) -> None:
    """On a worker: limit threads, load the model, digitise one scan (first-call costs off the clock)."""
    from logdigit.batch import prepare_worker
    from logdigit.pipeline import digitise

    prepare_worker(opts, threads=threads)
    digitise(scan, options=opts)


def make_scans(folder: Path, *, n: int, height: int, width: int) -> list[Path]:
    """``n`` seeded synthetic scans with sidecar layouts in ``folder`` (kept between runs)."""
    import cv2

    from logdigit.io.layout import write_layout
    from logdigit.research.synth import make_sheet

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"bench-{height}x{width}-{i}.png"
        if not path.is_file():
            sheet = make_sheet(height=height, width=width, rng=i)
            write_layout(sheet.layout, path.with_name(path.stem + ".layout.toml"))
            cv2.imwrite(str(path), sheet.image[..., ::-1])
        paths.append(path)
    return paths


def _random_weights(folder: Path) -> Path:
    """A randomly initialised VeerNet of the default size, for when no trained model is at hand."""
    import torch

    from logdigit.model import VeerNet, VeerNetConfig
    from logdigit.model.weights import save_model

    path = folder / "random-veernet.safetensors"
    if not path.is_file():
        torch.manual_seed(0)
        save_model(VeerNet(VeerNetConfig()).eval(), path)
    return path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=8, help="number of scans")
    p.add_argument("--height", type=int, default=768)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--weights", type=Path, help="VeerNet weights (default: the shipped model, else random weights)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)

    from logdigit.model.weights import default_weights

    cache = Path(tempfile.gettempdir()) / "logdigit-bench-batch"
    weights = args.weights or (default_weights() if default_weights().is_file() else _random_weights(cache))
    scans = make_scans(cache, n=args.n, height=args.height, width=args.width)
    print(f"{len(scans)} scans {args.height} x {args.width}, weights {weights}", file=sys.stderr, flush=True)
    res = bench_batch(
        scans, workers=tuple(int(w) for w in args.workers.split(",")), weights=weights, device=args.device
    )
    res["weights"], res["load_average"] = str(weights), list(os.getloadavg())
    for r in res["runs"]:
        print(
            f"{r['workers']} worker(s) x {r['torch_threads']} torch thread(s): {r['scans_per_minute']:.1f} "
            f"scans/min ({r['wall_s']:.1f} s for {res['scans']} scans; start-up {r['startup_s']:.1f} s; "
            f"{r['failed']} failed)"
        )
    for k, v in res["speedup"].items():
        print(f"speed-up {k.replace('_over_', ' over ')} worker(s): {v:.2f}x")
    if res["load_average"][0] > 0.5 * res["cores"]:
        print(
            f"warning: the machine was busy (load {res['load_average'][0]:.1f} on {res['cores']} cores); "
            "timings are not reliable",
            file=sys.stderr,
        )
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return res


if __name__ == "__main__":
    main()
