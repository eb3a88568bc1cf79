"""Smoke tests of the benchmark harness (benchmarks/run.py), so `make bench` cannot rot.

The harness runs end to end with ``--quick`` (tiny scans, tile 144): every section
must produce its numbers, the JSON must load, and the Markdown report must be written.
The batch section is checked against a stand-in for ``bench_batch`` (whose dask
start-up alone takes longer than the rest), so only the hand-over is tested here.
"""

from __future__ import annotations

import doctest
import importlib.util
import io
import json
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("logdigit_bench_run", BENCH / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path for its sibling modules
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def quick(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    keys = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LOGDIGIT_WEIGHTS")  # what the harness sets for its children
    env, text = {k: os.environ.get(k) for k in keys}, io.StringIO()
    with redirect_stdout(text):
        res = run.main(
            [
                "--quick",
                "--skip",
                "batch",
                "--baseline",
                "none",
                "--json",
                str(out / "bench.json"),
                "--write-doc",
                "--doc",
                str(out / "bench.md"),
            ]
        )
    assert {k: os.environ.get(k) for k in keys} == env, "the harness must leave the environment as it found it"
    return res, out, text.getvalue()


@pytest.mark.slow  # about 15 s: two fresh `logdigit infer` processes for the memory section
def test_quick_run_measures_every_section(quick, run):
    res, _, _ = quick
    cpu = res["throughput"]["cpu"]
    assert cpu["veernet"]["mp_s"] > 0 and cpu["classical"]["mp_s"] > 0
    assert cpu["veernet"]["seconds"]["n"] >= 3
    assert "mp_s" in cpu["peer"] or cpu["peer"]["skipped"]
    e2e = res["end_to_end"]
    assert set(e2e["stages"]) == {
        "read",
        "preprocess",
        "infer",
        "threshold",
        "trace",
        "confidence",
        "calibrate",
        "write",
        "total",
    }
    sec = res["section"]
    assert sec["same_las"] and sec["speedup"] > 1 and sec["section_s"] > 0
    assert 0.0 <= e2e["non_network_share"] <= 1.0
    assert e2e["network"]["median"] <= e2e["stages"]["infer"]["median"]
    mem = res["memory"]
    assert [r["height"] for r in mem["runs"]] == [300, 600]
    assert all(r["peak_rss_mb"] > 50 for r in mem["runs"]), mem["runs"]
    assert {v["family"] for v in res["variants"]} == {"control", "channels_last", "batch", "threads", "skip_blank"}
    for v in res["variants"]:
        assert v["speedup"]["min"] <= v["speedup"]["median"] <= v["speedup"]["max"]
        assert v["verdict"] in ("faster", "slower", "same (within noise)")
    assert "skipped" in res["throughput"]["cuda"] or "veernet" in res["throughput"]["cuda"]
    assert "veernet_over_peer" in res["ratios"] or "skipped" in cpu["peer"]
    assert "mp_s" in cpu["student"] or cpu["student"]["skipped"]
    versions = res["end_to_end_versions"]
    assert {"whole", "region", "region_amp"} <= set(versions) and all(v["seconds"]["n"] >= 3 for v in versions.values())
    assert ("student" in versions) == ("mp_s" in cpu["student"])
    for name in set(versions) - {"whole"}:
        r = res["ratios"][f"e2e_{name}_over_whole"]
        assert r["min"] <= r["median"] <= r["max"] and len(r["rounds"]) == len(versions["whole"]["times"])


@pytest.mark.slow
@pytest.mark.slow  # shares the quick run's fixture
def test_quick_run_writes_json_table_and_doc(quick):
    res, out, text = quick
    assert "Throughput, CPU" in text and "VeerNet" in text and "End to end" in text
    saved = json.loads((out / "bench.json").read_text())
    assert saved["settings"]["threads"] == res["settings"]["threads"]
    assert saved["machine"]["torch"] and saved["command"].startswith("python benchmarks/run.py --quick")
    doc = (out / "bench.md").read_text()
    assert doc.startswith("# logdigit benchmarks") and "## Machine" in doc and "non-network share" in doc
    assert "End to end, versions interleaved" in doc and "speed-up over the whole scan" in doc


def test_accuracy_line_reads_the_full_recipe_comparison(run, tmp_path, monkeypatch):
    (line,) = run.accuracy_lines(run.PEER_ACCURACY)  # the committed comparison
    assert "3000-step recipe" in line
    monkeypatch.setattr(run, "ROOT", tmp_path)
    path = tmp_path / "docs" / "peer-accuracy-full.json"
    (missing,) = run.accuracy_lines(path)
    assert "not measured" in missing and "make bench-accuracy-full" in missing
    path.parent.mkdir()
    m = {"f1": [1, 0.935, 0.898], "curve": {"nmae": 0.0277}}
    for peer_dashed, verdict in ((0.884, "equal or better on all three"), (0.9, "behind on some")):
        peer = {"f1": [1, 0.923, peer_dashed], "curve": {"nmae": 0.0293}}
        path.write_text(json.dumps({"steps": 3000, "methods": {"veernet": m, "peer": peer}}))
        (line,) = run.accuracy_lines(path)
        assert f"0.935 / 0.898 vs 0.923 / {peer_dashed:.3f}" in line and line.endswith(f"VeerNet {verdict}.")


def test_batch_section_hands_its_scans_to_bench_batch(run, monkeypatch, tmp_path):
    # bench_batch (another file, with its own dask start-up) is replaced by a recorder.
    calls = []

    def bench_batch(scans, workers=(1, 2), *, weights=None, tile=512):
        calls.append((scans, workers, weights, tile))
        return {"runs": [{"workers": 1, "scans_per_minute": 1.5}], "speedup": {}}

    monkeypatch.setitem(sys.modules, "bench_batch", type(sys)("bench_batch"))
    monkeypatch.setattr(sys.modules["bench_batch"], "bench_batch", bench_batch, raising=False)
    out = run._batch(run.QUICK, tmp_path / "w.safetensors")
    ((scans, workers, weights, tile),) = calls
    assert workers == (1, 2) and tile == run.QUICK.tile and weights == tmp_path / "w.safetensors"
    assert len(scans) == run.QUICK.batch_scans
    assert all(p.is_file() and p.with_name(p.stem + ".layout.toml").is_file() for p in scans)
    assert run._flatten(out) == {"runs[0].workers": 1, "runs[0].scans_per_minute": 1.5}


def test_cuda_section_is_wired_through_to_the_report(run, monkeypatch, tiny_model):
    # No GPU in CI: pretend there is one and run its jobs on the CPU, to check the plumbing.
    import bench_infer
    import numpy as np
    import torch

    real_job = bench_infer.infer_job
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    monkeypatch.setattr(bench_infer, "infer_job", lambda *a, device, **kw: real_job(*a, device="cpu", **kw))
    net = bench_infer.Loaded(tiny_model, "tiny")
    image = np.full((40, 48, 3), 128, np.uint8)
    cuda = run._cuda(net, net, net, image, {"tile": 32, "overlap": 8}, 3)
    assert cuda["device"] == "Fake GPU" and cuda["veernet"]["mp_s"] > 0 and cuda["peer"]["mp_s"] > 0
    assert cuda["student"]["mp_s"] > 0
    res = {
        "throughput": {
            "cpu": {"veernet": cuda["veernet"], "peer": cuda["peer"], "classical": cuda["peer"]},
            "cuda": cuda,
        }
    }
    ratios = run.ratios(res)
    assert ratios["veernet_over_peer_cuda"]["median"] > 0 and ratios["cuda_over_cpu_veernet"] == 1.0
    assert ratios["student_over_veernet_cuda"]["median"] > 0


def test_peer_is_skipped_with_its_reason_when_smp_is_missing(run, monkeypatch):
    import bench_infer

    monkeypatch.setitem(sys.modules, "segmentation_models_pytorch", None)  # import now raises ImportError
    peer = bench_infer.load_peer()
    assert peer.model is None and "segmentation_models_pytorch" in peer.skipped
    lines = run._skips({"peer": {"skipped": peer.skipped}}, {})
    assert lines[0].startswith("peer skipped: segmentation_models_pytorch")


def test_peer_wrapper_keeps_the_veernet_contract(run):
    import bench_infer  # on sys.path through the `run` fixture (benchmarks/run.py puts it there)
    import numpy as np
    import torch

    from logdigit.model.inference import predict_proba

    peer = bench_infer.load_peer()
    if peer.model is None:
        pytest.skip(peer.skipped)
    with torch.inference_mode():
        assert peer.model(torch.rand(2, 3, 37, 50)).shape == (2, 3, 37, 50)
    probs = predict_proba(peer.model, np.full((70, 90, 3), 200, np.uint8), tile=64, overlap=8, skip_blank=False)
    assert probs.shape == (3, 70, 90)


def test_flags_are_checked_with_the_valid_choices(run, capsys):
    with pytest.raises(SystemExit):
        run.parse_args(["--repeats", "2"])
    assert "--repeats must be >= 3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--variants", "warp"])
    assert "channels_last" in capsys.readouterr().err
    assert run.parse_args(["--variants", "all"]).variants[-2:] == ["compile", "onnx"]


def test_docstring_examples(run):
    import bench_infer

    for module in (run, bench_infer):
        assert doctest.testmod(module).failed == 0


@pytest.mark.slow  # trains twice
def test_peer_accuracy_trains_veernet_exactly_as_logdigit_train(tmp_path):
    """benchmarks/peer_accuracy.py claims one recipe for both networks: its loop, given
    VeerNet, must give the very weights `logdigit.research.train.train` keeps as its best checkpoint
    with the same schedule and validation sheets."""
    import torch
    from safetensors.torch import load_file

    from logdigit.model import VeerNet, VeerNetConfig
    from logdigit.research.data import DataConfig, SheetPool
    from logdigit.research.train import TrainConfig, train, validation_set

    spec = importlib.util.spec_from_file_location("logdigit_bench_peer_accuracy", BENCH / "peer_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        cfg = VeerNetConfig(widths=(4, 4, 8, 8, 8), attn_layers=1, attn_heads=2, groups=4)
        data = DataConfig(
            seed=2, pool_size=2, refresh_every=2, sheet_height=128, sheet_width=192, crop=64, batch_size=2
        )
        pool = SheetPool(data, memo={})
        pool.batch(2)  # a used pool: train_same must reset it
        recipe = TrainConfig(steps=5, warmup=1, eval_every=2, checkpoint_every=5, val_sheets=1)
        torch.manual_seed(data.seed)
        model, _ = module.train_same(
            VeerNet(cfg), pool, cfg=recipe, val=validation_set(recipe.val_sheets, recipe.val_seed)
        )
        train(tmp_path, model_config=cfg, data_config=data, device="cpu", train_config=recipe)
    finally:
        sys.modules.pop(spec.name, None)
    ref = load_file(str(tmp_path / "best.safetensors"))  # validated at steps 2, 4 and 5
    mine = model.state_dict()
    assert ref.keys() == mine.keys() and all(ref[k].equal(mine[k]) for k in ref)


def test_peer_accuracy_markdown_lists_both_networks():
    spec = importlib.util.spec_from_file_location("logdigit_bench_peer_md", BENCH / "peer_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        m = {
            "f1": [1, 0.9, 0.8],
            "iou": [1, 0.8, 0.7],
            "f1_tol1": [None, 0.95, 0.9],
            "ece": 0.003,
            "bece": 0.04,
            "curve": {"nmae": 0.02, "nmae_median": 0.005, "within2": 0.8},
        }
        report = {
            "loss": "dice-ce",
            "steps": 200,
            "seed": 0,
            "data": {"pool_size": 400},
            "eval": {"n": 100, "seed": 0},
            "command": "python benchmarks/peer_accuracy.py",
            "machine": "test",
            "networks": {
                "veernet": {"name": "VeerNet", "parameters": 982866, "train_seconds": 600},
                "peer": {"name": "Unet", "parameters": 14328499, "train_seconds": 1800},
            },
            "methods": {"veernet": m, "peer": {**m, "f1": [1, 0.7, 0.6]}},
        }
        text = module.to_markdown(report)
    finally:
        sys.modules.pop(spec.name, None)
    assert "| metric | VeerNet | Unet |" in text
    assert "| F1 solid | 0.900 | 0.700 |" in text and "| training minutes (this run) | 10.0 | 30.0 |" in text
    assert "| parameters | 982,866 | 14,328,499 |" in text


def test_edge_recall_counts_curve_pixels_by_distance_to_the_nearer_edge():
    spec = importlib.util.spec_from_file_location("logdigit_bench_edge_recall", BENCH / "edge_recall.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert doctest.testmod(module).failed == 0
    import numpy as np

    class Track:
        left, right = 10, 30

    labels = np.zeros((4, 40), np.uint8)
    labels[:, [7, 10, 12, 13, 20]] = 2  # 3 px outside, on the edge, 2 and 3 px in, 10 px in
    labels[:, 0] = 1  # outside the 4 px margin: not counted
    masks = np.zeros((3, 4, 40), bool)
    masks[2, :, 20] = True
    masks[1, :2, 12] = True
    total, held = module.edge_recall(masks, labels, [Track])
    assert total.tolist() == [4, 4, 8, 0, 4, 0]  # bins 0-1, 2, 3-4, 5-9, 10-19, 20+
    assert held.tolist() == [0, 2, 0, 0, 4, 0]


@pytest.fixture(scope="module")
def trace_real():
    spec = importlib.util.spec_from_file_location("logdigit_trace_real", BENCH / "trace_real.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_trace_real_skips_without_the_kit(trace_real, tmp_path, capsys):
    assert trace_real.main(["--kit", str(tmp_path / "absent"), "--skip", "synth"]) == 0
    assert capsys.readouterr().out.startswith("skipped:")


def test_trace_real_refuses_an_unknown_run(trace_real):
    with pytest.raises(SystemExit):
        trace_real.main(["--only", "C-colour"])


def test_trace_real_verdicts_follow_the_issue_targets(trace_real):
    good = dict(status="ok", n=100, median=0.004, within_2pct=0.96, over_10pct=0.01, coverage=0.98, extra_share=0.0)
    assert trace_real._verdict(good, "colour") == "PASS"
    assert trace_real._verdict({**good, "median": 0.0051}, "colour") == "FAIL"
    assert trace_real._verdict({**good, "extra_share": 0.01}, "colour") == "FAIL"  # "under 1 %"
    assert trace_real._verdict({**good, "within_2pct": 0.90, "over_10pct": 0.03, "median": 0.2}, "1bit") == "PASS"
    assert trace_real._verdict({**good, "within_2pct": 0.899}, "1bit") == "FAIL"
    assert trace_real._verdict({"status": "missing from LAS", "coverage": 0.0}, "1bit") == "FAIL"


def test_trace_real_pools_like_the_scorer(trace_real):
    a = dict(status="ok", n=100, mean=0.01, median=0.002, within_1pct=0.5, within_2pct=1.0, over_10pct=0.0,
             coverage=1.0, verdict="PASS")  # fmt: skip
    b = {**a, "n": 300, "mean": 0.03, "median": 0.004, "within_2pct": 0.6, "over_10pct": 0.2, "coverage": 0.5}
    s = trace_real._pooled({"A": a, "B": {**b, "verdict": "FAIL"}})
    assert (s["mean"], s["median"], s["within_2pct"], s["over_10pct"], s["coverage"]) == (0.02, 0.003, 0.7, 0.15, 0.75)
    assert (s["n"], s["passed"], s["scored"]) == (400, 1, 2)


def test_trace_real_cached_sheets_are_the_sheets_drawn(trace_real, tmp_path, monkeypatch):
    """The synthetic part's sheet cache gives back what evaluate reads, exactly."""
    from argparse import Namespace

    import numpy as np

    monkeypatch.setattr(trace_real, "BUILD", tmp_path)
    args = Namespace(no_cache=False)
    drawn = trace_real._synth_sheets(1, 2, args)
    again = trace_real._synth_sheets(1, 2, args)
    assert len(list(tmp_path.glob("cache/sheets-*.npz"))) == 1
    for a, b in zip(drawn, again, strict=True):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
        assert a.layout == b.layout
        assert [(c.mnemonic, c.track, c.klass) for c in a.truth] == [(c.mnemonic, c.track, c.klass) for c in b.truth]
        assert all(np.array_equal(c.x, d.x, equal_nan=True) for c, d in zip(a.truth, b.truth, strict=True))


@pytest.mark.slow
def test_baseline_code_digitises_the_scan_in_its_own_process(run, tmp_path):
    """The end-to-end baseline runs the code of BASELINE_COMMIT (extracted with git archive), not
    this checkout's, and reports one timed run; it is timed beside the current versions."""
    import bench_infer

    scan = bench_infer.make_scan(height=96, width=200, cache=tmp_path)
    try:
        job = bench_infer.baseline_job(scan, threads=1, out_dir=tmp_path)
    except RuntimeError as exc:  # not a git checkout, or a shallow clone without the commit
        pytest.skip(f"baseline commit not available: {exc}")
    root = bench_infer.baseline_tree(cache=tmp_path)
    assert (root / "logdigit" / "pipeline.py").is_file() and (root / "models" / "veernet.safetensors").is_file()
    assert job() > 0
    res = bench_infer.end_to_end_versions(scan, {}, repeats=3, baseline=job, out_dir=tmp_path)
    assert list(res) == ["today"] and res["today"]["seconds"]["n"] == 3
