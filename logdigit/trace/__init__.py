"""The tracer: class masks (and the scan's ink colours) to one x per pixel row per curve.

The implementation lives in ``logdigit.trace.tracer``; this package exports its public names.
"""

from logdigit.trace.tracer import DEFAULT_MAX_GAP, MAX_GAP_LIMIT, Cues, PixelTrace, trace

__all__ = ["DEFAULT_MAX_GAP", "MAX_GAP_LIMIT", "Cues", "PixelTrace", "trace"]
