"""File output: atomic for files, a plain stream for stdout, FIFOs and character devices.

A file is written to a temporary file beside it, then renamed onto it: a reader (or an
interrupted run) never sees a partial file, either the old file or the new one is there.
``-`` (stdout), an existing FIFO and an existing character device (``/dev/null``, a
terminal) are written as streams: a rename would replace the node itself with a regular
file. A symbolic link is followed, so the file it points to is replaced, not the link.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from logdigit.errors import OutputError


def output_kind(path: str | os.PathLike) -> str:
    """How ``path`` is written: ``"stdout"`` (``-``), ``"stream"`` (an existing FIFO or
    character device), ``"file"`` (an existing regular file, replaced atomically) or
    ``"new"`` (nothing there yet, or a folder, which the rename then refuses).

    Raises:
        OutputError: an existing block device or socket (never written).

    Example:
        >>> output_kind("-"), output_kind("/dev/null"), output_kind("no/such/file.las")
        ('stdout', 'stream', 'new')
    """
    if os.fspath(path) == "-":
        return "stdout"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "new"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "stream"
    if stat.S_ISDIR(mode):
        return "new"
    kind = "block device" if stat.S_ISBLK(mode) else "socket" if stat.S_ISSOCK(mode) else "special file"
    raise OutputError(
        f"{path}: is a {kind}; logdigit writes only files, FIFOs and character devices; choose a file path"
    )


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same device and inode when both exist (so hard
    and symbolic links count), else the same path once symbolic links are resolved.

    Example:
        >>> same_file("a/../b.las", "b.las"), same_file("a.las", "b.las")
        (True, False)
    """
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    ``suffix`` defaults to the target's suffix (so writers that pick a format by
    extension, like ``cv2.imwrite``, still work). A symbolic link is followed: the file
    it points to is replaced and the link stays.

    Raises:
        OutputError: if the folder does not exist or is not writable, or the target is
            a FIFO, a device or a socket (see :func:`open_output` for streams).
    """
    target = Path(path)
    if output_kind(target) == "stream":
        raise OutputError(
            f"{target}: is a FIFO or a device, which a rename would replace; "
            "write it as a stream (logdigit.io.atomic.open_output)"
        )
    real = Path(os.path.realpath(target)) if target.is_symlink() else target
    folder = real.parent if str(real.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{target}: output folder {folder} does not exist; create it or choose another path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=suffix or real.suffix, dir=folder)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write in {folder} ({exc.strerror}); choose a writable path") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the finished file the mode a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, real)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def open_output(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open ``path`` for writing as :func:`output_kind` says: ``-`` gives stdout (left
    open), a FIFO or character device is opened and written in place, anything else
    is written atomically through :func:`atomic_path`.

    Args:
        path: the target, or ``"-"``.
        mode: ``"w"`` (text, UTF-8, ``\\n`` line ends) or ``"wb"``.

    Raises:
        OutputError: as :func:`atomic_path`, or the target is a block device or socket.

    Example:
        >>> with open_output("/dev/null") as f:
        ...     _ = f.write("~Version\\n")
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    text: dict[str, Any] = {"encoding": "utf-8", "newline": "\n"} if mode == "w" else {}
    kind = output_kind(path)
    if kind == "stdout":
        yield sys.stdout if mode == "w" else sys.stdout.buffer
        (sys.stdout if mode == "w" else sys.stdout.buffer).flush()
    elif kind == "stream":
        with open(path, mode, **text) as f:
            yield f
    else:
        with atomic_path(path) as tmp, open(tmp, mode, **text) as f:
            yield f


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8) and return the path; a FIFO or
    character device is written as a stream (see :func:`open_output`)."""
    with open_output(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path (streams as above)."""
    with open_output(path, "wb") as f:
        f.write(data)
    return Path(path)


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, hex, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
