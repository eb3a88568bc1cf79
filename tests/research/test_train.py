import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from logdigit.model import VeerNet
from logdigit.model.device import resolve_device
from logdigit.research.data import DataConfig, SheetPool
from logdigit.research.losses import make_loss
from logdigit.research.train import TrainConfig, lr_at, train

TINY = [
    "--widths",
    "4,4,8,8,8",
    "--pool-size",
    "3",
    "--crop",
    "64",
    "--batch-size",
    "2",
    "--val-sheets",
    "1",
    "--eval-every",
    "5",
    "--checkpoint-every",
    "5",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--quiet",
]


def test_a_few_steps_reduce_the_loss(tiny_config):
    torch.manual_seed(0)
    model = VeerNet(tiny_config)
    pool = SheetPool(DataConfig(pool_size=2, sheet_height=96, sheet_width=128, crop=64, batch_size=4))
    batch = pool.batch(1)
    loss_fn = make_loss("dice-ce")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = loss_fn(model(batch.x), batch.labels, soft=batch.soft)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses


def test_batches_depend_only_on_seed_and_step():
    cfg = DataConfig(pool_size=3, refresh_every=2, sheet_height=96, sheet_width=128, crop=48, batch_size=2)
    a, b = SheetPool(cfg), SheetPool(cfg)
    for step in range(5):  # pool a walks through every step; b jumps straight to step 4
        ba = a.batch(step)
    b.sync(4)
    bb = b.batch(4)
    assert torch.equal(ba.x, bb.x) and torch.equal(ba.labels, bb.labels)
    assert ba.x.shape == (2, 3, 48, 48) and ba.soft.shape == (2, 3, 48, 48)
    np.testing.assert_allclose(ba.soft.sum(1).numpy(), 1.0, atol=1e-3)


def test_a_memo_shared_pool_reset_to_step_0_replays_the_same_batches():
    cfg = DataConfig(pool_size=3, refresh_every=2, sheet_height=96, sheet_width=128, crop=48, batch_size=2)
    memo: dict = {}
    shared = SheetPool(cfg, memo=memo)
    first = [shared.batch(step) for step in range(6)]
    drawn = dict(memo)
    assert sorted(drawn) == [0, 1, 2, 3, 4]  # the pool plus the refreshes at steps 2 and 4
    shared.sync(0)  # what train() does with a pool handed to it
    again = [shared.batch(step) for step in range(6)]
    fresh = SheetPool(cfg)
    for step, (a, b) in enumerate(zip(first, again, strict=True)):
        c = fresh.batch(step)
        assert torch.equal(a.x, b.x) and torch.equal(a.x, c.x) and torch.equal(a.soft, c.soft)
    assert all(memo[k] is drawn[k] for k in drawn)  # nothing was drawn twice


def test_schedule_warms_up_then_decays():
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup=100)
    lrs = [lr_at(s, cfg) for s in range(1000)]
    assert lrs[0] < lrs[50] < lrs[99] == pytest.approx(1e-3)
    assert all(x >= y for x, y in zip(lrs[100:], lrs[101:], strict=False))


def test_cuda_without_a_gpu_is_a_clear_error():
    from logdigit.errors import InputError

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def _cli(out, steps, *extra):
    cmd = [sys.executable, "-m", "logdigit.cli", "train", "--out", str(out), "--steps", str(steps), *TINY, *extra]
    return cmd


def _weights(folder):
    return load_file(str(folder / "last.safetensors"))


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    steps = 40
    # Uninterrupted reference run.
    ref = tmp_path / "ref"
    subprocess.run(_cli(ref, steps), check=True, env=env, capture_output=True)
    # Interrupted run: SIGKILL as soon as a mid-run checkpoint exists, then --resume.
    run = tmp_path / "run"
    proc = subprocess.Popen(_cli(run, steps), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        card = run / "last.json"
        if card.exists():
            try:
                if json.loads(card.read_text())["train_state"]["step"] >= 5:
                    break
            except (ValueError, KeyError):
                pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads((run / "last.json").read_text())["train_state"]["step"]
    assert 5 <= killed_at < steps, "the run finished before it could be killed"
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.safetensors"))
    subprocess.run(_cli(run, steps, "--resume"), check=True, env=env, capture_output=True)
    a, b = _weights(ref), _weights(run)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)
    assert json.loads((run / "last.json").read_text())["train_state"]["step"] == steps
    assert (run / "best.safetensors").exists()


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    from logdigit.errors import InputError

    with pytest.raises(InputError, match="no checkpoint"):
        train(tmp_path, resume=True)


def test_crop_skew_is_bounded_and_labels_follow_it():
    from logdigit.errors import InputError
    from logdigit.research.data import _augment

    with pytest.raises(InputError, match="skew_deg"):
        DataConfig(skew_deg=12.0)
    # A vertical 3 px line turned by up to 2 degrees: image and labels turn together.
    image = np.full((120, 120, 3), 255, np.uint8)
    image[:, 58:61] = 0
    soft = np.zeros((3, 120, 120), np.float32)
    soft[0] = 1.0
    soft[:, :, 58:61] = np.array([0.0, 1.0, 0.0], np.float32)[:, None, None]
    for seed in range(20):
        img, sft = _augment(image, soft, 96, np.random.default_rng(seed), skew=2.0)
        dark = img.mean(axis=2) < 128
        curve = sft[1] > 0.5
        assert (dark & curve).sum() >= 0.8 * max(curve.sum(), 1)


def test_classic_style_gives_the_first_recipes_batches():
    # sha256 prefix of six steps' batches drawn by the code before the print style (commit 4bb7a3c),
    # so `logdigit train --style classic` still trains on the first recipe's data.
    import hashlib

    cfg = DataConfig(
        pool_size=3,
        refresh_every=2,
        sheet_height=96,
        sheet_width=128,
        crop=48,
        batch_size=2,
        style="classic",
        skew_deg=0.7,
        p_skew=0.2,
    )
    pool = SheetPool(cfg)
    h = hashlib.sha256()
    for step in range(6):
        b = pool.batch(step)
        h.update(b.x.numpy().tobytes())
        h.update(b.soft.numpy().tobytes())
    assert h.hexdigest()[:16] == "da95965fed7b587e"


def test_unknown_style_is_refused():
    from logdigit.errors import InputError

    with pytest.raises(InputError, match="--style 'fancy'"):
        DataConfig(style="fancy")


@pytest.mark.slow  # a minute on 2 shared cores: the validation sheets are drawn full size
def test_distillation_needs_a_teacher_and_the_kd_loss_and_records_the_teacher(tmp_path):
    from logdigit.errors import InputError
    from logdigit.model.veernet import VeerNet, VeerNetConfig
    from logdigit.model.weights import read_card, save_model

    with pytest.raises(InputError, match="distillation takes both"):
        TrainConfig(loss="kd")
    with pytest.raises(InputError, match="distillation takes both"):
        TrainConfig(loss="dice-ce", teacher="t.safetensors")
    with pytest.raises(InputError, match="temperature"):
        TrainConfig(loss="kd", teacher="t.safetensors", temperature=0.0)
    with pytest.raises(InputError, match="no such weights"):
        train(tmp_path / "x", train_config=TrainConfig(loss="kd", teacher=str(tmp_path / "nope.safetensors")))
    tiny = VeerNetConfig(widths=(4, 8), attn_layers=1, attn_heads=2, groups=2)
    torch.manual_seed(0)
    save_model(VeerNet(tiny), tmp_path / "teacher.safetensors", meta={})
    data = DataConfig(pool_size=2, sheet_height=96, sheet_width=128, crop=48, batch_size=2)
    cfg = TrainConfig(
        steps=3,
        warmup=1,
        eval_every=3,
        checkpoint_every=3,
        val_sheets=1,
        loss="kd",
        teacher=str(tmp_path / "teacher.safetensors"),
        temperature=2.0,
    )
    state = train(tmp_path / "student", model_config=tiny, data_config=data, train_config=cfg)
    assert state["step"] == 3 and np.isfinite(state["history"][-1]["loss"])
    card = read_card(tmp_path / "student" / "best.safetensors")
    assert card["train"]["teacher"].endswith("teacher.safetensors") and card["train"]["temperature"] == 2.0
    assert len(card["teacher_sha256"]) == 64


@pytest.mark.slow  # the validation sheets are drawn full size
def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    from logdigit.errors import InputError
    from logdigit.model.veernet import VeerNetConfig
    from logdigit.model.weights import read_card, save_model

    tiny = VeerNetConfig(widths=(4, 8), attn_layers=1, attn_heads=2, groups=2)
    data = DataConfig(pool_size=2, sheet_height=96, sheet_width=128, crop=48, batch_size=2)
    with pytest.raises(InputError, match="--init .*no such weights"):
        train(tmp_path / "x", model_config=tiny, data_config=data, train_config=TrainConfig(init=str(tmp_path / "no")))
    torch.manual_seed(123)
    start = VeerNet(tiny)
    save_model(start, tmp_path / "start.safetensors", meta={})
    other = VeerNetConfig(widths=(8, 8), attn_layers=1, attn_heads=2, groups=2)
    with pytest.raises(InputError, match="--widths to match"):
        train(
            tmp_path / "y",
            model_config=other,
            data_config=data,
            train_config=TrainConfig(init=str(tmp_path / "start.safetensors")),
        )
    # One step at a vanishing learning rate: the weights are still those it started from, not the
    # random init of the data seed.
    cfg = TrainConfig(
        steps=1,
        lr=1e-9,
        warmup=0,
        eval_every=1,
        checkpoint_every=1,
        val_sheets=1,
        init=str(tmp_path / "start.safetensors"),
    )
    train(tmp_path / "ft", model_config=tiny, data_config=data, train_config=cfg)
    got = load_file(str(tmp_path / "ft" / "last.safetensors"))
    want = {k: v.detach() for k, v in start.state_dict().items()}
    torch.manual_seed(data.seed)
    fresh = VeerNet(tiny).state_dict()
    assert all(torch.allclose(got[k].float(), want[k].float(), atol=1e-6) for k in want)
    assert not all(torch.allclose(got[k].float(), fresh[k].float(), atol=1e-6) for k in want if fresh[k].numel() > 1)
    card = read_card(tmp_path / "ft" / "last.safetensors")
    assert card["train"]["init"].endswith("start.safetensors") and len(card["init_sha256"]) == 64
