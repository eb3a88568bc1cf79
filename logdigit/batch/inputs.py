"""Batch inputs: scan files from files, folders, globs and stdin, and their output names."""

from __future__ import annotations

import glob
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

SCAN_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
"""File suffixes taken from a folder or a glob (any case); files named one by one may be anything."""


def collect_scans(
    inputs: Iterable[str | os.PathLike], *, recursive: bool = False, stdin: IO[str] | None = None
) -> list[Path]:
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
            found += collect_scans(
                [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")], recursive=recursive
            )
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
    return sorted(
        p
        for p in files
        if p.is_file() and _is_scan(p) and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


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
