"""The ``logdigit`` command line: the Typer app, ``--version``, the help panels and the commands.

Each command lives in its own module (``infer``, ``layout``, ``score``, ``batch``; the research
commands in ``research``), takes its shared options from :mod:`logdigit.cli.options`,
translates flags and calls one library function.

Heavy imports (torch, OpenCV, lasio) happen inside the commands, so ``logdigit --help``
is instant. Every :class:`~logdigit.errors.LogdigitError` becomes one line on stderr
and the error's exit code; nothing else is printed for it.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from logdigit.cli import batch, infer, layout, research, score

DIGITISE, RESEARCH = "Digitise", "Research (synthetic data, training, evaluation)"
"""Help panels: the commands a user digitises with, and those that build and measure the model."""

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Digitise scanned well logs into LAS curves with the VeerNet segmentation network.",
)


def _version(value: bool) -> None:
    if value:
        from logdigit import __version__

        print(f"logdigit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Digitise scanned well logs into LAS curves with the VeerNet segmentation network."""


# Registered in the order `logdigit --help` lists them.
app.command(
    rich_help_panel=DIGITISE,
    epilog="Example: logdigit infer scan.tif --layout scan.layout.toml -o scan.las --qc scan.qc.html",
)(infer.infer)
app.command(rich_help_panel=DIGITISE, epilog="Example: logdigit layout scan.tif -o scan.layout.toml --section 2")(
    layout.layout
)
app.command(
    rich_help_panel=DIGITISE,
    epilog="Example: logdigit score scan.las truth.las --layout scan.layout.toml --max-shift 5",
)(score.score)
app.command(rich_help_panel=RESEARCH, epilog="Example: logdigit synth sheets/ --n 20 --seed 0 --split test")(
    research.synth
)
app.command(rich_help_panel=RESEARCH, epilog="Example: logdigit train --out runs/veernet --steps 3000 --threads 2")(
    research.train
)
app.command(rich_help_panel=RESEARCH, epilog="Example: logdigit evaluate --n 200 --seed 2 --json > eval-seed2.json")(
    research.evaluate
)
app.command(
    "compare-losses",
    rich_help_panel=RESEARCH,
    epilog="Example: logdigit compare-losses --losses dice-ce,focal --seeds 0 --steps 400",
)(research.compare_losses)
app.command("losses", rich_help_panel=RESEARCH, epilog="Example: logdigit losses")(research.list_losses)
app.command(
    "batch", rich_help_panel=DIGITISE, epilog="Example: logdigit batch archive/ --outdir las/ --recursive --qc html"
)(batch.batch)


def main() -> None:  # pragma: no cover - console-script entry
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
