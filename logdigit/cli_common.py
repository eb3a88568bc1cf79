"""Pieces shared by the CLI modules (kept apart so ``cli_batch`` need not import ``cli``)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

MaxGapOpt = Annotated[int | None, typer.Option(
    "--max-gap", min=0, max=1000, metavar="ROWS", show_default=False,
    help="Longest gap in a curve, in pixel rows, filled by linear interpolation (listed in the LAS ~Other "
         "section); longer gaps are NULL. Default 15 (0.05 in at 300 dpi, a dashed line's gap).")]
"""``--max-gap`` of ``infer`` and ``batch`` (None: ``InferOptions``' default,
``logdigit.trace.DEFAULT_MAX_GAP``; the bounds are ``0..logdigit.trace.MAX_GAP_LIMIT``)."""


def parse_probabilities(text: str | None, flag: str) -> tuple[float, float] | None:
    """``"0.5"`` -> (0.5, 0.5); ``"0.5,0.4"`` -> (0.5, 0.4); None -> None.

    Raises:
        InputError: not one or two numbers strictly between 0 and 1.

    >>> parse_probabilities("0.5", "--threshold"), parse_probabilities("0.3,0.6", "--hysteresis")
    ((0.5, 0.5), (0.3, 0.6))
    """
    from logdigit.errors import InputError

    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(0.0 < v < 1.0 for v in values):
        raise InputError(f"{flag} {text!r}: expected one or two probabilities in (0, 1), e.g. 0.5 or 0.5,0.4")
    return values  # type: ignore[return-value]


def say(console, text: object, *, label: str = "", style: str = "") -> None:
    """Print one message on ``console`` exactly as given: never parsed as rich markup.

    Paths and messages may hold ``[...]`` (``old [/x.png``, ``[[tracks]]``); rich would
    read those as style tags, drop them or fail. Only ``label`` (e.g. ``"error:"``) is
    styled, with ``style`` (e.g. ``"bold red"``).
    """
    from rich.text import Text

    line = Text.assemble((label, style), " ", str(text)) if label else Text(str(text))
    console.print(line, highlight=False, soft_wrap=True)


def plain(text: object):
    """``text`` as a rich ``Text`` (for table cells and titles), never parsed as markup."""
    from rich.text import Text

    return Text(str(text))


def redirect_closed_stdout() -> None:
    """After a BrokenPipeError on stdout: point it at devnull, so the interpreter's flush at
    exit does not fail again (the recipe in Python's docs, "Note on SIGPIPE")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. under CliRunner)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
