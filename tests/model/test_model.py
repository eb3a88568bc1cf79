import pytest
import torch

from logdigit.model import MODELS, VeerNet, VeerNetConfig, create_model


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (2, 3, 37, 90), (1, 3, 17, 16)])
def test_output_shape_and_classes(tiny_model, shape):
    with torch.inference_mode():
        out = tiny_model(torch.rand(*shape))
    assert out.shape == (shape[0], 3, *shape[2:])
    assert torch.isfinite(out).all()


def test_default_config_is_small_enough_for_cpu_training():
    n = sum(p.numel() for p in VeerNet().parameters())
    assert 2e5 < n < 3e6


def test_has_the_published_parts():
    m = VeerNet(VeerNetConfig())
    kinds = {type(mod).__name__ for mod in m.modules()}
    assert {"CBAM", "ResBlock", "TransformerBottleneck", "GroupNorm", "TransformerEncoderLayer"} <= kinds


def test_config_round_trip_and_unknown_keys():
    cfg = VeerNetConfig(widths=(8, 16, 32), attn_layers=1)
    assert VeerNetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown VeerNetConfig keys"):
        VeerNetConfig.from_dict({"widths": [8, 16], "depth": 3})


def test_bad_configs_say_why():
    with pytest.raises(ValueError, match="at least 2 levels"):
        VeerNetConfig(widths=(8,))
    with pytest.raises(ValueError, match="must divide"):
        VeerNetConfig(widths=(8, 10), attn_heads=4)


def test_wrong_input_is_refused(tiny_model):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        tiny_model(torch.rand(1, 1, 32, 32))


def test_registry_lists_valid_names():
    assert "veernet" in MODELS
    with pytest.raises(ValueError, match="valid names"):
        create_model("unet9000")


def test_padding_does_not_leak_between_images(tiny_model):
    # GroupNorm is per sample: an image's output does not depend on its batch mates.
    a, b = torch.rand(1, 3, 48, 48), torch.rand(1, 3, 48, 48)
    with torch.inference_mode():
        alone = tiny_model(a)
        together = tiny_model(torch.cat([a, b]))[:1]
    torch.testing.assert_close(alone, together, atol=1e-5, rtol=1e-5)
