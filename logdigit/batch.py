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
import datetime as _dt
import glob
import json
import logging
import os
import signal
import stat
import sys
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from logdigit import __version__
from logdigit.errors import InputError, LogdigitError, OutputError
from logdigit.pipeline import InferOptions

log = logging.getLogger(__name__)

SCAN_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
"""File suffixes taken from a folder or a glob (any case); files named one by one may be anything."""

QC_FORMATS: tuple[str, ...] = ("html", "png")
"""QC formats batch writes beside each LAS (``--qc``)."""

MANIFEST_NAME = "manifest.jsonl"
"""The manifest's file name inside the output folder."""

STATUSES: tuple[str, ...] = ("done", "failed", "skipped")
"""``done``: LAS written; ``failed``: see ``error``; ``skipped``: done by an earlier run."""

DEFAULT_WINDOW = 64
"""Fewest tasks kept submitted at once (more with many workers); the rest wait on the client."""


class BatchInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a batch; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = int(signum)
        self.exit_code = 128 + int(signum)


@dataclass(frozen=True)
class BatchJob:
    """One scan to digitise.

    Attributes:
        scan: absolute path of the scan.
        output: absolute path of its LAS file (``outdir/<name>.las``).
        layout: the layout file used (``--layout`` or the sidecar), or None: detect tracks.
        layout_sha256: sha256 of the layout file's bytes, or None.
        overwrite: the output may be replaced if it exists (``--overwrite``, or the file is
            the one an earlier run of this batch wrote, unchanged).
        qc: the QC file written beside the LAS (``<name>.qc.html`` or ``.png``), or None.
        quality: the per-depth quality CSV beside the LAS (``<name>.quality.csv``), or None.
    """

    scan: str
    output: str
    layout: str | None = None
    layout_sha256: str | None = None
    overwrite: bool = False
    qc: str | None = None
    quality: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """What became of one scan; also one line of the manifest (:meth:`to_dict`).

    Attributes:
        scan: absolute path of the scan.
        status: one of :data:`STATUSES`.
        output: the LAS file (written when ``status`` is ``done``).
        error: one line saying what went wrong (``failed`` only).
        scan_sha256, scan_bytes, scan_mtime_ns: the scan file as digitised.
        layout, layout_sha256: the layout file used, None when tracks were detected.
        output_sha256, output_bytes, output_mtime_ns: the LAS file as written.
        seconds: wall seconds per stage (``hash``, ``model``, the pipeline's stages, ``total``).
        warnings: messages for the user, e.g. "no layout file; uncalibrated output".
        curves, samples, calibrated: what the LAS holds.
        settings: the inference settings that shape the output (a re-run with other
            settings redoes the scan).
        worker: the Dask worker that ran it.
        started, finished: UTC times, ISO 8601.
        traceback: for unexpected errors only, to report as a bug.
    """

    scan: str
    status: str
    output: str | None = None
    error: str | None = None
    scan_sha256: str | None = None
    scan_bytes: int | None = None
    scan_mtime_ns: int | None = None
    layout: str | None = None
    layout_sha256: str | None = None
    output_sha256: str | None = None
    output_bytes: int | None = None
    output_mtime_ns: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    curves: tuple[str, ...] = ()
    samples: int | None = None
    calibrated: bool | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    worker: str | None = None
    started: str | None = None
    finished: str | None = None
    logdigit: str = __version__
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON-ready data (None-valued ``traceback`` left out)."""
        data = dataclasses.asdict(self)
        data["warnings"], data["curves"] = list(self.warnings), list(self.curves)
        if data["traceback"] is None:
            del data["traceback"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanResult:
        """Read a manifest record back; unknown keys (from newer versions) are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        kw["warnings"] = tuple(kw.get("warnings") or ())
        kw["curves"] = tuple(kw.get("curves") or ())
        return cls(**kw)


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


# --------------------------------------------------------------------------- inputs


def collect_scans(inputs: Iterable[str | os.PathLike], *, recursive: bool = False,
                  stdin: IO[str] | None = None) -> list[Path]:
    """Expand files, folders, globs and ``-`` (one path per line on ``stdin``) into scan paths.

    Folders give their scan files (:data:`SCAN_SUFFIXES`; hidden files and folders left
    out), sorted, and their sub-folders' too with ``recursive``; globs are expanded here as
    well (shells may pass them quoted; ``**`` needs ``recursive``) and keep only scan files.
    A file named one by one is kept whatever its suffix, and so is a path that does not
    exist (the batch reports it as failed). Duplicates are dropped; order follows the inputs.

    Example:
        >>> collect_scans(["no/such/scan.tif"])
        [PosixPath('no/such/scan.tif')]
    """
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        if text == "-":
            lines = (stdin if stdin is not None else sys.stdin).read().splitlines()
            found += collect_scans([ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")],
                                   recursive=recursive)
        else:
            found += _expand(text, recursive)
    return _unique(found)


def _expand(text: str, recursive: bool) -> list[Path]:
    path = Path(text)
    if path.is_dir():
        return _scans_in(path, recursive)
    if path.exists() or not glob.has_magic(text):
        return [path]
    matches = sorted(glob.glob(text, recursive=recursive))
    if not matches:
        log.warning("%s: matches no files", text)
    out: list[Path] = []
    for m in map(Path, matches):
        if m.is_dir():
            out += _scans_in(m, recursive)
        elif _is_scan(m):
            out.append(m)
    return out


def _scans_in(folder: Path, recursive: bool) -> list[Path]:
    files = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in files if p.is_file() and _is_scan(p)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _is_scan(path: Path) -> bool:
    return path.suffix.lower() in SCAN_SUFFIXES


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: set[Path] = set()
    out = []
    for p in paths:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def output_names(scans: Sequence[str | os.PathLike]) -> list[str]:
    """A distinct LAS file name for each scan: ``<stem>.las``, disambiguated when stems collide.

    Colliding stems take their parent folders' names in front (``a/x.png``, ``b/x.png`` ->
    ``a_x.las``, ``b_x.las``), then their suffix (``x.png``, ``x.tif`` -> ``x_png.las``,
    ``x_tif.las``), then a number. Names compare case-insensitively (some file systems do).

    Example:
        >>> output_names(["a/x.png", "b/x.png", "b/y.tif"])
        ['a_x.las', 'b_x.las', 'y.las']
    """
    paths = [Path(os.path.abspath(p)) for p in scans]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(paths):
        groups[p.stem.lower()].append(i)
    names = [p.stem for p in paths]
    for idx in groups.values():
        if len(idx) > 1:
            for i, name in zip(idx, _disambiguate([paths[i] for i in idx]), strict=True):
                names[i] = name
    return [n + ".las" for n in _number_repeats(names)]


def _disambiguate(group: list[Path]) -> list[str]:
    depth = max(len(p.parent.parts) for p in group)
    for k in range(1, depth):
        cand = ["_".join([*p.parent.parts[1:][-k:], p.stem]) for p in group]
        if len({c.lower() for c in cand}) == len(cand):
            return cand
    return [f"{p.stem}_{p.suffix.lstrip('.')}" if p.suffix else p.stem for p in group]


def _number_repeats(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        key = n.lower()
        seen[key] = seen.get(key, 0) + 1
        out.append(n if seen[key] == 1 else f"{n}_{seen[key]}")
    return out


# --------------------------------------------------------------------------- manifest


def read_manifest(path: str | os.PathLike) -> dict[str, ScanResult]:
    """The last record of each scan in a manifest (none when the file does not exist).

    Lines that are not whole JSON objects (a line torn by a kill) are skipped with a warning.
    """
    return {rec.scan: rec for rec in _records(path, warn=True)}


def _written(path: str | os.PathLike) -> dict[str, ScanResult]:
    """The last ``done`` record of each output file in a manifest: what this batch wrote there."""
    return {rec.output: rec for rec in _records(path, warn=False) if rec.status == "done" and rec.output}


def _records(path: str | os.PathLike, *, warn: bool) -> Iterator[ScanResult]:
    p = Path(path)
    if not p.is_file():
        return
    with open(p, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield ScanResult.from_dict(json.loads(line))
            except (ValueError, TypeError, AttributeError):
                if warn:
                    log.warning("%s: line %d is not a whole record (torn by an interrupted run?); ignored", p, n)


class ManifestWriter:
    """Append records to the manifest, one JSON line each, flushed and synced per record.

    ``last`` is the last record written (None before the first).

    Holds an exclusive lock on the file (POSIX) so two batches never write one folder.
    A torn last line left by a killed run is ended first, so it stays one bad line.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot open the manifest ({exc.strerror}); "
                              "choose a writable --outdir") from None
        self.last: ScanResult | None = None
        self._lock()
        if not _ends_with_newline(self.path):
            os.write(self._fd, b"\n")

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise OutputError(f"{self.path}: another logdigit batch is writing to this folder; "
                              "wait for it or choose another --outdir") from None

    def write(self, result: ScanResult) -> None:
        """Append one record (a single ``write`` call, so lines never interleave)."""
        os.write(self._fd, (json.dumps(result.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))
        self.last = result
        with contextlib.suppress(OSError):
            os.fsync(self._fd)

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _ends_with_newline(path: Path) -> bool:
    """True for an empty file or one whose last byte is a newline."""
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


# --------------------------------------------------------------------------- planning


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
        raise InputError("no scans found in the inputs; give scan files, folders or globs "
                         f"({', '.join(SCAN_SUFFIXES)}), or '-' to read paths from stdin")
    if layout is not None:
        load_layout(layout)  # one bad layout for every scan is a usage error, not N failures
    out = _make_outdir(outdir)
    settings = _settings(opts)
    done = {} if force else read_manifest(out / MANIFEST_NAME)
    written = {} if overwrite else _written(out / MANIFEST_NAME)
    jobs, skipped, missing = [], [], []
    for scan, name in zip(scans, output_names(scans), strict=True):
        scan_abs = str(Path(scan).resolve())
        if not Path(scan).exists():
            missing.append(ScanResult(scan=scan_abs, status="failed", settings=settings, finished=_now(),
                                      error=f"{scan}: no such file or folder; check the path"))
            continue
        lay = Path(layout) if layout is not None else find_layout(scan)
        stem = str(out / Path(name).stem)
        job = BatchJob(scan=scan_abs, output=str(out / name), layout=str(lay.resolve()) if lay else None,
                       layout_sha256=_sha256(lay) if lay else None, qc=f"{stem}.qc.{qc}" if qc else None,
                       quality=f"{stem}.quality.csv" if quality else None)
        prev = done.get(scan_abs)
        if prev is not None and _still_done(prev, job, settings):
            skipped.append(dataclasses.replace(prev, status="skipped"))
        elif os.path.isfile(job.output) and (overwrite or _ours(job.output, written.get(job.output))):
            jobs.append(dataclasses.replace(job, overwrite=True))
        else:
            jobs.append(job)
    return BatchPlan(outdir=out, jobs=tuple(jobs), skipped=tuple(skipped), missing=tuple(missing),
                     settings=settings)


def _ours(output: str, record: ScanResult | None) -> bool:
    """Whether the existing file ``output`` is as this batch's last ``done`` record of it left it."""
    return record is not None and _unchanged(output, record.output_bytes, record.output_mtime_ns,
                                             record.output_sha256)


def _make_outdir(outdir: str | os.PathLike) -> Path:
    out = Path(outdir).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create the output folder ({exc.strerror}); "
                          "choose a writable --outdir") from None
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
    return {"weights_sha256": _sha256(weights), **data}


def _still_done(prev: ScanResult, job: BatchJob, settings: dict[str, Any]) -> bool:
    """Whether an earlier ``done`` record still stands for ``job``."""
    if prev.status != "done" or prev.output != job.output or prev.settings != settings:
        return False
    if (prev.layout, prev.layout_sha256) != (job.layout, job.layout_sha256):
        return False
    return (_unchanged(job.output, prev.output_bytes, prev.output_mtime_ns, prev.output_sha256)
            and _unchanged(job.scan, prev.scan_bytes, prev.scan_mtime_ns, prev.scan_sha256))


def _unchanged(path: str, size: int | None, mtime_ns: int | None, sha: str | None) -> bool:
    """Same size and mtime as recorded (cheap), else the same sha256 (reads the file)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or size is None or st.st_size != size or sha is None:
        return False  # a FIFO or device is never read (it could block)
    return st.st_mtime_ns == mtime_ns or _sha256(path) == sha


def _sha256(path: str | os.PathLike) -> str:
    from logdigit.io.atomic import sha256_file

    return sha256_file(path)


# --------------------------------------------------------------------------- running


def iter_batch(
    plan: BatchPlan,
    *,
    options: InferOptions | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    torch_threads: int | None = None,
) -> Iterator[ScanResult]:
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

    Raises:
        InputError: ``workers`` and ``scheduler`` both given, or the scheduler is unreachable.
        OutputError: the manifest cannot be written, or another batch holds it.
    """
    opts = options or InferOptions()
    check_cluster(workers=workers, scheduler=scheduler, torch_threads=torch_threads)
    manifest = ManifestWriter(plan.manifest)
    try:
        _sweep_temp(plan.jobs)
        yield from plan.skipped
        for result in plan.missing:
            manifest.write(result)
            yield result
        if plan.jobs:
            with _client(plan, opts, workers, scheduler) as (client, threads):
                yield from _run(client, plan, opts, manifest, torch_threads or threads)
    finally:
        manifest.close()
        _sweep_temp(plan.jobs)


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
) -> list[ScanResult]:
    """:func:`plan_batch` then :func:`iter_batch`; ``progress(result, done, total)`` per scan.

    Returns every scan's result (``done``, ``failed`` or ``skipped``).
    """
    opts = options or InferOptions()
    plan = plan_batch(inputs, outdir=outdir, layout=layout, options=opts, recursive=recursive, force=force,
                      overwrite=overwrite)
    results: list[ScanResult] = []
    with contextlib.closing(iter_batch(plan, options=opts, workers=workers, scheduler=scheduler,
                                       torch_threads=torch_threads)) as it:
        for result in it:
            results.append(result)
            if progress is not None:
                progress(result, len(results), plan.total)
    return results


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


def check_cluster(*, workers: int | None = None, scheduler: str | None = None,
                  torch_threads: int | None = None) -> None:
    """Refuse cluster settings :func:`iter_batch` cannot use, before planning or connecting.

    Raises:
        InputError: ``workers`` or ``torch_threads`` below 1, both ``workers`` and
            ``scheduler``, or a scheduler address :func:`check_scheduler` refuses.
    """
    if workers is not None and scheduler is not None:
        raise InputError("--workers sizes the embedded cluster; with --scheduler, size the cluster "
                         "with `dask worker --nworkers N` instead")
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
        raise InputError(f"--scheduler {address!r}: unknown protocol {scheme!r} (known: "
                         f"{', '.join(sorted(backends))}); {fix}")
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
def _client(plan: BatchPlan, opts: InferOptions, workers: int | None, scheduler: str | None):
    """A Dask client on the given scheduler or on an embedded LocalCluster, and the torch threads per task."""
    import dask
    from dask.system import CPU_COUNT
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect ({_one_line(exc)}); start one with "
                             "`dask scheduler`, or leave --scheduler out to run on this machine") from None
        try:
            yield client, 1
        finally:
            client.close()
        return
    default = 1 if opts.device.startswith("cuda") else CPU_COUNT
    n = workers or max(1, min(default, len(plan.jobs)))
    # One retry after a worker dies: a scan that crashes a decoder twice is failed, not retried 3x.
    # Workers start with SIGINT ignored: Ctrl-C reaches the whole process group, and stopping is
    # this process's job (cancel, close the cluster), not a traceback from every worker.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), _sigint_ignored():
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
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


def _run(client, plan: BatchPlan, opts: InferOptions, manifest: ManifestWriter, threads: int):
    """Keep a window of tasks submitted; record and yield each result as it comes."""
    from distributed import as_completed

    pending = iter(plan.jobs)
    futures: dict[Any, BatchJob] = {}
    done = as_completed()
    window = max(DEFAULT_WINDOW, 4 * sum(client.nthreads().values()))

    def submit() -> None:
        job = next(pending, None)
        if job is not None:
            key = f"logdigit-{Path(job.scan).stem}-{uuid.uuid4().hex[:8]}"
            fut = client.submit(_digitise_job, job, opts, plan.settings, threads, key=key, pure=False)
            futures[fut] = job
            done.add(fut)

    for _ in range(window):
        submit()
    unreported: list[ScanResult] = []  # in the manifest, not yet in the caller's hands
    try:
        for fut in done:
            result = _collect(fut, futures.pop(fut), plan.settings)
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
                    unreported.append(_collect(fut, job, plan.settings))
                    manifest.write(unreported[-1])
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        if isinstance(exc, KeyboardInterrupt):
            exc.unreported = unreported  # type: ignore[attr-defined]  # for the caller's summary
        raise


def _collect(fut, job: BatchJob, settings: dict[str, Any]) -> ScanResult:
    """The task's result, or a ``failed`` record when the cluster could not run it."""
    from distributed import KilledWorker

    try:
        return fut.result()
    except KilledWorker as exc:
        worker = getattr(getattr(exc, "last_worker", None), "address", "?")
        tries = getattr(exc, "allowed_failures", 0)
        tries = tries + 1 if isinstance(tries, int) else "?"
        error = (f"{job.scan}: the worker died while digitising this scan (KilledWorker: {tries} worker(s) died, "
                 f"last {worker}); it may be too large for worker memory or crash a decoder; see the worker logs")
    except Exception as exc:  # e.g. a worker without logdigit installed cannot unpickle the task
        error = f"{job.scan}: the cluster could not run this scan ({type(exc).__name__}: {_one_line(exc)})"
    return ScanResult(scan=job.scan, status="failed", output=job.output, error=error, layout=job.layout,
                      layout_sha256=job.layout_sha256, settings=settings, finished=_now())


def _sweep_temp(jobs: Iterable[BatchJob]) -> None:
    """Remove temporary files of these outputs (``.NAME.*.las``, see logdigit.io.atomic) left by a killed worker."""
    for job in jobs:
        out = Path(job.output)
        for tmp in out.parent.glob(f".{glob.escape(out.name)}.*{out.suffix}"):
            with contextlib.suppress(OSError):
                tmp.unlink()


# --------------------------------------------------------------------------- on the worker

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


def _digitise_job(job: BatchJob, opts: InferOptions, settings: dict[str, Any], threads: int) -> ScanResult:
    """Digitise one scan on a worker; never raises for a bad scan (returns a ``failed`` record)."""
    from logdigit.pipeline import digitise_to_files

    started, t0 = _now(), time.perf_counter()
    base = dict(scan=job.scan, output=job.output, layout=job.layout, layout_sha256=job.layout_sha256,
                settings=settings, worker=_worker_name(), started=started)
    seconds: dict[str, float] = {}
    scan_meta: dict[str, Any] = {}
    try:
        scan_meta = _file_meta(job.scan, "scan")
        seconds["hash"] = time.perf_counter() - t0
        t = time.perf_counter()
        prepare_worker(opts, threads=threads)  # the model is loaded once per worker process
        seconds["model"] = time.perf_counter() - t
        if job.overwrite or not os.path.isfile(job.output):
            result, target = digitise_to_files(job.scan, out=job.output, qc=job.qc, quality=job.quality,
                                               layout=job.layout, options=opts, overwrite=job.overwrite)
        else:
            result, target = _keep_if_same(job, opts)
    except LogdigitError as exc:
        return ScanResult(status="failed", error=str(exc), **scan_meta, **base,
                          seconds=_total(seconds, t0), finished=_now())
    except Exception as exc:  # a bug in one stage must not stop the archive
        return ScanResult(status="failed", **scan_meta, **base, seconds=_total(seconds, t0), finished=_now(),
                          error=f"{job.scan}: internal error ({type(exc).__name__}: {_one_line(exc)}); "
                                "report it as a logdigit bug with the traceback from the manifest",
                          traceback=traceback.format_exc())
    seconds.update(result.timings)
    return ScanResult(status="done", **scan_meta, **_file_meta(target, "output"), **base,
                      seconds=_total(seconds, t0), warnings=tuple(result.warnings),
                      curves=tuple(c.mnemonic for c in result.curves.curves),
                      samples=int(len(result.curves.depth)), calibrated=bool(result.layout.calibrated),
                      finished=_now())


def _keep_if_same(job: BatchJob, opts: InferOptions):
    """Digitise a scan whose output exists but is not known to be this batch's (no ``done`` record
    of it as it is): keep the file when it holds exactly what the scan gives now (a stopped run's
    own output, renamed into place before its record was written), else refuse and keep it."""
    import tempfile

    from logdigit.io.las import write_las
    from logdigit.pipeline import check_outputs, digitise

    check_outputs([(job.scan, job.output, None)], layout=job.layout, options=opts, overwrite=True)
    result = digitise(job.scan, layout=job.layout, options=opts)
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
        raise OutputError(f"{out}: already exists and this batch did not write it (no record of it in "
                          f"{MANIFEST_NAME}, or changed since, e.g. hand-edited); it was left as it is; pass "
                          "--overwrite to replace it, or move it away")
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


def _file_meta(path: str, prefix: str) -> dict[str, Any]:
    """``{prefix}_sha256``, ``_bytes``, ``_mtime_ns`` of a file; empty if it cannot be read
    (the pipeline then says why)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return {}  # a FIFO or device: reading it could block
        sha = _sha256(path)
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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def summarise(results: Iterable[ScanResult]) -> dict[str, int]:
    """Counts per status, e.g. ``{"done": 5, "skipped": 0, "failed": 1}``.

    Example:
        >>> summarise([ScanResult("a.png", "done"), ScanResult("b.png", "failed")])
        {'done': 1, 'skipped': 0, 'failed': 1}
    """
    counts = dict.fromkeys(("done", "skipped", "failed"), 0)
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


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
