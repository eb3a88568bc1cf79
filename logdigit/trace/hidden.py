"""Curves hidden under another curve: the stretch where a curve's own ink is covered.

A print draws its curves one after another, and a later curve covers an earlier one where the
two agree (a deep resistivity under the shallow one, five array resistivities under the deepest).
There the earlier curve has no ink of its own, and a tracer leaves it NULL (a gap longer than
``max_gap``). :func:`follow_hidden` fills such a gap from the covering curve when the evidence
says the curve went under it: the curve is traced right up to the gap on both sides, another
curve of the track is traced on every row of the gap and one row either side, and at both ends
the two lie within ``reach`` px. The curve then takes the covering curve's columns across the
gap, and the rows are listed in ``PixelTrace.hidden`` (flagged ``hidden`` in the QC, the
``--quality`` CSV and the LAS ``~Other`` section). Curves declared as scaled copies of one
another (``copy_of``) are not taken as covering each other: they are drawn at different
columns by definition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from logdigit.io.layout import Layout
from logdigit.trace.tracer import PixelTrace, _true_runs


@dataclass(frozen=True)
class HiddenOptions:
    """Settings of :func:`follow_hidden` (set a priori, not fitted).

    Attributes:
        reach: px; at both ends of the gap the curve and the covering curve lie this close (a
            stroke's width: the covered curve's ink shows at the covering curve's edge).
    """

    reach: float = 8.0


def follow_hidden(traces: list[PixelTrace], layout: Layout, options: HiddenOptions | None = None) -> list[PixelTrace]:
    """The traces with each NULL stretch that runs under another curve of the track taken from it.

    Returns:
        a new list; traces with nothing hidden are the same objects.
    """
    opts = options or HiddenOptions()
    out = list(traces)
    apart = _copy_groups(layout)
    for i, t in enumerate(traces):
        group = apart.get(t.mnemonic)  # a copy_of group never covers itself
        others = [
            u for u in traces if u is not t and u.track == t.track and (group is None or apart.get(u.mnemonic) != group)
        ]
        x = t.x.copy()
        hidden = []
        for a, b in _inner_gaps(t.x):
            best = None
            for u in others:
                ux = _on_rows(u, t.row0 + a - 1, t.row0 + b)  # the gap and its two end rows
                if ux is None or not np.isfinite(ux).all():
                    continue
                ends = abs(ux[0] - t.x[a - 1]) + abs(ux[-1] - t.x[b])
                if max(abs(ux[0] - t.x[a - 1]), abs(ux[-1] - t.x[b])) <= opts.reach and (
                    best is None or ends < best[0]
                ):
                    best = (ends, ux[1:-1])
            if best is not None:
                x[a:b] = best[1]
                hidden.append((t.row0 + a, t.row0 + b - 1))
        if hidden:
            out[i] = dataclasses.replace(t, x=x, hidden=tuple(hidden))
    return out


def _copy_groups(layout: Layout) -> dict[str, str]:
    """mnemonic -> the base of its ``copy_of`` group (only for curves in a group)."""
    group = {}
    for track in layout.tracks:
        for c in track.curves:
            if c.copy_of:
                group[c.mnemonic] = group[c.copy_of] = c.copy_of
    return group


def _inner_gaps(x: np.ndarray) -> list[tuple[int, int]]:
    """``[a, b)`` runs of NaN with a finite row on both sides."""
    return [(int(a), int(b)) for a, b in zip(*_true_runs(~np.isfinite(x)), strict=True) if a > 0 and b < len(x)]


def _on_rows(t: PixelTrace, first: int, last: int) -> np.ndarray | None:
    """``t``'s columns on image rows ``first..last`` inclusive, or None where it does not cover them."""
    a, b = first - t.row0, last - t.row0 + 1
    if a < 0 or b > len(t.x):
        return None
    return t.x[a:b]
