import numpy as np
import pytest
import torch

from logdigit.model.inference import _starts, iter_proba, predict_proba


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_one_tile_equals_the_plain_forward_pass(tiny_model):
    img = _img(40, 56)
    probs = predict_proba(tiny_model, img, tile=64, overlap=8, skip_blank=False)
    x = torch.from_numpy(img.transpose(2, 0, 1).astype(np.float32) / 255)[None]
    with torch.inference_mode():
        ref = torch.softmax(tiny_model(x), 1)[0].numpy()
    np.testing.assert_allclose(probs, ref, atol=1e-5)


def test_bfloat16_on_cpu_stays_near_float32_and_is_asked_for(tiny_model):
    """amp on CPU is bfloat16 autocast (float16 is emulated there): probabilities within a few
    hundredths of float32's, a distribution everywhere; off unless asked for."""
    img = _img(150, 97)
    ref = predict_proba(tiny_model, img, tile=48, overlap=12, skip_blank=False)
    assert np.array_equal(predict_proba(tiny_model, img, tile=48, overlap=12, skip_blank=False, amp=None), ref)
    low = predict_proba(tiny_model, img, tile=48, overlap=12, skip_blank=False, amp=True)
    assert not np.array_equal(low, ref) and np.abs(low - ref).max() < 0.05
    np.testing.assert_allclose(low.sum(0), 1.0, atol=1e-5)


def test_tiled_output_is_a_distribution_everywhere(tiny_model):
    probs = predict_proba(tiny_model, _img(150, 97), tile=48, overlap=12)
    assert probs.shape == (3, 150, 97) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-5)


def test_float_input_gives_the_same_as_uint8(tiny_model):
    img = _img(70, 70)
    a = predict_proba(tiny_model, img, tile=48, overlap=8)
    b = predict_proba(tiny_model, img.transpose(2, 0, 1).astype(np.float32) / 255, tile=48, overlap=8)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_strips_cover_every_row_once_in_order(tiny_model):
    rows = []
    for row0, strip in iter_proba(tiny_model, _img(300, 40), tile=64, overlap=16):
        rows.extend(range(row0, row0 + strip.shape[1]))
    assert rows == list(range(300))


def test_streaming_holds_one_band_not_the_scan(tiny_model):
    # The first strip comes out before the network has seen the bottom of the scan: the bands
    # started ahead of it are two plus one per thread (see inference._bands).
    calls = []
    orig = tiny_model.forward

    def counting(x):
        calls.append(x.shape[0])
        return orig(x)

    tiny_model.forward = counting
    try:
        it = iter_proba(tiny_model, _img(640, 64), tile=64, overlap=16, skip_blank=False)
        next(it)
        first = sum(calls)
        list(it)
        total = sum(calls)
    finally:
        del tiny_model.forward
    assert first <= 2 + torch.get_num_threads() < total


def test_blank_paper_is_background_without_the_network(tiny_model):
    img = np.full((64, 200, 3), 240, np.uint8)
    probs = predict_proba(tiny_model, img, tile=64, overlap=8)
    assert np.all(probs[0] == 1.0)


def test_starts_cover_the_range():
    for n, size, stride in [(100, 40, 30), (40, 40, 30), (1000, 512, 448), (513, 512, 448)]:
        s = _starts(n, size, stride)
        assert s[0] == 0 and s[-1] + size == max(n, size)
        assert all(b - a <= stride for a, b in zip(s, s[1:], strict=False))


def test_bad_inputs_are_named(tiny_model):
    with pytest.raises(ValueError, match="uint8"):
        predict_proba(tiny_model, np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="overlap"):
        predict_proba(tiny_model, _img(64, 64), tile=64, overlap=40)


@pytest.mark.parametrize("threads", [2, 12])
def test_windows_in_the_network_at_once_are_bounded(tiny_model, threads):
    # One window per thread, at most MAX_WINDOWS_AT_ONCE (each holds its activations).
    import threading
    import time

    from logdigit.model.inference import MAX_WINDOWS_AT_ONCE

    lock, active, peak = threading.Lock(), [0], [0]
    orig = tiny_model.forward

    def counting(x):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)  # long enough for the other threads to come in
        try:
            return orig(x)
        finally:
            with lock:
                active[0] -= 1

    before = torch.get_num_threads()
    tiny_model.forward = counting
    try:
        torch.set_num_threads(threads)
        predict_proba(tiny_model, _img(96, 600), tile=48, overlap=8, skip_blank=False)  # 3 x 15 windows
        assert torch.get_num_threads() == threads
    finally:
        del tiny_model.forward
        torch.set_num_threads(before)
    assert 2 <= peak[0] <= min(threads, MAX_WINDOWS_AT_ONCE)
