"""The digitiser end to end: scan file -> LAS (+ QC image), one public function per use.

``digitise`` runs every stage in memory and returns everything it made;
``digitise_to_files`` also writes the LAS (and QC image) atomically. Both are what
the CLI's ``infer`` and the batch runner call.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from logdigit import __version__
from logdigit.errors import InputError
from logdigit.io.layout import Layout
from logdigit.io.scan import DEFAULT_MAX_PIXELS
from logdigit.trace import DEFAULT_MAX_GAP

if TYPE_CHECKING:
    import lasio

    from logdigit.calibrate import Curves
    from logdigit.trace import PixelTrace

log = logging.getLogger(__name__)

STAGES = ("read", "preprocess", "infer", "threshold", "trace", "confidence", "calibrate", "write")


@dataclass(frozen=True)
class InferOptions:
    """Settings of one digitisation (recorded in the LAS ~Parameter section)."""

    weights: str | None = None
    device: str = "auto"
    tile: int = 512
    overlap: int = 64
    batch: int = 4
    thresholds: tuple[float, float] = (0.5, 0.5)
    hysteresis: tuple[float, float] | None = None
    deskew: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_gap: int = DEFAULT_MAX_GAP  # longest gap (pixel rows) filled by interpolation; see logdigit.trace.tracer
    skip_blank: bool = True
    whole_scan: bool = False  # run the network over every row and column, not only the layout's tracks and rows
    tracer: str = "greedy"  # a name in logdigit.trace.TRACERS: "greedy" (default) or "joint"
    amp: bool | None = None  # mixed precision: None = float16 on CUDA, off on CPU; True on CPU = bfloat16

    def __post_init__(self) -> None:
        """Refuse nonsense settings before anything is read or loaded (the CLI's flags land here)."""
        _check_int("overlap", "overlap", self.overlap, low=0, why="e.g. 64")
        _check_int(
            "--tile",
            "tile",
            self.tile,
            low=max(MIN_TILE, 2 * self.overlap + 2),
            why=f"windows must be at least {MIN_TILE} px and overlap (overlap={self.overlap}) by less "
            "than half; e.g. --tile 512",
        )
        _check_int("batch", "batch", self.batch, low=1, why="windows per forward pass, e.g. 4")
        if self.tracer not in ("greedy", "joint"):
            raise InputError(f"--tracer {self.tracer!r}: expected greedy or joint, e.g. --tracer greedy")
        _check_int(
            "--max-pixels",
            "max_pixels",
            self.max_pixels,
            low=1,
            why=f"the largest image accepted, e.g. --max-pixels {DEFAULT_MAX_PIXELS}",
        )
        if self.max_gap is not None:
            _check_int("--max-gap", "max_gap", self.max_gap, low=0, why="longest gap bridged, in rows, e.g. 40")
        for flag, pair in (("--threshold", self.thresholds), ("--hysteresis", self.hysteresis)):
            if pair is not None and not _probabilities(pair):
                raise InputError(f"{flag} {pair!r}: expected two probabilities in (0, 1), e.g. 0.5,0.5")
        if self.hysteresis is not None and not self.hysteresis[0] < self.hysteresis[1]:
            raise InputError(f"--hysteresis {self.hysteresis!r}: LOW must be below HIGH, e.g. 0.3,0.6")


MIN_TILE = 32
"""Smallest inference window, px: smaller windows give the network too little context."""


def _check_int(flag: str, name: str, value, *, low: int, why: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{flag} {value!r}: {name} must be a whole number >= {low}; {why}")


def _probabilities(pair) -> bool:
    try:
        return len(pair) == 2 and all(0.0 < float(v) < 1.0 for v in pair)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Digitised:
    """What one digitisation produced.

    Attributes:
        las: the lasio.LASFile.
        curves: calibrated :class:`logdigit.calibrate.Curves`.
        traces: the pixel traces (image coordinates of the scan as read).
        layout: the layout used (from a file, or the scan's draft: ``layout.calibrated`` False
            unless its depth numbers were read).
        timings: seconds per stage (see ``STAGES``).
        warnings: messages for the user (uncalibrated, deskew applied, overlapping tracks,
            curves with no value, ...).
        skew: the deskew angle applied, degrees (0 when none).
        image: uint8 (H, W, 3) RGB, the image the curves were traced on (the scan as read,
            deskewed when asked); the QC is drawn on it.
        dpi: the scan's (x, y) resolution from its header, or None.
        confidence: per trace, float64 (n,): the calibrated probability that the row is
            within 2 % of track width (:func:`logdigit.confidence.confidence`); NaN at gaps.
        flags: the flagged stretches of each curve in pixel rows
            (:func:`logdigit.quality.flag_stretches`): interpolated, wrapped, low-confidence,
            look-alike.
        registration: the :class:`logdigit.image.template.Registration` of a family
            template onto this scan (shift, edge and tie residuals), or None.
    """

    las: lasio.LASFile
    curves: Curves
    traces: list[PixelTrace]
    layout: Layout
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skew: float = 0.0
    image: np.ndarray | None = field(default=None, repr=False)
    dpi: tuple[float, float] | None = None
    confidence: list = field(default_factory=list, repr=False)
    flags: dict = field(default_factory=dict, repr=False)
    registration: object = None


@functools.lru_cache(maxsize=4)
def cached_model(weights: str | None, device: str):
    """Load a model once per process (batch workers digitise many scans with one model)."""
    from logdigit.model.weights import load_model

    return load_model(weights, device=device)


def class_masks(image: np.ndarray, *, weights: str | None = None, device: str = "auto") -> np.ndarray:
    """bool (3, H, W) class masks (background, solid, dashed) of a uint8 (H, W, 3) RGB image, made as
    ``infer`` makes them (default tiling, thresholds 0.5/0.5); the model is loaded once per process."""
    from logdigit.image.threshold import threshold
    from logdigit.model.device import resolve_device
    from logdigit.model.inference import predict_proba

    dev = str(resolve_device(device))
    opts = InferOptions()
    probs = predict_proba(cached_model(weights, dev), image, tile=opts.tile, overlap=opts.overlap, device=dev)
    return threshold(probs, thresholds=opts.thresholds)


def resolve_layout(scan_path: str | os.PathLike, layout: str | os.PathLike | Layout | None) -> Layout | None:
    """The layout to use: the given one, else the sidecar ``scan.layout.toml``, else None (detect)."""
    from logdigit.io.layout import find_layout, load_layout

    if isinstance(layout, Layout):
        return layout
    if layout is not None:
        return load_layout(layout)
    sidecar = find_layout(scan_path)
    return load_layout(sidecar) if sidecar is not None else None


def digitise(
    scan_path: str | os.PathLike,
    *,
    layout: str | os.PathLike | Layout | None = None,
    template: str | os.PathLike | Layout | None = None,
    options: InferOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    probs: np.ndarray | None = None,
) -> Digitised:
    """Digitise one scan into calibrated curves and a LAS object (nothing written).

    Args:
        scan_path: PNG, JPEG, BMP or TIFF scan.
        layout: a layout file, a :class:`Layout`, or None to use the sidecar
            ``SCAN.layout.toml`` or, failing that, the draft of ``logdigit layout``
            (:func:`logdigit.image.layout_scan.scan_layout`: main log section, tracks, scales,
            depth ties where the printed numbers are read; placeholder curve scales).
        template: instead of ``layout``, a family template registered onto this scan
            (:func:`logdigit.image.template.register_template`): its tracks found again on
            the scan, its depth ties read from the printed numbers.
        options: inference settings.
        progress: ``progress(stage, done, total)``.
        probs: float32 (3, H, W) class probabilities of the image traced (the scan as read,
            deskewed when ``options.deskew``), as :func:`network_proba` gives them: the network
            is then not run, and the stages from thresholding on are (a harness that re-traces
            one scan after each tracer change keeps them). Not modified.

    Raises:
        LogdigitError: for any bad input, with a one-line message (a template that does not
            register says why).
    """
    from logdigit.calibrate import calibrate, check_grid, depth_map
    from logdigit.confidence import LOW_CONFIDENCE, confidence
    from logdigit.image.preprocess import deskew, estimate_skew, map_layout
    from logdigit.io.las import to_las
    from logdigit.io.layout import check_layout
    from logdigit.io.scan import MIN_SIDE, read_scan
    from logdigit.quality import depth_stretches, flag_stretches
    from logdigit.trace import trace_curves

    opts = options or InferOptions()
    timings: dict[str, float] = {}
    warnings: list[str] = []
    tick = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[stage] = timings.get(stage, 0.0) + now - tick
        tick = now

    if template is not None and layout is not None:
        raise InputError("--layout and --template both given; use one")
    lay = resolve_layout(scan_path, layout) if template is None else None
    scan = read_scan(scan_path, max_pixels=opts.max_pixels, min_side=MIN_SIDE)
    image = scan.image
    lap("read")
    skew = 0.0
    if opts.deskew:
        skew = estimate_skew(image)
        if skew:
            image, affine = deskew(image, skew)
            if lay is not None:
                lay = map_layout(lay, affine)
            warnings.append(f"{scan_path}: deskewed by {skew:+.2f} degrees; layout coordinates mapped through it")
    registration = None
    if template is not None:
        from logdigit.image.template import register_template
        from logdigit.io.layout import load_layout

        family = template if isinstance(template, Layout) else load_layout(template)
        registration = register_template(family, image, dpi=scan.dpi[1] if scan.dpi else None, source=str(scan_path))
        lay = registration.layout
    drafted = lay is None
    if lay is None:
        lay, note = _drafted_layout(image, scan.dpi, scan_path)
        warnings.append(note)
    check_layout(lay, image.shape[:2], path=str(getattr(lay, "source", "") or "layout"))
    warnings += _overlap_warnings(lay)
    check_grid(lay, height=image.shape[0])  # ties and depth grid refused here, not after inference
    lap("preprocess")

    if probs is None:
        from logdigit.model.device import resolve_device  # torch: only once the inputs are read

        device = str(resolve_device(opts.device))
        model = cached_model(opts.weights, device)
        region = None if opts.whole_scan else inference_region(lay, image.shape)
        masks, t_threshold = _segment(model, image, opts, device, progress, region)
    else:
        masks, t_threshold = _threshold_given(probs, image.shape[:2], opts)
    lap("infer")
    timings["infer"] -= t_threshold  # thresholding ran strip by strip inside the inference loop
    timings["threshold"] = t_threshold
    traces = trace_curves(masks, lay, image=image, max_gap=opts.max_gap, tracer=opts.tracer)
    warnings += _twin_warnings(traces, lay, scan_path) + _wrap_warnings(traces, lay, scan_path)
    warnings += _style_warnings(traces, lay, scan_path)
    warnings += [w for w in _ink_style_warnings(image, masks, lay, scan_path) if w not in warnings]
    lap("trace")
    conf = confidence(traces, masks, lay)
    flags = flag_stretches(traces, conf, low=LOW_CONFIDENCE)
    del masks
    lap("confidence")
    curves = calibrate(traces, lay)
    warnings += _empty_warnings(curves, scan_path)
    lap("calibrate")
    meta = _meta(scan_path, opts, skew, lay, scan.dpi, drafted=drafted)
    flagged = {m: [r for r in runs if r[2] != "interpolated"] for m, runs in flags.items()}  # filled: Curve.filled
    las = to_las(
        curves,
        lay,
        meta=meta,
        max_gap=opts.max_gap,
        flagged=depth_stretches(flagged, depth_map(lay)) if lay.calibrated else None,
    )
    lap("write")
    return Digitised(
        las=las,
        curves=curves,
        traces=traces,
        layout=lay,
        timings=timings,
        warnings=warnings,
        skew=skew,
        image=image,
        dpi=scan.dpi,
        confidence=conf,
        flags=flags,
        registration=registration,
    )


def _drafted_layout(image: np.ndarray, dpi, scan_path) -> tuple[Layout, str]:
    """The draft ``logdigit layout`` would write for this scan (its main log section, tracks, scales
    and, where the printed depth numbers were read, depth ties), and the warning that says so."""
    from dataclasses import replace

    from logdigit.image.layout_scan import scan_layout

    report = scan_layout(image, dpi=dpi[1] if dpi else None, source=str(scan_path))
    lay = replace(report.layout, source="")
    what = f"{len(lay.tracks)} tracks and their scales drafted from the scan"
    if lay.calibrated:
        index = (
            f"depth from {report.kept} printed depth numbers"
            + (f" and the {report.ruled} heavy depth lines they label" if report.ruled else "")
            + f" (RMS residual {report.residual:.3g})"
        )
    else:
        index = "uncalibrated: index = pixel row"
    note = (
        f"{scan_path}: no layout file; {what}, {index}, values = placeholder scales (fraction of track "
        f"width, or 1 .. 10^decades on a log track). Calibrate: `logdigit layout {scan_path}` writes this "
        "draft to check and complete with each curve's mnemonic and scale"
    )
    return lay, note


def _twin_warnings(traces, layout: Layout, scan_path) -> list[str]:
    """One message per set of curves in a track that look alike (``PixelTrace.twins``):
    the tracer told them apart by continuity alone, so they can swap where they cross.

    >>> from logdigit.trace import PixelTrace
    >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
    >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (9, 9))),
    ...              (Track(0, 40, curves=(CurveSpec("GR", 0, 150), CurveSpec("SP", -80, 20))),))
    >>> x = np.zeros(10)
    >>> (msg,) = _twin_warnings([PixelTrace("GR", 0, 0, x, ("SP",)), PixelTrace("SP", 0, 0, x, ("GR",))], lay, "a.tif")
    >>> msg[:60]
    'a.tif: track 1: GR and SP (solid) look alike (no colour tell'
    """
    seen: set[tuple[int, tuple[str, ...]]] = set()
    out = []
    for t in traces:
        curves = {c.mnemonic: c for c in layout.tracks[t.track].curves}
        names = tuple(name for name in curves if name in {t.mnemonic, *t.twins})  # in layout order
        if not t.twins or (t.track, names) in seen:
            continue
        seen.add((t.track, names))
        line = curves[t.mnemonic].line  # the twins' line too
        out.append(
            f"{scan_path}: track {t.track + 1}: {', '.join(names[:-1])} and {names[-1]} ({line}) look alike "
            "(no colour tells them apart) and are told apart by continuity only; where they cross or touch they "
            "can swap. Check them on the QC image; if their inks differ, give each its `color` in the layout"
        )
    return out


def _wrap_warnings(traces, layout: Layout, scan_path) -> list[str]:
    """One message per curve with wrapped rows (``PixelTrace.wrap``) its layout entry does not
    declare: they are written NULL (and flagged ``wrapped``).

    >>> from logdigit.trace import PixelTrace
    >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
    >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (3, 3))), (Track(0, 40, curves=(CurveSpec("GR", 0, 150),)),))
    >>> (msg,) = _wrap_warnings([PixelTrace("GR", 0, 0, np.zeros(4), wrap=np.int8([0, 1, 1, -1]))], lay, "a.tif")
    >>> msg[:75]
    'a.tif: GR is drawn past its track edge on 3 rows, written NULL: its layout '
    """
    out = []
    for t in traces:
        if t.wrap is None:
            continue
        spec = next(c for c in layout.tracks[t.track].curves if c.mnemonic == t.mnemonic)
        if spec.wrap:
            continue
        levels = np.asarray(t.wrap)
        lost = (levels != 0) & np.isfinite(t.x) & ((levels != 1) | (spec.backup is None))
        if lost.any():
            out.append(
                f"{scan_path}: {t.mnemonic} is drawn past its track edge on {int(lost.sum())} rows, written NULL: "
                "its layout entry does not declare that scale. If the log's header gives it, add `wrap = true` "
                "(the curve's own scale carried on) or `backup = [a, b]` (the scale past the right edge) to the "
                "curve in the layout"
            )
    return out


def _style_warnings(traces, layout: Layout, scan_path) -> list[str]:
    """One message per curve whose ink the network sees in the other line style than declared
    (``PixelTrace.seen_line``): it is still traced, but the layout is probably wrong.

    >>> from logdigit.trace import PixelTrace
    >>> from logdigit.io.layout import CurveSpec, DepthSpec, Track
    >>> lay = Layout(DepthSpec("PX", 1.0, ((0, 0), (3, 3))), (Track(0, 40, curves=(CurveSpec("GR", 0, 150),)),))
    >>> _style_warnings([PixelTrace("GR", 0, 0, np.zeros(4), seen_line="dashed")], lay, "a.tif")
    ['a.tif: GR is declared solid but looks dashed on the scan; check its `line` in the layout']
    """
    out = []
    for t in traces:
        spec = next(c for c in layout.tracks[t.track].curves if c.mnemonic == t.mnemonic)
        declared = "solid" if spec.klass == 1 else "dashed"
        if t.seen_line is not None and t.seen_line != declared:
            out.append(
                f"{scan_path}: {t.mnemonic} is declared {spec.line} but looks {t.seen_line} on the scan; "
                "check its `line` in the layout"
            )
    return out


INK_STYLE_MAJORITY = 2.0
"""A curve declared solid whose ink the network labels dashed at least this many times as often as
solid draws a warning (:func:`_ink_style_warnings`)."""


def _ink_style_warnings(image: np.ndarray, masks: np.ndarray, layout: Layout, scan_path) -> list[str]:
    """One message per curve declared solid whose ``color`` the network labels mostly dashed (at
    least :data:`INK_STYLE_MAJORITY` to 1, over 20 pixels or more of that ink in its track, within
    the digitised rows): the layout's ``line`` is probably wrong. Whichever tracer runs. Only that
    way round: a solid stroke has no gaps to look dashed by, while long, thin or bundled dashes
    often look solid to the network, so a dashed curve that looks solid says little. Inks two
    curves of different line styles share in one track are skipped; on a grey or 1-bit scan a
    coloured ink has no pixels and draws no warning."""
    from logdigit.image.layout_scan import ink_class_counts

    if image.ndim != 3:
        return []
    rows = layout.depth.rows or (0, image.shape[0] - 1)
    band = slice(max(rows[0], 0), min(rows[1] + 1, image.shape[0]))
    out = []
    for track in layout.tracks:
        inks: dict[tuple[int, int, int], set[int]] = {}
        for c in track.curves:
            if c.color is not None:
                inks.setdefault(c.color, set()).add(c.klass)
        curves = [c for c in track.curves if c.color is not None and inks[c.color] == {1}]
        if not curves:
            continue
        counts = ink_class_counts(image[band], masks[:, band], track.left, track.right, [c.color for c in curves])
        for c, (solid, dashed) in zip(curves, counts.tolist(), strict=True):
            if solid + dashed >= 20 and dashed >= INK_STYLE_MAJORITY * max(solid, 1):
                out.append(
                    f"{scan_path}: {c.mnemonic} is declared {c.line} but looks dashed on the scan; "
                    "check its `line` in the layout"
                )
    return out


def _overlap_warnings(layout: Layout) -> list[str]:
    """One message per pair of tracks whose columns overlap (sharing one edge column is fine).

    >>> from logdigit.io.layout import DepthSpec, Track
    >>> lay = Layout(DepthSpec("FT", 1.0, ((0, 0), (9, 9))), (Track(0, 40), Track(30, 80)), source="a.toml")
    >>> _overlap_warnings(lay)[0][:67]
    'a.toml: track 1 (columns 0..40) and track 2 (columns 30..80) overla'
    """
    where = layout.source or "layout"
    out = []
    tracks = layout.tracks
    for i, a in enumerate(tracks):
        for j in range(i + 1, len(tracks)):
            b = tracks[j]
            lo, hi = max(a.left, b.left), min(a.right, b.right)
            if lo < hi:
                out.append(
                    f"{where}: track {i + 1} (columns {a.left}..{a.right}) and track {j + 1} "
                    f"(columns {b.left}..{b.right}) overlap in columns {lo}..{hi}, so ink there can be "
                    "traced as a curve of both; fix their left and right edges so tracks meet at one column at most"
                )
    return out


def _empty_warnings(curves, scan_path) -> list[str]:
    """A message when no curve got a value (a blank page, a strip too thin, tracks off the
    curves), else one per curve that got none.

    >>> from logdigit.calibrate import Curve, Curves
    >>> c = Curves(np.zeros(2), "FT", 1.0, (Curve("GR", "", np.ones(2)), Curve("SP", "", np.full(2, np.nan))))
    >>> _empty_warnings(c, "a.tif")[0][:48]
    'a.tif: curve SP got no value; it is NULL through'
    """
    empty = [c.mnemonic for c in curves.curves if not np.isfinite(c.values).any()]
    if not empty:
        return []
    if len(empty) == len(curves.curves):
        return [
            f"{scan_path}: no curve ink found; every curve is NULL in the LAS. Check that the scan shows the "
            "log's curves (not a blank or cover page) and that the layout's track columns and depth.rows lie on "
            "them; for faint curves try a lower --threshold"
        ]
    return [
        f"{scan_path}: curve {name} got no value; it is NULL throughout the LAS. Check its track's columns and "
        "its line (solid, dashed or dotted) in the layout against the scan; for a faint curve try a lower --threshold"
        for name in empty
    ]


REGION_MARGIN = 16
"""px (rows and columns) inferred beyond the layout's tracks and rows: the tracer reads masks up
to 3 px past a track edge and bridges reach up to 16 px; the network's own context comes from
whole windows around that."""


def inference_region(layout: Layout, shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
    """The rows and columns (half-open) the network must label for ``layout``: its ``depth.rows``
    (every row when not given) and the span of its tracks, each widened by :data:`REGION_MARGIN`.

    >>> from logdigit.io.layout import DepthSpec, Track
    >>> lay = Layout(DepthSpec("FT", 0.5, ((0, 0), (10, 5)), rows=(100, 199)), (Track(50, 80), Track(120, 300)))
    >>> inference_region(lay, (1000, 400, 3))
    ((84, 216), (34, 317))
    """
    h, w = shape[:2]
    r0, r1 = layout.depth.rows if layout.depth.rows is not None else (0, h - 1)
    c0 = min((t.left for t in layout.tracks), default=0)
    c1 = max((t.right for t in layout.tracks), default=w - 1)
    m = REGION_MARGIN
    return (max(r0 - m, 0), min(r1 + 1 + m, h)), (max(c0 - m, 0), min(c1 + 1 + m, w))


def network_proba(
    image: np.ndarray,
    layout: Layout,
    *,
    options: InferOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> np.ndarray:
    """The network's class probabilities of ``image``, exactly as :func:`digitise` computes them
    for ``layout`` (the same model, windows and region), to hand back later as its ``probs``.

    Args:
        image: uint8 (H, W, 3) RGB, the image digitised (the scan as read, deskewed when
            ``options.deskew``).
        layout: the layout in this image's pixels (its tracks and rows set the region).
        options: inference settings (weights, device, tile, overlap, batch, whole_scan).
        progress: ``progress("infer", rows_done, H)``.

    Returns:
        float32 (3, H, W), softmax over classes (0 background, 1 solid, 2 dashed); outside
        :func:`inference_region` (unless ``options.whole_scan``) pure background, (1, 0, 0).
    """
    from logdigit.model.device import resolve_device
    from logdigit.model.inference import predict_proba

    opts = options or InferOptions()
    device = str(resolve_device(opts.device))
    region = None if opts.whole_scan else inference_region(layout, image.shape)
    return predict_proba(cached_model(opts.weights, device), image, **_infer_kwargs(opts, device, progress, region))


def _infer_kwargs(opts: InferOptions, device: str, progress, region) -> dict:
    cb = (lambda done, total: progress("infer", done, total)) if progress else None
    return dict(
        tile=opts.tile,
        overlap=opts.overlap,
        batch=opts.batch,
        device=device,
        skip_blank=opts.skip_blank,
        amp=opts.amp,
        region=region,
        progress=cb,
    )


def _threshold_given(probs, shape: tuple[int, int], opts: InferOptions) -> tuple[np.ndarray, float]:
    """bool (3, H, W) masks of probabilities handed to :func:`digitise`, and the seconds it took."""
    from logdigit.image.threshold import threshold

    if not isinstance(probs, np.ndarray) or probs.shape != (3, *shape) or probs.dtype != np.float32:
        got = f"{probs.shape} {probs.dtype}" if isinstance(probs, np.ndarray) else type(probs).__name__
        raise InputError(
            f"probs must be float32 (3, {shape[0]}, {shape[1]}) for this scan, got {got}; "
            "pass what logdigit.pipeline.network_proba returns for this scan and layout"
        )
    t = time.perf_counter()
    masks = threshold(probs, thresholds=opts.thresholds, hysteresis=opts.hysteresis)
    return masks, time.perf_counter() - t


def _segment(
    model, image: np.ndarray, opts: InferOptions, device: str, progress, region=None
) -> tuple[np.ndarray, float]:
    """bool (3, H, W) class masks, thresholded strip by strip so probabilities are never all held,
    and the seconds spent thresholding; outside ``region`` (see :func:`inference_region`) the
    network is not run and the masks are background."""
    from logdigit.image.threshold import threshold
    from logdigit.model.inference import iter_proba, predict_proba

    h, w = image.shape[:2]
    kw = _infer_kwargs(opts, device, progress, region)
    if opts.hysteresis is not None:  # hysteresis follows connectivity across the whole scan
        probs = predict_proba(model, image, **kw)
        t = time.perf_counter()
        masks = threshold(probs, thresholds=opts.thresholds, hysteresis=opts.hysteresis)
        return masks, time.perf_counter() - t
    masks = np.empty((3, h, w), bool)
    t_thr = 0.0
    for row0, strip in iter_proba(model, image, **kw):
        t = time.perf_counter()
        masks[:, row0 : row0 + strip.shape[1]] = threshold(strip, thresholds=opts.thresholds)
        t_thr += time.perf_counter() - t
    return masks, t_thr


def _meta(scan_path, opts: InferOptions, skew: float, lay: Layout, dpi, *, drafted: bool = False) -> dict[str, str]:
    """~Parameter provenance: when, by what, from which scan, weights and layout, with which settings."""
    import datetime

    from logdigit.io.atomic import sha256_file
    from logdigit.model.weights import config_path, default_weights, read_card

    weights = Path(opts.weights) if opts.weights else default_weights()
    card = read_card(weights) if config_path(weights).is_file() else {}
    settings = {k: v for k, v in asdict(opts).items() if k not in ("weights", "max_pixels")}
    layout_path = str(lay.source) if lay.source else ""
    return {
        "PROG": f"logdigit {__version__}",
        "DIGDATE": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "SRC": str(scan_path),
        "SRCSHA": sha256_file(scan_path),
        "DPI": "unknown" if not dpi else "x".join(f"{d:g}" for d in dpi),
        "MODEL": weights.name,
        "MODELSHA": sha256_file(weights),
        "MODELVER": str(card.get("version", "unknown")),
        "LAYOUT": layout_path or ("detected from the scan" if drafted else "in memory"),
        "LAYSHA": sha256_file(layout_path) if layout_path and Path(layout_path).is_file() else "none",
        "TIES": " ".join(f"{r:g}={d:g}" for r, d in lay.depth.ties),
        "DEPTHMAP": "piecewise through the ties" if lay.depth.interpolate else "least-squares line",
        "THRESH": ",".join(f"{t:g}" for t in opts.thresholds),
        "SKEW": f"{skew:.3f}",
        "CALIB": "layout" if lay.calibrated else "uncalibrated",
        "SETTINGS": " ".join(f"{k}={_plain(v)}" for k, v in settings.items()),
    }


def _plain(value) -> str:
    """A setting as plain text: ``(0.5, 0.5)`` -> ``0.5,0.5``, None -> ``none``, True -> ``yes``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ",".join(_plain(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def default_output(scan_path: str | os.PathLike, *, outdir: str | os.PathLike | None = None) -> Path:
    """``scan.las`` beside the scan, or in ``outdir``."""
    p = Path(scan_path)
    return (Path(outdir) if outdir else p.parent) / (p.stem + ".las")


def digitise_to_files(
    scan_path: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    outdir: str | os.PathLike | None = None,
    qc: str | os.PathLike | None = None,
    quality: str | os.PathLike | None = None,
    layout: str | os.PathLike | Layout | None = None,
    template: str | os.PathLike | Layout | None = None,
    options: InferOptions | None = None,
    overwrite: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    probs: np.ndarray | None = None,
) -> tuple[Digitised, str]:
    """:func:`digitise`, then write the LAS (``out``; ``"-"`` = stdout), the QC (``qc``: the
    HTML viewer for ``.html``, else an image) and the per-depth quality CSV (``quality``),
    each atomically.

    The outputs are checked first (:func:`check_outputs`): none may be an input or the
    other output, and an existing file is replaced only with ``overwrite``.

    ``probs``: the network's probabilities of this scan, as for :func:`digitise`.

    Returns the result and where the LAS went. Nothing is written if any stage fails.
    """
    from logdigit.io.las import write_las

    if out is not None and outdir is not None:
        raise InputError("-o and --outdir both given; use one")
    target = str(out) if out is not None else str(default_output(scan_path, outdir=outdir))
    opts = options or InferOptions()
    check_outputs(
        [(scan_path, target, qc, quality)],
        layout=layout if template is None else template,
        options=opts,
        overwrite=overwrite,
    )
    result = digitise(scan_path, layout=layout, template=template, options=opts, progress=progress, probs=probs)
    t = time.perf_counter()
    if qc is not None:
        _write_qc(scan_path, result, qc, opts)
    if quality is not None:
        _write_quality(result, quality)
    write_las(result.las, target)
    result.timings["write"] = result.timings.get("write", 0.0) + time.perf_counter() - t
    return result, target


def check_outputs(
    jobs: Sequence[tuple],
    *,
    layout: str | os.PathLike | Layout | None = None,
    options: InferOptions | None = None,
    overwrite: bool = False,
) -> None:
    """Check a run's outputs before any work: each can be written, none is an input, two
    never name one file, and no existing file is replaced unless ``overwrite``.

    Paths are compared by device and inode where they exist (hard and symbolic links
    count), else by their resolved path. The inputs are every scan, its layout (``layout``
    or the sidecar ``SCAN.layout.toml``) and the weights with their JSON config. ``"-"``
    (stdout), a FIFO and a character device are streams: never "replaced", so they need
    no ``overwrite``.

    Args:
        jobs: ``(scan, las, qc)`` or ``(scan, las, qc, quality)`` per scan; ``las`` may be
            ``"-"``, ``qc`` and ``quality`` None.
        layout: the layout for every scan, as given to :func:`digitise`.
        options: the run's options (for the weights).
        overwrite: allow replacing existing files.

    Raises:
        OutputError: one line naming the output, what it clashes with and the fix.
    """
    from logdigit.errors import OutputError
    from logdigit.io.atomic import output_kind, same_file

    inputs = _inputs(jobs, layout, options or InferOptions())
    outputs: list[tuple[str, str, str]] = []  # (path, what, scan)
    existing: list[str] = []
    for scan, las, qc, *more in jobs:
        quality = more[0] if more else None
        for path, what in ((las, "output LAS (-o/--outdir)"), (qc, "QC (--qc)"), (quality, "quality CSV (--quality)")):
            if path is None or str(path) == "-":
                continue
            kind = output_kind(path)
            if kind != "stream":
                _check_writable(Path(path))
            for in_path, in_what in inputs:
                if same_file(path, in_path):
                    raise OutputError(
                        f"{path}: the {what} is the {in_what} {in_path}; writing it would destroy "
                        "an input; choose another output path"
                    )
            for other, other_what, other_scan in outputs:
                if not same_file(path, other):
                    continue
                if other_scan == str(scan):
                    raise OutputError(
                        f"{path}: given as both the {other_what} and the {what}; give each output its own path"
                    )
                raise OutputError(
                    f"{path}: both {other_scan} and {scan} would write this {what}; digitise "
                    "them in separate runs, or with `logdigit batch`, which names equal stems apart"
                )
            outputs.append((str(path), what, str(scan)))
            if kind == "file":
                existing.append(str(path))
    if existing and not overwrite:
        others = f" (and {len(existing) - 1} more output(s) of this run)" if len(existing) > 1 else ""
        raise OutputError(
            f"{existing[0]}: already exists{others}; pass --overwrite to replace it, or choose another output path"
        )


def _inputs(jobs, layout, opts: InferOptions) -> list[tuple[str, str]]:
    """(path, what) of every file a run reads."""
    from logdigit.io.layout import find_layout
    from logdigit.model.weights import config_path, default_weights

    weights = Path(opts.weights) if opts.weights else default_weights()
    found: list[tuple[str, str]] = [(str(weights), "weights file"), (str(config_path(weights)), "weights config")]
    if isinstance(layout, Layout):
        if layout.source:
            found.append((layout.source, "layout"))
    elif layout is not None:
        found.append((str(layout), "layout (--layout)"))
    for scan, *_ in jobs:
        found.append((str(scan), "scan"))
        sidecar = find_layout(scan) if layout is None else None
        if sidecar is not None:
            found.append((str(sidecar), "sidecar layout"))
    return found


def _write_qc(scan_path, result: Digitised, qc, opts: InferOptions) -> None:
    """The QC of ``result`` at ``qc``: the HTML viewer for ``.html``/``.htm``, else an image."""
    if result.image is None:
        raise InputError(f"{scan_path}: no image to draw the QC on; digitise the scan with logdigit.pipeline.digitise")
    if Path(qc).suffix.lower() in (".html", ".htm"):
        from logdigit.qc.viewer import render_qc_html, write_qc_html

        page = render_qc_html(
            result.image, result.traces, result.layout, flags=result.flags, title=Path(scan_path).name
        )
        write_qc_html(qc, page)
        return
    from logdigit.qc.image import draw_qc, write_qc

    write_qc(qc, draw_qc(result.image, result.traces, result.layout, flags=result.flags))


def _write_quality(result: Digitised, path) -> None:
    from logdigit.calibrate import depth_map
    from logdigit.confidence import LOW_CONFIDENCE
    from logdigit.quality import quality_csv, write_quality

    dm = depth_map(result.layout)
    write_quality(path, quality_csv(result.curves, result.traces, result.confidence, dm, low=LOW_CONFIDENCE))


def _check_writable(path: Path) -> None:
    from logdigit.errors import OutputError

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist; create it or choose another output path")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{path}: folder {folder} is not writable; choose another output path")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name, or use --outdir for a folder")


__all__ = [
    "STAGES",
    "Digitised",
    "InferOptions",
    "cached_model",
    "check_outputs",
    "default_output",
    "digitise",
    "digitise_to_files",
    "inference_region",
    "network_proba",
    "resolve_layout",
]
