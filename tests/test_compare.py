import json

from logdigit.compare import compare_losses, summarise, write_report
from logdigit.data import DataConfig
from logdigit.model import VeerNetConfig


def test_tiny_comparison_runs_resumes_and_reports(tmp_path):
    cfg = VeerNetConfig(widths=(4, 4, 8, 8, 8), attn_layers=1, attn_heads=2, groups=4)
    data = DataConfig(pool_size=2, sheet_height=128, sheet_width=192, crop=64, batch_size=2)
    kw = dict(losses=("dice", "ce-pv"), seeds=(0, 1), steps=3, model_config=cfg, data_config=data, eval_n=1,
              val_sheets=1)
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

    from logdigit.train import TrainConfig, train

    cfg = VeerNetConfig(widths=(4, 4, 8, 8, 8), attn_layers=1, attn_heads=2, groups=4)
    data = DataConfig(pool_size=2, refresh_every=1, sheet_height=128, sheet_width=192, crop=64, batch_size=2)
    said = []
    compare_losses(tmp_path / "cmp", losses=("ce", "dice"), seeds=(1,), steps=4, model_config=cfg,
                   data_config=data, eval_n=1, val_sheets=1, progress=said.append)
    assert sum("drawing 2 training sheets" in s for s in said) == 1  # one pool for both runs
    # "dice" ran second, on the pool "ce" had refreshed and the comparison reset.
    schedule = TrainConfig(steps=4, warmup=0, eval_every=1, checkpoint_every=1, val_sheets=1, loss="dice")
    train(tmp_path / "alone", model_config=cfg, data_config=DataConfig(**{**data.__dict__, "seed": 1}),
          train_config=schedule, device="cpu")
    a = load_file(str(tmp_path / "cmp" / "dice-seed1" / "last.safetensors"))
    b = load_file(str(tmp_path / "alone" / "last.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
