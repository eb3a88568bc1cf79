"""The ``logdigit score`` command: a digitised LAS against a reference LAS (:func:`logdigit.score.score`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from logdigit.cli.options import (
    JsonOpt,
    err,
    handle_errors,
    plain,
    say,
)


@handle_errors
def score(
    digitised: Annotated[Path, typer.Argument(help="The digitised LAS.")],
    truth: Annotated[Path, typer.Argument(help="The reference LAS.")],
    layout: Annotated[Path | None, typer.Option("--layout", help="Layout, to normalise errors by track width.")] = None,
    max_shift: Annotated[
        float, typer.Option("--max-shift", help="Search depth shifts up to this (index units).")
    ] = 0.0,
    json_out: JsonOpt = False,
) -> None:
    """Compare two LAS files curve by curve."""
    from logdigit.io.layout import load_layout
    from logdigit.score import score as score_las

    report = score_las(digitised, truth, layout=load_layout(layout) if layout else None, max_shift=max_shift)
    data = report.to_dict()
    if json_out:
        print(json.dumps(data, indent=2))
        return
    from rich.table import Table

    rows = data.get("curves", [])
    norms = sorted({str(r["normalised_by"]) for r in rows})
    table = Table(
        title=plain(f"{digitised.name} vs {truth.name}" + (f" (shift {data.get('shift', 0):g})" if max_shift else "")),
        caption=plain(f"NMAE and within 2 % normalised by {', '.join(norms) or '-'}"),
    )
    columns: list[tuple[str, str, Callable[[Any], str]]] = [
        ("curve", "mnemonic", str),
        ("unit", "unit", str),
        ("n", "samples", str),
        ("MAE", "mae", lambda v: f"{v:.4g}"),
        ("NMAE", "nmae", lambda v: f"{v:.4f}"),
        ("within 2%", "within_2pct", lambda v: f"{100 * v:.1f}%"),
        ("coverage", "coverage", lambda v: f"{100 * v:.1f}%"),
        ("r", "correlation", lambda v: f"{v:.4f}"),
    ]
    for title, _, _ in columns:
        table.add_column(title, justify="left" if title in ("curve", "unit") else "right")
    for r in rows:
        table.add_row(*[plain("-" if r[key] is None else fmt(r[key])) for _, key, fmt in columns])
    Console().print(table)
    missing = data.get("missing_in_digitised") or []
    if missing:
        say(err, f"not in {digitised.name}: {', '.join(missing)}", label="warning:", style="yellow")
