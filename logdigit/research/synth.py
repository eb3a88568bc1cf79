"""Synthetic raster well logs with honest labels.

``make_sheet`` draws one scanned-log sheet: paper tone and texture, linear and
log grids with thin and heavy rulings, track borders, depth numbers and header
text, curves from bedded smoothed random processes (GR-, SP-, resistivity- and
sonic-like) in solid, dashed or dotted lines of 1-3 px, then scan defects
(blur, noise, JPEG, ink bleed, faded ink, bleed-through, specks, 1-bit
binarisation). On top, in the styles of real vendor prints (:mod:`logdigit.research.printparts`):
up to six curves per track with same-ink bundles of array curves and amplified copies, curve
shapes drawn from the statistics of real logs (:mod:`logdigit.research.curvestats`), curves
running along track borders, backup traces with hatching, crossover shading, flags and tick
marks, text in tracks, curve-name labels, track-head scale labels, section banners, depth
numbers centred on their depth (upright or turned 90 degrees), log grids of 2-5 decades,
long-dashed and dash-dot lines and paper stretch; and archive scans
(:mod:`logdigit.research.archive`: stains, folds, photocopies, 200 dpi 1-bit with halftone,
drifting threshold and speckle). Everything that is not a curve is background in the labels.
``CLASSIC_STYLE`` turns all of that off and draws the first generator's sheets bit for bit.
Curves are rendered at ``SUPERSAMPLE`` x resolution and
area-averaged, so the soft labels carry each pixel's true ink fraction
(partial volume). Everything is drawn from one ``rng``: the same seed gives the
same sheet bit for bit.

Label contract:

* ``soft``: float32 (3, H, W), class fractions per pixel, summing to 1
  (0 background, 1 solid-line curve, 2 dashed/dotted-line curve).
* ``labels``: uint8 (H, W), the hard class = argmax of ``soft``; a curve class
  wins a tie with background (a 1 px line centred on a pixel border still shows).
* ``truth``: per curve, the true centreline column of every pixel row (NaN where
  the curve is not drawn), in 0-based pixel coordinates (pixel j's centre is j).
* ``meta["depth_labels"]``: the printed depth numbers, ``[(row of the number's centre, depth
  value), ...]``; with ``p_depth_centred`` (the default) the value is the true depth of that
  row (on stretched paper too), with the classic numbers it is the depth at the number's baseline.

>>> sheet = make_sheet(height=96, width=160, rng=0)
>>> sheet.image.shape, sheet.image.dtype, sheet.soft.shape
((96, 160, 3), dtype('uint8'), (3, 96, 160))
>>> bool(abs(sheet.soft.sum(0) - 1).max() < 1e-5)
True
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import cv2
import numpy as np

from logdigit.io.layout import LINE_CLASSES, CurveSpec, DepthSpec, Layout, Track
from logdigit.research import printparts
from logdigit.research.archive import archive_scan
from logdigit.research.curvestats import FAMILIES, real_curve

SUPERSAMPLE = 4
"""Curves are rasterised at this factor and area-averaged to get partial-volume labels."""

SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2, "sample": 3}
"""Seed streams: sheets of different splits never share a random stream."""


@dataclass(frozen=True)
class SynthStyle:
    """The distribution sheets are drawn from. The defaults are the training distribution.

    Colours are RGB tuples. Widths are in supersampled pixels (divide by
    ``SUPERSAMPLE`` for scan pixels). Probabilities are per sheet.
    """

    inks: tuple[tuple[int, int, int], ...] = (
        (0, 0, 0),
        (0, 0, 0),
        (20, 20, 20),
        (0, 40, 160),
        (200, 20, 20),
        (0, 130, 40),
        (110, 30, 140),
        (120, 70, 20),
        (230, 120, 0),
    )
    grid_colors: tuple[tuple[int, int, int], ...] = (
        (0, 0, 0),
        (60, 60, 60),
        (120, 120, 120),
        (200, 60, 40),
        (220, 130, 60),
        (60, 140, 90),
    )
    line_widths: tuple[int, int] = (4, 12)
    dash_lengths: tuple[float, float] = (5.0, 18.0)  # scan px
    dash_gaps: tuple[float, float] = (3.0, 10.0)
    dot_gaps: tuple[float, float] = (2.0, 5.0)
    p_dashed: float = 0.4
    p_dotted: float = 0.3  # share of dashed-class curves drawn dotted
    curves_per_track: tuple[int, int] = (1, 4)
    p_log_track: float = 0.35
    p_black_on_black: float = 0.35
    p_blur: float = 0.5
    p_noise: float = 0.7
    p_jpeg: float = 0.3
    p_bleed: float = 0.3
    p_bleed_through: float = 0.3
    p_specks: float = 0.5
    p_binarise: float = 0.15
    p_text: float = 0.5
    fade: tuple[float, float] = (0.55, 1.0)
    # Real prints and archive scans (all 0 in CLASSIC_STYLE, which draws the first generator's sheets).
    # Per track:
    p_bundle: float = 0.12  # 4-5 same-ink array-resistivity curves within a few px
    p_amplified: float = 0.15  # an amplified copy (x2 to x10, wrapping) of a curve in its ink
    p_shading: float = 0.25  # crossover shading between two curves
    p_flags: float = 0.25  # line-speed / tension flags: boxes with ticks and hatching at an edge
    p_ticks: float = 0.25  # tick marks along a track edge
    p_track_text: float = 0.45  # remarks, values and names inside the track
    # Per curve:
    p_real_curve: float = 0.6  # shape drawn from real-log statistics (curvestats) instead of the classic processes
    p_edge_curve: float = 0.25  # runs along a track border (clipped at the scale's end) or within a few px of it
    p_backup_hatch: float = 0.5  # a wrapped (backup) stretch gets hatching to the track edge
    p_curve_label: float = 0.3  # the curve's name printed beside it
    p_long_dash: float = 0.3  # share of dashed curves drawn long-dashed
    p_dash_dot: float = 0.25  # share of dashed curves drawn dash-dot
    # Per sheet:
    p_scale_heads: float = 0.35  # a header band of track-head scale labels with legend strokes
    p_banner: float = 0.25  # a section banner across the page
    p_depth_centred: float = 1.0  # round depth numbers centred on their row (else the classic ones)
    p_depth_rotated: float = 0.35  # ... turned 90 degrees
    p_stretch: float = 0.3  # paper stretch: the depth scale not quite linear
    p_archive: float = 0.2  # archive scan (archive.archive_scan) instead of the classic scan defects
    p_archive_binarise: float = 0.7  # ... ending in the 200 dpi 1-bit scan
    p_faded_grid: float = 0.3  # on an archive sheet: a light grid ink that drops out at binarisation
    log_decades: tuple[int, int] = (2, 5)
    grid_on_depth: bool = True  # heavy depth rulings at round depths (every 10 units), as printed logs rule them


DEFAULT_STYLE = SynthStyle()

CLASSIC_STYLE = SynthStyle(
    curves_per_track=(1, 3),
    p_bundle=0.0,
    p_amplified=0.0,
    p_shading=0.0,
    p_flags=0.0,
    p_ticks=0.0,
    p_track_text=0.0,
    p_real_curve=0.0,
    p_edge_curve=0.0,
    p_backup_hatch=0.0,
    p_curve_label=0.0,
    p_long_dash=0.0,
    p_dash_dot=0.0,
    p_scale_heads=0.0,
    p_banner=0.0,
    p_depth_centred=0.0,
    p_depth_rotated=0.0,
    p_stretch=0.0,
    p_archive=0.0,
    p_archive_binarise=0.0,
    p_faded_grid=0.0,
    log_decades=(4, 4),
    grid_on_depth=False,
)
"""The generator's first distribution (VeerNet 1's training and test sheets), bit for bit."""

STYLES: dict[str, SynthStyle] = {"print": DEFAULT_STYLE, "classic": CLASSIC_STYLE}
"""Named distributions (``logdigit synth --style``): real prints and archive scans (the default,
the training distribution), or the first generator's sheets."""


MIXED = "mixed"
"""A training mix (``logdigit train --style mixed``): even sheets classic, odd sheets print."""


def sheet_style(name: str, index: int) -> SynthStyle:
    """The style sheet ``index`` of a stream is drawn in: :func:`style_named`, or for
    :data:`MIXED` the classic style on even sheets and the print style on odd ones.

    >>> sheet_style("mixed", 0) is CLASSIC_STYLE, sheet_style("mixed", 1) is DEFAULT_STYLE
    (True, True)
    """
    if name == MIXED:
        return CLASSIC_STYLE if index % 2 == 0 else DEFAULT_STYLE
    return style_named(name)


def style_named(name: str) -> SynthStyle:
    """The :data:`STYLES` entry ``name``.

    >>> style_named("classic") is CLASSIC_STYLE
    True
    >>> style_named("fancy")
    Traceback (most recent call last):
    ...
    logdigit.errors.InputError: --style 'fancy': expected one of ['classic', 'print']
    """
    from logdigit.errors import InputError

    if name not in STYLES:
        raise InputError(f"--style {name!r}: expected one of {sorted(STYLES)}")
    return STYLES[name]


_NO_EXTRAS = {
    f.name: getattr(CLASSIC_STYLE, f.name)
    for f in fields(SynthStyle)
    if f.name != "curves_per_track" and getattr(CLASSIC_STYLE, f.name) != getattr(DEFAULT_STYLE, f.name)
}
"""The new elements' settings that a plan (a sample sheet) always draws without."""


@dataclass(frozen=True)
class CurvePlan:
    """One curve of a planned sheet (samples use plans; training draws everything at random).

    ``kind`` picks the random process (gr, sp, res, sonic); ``width`` is in supersampled px.
    """

    mnemonic: str
    klass: int = 1
    ink: tuple[int, int, int] = (0, 0, 0)
    kind: str = "gr"
    left_value: float = 0.0
    right_value: float = 150.0
    unit: str = ""
    width: int = 8
    dotted: bool = False


@dataclass(frozen=True)
class TrackPlan:
    """One planned track: its scale and curves; ``share`` of the tracks' total width."""

    scale: str = "linear"
    curves: tuple[CurvePlan, ...] = ()
    share: float = 1.0


@dataclass(frozen=True)
class SheetPlan:
    """A fully specified sheet layout; the curves' shapes are still drawn from the rng."""

    tracks: tuple[TrackPlan, ...]
    grid: tuple[int, int, int] = (0, 0, 0)
    depth_unit: str = "FT"
    depth_top: float = 1200.0
    px_per_unit: float = 4.0
    well: tuple[tuple[str, str], ...] = (("WELL", "SYNTHETIC"),)


@dataclass(frozen=True)
class TruthCurve:
    """The true centreline of one drawn curve.

    Attributes:
        mnemonic: curve name, also used in ``layout``.
        track: index into ``layout.tracks``.
        klass: 1 solid, 2 dashed/dotted.
        x: float64 (H,), column of the centreline per row; NaN where not drawn.
    """

    mnemonic: str
    track: int
    klass: int
    x: np.ndarray


@dataclass(frozen=True)
class Sheet:
    """A synthetic scan with its labels (see the module docstring for the contract)."""

    image: np.ndarray
    labels: np.ndarray
    soft: np.ndarray
    truth: tuple[TruthCurve, ...]
    layout: Layout
    meta: dict = field(default_factory=dict)


MIN_HEIGHT, MIN_WIDTH = 48, 96
"""Smallest sheet: room for the margins, the depth column and one track."""

MAX_SIDE = 4096
"""Largest sheet side: curves are drawn 4x supersampled, so a sheet of side s holds
(4 s)^2 bytes per curve while drawn; the network trains on 192-512 px crops."""


def check_sheets(*, n: int, seed: int, height: int, width: int, split: str = "test") -> None:
    """Refuse sheet settings :func:`write_dataset` (and the evaluation) cannot draw, naming the flag.

    Raises:
        InputError: ``n`` below 1, a negative ``seed``, a side outside its range, an unknown split.

    >>> check_sheets(n=0, seed=0, height=512, width=640)
    Traceback (most recent call last):
    ...
    logdigit.errors.InputError: --n 0: expected a whole number of sheets >= 1, e.g. --n 10
    """
    from logdigit.errors import InputError

    def whole(v) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not whole(n) or n < 1:
        raise InputError(f"--n {n!r}: expected a whole number of sheets >= 1, e.g. --n 10")
    if not whole(seed) or seed < 0:
        raise InputError(f"--seed {seed!r}: expected a whole number >= 0, e.g. --seed 0")
    for flag, value, low in (("--height", height, MIN_HEIGHT), ("--width", width, MIN_WIDTH)):
        if not whole(value) or not low <= value <= MAX_SIDE:
            raise InputError(f"{flag} {value!r}: a sheet side must be {low} to {MAX_SIDE} px, e.g. {flag} 512")
    if split not in SPLITS:
        raise InputError(f"--split {split!r}: expected one of {sorted(SPLITS)}")


def sheet_rng(split: str, seed: int, index: int) -> np.random.Generator:
    """The random stream of sheet ``index`` of ``split`` under ``seed``.

    >>> a = sheet_rng("test", 1, 0).integers(1 << 30); b = sheet_rng("train", 1, 0).integers(1 << 30)
    >>> bool(a != b)
    True
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {sorted(SPLITS)}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS[split], int(index)]))


def make_sheet(
    *,
    height: int,
    width: int,
    rng=None,
    style: SynthStyle = DEFAULT_STYLE,
    plan: SheetPlan | None = None,
    parts: bool = False,
) -> Sheet:
    """Draw one synthetic scanned log sheet.

    Args:
        height: rows (>= 48).
        width: columns (>= 96).
        rng: seed or ``np.random.Generator``.
        style: the distribution to draw from.
        plan: fixed tracks, curves, inks and depth scale (no wrapping, curves start at the
            top, none of the print furniture or archive defects); None draws them all from ``style``.
        parts: keep, in ``meta["parts"]``, the ink alpha (float32 (H, W)) that each kind of
            non-curve print furniture laid (for tests; costs memory).

    Returns:
        A :class:`Sheet`; ``image`` uint8 (H, W, 3) RGB. ``meta["depth_labels"]`` lists the
        printed depth numbers as ``(row of the number's centre, depth value)``.
    """
    if height < MIN_HEIGHT or width < MIN_WIDTH:
        raise ValueError(f"sheet must be at least {MIN_WIDTH} x {MIN_HEIGHT} px, got {width} x {height}")
    # With a plan every new element's chance is 0, so samples draw exactly what they always drew.
    st = style if plan is None else replace(style, **_NO_EXTRAS)
    painter = _Painter(height, width, np.random.default_rng(rng), style, st, plan, parts)
    painter.background()
    painter.furniture()
    for t in range(len(painter.tracks)):
        painter.track(t)
    return painter.finish()


class _Painter:
    """The drawing state of one sheet. Its steps run in a fixed order and draw from one rng:
    the same seed gives the same sheet. ``style`` gives the classic draws, ``st`` (the same
    but with the new elements off for planned sheets) the real-print and archive ones."""

    def __init__(self, height, width, rng, style, st, plan, parts) -> None:
        self.height, self.width, self.rng = height, width, rng
        self.style, self.st, self.plan, self.parts = style, st, plan, parts
        self.ink_parts: dict[str, np.ndarray] = {}
        self.cov = np.zeros((3, height, width), np.float32)  # union coverage per class (index 0 unused)
        self.truth: list[TruthCurve] = []
        self.specs: list[Track] = []
        self.heads: list[list] = []

    def keep(self, name: str, alpha: np.ndarray) -> None:
        """Record the ink of a piece of print furniture (``parts=True`` only)."""
        if self.parts:
            old = self.ink_parts.get(name)
            self.ink_parts[name] = alpha.copy() if old is None else np.maximum(old, alpha)

    def background(self) -> None:
        """Paper, page structure, grids, depth numbers, borders, classic text and bleed-through."""
        rng, style, st, plan, h = self.rng, self.style, self.st, self.plan, self.height
        self.frame = frame = _frame(h, self.width, rng, plan)
        self.image = image = _paper(h, self.width, rng)
        self.paper_rgb = image.reshape(-1, 3).mean(0)
        grid_rgb = _pick(rng, style.grid_colors)
        self.black_on_black = rng.random() < style.p_black_on_black
        if self.black_on_black:
            grid_rgb = (int(rng.integers(0, 50)),) * 3
        if plan is not None:
            grid_rgb = plan.grid
        self.archive = _chance(rng, st.p_archive)
        if self.archive and _chance(rng, st.p_faded_grid):  # a light ink the 1-bit scan drops
            grid_rgb = _pick(rng, ((255, 170, 120), (170, 210, 255), (190, 230, 190), (200, 200, 200)))
        self.grid_rgb = grid_rgb
        self.page = page = _page(h, frame, st, rng)
        self.tracks, self.decades = [], []
        for t, (left, right) in enumerate(frame["tracks"]):
            scale = "log" if rng.random() < style.p_log_track else "linear"
            scale = plan.tracks[t].scale if plan is not None else scale
            n_dec = 4
            if scale == "log" and st.log_decades != (4, 4):
                n_dec = int(rng.integers(st.log_decades[0], st.log_decades[1] + 1))
            _grid(
                image,
                left,
                right,
                h,
                frame["row_step"],
                scale,
                grid_rgb,
                rng,
                decades=n_dec,
                rows=page["rows"],
                depth0=frame["depth0"] if st.grid_on_depth else None,
            )
            self.tracks.append((left, right, scale))
            self.decades.append(n_dec)
        if _chance(rng, st.p_depth_centred):
            rotated = _chance(rng, st.p_depth_rotated)
            alpha, self.depth_labels = printparts.depth_numbers(
                image, frame["depth_col"], page["depth_at"], grid_rgb, rng, rotated=rotated, skip_rows=page["blank"]
            )
            self.keep("depth_numbers", alpha)
        else:
            self.depth_labels = _depth_column(image, frame, h, grid_rgb, rng)
        for left, right, _ in self.tracks:
            _border(image, left, right, h, grid_rgb, rng)
        if rng.random() < style.p_text:
            _text(image, frame, self.tracks, rng)
        if rng.random() < style.p_bleed_through:
            _bleed_through(image, self.tracks, h, rng)

    def furniture(self) -> None:
        """Flags, ticks and text in the tracks; banners and the header band blanked."""
        rng, st, image, page = self.rng, self.st, self.image, self.page
        body = (page["body_top"], self.height)
        for left, right, _ in self.tracks if st.p_flags or st.p_ticks or st.p_track_text else ():
            ink = (20, 20, 20) if rng.random() < 0.7 else self.grid_rgb
            if _chance(rng, st.p_flags):
                self.keep("flags", printparts.flags(image, left, right, body, ink, rng))
            if _chance(rng, st.p_ticks):
                self.keep("ticks", printparts.ticks(image, left, right, body, ink, rng))
            if _chance(rng, st.p_track_text):
                self.keep("track_text", printparts.track_text(image, left, right, body, ink, rng))
        depth_col = self.frame["depth_col"]
        x_lo, x_hi = min(depth_col[0], self.tracks[0][0]), max(depth_col[1], self.tracks[-1][1])
        for r0, r1 in page["banners"]:
            self.keep("banner", printparts.banner(image, r0, r1, x_lo, x_hi + 1, self.paper_rgb, self.grid_rgb, rng))
        if page["header"] is not None:
            r0, r1 = page["header"]
            image[r0:r1, x_lo : x_hi + 1] = self.paper_rgb

    def track(self, t: int) -> None:
        """The curves of track ``t``, its companions (bundle, amplified copy) and shading."""
        rng, st, plan = self.rng, self.st, self.plan
        left, right, scale = self.tracks[t]
        n_curves = int(rng.integers(self.style.curves_per_track[0], self.style.curves_per_track[1] + 1))
        n_curves = len(plan.tracks[t].curves) if plan is not None else n_curves
        n_bundle = int(rng.integers(4, 6)) if _chance(rng, st.p_bundle) else 0
        n_curves = min(n_curves, 6 - n_bundle)  # at most six curves in a track
        track_cov = np.zeros((self.height, self.width), np.float32)
        n_before = len(self.truth)
        drawn: list[tuple[CurvePlan, str]] = []
        for k in range(n_curves):
            # Draw order matters: a seed must keep giving the same training sheets.
            cp = (
                plan.tracks[t].curves[k]
                if plan is not None
                else _draw_curve_plan(t, k, scale, self.black_on_black, st, rng, decades=self.decades[t])
            )
            frac = _shape(cp.kind, self.height, self.frame, st, rng)
            if plan is not None:  # samples: keep inside the track, no wrap
                frac = 0.06 + 0.88 * np.clip(frac, 0.0, 1.0)
            drawn.append((cp, self.curve(t, cp, left + frac * (right - left), track_cov)))
        mine = self.truth[n_before:]
        for cp, x in _companions(t, n_curves, n_bundle, mine, drawn, left, right, self.height, self.frame, st, rng):
            drawn.append((cp, self.curve(t, cp, x, track_cov)))
        if len(self.truth) - n_before >= 2 and _chance(rng, st.p_shading):
            a, b = rng.choice(np.arange(n_before, len(self.truth)), 2, replace=False)
            tint = _pick(rng, ((255, 230, 120), (170, 220, 170), (200, 200, 200), (250, 190, 150), (60, 60, 60)))
            self.keep("shading", printparts.shading(self.image, self.truth[a].x, self.truth[b].x, track_cov, tint, rng))
        track_specs = [
            CurveSpec(cp.mnemonic, cp.left_value, cp.right_value, unit=cp.unit, line=line, color=cp.ink)
            for cp, line in drawn
        ]
        if plan is None:  # a plan's order is its author's
            track_specs = _documented_order(track_specs, self.truth[n_before:])
        self.specs.append(Track(left=left, right=right, scale=scale, curves=tuple(track_specs)))
        self.heads.append(drawn)

    def curve(self, t: int, cp: CurvePlan, x: np.ndarray, track_cov: np.ndarray) -> str:
        """Draw one curve (and its hatching and name label); returns its layout ``line``."""
        rng, st, plan, image = self.rng, self.st, self.plan, self.image
        left, right, _ = self.tracks[t]
        ss_cov, x_drawn, line = _render_curve(
            x,
            left,
            right,
            cp.klass,
            self.height,
            self.width,
            st,
            rng,
            plan=cp if plan is not None else None,
            blank=self.page["blank"],
        )
        fade = rng.uniform(*self.style.fade)
        fade = 1.0 if plan is not None or self.archive else fade
        # On an archive scan curve ink stays dark enough to survive the 1-bit threshold (its
        # label says it is there); only the furniture may be faint enough to drop out.
        ink = _darkest(cp.ink, 110.0) if self.archive else cp.ink
        _ink(image, ss_cov, ink, fade, bleed=rng.random() < self.style.p_bleed, rng=rng)
        self.cov[cp.klass] = 1.0 - (1.0 - self.cov[cp.klass]) * (1.0 - ss_cov)
        np.maximum(track_cov, ss_cov, out=track_cov)
        wrapped = np.isfinite(x_drawn) & (x > right) & (x_drawn < x - 1e-9)
        if wrapped.sum() > 3 and _chance(rng, st.p_backup_hatch):
            self.keep("hatch", printparts.backup_hatch(image, x_drawn, wrapped, left, track_cov, cp.ink, rng))
        if _chance(rng, st.p_curve_label):
            self.keep("curve_label", printparts.curve_label(image, x_drawn, left, right, cp.mnemonic, cp.ink, rng))
        self.truth.append(TruthCurve(cp.mnemonic, t, cp.klass, x_drawn))
        return line

    def finish(self) -> Sheet:
        """Scale heads, scan defects, labels and the layout."""
        rng, st, frame, page, h = self.rng, self.st, self.frame, self.page, self.height
        if page["header"] is not None:
            self.keep("scale_heads", _scale_heads(self.image, page["header"], self.tracks, self.heads, rng))
        if self.archive:
            binarise = _chance(rng, st.p_archive_binarise)
            image = archive_scan(self.image, rng=rng, binarise=binarise, p_photocopy=0.5 if binarise else 1.0)
        else:
            image = _degrade(self.image, self.style, rng)
        soft = _soft_labels(self.cov)
        top, px_per_unit, depth0 = frame["top"], frame["px_per_unit"], frame["depth0"]
        last = h - 1 - (h - 1) % 10
        ties = ((float(top), depth0), (float(last), depth0 + (last - top) / px_per_unit))
        if page["stretched"]:
            ties = ((float(top), float(page["depth_at"][top])), (float(last), float(page["depth_at"][last])))
        plan = self.plan
        unit = plan.depth_unit if plan is not None else "FT"
        well = dict(plan.well) if plan is not None else {"WELL": "SYNTHETIC"}
        depth = DepthSpec(unit=unit, step=0.5, ties=ties)
        layout = Layout(depth=depth, tracks=tuple(self.specs), well=well, source="synthetic")
        meta = {"black_on_black": bool(self.black_on_black), "depth_labels": self.depth_labels}
        meta["archive"] = bool(self.archive)
        if self.parts:
            meta["parts"] = self.ink_parts
        truth = tuple(self.truth)
        return Sheet(image=image, labels=hard_labels(soft), soft=soft, truth=truth, layout=layout, meta=meta)


def _documented_order(specs: list[CurveSpec], truth) -> list[CurveSpec]:
    """The track's curves as a user following the README lists them: curves of one line
    style in left-to-right order of their median column, the order in which ``infer``
    hands out curves it cannot tell apart by colour (same ink, grey or 1-bit scans).
    Curves of the other styles keep their places; mnemonics and truth are unchanged."""
    out = list(specs)
    for line in LINE_CLASSES:
        slots = [i for i, c in enumerate(specs) if c.line == line]
        medians = [float(np.nanmedian(truth[i].x)) if np.isfinite(truth[i].x).any() else np.inf for i in slots]
        for slot, k in zip(slots, np.argsort(medians, kind="stable"), strict=True):
            out[slot] = specs[slots[k]]
    return out


def hard_labels(soft: np.ndarray) -> np.ndarray:
    """uint8 (H, W) class map from soft labels (3, H, W): argmax, curve classes win ties.

    >>> soft = np.array([[[0.5, 0.7]], [[0.5, 0.3]], [[0.0, 0.0]]], np.float32)
    >>> hard_labels(soft).tolist()
    [[1, 0]]
    """
    # Reverse order so argmax's first-maximum rule prefers the curve classes on ties.
    return (2 - np.argmax(soft[::-1], axis=0)).astype(np.uint8)


# --------------------------------------------------------------------- layout


def _pick(rng: np.random.Generator, options):
    return tuple(int(v) for v in options[int(rng.integers(len(options)))])


def _darkest(rgb, luminance: float) -> tuple[int, int, int]:
    """``rgb`` scaled down to at most ``luminance`` (0-255, Rec. 601 weights)."""
    y = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    k = min(1.0, luminance / y) if y > 0 else 1.0
    return tuple(int(c * k) for c in rgb)


def _chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p``; draws nothing when ``p`` is 0 (so CLASSIC_STYLE keeps its stream)."""
    return p > 0 and bool(rng.random() < p)


def _draw_curve_plan(t, k, scale, black_on_black, style, rng, *, decades: int = 4) -> CurvePlan:
    klass = 2 if rng.random() < style.p_dashed else 1
    ink = (int(rng.integers(0, 40)),) * 3 if black_on_black and rng.random() < 0.8 else _pick(rng, style.inks)
    lv, rv = (0.2, 0.2 * 10.0**decades) if scale == "log" else (0.0, 150.0)
    kind = str(rng.choice(["gr", "sp", "res", "sonic"]))
    if _chance(rng, style.p_real_curve):
        kind = "real-res" if scale == "log" and rng.random() < 0.7 else f"real-{rng.choice(FAMILIES)}"
    if _chance(rng, style.p_edge_curve):
        kind = f"{kind}+edge"
    return CurvePlan(mnemonic=f"T{t + 1}C{k + 1}", klass=klass, ink=ink, left_value=lv, right_value=rv, kind=kind)


def _shape(kind: str, n: int, frame: dict, style: SynthStyle, rng: np.random.Generator) -> np.ndarray:
    """A curve's position per row as track fractions for a curve plan's ``kind``: a classic process
    (gr, sp, res, sonic), ``real-FAMILY`` (real-log statistics), either with ``+edge`` (runs along
    a track border)."""
    base, edge = kind.split("+")[0], kind.endswith("+edge")
    if base.startswith("real-"):
        frac = real_curve(n, base[5:], rows_per_m=frame["px_per_unit"] * 3.28084, rng=rng)
    else:
        frac = _curve_process(n, rng, kind=base)
    return _to_edge(frac, rng) if edge else frac


def _to_edge(frac: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift a curve so that part of it lies past one end of the scale, and often clip it there:
    ink on and beside the track border, where real prints run off-scale curves."""
    q = float(np.quantile(frac, rng.uniform(0.2, 0.8)))
    if rng.random() < 0.5:
        out = frac - q + rng.uniform(-0.02, 0.01)
    else:
        out = frac - q + 1.0 + rng.uniform(-0.01, 0.02)
    return np.clip(out, 0.0, 1.0) if rng.random() < 0.6 else np.clip(out, -0.04, 1.04)


def _companions(t, n_curves, n_bundle, truth, drawn, left, right, n, frame, style, rng):
    """Extra curves of a track: a same-ink bundle of ``n_bundle`` array curves and an amplified
    copy. Yields (CurvePlan, x per row); a copy shares the ink of the curve it follows."""
    k = n_curves
    if n_bundle:
        frac = real_curve(n, "res", rows_per_m=frame["px_per_unit"] * 3.28084, rng=rng)
        frac = 0.15 + 0.7 * (frac - frac.min()) / max(np.ptp(frac), 1e-6)
        ink = _pick(rng, style.inks)
        width = int(rng.integers(style.line_widths[0], 8))
        for m in range(n_bundle):
            px = (m - 2) * rng.uniform(1.0, 3.0)  # a few px apart, crossing where the beds change
            wobble = cv2.GaussianBlur(rng.normal(0, 1, (n, 1)), (0, 0), rng.uniform(3, 12))[:, 0]
            x = left + frac * (right - left) + px + wobble * rng.uniform(0, 6)
            klass = 1 if m % 2 == 0 or rng.random() < 0.4 else 2
            k += 1
            yield CurvePlan(f"T{t + 1}C{k}", klass, ink, "array", 0.2, 2000.0, width=width), x
    if truth and k < 6 and _chance(rng, style.p_amplified):
        j = int(rng.integers(len(truth)))
        src, (cp, _) = truth[j], drawn[j]
        gain = float(rng.choice([2.0, 2.5, 5.0, 10.0]))
        frac = (src.x - left) / (right - left)
        frac = np.where(np.isfinite(frac), frac, np.nanmedian(frac) if np.isfinite(frac).any() else 0.5)
        amp = (frac - rng.uniform(0.0, 0.3)) * gain
        amp = np.mod(amp, 1.0) if rng.random() < 0.7 else np.clip(amp, 0.0, 1.0)
        klass = 2 if rng.random() < 0.6 else 1
        k += 1
        yield CurvePlan(f"T{t + 1}C{k}", klass, cp.ink, "amplified", 0.0, 150.0 / gain), left + amp * (right - left)


def _frame(height: int, width: int, rng: np.random.Generator, plan: SheetPlan | None = None) -> dict:
    """Track columns, depth column and depth scale for a sheet."""
    depth_w = int(rng.integers(28, 60))
    margin = int(rng.integers(2, 14))
    x = margin
    tracks, depth_col = [], None
    n_tracks = 1 if width < 260 else int(rng.integers(1, 4))
    n_tracks = len(plan.tracks) if plan is not None else n_tracks
    avail = width - 2 * margin - depth_w
    widths = rng.dirichlet(np.ones(n_tracks) * 4) * avail if n_tracks > 1 else np.array([avail])
    if plan is not None:
        shares = np.array([tp.share for tp in plan.tracks], float)
        widths = shares / shares.sum() * avail
    depth_after = int(rng.integers(0, n_tracks + 1)) if n_tracks > 1 else int(rng.integers(0, 2))
    for t in range(n_tracks):
        if t == depth_after:
            depth_col = (x, x + depth_w)
            x += depth_w
        w = max(int(widths[t]), 60)
        tracks.append((x, min(x + w, width - margin - 1)))
        x += w
    if depth_col is None:
        depth_col = (x, min(x + depth_w, width - 1))
    if plan is None:
        tracks = [(lft, rgt) for lft, rgt in tracks if rgt - lft >= 40]
    row_step = float(rng.uniform(4.0, 14.0))  # px between thin horizontal rulings
    row_step = plan.px_per_unit * 2.0 if plan is not None else row_step
    depth0 = float(rng.integers(1, 400) * 10)
    depth0 = plan.depth_top if plan is not None else depth0
    return {
        "tracks": tracks,
        "depth_col": depth_col,
        "row_step": row_step,
        "top": 0,
        "px_per_unit": row_step / 2.0,
        "depth0": depth0,
    }


def _page(height: int, frame: dict, style: SynthStyle, rng: np.random.Generator) -> dict:
    """Page structure: a header band of scale heads, section banners, and the true depth of
    every row (not quite linear when the paper stretched). Rows in ``blank`` hold no curve."""
    blank = np.zeros(height, bool)
    header, banners, rows = None, [], None
    depth_at = frame["depth0"] + (np.arange(height) - frame["top"]) / frame["px_per_unit"]
    if height >= 160 and _chance(rng, style.p_scale_heads):
        header = (0, int(rng.integers(24, 52)))
        blank[: header[1]] = True
    if height >= 200 and _chance(rng, style.p_banner):
        r0 = int(rng.integers(height // 5, height - 40))
        r1 = r0 + int(rng.integers(14, 34))
        banners.append((r0, r1))
        blank[r0:r1] = True
    stretched = _chance(rng, style.p_stretch)
    if stretched:  # nominal row y lands on row y + s(y): a smooth, monotonic warp of up to ~1.5 %
        y = np.arange(-height, 2 * height, dtype=np.float64)
        amp = rng.uniform(0.002, 0.015) * height
        warp = y + amp * np.sin(2 * np.pi * y / (height * rng.uniform(0.8, 3.0)) + rng.uniform(0, 2 * np.pi))
        warp += y * rng.uniform(-0.01, 0.01)

        def rows(v, _y=y, _w=warp):
            return np.interp(v, _y, _w)

        depth_at = frame["depth0"] + (np.interp(np.arange(height), warp, y) - frame["top"]) / frame["px_per_unit"]
    body_top = header[1] if header is not None else 0
    return {
        "blank": blank,
        "header": header,
        "banners": banners,
        "rows": rows,
        "depth_at": depth_at,
        "stretched": stretched,
        "body_top": body_top,
    }


# ---------------------------------------------------------------- background


def _paper(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    base = np.array([rng.uniform(225, 255), rng.uniform(220, 255), rng.uniform(200, 250)], np.float32)
    if rng.random() < 0.5:
        base[:] = base.mean()
    small = rng.normal(0, 1, (max(height // 32, 2), max(width // 32, 2))).astype(np.float32)
    texture = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(0, 6)
    grain = rng.normal(0, rng.uniform(0, 3), (height, width)).astype(np.float32)
    return np.clip(base[None, None, :] + (texture + grain)[..., None], 0, 255).astype(np.float32)


def _blend_line(image, pts_a, pts_b, color, alpha, thickness):
    # Only the line's bounding box (padded by the pen) changes: blend there, not over the page.
    h, w = image.shape[:2]
    pad = thickness + 2
    x0, x1 = max(min(pts_a[0], pts_b[0]) - pad, 0), min(max(pts_a[0], pts_b[0]) + pad + 1, w)
    y0, y1 = max(min(pts_a[1], pts_b[1]) - pad, 0), min(max(pts_a[1], pts_b[1]) + pad + 1, h)
    if x1 <= x0 or y1 <= y0:
        return
    overlay = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shift_a, shift_b = (pts_a[0] - x0, pts_a[1] - y0), (pts_b[0] - x0, pts_b[1] - y0)
    cv2.line(overlay, shift_a, shift_b, 255, thickness, cv2.LINE_AA)
    a = overlay.astype(np.float32)[..., None] * (alpha / 255.0)
    region = image[y0:y1, x0:x1]
    region *= 1 - a
    region += a * np.asarray(color, np.float32)


def _grid(image, left, right, height, row_step, scale, color, rng, *, decades: int = 4, rows=None, depth0=None) -> None:
    """Vertical rulings of a linear (10 divisions) or log grid of ``decades`` decades, plus horizontal
    rulings (at rows ``rows(nominal row)`` on stretched paper): a thin one every 2 depth units, a heavy
    one every 10 and a 2-px one every 20. With ``depth0`` (the depth of nominal row 0, ``row_step``
    being 2 units) the heavy rulings fall at whole tens of depth, where printed logs put them and
    their depth numbers; without it the rulings start at a random row (the first generator)."""
    thin_a, heavy_a = rng.uniform(0.2, 0.7), rng.uniform(0.6, 1.0)
    width = right - left
    if scale == "log":
        fr = [np.log10(m * 10**d) / decades for d in range(decades) for m in range(1, 10)]
        xs = [(f, m == 0) for f, m in zip(fr, [i % 9 for i in range(9 * decades)], strict=True)]
    else:
        xs = [(i / 10, i % 5 == 0) for i in range(1, 10)]
    for f, heavy in xs:
        c = int(round(left + f * width))
        _blend_line(image, (c, 0), (c, height - 1), color, heavy_a if heavy else thin_a, 2 if heavy else 1)
    k, y = 0, float(rng.uniform(0, row_step))
    if depth0 is not None:  # the first heavy ruling at the first whole ten of depth, then back to row >= 0
        y_heavy = (math.ceil(depth0 / 10 - 1e-9) * 10 - depth0) * row_step / 2
        back = math.floor(y_heavy / row_step)
        k, y = -back, y_heavy - back * row_step
    while y < height:
        heavy = k % 5 == 0
        r = int(round(y if rows is None else float(rows(y))))
        _blend_line(image, (left, r), (right, r), color, heavy_a if heavy else thin_a, 2 if k % 10 == 0 else 1)
        y += row_step
        k += 1


def _blend_text(image, text, org, scale, color, alpha=1.0) -> None:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.putText(mask, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 1, cv2.LINE_AA)
    a = mask.astype(np.float32)[..., None] * (alpha / 255.0)
    image *= 1 - a
    image += a * np.asarray(color, np.float32)


def _border(image, left, right, height, color, rng) -> None:
    t = int(rng.integers(1, 4))
    for c in (left, right):
        _blend_line(image, (c, 0), (c, height - 1), color, 1.0, t)


def _depth_column(image, frame, height, color, rng) -> list[tuple[float, float]]:
    """The classic depth numbers: the depth at a number's baseline row, printed above it.
    Returns ``[(row of the number's centre, printed value), ...]``."""
    left, right = frame["depth_col"]
    step = frame["row_step"] * 10
    depth = frame["depth0"]
    y = float(rng.uniform(8, step))
    scale = float(rng.uniform(0.3, 0.45))
    labels = []
    while y < height - 4:
        value = int(depth + (y - frame["top"]) / frame["px_per_unit"])
        _blend_text(image, f"{value}", (left + 2, int(y)), scale, color)
        (_, th), _ = cv2.getTextSize(f"{value}", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        labels.append((float(int(y) - (th - 1) / 2), float(value)))
        y += step
    return labels


def _scale_heads(image, header, tracks, heads, rng) -> np.ndarray:
    """Track-head scale labels in the header band: per curve, its left value, name and right
    value over a stroke of its line in its ink (a legend: the curve's look, but no curve)."""
    alpha_all = np.zeros(image.shape[:2], np.float32)
    r0, r1 = header
    for (left, right, _), inks in zip(tracks, heads, strict=True):
        row = r0 + 10
        for cp, line in inks:
            if row + 4 > r1 - 1:
                break
            stroke = np.zeros(image.shape[:2], np.float32)
            x0, x1 = left + 4, right - 4
            step = 1000 if line == "solid" else (9 if line == "dashed" else 3)
            on = step if line == "solid" else (6 if line == "dashed" else 1)
            for xa in range(x0, x1, step):
                cv2.line(stroke, (xa, row + 3), (min(xa + on, x1), row + 3), 1.0, int(rng.integers(1, 3)))
            lv, rv = f"{cp.left_value:g}", f"{cp.right_value:g}"
            alpha = printparts.scale_head(image, left, right, row, cp.mnemonic, lv, rv, cp.ink, stroke, rng)
            alpha_all = np.maximum(alpha_all, alpha)
            row += 12
    return alpha_all


def _text(image, frame, tracks, rng) -> None:
    words = [
        "GR",
        "SP",
        "ILD",
        "SFLU",
        "DT",
        "CALI",
        "GAPI",
        "OHMM",
        "US/F",
        "MV",
        "CSG 9 5/8",
        "TD",
        "RUN 1",
        "0",
        "150",
        "0.2",
        "2000",
        "140",
        "40",
    ]
    for _ in range(int(rng.integers(1, 5))):
        left, right, _ = tracks[int(rng.integers(len(tracks)))]
        x = int(rng.integers(left + 2, max(right - 30, left + 3)))
        y = int(rng.integers(10, image.shape[0] - 2))
        _blend_text(image, str(rng.choice(words)), (x, y), float(rng.uniform(0.3, 0.6)), (20, 20, 20))


def _bleed_through(image, tracks, height, rng) -> None:
    """Faint blurred strokes from the other side of the paper (not labelled)."""
    left, right, _ = tracks[int(rng.integers(len(tracks)))]
    frac = _curve_process(height, rng, kind="gr")
    pts = np.stack([left + frac * (right - left), np.arange(height)], 1)
    ghost = np.zeros(image.shape[:2], np.uint8)
    cv2.polylines(ghost, [np.round(pts).astype(np.int32)], False, 255, 3, cv2.LINE_AA)
    a = cv2.GaussianBlur(ghost.astype(np.float32), (0, 0), 1.5)[..., None] / 255 * rng.uniform(0.05, 0.18)
    image *= 1 - a
    image += a * 40


# -------------------------------------------------------------------- curves


def _curve_process(n: int, rng: np.random.Generator, *, kind: str) -> np.ndarray:
    """A bedded, smoothed random log as track fractions, float64 (n,)."""
    beds = np.cumsum(rng.exponential(rng.uniform(6, 60), size=n // 3 + 4)).astype(int)
    bed_id = np.searchsorted(beds, np.arange(n), side="right")
    if kind == "sp":  # drifting shale baseline with sand deflections
        base = 0.6 + np.cumsum(rng.normal(0, 0.004, n))
        sand = rng.random(bed_id.max() + 1) < 0.4
        level = base - sand[bed_id] * rng.uniform(0.1, 0.45, bed_id.max() + 1)[bed_id]
    elif kind == "res":  # log-normal resistivity on a 4-decade grid
        level = np.clip(rng.normal(0.35, 0.15, bed_id.max() + 1), -0.05, 1.05)[bed_id]
    elif kind == "sonic":
        level = rng.uniform(0.2, 0.8, bed_id.max() + 1)[bed_id]
    else:  # gamma ray: shale high, sand low; occasionally past the scale (wraps)
        shale = rng.random(bed_id.max() + 1) < 0.5
        level = np.where(shale, rng.uniform(0.55, 1.15, bed_id.max() + 1), rng.uniform(0.05, 0.4, bed_id.max() + 1))
        level = level[bed_id]
    noise = cv2.GaussianBlur(rng.normal(0, 1, (n, 1)).astype(np.float32), (0, 0), 2.0)[:, 0]
    level = level + noise * rng.uniform(0.0, 0.04)
    sigma = float(rng.uniform(1.5, 6.0))
    smooth = cv2.GaussianBlur(level.astype(np.float64).reshape(-1, 1), (0, 0), sigma)[:, 0]
    return np.clip(smooth, -0.08, 1.25)


def _wrap(frac: np.ndarray) -> np.ndarray:
    """Values past the right edge re-enter from the left (a backup scale), as on paper logs."""
    return np.where(frac > 1.0, frac - 1.0, frac)


def _render_curve(x, left, right, klass, height, width, style, rng, plan: CurvePlan | None = None, blank=None):
    """Rasterise one curve at SUPERSAMPLE x and area-average: coverage float32 (H, W), drawn x per
    row, and its layout ``line`` ("solid", "dashed" or "dotted"). Rows in ``blank`` stay undrawn."""
    s = SUPERSAMPLE
    frac = (x - left) / (right - left)
    frac = _wrap(frac) if rng.random() < 0.5 else np.clip(frac, -0.04, 1.04)
    x_drawn = left + frac * (right - left)
    r0 = int(rng.integers(0, height // 8 + 1)) if rng.random() < 0.2 else 0
    if plan is not None:
        x_drawn, r0 = np.asarray(x, np.float64).copy(), 0
    x_drawn[:r0] = np.nan
    if blank is not None:
        x_drawn[blank] = np.nan
    rows = np.arange(height, dtype=np.float64)
    # Break the polyline where the curve wraps (a jump of over a third of the track) or stops.
    finite = np.isfinite(x_drawn)
    jump = (np.abs(np.diff(x_drawn)) > (right - left) / 3) | (finite[1:] != finite[:-1])
    pieces = np.split(np.arange(height), np.nonzero(jump)[0] + 1)
    thick = int(rng.integers(style.line_widths[0], style.line_widths[1] + 1))
    thick = plan.width if plan is not None else thick
    pattern, line = None, "solid"
    if klass == 2:
        dotted = rng.random() < style.p_dotted
        dotted = plan.dotted if plan is not None else dotted
        line = "dotted" if dotted else "dashed"
        dash = rng.uniform(0.3, 1.2) if dotted else rng.uniform(*style.dash_lengths)
        gap = rng.uniform(*style.dot_gaps) if dotted else rng.uniform(*style.dash_gaps)
        gap = max(gap, thick / s + 1.0)  # the gap must stay open once the pen width is added
        # Round pen caps add thick/2 at each end of a dash: the visible gap stays `gap` px.
        pattern = (dash * s, (dash + gap + thick / s) * s, rng.uniform(0, (dash + gap) * s))
        if not dotted and (style.p_long_dash > 0 or style.p_dash_dot > 0):
            u = rng.random()
            if u < style.p_long_dash:  # long dashes, as on older vendor prints
                dash = rng.uniform(20.0, 45.0)
                pattern = (dash * s, (dash + gap + thick / s) * s, rng.uniform(0, (dash + gap) * s))
            elif u < style.p_long_dash + style.p_dash_dot:  # dash-dot: a dash, a gap, a dot, a gap
                dot = rng.uniform(0.3, 1.0)
                period = dash + dot + 2 * (gap + thick / s)
                pattern = (dash * s, period * s, rng.uniform(0, period * s), (dash + gap + thick / s) * s, dot * s)
    # Draw only the columns the curve can reach (scan px, padded by the pen): same pixels, less work.
    reach = x_drawn[finite]
    c0 = max(int(np.floor(reach.min() - thick / s - 2)) if reach.size else 0, 0)
    c1 = min(int(np.ceil(reach.max() + thick / s + 3)) if reach.size else 1, width)
    c1 = max(c1, c0 + 1)
    canvas = np.zeros((height * s, (c1 - c0) * s), np.uint8)
    for idx in pieces:
        idx = idx[np.isfinite(x_drawn[idx])]
        if len(idx) < 2:
            continue
        # Supersampled pixel-index coordinates of the scan's pixel centres.
        pts = np.stack([s * (x_drawn[idx] - c0 + 0.5) - 0.5, s * (rows[idx] + 0.5) - 0.5], 1)
        for seg in _dash(pts, pattern):
            cv2.polylines(canvas, [np.round(seg * 16).astype(np.int32)], False, 255, thick, cv2.LINE_8, shift=4)
    cov = np.zeros((height, width), np.float32)
    cov[:, c0:c1] = cv2.resize(canvas.astype(np.float32) / 255.0, (c1 - c0, height), interpolation=cv2.INTER_AREA)
    return cov, x_drawn, line


def _dash(pts: np.ndarray, pattern) -> list[np.ndarray]:
    """Split a polyline (n, 2) into the 'on' pieces of a dash pattern (dash, period, phase) or a
    dash-dot pattern (dash, period, phase, dot start, dot length)."""
    if pattern is None:
        return [pts]
    dash, period, phase = pattern[:3]
    seg = np.diff(pts, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(length)])
    fine = np.arange(0.0, cum[-1], 0.5)  # resample along arc length every half supersampled px
    xy = np.stack([np.interp(fine, cum, pts[:, 0]), np.interp(fine, cum, pts[:, 1])], 1)
    at = (fine + phase) % period
    on = at < dash
    if len(pattern) == 5:
        on |= (at >= pattern[3]) & (at < pattern[3] + pattern[4])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    return [
        xy[a:b] if b - a > 1 else np.repeat(xy[a : a + 1], 2, 0) for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]


def _ink(image, cov, ink, fade, *, bleed, rng) -> None:
    a = cov
    if bleed:  # ink spreading into the paper fibres: the visible line widens, the label does not
        a = np.maximum(a, cv2.GaussianBlur(cov, (0, 0), rng.uniform(0.4, 0.8)) * 0.8)
    a = (a * fade)[..., None]
    image *= 1 - a
    image += a * np.asarray(ink, np.float32)


def _soft_labels(cov: np.ndarray) -> np.ndarray:
    soft = cov.copy()
    fg = soft[1] + soft[2]
    over = fg > 1.0
    soft[1][over] /= fg[over]
    soft[2][over] /= fg[over]
    soft[0] = np.clip(1.0 - soft[1] - soft[2], 0.0, 1.0)
    return soft


# ------------------------------------------------------------------ defects


def _degrade(image: np.ndarray, style: SynthStyle, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    if rng.random() < style.p_specks:
        for _ in range(int(rng.integers(1, 3 + h * w // 15000))):
            c = (int(rng.integers(w)), int(rng.integers(h)))
            image[max(c[1] - 1, 0) : c[1] + 1, max(c[0] - 1, 0) : c[0] + int(rng.integers(1, 3))] = rng.uniform(0, 80)
    if rng.random() < style.p_blur:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.7))
    if rng.random() < style.p_noise:
        image = image + rng.normal(0, rng.uniform(2, 9), image.shape).astype(np.float32)
    out = np.clip(image, 0, 255).round().astype(np.uint8)
    if rng.random() < style.p_jpeg:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 92))])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    if rng.random() < style.p_binarise:
        grey = out.astype(np.float32).mean(axis=2)
        level = rng.uniform(0.55, 0.75) * 255
        out = np.repeat(np.where(grey < level, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return np.ascontiguousarray(out)


# ------------------------------------------------------------------- on disk


def write_dataset(
    outdir: str | os.PathLike,
    *,
    n: int,
    seed: int,
    split: str = "test",
    height: int = 512,
    width: int = 512,
    style: SynthStyle = DEFAULT_STYLE,
    progress=None,
) -> list[Path]:
    """Write ``n`` sheets to ``outdir``: ``NNNNN.png`` (scan), ``NNNNN.labels.png`` (hard classes),
    ``NNNNN.soft.npz`` (float16 soft labels) and ``NNNNN.truth.json`` (per-row centrelines, and
    ``depth_labels``: the printed depth numbers as [row of the number's centre, depth]).

    Returns the scan paths. ``progress(i, n)`` is called after each sheet.

    Raises:
        InputError: settings :func:`check_sheets` refuses (checked before anything is written).
    """
    from logdigit.io.atomic import atomic_path, write_text_atomic

    check_sheets(n=n, seed=seed, height=height, width=width, split=split)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        sheet = make_sheet(height=height, width=width, rng=sheet_rng(split, seed, i), style=style)
        stem = out / f"{i:05d}"
        with atomic_path(stem.with_suffix(".png")) as tmp:
            cv2.imwrite(str(tmp), sheet.image[..., ::-1])
        with atomic_path(f"{stem}.labels.png") as tmp:
            cv2.imwrite(str(tmp), sheet.labels)
        with atomic_path(f"{stem}.soft.npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, soft=sheet.soft.astype(np.float16))
        truth = [
            {
                "mnemonic": c.mnemonic,
                "track": c.track,
                "class": c.klass,
                "x": [None if not np.isfinite(v) else round(float(v), 3) for v in c.x],
            }
            for c in sheet.truth
        ]
        record = {
            "seed": seed,
            "split": split,
            "index": i,
            "curves": truth,
            "depth_labels": [[round(r, 2), v] for r, v in sheet.meta["depth_labels"]],
        }
        write_text_atomic(f"{stem}.truth.json", json.dumps(record))
        paths.append(stem.with_suffix(".png"))
        if progress is not None:
            progress(i + 1, n)
    return paths


__all__ = [
    "CLASSIC_STYLE",
    "DEFAULT_STYLE",
    "STYLES",
    "SUPERSAMPLE",
    "CurvePlan",
    "Sheet",
    "SheetPlan",
    "SynthStyle",
    "TrackPlan",
    "TruthCurve",
    "check_sheets",
    "hard_labels",
    "make_sheet",
    "sheet_rng",
    "style_named",
    "write_dataset",
]
