"""The batch manifest: one JSON line per finished scan (``DIR/manifest.jsonl``), read back to resume."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logdigit import __version__
from logdigit.errors import OutputError

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"
"""The manifest's file name inside the output folder."""

STATUSES: tuple[str, ...] = ("done", "failed", "skipped")
"""``done``: LAS written; ``failed``: see ``error``; ``skipped``: done by an earlier run."""


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
        template: ``layout`` is a family template registered onto the scan (``--template``).
    """

    scan: str
    output: str
    layout: str | None = None
    layout_sha256: str | None = None
    overwrite: bool = False
    qc: str | None = None
    quality: str | None = None
    template: bool = False


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
        registration: with ``--template``: ``shift`` (px), ``edge_residual`` (px) and
            ``tie_residual`` (depth units) of the template registered onto the scan.
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
    registration: dict[str, Any] | None = None

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


def read_manifest(path: str | os.PathLike) -> dict[str, ScanResult]:
    """The last record of each scan in a manifest (none when the file does not exist).

    Lines that are not whole JSON objects (a line torn by a kill) are skipped with a warning.
    """
    return {rec.scan: rec for rec in _records(path, warn=True)}


def outputs_written(path: str | os.PathLike) -> dict[str, ScanResult]:
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
            raise OutputError(
                f"{self.path}: cannot open the manifest ({exc.strerror}); choose a writable --outdir"
            ) from None
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
            raise OutputError(
                f"{self.path}: another logdigit batch is writing to this folder; wait for it or choose another --outdir"
            ) from None

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


def utc_now() -> str:
    """Now, UTC, ISO 8601 with microseconds (the manifest's ``started``/``finished``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def one_line(exc: BaseException) -> str:
    """The first line of an error's message (its type name when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
