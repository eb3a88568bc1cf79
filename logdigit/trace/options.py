"""Every number the tracer uses, in one frozen dataclass.

The ``w_*`` weights are fitted (``make fit-tracer``, :mod:`logdigit.research.fit_tracer`) on
synthetic training sheets and stored in ``logdigit/data/tracer.json``; the defaults below are
read from that file. The other fields are priors and search limits, set by hand and documented.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from importlib import resources

from logdigit.trace.tracer import DEFAULT_MAX_GAP, MAX_GAP_LIMIT

__all__ = ["DEFAULT_MAX_GAP", "MAX_GAP_LIMIT", "TraceOptions"]

NODE_TERMS = ("node_bias", "w_style", "w_other_style", "w_colour", "w_colour_rival", "w_length", "w_edge", "w_straight")
"""Terms of a piece's log-odds per row of belonging to a curve (features in :mod:`.cost`)."""

LINK_TERMS = (
    "link_bias",
    "w_leap",
    "w_gap",
    "w_jump",
    "w_miss",
    "w_bend",
    "w_width_step",
    "w_shade_step",
    "w_colour_step",
    "w_junction",
    "w_dash_step",
)
"""Terms of the log-odds that one piece continues another (features in :mod:`.cost`)."""


def _fitted() -> dict[str, float]:
    text = resources.files("logdigit.data").joinpath("tracer.json").read_text()
    data = json.loads(text)
    return {k: float(v) for k, v in {**data["weights"], **data["priors"]}.items()}


_W = _fitted()


@dataclass(frozen=True)
class TraceOptions:
    """The tracer's weights, priors and limits (see the package docstring for the cost model).

    Piece terms (log-odds per row that a piece of ink belongs to a given curve):
        node_bias: the constant term.
        w_style: times the share of the curve's declared class (solid or dashed) around the piece.
        w_other_style: times the share of the other curve class around the piece.
        w_colour: times dE/50 (CIE76) between the ink under the piece and the curve's ``color``.
        w_colour_rival: times dE/50 to the curve's colour minus dE/50 to the nearest other listed colour.
        w_length: times the log of the piece's skeleton length in pixels.
        w_edge: times the share of the piece's rows within 1.5 px of a track edge (a ruling).
        w_straight: times log(rows / (1 + columns spanned)), at least 0: long and dead straight.

    Link terms (log-odds that piece q continues piece p of the same curve):
        link_bias: the constant term.
        w_gap: times log(1 + rows of gap between p's last and q's first row).
        w_leap: times the columns travelled across a gap of two rows or more, as a fraction of the
            track width (a jump over paper, not along ink).
        w_jump: times the columns travelled across the gap, as a fraction of the track width.
        w_miss: times log(1 + columns between q's start and where p's end slope points).
        w_bend: times the change of slope (columns per row, clipped at 5) from p's end to q's start.
        w_width_step: times the change of stroke width in pixels.
        w_shade_step: times the change of grey level / 255.
        w_colour_step: times dE/50 between the two pieces' inks.
        w_junction: added when p and q meet at one skeleton junction.
        w_dash_step: times |log(length of q / length of p)| (the dash pattern; both dashed).

    Base rates (fitted with the weights; costs use log-likelihood ratios, log-odds minus these):
        node_prior: log-odds of a piece belonging to a given look in the fitting data.
        link_prior: log-odds of a candidate link being the true continuation in the fitting data.

    Priors and limits (set by hand):
        start_cost: cost of a trace starting, or restarting after a pause of a few dozen rows without ink.
        wrap_cost: cost of a wrap: leaving the track at one edge and coming back at the other.
        wrap_row_cost: cost per row a trace spends wrapped (off its own scale).
        share_cost: cost per row of a piece already taken by a curve of another look (overlap).
        hidden_cost: cost per row of running under another look's ink (drawn over this curve),
            whatever this curve's own evidence there; far less than restarting, more than nothing.
        link_rows: rows searched below a piece's end for its continuation.
        link_fanout: continuations kept per piece (the most likely by gap and jump).
        min_log_odds: a piece whose log-odds per row is below this is no candidate for a curve.
        wrap_reach: pixels from a track edge within which a stroke leaves or enters on a wrap.
        wrap_rows: longest gap in rows between leaving and re-entering on a wrap.
        style_warning: share of a trace's ink in the other class above which ``seen_line`` differs.
        style_fallback: a look whose trace covers less than this share of the rows is traced again
            as the other line style, and kept so if that covers twice the rows (a misdeclared style).
        max_leap: largest jump across a gap of two rows or more, as a fraction of the track width
            (no link is considered beyond it: a trace never teleports).
        pause_rows: rows per block of the pause chain: a trace restarts at the earliest in the block
            after the one it stopped in.
        slope_rows: rows at each end of a piece over which its end slopes are fitted.
        colour_unit: RGB distance (0-255 a channel) that is one unit of the colour terms.
        min_ink: least share of ink in a mix of ink and paper (a piece is never bare paper).
        grey_chroma: a track whose curve ink has a 90th-percentile chroma (CIE a*b*) below this is
            grey or 1-bit: the layout's colours are not used there.
        margin_cap: the margin reported on rows where no other piece could be taken.
        cost_scale: costs are rounded to multiples of 1 / cost_scale for the integer flow solver.
    """

    node_bias: float = _W["node_bias"]
    w_style: float = _W["w_style"]
    w_other_style: float = _W["w_other_style"]
    w_colour: float = _W["w_colour"]
    w_colour_rival: float = _W["w_colour_rival"]
    w_length: float = _W["w_length"]
    w_edge: float = _W["w_edge"]
    w_straight: float = _W["w_straight"]
    link_bias: float = _W["link_bias"]
    w_gap: float = _W["w_gap"]
    w_leap: float = _W["w_leap"]
    w_jump: float = _W["w_jump"]
    w_miss: float = _W["w_miss"]
    w_bend: float = _W["w_bend"]
    w_width_step: float = _W["w_width_step"]
    w_shade_step: float = _W["w_shade_step"]
    w_colour_step: float = _W["w_colour_step"]
    w_junction: float = _W["w_junction"]
    w_dash_step: float = _W["w_dash_step"]
    node_prior: float = _W["node_prior"]
    link_prior: float = _W["link_prior"]
    start_cost: float = 20.0
    wrap_cost: float = 8.0
    wrap_row_cost: float = 0.05
    share_cost: float = 0.5
    hidden_cost: float = 0.02
    link_rows: int = 60
    link_fanout: int = 10
    min_log_odds: float = -1.0
    wrap_reach: float = 4.0
    wrap_rows: int = 6
    style_warning: float = 0.6
    style_fallback: float = 0.5
    max_leap: float = 0.25
    pause_rows: int = 32
    slope_rows: int = 6
    colour_unit: float = 100.0
    min_ink: float = 0.15
    grey_chroma: float = 12.0
    margin_cap: float = 50.0
    cost_scale: float = 100.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or v != v:
                raise ValueError(f"TraceOptions.{f.name} must be a number, got {v!r}")
        if min(self.link_rows, self.link_fanout, self.pause_rows, self.slope_rows) < 1 or self.wrap_rows < 0:
            raise ValueError("TraceOptions: link_rows, link_fanout, pause_rows, slope_rows >= 1 and wrap_rows >= 0")
        if min(self.cost_scale, self.colour_unit, self.max_leap) <= 0 or not 0 <= self.min_ink < 1:
            raise ValueError("TraceOptions: cost_scale, colour_unit, max_leap > 0 and 0 <= min_ink < 1")

    @property
    def node_weights(self) -> tuple[float, ...]:
        return tuple(getattr(self, k) for k in NODE_TERMS)

    @property
    def link_weights(self) -> tuple[float, ...]:
        return tuple(getattr(self, k) for k in LINK_TERMS)
