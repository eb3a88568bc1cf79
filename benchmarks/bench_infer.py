"""Inference benchmarks of logdigit: throughput, end-to-end stage split, peak memory, variants.

Each measurement is one function that returns plain data (dicts of floats), so
``run.py`` can print, save and document the same numbers. Timings are repeated and
summarised by :func:`summarise` (median, min, max, spread); the first call of
anything is a warm-up and is not counted.

The scans are synthetic (:func:`logdigit.research.synth.make_sheet` with a fixed layout) and
are written once to a cache folder under the system temp dir, so every section of a
run, and every run on one machine, sees the same pixels.

Run one variant alone (``run.py`` does this, with a time limit, for ``compile``):

    python benchmarks/bench_infer.py --variant compile --scan SCAN.png --weights W.safetensors
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from logdigit.model.inference import DEFAULT_OVERLAP, DEFAULT_TILE, predict_proba

CACHE_VERSION = 1  # bump when the synthetic scans below change, so stale cached files are not reused
CACHE = Path(tempfile.gettempdir()) / "logdigit-bench"
"""Where generated scans, their layouts and fallback weights live between runs."""

BLANK_RANGE = 40  # uint8 grey levels: a window whose max - min is below this is skipped (see inference.py)


# ----------------------------------------------------------------------------- timing


def summarise(seconds: list[float]) -> dict:
    """Median, min, max and relative spread ((max - min) / median) of repeated timings.

    >>> summarise([1.0, 3.0, 2.0])
    {'median': 2.0, 'min': 1.0, 'max': 3.0, 'spread': 1.0, 'n': 3}
    """
    if not seconds:
        raise ValueError("summarise needs at least one timing, got none")
    med = statistics.median(seconds)
    return {
        "median": med,
        "min": min(seconds),
        "max": max(seconds),
        "spread": (max(seconds) - min(seconds)) / med if med > 0 else 0.0,
        "n": len(seconds),
    }


def rate(stats: dict, megapixels: float) -> dict:
    """Throughput in MP/s from timing stats: median, and the range given by the fastest/slowest run."""
    return {
        "mp_s": megapixels / stats["median"],
        "mp_s_min": megapixels / stats["max"],
        "mp_s_max": megapixels / stats["min"],
        "seconds": stats,
        "megapixels": megapixels,
    }


# ----------------------------------------------------------------------------- scans


def _plan():
    from logdigit.research.synth import CurvePlan, SheetPlan, TrackPlan

    # A common log layout: GR + SP in a linear track, two resistivities in a log track,
    # sonic (dashed) + neutron in a third, as on a triple-combo print.
    return SheetPlan(
        grid=(60, 60, 60),
        depth_top=1200.0,
        px_per_unit=4.0,
        tracks=(
            TrackPlan(
                "linear",
                (
                    CurvePlan("GR", 1, (0, 120, 0), "gr", 0.0, 150.0, "GAPI"),
                    CurvePlan("SP", 1, (0, 0, 0), "sp", -160.0, 40.0, "MV"),
                ),
            ),
            TrackPlan(
                "log",
                (
                    CurvePlan("ILD", 1, (200, 20, 20), "res", 0.2, 2000.0, "OHMM"),
                    CurvePlan("SFLU", 2, (0, 40, 160), "res", 0.2, 2000.0, "OHMM"),
                ),
            ),
            TrackPlan(
                "linear",
                (
                    CurvePlan("DT", 2, (0, 0, 0), "sonic", 140.0, 40.0, "US/F"),
                    CurvePlan("NPHI", 1, (110, 30, 140), "sp", 0.45, -0.15, "V/V"),
                ),
            ),
        ),
    )


@dataclass(frozen=True)
class BenchScan:
    """A synthetic scan on disk with its sidecar layout.

    Attributes:
        path: ``NAME.png``; ``layout``: ``NAME.layout.toml`` beside it (found by ``logdigit infer``).
        height, width: pixels.
    """

    path: Path
    layout: Path
    height: int
    width: int

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6

    def image(self) -> np.ndarray:
        """uint8 (H, W, 3) RGB, read with the product's own reader."""
        from logdigit.io.scan import read_scan

        return read_scan(self.path, max_pixels=max(self.height * self.width, 1)).image


def make_scan(*, height: int, width: int, seed: int = 0, block: int | None = None, cache: Path = CACHE) -> BenchScan:
    """A synthetic scan of ``height`` x ``width`` px with a fixed three-track layout, cached on disk.

    Args:
        block: draw one sheet of this many rows and repeat it down the page (how a tall
            scan of 60,000 rows is made in seconds); None draws the whole height at once.
    """
    block = min(block or height, height)
    name = f"scan-v{CACHE_VERSION}-{width}x{height}-b{block}-s{seed}"
    path, layout = cache / f"{name}.png", cache / f"{name}.layout.toml"
    if not (path.is_file() and layout.is_file()):
        _write_scan(path, layout, height=height, width=width, seed=seed, block=block)
    return BenchScan(path, layout, height, width)


def _write_scan(path: Path, layout_path: Path, *, height: int, width: int, seed: int, block: int) -> None:
    import cv2

    from logdigit.io.layout import write_layout
    from logdigit.research.synth import make_sheet

    sheet = make_sheet(height=block, width=width, rng=seed, plan=_plan())
    reps = -(-height // block)
    image = np.tile(sheet.image, (reps, 1, 1))[:height]  # (height, W, 3)
    (r0, d0), (r1, d1) = sheet.layout.depth.ties
    last = height - 1 - (height - 1) % 10
    ties = ((r0, d0), (float(last), d0 + (last - r0) * (d1 - d0) / (r1 - r0)))
    lay = replace(sheet.layout, depth=replace(sheet.layout.depth, ties=ties))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.png")
    if not cv2.imwrite(str(tmp), image[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"{tmp}: could not write the benchmark scan")
    write_layout(lay, layout_path)
    os.replace(tmp, path)  # the scan last: a scan on disk always has its layout


def with_blank_band(image: np.ndarray, share: float, *, rng=0) -> np.ndarray:
    """A copy of ``image`` whose bottom ``share`` of rows is bare paper (the end of a log run, a blank margin).

    The paper is the scan's own paper colour (the median of its lightest tenth) with
    scanner grain of 2 grey levels.
    """
    rng = np.random.default_rng(rng)
    out = image.copy()
    n = int(round(image.shape[0] * share))
    grey = image.mean(axis=2)
    paper = np.median(image[grey >= np.quantile(grey, 0.9)], axis=0)  # (3,) RGB
    band = paper + rng.normal(0, 2, (n, image.shape[1], 1))
    out[image.shape[0] - n :] = np.clip(band, 0, 255).round().astype(np.uint8)
    return out


def blank_share(image: np.ndarray, *, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP) -> float:
    """Fraction of the tiling's windows that skip-blank leaves out (the rule of ``inference._run_band``)."""
    from logdigit.model.inference import _starts

    h, w = image.shape[:2]
    th, tw = min(tile, h), min(tile, w)
    ys, xs = _starts(h, th, tile - overlap), _starts(w, tw, tile - overlap)
    blank = [
        int(image[y : y + th, x : x + tw].max()) - int(image[y : y + th, x : x + tw].min()) < BLANK_RANGE
        for y in ys
        for x in xs
    ]
    return sum(blank) / len(blank)


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Loaded:
    """A network ready for :func:`predict_proba`, where it came from, and its size."""

    model: nn.Module | None
    source: str
    params: int = 0
    weights: Path | None = None
    skipped: str | None = None


def load_veernet(weights: str | os.PathLike | None = None, *, cache: Path = CACHE) -> Loaded:
    """The shipped VeerNet (or ``weights``); without shipped weights, a random-weight default VeerNet.

    The random model is saved to the cache, so the CLI and the batch runner load the
    very same network through ``--weights`` / ``LOGDIGIT_WEIGHTS``.
    """
    from logdigit.model import VeerNet, VeerNetConfig
    from logdigit.model.weights import default_weights, load_model, save_model

    path = Path(weights) if weights else default_weights()
    if weights or path.is_file():  # named weights must exist (load_model says so); only the default falls back
        model = load_model(path)
        return Loaded(model, _shown(path), _params(model), path)
    torch.manual_seed(0)
    model = VeerNet(VeerNetConfig()).eval()
    cache.mkdir(parents=True, exist_ok=True)
    saved = save_model(model, cache / "veernet-random.safetensors", meta={"note": "random weights, benchmark only"})
    return Loaded(
        model, f"random weights, default config (no {_shown(path)}; speed only, not accuracy)", _params(model), saved
    )


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (reports are read on other machines)."""
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parent.parent))
    except ValueError:
        return str(path)


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class PeerUnet(nn.Module):
    """segmentation_models_pytorch ``Unet(resnet18)`` behind VeerNet's contract.

    (B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W) logits, any H, W: the input is
    ImageNet-normalised (what a resnet encoder expects) and replicate-padded to a
    multiple of 32 (the encoder's total stride), and the logits are cropped back.
    """

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.unet = unet
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % 32, (-w) % 32
        x = (x - self.mean) / self.std
        x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        return self.unet(x)[..., :h, :w]


def load_peer() -> Loaded:
    """smp ``Unet`` with a ``resnet18`` encoder, random weights, 3 classes, channels-last weights
    (as VeerNet's on CPU); or why it cannot be had."""
    try:
        _allow_cpu_torchvision()
        import segmentation_models_pytorch as smp
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip the peer, say why
        return Loaded(
            None,
            "",
            skipped=f"segmentation_models_pytorch not importable ({type(exc).__name__}: "
            f"{_first_line(exc)}); `make bench` installs it",
        )
    torch.manual_seed(0)
    unet = smp.Unet("resnet18", encoder_weights=None, classes=3)
    # channels-last weights, as load_model lays out VeerNet's on CPU: the same layout for both networks
    model = PeerUnet(unet).eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return Loaded(
        model, f"segmentation_models_pytorch {smp.__version__} Unet(resnet18), random weights", _params(model)
    )


def _allow_cpu_torchvision() -> None:
    """Let a CUDA-built torchvision wheel import next to a CPU-only torch.

    PyPI's torchvision wheels link their C++ ops against libtorch_cuda; with a CPU
    torch that library is missing, the ops do not load, and ``import torchvision``
    then fails registering a fake kernel for ``torchvision::nms`` ("operator does not
    exist"). Declaring the two schemas it needs lets the pure-Python parts (the
    ResNet that smp's encoder is built from) import; detection ops stay unavailable,
    which a segmentation Unet never calls. Nothing is done when the ops load.
    """
    if "torchvision" in sys.modules or _KEEP:  # imported already, or the schemas are declared already
        return
    import importlib.util

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    libs = sorted(Path(next(iter(spec.submodule_search_locations))).glob("_C*.so"))
    try:
        if libs:
            torch.ops.load_library(str(libs[0]))
            return
    except OSError:
        pass
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _KEEP.append(lib)  # a Library unregisters its definitions when garbage-collected


_KEEP: list = []


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else ""


class NchwWeights(nn.Module):
    """Run ``model`` with its weights in NCHW (contiguous) memory order; ``load_model`` lays them
    out channels-last on CPU, like the windows, and this measures what that layout gains."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class Timed(nn.Module):
    """``model`` that records when its forward calls ran; ``seconds`` is the wall time during
    which at least one call was running (windows run in parallel threads on CPU, so their
    durations overlap and must not be added up). Setting ``seconds = 0`` starts afresh."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self._lock = threading.Lock()
        self._spans: list[tuple[float, float]] = []

    @property
    def seconds(self) -> float:
        total, end = 0.0, float("-inf")
        for a, b in sorted(self._spans):  # the length of the union of the intervals
            if b > end:
                total += b - max(a, end)
                end = b
        return total

    @seconds.setter
    def seconds(self, value: float) -> None:
        if value != 0:
            raise ValueError("Timed.seconds can only be reset to 0")
        with self._lock:
            self._spans = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = time.perf_counter()
        out = self.model(x)
        if out.device.type == "cuda":
            torch.cuda.synchronize()
        with self._lock:
            self._spans.append((t, time.perf_counter()))
        return out


@contextmanager
def set_threads(n: int | None) -> Iterator[None]:
    """Temporarily ``torch.set_num_threads(n)`` (None: unchanged)."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ----------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class Job:
    """One thing to time: a call, the megapixels it covers and, for a network, its forward-time counter."""

    run: Callable[[], object]
    megapixels: float
    net: Timed | None = None


def infer_job(
    model: nn.Module,
    image: np.ndarray,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch: int = 4,
    skip_blank: bool = True,
    device: str = "cpu",
    threads: int | None = None,
) -> Job:
    """Tiled :func:`predict_proba` of ``model`` on ``image`` (uint8 (H, W, 3)), probabilities out.

    The time covers everything ``predict_proba`` does: window cutting, the network
    (under ``torch.inference_mode``; float16 autocast on CUDA), softmax and blending.
    """
    net = Timed(model.to(device).eval())

    def run() -> None:
        with set_threads(threads):
            predict_proba(net, image, tile=tile, overlap=overlap, batch=batch, device=device, skip_blank=skip_blank)

    return Job(run, image.shape[0] * image.shape[1] / 1e6, net)


def classical_job(image: np.ndarray) -> Job:
    """The evaluation's no-learning baseline, :func:`logdigit.research.evaluate.classical_segment`, on ``image``."""
    from logdigit.research.evaluate import classical_segment

    return Job(lambda: classical_segment(image), image.shape[0] * image.shape[1] / 1e6)


def interleaved(jobs: dict[str, Job], *, repeats: int) -> dict[str, dict]:
    """Time every job once per round, in an order rotated each round, after one uncounted warm-up round.

    Interleaving spreads a noisy machine's slow spells over all jobs alike, so ratios
    taken round by round (:func:`round_ratio`) are steadier than the absolute times.

    Returns:
        per job, :func:`rate` of its times plus ``times`` (seconds per round) and
        ``network_share`` (seconds inside the network's forward / total; None for no network).
    """
    names = list(jobs)
    for name in names:  # warm-up: allocator, oneDNN/cuDNN kernel choice, lazy imports
        jobs[name].run()
    for job in jobs.values():
        if job.net is not None:
            job.net.seconds = 0.0
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t = time.perf_counter()
            jobs[name].run()
            times[name].append(time.perf_counter() - t)
    out = {}
    for name, job in jobs.items():
        out[name] = {
            **rate(summarise(times[name]), job.megapixels),
            "times": times[name],
            "network_share": job.net.seconds / sum(times[name]) if job.net is not None else None,
        }
    return out


def round_ratio(fast: dict, slow: dict) -> dict:
    """How many times the throughput of ``fast`` is that of ``slow``, round by round (same rounds paired).

    >>> round_ratio({"times": [1.0, 2.0, 1.0]}, {"times": [2.0, 3.0, 4.0]})
    {'median': 2.0, 'min': 1.5, 'max': 4.0, 'rounds': [2.0, 1.5, 4.0]}
    """
    rounds = [b / a for a, b in zip(fast["times"], slow["times"], strict=True)]
    return {"median": statistics.median(rounds), "min": min(rounds), "max": max(rounds), "rounds": rounds}


def verdict(ratio: dict, *, margin: float = 0.03) -> str:
    """'faster' / 'slower' only when the median moves by more than ``margin`` and every round by half that.

    >>> verdict({"median": 1.4, "min": 1.1, "max": 1.6}), verdict({"median": 1.4, "min": 0.9, "max": 1.6})
    ('faster', 'same (within noise)')
    >>> verdict({"median": 0.5, "min": 0.4, "max": 0.6})
    'slower'
    """
    if ratio["min"] > 1 + margin / 2 and ratio["median"] > 1 + margin:
        return "faster"
    if ratio["max"] < 1 / (1 + margin / 2) and ratio["median"] < 1 / (1 + margin):
        return "slower"
    return "same (within noise)"


def end_to_end(
    scan: BenchScan,
    model: nn.Module,
    *,
    weights: Path,
    repeats: int,
    batch: int = 4,
    skip_blank: bool = True,
    out_dir: Path = CACHE,
) -> dict:
    """Seconds per scan of :func:`logdigit.pipeline.digitise_to_files` (the ``logdigit infer`` path), by stage.

    The pipeline is given ``model`` wrapped in :class:`Timed`, so the time inside the
    network's forward calls is known exactly; ``non_network_share`` is everything else
    (reading, window cutting and blending, thresholding, tracing, calibration, LAS
    writing) over the total.
    """
    from logdigit import pipeline

    net = Timed(model.eval())
    opts = pipeline.InferOptions(weights=str(weights), device="cpu", batch=batch, skip_blank=skip_blank)
    runs: list[dict] = []
    network: list[float] = []
    target = out_dir / f"{scan.path.stem}.{os.getpid()}.las"
    with _pipeline_model(net):
        for i in range(repeats + 1):
            net.seconds = 0.0
            t = time.perf_counter()
            result, _ = pipeline.digitise_to_files(
                scan.path, out=target, layout=scan.layout, options=opts, overwrite=True
            )
            total = time.perf_counter() - t
            if i:  # the first run is a warm-up
                runs.append({**result.timings, "total": total})
                network.append(net.seconds)
    target.unlink(missing_ok=True)
    stages = {s: summarise([r.get(s, 0.0) for r in runs]) for s in (*pipeline.STAGES, "total")}
    shares = [1 - n / r["total"] for n, r in zip(network, runs, strict=True)]
    return {
        "scan": {"height": scan.height, "width": scan.width, "megapixels": scan.megapixels},
        "stages": stages,
        "network": summarise(network),
        "non_network_share": statistics.median(shares),
        "non_network_share_range": [min(shares), max(shares)],
        "curves": len(result.curves.curves),
    }


def end_to_end_versions(
    scan: BenchScan,
    versions: dict[str, tuple[nn.Module, Path, dict]],
    *,
    repeats: int,
    baseline: Callable[[], float] | None = None,
    out_dir: Path = CACHE,
) -> dict[str, dict]:
    """Seconds per scan of :func:`logdigit.pipeline.digitise_to_files` for several versions of the
    pipeline, interleaved round by round (order rotated), after one uncounted warm-up round.

    Args:
        versions: name -> (model, its weights file, :class:`~logdigit.pipeline.InferOptions` fields
            beyond the defaults, e.g. ``{"whole_scan": True}``).
        baseline: timed as version ``"today"`` in every counted round: a call that digitises the
            scan once with other code and returns its seconds (see :func:`baseline_job`).

    Returns:
        per version, :func:`rate` of its totals plus ``times`` (for :func:`round_ratio`).
    """
    from logdigit import pipeline

    names = list(versions) + (["today"] if baseline is not None else [])
    target = out_dir / f"{scan.path.stem}.{os.getpid()}.versions.las"
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats + 1):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if name == "today":
                if r and baseline is not None:  # it warms up in its own process
                    times[name].append(baseline())
                continue
            model, weights, extra = versions[name]
            opts = pipeline.InferOptions(weights=str(weights), device="cpu", **extra)
            with _pipeline_model(model.eval()):
                t = time.perf_counter()
                pipeline.digitise_to_files(scan.path, out=target, layout=scan.layout, options=opts, overwrite=True)
                if r:  # round 0 is the warm-up
                    times[name].append(time.perf_counter() - t)
    target.unlink(missing_ok=True)
    return {n: {**rate(summarise(times[n]), scan.megapixels), "times": times[n]} for n in names}


BASELINE_COMMIT = "b427e8b"
"""The code when issue #24 set the 2 MP/s target (2026-12-04 22:34 UTC, the commit before
region-limited inference): "today's code", against which the end-to-end speed-up is measured."""

_BASELINE_CHILD = r"""
import json, sys, time
root, scan, layout, weights, out, threads = sys.argv[1:7]
sys.path.insert(0, root)
import torch
torch.set_num_threads(int(threads))
import logdigit
from logdigit import pipeline
assert logdigit.__file__.startswith(root), f"imported {logdigit.__file__}, not the baseline's"
opts = pipeline.InferOptions(weights=weights, device="cpu")
times = []
for _ in range(2):  # a warm-up run, then the timed one
    t = time.perf_counter()
    pipeline.digitise_to_files(scan, out=out, layout=layout, options=opts, overwrite=True)
    times.append(time.perf_counter() - t)
print(json.dumps(times[-1]))
"""


def baseline_tree(commit: str = BASELINE_COMMIT, *, cache: Path = CACHE) -> Path:
    """``logdigit/`` and ``models/`` of ``commit``, extracted once (``git archive``) under ``cache``.

    Raises:
        RuntimeError: not a git checkout, or the commit is not in its history (a shallow clone).
    """
    root = cache / f"baseline-{commit}"
    if (root / "logdigit" / "pipeline.py").is_file():
        return root
    here = Path(__file__).resolve().parents[1]
    tmp = cache / f"baseline-{commit}.{os.getpid()}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(here), "archive", "--format=tar", commit, "logdigit", "models"],
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        raise RuntimeError(f"git archive {commit}: {_error_line(archive.stderr.decode(errors='replace'))}")
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    os.replace(tmp, root)
    return root


def baseline_job(scan: BenchScan, *, commit: str = BASELINE_COMMIT, threads: int, out_dir: Path = CACHE):
    """A call that digitises ``scan`` with the code and shipped weights of ``commit`` in a fresh process
    (a warm-up run, then a timed one) and returns the timed run's seconds: the same in-process
    measure as :func:`end_to_end_versions` takes of the current code."""
    root = baseline_tree(commit, cache=out_dir)
    target = out_dir / f"{scan.path.stem}.{os.getpid()}.baseline.las"
    args = [str(root), str(scan.path), str(scan.layout), str(root / "models" / "veernet.safetensors")]
    env = {k: v for k, v in os.environ.items() if k != "LOGDIGIT_WEIGHTS"}

    def run() -> float:
        proc = subprocess.run(
            [sys.executable, "-c", _BASELINE_CHILD, *args, str(target), str(threads)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode:
            raise RuntimeError(f"the baseline ({commit}) failed: {_error_line(proc.stderr)}")
        return float(json.loads(proc.stdout.strip().splitlines()[-1]))

    return run


@contextmanager
def _pipeline_model(model: nn.Module) -> Iterator[None]:
    """Make ``logdigit.pipeline`` use ``model`` instead of loading one (it looks ``cached_model`` up per call)."""
    from logdigit import pipeline

    original = pipeline.cached_model
    pipeline.cached_model = lambda weights, device: model.to(device)
    try:
        yield
    finally:
        pipeline.cached_model = original


_MEASURE_CHILD = r"""
import resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
print(kb * scale, code.returncode, time.perf_counter() - t)
sys.stderr.write(code.stderr[-2000:])
"""


def peak_memory(
    scan: BenchScan, *, weights: Path, threads: int, tile: int = DEFAULT_TILE, timeout: float = 1800
) -> dict:
    """Peak RSS (high-water mark) of one ``logdigit infer`` process on ``scan``.

    A fresh Python starts the CLI as its only child and reports
    ``getrusage(RUSAGE_CHILDREN).ru_maxrss``, so nothing this process has allocated
    is counted and no earlier measurement leaks into this one.
    """
    out = CACHE / f"{scan.path.stem}.{os.getpid()}.mem.las"
    cmd = [
        *_cli(),
        "infer",
        str(scan.path),
        "--layout",
        str(scan.layout),
        "--weights",
        str(weights),
        "--device",
        "cpu",
        "--tile",
        str(tile),
        "-o",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE_CHILD, *cmd], capture_output=True, text=True, env=env, timeout=timeout
    )
    out.unlink(missing_ok=True)
    why = _error_line(proc.stderr)
    try:
        rss, code, seconds = proc.stdout.split()
    except ValueError:
        raise RuntimeError(f"memory probe failed (exit {proc.returncode}): {why}") from None
    if int(code) != 0:
        raise RuntimeError(f"logdigit infer exited {code} on {scan.path.name}: {why}")
    return {
        "height": scan.height,
        "width": scan.width,
        "megapixels": scan.megapixels,
        "peak_rss_mb": int(rss) / 2**20,
        "seconds": float(seconds),
    }


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("logdigit")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from logdigit.cli import main; main()"]


# ----------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class Variant:
    """One way of running VeerNet inference, compared with the default (NCHW, batch 4, skip-blank on)."""

    name: str
    setting: str
    kwargs: dict
    wrap: Callable[[nn.Module], nn.Module] | None = None
    threads: int | None = None
    blank_band: float = 0.0  # run both sides on the scan with this share of its rows turned to bare paper


def variant_grid(name: str, *, max_threads: int) -> list[Variant]:
    """The settings of variant family ``name`` (see ``VARIANTS``)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; valid: {sorted(VARIANTS)}")
    return VARIANTS[name](max_threads)


def _thread_grid(max_threads: int) -> list[Variant]:
    counts = sorted({1, max(max_threads // 2, 1), max_threads})
    return [Variant("threads", str(n), {}, threads=n) for n in counts]


VARIANTS: dict[str, Callable[[int], list[Variant]]] = {
    # The default against itself: the speed-ups that noise alone produces on this machine.
    "control": lambda _: [Variant("control", "default again", {})],
    "channels_last": lambda _: [Variant("channels_last", "off (NCHW weights)", {}, wrap=NchwWeights)],
    "batch": lambda _: [Variant("batch", str(b), {"batch": b}) for b in (1, 4, 8)],
    "threads": _thread_grid,
    "skip_blank": lambda _: [
        Variant("skip_blank", "off", {"skip_blank": False}),
        Variant("skip_blank", "off, 25 % bare paper", {"skip_blank": False}, blank_band=0.25),
    ],
}
"""In-process variant families: name -> settings to time. ``compile`` and ``onnx`` run in a child (time-boxed)."""

ISOLATED = ("compile", "onnx")


def run_variant(v: Variant, model: nn.Module, image: np.ndarray, *, repeats: int, tile: int, overlap: int) -> dict:
    """One variant against the default, interleaved round by round on the same scan.

    Returns the variant's throughput, ``default_mp_s`` (the default in the same rounds),
    ``speedup`` (:func:`round_ratio`) and ``verdict``.
    """
    image = with_blank_band(image, v.blank_band) if v.blank_band else image
    jobs = {
        "default": infer_job(model, image, tile=tile, overlap=overlap),
        "variant": infer_job(
            v.wrap(model) if v.wrap else model, image, tile=tile, overlap=overlap, threads=v.threads, **v.kwargs
        ),
    }
    return {
        **_versus(interleaved(jobs, repeats=repeats)),
        "blank_window_share": blank_share(image, tile=tile, overlap=overlap),
    }


def _versus(res: dict) -> dict:
    ratio = round_ratio(res["variant"], res["default"])
    return {**res["variant"], "default_mp_s": res["default"]["mp_s"], "speedup": ratio, "verdict": verdict(ratio)}


def run_isolated(
    name: str, scan: BenchScan, *, weights: Path, repeats: int, threads: int, tile: int, overlap: int, timeout: float
) -> dict:
    """Run an isolated variant (``compile``, ``onnx``) in a child process with a time limit.

    Returns the child's throughput dict plus ``setup_seconds``, or ``{"skipped": reason}``.
    """
    if name not in ISOLATED:
        raise ValueError(f"unknown isolated variant {name!r}; valid: {list(ISOLATED)}")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--variant",
        name,
        "--scan",
        str(scan.path),
        "--weights",
        str(weights),
        "--repeats",
        str(repeats),
        "--threads",
        str(threads),
        "--tile",
        str(tile),
        "--overlap",
        str(overlap),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"did not finish within {timeout:.0f} s (time box)"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"skipped": f"child failed (exit {proc.returncode}): {_error_line(proc.stderr)}"}
    return json.loads(lines[-1])


def _error_line(stderr: str) -> str:
    """The line of a traceback that names the error (the last 'SomethingError: ...'), else the last line."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    named = [ln for ln in lines if ln.split(":", 1)[0].endswith(("Error", "Exception"))]
    return ((named or lines or [""])[-1])[:300]


def _isolated_main(args: argparse.Namespace) -> dict:
    import warnings

    from logdigit.io.scan import read_scan
    from logdigit.model.weights import load_model

    warnings.filterwarnings("ignore")  # exporters and compilers are chatty; stdout carries only the JSON
    torch.set_num_threads(args.threads)
    image = read_scan(args.scan).image
    model = load_model(args.weights)
    window = (min(args.tile, image.shape[0]), min(args.tile, image.shape[1]))  # every window of this scan
    t = time.perf_counter()
    if args.variant == "compile":
        # nn.TransformerEncoderLayer's fused inference op (the "fast path") has a fake kernel
        # whose strides disagree with the real one, and compilation fails on it; the plain
        # path compiles. Off for the eager default it is compared with, too.
        torch.backends.mha.set_fastpath_enabled(False)
        net = torch.compile(model, dynamic=False)
    else:
        try:
            net = _onnx_model(model, window)
        except ImportError as exc:
            return {"skipped": f"onnxruntime not installed ({exc.name}); pip install onnxruntime onnx"}
    x = torch.rand(4, 3, *window)
    with torch.inference_mode():  # compilation happens on the first calls: a full batch, then one window
        got, _ = net(x), net(x[:1])
        want = model(x)
    setup = time.perf_counter() - t
    kw = {"tile": args.tile, "overlap": args.overlap}
    res = interleaved(
        {"default": infer_job(model, image, **kw), "variant": infer_job(net, image, **kw)}, repeats=args.repeats
    )
    return {**_versus(res), "setup_seconds": setup, "max_abs_logit_diff": float((got - want).abs().max())}


def _onnx_model(model: nn.Module, window: tuple[int, int]) -> nn.Module:
    """VeerNet exported to ONNX for one window shape (any batch), run by ONNX Runtime on CPU."""
    import onnxruntime as ort

    path = CACHE / f"veernet-{os.getpid()}.onnx"
    torch.onnx.export(
        model,
        (torch.rand(1, 3, *window),),
        str(path),
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    path.unlink()

    class Ort(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(session.run(None, {"x": x.contiguous().numpy()})[0])

    return Ort()


# ----------------------------------------------------------------------------- machine


@dataclass(frozen=True)
class CpuMark:
    """CPU seconds spent by the whole machine (busy, all cores) and by this process and its children."""

    wall: float
    machine_busy: float | None
    ours: float

    @classmethod
    def now(cls) -> CpuMark:
        t = os.times()
        return cls(time.perf_counter(), _machine_busy(), t.user + t.system + t.children_user + t.children_system)


def others_share(start: CpuMark, end: CpuMark, *, cores: int) -> float | None:
    """Share of the machine's CPU capacity that other processes used between two marks (0 = quiet machine).

    Busy CPU time of the whole machine (``/proc/stat``) minus this process's and its
    waited-for children's, over wall time x cores. None where ``/proc/stat`` is missing.
    """
    if start.machine_busy is None or end.machine_busy is None or end.wall <= start.wall:
        return None
    others = (end.machine_busy - start.machine_busy) - (end.ours - start.ours)
    return min(max(others / ((end.wall - start.wall) * cores), 0.0), 1.0)


def _machine_busy() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def machine() -> dict:
    """CPU model, cores, memory, and the software versions the numbers depend on."""
    import cv2

    import logdigit
    from logdigit.research.machine import cpu_model

    cpu = cpu_model()
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20  # MemTotal, KiB -> GiB
    except (OSError, ValueError, IndexError):
        mem = None
    try:
        load = [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(mem, 1) if mem else None,
        "loadavg_at_start": load,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "numpy": np.__version__,
        "logdigit": logdigit.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git": _git(),
    }


def _git() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}{'+dirty' if dirty else ''}" if head else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Time one isolated VeerNet inference variant; prints JSON.")
    parser.add_argument("--variant", choices=ISOLATED, required=True)
    parser.add_argument("--scan", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE)
    parser.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP)
    print(json.dumps(_isolated_main(parser.parse_args())))
