"""One scan, one LAS: bit for bit the same whatever the thread count, and through infer or batch.

The sheets are synthetic ones (256 x 320, seeds 4 and 17) on which splitting the network's
convolutions over 1 or 2 threads flipped pixels at the threshold and moved curve samples
(seed 4: two look-alike curves swapped at 919.5-920 ft). Nothing here has a tolerance.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (4, 17)


@pytest.fixture(scope="module")
def sheets(tmp_path_factory) -> Path:
    """s4.png and s17.png with their sidecar layouts."""
    import cv2

    from logdigit.io.layout import write_layout
    from logdigit.research.synth import make_sheet

    d = tmp_path_factory.mktemp("sheets")
    for seed in SEEDS:
        sheet = make_sheet(height=256, width=320, rng=seed)
        assert cv2.imwrite(str(d / f"s{seed}.png"), np.ascontiguousarray(sheet.image[..., ::-1]))
        write_layout(sheet.layout, d / f"s{seed}.layout.toml")
    return d


@contextlib.contextmanager
def _torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _data(las: Path) -> str:
    """The ~A section's text (the values as written)."""
    text = las.read_text()
    return text[text.index("~A") :]


def _same_las(a: Path, b: Path) -> None:
    import lasio

    assert _data(a) == _data(b), (a, b)
    x, y = lasio.read(a), lasio.read(b)
    assert [c.mnemonic for c in x.curves] == [c.mnemonic for c in y.curves]
    for cx, cy in zip(x.curves, y.curves, strict=True):  # NaN (NULL) in the same places too
        assert np.array_equal(np.asarray(cx.data, float), np.asarray(cy.data, float), equal_nan=True), cx.mnemonic


@pytest.mark.parametrize("amp", [False, True], ids=["float32", "bfloat16"])
def test_predict_proba_is_the_same_for_any_thread_count_and_batch(tiny_model, amp):
    import torch

    from logdigit.model.inference import predict_proba

    image = np.random.default_rng(0).integers(0, 255, (200, 150, 3), dtype=np.uint8)  # 4 x 3 windows
    runs = {}
    for threads, batch in [(1, 4), (2, 4), (2, 1), (1, 2)]:
        with _torch_threads(threads):
            runs[threads, batch] = predict_proba(
                tiny_model, image, tile=64, overlap=16, batch=batch, skip_blank=False, amp=amp
            )
            assert torch.get_num_threads() == threads  # inference leaves the caller's setting as it was
    first = runs[1, 4]
    for key, probs in runs.items():
        assert np.array_equal(probs, first), key


def test_opencv_stages_are_the_same_for_any_thread_count(sheets):
    import cv2

    from logdigit.image.preprocess import deskew, estimate_skew
    from logdigit.image.threshold import threshold
    from logdigit.io.scan import read_scan

    image = np.tile(read_scan(sheets / "s4.png").image, (4, 2, 1))  # 1024 x 640: big enough to be split
    probs = np.random.default_rng(1).dirichlet((1, 1, 1), image.shape[:2]).transpose(2, 0, 1).astype(np.float32)
    runs = []
    before = cv2.getNumThreads()
    try:
        for n in (1, 2):
            cv2.setNumThreads(n)
            turned, _ = deskew(image, 1.3)
            runs.append((turned, estimate_skew(turned), threshold(probs, hysteresis=(0.3, 0.6))))
    finally:
        cv2.setNumThreads(before)
    (a_img, a_skew, a_masks), (b_img, b_skew, b_masks) = runs
    assert np.array_equal(a_img, b_img) and a_skew == b_skew and np.array_equal(a_masks, b_masks)


def test_infer_gives_the_same_las_on_1_and_2_threads(sheets, tmp_path):
    # Real processes, the thread counts set as a user would: through the environment.
    scans = [str(sheets / f"s{seed}.png") for seed in SEEDS]
    for n in ("1", "2"):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": n,
            "MKL_NUM_THREADS": n,
            "OPENCV_FOR_THREADS_NUM": n,
        }
        cmd = [
            sys.executable,
            "-m",
            "logdigit.cli",
            "infer",
            *scans,
            "--outdir",
            str(tmp_path / n),
            "--device",
            "cpu",
            "--quiet",
        ]
        (tmp_path / n).mkdir()
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    for seed in SEEDS:
        _same_las(tmp_path / "1" / f"s{seed}.las", tmp_path / "2" / f"s{seed}.las")


def test_infer_and_batch_give_the_same_las(sheets, tmp_path):
    from typer.testing import CliRunner

    from logdigit.cli import app

    runner = CliRunner()
    (tmp_path / "infer").mkdir()
    with _torch_threads(2):  # infer in this process on 2 threads, the batch worker on 1
        result = runner.invoke(
            app,
            [
                "infer",
                *(str(sheets / f"s{s}.png") for s in SEEDS),
                "--outdir",
                str(tmp_path / "infer"),
                "--device",
                "cpu",
                "--quiet",
            ],
        )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "batch",
            str(sheets),
            "--outdir",
            str(tmp_path / "batch"),
            "--workers",
            "1",
            "--torch-threads",
            "1",
            "--device",
            "cpu",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    for seed in SEEDS:
        _same_las(tmp_path / "infer" / f"s{seed}.las", tmp_path / "batch" / f"s{seed}.las")
