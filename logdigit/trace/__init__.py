"""The tracer: class masks (and the scan's ink) to one column per pixel row per curve.

See :mod:`logdigit.trace.tracer` for the public function; the design and cost model are below.
"""

from logdigit.trace.options import DEFAULT_MAX_GAP, MAX_GAP_LIMIT, TraceOptions
from logdigit.trace.tracer import PixelTrace, trace

__all__ = ["DEFAULT_MAX_GAP", "MAX_GAP_LIMIT", "PixelTrace", "TraceOptions", "trace"]
