"""Region-limited inference: the network runs only where the layout needs it, with the same
probabilities there, bit for bit, and the same LAS."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from logdigit.io.layout import DepthSpec, Layout, Track, load_layout
from logdigit.model.inference import predict_proba
from logdigit.pipeline import InferOptions, digitise, inference_region

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


class _Counting(torch.nn.Module):
    """Wraps a model and counts the windows it is asked to label."""

    def __init__(self, model):
        super().__init__()
        self.model, self.windows = model, 0

    def forward(self, x):
        self.windows += x.shape[0]
        return self.model(x)


def _image(h=300, w=260, seed=0):
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), 255, np.uint8)
    image[rng.random((h, w)) < 0.05] = 0  # ink everywhere: no window is skipped as bare paper
    return image


def test_probabilities_inside_the_region_are_the_same_bit_for_bit(tiny_model):
    image = _image()
    full_model, part_model = _Counting(tiny_model), _Counting(tiny_model)
    full = predict_proba(full_model, image, tile=64, overlap=8)
    region = ((100, 180), (20, 90))
    part = predict_proba(part_model, image, tile=64, overlap=8, region=region)
    assert np.array_equal(part[:, 100:180, 20:90], full[:, 100:180, 20:90])
    assert part_model.windows < full_model.windows / 3
    far = part[:, :30]  # rows no window of the region reaches: background
    assert (far[0] == 1).all() and (far[1:] == 0).all()


def test_region_follows_the_layout_rows_and_tracks():
    lay = Layout(DepthSpec("FT", 0.5, ((0, 0), (10, 5)), rows=(2, 500)), (Track(40, 90), Track(100, 150)))
    assert inference_region(lay, (400, 200, 3)) == ((0, 400), (24, 167))  # clipped to the image
    no_rows = Layout(DepthSpec("FT", 0.5, ((0, 0), (10, 5))), (Track(40, 90),))
    assert inference_region(no_rows, (400, 200, 3)) == ((0, 400), (24, 107))


def test_the_las_is_the_same_with_and_without_the_region(tmp_path):
    shutil.copy(SAMPLES / "colour.png", tmp_path / "colour.png")
    lay = load_layout(SAMPLES / "colour.layout.toml")
    limited = digitise(tmp_path / "colour.png", layout=lay, options=InferOptions(device="cpu"))
    whole = digitise(tmp_path / "colour.png", layout=lay, options=InferOptions(device="cpu", whole_scan=True))
    for a, b in zip(limited.curves.curves, whole.curves.curves, strict=True):
        assert np.array_equal(a.values, b.values, equal_nan=True), a.mnemonic


def test_probabilities_handed_back_give_the_same_las(tmp_path, tiny_model, monkeypatch):
    """``digitise(probs=network_proba(...))`` skips the network and changes nothing else."""
    import logdigit.pipeline as pipeline
    from logdigit.errors import InputError
    from logdigit.io.scan import read_scan

    monkeypatch.setattr(pipeline, "cached_model", lambda weights, device: tiny_model)
    shutil.copy(SAMPLES / "colour.png", tmp_path / "colour.png")
    lay = load_layout(SAMPLES / "colour.layout.toml")
    opts = InferOptions(device="cpu", thresholds=(0.3, 0.3))  # the tiny untrained model is unsure
    image = read_scan(tmp_path / "colour.png").image
    probs = pipeline.network_proba(image, lay, options=opts)
    kept = probs.copy()
    given = digitise(tmp_path / "colour.png", layout=lay, options=opts, probs=probs)
    ran = digitise(tmp_path / "colour.png", layout=lay, options=opts)
    assert np.array_equal(probs, kept)
    assert given.timings["infer"] < ran.timings["infer"]
    assert any(np.isfinite(c.values).any() for c in given.curves.curves)
    for a, b in zip(given.curves.curves, ran.curves.curves, strict=True):
        assert np.array_equal(a.values, b.values, equal_nan=True), a.mnemonic
    with pytest.raises(InputError, match=r"probs must be float32 \(3, "):
        digitise(tmp_path / "colour.png", layout=lay, options=opts, probs=probs[:, :-1])
