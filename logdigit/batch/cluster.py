"""The Dask side of a batch: the cluster (embedded or existing), submitting and collecting tasks, and
stopping on SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from logdigit.batch.manifest import BatchJob, ManifestWriter, ScanResult, one_line, utc_now
from logdigit.errors import InputError
from logdigit.pipeline import InferOptions

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 64
"""Fewest tasks kept submitted at once (more with many workers); the rest wait on the client."""


class BatchInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a batch; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = int(signum)
        self.exit_code = 128 + int(signum)


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`BatchInterrupted`.

    The first signal raises; a second one is ignored so the clean-up (cancel, close the
    cluster, record what finished) runs to its end; a third exits at once with 128 + the
    signal number (outputs are atomic, so even then no partial LAS is left). Only in the
    main thread (elsewhere signals cannot be handled, and the block does nothing).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum, frame):
        fired.append(signum)
        if len(fired) == 1:
            raise BatchInterrupted(signum)
        if len(fired) == 2:
            log.warning("still stopping the batch; send the signal once more to exit at once")
        else:
            os._exit(128 + signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def check_cluster(
    *, workers: int | None = None, scheduler: str | None = None, torch_threads: int | None = None
) -> None:
    """Refuse cluster settings :func:`iter_batch` cannot use, before planning or connecting.

    Raises:
        InputError: ``workers`` or ``torch_threads`` below 1, both ``workers`` and
            ``scheduler``, or a scheduler address :func:`check_scheduler` refuses.
    """
    if workers is not None and scheduler is not None:
        raise InputError(
            "--workers sizes the embedded cluster; with --scheduler, size the cluster "
            "with `dask worker --nworkers N` instead"
        )
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: expected at least 1")
    if torch_threads is not None and torch_threads < 1:
        raise InputError(f"--torch-threads {torch_threads}: expected at least 1, or leave it out for the default")
    if scheduler is not None:
        check_scheduler(scheduler)


def check_scheduler(address: str) -> str:
    """Refuse a Dask scheduler address that is not ``PROTOCOL://HOST:PORT`` before connecting.

    Protocols are those ``distributed`` has (tcp, tls, ws, wss, ucx; inproc needs no port);
    a bare ``HOST:PORT`` means tcp, as for ``distributed.Client``.

    Raises:
        InputError: one line naming ``--scheduler``, what is wrong and the form to use.

    >>> check_scheduler("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    fix = "give it as tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (see `dask scheduler`)"
    try:
        scheme, loc = parse_address(address)
    except ValueError:
        raise InputError(f"--scheduler {address!r}: not a scheduler address; {fix}") from None
    if scheme not in backends:
        raise InputError(
            f"--scheduler {address!r}: unknown protocol {scheme!r} (known: {', '.join(sorted(backends))}); {fix}"
        )
    if scheme == "inproc":
        return address
    try:
        host, port = parse_host_port(loc)
    except (ValueError, TypeError):
        raise InputError(f"--scheduler {address!r}: expected HOST:PORT after {scheme}://; {fix}") from None
    if not host or not 0 < int(port) < 65536:
        raise InputError(f"--scheduler {address!r}: needs a host and a port from 1 to 65535; {fix}")
    return address


@contextlib.contextmanager
def open_client(n_jobs: int, opts: InferOptions, workers: int | None, scheduler: str | None):
    """A Dask client on the given scheduler or on an embedded LocalCluster (at most one worker per
    job), and the torch threads per task."""
    import dask
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: cannot connect ({one_line(exc)}); start one with "
                "`dask scheduler`, or leave --scheduler out to run on this machine"
            ) from None
        try:
            yield client, 1
        finally:
            client.close()
        return
    default = 1 if opts.device.startswith("cuda") else CPU_COUNT
    n = workers or max(1, min(default, n_jobs))
    # One retry after a worker dies: a scan that crashes a decoder twice is failed, not retried 3x.
    # Workers start with SIGINT ignored: Ctrl-C reaches the whole process group, and stopping is
    # this process's job (cancel, close the cluster), not a traceback from every worker.
    # Worker processes log at this process's level for Dask (the CLI raises it unless --verbose), at
    # least WARNING: their start-up lines and the heartbeat errors of a closing cluster are noise.
    quiet = max(logging.getLogger("distributed").getEffectiveLevel(), logging.WARNING)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), _sigint_ignored():
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=quiet
        )
    try:
        client = Client(cluster)
        try:
            yield client, max(1, CPU_COUNT // n)
        finally:
            client.close()
    finally:
        cluster.close()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored within the block (inherited by processes spawned in it); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def run_jobs(
    client,
    jobs: Sequence[BatchJob],
    *,
    task: Callable[..., ScanResult],
    options: InferOptions,
    settings: dict[str, Any],
    manifest: ManifestWriter,
    threads: int,
) -> Iterator[ScanResult]:
    """Keep a window of tasks submitted; record and yield each result as it comes.

    ``task(job, options, settings, threads)`` runs on the workers and returns the job's
    :class:`ScanResult` (:func:`logdigit.batch.worker.digitise_job`).
    """
    from distributed import as_completed

    pending = iter(jobs)
    futures: dict[Any, BatchJob] = {}
    done = as_completed()
    window = max(DEFAULT_WINDOW, 4 * sum(client.nthreads().values()))

    def submit() -> None:
        job = next(pending, None)
        if job is not None:
            key = f"logdigit-{Path(job.scan).stem}-{uuid.uuid4().hex[:8]}"
            fut = client.submit(task, job, options, settings, threads, key=key, pure=False)
            futures[fut] = job
            done.add(fut)

    for _ in range(window):
        submit()
    unreported: list[ScanResult] = []  # in the manifest, not yet in the caller's hands
    try:
        for fut in done:
            result = collect(fut, futures.pop(fut), settings)
            unreported = [result]
            manifest.write(result)
            yield result
            unreported = []
            submit()
    except BaseException as exc:  # interrupted or closed: record what finished, drop the rest
        if unreported and manifest.last is not unreported[-1]:  # a signal came before the write
            manifest.write(unreported[-1])
        for fut, job in list(futures.items()):
            if fut.status in ("finished", "error"):
                with contextlib.suppress(Exception):
                    unreported.append(collect(fut, job, settings))
                    manifest.write(unreported[-1])
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        if isinstance(exc, KeyboardInterrupt):
            exc.unreported = unreported  # type: ignore[attr-defined]  # for the caller's summary
        raise


def collect(fut, job: BatchJob, settings: dict[str, Any]) -> ScanResult:
    """The task's result, or a ``failed`` record when the cluster could not run it."""
    from distributed import KilledWorker

    try:
        return fut.result()
    except KilledWorker as exc:
        worker = getattr(getattr(exc, "last_worker", None), "address", "?")
        tries = getattr(exc, "allowed_failures", 0)
        tries = tries + 1 if isinstance(tries, int) else "?"
        error = (
            f"{job.scan}: the worker died while digitising this scan (KilledWorker: {tries} worker(s) died, "
            f"last {worker}); it may be too large for worker memory or crash a decoder; see the worker logs"
        )
    except Exception as exc:  # e.g. a worker without logdigit installed cannot unpickle the task
        error = f"{job.scan}: the cluster could not run this scan ({type(exc).__name__}: {one_line(exc)})"
    return ScanResult(
        scan=job.scan,
        status="failed",
        output=job.output,
        error=error,
        layout=job.layout,
        layout_sha256=job.layout_sha256,
        settings=settings,
        finished=utc_now(),
    )


def sweep_temp(jobs: Iterable[BatchJob]) -> None:
    """Remove temporary files of these outputs (``.NAME.*.las``, see logdigit.io.atomic) left by a killed worker."""
    for job in jobs:
        out = Path(job.output)
        for tmp in out.parent.glob(f".{glob.escape(out.name)}.*{out.suffix}"):
            with contextlib.suppress(OSError):
                tmp.unlink()
