"""The tracers: class masks (and the scan) to one column per pixel row per curve.

Two tracers share one output (:class:`PixelTrace`), chosen by name (:data:`TRACERS`,
``logdigit infer --tracer``):

* ``greedy`` (the default, :func:`logdigit.trace.tracer.trace`): per curve, a dynamic programme
  over row-run tracklets with repair passes (see its module docstring);
* ``joint`` (:func:`logdigit.trace.joint.trace_joint`): a skeleton graph whose pieces are assigned
  to all curves of a track jointly. It is not the default yet: on the measurements of
  ``docs/trace-real.md`` and ``logdigit evaluate`` it does not beat ``greedy`` (see the README).

The joint tracer, track by track:

1. **Pieces from a skeleton graph** (:mod:`.graph`). The union of both curve classes is
   skeletonised (scikit-image) and skan builds its graph of branches between end points and
   junctions. A branch that turns back in depth is cut where it turns, so each piece is a run of
   rows with one column per row. Each piece carries what was measured under it: the network's
   share of each class, the scan's ink colour and grey shade, the stroke width (distance
   transform), its length (the dash length, for a dash) and its slope at both ends.
2. **Looks.** The track's curves are grouped by what tells them apart on the scan: declared line
   style, and ``color`` on a colour scan. Curves of one look are *twins*.
3. **Costs** (:mod:`.cost`), all log-likelihood ratios fitted on synthetic sheets
   (:mod:`logdigit.research.fit_tracer`, ``make fit-tracer``), every weight a field of
   :class:`TraceOptions`:

   * taking piece p for a curve of look g costs ``-rows(p) * (w . f(p, g) - node_prior)`` where
     ``f`` holds the class evidence for the declared style and for the other one, the colour
     distance from the nearest mix of the curve's ink with the paper and the same relative to the
     other listed inks, the piece length, the share of rows on a track edge and straightness;
   * linking p to a later piece q costs ``link_prior - v . h(p, q)`` where ``h`` holds the gap in
     rows, the columns travelled across it (a jump costs more the further it goes: no trace
     teleports), the miss from where p's end slope points, the change of slope, width, shade and
     colour, a shared skeleton junction and the change of dash length;
   * starting (or restarting after a pause of a few dozen rows) costs ``start_cost``; a wrap
     (out at one edge, in at the other) ``wrap_cost`` plus ``wrap_row_cost`` per wrapped row;
   * leaving ink unassigned costs nothing, so ink that fits no listed curve (flags, hatching,
     text, an unlisted curve) stays unassigned: taking it would cost more than it returns.
4. **Joint assignment** (:mod:`.assign`). For each look, min-cost flow with one unit per curve
   through the DAG of pieces and links (OR-Tools ``SimpleMinCostFlow``: exact and integral); for a
   look of one curve the flow is a shortest path, solved exactly by dynamic programming over the
   pieces in order, with the wrap level (-1, 0, +1) in the state. Looks then compete for ink: a
   piece two looks took is kept by the one it fits best, and the others solve again paying
   ``share_cost`` per row for it, or ``hidden_cost`` per row where their own ink is absent on those
   rows (a curve drawn under another). Why flow rather than a joint dynamic programme over all
   curves: the joint state grows as pieces^curves, while the flow is exact for curves that look
   alike (the hard case: which of two twins is which) and costs a few milliseconds per look.
5. **Output** (:mod:`.tracer`): each path's columns row by row; gaps of at most ``max_gap`` rows
   bridged linearly and listed in ``filled``, longer ones NULL; the wrap level per row; per row
   the *margin*, how much better the chosen piece fits than the best other piece on the row; and
   ``seen_line``, the class the network sees under the trace (the pipeline warns where it differs
   from the declared line style).

After either tracer (:func:`trace_curves`, the stage as ``infer`` runs it), the names of curves
of one look (twins) are settled over the whole log: where the tracer restarted a trace far across
the track or two traces ran together for a long stretch, the traces may exchange curves, and each
stretch between such places is named after the curve whose usual columns it fits
(:func:`logdigit.trace.identity.settle_identities`). Then curves the layout
declares as scaled copies of another curve of their track (``copy_of``: an amplified or an
over-range copy) are re-read with it as one value per row
(:func:`logdigit.trace.copies.reconcile_copies`), and a NULL stretch where a curve runs hidden
under another curve of its track takes that curve's columns, flagged ``hidden``
(:func:`logdigit.trace.hidden.follow_hidden`).
"""

from collections.abc import Callable

import numpy as np

from logdigit.io.layout import Layout
from logdigit.trace.copies import reconcile_copies
from logdigit.trace.hidden import follow_hidden
from logdigit.trace.identity import IdentityOptions, settle_identities
from logdigit.trace.joint import trace_joint
from logdigit.trace.options import TraceOptions
from logdigit.trace.tracer import DEFAULT_MAX_GAP, MAX_GAP_LIMIT, Cues, PixelTrace, trace

TRACERS: dict[str, Callable[..., list[PixelTrace]]] = {"greedy": trace, "joint": trace_joint}
"""Tracer name -> function ``(masks, layout, *, image, max_gap) -> list[PixelTrace]``."""


def trace_curves(
    masks: np.ndarray,
    layout: Layout,
    *,
    image: np.ndarray | None = None,
    max_gap: int = DEFAULT_MAX_GAP,
    tracer: str = "greedy",
) -> list[PixelTrace]:
    """The tracing stage as ``logdigit infer`` and ``logdigit evaluate`` run it: the named tracer
    (:data:`TRACERS`), then the twins' names settled over the whole log
    (:func:`~logdigit.trace.identity.settle_identities`), then the declared scaled copies read as one value per row
    (:func:`~logdigit.trace.copies.reconcile_copies`), then the stretches where a curve runs hidden
    under another (:func:`~logdigit.trace.hidden.follow_hidden`)."""
    if tracer not in TRACERS:
        raise ValueError(f"unknown tracer {tracer!r}; valid names: {sorted(TRACERS)}")
    traces = TRACERS[tracer](masks, layout, image=image, max_gap=max_gap)
    traces = settle_identities(traces, layout)
    return follow_hidden(reconcile_copies(traces, layout), layout)


__all__ = [
    "DEFAULT_MAX_GAP",
    "MAX_GAP_LIMIT",
    "TRACERS",
    "Cues",
    "PixelTrace",
    "IdentityOptions",
    "TraceOptions",
    "trace",
    "trace_curves",
    "settle_identities",
    "trace_joint",
]
