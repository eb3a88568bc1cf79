"""What the CLI commands share: every option defined once (defaults from ``InferOptions``), the
stderr console, message printing that never reads rich markup, and the error handling."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, overload

import typer
from rich.console import Console

from logdigit.model.weights import MODELS
from logdigit.pipeline import InferOptions  # the one home of every digitising default

DEFAULTS = InferOptions()
"""The defaults the options below show and fall back to."""

# Options of the digitising commands (infer, batch), declared once.
WeightsOpt = Annotated[
    Path | None,
    typer.Option(
        "--weights",
        envvar="LOGDIGIT_WEIGHTS",
        show_envvar=True,
        show_default=False,
        help="VeerNet weights (.safetensors, with its .json config beside it); default: the shipped model.",
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="|".join(MODELS),
        show_default=False,
        help="A shipped model by name: veernet (the default), fast (its distilled student, about 1.6x as fast) or "
        "print (veernet fine-tuned on print-style sheets too: finds more curve ink on real prints and 1-bit scans; "
        "models/MODEL_CARD.md has every model's figures). Wins over $LOGDIGIT_WEIGHTS; not with --weights.",
    ),
]
AmpOpt = Annotated[
    bool | None,
    typer.Option(
        "--amp/--no-amp",
        show_default=False,
        help="Mixed precision: float16 on CUDA (on unless --no-amp), bfloat16 on CPU (off unless --amp; "
        "faster where the CPU has bfloat16 instructions, probabilities move by up to a few hundredths).",
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA when present), cpu or cuda.")]
ThresholdOpt = Annotated[
    str, typer.Option("--threshold", help="Probability threshold of the solid and dashed classes: P or SOLID,DASHED.")
]
HysteresisOpt = Annotated[
    str | None,
    typer.Option(
        "--hysteresis",
        metavar="LOW,HIGH",
        show_default=False,
        help="Hysteresis thresholds instead of a single threshold (ink kept where connected to HIGH).",
    ),
]
DeskewOpt = Annotated[bool, typer.Option("--deskew", help="Estimate and correct a small rotation (reported).")]
TileOpt = Annotated[int, typer.Option("--tile", metavar="PX", help="Inference window side in px.")]
MaxPixelsOpt = Annotated[
    int, typer.Option("--max-pixels", metavar="N", help="Refuse larger images (decompression-bomb guard).")
]
MaxGapOpt = Annotated[
    int,
    typer.Option(
        "--max-gap",
        min=0,
        max=1000,
        metavar="ROWS",
        help="Longest gap in a curve, in pixel rows, filled by linear interpolation (listed in the LAS ~Other "
        "section); longer gaps are NULL, except where the curve runs hidden under another curve of its track "
        "(flagged hidden). The default is 0.05 in at 300 dpi, a dashed line's gap.",
    ),
]
WholeScanOpt = Annotated[
    bool,
    typer.Option(
        "--whole-scan",
        help="Run the network over the whole scan, not only the layout's tracks and rows (slower; "
        "the LAS is the same).",
    ),
]
TracerOpt = Annotated[
    str,
    typer.Option(
        "--tracer",
        metavar="NAME",
        help="The tracer: greedy (the default, per-curve tracklet search) or joint (skeleton graph, all "
        "curves of a track assigned together by min-cost flow; warns of a misdeclared line style).",
    ),
]
TemplateOpt = Annotated[
    Path | None,
    typer.Option(
        "--template",
        show_default=False,
        help="A family template (a layout written once for one vendor's format) registered onto each scan: "
        "its tracks found again on the scan, the depth ties read from the printed numbers. Instead of --layout.",
    ),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing output files (a FIFO or device is written to without it).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary on stderr.")]


def infer_options(
    *,
    weights: Path | None,
    device: str,
    threshold: str,
    model: str | None = None,
    hysteresis: str | None,
    deskew: bool,
    tile: int,
    max_pixels: int,
    max_gap: int,
    whole_scan: bool = False,
    tracer: str = DEFAULTS.tracer,
    amp: bool | None = DEFAULTS.amp,
) -> InferOptions:
    """The digitising flags of ``infer`` and ``batch`` as one :class:`InferOptions`.

    Raises:
        InputError: a threshold or hysteresis that is not one or two probabilities, or
            hysteresis LOW not below HIGH, ``--model`` with ``--weights``, an unknown model name
            (and whatever ``InferOptions`` refuses).
    """
    from logdigit.errors import InputError
    from logdigit.model.weights import shipped_weights

    if model is not None:
        from_env = weights is not None and str(weights) == os.environ.get("LOGDIGIT_WEIGHTS")
        if weights is not None and not from_env:
            raise InputError(f"--model {model} and --weights {weights} both name a model; give one")
        weights = shipped_weights(model)

    hyst = parse_probabilities(hysteresis, "--hysteresis")
    if hyst is not None and hyst[0] >= hyst[1]:
        raise InputError(f"--hysteresis {hysteresis}: LOW must be below HIGH, e.g. 0.3,0.6")
    return InferOptions(
        weights=str(weights) if weights else None,
        device=device,
        tile=tile,
        thresholds=parse_probabilities(threshold, "--threshold"),
        hysteresis=hyst,
        deskew=deskew,
        max_pixels=max_pixels,
        max_gap=max_gap,
        whole_scan=whole_scan,
        tracer=tracer,
        amp=amp,
    )


def _g(values) -> str:
    """``(0.5, 0.5)`` -> ``"0.5"``; ``(0.5, 0.4)`` -> ``"0.5,0.4"``."""
    return f"{values[0]:g}" if values[0] == values[1] else ",".join(f"{v:g}" for v in values)


THRESHOLD_DEFAULT = _g(DEFAULTS.thresholds)


@overload
def parse_probabilities(text: str, flag: str) -> tuple[float, float]: ...
@overload
def parse_probabilities(text: None, flag: str) -> None: ...
@overload
def parse_probabilities(text: str | None, flag: str) -> tuple[float, float] | None: ...


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
    return values[0], values[1]


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


err = Console(stderr=True)
"""The console for progress, summaries, warnings and errors; stdout carries LAS and JSON."""


def fail(exc: Exception) -> typer.Exit:
    say(err, exc, label="error:", style="bold red")
    return typer.Exit(getattr(exc, "exit_code", 1))


def handle_errors(fn):
    """Map LogdigitError (and KeyboardInterrupt) to one clean line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from logdigit.errors import LogdigitError

        try:
            return fn(*args, **kwargs)
        except LogdigitError as exc:
            raise fail(exc) from None
        except KeyboardInterrupt:
            say(err, "interrupted; no partial output was written")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise stdout_closed() from None

    return wrapper


def stdout_closed(not_done: list[str] | None = None) -> typer.Exit:
    """A reader closed stdout (``... | head``): one line on stderr naming the scans not done, exit 1."""

    redirect_closed_stdout()
    if not_done is None:
        what = "output stopped"
    elif not_done:
        what = f"{len(not_done)} scan(s) not done: {', '.join(not_done)}"
    else:
        what = "every scan was digitised, but part of the report on stdout was lost"
    say(err, f"stdout closed (broken pipe); {what}", label="error:", style="bold red")
    return typer.Exit(1)


def progress_bar(quiet: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )  # stdout carries LAS and JSON
