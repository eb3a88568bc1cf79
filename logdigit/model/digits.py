"""DigitNet: a small convolutional reader of printed whole numbers (depth numbers).

A number crop (dark ink on light paper, upright) is scaled to :attr:`DigitConfig.height` rows,
keeping its aspect, and a stack of convolutions turns it into one column of class scores per
two pixel columns: blank or a digit 0-9. Greedy CTC decoding (Graves et al., 2006: the best
class per column, repeats merged, blanks dropped) gives the digits; the confidence is the
product of each kept column's best probability, in percent. No segmentation into characters
is needed, so touching or broken digits of small print read as well as clean ones.

The shipped weights (``logdigit/data/digits.safetensors``, config and recipe in the JSON beside
them) are fitted on numbers rendered in outline fonts (DejaVu, Liberation, FreeFont, URW base
35) and Hershey stroke fonts by :mod:`logdigit.research.digits` (``make fit-digits``); nothing
is downloaded at run time.

>>> import numpy as np
>>> model = DigitNet(DigitConfig(widths=(4, 4, 4, 4))).eval()
>>> crop = np.full((9, 30), 255, np.uint8)
>>> text, conf = read_digits(crop, model)
>>> isinstance(text, str) and 0.0 <= conf <= 100.0
True
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

DIGITS_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "digits.safetensors"
"""The shipped DigitNet weights; the config is in the JSON beside them."""


@dataclass(frozen=True)
class DigitConfig:
    """Build settings of a DigitNet, saved beside its weights.

    Attributes:
        height: rows a crop is scaled to (its width scales with it).
        widths: channels of the four convolution stages.
        pad: columns of paper added at each side of a crop before reading.
    """

    height: int = 24
    widths: tuple[int, ...] = (32, 64, 96, 128)
    pad: int = 4

    def __post_init__(self) -> None:
        if self.height != 24 or len(self.widths) != 4 or not all(isinstance(w, int) and w > 0 for w in self.widths):
            raise ValueError(f"DigitConfig: height 24 and four positive widths, got {self}")


class DigitNet(nn.Module):
    """(B, 1, 24, W) ink in [0, 1] (1 = ink) -> (B, 11, W // 2) logits: blank, then digits 0-9."""

    def __init__(self, config: DigitConfig = DigitConfig()) -> None:
        super().__init__()
        self.config = config
        a, b, c, d = config.widths
        self.features = nn.Sequential(
            nn.Conv2d(1, a, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),  # 12 x W/2
            nn.Conv2d(a, b, 3, padding=1),
            nn.BatchNorm2d(b),
            nn.ReLU(),
            nn.MaxPool2d((2, 1), (2, 1)),  # 6
            nn.Conv2d(b, c, 3, padding=1),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.MaxPool2d((2, 1), (2, 1)),  # 3
            nn.Conv2d(c, d, (3, 3), padding=(0, 1)),  # 1
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Conv1d(d, d, 3, padding=1), nn.ReLU(), nn.Conv1d(d, 11, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).squeeze(2))


def prepare(crop: np.ndarray, config: DigitConfig = DigitConfig()) -> np.ndarray:
    """float32 (height, W) ink in [0, 1] of a uint8 grey crop: paper 0, darkest ink 1, scaled to
    ``config.height`` rows and padded with paper at both sides (W even)."""
    if crop.ndim != 2 or crop.dtype != np.uint8 or min(crop.shape) < 2:
        raise ValueError(f"crop must be uint8 (h, w) grey, at least 2 x 2, got {crop.shape} {crop.dtype}")
    ink = 255.0 - crop.astype(np.float32)
    lo, hi = float(np.percentile(ink, 10)), float(ink.max())
    ink = np.clip((ink - lo) / max(hi - lo, 1.0), 0.0, 1.0)
    scale = config.height / crop.shape[0]
    width = max(2, int(round(crop.shape[1] * scale)))
    ink = cv2.resize(ink, (width, config.height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    ink = np.pad(ink, ((0, 0), (config.pad, config.pad + (width % 2))))
    return np.ascontiguousarray(ink, np.float32)


def decode(logits: torch.Tensor) -> tuple[str, float]:
    """Greedy CTC decoding of (11, T) logits: (digits, confidence in percent)."""
    probs = torch.softmax(logits.float(), dim=0)
    best, idx = probs.max(dim=0)
    text, conf, prev = [], 1.0, 0
    for p, k in zip(best.tolist(), idx.tolist(), strict=True):
        if k != 0 and k != prev:
            text.append(str(k - 1))
            conf *= p
        prev = k
    return "".join(text), 100.0 * conf if text else 0.0


def read_digits(crop: np.ndarray, model: DigitNet | None = None) -> tuple[str, float]:
    """(digits read, confidence 0-100) of an upright grey crop of one printed number."""
    model = model if model is not None else load_digits()
    x = torch.from_numpy(prepare(crop, model.config))[None, None]
    with torch.inference_mode():
        return decode(model(x)[0])


def save_digits(model: DigitNet, path: str | Path, *, meta: dict | None = None) -> Path:
    """Write ``model`` to ``path`` (.safetensors) and its config (plus ``meta``) to the JSON beside it."""
    from safetensors.torch import save_file

    from logdigit.io.atomic import atomic_path, write_text_atomic
    from logdigit.model.weights import config_path

    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()}
    write_text_atomic(config_path(path), json.dumps({"config": config, "meta": meta or {}}, indent=2) + "\n")
    return path


@functools.lru_cache(maxsize=4)
def load_digits(path: str | None = None) -> DigitNet:
    """The DigitNet at ``path`` (default: the shipped weights), in eval mode; tensors only."""
    from safetensors.torch import load_file

    from logdigit.model.weights import read_card

    file = Path(path) if path is not None else DIGITS_WEIGHTS
    raw = read_card(file)["config"]
    config = DigitConfig(
        height=int(raw["height"]),
        widths=tuple(int(w) for w in raw["widths"]),
        pad=int(raw["pad"]),
    )
    model = DigitNet(config)
    model.load_state_dict(load_file(str(file)))
    return model.eval()
