"""infer's warnings that read the scan: a line style the ink contradicts."""

import numpy as np

from logdigit.io.layout import CurveSpec, DepthSpec, Layout, Track


def test_a_misdeclared_line_style_is_warned_of_whichever_tracer_runs(tmp_path):
    """A green curve drawn dashed and declared solid: the network (here its true class masks) sees
    its ink dashed, and infer says so in one line, with the greedy tracer too."""
    import cv2

    from logdigit.pipeline import InferOptions, digitise

    h, w = 200, 100
    image = np.full((h, w, 3), 255, np.uint8)
    for r in range(0, h - 6, 10):  # 6 px dashes, 4 px gaps
        cv2.line(image, (40, r), (42, r + 5), (0, 204, 0), 2)
    ink = (image[..., 0] < 128).astype(np.float32)
    probs = np.stack([1 - ink, np.zeros_like(ink), ink]).astype(np.float32)
    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), image[..., ::-1])
    depth = DepthSpec("FT", 1, ((0, 0), (h - 1, h - 1)))
    for line, warned in (("solid", True), ("dashed", False)):
        lay = Layout(
            depth=depth, tracks=(Track(10, 90, "linear", (CurveSpec("GR", 0, 150, line=line, color=(0, 204, 0)),)),)
        )
        got = digitise(path, layout=lay, options=InferOptions(device="cpu"), probs=probs)
        said = [m for m in got.warnings if "GR is declared solid but looks dashed" in m]
        assert len(said) == warned, got.warnings
