import json

import pytest

from logdigit.model import VeerNetConfig
from logdigit.research.compare import compare_losses, summarise, write_report
from logdigit.research.data import DataConfig


@pytest.mark.slow  # trains several tiny runs
def test_tiny_comparison_runs_resumes_and_reports(tmp_path):
    cfg = VeerNetConfig(widths=(4, 4, 8, 8, 8), attn_layers=1, attn_heads=2, groups=4)
    data = DataConfig(pool_size=2, sheet_height=128, sheet_width=192, crop=64, batch_size=2)
    kw = dict(
        losses=("dice", "ce-pv"), seeds=(0, 1), steps=3, model_config=cfg, data_config=data, eval_n=1, val_sheets=1
    )
    results = compare_losses(tmp_path / "runs", **kw)
    assert len(results["runs"]) == 4
    assert {(r["loss"], r["seed"]) for r in results["runs"]} == {("dice", 0), ("dice", 1), ("ce-pv", 0), ("ce-pv", 1)}
    # A second call finds every run finished and trains nothing.
    said = []
    again = compare_losses(tmp_path / "runs", progress=said.append, **kw)
    assert all("already done" in s for s in said) and again["runs"] == results["runs"]
    rows = summarise(results)
    assert [r["loss"] for r in rows] == ["dice", "ce-pv"] and rows[0]["n"] == 2
    md = write_report(results, tmp_path / "report.md", command="logdigit compare-losses --steps 3")
    text = md.read_text()
    assert "| dice (Dice) |" in text and "logdigit compare-losses --steps 3" in text
    assert json.loads((tmp_path / "report.json").read_text())["steps"] == 3


def test_runs_sharing_a_pool_train_exactly_as_a_lone_run(tmp_path):
    from safetensors.torch import load_file

    from logdigit.research.train import TrainConfig, train

    cfg = VeerNetConfig(widths=(4, 4, 8, 8, 8), attn_layers=1, attn_heads=2, groups=4)
    data = DataConfig(pool_size=2, refresh_every=1, sheet_height=128, sheet_width=192, crop=64, batch_size=2)
    said = []
    compare_losses(
        tmp_path / "cmp",
        losses=("ce", "dice"),
        seeds=(1,),
        steps=4,
        model_config=cfg,
        data_config=data,
        eval_n=1,
        val_sheets=1,
        progress=said.append,
    )
    assert sum("drawing 2 training sheets" in s for s in said) == 1  # one pool for both runs
    # "dice" ran second, on the pool "ce" had refreshed and the comparison reset.
    schedule = TrainConfig(steps=4, warmup=0, eval_every=1, checkpoint_every=1, val_sheets=1, loss="dice")
    train(
        tmp_path / "alone",
        model_config=cfg,
        data_config=DataConfig(**{**data.__dict__, "seed": 1}),
        train_config=schedule,
        device="cpu",
    )
    a = load_file(str(tmp_path / "cmp" / "dice-seed1" / "last.safetensors"))
    b = load_file(str(tmp_path / "alone" / "last.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def _metrics(f1, nmae):
    return {
        "f1": [1.0, f1, f1],
        "iou": [1.0, f1, f1],
        "ece": 0.01,
        "bece": 0.1,
        "curve": {"nmae": nmae, "within2": 0.9},
    }


def test_paired_differences_by_hand(tmp_path):
    from logdigit.research.compare import paired_differences

    runs = [
        {"loss": "dice-ce", "seed": 0, "metrics": _metrics(0.80, 0.020)},
        {"loss": "dice-ce", "seed": 1, "metrics": _metrics(0.82, 0.030)},  # baseline spread: F1 0.02, NMAE 0.01
        {"loss": "a", "seed": 0, "metrics": _metrics(0.85, 0.012)},  # F1 +0.05, +0.04: better; NMAE -0.008 twice
        {"loss": "a", "seed": 1, "metrics": _metrics(0.86, 0.022)},
        {"loss": "b", "seed": 0, "metrics": _metrics(0.83, 0.025)},  # F1 +0.03, -0.01: mixed signs
        {"loss": "b", "seed": 1, "metrics": _metrics(0.81, 0.040)},  # NMAE +0.005, +0.010: mean 0.0075 < 0.01
    ]
    results = {
        "losses": ["dice-ce", "a", "b"],
        "seeds": [0, 1],
        "steps": 3,
        "eval": {"n": 1, "seed": 0},
        "machine": "test",
        "runs": runs,
    }
    rows = {r["loss"]: r for r in paired_differences(results)}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["F1 solid"]["verdict"] == "better"
    assert rows["a"]["F1 solid"]["diffs"] == pytest.approx([0.05, 0.04])
    assert rows["a"]["curve NMAE"]["verdict"] == "within noise"  # -0.008 is less than the 0.01 spread
    assert rows["b"]["F1 solid"]["verdict"] == "within noise"
    assert rows["b"]["curve NMAE"]["mean"] == pytest.approx(0.0075)
    assert rows["b"]["curve NMAE"]["verdict"] == "within noise"
    runs[5]["metrics"] = _metrics(0.81, 0.060)  # NMAE +0.005, +0.03: mean 0.0175 > 0.01, both up
    assert {r["loss"]: r for r in paired_differences(results)}["b"]["curve NMAE"]["verdict"] == "worse"
    text = write_report(results, tmp_path / "r.md", command="x").read_text()
    assert "+0.045 better" in text and "## Runs" in text
