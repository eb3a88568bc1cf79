"""The CUDA paths: inference with float16 autocast, training with bfloat16 autocast, resume,
`infer --device cuda` and `auto` picking the GPU. They need a GPU, so on CI (no GPU) the whole
module is skipped with that reason; they run wherever torch sees CUDA.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from logdigit.cli import app
from logdigit.io.layout import load_layout
from logdigit.io.scan import read_scan
from logdigit.model.device import resolve_device
from logdigit.model.inference import predict_proba
from logdigit.model.weights import load_model
from logdigit.score import score

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to torch")

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SCANS = {"colour": "colour.png", "mono": "mono.tif", "simple": "simple.jpg"}


def test_auto_picks_the_gpu():
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda").type == "cuda"


def test_float16_inference_on_cuda_matches_float32_on_cpu():
    image = read_scan(SAMPLES / "mono.tif").image[:700]
    cpu = predict_proba(load_model(), image, device="cpu")
    gpu = predict_proba(load_model(device="cuda"), image, device="cuda")  # amp on by default on CUDA
    assert gpu.shape == cpu.shape and gpu.dtype == np.float32
    np.testing.assert_allclose(gpu.sum(0), 1.0, atol=1e-3)
    assert np.abs(gpu - cpu).max() < 0.05
    assert (gpu.argmax(0) == cpu.argmax(0)).mean() > 0.999
    exact = predict_proba(load_model(device="cuda"), image, device="cuda", amp=False)
    assert np.abs(exact - cpu).max() < 0.01  # float32 on CUDA (TF32 convolutions) vs CPU


def _digitise(stem: str, device: str, out: Path) -> dict:
    las = out / f"{stem}.{device}.las"
    r = CliRunner().invoke(app, ["infer", str(SAMPLES / SCANS[stem]), "-o", str(las), "--device", device, "--quiet"])
    assert r.exit_code == 0, r.output
    report = score(las, SAMPLES / f"{stem}.truth.las", layout=load_layout(SAMPLES / f"{stem}.layout.toml"))
    return {c.mnemonic: c for c in report.curves}


@pytest.mark.slow
@pytest.mark.parametrize("stem", list(SCANS))
def test_infer_on_cuda_scores_as_on_cpu(stem, tmp_path):
    # Same weights, float16 on the GPU: the LAS must be as good as the CPU's (tests/regression/test_samples.py
    # holds the targets themselves).
    gpu, cpu = _digitise(stem, "cuda", tmp_path), _digitise(stem, "cpu", tmp_path)
    assert gpu.keys() == cpu.keys()
    for name, g in gpu.items():
        c = cpu[name]
        assert abs(g.nmae - c.nmae) <= 0.001 and abs(g.within_2pct - c.within_2pct) <= 0.01, (g, c)
        assert g.coverage >= c.coverage - 0.005, (g, c)


def test_training_on_cuda_checkpoints_and_resumes(tmp_path, tiny_config):
    from logdigit.model.weights import read_card
    from logdigit.research.data import DataConfig
    from logdigit.research.train import TrainConfig, train

    data = DataConfig(pool_size=3, sheet_height=96, sheet_width=128, crop=64, batch_size=2)
    cfg = TrainConfig(steps=10, eval_every=5, checkpoint_every=5, val_sheets=1)

    def stop_after_the_first_checkpoint(event):
        if event["phase"] == "train" and event["step"] == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            tmp_path,
            model_config=tiny_config,
            data_config=data,
            train_config=cfg,
            device="cuda",
            progress=stop_after_the_first_checkpoint,
        )
    assert read_card(tmp_path / "last.safetensors")["train_state"]["step"] == 5
    state = train(tmp_path, device="cuda", resume=True)
    assert state["step"] == 10 and [h["step"] for h in state["history"]] == [5, 10]
    assert np.isfinite(state["history"][-1]["loss"])
    model = load_model(tmp_path / "best.safetensors", device="cuda")
    assert next(model.parameters()).is_cuda


def test_a_few_bfloat16_steps_on_cuda_reduce_the_loss(tiny_config):
    from logdigit.model import VeerNet
    from logdigit.research.data import DataConfig, SheetPool
    from logdigit.research.losses import make_loss

    torch.manual_seed(0)
    model = VeerNet(tiny_config).cuda()
    batch = SheetPool(DataConfig(pool_size=2, sheet_height=96, sheet_width=128, crop=64, batch_size=4)).batch(1)
    x, labels, soft = batch.x.cuda(), batch.labels.cuda(), batch.soft.cuda()
    loss_fn = make_loss("dice-ce")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(x)
        loss = loss_fn(logits.float(), labels, soft=soft)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses
