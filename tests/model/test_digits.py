"""DigitNet, the shipped depth-number reader: decoding worked by hand, input preparation, the
shipped weights on printed numbers, the training renderer's determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from logdigit.model.digits import DIGITS_WEIGHTS, DigitConfig, DigitNet, decode, load_digits, prepare, read_digits


def _logits(columns: list[int], p: float = 0.9) -> torch.Tensor:
    """(11, T) logits whose softmax puts ``p`` on each column's class and the rest evenly."""
    probs = torch.full((11, len(columns)), (1 - p) / 10)
    for t, k in enumerate(columns):
        probs[k, t] = p
    return probs.log()


def test_greedy_ctc_decoding_worked_by_hand():
    # classes: 0 blank, k + 1 digit k. Columns: 3 3 blank 3 5 5 blank -> "335" (a blank parts the 3s)
    text, conf = decode(_logits([4, 4, 0, 4, 6, 6, 0]))
    assert text == "335"
    assert conf == pytest.approx(100 * 0.9**3, rel=1e-5)  # one probability per digit kept
    assert decode(_logits([0, 0, 0])) == ("", 0.0)


def test_prepare_scales_to_the_height_and_pads_paper():
    crop = np.full((12, 30), 255, np.uint8)
    crop[3:9, 5:8] = 0
    x = prepare(crop)
    assert x.shape[0] == 24 and x.shape[1] % 2 == 0 and x.dtype == np.float32
    assert x.max() == pytest.approx(1.0) and x[:, :4].max() == 0.0  # ink 1, padded paper 0
    with pytest.raises(ValueError, match="uint8"):
        prepare(crop.astype(np.float32))


def test_the_network_gives_one_column_per_two_pixels():
    model = DigitNet(DigitConfig(widths=(4, 4, 4, 4))).eval()
    with torch.inference_mode():
        out = model(torch.zeros(2, 1, 24, 40))
    assert out.shape == (2, 11, 20)


def _hershey(text: str, scale: float, thickness: int = 1) -> np.ndarray:
    """A number in OpenCV's Hershey simplex stroke font, cut as `logdigit layout` cuts a number:
    the box of its ink and 3 px of paper around it."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    img = np.full((h + base + 20, w + 20), 255, np.uint8)
    cv2.putText(img, text, (10, h + 10), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(img < 128)
    return img[ys.min() - 3 : ys.max() + 4, xs.min() - 3 : xs.max() + 4]


@pytest.mark.parametrize("text", ["2350", "10450", "875", "3190"])
def test_shipped_weights_read_printed_numbers(text):
    got, conf = read_digits(_hershey(text, 0.4))  # digits 9 px tall, as depth columns print them
    assert got == text and 0 < conf <= 100
    assert read_digits(_hershey(text, 0.4)[::-1, ::-1].copy())[0] != text  # upside down it is no such number


def test_shipped_weights_load_as_tensors_only():
    assert DIGITS_WEIGHTS.exists() and DIGITS_WEIGHTS.with_suffix(".json").exists()
    model = load_digits()
    assert isinstance(model, DigitNet) and not model.training


def test_training_crops_are_reproducible_and_labelled():
    from logdigit.research import digits

    try:
        fonts = digits.fonts()
    except SystemExit as exc:  # a machine without the font packages (CI installs them)
        pytest.skip(str(exc))
    a = [digits.render(np.random.default_rng(5), fonts) for _ in range(3)]
    b = [digits.render(np.random.default_rng(5), fonts) for _ in range(3)]
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b, strict=True))
    crop, text = digits.render(np.random.default_rng(7), fonts)
    assert crop.dtype == np.uint8 and text.isdigit() and text[0] != "0"
    assert crop.min() < crop.max()  # ink on paper
