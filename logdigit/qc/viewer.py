"""QC viewer: one self-contained HTML file that opens offline in any browser.

The scan is embedded as image tiles (PNG or JPEG, whichever is smaller, as data URIs
decoded lazily by the browser), each traced curve is an SVG polyline in its own ink
(or a palette colour when the layout gives none) with its line style, and a legend
toggles each curve. Depth ticks and labels come from the layout's depth ties, and the
tie rows themselves are marked. Flagged stretches (interpolated, wrapped, low confidence) are
drawn as a translucent halo in the flag's colour under that part of the curve; a look-alike
curve (one told apart from another of the same look by continuity alone) is marked in the legend. Hovering shows
the depth and, for the track under the pointer, every curve's value at that row.

Nothing is fetched: no script, font or style sheet from outside the file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from logdigit.errors import InputError
from logdigit.io.atomic import atomic_path
from logdigit.io.layout import Layout
from logdigit.trace import PixelTrace

TILE_ROWS = 1024
"""Rows per embedded image tile: the browser decodes only the tiles in view."""

MAX_TILE_WIDTH = 2048
"""Widest embedded tile in px: a wider scan is embedded downsampled by a whole factor (area
average) and shown at its full size, so a 45,000-row scan of any width stays a file a browser
opens in seconds; the curves stay at full resolution."""

FLAG_COLOURS: dict[str, str] = {
    "interpolated": "#ff9900",
    "hidden": "#00a0a0",
    "wrapped": "#9933ff",
    "look-alike": "#ff00aa",
    "low-confidence": "#ff0000",
}
"""Band colour of each flag kind; a kind not listed here is drawn grey."""

PALETTE: tuple[str, ...] = ("#e60000", "#005aff", "#00aa00", "#dc00dc", "#ff8200", "#00bec8", "#963cff", "#a07800")
"""Curve colours for curves whose layout entry has no ``color``."""

_DASH = {"solid": "", "dashed": "8 4", "dotted": "2 3"}

Flags = Mapping[str, Sequence[tuple[int, int, str]]]
"""mnemonic -> flagged stretches ``(first_row, last_row, kind)``, pixel rows inclusive."""


def render_qc_html(
    image: np.ndarray,
    traces: Sequence[PixelTrace],
    layout: Layout,
    *,
    flags: Flags | None = None,
    title: str = "logdigit QC",
    tile_rows: int = TILE_ROWS,
) -> str:
    """The QC viewer of one digitised scan as an HTML document.

    Args:
        image: uint8 (H, W, 3) RGB, the image the traces were made on (not modified).
        traces: from :func:`logdigit.trace.tracer.trace`, in image coordinates.
        layout: the layout the traces were made with (tracks, scales, inks, depth ties).
        flags: stretches to mark per curve (see :data:`Flags`).
        title: the page title (the scan's name, say).
        tile_rows: rows per embedded image tile, >= 16.

    Returns:
        The HTML text (UTF-8), self-contained.

    Example:
        >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
        >>> lay = Layout(DepthSpec("FT", 0.5, ((0, 100.0), (99, 199.0))),
        ...              (Track(2, 30, curves=(CurveSpec("GR", 0, 150, line="dashed", color=(0, 204, 0)),)),))
        >>> gr = PixelTrace("GR", 0, 0, np.full(100, 9.0))
        >>> page = render_qc_html(np.full((100, 32, 3), 255, np.uint8), [gr], lay)
        >>> 'data-curve="GR"' in page and 'stroke="#00cc00"' in page and 'stroke-dasharray="8 4"' in page
        True
    """
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise InputError(f"image must be uint8 (H, W, 3) RGB as read_scan gives; got {getattr(image, 'shape', image)}")
    if tile_rows < 16:
        raise ValueError(f"tile_rows must be >= 16, got {tile_rows}")
    h, w = image.shape[:2]
    dm = qc_depth_map(layout)
    curves = _curve_entries(traces, layout)
    svg = [f'<svg id="svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">']
    svg += _track_lines(layout, h)
    svg += _depth_ticks(layout, dm, h)
    for entry, trace in zip(curves, traces, strict=True):
        marks = (flags or {}).get(trace.mnemonic, ())
        entry["lookalike"] = bool(getattr(trace, "twins", ())) or any(kind == "look-alike" for _, _, kind in marks)
        svg += _curve_group(entry, trace, marks)
    svg.append("</svg>")
    data = {
        "h": h,
        "w": w,
        "knots": [dm.rows.tolist(), dm.depths.tolist()],
        "unit": layout.depth.unit,
        "curves": curves,
        "tracks": [[t.left, t.right] for t in layout.tracks],
    }
    return _PAGE.format(
        title=html.escape(title),
        legend="\n".join(_legend(c) for c in curves),
        tiles="\n".join(_tiles(image, tile_rows)),
        svg="\n".join(svg),
        w=w,
        h=h,
        data=json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),
        flags="".join(f'<span class="flag" style="background:{c}">{k}</span>' for k, c in FLAG_COLOURS.items()),
    )


def write_qc_html(path: str | os.PathLike, page: str) -> Path:
    """Write a page from :func:`render_qc_html` atomically (UTF-8) and return the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def qc_depth_map(layout: Layout):
    """Row -> depth as calibration maps it (:func:`logdigit.calibrate.depth_map`: one line, or
    piecewise through the ties); the pixel row itself for ties that cannot be fitted."""
    from logdigit.calibrate import DepthMap, depth_map
    from logdigit.errors import LayoutError

    try:
        return depth_map(layout)
    except LayoutError:
        return DepthMap.line_of(0.0, 1.0)


def _curve_entries(traces: Sequence[PixelTrace], layout: Layout) -> list[dict]:
    """Per trace: name, colour, dash, track, scale and the x per row (0.01 px, null = gap)."""
    out = []
    for k, t in enumerate(traces):
        track = layout.tracks[t.track]
        spec = next((c for c in track.curves if c.mnemonic == t.mnemonic), None)
        colour = "#{:02x}{:02x}{:02x}".format(*spec.color) if spec and spec.color else PALETTE[k % len(PALETTE)]
        x = np.round(np.asarray(t.x, dtype=np.float64), 2)
        out.append(
            {
                "name": t.mnemonic,
                "colour": colour,
                "line": spec.line if spec else "solid",
                "track": t.track,
                "log": track.scale == "log",
                "lv": spec.left_value if spec else 0.0,
                "rv": spec.right_value if spec else 1.0,
                "unit": spec.unit if spec else "",
                "row0": t.row0,
                "x": [None if not math.isfinite(v) else v for v in x.tolist()],
            }
        )
    return out


def _track_lines(layout: Layout, h: int) -> list[str]:
    return [f'<line class="edge" x1="{c}" y1="0" x2="{c}" y2="{h}"/>' for t in layout.tracks for c in (t.left, t.right)]


def _depth_ticks(layout: Layout, dm, h: int) -> list[str]:
    """A tick and label at round depths about every 200 px, and a marker at each tie."""
    ends = dm.depth(np.array([0.0, max(h - 1, 1)]))
    b = float(ends[1] - ends[0]) / max(h - 1, 1)  # depth per row, on average
    if b == 0 or not layout.tracks:
        return []
    d0, d1 = sorted(ends.tolist())
    step = nice_step(abs(b) * 200)
    x0, x1 = min(t.left for t in layout.tracks), max(t.right for t in layout.tracks)
    out = []
    for depth in np.arange(math.ceil(d0 / step) * step, d1 + step / 2, step):
        row = float(dm.row(depth))
        unit = html.escape(layout.depth.unit)
        out.append(
            f'<line class="tick" x1="{x0}" y1="{row:.2f}" x2="{x1}" y2="{row:.2f}"/>'
            f'<text class="depth" x="{x0 + 2}" y="{row - 2:.2f}">{depth:g} {unit}</text>'
        )
    for row, depth in layout.depth.ties:
        out.append(
            f'<path class="tie" d="M{x0 - 8},{row - 5} L{x0},{row} L{x0 - 8},{row + 5} Z">'
            f"<title>tie: row {row:g} = {depth:g} {html.escape(layout.depth.unit)}</title></path>"
        )
    return out


def nice_step(span: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``span``."""
    p = 10.0 ** math.floor(math.log10(span)) if span > 0 else 1.0
    return next(m * p for m in (1, 2, 5, 10) if m * p >= span)


def _curve_group(entry: dict, trace: PixelTrace, flags: Sequence[tuple[int, int, str]]) -> list[str]:
    name = html.escape(entry["name"])
    dash = _DASH.get(entry["line"], "")
    style = f'stroke="{entry["colour"]}"' + (f' stroke-dasharray="{dash}"' if dash else "")
    out = [f'<g class="curve" data-curve="{name}">']
    x = np.asarray(trace.x, dtype=np.float64)
    for first, last, kind in flags:  # a halo in the flag's colour under the flagged part of the curve
        if kind == "look-alike":  # the whole curve: said in the legend
            continue
        a, b = max(first - trace.row0, 0), min(last - trace.row0 + 1, len(x))
        title = f"<title>{name}: {html.escape(kind)}, rows {first}-{last}</title>"
        for pts in _stretches(x[a:b], trace.row0 + a):
            out.append(
                f'<polyline class="halo" stroke="{FLAG_COLOURS.get(kind, "#888888")}" '
                f'points="{" ".join(f"{px:.2f},{py:g}" for px, py in pts)}">{title}</polyline>'
            )
    for pts in _stretches(x, trace.row0):
        out.append(f'<polyline {style} points="{" ".join(f"{x:.2f},{y:g}" for x, y in pts)}"/>')
    out.append("</g>")
    return out


def _stretches(x: np.ndarray, row0: int) -> list[np.ndarray]:
    """(n, 2) x, row points of each NaN-free stretch; points on a straight line between their
    neighbours (within 0.01 px) are dropped, which changes nothing drawn."""
    ok = np.isfinite(x)
    edges = np.diff(np.concatenate([[0], ok.view(np.int8), [0]]))
    out = []
    for s, e in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True):
        pts = np.stack([x[s:e], np.arange(row0 + s, row0 + e, dtype=np.float64)], axis=1)  # (n, 2) x, row
        if len(pts) == 1:
            pts = np.vstack([pts, pts + [0.0, 0.5]])
        keep = np.ones(len(pts), bool)
        keep[1:-1] = np.abs(pts[:-2, 0] - 2 * pts[1:-1, 0] + pts[2:, 0]) > 0.01
        out.append(pts[keep])
    return out


def _tiles(image: np.ndarray, tile_rows: int) -> list[str]:
    """One lazily decoded <img> per band of rows, PNG or JPEG (quality 88), whichever is smaller,
    downsampled by a whole factor when the scan is wider than :data:`MAX_TILE_WIDTH`."""
    factor = math.ceil(image.shape[1] / MAX_TILE_WIDTH)
    rows = tile_rows - tile_rows % factor  # whole output rows per tile
    out = []
    for top in range(0, image.shape[0], rows):
        band = cv2.cvtColor(image[top : top + rows], cv2.COLOR_RGB2BGR)
        h, w = band.shape[:2]
        if factor > 1:
            band = cv2.resize(band, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_AREA)
        png = cv2.imencode(".png", band, [cv2.IMWRITE_PNG_COMPRESSION, 3])[1]
        jpg = cv2.imencode(".jpg", band, [cv2.IMWRITE_JPEG_QUALITY, 88])[1]
        kind, data = ("png", png) if png.size <= jpg.size else ("jpeg", jpg)
        out.append(
            f'<img loading="lazy" decoding="async" style="top:{top}px" width="{w}" height="{h}" '
            f'src="data:image/{kind};base64,{base64.b64encode(data.tobytes()).decode()}">'
        )
    return out


def _legend(entry: dict) -> str:
    dash = _DASH.get(entry["line"], "")
    name = html.escape(entry["name"])
    swatch = (
        f'<svg width="28" height="8"><line x1="0" y1="4" x2="28" y2="4" stroke="{entry["colour"]}" '
        f'stroke-width="3"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/></svg>"
    )
    scale = f"{entry['lv']:g}-{entry['rv']:g} {html.escape(entry['unit'])}{' log' if entry['log'] else ''}"
    badge = (
        f' <span class="flag" style="background:{FLAG_COLOURS["look-alike"]}" title="told apart from a curve '
        'of the same look by continuity alone: they can swap where they cross">look-alike</span>'
        if entry.get("lookalike")
        else ""
    )
    return (
        f'<label title="track {entry["track"] + 1}, {scale}, {entry["line"]}"><input type="checkbox" checked '
        f'data-toggle="{name}">{swatch} {name}{badge}</label>'
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{margin:0;font:13px sans-serif;background:#ddd}}
#bar{{position:fixed;top:0;left:0;right:0;z-index:2;background:#fff;border-bottom:1px solid #999;padding:4px 8px;
display:flex;flex-wrap:wrap;gap:10px;align-items:center}}
#bar label{{white-space:nowrap;cursor:pointer}}
#view{{position:absolute;top:0;left:0;right:0;bottom:0;overflow:auto;margin-top:var(--bar,40px)}}
#page{{position:relative;width:{w}px;height:{h}px;background:#fff}}
#page img{{position:absolute;left:0;image-rendering:pixelated;opacity:.55}}
#svg{{position:absolute;top:0;left:0}}
polyline{{fill:none;stroke-width:1.6;vector-effect:non-scaling-stroke}}
.edge{{stroke:#666;stroke-width:1;vector-effect:non-scaling-stroke}}
.tick{{stroke:#0057b7;stroke-width:.8;stroke-dasharray:6 6;vector-effect:non-scaling-stroke}}
.depth{{fill:#0057b7;font:bold 11px sans-serif}}
.tie{{fill:#0057b7}}
.halo{{fill:none;stroke-width:7;opacity:.45;vector-effect:non-scaling-stroke}}
.flag{{padding:0 4px;color:#fff;border-radius:3px}}
#hover{{font-family:monospace;min-width:24em}}
</style></head><body>
<div id="bar"><b>{title}</b>
<span><button id="zout">-</button> <span id="zoom">100%</span> <button id="zin">+</button>
<button id="fit">fit width</button></span>
{legend}
<span>{flags}</span>
<span id="hover">hover over the log</span></div>
<div id="view"><div id="page">
{tiles}
{svg}
</div></div>
<script id="qcdata" type="application/json">{data}</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("qcdata").textContent);
const view = document.getElementById("view"), page = document.getElementById("page"),
  hover = document.getElementById("hover");
let z = 1;
function setZoom(nz, cx, cy) {{
  nz = Math.min(8, Math.max(0.02, nz));
  const ix = (view.scrollLeft + (cx || 0)) / z, iy = (view.scrollTop + (cy || 0)) / z;
  z = nz;
  page.style.zoom = z;  // CSS zoom, not a transform: no huge composited layer to raster
  view.scrollLeft = ix * z - (cx || 0); view.scrollTop = iy * z - (cy || 0);
  document.getElementById("zoom").textContent = Math.round(z * 100) + "%";
}}
document.getElementById("zin").onclick = () => setZoom(z * 1.5);
document.getElementById("zout").onclick = () => setZoom(z / 1.5);
document.getElementById("fit").onclick = () => setZoom(view.clientWidth / D.w);
view.addEventListener("wheel", e => {{
  if (!e.ctrlKey) return;
  e.preventDefault();
  const r = view.getBoundingClientRect();
  setZoom(z * Math.exp(-e.deltaY / 400), e.clientX - r.left, e.clientY - r.top);
}}, {{passive: false}});
let drag = null;
view.addEventListener("mousedown", e => {{ drag = [e.clientX, e.clientY, view.scrollLeft, view.scrollTop]; }});
window.addEventListener("mouseup", () => {{ drag = null; }});
function depthAt(row) {{  // piecewise-linear through the knots, the end pieces carried on
  const [r, d] = D.knots, n = r.length;
  let i = 1;
  while (i < n - 1 && row > r[i]) i++;
  return d[i - 1] + (row - r[i - 1]) * (d[i] - d[i - 1]) / (r[i] - r[i - 1]);
}}
function value(c, x) {{
  const f = (x - D.tracks[c.track][0]) / (D.tracks[c.track][1] - D.tracks[c.track][0]);
  return c.log ? Math.pow(10, Math.log10(c.lv) + f * (Math.log10(c.rv) - Math.log10(c.lv))) : c.lv + f * (c.rv - c.lv);
}}
view.addEventListener("mousemove", e => {{
  if (drag) {{ view.scrollLeft = drag[2] - (e.clientX - drag[0]); view.scrollTop = drag[3] - (e.clientY - drag[1]); }}
  const r = view.getBoundingClientRect();
  const col = (view.scrollLeft + e.clientX - r.left) / z, row = Math.round((view.scrollTop + e.clientY - r.top) / z);
  const depth = depthAt(row);
  const t = D.tracks.findIndex(tr => col >= tr[0] && col <= tr[1]);
  const parts = [depth.toFixed(2) + " " + D.unit + " (row " + row + ")"];
  for (const c of D.curves) {{
    if (c.track !== t) continue;
    const x = c.x[row - c.row0];
    parts.push(c.name + " " + (x === undefined || x === null ? "NULL" : value(c, x).toPrecision(4) + " " + c.unit));
  }}
  hover.textContent = parts.join("  ");
}});
for (const box of document.querySelectorAll("input[data-toggle]")) {{
  box.addEventListener("change", () => {{
    const g = document.querySelector('g[data-curve="' + CSS.escape(box.dataset.toggle) + '"]');
    if (g) g.style.display = box.checked ? "" : "none";
  }});
}}
function layoutBar() {{
  document.documentElement.style.setProperty("--bar", document.getElementById("bar").offsetHeight + "px");
}}
window.addEventListener("resize", layoutBar);
layoutBar();
setZoom(Math.min(1, view.clientWidth / D.w));
</script></body></html>
"""
