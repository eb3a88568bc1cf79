"""The project's small error hierarchy.

Every error a user can cause is a :class:`LogdigitError`; the CLI maps it to one
clean line on stderr and a non-zero exit code. Each subclass also inherits the
fitting builtin so library callers can catch ``ValueError`` / ``OSError`` as usual.
Messages name the file, the field and the fix.
"""

from __future__ import annotations


class LogdigitError(Exception):
    """Base class of every error logdigit raises on purpose."""

    exit_code = 1


class InputError(LogdigitError, ValueError):
    """A scan, layout or LAS file that cannot be used as given (exit code 2)."""

    exit_code = 2


class LayoutError(InputError):
    """A layout file with a missing, unknown or invalid key."""


class ScanError(InputError):
    """A scan that cannot be read: missing, truncated, not an image, too large."""


class WeightsError(InputError):
    """A weights file that is not plain data or does not match its config."""


class OutputError(LogdigitError, OSError):
    """An output path that cannot be written (exit code 3)."""

    exit_code = 3
