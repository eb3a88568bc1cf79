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


@pytest.mark.parametrize("channels, groups", [(4, 4), (8, 8), (16, 8), (6, 2)])
def test_group_norm_matches_a_float64_reference_on_every_path(channels, groups):
    """The channels-last CPU path (fewer than 8 channels, or bfloat16) and the native one give
    the GroupNorm formula, checked against float64 arithmetic; parameters and state dict are
    nn.GroupNorm's."""
    from logdigit.model.blocks import GroupNorm

    torch.manual_seed(0)
    norm = GroupNorm(groups, channels)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, channels, 33, 40) * 3 + 5
    xd = x.double()
    g = xd.view(2, groups, -1)
    mean, var = g.mean(-1, keepdim=True), g.var(-1, unbiased=False, keepdim=True)
    want = ((g - mean) / torch.sqrt(var + norm.eps)).view_as(xd)
    want = want * norm.weight.double().view(1, -1, 1, 1) + norm.bias.double().view(1, -1, 1, 1)
    assert list(norm.state_dict()) == list(torch.nn.GroupNorm(groups, channels).state_dict())
    with torch.no_grad():
        for inp in (x, x.contiguous(memory_format=torch.channels_last)):
            out = norm(inp)
            assert out.dtype == torch.float32 and out.shape == x.shape
            assert (out.double() - want).abs().max() < 1e-4
        cl = x.contiguous(memory_format=torch.channels_last)
        assert norm(cl).is_contiguous(memory_format=torch.channels_last)
        low = norm(cl.bfloat16())
        assert low.dtype == torch.bfloat16
        assert (low.double() - want).abs().max() < 0.1  # bfloat16 keeps about 3 significant digits


def test_group_norm_fast_path_trains():
    from logdigit.model.blocks import GroupNorm

    norm = GroupNorm(2, 4)
    x = torch.randn(1, 4, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    norm(x).square().sum().backward()
    ref = torch.nn.GroupNorm(2, 4)
    xr = x.detach().contiguous().requires_grad_()
    ref(xr).square().sum().backward()
    assert torch.allclose(x.grad, xr.grad, atol=1e-4)
    assert torch.allclose(norm.weight.grad, ref.weight.grad, atol=1e-4)
