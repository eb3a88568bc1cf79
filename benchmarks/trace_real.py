"""Issue #19's figures on real prints and synthetic sheets: `make trace-real`.

Runs the product on the West Sandy Creek kit (sections A and B, colour print and 1-bit G4
copy) and scores every curve with the kit's scorer (../shared/realdata/score_pixels.py) against
issue #19's targets; digitises the 1-bit KGS scan and writes QC crops of its 10 checking
windows for a person to look at; optionally scores `logdigit evaluate --n 200` on seeds 2 and
3; and reports the tracer's share of end-to-end time on each WSC run.

Fast to re-run after a tracer change: the network's probabilities of each scan are kept in
build/trace-real/cache/ (keyed by the scan's and the weights' sha256, the network code's
(`network_code_sha`), the inference region and the window settings), so a re-run does only
threshold -> trace -> calibrate -> write (`logdigit.pipeline.digitise(..., probs=...)`); the
synthetic test sheets and the network's probabilities of them are kept there too
(`evaluate(..., sheets=..., probs=...)`). Figures only reach docs/; LAS files, scores and QC
crops stay under build/trace-real/ (untracked: the prints must not enter the repository).

    python benchmarks/trace_real.py --skip synth             # everything but the slow synthetic part
    python benchmarks/trace_real.py --only B-1bit --curves GR,RWAZC
    python benchmarks/trace_real.py --doc docs/trace-real.md --json docs/trace-real.json   # make trace-real

Curves whose print draws them past a track edge and on from the other edge are declared in the
layout (`wrap = true`, or `backup = [a, b]`) once the layout supports it, and scored with the
scorer's --unwrapped; the table WRAPPED below says which, as each print's header states it.
Skips cleanly (exit 0) when the kit is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import importlib.util
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's logdigit, also where the venv's editable install is another
KIT = ROOT.parent / "shared" / "realdata"
BUILD = ROOT / "build" / "trace-real"
WSC_COLOUR = "wsc/LAVACARIVER_WESTSANDYCREEKUNIT3_MS.tif"
WSC_1BIT = "wsc/LAVACARIVER_WESTSANDYCREEKUNIT3_MS_1bit_g4.tif"
WSC_RUNS = {  # name: (section, scan)
    "A-colour": ("A", WSC_COLOUR),
    "A-1bit": ("A", WSC_1BIT),
    "B-colour": ("B", WSC_COLOUR),
    "B-1bit": ("B", WSC_1BIT),
}
RUNS = (*WSC_RUNS, "kgs", "synth")
KGS_SCAN, KGS_LAYOUT = "kgs/273101.tif", "kgs/kgs273101.layout.toml"
KGS_WINDOWS = (2600, 3450, 4300, 5150, 6000, 6850, 7700, 8550, 9400, 10250)  # kgs/README.md, 300 rows each
KGS_WINDOW_ROWS = 300
SYNTH_SEEDS = (2, 3)

# What each print's header states about curves drawn past an edge (layout information a user
# writes from the header, not tuning): section -> curve -> declaration. WSC: kit README's tables.
WRAPPED: dict[str, dict[str, dict]] = {
    "A": {"GR": {"wrap": True}, "SPDH": {"wrap": True}},  # GR 0-150 goes on 150-300; SP both ways
    "B": {"GR": {"wrap": True}, "SPDH": {"wrap": True}, "RWAZC": {"wrap": True}},
    "kgs": {"GR": {"backup": (150.0, 300.0)}},  # "GR 0-150 (backup 150-300)"
}
# Curves the header names as another curve's amplified or over-range copy ("AMPLIFIED SHALLOW
# [m2r2]", "OVERRANGE DEEP [m2rx]"): declared with copy_of, as a user writes them from the header.
COPIES: dict[str, dict[str, dict]] = {
    "A": {"M2RX_OVR": {"copy_of": "M2RX"}, "M2R2_OVR": {"copy_of": "M2R2"}, "M2R2_AMP": {"copy_of": "M2R2"}},
}

# Issue #19's targets: (figure, limit, "max", "min" or "under"); extra is a share of the LAS's samples.
TARGETS = {
    "colour": (("median", 0.005, "max"), ("within_2pct", 0.95, "min"), ("over_10pct", 0.01, "max"),
               ("coverage", 0.98, "min"), ("extra_share", 0.01, "under")),
    "1bit": (("within_2pct", 0.90, "min"), ("over_10pct", 0.03, "max")),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not args.kit.is_dir():
        print(f"skipped: {args.kit} is absent (the real-print kit is local only)")
        return 0
    runs = _selected(args)
    report: dict = {"command": _command(argv), "date": _today(), "declares_wraps": _layout_declares_wraps()}
    t_all = time.perf_counter()
    for name in runs:
        if name in WSC_RUNS:
            report.setdefault("wsc", {})[name] = _wsc_run(name, args)
        elif name == "kgs":
            report["kgs"] = _kgs_run(args)
        else:
            report["synth"] = _synth(args)
    report["seconds"] = round(time.perf_counter() - t_all, 1)
    text = _markdown(report)
    print(text)
    if args.doc:
        args.doc.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kit", type=Path, default=KIT, help="the real-print kit (default: ../shared/realdata)")
    p.add_argument("--tracer", default="greedy", help="the tracer to measure: greedy (default) or joint")
    p.add_argument("--only", default="", help=f"comma-separated runs, of {','.join(RUNS)} (default: all)")
    p.add_argument("--skip", default="", help="comma-separated runs to leave out, e.g. synth")
    p.add_argument("--curves", default="", help="comma-separated mnemonics to score (default: all)")
    p.add_argument("--kgs-faults", type=int, help="faults a person counted on the KGS QC crops")
    p.add_argument("--kgs-checked", default=None, help="date of that check (default: today)")
    p.add_argument("--synth-n", type=int, default=200, help="synthetic test sheets per seed")
    p.add_argument("--no-cache", action="store_true", help="run the network even when its output is cached")
    p.add_argument("--doc", type=Path, help="also write the report here (markdown)")
    p.add_argument("--json", type=Path, help="also write every figure here (JSON)")
    args = p.parse_args(argv)
    for flag in ("only", "skip"):
        bad = [r for r in _names(getattr(args, flag)) if r not in RUNS]
        if bad:
            p.error(f"--{flag} {','.join(bad)}: unknown run; valid: {','.join(RUNS)}")
    return args


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _selected(args) -> list[str]:
    only, skip = _names(args.only), set(_names(args.skip))
    runs = only or list(RUNS)
    return [r for r in runs if r not in skip]


def _command(argv) -> str:
    args = sys.argv[1:] if argv is None else argv
    return "python benchmarks/trace_real.py " + " ".join(shlex.quote(a) for a in args)


def _today() -> str:
    return datetime.date.today().isoformat()


def _layout_declares_wraps() -> bool:
    """Whether this logdigit's layouts can declare a curve's wrap or backup (issue #19)."""
    from logdigit.io.layout import CurveSpec

    return "wrap" in {f.name for f in dataclasses.fields(CurveSpec)}


# --------------------------------------------------------------------------- the product, cached


def _declared(kit_layout: Path, section: str) -> tuple[Path, dict[str, dict]]:
    """The kit's layout with the curves of WRAPPED[section] and COPIES[section] declared, written
    under build/ (the kit's own file where this logdigit cannot declare them), and what was declared."""
    if not _layout_declares_wraps():
        return kit_layout, {}
    from logdigit.io.layout import layout_to_toml, load_layout

    lay = load_layout(kit_layout)
    said = {c: {**WRAPPED.get(section, {}).get(c, {}), **COPIES.get(section, {}).get(c, {})}
            for c in {*WRAPPED.get(section, {}), *COPIES.get(section, {})}}  # fmt: skip
    tracks = tuple(
        dataclasses.replace(t, curves=tuple(dataclasses.replace(c, **said.get(c.mnemonic, {})) for c in t.curves))
        for t in lay.tracks
    )
    out = BUILD / "layouts" / f"{kit_layout.stem}.declared.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# {kit_layout.name} with the wraps and copies its header states (benchmarks/trace_real.py)\n"
                   + layout_to_toml(dataclasses.replace(lay, tracks=tracks)))  # fmt: skip
    return out, said


def _digitise(scan: Path, layout_path: Path, stem: str, args, *, qc: bool = False):
    """Digitise ``scan`` with the network's output from the cache where it is kept; returns the
    result, the LAS path and the network's seconds (measured when it ran, perhaps earlier)."""
    from logdigit.io.layout import load_layout
    from logdigit.io.scan import MIN_SIDE, read_scan
    from logdigit.pipeline import InferOptions, digitise_to_files

    opts = InferOptions(device="cpu", tracer=args.tracer)
    lay = load_layout(layout_path)
    image = read_scan(scan, max_pixels=opts.max_pixels, min_side=MIN_SIDE).image
    probs, infer_s, cached = _probs(scan, image, lay, opts, args)
    out = BUILD / "out" / f"{stem}.las"
    out.parent.mkdir(parents=True, exist_ok=True)
    result, _ = digitise_to_files(
        scan, out=out, layout=layout_path, options=opts, overwrite=True, probs=probs,
        quality=out.with_suffix(".quality.csv"),
    )  # fmt: skip
    del probs
    return result, out, infer_s, cached


def _probs(scan: Path, image: np.ndarray, lay, opts, args) -> tuple[np.ndarray, float, bool]:
    """float32 (3, H, W) probabilities of ``image``: from the cache, else from the network (then kept)."""
    from logdigit.io.atomic import sha256_file
    from logdigit.model.weights import default_weights, network_code_sha
    from logdigit.pipeline import inference_region, network_proba

    weights = Path(opts.weights) if opts.weights else default_weights()
    region = inference_region(lay, image.shape)
    key_text = json.dumps(
        [sha256_file(scan), sha256_file(weights), network_code_sha(), region, opts.tile, opts.overlap, opts.skip_blank]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    folder = BUILD / "cache"
    data, meta = folder / f"{key}.npy", folder / f"{key}.json"
    if data.is_file() and meta.is_file() and not args.no_cache:
        info = json.loads(meta.read_text())
        (r0, r1), (c0, c1) = info["box"]
        probs = np.zeros((3, *image.shape[:2]), np.float32)
        probs[0] = 1.0  # background where no window ran, as network_proba leaves it
        probs[:, r0:r1, c0:c1] = np.load(data)
        return probs, info["infer_s"], True
    t = time.perf_counter()
    probs = network_proba(image, lay, options=opts)
    infer_s = time.perf_counter() - t
    ran = ~((probs[0] == 1) & (probs[1] == 0) & (probs[2] == 0))
    rows, cols = np.flatnonzero(ran.any(1)), np.flatnonzero(ran.any(0))
    box = ((int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1)) if len(rows) else ((0, 0), (0, 0))
    folder.mkdir(parents=True, exist_ok=True)
    (r0, r1), (c0, c1) = box
    tmp = data.with_suffix(".tmp.npy")
    np.save(tmp, probs[:, r0:r1, c0:c1])
    os.replace(tmp, data)
    meta.write_text(json.dumps({"scan": str(scan), "key": key_text, "box": box, "infer_s": round(infer_s, 2)}))
    return probs, infer_s, False


# --------------------------------------------------------------------------- WSC: scored


def _scorer():
    spec = importlib.util.spec_from_file_location("score_pixels", KIT / "score_pixels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wsc_run(name: str, args) -> dict:
    section, scan_rel = WSC_RUNS[name]
    kit_layout = args.kit / f"wsc/wsc_{section}.layout.toml"
    truth = args.kit / f"wsc/wsc_{section}.truth.npz"
    layout_path, declared = _declared(kit_layout, section)
    t = time.perf_counter()
    result, las, infer_s, cached = _digitise(args.kit / scan_rel, layout_path, name, args)
    wall = time.perf_counter() - t
    scorer = _scorer()
    only = {c.upper() for c in _names(args.curves)}
    names = [str(m) for m in np.load(truth)["curves"] if not only or str(m).upper() in only]
    wraps = {m for m, d in declared.items() if "wrap" in d or "backup" in d}
    plain = [m for m in names if m not in wraps]
    unwrapped = [m for m in names if m in wraps]
    scores = {}
    text = []
    for group, unwrap in ((plain, False), (unwrapped, True)):
        if group:
            out = scorer.score(str(las), str(kit_layout), str(truth), only=group, unwrapped=unwrap)
            scores.update(out["curves"])
            text.append(("# --unwrapped\n" if unwrap else "") + scorer.report(out))
    scores = {m: scores[m] for m in names if m in scores}  # layout order
    (BUILD / "out" / f"{name}.score.txt").write_text("\n\n".join(text) + "\n")
    samples = len(result.las.index)
    kind = "1bit" if "1bit" in name else "colour"
    marked = {t.mnemonic: int(np.count_nonzero(t.wrap)) if t.wrap is not None else 0 for t in result.traces}
    for m, r in scores.items():
        r["extra_share"] = round(r.get("extra", 0) / max(samples, 1), 4)
        r["unwrapped"] = m in unwrapped
        r["wrap_rows_marked"] = marked.get(m, 0)  # pixel rows the tracer put on a wrap level (PixelTrace.wrap)
        r["verdict"] = _verdict(r, kind)
    timings = {k: round(v, 3) for k, v in result.timings.items()}
    end_to_end = sum(v for k, v in result.timings.items() if k != "infer") + infer_s
    return {
        "section": section,
        "scan": scan_rel,
        "kind": kind,
        "layout": str(layout_path.relative_to(ROOT) if layout_path.is_relative_to(ROOT) else layout_path.name),
        "declared": {m: _plain(d) for m, d in declared.items()},
        "curves": scores,
        "summary": _pooled(scores),
        "timings": timings,
        "network_s": round(infer_s, 2),
        "network_cached": cached,
        "end_to_end_s": round(end_to_end, 2),
        "trace_share": round(result.timings.get("trace", 0.0) / end_to_end, 4) if end_to_end else None,
        "wall_s": round(wall, 1),
        "score_text": str((BUILD / "out" / f"{name}.score.txt").relative_to(ROOT)),
    }


def _plain(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _verdict(r: dict, kind: str) -> str:
    if r.get("status") != "ok" or not r.get("n"):
        return "FAIL"
    for key, limit, how in TARGETS[kind]:
        v = r.get(key)
        if v is None or {"max": v > limit, "min": v < limit, "under": v >= limit}[how]:
            return "FAIL"
    return "PASS"


def _pooled(scores: dict) -> dict:
    """The scorer's SUMMARY over curves scored in one or two calls (plain and --unwrapped)."""
    ok = [r for r in scores.values() if r.get("status") == "ok" and r.get("n")]
    n = sum(r["n"] for r in ok)

    def pooled(key):
        return round(sum(r[key] * r["n"] for r in ok) / n, 4) if n else None

    return {
        "curves": len(scores),
        "scored": len(ok),
        "n": n,
        "mean": round(float(np.mean([r["mean"] for r in ok])), 5) if ok else None,
        "median": round(float(np.mean([r["median"] for r in ok])), 5) if ok else None,
        "within_1pct": pooled("within_1pct"),
        "within_2pct": pooled("within_2pct"),
        "over_10pct": pooled("over_10pct"),
        "coverage": round(float(np.mean([r.get("coverage", 0.0) for r in scores.values()])), 4) if scores else None,
        "passed": sum(r["verdict"] == "PASS" for r in scores.values()),
    }


# --------------------------------------------------------------------------- KGS: QC crops


def _kgs_run(args) -> dict:
    from logdigit.qc.image import draw_qc, write_qc

    layout_path, declared = _declared(args.kit / KGS_LAYOUT, "kgs")
    t = time.perf_counter()
    result, las, infer_s, cached = _digitise(args.kit / KGS_SCAN, layout_path, "kgs", args)
    overlay = draw_qc(result.image, result.traces, result.layout, flags=result.flags)
    folder = BUILD / "kgs"
    folder.mkdir(parents=True, exist_ok=True)
    crops = []
    for r0 in KGS_WINDOWS:
        path = folder / f"kgs_rows{r0}-{r0 + KGS_WINDOW_ROWS - 1}.png"
        write_qc(path, overlay[r0 : r0 + KGS_WINDOW_ROWS])
        crops.append(str(path.relative_to(ROOT)))
    gr = next((c for c in result.curves.curves if c.mnemonic == "GR"), None)
    above = int(np.sum(gr.values > 150)) if gr is not None else 0
    return {
        "layout": layout_path.name,
        "declared": {m: _plain(d) for m, d in declared.items()},
        "crops": crops,
        "faults": args.kgs_faults,
        "checked": (args.kgs_checked or _today()) if args.kgs_faults is not None else None,
        "gr_samples_above_150": above,
        "network_cached": cached,
        "wall_s": round(time.perf_counter() - t, 1),
    }


# --------------------------------------------------------------------------- synthetic


SYNTH_STYLE = "classic"
"""The synthetic test sheets' generator style: the first generator's, which the shipped model was
trained on and the issue's synthetic figures were measured on."""


def _synth(args) -> dict:
    """`logdigit evaluate --style classic --n N --seed S --methods veernet` on seeds 2 and 3, the network's
    probabilities of each sheet cached (the same report as the command, bit for bit)."""
    from logdigit.research.evaluate import evaluate

    out = {}
    for seed in SYNTH_SEEDS:
        t = time.perf_counter()
        sheets = _synth_sheets(args.synth_n, seed, args)
        probs, cached = _synth_probs(sheets, args)
        res = evaluate(
            None,
            n=args.synth_n,
            seed=seed,
            methods=("veernet",),
            sheets=sheets,
            probs=probs,
            tracer=args.tracer,
            style=SYNTH_STYLE,
        )
        curve = res["methods"]["veernet"]["curve"]
        out[str(seed)] = {
            "n": args.synth_n,
            "nmae": curve["nmae"],
            "nmae_median": curve["nmae_median"],
            "by_look": curve["by_look"],
            "network_cached": cached,
            "seconds": round(time.perf_counter() - t, 1),
            "command": f"logdigit evaluate --style {SYNTH_STYLE} --n {args.synth_n} --seed {seed} --methods veernet",
        }
        del probs
    return out


def _synth_sheets(n: int, seed: int, args) -> list:
    """The test sheets `logdigit evaluate` draws for ``seed`` (about 2 s each), cached keyed by
    the generator's source and libraries; what evaluate reads of them (image, labels, truth,
    layout) comes back, ``soft`` labels and ``meta`` do not."""
    import cv2

    from logdigit.io.layout import layout_to_toml, parse_layout
    from logdigit.research import synth
    from logdigit.research.evaluate import draw_test_sheets

    h = hashlib.sha256(json.dumps([n, seed, 512, 640, SYNTH_STYLE, np.__version__, cv2.__version__]).encode())
    for module in (synth.__file__, sys.modules[parse_layout.__module__].__file__):
        h.update(Path(module).read_bytes())
    path = BUILD / "cache" / f"sheets-{h.hexdigest()[:20]}.npz"
    if path.is_file() and not args.no_cache:
        z = np.load(path)
        return [
            synth.Sheet(
                image=z[f"image{i}"],
                labels=z[f"labels{i}"],
                soft=np.empty(0),
                truth=tuple(
                    synth.TruthCurve(str(m), int(t), int(k), z[f"x{i}_{j}"])
                    for j, (m, t, k) in enumerate(json.loads(str(z[f"truth{i}"])))
                ),
                layout=parse_layout(str(z[f"layout{i}"]), source=f"sheet {i}"),
            )
            for i in range(n)
        ]
    sheets = draw_test_sheets(n, seed, style=SYNTH_STYLE)
    arrays = {}
    for i, sh in enumerate(sheets):
        arrays |= {f"image{i}": sh.image, f"labels{i}": sh.labels, f"layout{i}": np.array(layout_to_toml(sh.layout))}
        arrays[f"truth{i}"] = np.array(json.dumps([(c.mnemonic, c.track, c.klass) for c in sh.truth]))
        arrays |= {f"x{i}_{j}": c.x for j, c in enumerate(sh.truth)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return sheets


def _synth_probs(sheets, args) -> tuple[np.ndarray, bool]:
    """float32 (n, 3, H, W) probabilities of ``sheets`` (memory-mapped from the cache), keyed by
    the weights, the network's code and the sheets' pixels, so a change to the sheet generator or
    the network is never served stale."""
    from logdigit.io.atomic import sha256_file
    from logdigit.model.inference import predict_proba
    from logdigit.model.weights import default_weights, load_model, network_code_sha

    h = hashlib.sha256(sha256_file(default_weights()).encode() + network_code_sha().encode())
    for sheet in sheets:
        h.update(np.ascontiguousarray(sheet.image).tobytes())
    path = BUILD / "cache" / f"synth-{h.hexdigest()[:20]}.npy"
    if path.is_file() and not args.no_cache:
        return np.load(path, mmap_mode="r"), True
    path.parent.mkdir(parents=True, exist_ok=True)
    model = load_model(None, device="cpu")
    tmp = path.with_suffix(".tmp.npy")
    shape = (len(sheets), 3, *sheets[0].image.shape[:2])
    probs = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    for i, sheet in enumerate(sheets):
        probs[i] = predict_proba(model, sheet.image, device="cpu")
    probs.flush()
    del probs
    os.replace(tmp, path)
    return np.load(path, mmap_mode="r"), False


# --------------------------------------------------------------------------- report


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def _markdown(rep: dict) -> str:
    lines = [
        "# Tracing on real prints (issue #19)",
        "",
        f"Made by `{rep['command']}` (`make trace-real`, or `make trace-real-joint` for `--tracer joint`, runs it)",
        f"on {rep['date']}, {rep['seconds']:.0f} s. Scores from",
        "../shared/realdata/score_pixels.py against the kit's truth; errors are fractions of track width;",
        "`extra` is values written where the curve is not drawn, as a share of the LAS's samples.",
        "Wrapped curves declared in the layout: "
        + (
            "yes, scored with `--unwrapped` (true values past the scale expected on wrapped rows; the"
            " column gives the rows the tracer marked wrapped, `PixelTrace.wrap`)."
            if rep["declares_wraps"]
            else "no (this logdigit cannot declare them)."
        ),
        "",
    ]
    for name, run in rep.get("wsc", {}).items():
        lines += _wsc_markdown(name, run)
    if "kgs" in rep:
        k = rep["kgs"]
        seen = f"{k['faults']} (checked by eye, {k['checked']})" if k["faults"] is not None else "not yet checked"
        lines += [
            "## KGS 1-bit scan",
            "",
            f"- faults seen on the 10 KGS windows: {seen}",
            f"- GR declared: {k['declared'] or 'nothing'}; GR samples above 150 gAPI: {k['gr_samples_above_150']}",
            f"- QC crops (untracked): {', '.join(k['crops'])}",
            "",
        ]
    if "synth" in rep:
        lines += ["## Synthetic sheets", "", "| seed | sheets | curve NMAE mean | median | twins | others | s |",
                  "| --- | ---: | ---: | ---: | --- | --- | ---: |"]  # fmt: skip
        for seed, s in rep["synth"].items():
            look = {
                k: f"{v['nmae']} (share {v['share_of_mean']}, {v['curves']} curves)" for k, v in s["by_look"].items()
            }
            lines.append(
                f"| {seed} | {s['n']} | {s['nmae']} | {s['nmae_median']} | {look['twins']} | {look['others']} "
                f"| {s['seconds']:.0f} |"
            )
        first = next(iter(rep["synth"].values()))
        lines += [
            "",
            f"The same report as `{first['command']}` (and the other seed). The sheets and the",
            "network's probabilities of them are cached, so once they are, `s` is tracing and scoring only.",
            "",
        ]
    return "\n".join(lines)


def _marked(r: dict) -> str:
    """``yes (N)`` for a curve scored --unwrapped, N the rows its trace put on a wrap level."""
    return f"yes ({r['wrap_rows_marked']})" if r["unwrapped"] else (str(r["wrap_rows_marked"] or ""))


def _wsc_markdown(name: str, run: dict) -> list[str]:
    s = run["summary"]
    t = run["timings"]
    lines = [
        f"## WSC section {run['section']}, {'colour print' if run['kind'] == 'colour' else '1-bit G4 copy'} ({name})",
        "",
        "| curve | median | within 2 % | > 10 % | coverage | extra | unwrapped (rows marked) | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for m, r in run["curves"].items():
        if r.get("status") != "ok" or not r.get("n"):
            lines.append(f"| {m} | {r.get('status')} | | | {_pct(r.get('coverage'))} | | | FAIL |")
            continue
        lines.append(
            f"| {m} | {_pct(r['median'])} | {_pct(r['within_2pct'])} | {_pct(r['over_10pct'])} | "
            f"{_pct(r['coverage'])} | {_pct(r['extra_share'])} | {_marked(r)} | {r['verdict']} |"
        )
    lines += [
        "",
        f"SUMMARY: {s['passed']} of {s['curves']} curves meet the {run['kind']} targets | mean |err| "
        f"{s['mean']} | median {s['median']} (curve averages) | <=1 % {_pct(s['within_1pct'])} | <=2 % "
        f"{_pct(s['within_2pct'])} | >10 % {_pct(s['over_10pct'])} | coverage {_pct(s['coverage'])}",
        "",
        f"Time: tracing {t.get('trace', 0):.1f} s of {run['end_to_end_s']:.1f} s end to end "
        f"({_pct(run['trace_share'])}; network {run['network_s']:.1f} s"
        + (", measured when it was cached" if run["network_cached"] else "")
        + "); stages: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()) + " s",
        "",
    ]  # fmt: skip
    return lines


if __name__ == "__main__":
    sys.exit(main())
