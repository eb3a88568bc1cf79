"""QC overlay: the traced curves drawn over a faded copy of the scan, for a person to check."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from logdigit.errors import InputError, OutputError
from logdigit.io.atomic import output_kind, write_bytes_atomic
from logdigit.io.layout import Layout
from logdigit.trace import PixelTrace

PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 0, 0),
    (0, 90, 255),
    (0, 170, 0),
    (220, 0, 220),
    (255, 130, 0),
    (0, 190, 200),
    (150, 60, 255),
    (160, 120, 0),
)
"""Curve colours (RGB), bright and far apart; curve k gets PALETTE[k % len(PALETTE)]."""

_TRACK_COLOUR = (110, 110, 110)
_TICK_COLOUR = (0, 87, 183)
_DASHES: dict[str, tuple[float, float] | None] = {"solid": None, "dashed": (8.0, 4.0), "dotted": (2.0, 3.0)}
"""(on, off) px along the path of each line style as the QC draws it."""


def draw_qc(
    image: np.ndarray,
    traces: Sequence[PixelTrace],
    layout: Layout,
    *,
    flags: Mapping[str, Sequence[tuple[int, int, str]]] | None = None,
    fade: float = 0.65,
    legend: bool = True,
) -> np.ndarray:
    """Draw traced curves over a faded scan.

    The scan is blended toward white, each track is outlined in grey (edges over the
    digitised rows), flagged stretches get a translucent halo along the curve in the flag's
    colour (:data:`logdigit.qc.viewer.FLAG_COLOURS`), depth ticks and labels from the layout's ties
    run down the left edge of the first track (and a mark at each tie row), and each trace
    is drawn as a 1-px polyline through its sub-pixel positions in its layout ``color``
    (else a colour of :data:`PALETTE`), dashed or dotted as its line style (gaps are not
    joined; a lone point is a pixel). A legend at the top of each track, scaled to the
    image, names its curves. Curves are drawn last, so nothing traced is hidden.

    Args:
        image: uint8 (H, W, 3) RGB, the image the traces were made on; not modified.
        traces: from :func:`logdigit.trace.tracer.trace`.
        layout: the layout the traces were made with.
        flags: stretches to mark per curve: mnemonic -> ``(first_row, last_row, kind)``.
        fade: how far toward white the scan is blended, 0 (unchanged) .. 1 (white).
        legend: draw the mnemonic legend.

    Returns:
        uint8 (H, W, 3) RGB, a new image.

    Example:
        >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
        >>> lay = Layout(DepthSpec("PX", 1, ((0, 0), (9, 9))), (Track(2, 12, curves=(CurveSpec("GR", 0, 1),)),))
        >>> tr = PixelTrace("GR", 0, 0, np.full(10, 7.0))
        >>> out = draw_qc(np.zeros((10, 16, 3), np.uint8), [tr], lay, legend=False)
        >>> out[5, 7].tolist() == list(PALETTE[0])
        True
    """
    _check_image(image)
    if not 0 <= fade <= 1:
        raise ValueError(f"fade must be in [0, 1], got {fade}")
    out = cv2.addWeighted(image, 1.0 - fade, np.full_like(image, 255), fade, 0.0)
    rows = _digitised_rows(layout, traces, image.shape[0])
    for track in layout.tracks:
        for col in (track.left, track.right):
            cv2.line(out, (col, rows[0]), (col, rows[1]), _TRACK_COLOUR, 1)
    specs = [_spec(layout, t) for t in traces]
    colours = [
        spec.color if spec is not None and spec.color else PALETTE[k % len(PALETTE)] for k, spec in enumerate(specs)
    ]
    for trace in traces:
        _draw_flags(out, trace, (flags or {}).get(trace.mnemonic, ()))
    _draw_depth_ticks(out, layout, rows)
    if legend:
        _draw_legends(out, traces, colours, layout, rows[0])
    for trace, colour, spec in zip(traces, colours, specs, strict=True):
        _draw_trace(out, trace, colour, _DASHES.get(spec.line if spec is not None else "solid"))
    return out


def _spec(layout: Layout, trace: PixelTrace):
    return next((c for c in layout.tracks[trace.track].curves if c.mnemonic == trace.mnemonic), None)


def _draw_flags(out: np.ndarray, trace: PixelTrace, marks) -> None:
    """A 5-px halo, 40 % of the flag's colour, under each flagged ``(first, last, kind)`` row
    stretch of the curve (look-alike marks the whole curve: the legend says it instead)."""
    from logdigit.qc.viewer import FLAG_COLOURS

    for first, last, kind in marks:
        if kind == "look-alike":
            continue
        a, b = max(int(first) - trace.row0, 0), min(int(last) - trace.row0 + 1, len(trace.x))
        if a >= b:
            continue
        hexa = FLAG_COLOURS.get(kind, "#888888")
        colour = tuple(int(hexa[i : i + 2], 16) for i in (1, 3, 5))
        layer = out.copy()
        _draw_trace(
            layer, PixelTrace(trace.mnemonic, trace.track, trace.row0 + a, trace.x[a:b]), colour, None, thickness=5
        )
        band = slice(max(trace.row0 + a - 3, 0), trace.row0 + b + 3)
        out[band] = cv2.addWeighted(out[band], 0.6, layer[band], 0.4, 0.0)


def _draw_depth_ticks(out: np.ndarray, layout: Layout, rows: tuple[int, int]) -> None:
    """A tick and label at round depths (about every 150 px) and a triangle at each tie row,
    at the left edge of the first track."""
    from logdigit.qc.viewer import nice_step, qc_depth_map

    if not layout.tracks:
        return
    dm = qc_depth_map(layout)
    ends = dm.depth(np.array(rows, dtype=np.float64))
    b = float(ends[1] - ends[0]) / max(rows[1] - rows[0], 1)  # depth per row, on average
    if b == 0:
        return
    x0 = min(t.left for t in layout.tracks)
    scale = _text_scale(out)
    d0, d1 = sorted(ends.tolist())
    step = nice_step(abs(b) * 150)
    for depth in np.arange(np.ceil(d0 / step) * step, d1 + step / 2, step):
        r = int(round(float(dm.row(depth))))
        cv2.line(out, (x0, r), (x0 + int(12 * scale), r), _TICK_COLOUR, 1)
        cv2.putText(
            out,
            f"{depth:g}",
            (x0 + int(14 * scale), r + int(5 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8 * scale,
            _TICK_COLOUR,
            1,
            cv2.LINE_AA,
        )
    for tie_row, _ in layout.depth.ties:
        r = int(round(tie_row))
        pts = np.array([[x0, r], [x0 + int(8 * scale), r - int(5 * scale)], [x0 + int(8 * scale), r + int(5 * scale)]])
        cv2.fillPoly(out, [pts.astype(np.int32)], _TICK_COLOUR)


def _text_scale(out: np.ndarray) -> float:
    """Font scale of labels: legible (about 12 px tall at least) and growing with the image width."""
    return max(0.5, min(1.5, out.shape[1] / 1200))


def write_qc(path: str | os.PathLike, overlay: np.ndarray) -> Path:
    """Write a QC overlay atomically; the format follows the suffix (.png, .jpg, .tif ...).

    An existing FIFO or character device is written as a stream (PNG when the name has
    no suffix), never renamed over.

    Args:
        path: output file; its folder must exist.
        overlay: uint8 (H, W, 3) RGB from :func:`draw_qc`.

    Returns:
        The path written.

    Raises:
        OutputError: the folder is missing or not writable, or OpenCV cannot write
            this suffix.
    """
    _check_image(overlay)
    target = Path(path)
    # A FIFO or device (/dev/null) is written as a stream, PNG unless its name says otherwise.
    stream = output_kind(target) == "stream"
    suffix = target.suffix or (".png" if stream else "")
    try:
        ok, data = cv2.imencode(suffix, cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
    except cv2.error as exc:
        raise OutputError(f"{target}: cannot write the QC image ({exc.err}); use a .png path") from None
    if not ok:
        raise OutputError(f"{target}: OpenCV cannot write a {target.suffix or 'suffix-less'} file; use .png")
    try:
        write_bytes_atomic(target, data.tobytes())
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(
            f"{target}: cannot write the QC image ({exc.strerror or exc}); choose a writable file path"
        ) from None
    return target


def _check_image(image) -> None:
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
        raise InputError(f"image must be uint8 (H, W, 3) RGB as read_scan gives; got {got}")


def _digitised_rows(layout: Layout, traces: Sequence[PixelTrace], height: int) -> tuple[int, int]:
    if layout.depth.rows is not None:
        first, last = layout.depth.rows
    elif traces:
        first, last = min(t.row0 for t in traces), max(t.row0 + len(t.x) - 1 for t in traces)
    else:
        first, last = 0, height - 1
    return max(int(first), 0), min(int(last), height - 1)


def _draw_trace(
    out: np.ndarray, trace: PixelTrace, colour, dashes: tuple[float, float] | None, *, thickness: int = 1
) -> None:
    """1-px polylines through each NaN-free stretch, at 1/16 px (cv2 fixed point); with
    ``dashes`` (on, off) in px of path length, only the "on" parts are drawn."""
    x = np.asarray(trace.x, dtype=np.float64)
    ok = np.isfinite(x)
    if not ok.any():
        return
    rows = trace.rows.astype(np.float64)
    edges = np.diff(np.concatenate([[0], ok.view(np.int8), [0]]))
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    h, w = out.shape[:2]
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if b - a == 1:
            c, r = int(round(x[a])), int(rows[a])
            if 0 <= r < h and 0 <= c < w:
                if thickness > 1:
                    cv2.circle(out, (c, r), thickness // 2, colour, -1)
                out[r, c] = colour
            continue
        pts = np.stack([x[a:b], rows[a:b]], axis=1)  # (n, 2) x, y
        for piece in _dash_pieces(pts, dashes):
            cv2.polylines(out, [np.round(piece * 16).astype(np.int32)], False, colour, thickness, cv2.LINE_8, shift=4)


def _dash_pieces(pts: np.ndarray, dashes: tuple[float, float] | None) -> list[np.ndarray]:
    """The (n, 2) polyline cut to the "on" parts of an (on, off) pattern along its length."""
    if dashes is None:
        return [pts]
    on, off = dashes
    length = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])  # (n,) path length
    drawn = (length % (on + off)) < on
    edges = np.diff(np.concatenate([[0], drawn.view(np.int8), [0]]))
    return [pts[a : max(b, a + 2)] for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True)]


def _draw_legends(out, traces, colours, layout: Layout, top: int) -> None:
    """A white box at the top-left of each track: a colour swatch and the mnemonic per curve."""
    scale = _text_scale(out)
    line_h = int(round(24 * scale)) + 2
    for index, track in enumerate(layout.tracks):
        mine = [(t, c) for t, c in zip(traces, colours, strict=True) if t.track == index]
        if not mine:
            continue
        x0, y0 = track.left + 3, top + 3
        width = max(cv2.getTextSize(t.mnemonic, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t, _ in mine)
        box_w = min(width + int(30 * scale) + 6, max(track.right - x0 - 1, 1))
        cv2.rectangle(out, (x0, y0), (x0 + box_w, y0 + line_h * len(mine) + 4), (255, 255, 255), -1)
        for k, (t, colour) in enumerate(mine):
            y = y0 + line_h * (k + 1)
            cv2.line(out, (x0 + 3, y - line_h // 3), (x0 + int(24 * scale), y - line_h // 3), colour, 2)
            cv2.putText(
                out, t.mnemonic, (x0 + int(28 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA
            )
