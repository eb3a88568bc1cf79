"""The ``logdigit`` command line (the only place with typer and rich); ``main`` is the console script."""

from logdigit.cli.app import app, main

__all__ = ["app", "main"]
