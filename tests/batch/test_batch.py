"""logdigit.batch and `logdigit batch`: inputs, output names, manifest, resume, clusters, signals.

The end-to-end tests run a real embedded LocalCluster, a real `dask scheduler` +
`dask worker` pair on loopback and a real `python -m logdigit.cli batch` killed with
SIGTERM, on tiny synthetic sheets and a tiny random VeerNet (the ``weights`` fixture;
point it at models/veernet.safetensors to check the digitised values as well).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from logdigit import batch as lb
from logdigit.batch import ScanResult

SEEDS = (1, 2, 3, 4)
"""Sheets written with their layout (s1..s4.png); sheet 0 goes without one (plain.png)."""

GOOD = ("s1", "s2", "s3", "s4", "plain")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def weights() -> Path:
    """The shipped model, so the batch's LAS values are checked against the synthetic truth."""
    from logdigit.model.weights import DEFAULT_WEIGHTS

    return DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """s1..s4.png with sidecar layouts and truth LAS, plain.png without a layout, corrupt.png
    (truncated), notes.txt."""
    from logdigit.calibrate import calibrate
    from logdigit.io.las import to_las, write_las
    from logdigit.io.layout import write_layout
    from logdigit.research.synth import CLASSIC_STYLE, make_sheet
    from logdigit.trace import PixelTrace

    d = tmp_path_factory.mktemp("archive")
    for seed in (0, *SEEDS):
        sheet = make_sheet(
            height=256, width=320, rng=seed, style=CLASSIC_STYLE
        )  # the sheets these checks were written for
        name = f"s{seed}" if seed else "plain"
        _write_png(d / f"{name}.png", sheet.image)
        if seed:
            write_layout(sheet.layout, d / f"{name}.layout.toml")
            truth = [PixelTrace(mnemonic=c.mnemonic, track=c.track, row0=0, x=c.x) for c in sheet.truth]
            write_las(to_las(calibrate(truth, sheet.layout), sheet.layout), d / f"{name}.truth.las")
    (d / "corrupt.png").write_bytes((d / "s1.png").read_bytes()[:400])
    (d / "notes.txt").write_text("not a scan\n")
    return d


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """`dask scheduler` + `dask worker --nworkers 1 --nthreads 1` on 127.0.0.1; yields the address."""
    logs = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    # A worker death fails its task at once (the crash test), instead of after three retries.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    dask = [sys.executable, "-m", "dask"]
    procs: list[subprocess.Popen] = []
    try:
        procs.append(
            _start(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                logs / "scheduler.log",
                env,
            )
        )
        procs.append(
            _start(
                [
                    *dask,
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--local-directory",
                    str(logs),
                ],
                logs / "worker.log",
                env,
            )
        )
        _wait_for_workers(address, procs, logs)
        yield address
    finally:
        for p in reversed(procs):
            _stop(p)


def _start(cmd: list[str], log: Path, env: dict) -> subprocess.Popen:
    with open(log, "wb") as f:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(p: subprocess.Popen) -> None:
    """Stop a process group this test started (its own session: the nanny's worker goes with it)."""
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _wait_for_workers(address: str, procs, logs: Path, timeout: float = 120.0) -> None:
    from distributed import Client

    deadline = time.monotonic() + timeout
    while True:
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, f"dask exited early: {[(p.args, p.returncode) for p in dead]}; logs in {logs}"
        try:
            with Client(address, timeout="5s") as client:
                client.wait_for_workers(1, timeout=max(1.0, deadline - time.monotonic()))
                return
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


def _cli(args: list[str], stdin: str | None = None):
    from typer.testing import CliRunner

    from logdigit.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def _common(weights: Path) -> list[str]:
    return ["--weights", str(weights), "--device", "cpu"]


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines() if line.strip()]


def _by_name(records: list[dict]) -> dict[str, dict]:
    return {Path(r["scan"]).stem: r for r in records}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _no_temp_files(out: Path) -> None:
    stray = [p.name for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert stray == [], f"temporary files left in {out}: {stray}"


def _data(las: Path) -> str:
    """The ~A section's text."""
    text = las.read_text()
    return text[text.index("~A") :]


def _check_outputs(archive: Path, out: Path, records: dict[str, dict], same_as_infer: bool = False) -> None:
    """Every good scan is done with a LAS that has its layout's curves and depth range; with
    ``same_as_infer``, the very values a single-scan digitisation in this process gives."""
    import lasio

    from logdigit.calibrate import fit_ties
    from logdigit.io.layout import load_layout
    from logdigit.score import score

    assert {k: r["status"] for k, r in records.items()} == {**dict.fromkeys(GOOD, "done"), "corrupt": "failed"}
    for seed in SEEDS:
        lay = load_layout(archive / f"s{seed}.layout.toml")
        las = lasio.read(out / f"s{seed}.las")
        assert [c.mnemonic for c in las.curves][1:] == [c.mnemonic for t in lay.tracks for c in t.curves]
        a, b, _ = fit_ties(lay)
        step = lay.depth.step
        assert a - step <= las.index[0] < las.index[-1] <= a + b * 255 + step
        assert np.allclose(np.diff(las.index), step)
        rec = records[f"s{seed}"]
        # Calibrated: the only warnings name curves of one look told apart by continuity.
        assert rec["calibrated"] is True and all(" look alike " in w for w in rec["warnings"]), rec["warnings"]
        assert rec["layout_sha256"] == _sha(archive / f"s{seed}.layout.toml")
        report = score(out / f"s{seed}.las", archive / f"s{seed}.truth.las", layout=lay)
        assert report.missing_in_digitised == ()
        if same_as_infer:  # bit for bit, though the workers run torch on fewer threads than this process
            from logdigit.io.las import write_las
            from logdigit.pipeline import InferOptions, digitise

            # The `weights` fixture is the shipped model, which digitise uses by default.
            ref = out.parent / "ref.las"
            write_las(digitise(archive / f"s{seed}.png", options=InferOptions(device="cpu")).las, ref)
            assert _data(out / f"s{seed}.las") == _data(ref), seed
    for name in GOOD:
        rec = records[name]
        assert rec["output"] == str(out / f"{name}.las")
        assert rec["scan_sha256"] == _sha(archive / f"{name}.png")
        assert rec["output_sha256"] == _sha(out / f"{name}.las")
        assert rec["error"] is None and rec["seconds"]["total"] > 0 and "infer" in rec["seconds"]
    plain = records["plain"]
    # No layout file: the scan's own draft (scan_layout), calibrated where its printed depth numbers were read.
    assert plain["layout"] is None and plain["layout_sha256"] is None
    assert "no layout file" in plain["warnings"][0]
    said = "printed depth numbers" if plain["calibrated"] else "uncalibrated: index = pixel row"
    assert said in plain["warnings"][0], plain["warnings"][0]
    bad = records["corrupt"]
    assert "corrupt.png" in bad["error"] and "\n" not in bad["error"]
    assert bad["scan_sha256"] == _sha(archive / "corrupt.png")
    assert not (out / "corrupt.las").exists()
    _no_temp_files(out)


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_local_cluster_of_two_workers(archive, weights, tmp_path):
    out = tmp_path / "las"
    result = _cli(["batch", archive, "--outdir", out, "--workers", 2, "--torch-threads", 1, *_common(weights)])
    assert result.exit_code == 1, result.output
    records = _manifest(out)
    assert len(records) == 6  # notes.txt and the truth LAS files are not scans
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the reference runs on 2 threads, the workers on 1
    try:
        _check_outputs(archive, out, _by_name(records), same_as_infer=True)
    finally:
        torch.set_num_threads(before)
    assert "corrupt.png" in result.stderr and "failed" in result.stderr
    assert result.stdout == ""  # without --json, stdout stays clean for pipes


@pytest.mark.slow
def test_external_scheduler(archive, weights, tmp_path, dask_cluster):
    out = tmp_path / "las"
    result = _cli(["batch", archive, "--outdir", out, "--scheduler", dask_cluster, *_common(weights)])
    assert result.exit_code == 1, result.output
    records = _by_name(_manifest(out))
    _check_outputs(archive, out, records)
    assert all(r["worker"].startswith("tcp://127.0.0.1:") for r in records.values())


@pytest.mark.slow
def test_sigterm_midway_then_resume(archive, weights, tmp_path, dask_cluster):
    import cv2
    import lasio

    scans = tmp_path / "tall"
    scans.mkdir()
    for i in range(6):  # tall sheets (~0.5 s each) so the batch is still running when the signal comes
        seed = SEEDS[i % len(SEEDS)]
        cv2.imwrite(str(scans / f"t{i}.png"), np.tile(cv2.imread(str(archive / f"s{seed}.png")), (6, 1, 1)))
        shutil.copy(archive / f"s{seed}.layout.toml", scans / f"t{i}.layout.toml")
    out = tmp_path / "las"
    cmd = [
        sys.executable,
        "-m",
        "logdigit.cli",
        "batch",
        str(scans),
        "--outdir",
        str(out),
        "--workers",
        "1",
        "--quiet",
        *_common(weights),
    ]
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ((out / "manifest.jsonl").is_file() and (out / "manifest.jsonl").read_bytes().strip()):
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "no scan finished within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM, (tmp_path / "stderr.txt").read_text()
    finally:
        _stop(proc)

    first = _by_name(_manifest(out))
    done = {k for k, r in first.items() if r["status"] == "done"}
    assert 1 <= len(done) < 6, f"not stopped midway: {sorted(done)}"
    _no_temp_files(out)
    for las in out.glob("*.las"):  # whatever was written is whole
        assert len(lasio.read(las).index) > 0
    stamps = {k: (out / f"{k}.las").stat().st_mtime_ns for k in done}

    result = _cli(["batch", scans, "--outdir", out, "--scheduler", dask_cluster, "--json", *_common(weights)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {Path(r["scan"]).stem: r["status"] for r in lines} == {
        f"t{i}": "skipped" if f"t{i}" in done else "done" for i in range(6)
    }
    records = _manifest(out)
    for k in done:  # recorded once, file untouched
        assert [r["finished"] for r in records if Path(r["scan"]).stem == k] == [first[k]["finished"]]
        assert (out / f"{k}.las").stat().st_mtime_ns == stamps[k]
    assert {Path(r["scan"]).stem for r in records if r["status"] == "done"} == {f"t{i}" for i in range(6)}
    _no_temp_files(out)


@pytest.mark.slow
def test_json_stdin_glob_and_force(archive, weights, tmp_path, dask_cluster):
    out = tmp_path / "las"
    run = ["--outdir", out, "--scheduler", dask_cluster, "--json", "--quiet", *_common(weights)]

    stdin = f"{archive / 's1.png'}\n\n{archive / 's2.png'}\n"
    result = _cli(["batch", "-", *run], stdin=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((Path(r["scan"]).name, r["status"]) for r in lines) == [("s1.png", "done"), ("s2.png", "done")]
    assert result.stderr == ""  # --quiet

    result = _cli(["batch", str(archive / "s*.png"), *run])  # quoted glob: expanded by logdigit
    assert result.exit_code == 0, result.output
    status = {Path(r["scan"]).stem: r["status"] for r in map(json.loads, result.stdout.splitlines())}
    assert status == {"s1": "skipped", "s2": "skipped", "s3": "done", "s4": "done"}

    before = _by_name(_manifest(out))["s1"]["finished"]
    result = _cli(["batch", archive / "s1.png", "--force", *run])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == ["done"]
    s1 = [r for r in _manifest(out) if Path(r["scan"]).stem == "s1"]
    assert len(s1) == 2 and s1[-1]["finished"] > before


@pytest.mark.slow
def test_worker_crash_is_isolated(archive, weights, tmp_path, dask_cluster):
    """A scan that kills its worker process (KilledWorker) is failed; the batch goes on."""

    def crash_on_s2(job, opts, settings, threads):  # local, so it travels by value (cloudpickle)
        if Path(job.scan).stem == "s2":
            time.sleep(1.0)  # let s1's result reach the client before this worker goes
            os._exit(1)
        from logdigit.batch.worker import digitise_job

        return digitise_job(job, opts, settings, threads)

    results = lb.run_batch(
        [archive / "s1.png", archive / "s2.png"],
        outdir=tmp_path / "las",
        options=lb.InferOptions(weights=str(weights), device="cpu"),
        scheduler=dask_cluster,
        task=crash_on_s2,
    )
    status = {Path(r.scan).stem: r for r in results}
    assert status["s1"].status == "done", status["s1"].error
    assert status["s2"].status == "failed" and "worker died" in status["s2"].error
    assert "\n" not in status["s2"].error
    assert [r["status"] for r in _manifest(tmp_path / "las")] == ["done", "failed"]


# --------------------------------------------------------------------------- CLI errors


def test_cli_usage_errors(archive, weights, tmp_path):
    out = tmp_path / "las"
    result = _cli(["batch", tmp_path / "empty-*.png", "--outdir", out, *_common(weights)])
    assert result.exit_code == 2 and "no scans found" in result.stderr
    result = _cli(
        [
            "batch",
            archive / "s1.png",
            "--outdir",
            out,
            "--workers",
            1,
            "--scheduler",
            "tcp://127.0.0.1:1",
            *_common(weights),
        ]
    )
    assert result.exit_code == 2 and "--scheduler" in result.stderr
    result = _cli(["batch", archive / "s1.png", "--outdir", out, "--threshold", "2", *_common(weights)])
    assert result.exit_code == 2 and "--threshold" in result.stderr
    bad = tmp_path / "bad.layout.toml"
    bad.write_text("[depth]\nunit = 'FT'\n")
    result = _cli(["batch", archive / "s1.png", "--outdir", out, "--layout", bad, *_common(weights)])
    assert result.exit_code == 2 and "bad.layout.toml" in result.stderr
    result = _cli(["batch", archive / "s1.png", "--outdir", out, "--weights", tmp_path / "none.safetensors"])
    assert result.exit_code == 2 and "none.safetensors" in result.stderr


# --------------------------------------------------------------------------- inputs and names


def test_collect_scans_folders_globs_stdin(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    for name in ("b.PNG", "a.tif", ".hidden.png", "a.layout.toml", "sub/c.jpg", ".cache/d.png"):
        (tmp_path / name).write_bytes(b"x")
    names = lambda paths: [p.relative_to(tmp_path).as_posix() for p in paths]  # noqa: E731
    assert names(lb.collect_scans([tmp_path])) == ["a.tif", "b.PNG"]
    assert names(lb.collect_scans([tmp_path], recursive=True)) == ["a.tif", "b.PNG", "sub/c.jpg"]
    assert names(lb.collect_scans([str(tmp_path / "*")])) == ["a.tif", "b.PNG", "sub/c.jpg"]
    assert names(lb.collect_scans([str(tmp_path / "**" / "*.jpg")], recursive=True)) == ["sub/c.jpg"]
    stdin = io.StringIO(f"{tmp_path / 'sub/c.jpg'}\n\n# a comment\n{tmp_path / 'a.tif'}\n")
    assert names(lb.collect_scans(["-", tmp_path / "a.tif"], stdin=stdin)) == ["sub/c.jpg", "a.tif"]
    assert lb.collect_scans([tmp_path / "missing.tif"]) == [tmp_path / "missing.tif"]
    assert lb.collect_scans([str(tmp_path / "nothing-*.tif")]) == []


def test_output_names_disambiguate_collisions():
    assert lb.output_names(["a/x.png", "b/x.png", "y.tif"]) == ["a_x.las", "b_x.las", "y.las"]
    assert lb.output_names(["d/x.png", "d/x.tif"]) == ["x_png.las", "x_tif.las"]
    assert lb.output_names(["p/a/x.png", "q/a/x.png"]) == ["p_a_x.las", "q_a_x.las"]
    names = lb.output_names(["a/X.png", "b/x.png", "a_x.png"])
    assert len({n.lower() for n in names}) == 3


# --------------------------------------------------------------------------- manifest and resume


def test_manifest_tolerates_a_torn_line_and_appends_after_it(tmp_path):
    path = tmp_path / "manifest.jsonl"
    whole = json.dumps(ScanResult(scan="/a.png", status="done").to_dict())
    path.write_text(whole + "\n" + whole[: len(whole) // 2])  # a kill in the middle of a write
    assert set(lb.read_manifest(path)) == {"/a.png"}
    writer = lb.ManifestWriter(path)
    try:
        writer.write(ScanResult(scan="/b.png", status="failed", error="bad"))
        with pytest.raises(lb.OutputError, match="another logdigit batch"):
            lb.ManifestWriter(path)
    finally:
        writer.close()
    records = lb.read_manifest(path)
    assert set(records) == {"/a.png", "/b.png"} and records["/b.png"].error == "bad"
    assert lb.read_manifest(tmp_path / "none.jsonl") == {}


def test_plan_skips_only_intact_unchanged_work(archive, weights, tmp_path):
    scan = tmp_path / "s1.png"
    shutil.copy(archive / "s1.png", scan)
    shutil.copy(archive / "s1.layout.toml", tmp_path / "s1.layout.toml")
    out = tmp_path / "las"
    opts = lb.InferOptions(weights=str(weights), device="cpu")
    plan = lb.plan_batch([scan], outdir=out, options=opts)
    job = plan.jobs[0]
    assert job.output == str(out / "s1.las") and job.layout == str(tmp_path / "s1.layout.toml")
    (out / "s1.las").write_text("~Version\n")
    meta = {**lb.worker.file_meta(job.scan, "scan"), **lb.worker.file_meta(job.output, "output")}
    record = ScanResult(
        scan=job.scan,
        status="done",
        output=job.output,
        layout=job.layout,
        layout_sha256=job.layout_sha256,
        settings=plan.settings,
        **meta,
    )
    (out / "manifest.jsonl").write_text(json.dumps(record.to_dict()) + "\n")

    def planned():
        p = lb.plan_batch([scan], outdir=out, options=opts)
        return len(p.jobs), len(p.skipped)

    assert planned() == (0, 1)
    ours = (dataclasses.replace(job, overwrite=True),)  # its LAS is as recorded: replaced when redone
    assert lb.plan_batch([scan], outdir=out, options=opts, force=True).jobs == ours
    assert lb.plan_batch([scan], outdir=out, options=dataclasses.replace(opts, tile=256)).jobs == ours
    os.utime(scan, ns=(1, 1))  # touched, same bytes: still done (sha256 decides)
    assert planned() == (0, 1)
    (out / "s1.las").write_text("~Version\n~Well\n")  # output changed or damaged
    assert planned() == (1, 0)
    (out / "s1.las").write_text("~Version\n")
    os.utime(out / "s1.las", ns=(record.output_mtime_ns, record.output_mtime_ns))
    assert planned() == (0, 1)
    scan.write_bytes(scan.read_bytes() + b"\0")  # input changed
    assert planned() == (1, 0)


def test_collect_maps_a_dead_worker_to_a_failed_record():
    from distributed import KilledWorker

    class Dead:
        def result(self):
            raise KilledWorker("logdigit-s9-1", SimpleNamespace(address="tcp://10.0.0.1:4000"), 1)

    job = lb.BatchJob(scan="/archive/s9.png", output="/las/s9.las")
    rec = lb.cluster.collect(Dead(), job, {"tile": 512})
    assert rec.status == "failed" and rec.output == "/las/s9.las" and rec.settings == {"tile": 512}
    assert "worker died while digitising" in rec.error and "2 worker(s) died, last tcp://10.0.0.1:4000" in rec.error


def test_summarise_and_record_round_trip():
    rec = ScanResult(scan="/a.png", status="done", curves=("GR",), warnings=("w",), seconds={"total": 1.0})
    assert ScanResult.from_dict({**json.loads(json.dumps(rec.to_dict())), "future_key": 1}) == rec
    assert "traceback" not in rec.to_dict()
    assert lb.summarise([rec, ScanResult("/b.png", "failed")]) == {"done": 1, "skipped": 0, "failed": 1}
