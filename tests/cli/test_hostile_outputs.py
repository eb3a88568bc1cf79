"""Hostile outputs and input files (issue 20): nothing lost, nothing written where it must not be.

An output that is an input, or another output of the run, is refused before any work; an
existing file is replaced only with --overwrite (batch: only its own unchanged LAS); a FIFO
or device is written as a stream, never replaced; a FIFO scan is refused without being
opened; a closed stdout stops the run with one line naming the scans not done.

Runs that must digitise use a tiny random VeerNet (``tiny_model``) on a small synthetic sheet,
so they take well under a second; whatever must be refused is checked with a model that
fails the test if it is ever loaded.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import logdigit
from logdigit.cli import app

ROOT = Path(logdigit.__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_error(result, *needles) -> str:
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for n in needles:
        assert str(n) in errors[0], errors[0]
    return errors[0]


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


@pytest.fixture()
def sheet(tmp_path) -> Path:
    """``s.png`` (160 x 128) with its sidecar ``s.layout.toml``."""
    from logdigit.io.layout import write_layout
    from logdigit.research.synth import make_sheet

    sh = make_sheet(height=128, width=160, rng=7)
    _write_png(tmp_path / "s.png", sh.image)
    write_layout(sh.layout, tmp_path / "s.layout.toml")
    return tmp_path / "s.png"


@pytest.fixture()
def no_model(monkeypatch):
    """Fail the test if the run gets as far as loading a model."""

    def refuse(weights, device):
        raise AssertionError("the model was loaded: the output was not checked up front")

    monkeypatch.setattr("logdigit.pipeline.cached_model", refuse)


@pytest.fixture()
def tiny(monkeypatch, tiny_model):
    """Digitise with the tiny random model (fast; the values do not matter here)."""
    monkeypatch.setattr("logdigit.pipeline.cached_model", lambda weights, device: tiny_model)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ----------------------------------------------------------------- 1. an output is an input or another output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--layout", "{d}/s.layout.toml", "-o", "{d}/s.png"], "scan"),
        (["--layout", "{d}/s.layout.toml", "--qc", "{d}/s.png"], "scan"),
        (["--layout", "{d}/s.layout.toml", "-o", "{d}/s.layout.toml"], "layout"),
        (["-o", "{d}/s.layout.toml"], "sidecar layout"),  # found beside the scan, not named
        (["--qc", "{d}/s.layout.toml"], "sidecar layout"),
        (["-o", "{d}/x.las", "--qc", "{d}/x.las"], "--qc"),
        (["-o", "{d}/hard.las"], "scan"),  # a hard link to the scan
        (["-o", "{d}/soft.las"], "scan"),  # a symbolic link to the scan
        (["-o", "{d}/sub/../s.png"], "scan"),
        (["--weights", "{d}/w.safetensors", "-o", "{d}/w.safetensors"], "weights file"),
        (["--weights", "{d}/w.safetensors", "--qc", "{d}/w.json"], "weights config"),
    ],
)
def test_an_output_that_is_an_input_or_another_output_is_refused(sheet, no_model, args, needle):
    d = sheet.parent
    (d / "sub").mkdir()
    os.link(sheet, d / "hard.las")
    (d / "soft.las").symlink_to(sheet)
    (d / "w.safetensors").write_bytes(b"weights")
    (d / "w.json").write_text("{}")
    before = _snapshot(d)
    r = _run("infer", sheet, *[a.format(d=d) for a in args], "--device", "cpu")
    assert r.exit_code == 3, r.output
    _one_error(r, needle, "choose another output path" if needle != "--qc" else "its own path")
    assert _snapshot(d) == before
    assert (d / "soft.las").is_symlink()


def test_a_scans_default_output_never_clobbers_another_input_or_output(tmp_path, no_model):
    from logdigit.research.synth import make_sheet

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    image = make_sheet(height=128, width=160, rng=1).image
    for p in (a / "s.png", b / "s.png", a / "t.png"):
        _write_png(p, image)
    shutil.copy(a / "t.png", a / "t.las")  # an image with a .las name: a scan of this run
    before = _snapshot(a)
    r = _run("infer", a / "t.png", a / "t.las", "--device", "cpu")  # t.png -> t.las
    assert r.exit_code == 3, r.output
    _one_error(r, "t.las", "scan")
    (tmp_path / "out").mkdir()
    r = _run("infer", a / "s.png", b / "s.png", "--outdir", tmp_path / "out", "--device", "cpu")
    assert r.exit_code == 3, r.output
    _one_error(r, "s.las", "both", "batch")
    assert _snapshot(a) == before


def test_layout_refuses_to_write_over_its_scan(sheet):
    before = sheet.read_bytes()
    r = _run("layout", sheet, "-o", sheet, "--force")
    assert r.exit_code == 3, r.output
    _one_error(r, sheet, "scan")
    assert sheet.read_bytes() == before


# ----------------------------------------------------------------- 2. existing outputs


@pytest.mark.parametrize("flag", ["-o", "--qc"])
def test_an_existing_output_is_kept_without_overwrite(sheet, no_model, flag):
    edited = sheet.parent / ("edited.las" if flag == "-o" else "edited.png")
    edited.write_text("hand-edited\n")
    r = _run("infer", sheet, flag, edited, "--device", "cpu")
    assert r.exit_code == 3, r.output
    _one_error(r, edited, "--overwrite")
    assert edited.read_text() == "hand-edited\n"


def test_several_scans_are_all_checked_before_any_is_digitised(sheet, no_model):
    d = sheet.parent
    shutil.copy(sheet, d / "t.png")
    (d / "out").mkdir()
    (d / "out" / "t.las").write_text("hand-edited\n")
    r = _run("infer", sheet, d / "t.png", "--outdir", d / "out", "--device", "cpu")
    assert r.exit_code == 3, r.output
    _one_error(r, "t.las", "--overwrite")
    assert sorted(p.name for p in (d / "out").iterdir()) == ["t.las"]  # s.las not written either


def test_overwrite_replaces_an_existing_output(sheet, tiny):
    edited = sheet.parent / "edited.las"
    edited.write_text("hand-edited\n")
    r = _run("infer", sheet, "-o", edited, "--device", "cpu", "--overwrite", "--quiet")
    assert r.exit_code == 0, r.output
    assert edited.read_text().startswith("~Version")


def test_layout_overwrite_and_its_force_alias(sheet):
    target = sheet.parent / "draft.layout.toml"
    target.write_text("# mine\n")
    r = _run("layout", sheet, "-o", target)
    assert r.exit_code == 3, r.output
    _one_error(r, target, "--overwrite")
    assert target.read_text() == "# mine\n"
    for flag in ("--overwrite", "--force"):
        target.write_text("# mine\n")
        r = _run("layout", sheet, "-o", target, flag)
        assert r.exit_code == 0, r.output
        assert "[[tracks]]" in target.read_text()
    assert "--overwrite" in _run("layout", "--help").output


# ----------------------------------------------------------------- 2b. batch: only its own LAS is replaced


@pytest.fixture()
def one_thread_back():
    """digitise_job limits torch/OpenCV threads for its (worker) process; give them back."""
    import cv2
    import torch

    from logdigit import batch as lb

    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    yield
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv_threads)
    lb.worker._THREADS.clear()


def test_batch_replaces_only_its_own_unchanged_las(sheet, tiny, one_thread_back):
    from logdigit import batch as lb

    out = sheet.parent / "las"
    opts = lb.InferOptions(device="cpu")

    def run(**kw):
        plan = lb.plan_batch([sheet], outdir=out, options=opts, **kw)
        (job,) = plan.jobs
        result = lb.worker.digitise_job(job, opts, plan.settings, 1)  # what a worker does
        manifest = lb.ManifestWriter(plan.manifest)
        manifest.write(result)
        manifest.close()
        return result

    def undated(data: bytes) -> bytes:  # the LAS records when it was digitised: that line differs
        return b"".join(line for line in data.splitlines(True) if not line.startswith(b"DIGDATE"))

    first = run()  # nothing there yet
    assert first.status == "done", first.error
    las = out / "s.las"
    written = las.read_bytes()

    (out / "manifest.jsonl").unlink()  # a stopped run: the LAS was renamed into place, never recorded
    again = run(force=True)
    assert again.status == "done" and las.read_bytes() == written  # the same LAS: kept as it was, recorded

    las.write_bytes(written.replace(b"~Version", b"~Version edited by hand", 1))  # recorded, then edited
    edited = las.read_bytes()
    refused = run(force=True)
    assert refused.status == "failed" and "--overwrite" in refused.error and "\n" not in refused.error
    assert las.read_bytes() == edited

    (out / "manifest.jsonl").unlink()  # no record at all, e.g. from `logdigit infer --outdir`
    assert run().status == "failed" and las.read_bytes() == edited

    replaced = run(overwrite=True)
    assert replaced.status == "done" and undated(las.read_bytes()) == undated(written)


# ----------------------------------------------------------------- 3. FIFOs and devices are streams


def _drain(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def read():
        with open(fifo, "rb") as f:
            got.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, got


def _las():
    from logdigit.calibrate import Curve, Curves
    from logdigit.io.las import to_las
    from logdigit.io.layout import DepthSpec, Layout

    curves = Curves(np.array([100.0, 100.5]), "FT", 0.5, (Curve("GR", "GAPI", np.array([1.0, 2.0])),))
    return to_las(curves, Layout(DepthSpec("FT", 0.5, ((0, 0), (1, 1))), ()))


def test_write_las_streams_into_a_fifo_and_keeps_it(tmp_path):
    from logdigit.io.las import write_las

    fifo = tmp_path / "out.las"
    os.mkfifo(fifo)
    reader, got = _drain(fifo)
    write_las(_las(), fifo)
    reader.join(10)
    assert got and got[0].startswith(b"~Version")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.las"]  # no temporary left


def test_write_las_and_qc_to_dev_null_keep_the_device():
    from logdigit.io.atomic import output_kind
    from logdigit.io.las import write_las
    from logdigit.qc.image import write_qc

    assert output_kind(os.devnull) == "stream"  # checked first: never risk replacing the real /dev/null
    write_las(_las(), os.devnull)
    write_qc(os.devnull, np.zeros((4, 5, 3), np.uint8))
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)


def _char_device(path: Path) -> Path:
    """A null device of our own (needs CAP_MKNOD), so a wrong rename harms nothing."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (OSError, AttributeError) as exc:
        pytest.skip(f"cannot create a character device here ({exc})")
    return path


def test_infer_streams_into_a_fifo_and_a_device_without_overwrite(sheet, tiny):
    d = sheet.parent
    fifo, dev = d / "pipe.las", _char_device(d / "null.png")
    os.mkfifo(fifo)
    reader, got = _drain(fifo)
    r = _run("infer", sheet, "-o", fifo, "--qc", dev, "--device", "cpu", "--quiet")
    reader.join(10)
    assert r.exit_code == 0, r.output
    assert got and got[0].startswith(b"~Version")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stat.S_ISCHR(os.lstat(dev).st_mode)
    assert not [p.name for p in d.iterdir() if p.name.startswith(".")]


def test_layout_streams_into_a_device(sheet):
    dev = _char_device(sheet.parent / "null.toml")
    r = _run("layout", sheet, "-o", dev)
    assert r.exit_code == 0, r.output
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


# ----------------------------------------------------------------- 4. a scan that is not a regular file


def test_read_scan_refuses_a_fifo_without_opening_it(tmp_path):
    from logdigit.errors import ScanError
    from logdigit.io.scan import read_scan

    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)

    def read():
        try:
            return read_scan(fifo)
        except ScanError as exc:
            return exc

    got = _within(5, read, unblock=fifo)
    assert isinstance(got, ScanError), got
    assert "FIFO" in str(got) and str(fifo) in str(got) and "\n" not in str(got)


def test_infer_refuses_a_fifo_scan_at_once(tmp_path):
    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)
    got = _within(5, lambda: _run("infer", fifo, "--device", "cpu"), unblock=fifo)
    assert got.exit_code == 2, got.output
    _one_error(got, fifo, "FIFO")


def _within(seconds: float, fn, *, unblock: Path):
    """``fn()`` in a thread; fail if it has not returned within ``seconds`` (after opening
    the FIFO ``unblock`` for writing, so a reader stuck on it ends)."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        os.close(os.open(unblock, os.O_WRONLY | os.O_NONBLOCK))
        t.join(seconds)
        pytest.fail(f"blocked on the FIFO {unblock}")
    return out[0]


def test_batch_never_reads_a_fifo_to_hash_it(tmp_path):
    from logdigit import batch as lb

    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)
    assert _within(5, lambda: lb.worker.file_meta(str(fifo), "scan"), unblock=fifo) == {}


# ----------------------------------------------------------------- 5. a closed stdout


def _broken_print(*args, **kwargs):
    raise BrokenPipeError(32, "Broken pipe")


def test_infer_json_into_a_closed_pipe_names_the_scans_not_done(tmp_path, monkeypatch):
    monkeypatch.setattr("logdigit.cli.infer.print", _broken_print, raising=False)
    r = _run("infer", tmp_path / "a.png", tmp_path / "b [1].png", "--json", "--device", "cpu")
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output, r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert errors[0].startswith(f"error: {tmp_path / 'a.png'}: no such file")  # a failed, and said so
    assert errors[1:] == [f"error: stdout closed (broken pipe); 1 scan(s) not done: {tmp_path / 'b [1].png'}"]


def test_batch_json_into_a_closed_pipe_names_the_scans_not_reported(tmp_path, monkeypatch):
    monkeypatch.setattr("logdigit.cli.batch.print", _broken_print, raising=False)
    r = _run("batch", tmp_path / "a.png", tmp_path / "b.png", "--outdir", tmp_path / "las", "--json")
    assert r.exit_code == 1, r.output
    _one_error(r, "broken pipe", "1 scan(s) not reported: b.png", "manifest.jsonl")
    assert "a.png" in (tmp_path / "las" / "manifest.jsonl").read_text()


def test_infer_json_into_a_pipe_closed_by_its_reader(tmp_path, tiny_model):
    """A real process: `logdigit infer a b --json | true`."""
    from logdigit.io.layout import write_layout
    from logdigit.model.weights import save_model
    from logdigit.research.synth import make_sheet

    for name, seed in (("a", 1), ("b", 2)):
        sh = make_sheet(height=96, width=128, rng=seed)
        _write_png(tmp_path / f"{name}.png", sh.image)
        write_layout(sh.layout, tmp_path / f"{name}.layout.toml")
    weights = save_model(tiny_model, tmp_path / "tiny.safetensors")
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "logdigit.cli",
        "infer",
        str(tmp_path / "a.png"),
        str(tmp_path / "b.png"),
        "--json",
        "--device",
        "cpu",
        "--weights",
        str(weights),
    ]
    try:
        p = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=120)
    finally:
        os.close(write)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert lines == [f"error: stdout closed (broken pipe); 1 scan(s) not done: {tmp_path / 'b.png'}"], p.stderr
    assert (tmp_path / "a.las").is_file() and not (tmp_path / "b.las").exists()
    import lasio  # a's JSON line was lost with the pipe; its LAS is whole

    assert len(lasio.read(tmp_path / "a.las").index) > 0
