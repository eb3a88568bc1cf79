"""Nonsense option values and sizes: one clean line, a non-zero exit, nothing written, no hang.

Most are refused before the model loads: those tests pass ``--weights`` naming a file that
does not exist, so a run that got as far as loading would fail on the weights instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from logdigit.cli import app

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
ROOT = SAMPLES.parent
runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _refused(result, code: int, *needles: str) -> str:
    """The one ``error:`` line of a refused run, which names every needle."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


def _cli(*args, timeout: float = 60):
    """A real ``python -m logdigit.cli`` process on this checkout."""
    return subprocess.run(
        [sys.executable, "-m", "logdigit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture()
def scan_dir(tmp_path):
    for name in ("simple.jpg", "simple.layout.toml", "simple.truth.las"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    return tmp_path


@pytest.fixture()
def no_weights(tmp_path):
    return tmp_path / "absent.safetensors"


# ------------------------------------------------------------------ infer, layout, batch options


@pytest.mark.parametrize("tile", ["0", "-1", "64", "128", "129"])
def test_tile_not_larger_than_twice_the_overlap_is_refused_before_the_model(scan_dir, no_weights, tile):
    r = _run("infer", scan_dir / "simple.jpg", "--tile", tile, "--weights", no_weights, "--device", "cpu")
    line = _refused(r, 2, f"--tile {tile}", "130", "e.g. --tile 512")
    assert "absent" not in line
    assert not (scan_dir / "simple.las").exists()


@pytest.mark.parametrize("value", ["0", "-5"])
def test_max_pixels_below_one_is_refused_by_infer_and_layout(scan_dir, no_weights, value):
    r = _run("infer", scan_dir / "simple.jpg", "--max-pixels", value, "--weights", no_weights)
    _refused(r, 2, f"--max-pixels {value}", ">= 1")
    r = _run("layout", scan_dir / "simple.jpg", "--max-pixels", value, "-o", scan_dir / "d.toml")
    _refused(r, 2, f"--max-pixels {value}")
    assert not (scan_dir / "d.toml").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tile", "0"], "--tile 0"),
        (["--scheduler", "notaurl::"], "--scheduler 'notaurl::'"),
        (["--scheduler", "foo://host:8786"], "unknown protocol 'foo'"),
        (["--scheduler", "tcp://host"], "HOST:PORT"),
        (["--torch-threads", "-1"], "--torch-threads -1"),
        (["--workers", "0"], "--workers 0"),
    ],
)
def test_batch_refuses_bad_tile_scheduler_and_threads(scan_dir, no_weights, args, needle):
    out = scan_dir / "out"
    r = _run("batch", scan_dir / "simple.jpg", "--outdir", out, "--weights", no_weights, "--quiet", *args)
    line = _refused(r, 2, needle)
    assert not out.exists()  # refused before the scans are looked for
    if "--scheduler" in args:
        assert "tcp://HOST:PORT" in line


def test_options_are_checked_for_library_callers_too():
    from logdigit.errors import InputError
    from logdigit.pipeline import InferOptions

    for bad in ({"tile": 128}, {"max_pixels": 0}, {"batch": 0}, {"overlap": -1}, {"hysteresis": (0.6, 0.3)}):
        with pytest.raises(InputError):
            InferOptions(**bad)
    assert InferOptions(tile=130).tile == 130


# ------------------------------------------------------------------ tiny scans


@pytest.mark.parametrize("size", [(1, 1), (1, 200), (200, 1), (15, 300)])
def test_scans_too_small_to_digitise_are_refused_by_name(tmp_path, no_weights, size):
    scan = tmp_path / "tiny.png"
    Image.new("RGB", size, "white").save(scan)
    w, h = size
    r = _run("infer", scan, "--weights", no_weights, "--device", "cpu")
    _refused(r, 2, "tiny.png", f"{w} x {h} px", "16 px")
    r = _run("layout", scan, "-o", tmp_path / "t.toml")
    _refused(r, 2, "tiny.png", f"{w} x {h} px", "16 px")
    assert not (tmp_path / "tiny.las").exists() and not (tmp_path / "t.toml").exists()


def test_layout_on_a_blank_scan_names_the_scan(tmp_path):
    scan = tmp_path / "blank.png"
    Image.new("RGB", (40, 40), "white").save(scan)
    _refused(_run("layout", scan), 2, "blank.png: found no tracks", "layout file")


# ------------------------------------------------------------------ depth grid


@pytest.mark.parametrize(("step", "needle"), [("1e-9", "1e-05"), ("4e-11", "1e-05"), ("0.001", "20 per row")])
def test_a_nonsense_depth_step_is_refused_before_inference(scan_dir, no_weights, step, needle):
    lay = scan_dir / "simple.layout.toml"
    lay.write_text(lay.read_text().replace("step = 0.5", f"step = {step}"))
    r = _run("infer", scan_dir / "simple.jpg", "--weights", no_weights, "--device", "cpu")
    _refused(r, 2, "simple.layout.toml", "depth.step", needle)
    assert not (scan_dir / "simple.las").exists()


def test_depth_grid_is_bounded_in_the_library():
    from logdigit.calibrate import MAX_SAMPLES_PER_ROW, calibrate, check_grid
    from logdigit.errors import LayoutError
    from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track
    from logdigit.trace import PixelTrace

    def layout(step):
        track = Track(0, 50, curves=(CurveSpec("GR", 0, 150),))
        return Layout(DepthSpec("FT", step, ((0, 0.0), (99, 990.0))), (track,))

    assert check_grid(layout(10.0), height=100) == 100
    assert check_grid(layout(10.0 / MAX_SAMPLES_PER_ROW), height=100) <= MAX_SAMPLES_PER_ROW * 100
    for step in (1e-4, 1e-9):
        with pytest.raises(LayoutError, match="depth.step"):
            check_grid(layout(step), height=100)
        with pytest.raises(LayoutError, match="depth.step"):  # not a MemoryError
            calibrate([PixelTrace("GR", 0, 0, np.full(100, 25.0))], layout(step))


# ------------------------------------------------------------------ weights and model config


def _tiny_weights(tmp_path, tiny_model):
    from logdigit.model.weights import save_model

    return save_model(tiny_model, tmp_path / "m.safetensors")


def test_nan_weights_are_refused_naming_the_file_and_tensor(tmp_path, tiny_model, scan_dir):
    import torch
    from safetensors.torch import save_file

    from logdigit.errors import WeightsError
    from logdigit.model.weights import load_model

    path = _tiny_weights(tmp_path, tiny_model)
    state = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tiny_model.state_dict().items()
    }
    save_file(state, str(path))
    with pytest.raises(WeightsError, match="NaN or infinite"):
        load_model(path)
    r = _run("infer", scan_dir / "simple.jpg", "--weights", path, "--device", "cpu")
    _refused(r, 2, "m.safetensors", "NaN", "checkpoint")
    assert not (scan_dir / "simple.las").exists()


def test_empty_weights_files_are_refused(tmp_path, tiny_model):
    from logdigit.errors import WeightsError
    from logdigit.model.weights import config_path, load_model

    card = json.dumps({"config": tiny_model.config.to_dict()})
    for name in ("e.pt", "e.safetensors"):
        (tmp_path / name).write_bytes(b"")
        config_path(tmp_path / name).write_text(card)
        with pytest.raises(WeightsError, match="empty"):
            load_model(tmp_path / name)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("widths", [-4, 8, 8, 8, 8], "widths"),
        ("widths", [4, 4, 8, 8, 2**31], "1024"),
        ("widths", [4.5, 4, 8, 8, 8], "whole numbers"),
        ("widths", [8] * 40, "at most 8"),
        ("widths", 7, "widths"),
        ("blocks", 10**6, "blocks"),
        ("attn_heads", 0, "attn_heads"),
        ("num_classes", 2, "num_classes"),
    ],
)
def test_sidecar_config_is_bounded_before_anything_is_allocated(tmp_path, tiny_model, key, value, needle):
    from logdigit.errors import WeightsError
    from logdigit.model.weights import config_path, load_model

    path = _tiny_weights(tmp_path, tiny_model)
    config = {**tiny_model.config.to_dict(), key: value}
    config_path(path).write_text(json.dumps({"config": config}))
    with pytest.raises(WeightsError, match=needle) as info:
        load_model(path)
    assert str(info.value).startswith(f"{config_path(path)}: config: ")


# ------------------------------------------------------------------ score


@pytest.mark.parametrize("shift", ["-1", "nan", "inf"])
def test_score_refuses_a_negative_or_non_finite_max_shift(scan_dir, shift):
    truth = scan_dir / "simple.truth.las"
    _refused(_run("score", truth, truth, "--max-shift", shift), 2, "--max-shift", ">= 0")


@pytest.mark.timeout(20)
def test_score_with_a_huge_max_shift_finishes(scan_dir):
    truth = scan_dir / "simple.truth.las"
    r = _run("score", truth, truth, "--max-shift", "1e12", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["shift"] == 0


@pytest.mark.timeout(30)
def test_score_of_a_las_whose_header_step_is_1e_12_finishes(scan_dir):
    truth = scan_dir / "simple.truth.las"
    lying = scan_dir / "lying.las"
    text = truth.read_text()
    assert "STEP.M            0.5 :" in text
    lying.write_text(text.replace("STEP.M            0.5 :", "STEP.M            1e-12 :"))
    r = _cli("score", lying, truth, "--max-shift", "5", "--json", timeout=25)  # a real process: hung before
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["shift"] == 0


def test_score_refuses_more_shifts_than_it_searches():
    import lasio

    from logdigit.errors import InputError
    from logdigit.score import MAX_SHIFTS, score

    dig = lasio.LASFile()
    dig.append_curve("DEPT", np.arange(11) * 0.001, unit="M")
    dig.append_curve("GR", np.linspace(0, 1, 11))
    truth = lasio.LASFile()
    truth.append_curve("DEPT", np.linspace(0, 100, 11), unit="M")
    truth.append_curve("GR", np.linspace(0, 1, 11))
    with pytest.raises(InputError, match=f"{MAX_SHIFTS:,}"):
        score(dig, truth, max_shift=50)
    assert score(dig, truth, max_shift=0.002).shift in (0.0, 0.001, -0.001, 0.002, -0.002)


# ------------------------------------------------------------------ synth, evaluate, train


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--height", "1"], "--height 1"),
        (["--n", "-1"], "--n -1"),
        (["--n", "0"], "--n 0"),
        (["--width", "10"], "--width 10"),
        (["--height", "100000"], "4096"),
        (["--seed", "-1"], "--seed -1"),
        (["--style", "fancy"], "--style 'fancy'"),
    ],
)
def test_synth_refuses_nonsense_sizes_and_counts(tmp_path, args, needle):
    out = tmp_path / "sheets"
    _refused(_run("synth", out, *args, "--quiet"), 2, needle)
    assert not out.exists()


def test_synth_negative_n_fails_in_a_real_process(tmp_path):
    r = _cli("synth", tmp_path / "s", "--n", "-1")
    assert r.returncode == 2 and r.stderr.startswith("error: --n -1"), (r.returncode, r.stderr)
    assert not (tmp_path / "s").exists()


def test_evaluate_refuses_nonsense_sheets(no_weights):
    _refused(_run("evaluate", "--n", "0", "--weights", no_weights), 2, "--n 0")
    _refused(_run("evaluate", "--n", "1", "--height", "1", "--weights", no_weights), 2, "--height 1")
    _refused(_run("evaluate", "--n", "1", "--style", "fancy", "--weights", no_weights), 2, "--style 'fancy'")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--steps", "0"], "--steps 0"),
        (["--eval-every", "0"], "--eval-every 0"),
        (["--crop", "0"], "--crop 0"),
        (["--crop", "1000"], "--crop 1000"),
        (["--batch-size", "0"], "--batch-size 0"),
        (["--lr", "-1"], "--lr -1"),
        (["--threads", "-1"], "--threads -1"),
        (["--widths", "8,-16"], "--widths"),
    ],
)
def test_train_refuses_nonsense_before_drawing_sheets(tmp_path, args, needle):
    out = tmp_path / "run"
    _refused(_run("train", "--out", out, "--pool-size", "1", "--val-sheets", "1", "--quiet", *args), 2, needle)
    assert not out.exists()
