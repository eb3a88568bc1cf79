"""What runs on a Dask worker: thread limits, the cached model, and one scan digitised into a record."""

from __future__ import annotations

import contextlib
import os
import stat
import time
import traceback
from pathlib import Path
from typing import Any

from logdigit.batch.manifest import MANIFEST_NAME, BatchJob, ScanResult, one_line, utc_now
from logdigit.errors import LogdigitError, OutputError
from logdigit.io.atomic import sha256_file
from logdigit.pipeline import InferOptions

_THREADS: list[int] = []


def prepare_worker(options: InferOptions | None = None, *, threads: int = 1) -> None:
    """Limit this process's torch/OpenCV threads and load the model into its cache.

    Every task does this first (it costs nothing the second time); run it on all
    workers ahead of a batch to take model loading out of the first scans' timings:
    ``client.run(prepare_worker, options, threads=1)``.
    """
    from logdigit.model.device import resolve_device
    from logdigit.pipeline import cached_model

    opts = options or InferOptions()
    _limit_threads(threads)
    cached_model(opts.weights, str(resolve_device(opts.device)))


def _limit_threads(threads: int) -> None:
    """Once per worker process: torch and OpenCV use ``threads`` threads (the speed only: inference
    and OpenCV give the same results, bit for bit, on any number of threads)."""
    if _THREADS == [threads]:
        return
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    _THREADS[:] = [threads]


def digitise_job(job: BatchJob, opts: InferOptions, settings: dict[str, Any], threads: int) -> ScanResult:
    """Digitise one scan on a worker; never raises for a bad scan (returns a ``failed`` record)."""
    from logdigit.pipeline import digitise_to_files

    started, t0 = utc_now(), time.perf_counter()
    base: dict[str, Any] = dict(
        scan=job.scan,
        output=job.output,
        layout=job.layout,
        layout_sha256=job.layout_sha256,
        settings=settings,
        worker=_worker_name(),
        started=started,
    )
    seconds: dict[str, float] = {}
    scan_meta: dict[str, Any] = {}
    try:
        scan_meta = file_meta(job.scan, "scan")
        seconds["hash"] = time.perf_counter() - t0
        t = time.perf_counter()
        prepare_worker(opts, threads=threads)  # the model is loaded once per worker process
        seconds["model"] = time.perf_counter() - t
        if job.overwrite or not os.path.isfile(job.output):
            result, target = digitise_to_files(
                job.scan,
                out=job.output,
                qc=job.qc,
                quality=job.quality,
                layout=None if job.template else job.layout,
                template=job.layout if job.template else None,
                options=opts,
                overwrite=job.overwrite,
            )
        else:
            result, target = _keep_if_same(job, opts)
    except LogdigitError as exc:
        return ScanResult(
            status="failed", error=str(exc), **scan_meta, **base, seconds=_total(seconds, t0), finished=utc_now()
        )
    except Exception as exc:  # a bug in one stage must not stop the archive
        return ScanResult(
            status="failed",
            **scan_meta,
            **base,
            seconds=_total(seconds, t0),
            finished=utc_now(),
            error=f"{job.scan}: internal error ({type(exc).__name__}: {one_line(exc)}); "
            "report it as a logdigit bug with the traceback from the manifest",
            traceback=traceback.format_exc(),
        )
    seconds.update(result.timings)
    return ScanResult(
        status="done",
        **scan_meta,
        **file_meta(target, "output"),
        **base,
        seconds=_total(seconds, t0),
        warnings=tuple(result.warnings),
        curves=tuple(c.mnemonic for c in result.curves.curves),
        samples=int(len(result.curves.depth)),
        calibrated=bool(result.layout.calibrated),
        finished=utc_now(),
        registration=_registration(result.registration),
    )


def _registration(reg) -> dict[str, Any] | None:
    """A template registration as plain manifest data (None without a template)."""
    if reg is None:
        return None
    return {"shift": reg.shift, "edge_residual": reg.edge_residual, "tie_residual": round(reg.tie_residual, 6)}


def _keep_if_same(job: BatchJob, opts: InferOptions):
    """Digitise a scan whose output exists but is not known to be this batch's (no ``done`` record
    of it as it is): keep the file when it holds exactly what the scan gives now (a stopped run's
    own output, renamed into place before its record was written), else refuse and keep it."""
    import tempfile

    from logdigit.io.las import write_las
    from logdigit.pipeline import check_outputs, digitise

    check_outputs([(job.scan, job.output, None)], layout=job.layout, options=opts, overwrite=True)
    result = digitise(
        job.scan,
        layout=None if job.template else job.layout,
        template=job.layout if job.template else None,
        options=opts,
    )
    out = Path(job.output)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent)  # swept if killed
    os.close(fd)
    try:
        write_las(result.las, tmp)
        same = _same_las(tmp, out)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    if not same:
        raise OutputError(
            f"{out}: already exists and this batch did not write it (no record of it in "
            f"{MANIFEST_NAME}, or changed since, e.g. hand-edited); it was left as it is; pass "
            "--overwrite to replace it, or move it away"
        )
    return result, str(out)


def _same_las(a, b) -> bool:
    """Two LAS files hold the same text apart from when they were digitised (``DIGDATE``)."""

    def text(path) -> list[bytes]:
        with open(path, "rb") as f:
            return [line for line in f if not line.lstrip().startswith(b"DIGDATE")]

    try:
        return text(a) == text(b)
    except OSError:
        return False


def file_meta(path: str, prefix: str) -> dict[str, Any]:
    """``{prefix}_sha256``, ``_bytes``, ``_mtime_ns`` of a file; empty if it cannot be read
    (the pipeline then says why)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return {}  # a FIFO or device: reading it could block
        sha = sha256_file(path)
    except OSError:
        return {}
    return {f"{prefix}_sha256": sha, f"{prefix}_bytes": st.st_size, f"{prefix}_mtime_ns": st.st_mtime_ns}


def _total(seconds: dict[str, float], t0: float) -> dict[str, float]:
    out = {k: round(v, 4) for k, v in seconds.items()}
    out["total"] = round(time.perf_counter() - t0, 4)
    return out


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "local"
