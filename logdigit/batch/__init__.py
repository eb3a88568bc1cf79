"""Digitise an archive: many scans -> ``DIR/<stem>.las``, resumable, on a Dask cluster.

One call plans the work, one runs it::

    plan = plan_batch(["archive/"], outdir="las/")          # what to do, what is already done
    for result in iter_batch(plan, options=InferOptions()):  # results as scans finish
        print(result.scan, result.status)

``iter_batch`` runs on an embedded ``LocalCluster`` (one single-threaded worker process
per core, started and stopped by itself) or on an existing cluster (``scheduler=
"tcp://host:8786"``). Each worker process loads the model once
(:func:`logdigit.pipeline.cached_model`) and limits torch and OpenCV to ``torch_threads``
threads, so workers do not oversubscribe the cores.

Resuming: ``DIR/manifest.jsonl`` gets one JSON object per finished scan, appended and
flushed as each finishes (a line torn by a kill is ignored when read). A re-run skips a
scan whose last record says ``done`` when its output is still there and intact (size
and mtime as recorded, else its sha256), its scan is unchanged (size and mtime, else
sha256), and its layout and settings are the same. Outputs are written atomically by the
pipeline, so an interrupted batch never leaves a partial LAS. An existing ``<name>.las``
is replaced only when the manifest's last ``done`` record of it matches it (this batch
wrote it and nobody changed it since) or with ``overwrite``. Any other existing file is
kept: the scan is ``done`` if the file holds exactly the LAS it gives (a stopped run wrote
it before recording it), else ``failed``, so a hand-edited LAS is never lost.

Failures are isolated: a scan that cannot be read, a bad sidecar layout, an unexpected
error in a stage or a worker that dies (``KilledWorker``) gives a ``failed`` record and
the batch goes on.

Stopping: inside :func:`interrupt_on_signals`, SIGINT and SIGTERM raise
:class:`BatchInterrupted` in the loop; :func:`iter_batch` then records what finished,
cancels the rest and closes the cluster. Embedded workers start with SIGINT ignored, so
a Ctrl-C sent to the whole terminal process group stops the batch through this process
alone (a Ctrl-C in the seconds the workers take to start is ignored).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from logdigit.batch.cluster import (
    BatchInterrupted,
    check_cluster,
    check_scheduler,
    interrupt_on_signals,
    open_client,
    run_jobs,
    sweep_temp,
)
from logdigit.batch.inputs import SCAN_SUFFIXES, collect_scans, output_names
from logdigit.batch.manifest import (
    MANIFEST_NAME,
    STATUSES,
    BatchJob,
    ManifestWriter,
    ScanResult,
    outputs_written,
    read_manifest,
    summarise,
    utc_now,
)
from logdigit.batch.worker import digitise_job, prepare_worker
from logdigit.errors import InputError, OutputError
from logdigit.io.atomic import sha256_file
from logdigit.pipeline import InferOptions

QC_FORMATS: tuple[str, ...] = ("html", "png")
"""QC formats batch writes beside each LAS (``--qc``)."""


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will do.

    Attributes:
        outdir: the output folder (absolute).
        jobs: scans to digitise, in input order.
        skipped: scans done by an earlier run, unchanged (``status == "skipped"``).
        missing: inputs that do not exist (``status == "failed"``; recorded when run).
        settings: the settings fingerprint recorded with every scan.
    """

    outdir: Path
    jobs: tuple[BatchJob, ...]
    skipped: tuple[ScanResult, ...] = ()
    missing: tuple[ScanResult, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def manifest(self) -> Path:
        """``outdir/manifest.jsonl``."""
        return self.outdir / MANIFEST_NAME

    @property
    def total(self) -> int:
        """Every scan the batch reports on."""
        return len(self.jobs) + len(self.skipped) + len(self.missing)


def plan_batch(
    inputs: Iterable[str | os.PathLike],
    *,
    outdir: str | os.PathLike,
    layout: str | os.PathLike | None = None,
    options: InferOptions | None = None,
    recursive: bool = False,
    force: bool = False,
    overwrite: bool = False,
    qc: str | None = None,
    quality: bool = True,
    template: str | os.PathLike | None = None,
    stdin: IO[str] | None = None,
) -> BatchPlan:
    """Find the scans, name their outputs, and split them into jobs and scans already done.

    Args:
        inputs: files, folders, globs, or ``"-"`` (paths on ``stdin``); see :func:`collect_scans`.
        outdir: folder for ``<name>.las`` and ``manifest.jsonl`` (created if missing).
        layout: one layout file for every scan; None: each scan's sidecar
            ``<stem>.layout.toml``, else detected tracks (uncalibrated, with a warning).
        options: inference settings (those that shape the output are recorded).
        recursive: descend into sub-folders (and let ``**`` in globs do so).
        force: redo scans already done.
        overwrite: replace an existing ``<name>.las`` that this batch did not write (no
            ``done`` record of it in the manifest, or changed since: hand-edited, or from
            another tool). Without it such a file is kept unless it holds exactly what the
            scan gives (see :func:`iter_batch`). Outputs an earlier run wrote and nobody
            changed are replaced when their scan is redone.
        qc: also write each scan's QC beside its LAS: ``"html"`` (the viewer) or ``"png"``.
        quality: also write each scan's per-depth quality CSV beside its LAS.
        template: a family template registered onto every scan instead of a layout (see
            :func:`logdigit.image.template.register_template`); a scan it does not register
            onto is recorded as failed with the reason.

    Raises:
        InputError: no scans found, an unknown ``qc`` format, or ``layout`` or the weights
            cannot be used.
        OutputError: ``outdir`` cannot be created.
    """
    from logdigit.io.layout import find_layout, load_layout

    opts = options or InferOptions()
    if qc is not None and qc not in QC_FORMATS:
        raise InputError(f"--qc {qc!r}: unknown QC format; choose one of {', '.join(QC_FORMATS)}")
    scans = collect_scans(inputs, recursive=recursive, stdin=stdin)
    if not scans:
        raise InputError(
            "no scans found in the inputs; give scan files, folders or globs "
            f"({', '.join(SCAN_SUFFIXES)}), or '-' to read paths from stdin"
        )
    if layout is not None and template is not None:
        raise InputError("--layout and --template both given; use one")
    if template is not None:
        load_layout(template)  # one bad template is a usage error, not N failures
        layout = template
    if layout is not None:
        load_layout(layout)  # one bad layout for every scan is a usage error, not N failures
    out = _make_outdir(outdir)
    settings = _settings(opts)
    done = {} if force else read_manifest(out / MANIFEST_NAME)
    written = {} if overwrite else outputs_written(out / MANIFEST_NAME)
    jobs, skipped, missing = [], [], []
    for scan, name in zip(scans, output_names(scans), strict=True):
        scan_abs = str(Path(scan).resolve())
        if not Path(scan).exists():
            missing.append(
                ScanResult(
                    scan=scan_abs,
                    status="failed",
                    settings=settings,
                    finished=utc_now(),
                    error=f"{scan}: no such file or folder; check the path",
                )
            )
            continue
        lay = Path(layout) if layout is not None else find_layout(scan)
        stem = str(out / Path(name).stem)
        job = BatchJob(
            scan=scan_abs,
            output=str(out / name),
            layout=str(lay.resolve()) if lay else None,
            layout_sha256=sha256_file(lay) if lay else None,
            qc=f"{stem}.qc.{qc}" if qc else None,
            quality=f"{stem}.quality.csv" if quality else None,
            template=template is not None,
        )
        prev = done.get(scan_abs)
        if prev is not None and _still_done(prev, job, settings):
            skipped.append(dataclasses.replace(prev, status="skipped"))
        elif os.path.isfile(job.output) and (overwrite or _ours(job.output, written.get(job.output))):
            jobs.append(dataclasses.replace(job, overwrite=True))
        else:
            jobs.append(job)
    return BatchPlan(outdir=out, jobs=tuple(jobs), skipped=tuple(skipped), missing=tuple(missing), settings=settings)


def _ours(output: str, record: ScanResult | None) -> bool:
    """Whether the existing file ``output`` is as this batch's last ``done`` record of it left it."""
    return record is not None and _unchanged(output, record.output_bytes, record.output_mtime_ns, record.output_sha256)


def _make_outdir(outdir: str | os.PathLike) -> Path:
    out = Path(outdir).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{outdir}: cannot create the output folder ({exc.strerror}); choose a writable --outdir"
        ) from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{outdir}: output folder is not writable; choose another --outdir")
    return out


def _settings(opts: InferOptions) -> dict[str, Any]:
    """The options that shape the output, weights by content (the device does not count)."""
    from logdigit.errors import WeightsError
    from logdigit.model.weights import default_weights

    weights = Path(opts.weights) if opts.weights else default_weights()
    if not weights.is_file():
        raise WeightsError(f"{weights}: weights file not found; pass --weights PATH or reinstall the shipped model")
    data = {k: v for k, v in dataclasses.asdict(opts).items() if k not in ("weights", "device", "batch")}
    data = json.loads(json.dumps(data))  # tuples -> lists, as they read back from the manifest
    return {"weights_sha256": sha256_file(weights), **data}


def _still_done(prev: ScanResult, job: BatchJob, settings: dict[str, Any]) -> bool:
    """Whether an earlier ``done`` record still stands for ``job``."""
    if prev.status != "done" or prev.output != job.output or prev.settings != settings:
        return False
    if (prev.layout, prev.layout_sha256) != (job.layout, job.layout_sha256):
        return False
    if job.template != (prev.registration is not None):  # a layout file used now as a template, or back
        return False
    return _unchanged(job.output, prev.output_bytes, prev.output_mtime_ns, prev.output_sha256) and _unchanged(
        job.scan, prev.scan_bytes, prev.scan_mtime_ns, prev.scan_sha256
    )


def _unchanged(path: str, size: int | None, mtime_ns: int | None, sha: str | None) -> bool:
    """Same size and mtime as recorded (cheap), else the same sha256 (reads the file)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or size is None or st.st_size != size or sha is None:
        return False  # a FIFO or device is never read (it could block)
    return st.st_mtime_ns == mtime_ns or sha256_file(path) == sha


def iter_batch(
    plan: BatchPlan,
    *,
    options: InferOptions | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    torch_threads: int | None = None,
    task: Callable[..., ScanResult] = digitise_job,
) -> Generator[ScanResult, None, None]:
    """Run a plan and yield a :class:`ScanResult` per scan as each finishes.

    Skipped scans come first, then the rest in completion order. Each record is in the
    manifest before it is yielded. Close the iterator (or let an exception through) and
    the batch stops: nothing more is submitted, queued work is cancelled, the embedded
    cluster is closed and stray temporary files of unfinished outputs are removed.

    Args:
        plan: from :func:`plan_batch`.
        options: inference settings (the ones given to :func:`plan_batch`).
        workers: size of the embedded cluster (default: one per core, at most one per job;
            one with ``device="cuda"``).
        scheduler: address of an existing Dask scheduler (``tcp://host:8786``) to use
            instead; its workers need logdigit installed and the same paths.
        torch_threads: torch/OpenCV threads per task (default: cores / workers on the
            embedded cluster, 1 on an existing one, whose workers should run
            ``--nthreads 1``).
        task: the per-scan work run on the workers, ``task(job, options, settings, threads)``
            -> :class:`ScanResult` (default :func:`logdigit.batch.worker.digitise_job`); it
            must be picklable by value for an existing cluster.

    Raises:
        InputError: ``workers`` and ``scheduler`` both given, or the scheduler is unreachable.
        OutputError: the manifest cannot be written, or another batch holds it.
    """
    opts = options or InferOptions()
    check_cluster(workers=workers, scheduler=scheduler, torch_threads=torch_threads)
    manifest = ManifestWriter(plan.manifest)
    try:
        sweep_temp(plan.jobs)
        yield from plan.skipped
        for result in plan.missing:
            manifest.write(result)
            yield result
        if plan.jobs:
            with open_client(len(plan.jobs), opts, workers, scheduler) as (client, threads):
                yield from run_jobs(
                    client,
                    plan.jobs,
                    task=task,
                    options=opts,
                    settings=plan.settings,
                    manifest=manifest,
                    threads=torch_threads or threads,
                )
    finally:
        manifest.close()
        sweep_temp(plan.jobs)


def run_batch(
    inputs: Iterable[str | os.PathLike],
    *,
    outdir: str | os.PathLike,
    layout: str | os.PathLike | None = None,
    options: InferOptions | None = None,
    recursive: bool = False,
    force: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    torch_threads: int | None = None,
    progress: Callable[[ScanResult, int, int], None] | None = None,
    task: Callable[..., ScanResult] = digitise_job,
) -> list[ScanResult]:
    """:func:`plan_batch` then :func:`iter_batch` (``task`` as there); ``progress(result, done, total)`` per scan.

    Returns every scan's result (``done``, ``failed`` or ``skipped``).
    """
    opts = options or InferOptions()
    plan = plan_batch(
        inputs, outdir=outdir, layout=layout, options=opts, recursive=recursive, force=force, overwrite=overwrite
    )
    results: list[ScanResult] = []
    with contextlib.closing(
        iter_batch(plan, options=opts, workers=workers, scheduler=scheduler, torch_threads=torch_threads, task=task)
    ) as it:
        for result in it:
            results.append(result)
            if progress is not None:
                progress(result, len(results), plan.total)
    return results


__all__ = [
    "MANIFEST_NAME",
    "SCAN_SUFFIXES",
    "STATUSES",
    "BatchInterrupted",
    "BatchJob",
    "BatchPlan",
    "ManifestWriter",
    "ScanResult",
    "check_cluster",
    "check_scheduler",
    "collect_scans",
    "interrupt_on_signals",
    "iter_batch",
    "output_names",
    "plan_batch",
    "prepare_worker",
    "read_manifest",
    "run_batch",
    "summarise",
]
