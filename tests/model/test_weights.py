import json
import pickle

import pytest
import torch

from logdigit.errors import WeightsError
from logdigit.model import VeerNet, VeerNetConfig
from logdigit.model.weights import config_path, load_model, save_model


def test_round_trip_gives_the_same_outputs(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "m.safetensors", meta={"note": "x"})
    loaded = load_model(path)
    x = torch.rand(1, 3, 40, 40)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), tiny_model(x))
    card = json.loads(config_path(path).read_text())
    assert card["classes"] == ["background", "solid", "dashed"] and card["note"] == "x"
    assert loaded.config == tiny_model.config


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned_by_pickle",))


def test_a_pickle_with_code_is_refused_and_never_run(tmp_path, tiny_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weight": _Evil()}, fh)
    config_path(path).write_text(json.dumps({"config": tiny_model.config.to_dict()}))
    with pytest.raises(WeightsError, match="refused"):
        load_model(path)
    assert not (tmp_path / "pwned_by_pickle").exists()


def test_plain_state_dict_pt_is_accepted(tmp_path, tiny_model):
    path = tmp_path / "plain.pt"
    torch.save(tiny_model.state_dict(), path)
    config_path(path).write_text(json.dumps({"config": tiny_model.config.to_dict()}))
    assert isinstance(load_model(path), VeerNet)


def test_mismatched_config_is_refused(tmp_path, tiny_model):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    other = VeerNetConfig(widths=(8, 16, 16), attn_layers=1, attn_heads=2, groups=4)
    config_path(path).write_text(json.dumps({"config": other.to_dict()}))
    with pytest.raises(WeightsError, match="do not match"):
        load_model(path)


def test_missing_and_garbled_files(tmp_path, tiny_model):
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    config_path(path).unlink()
    with pytest.raises(WeightsError, match="config file missing"):
        load_model(path)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    config_path(bad).write_text(json.dumps({"config": tiny_model.config.to_dict()}))
    with pytest.raises(WeightsError, match="safetensors"):
        load_model(bad)


def test_shipped_weights_load_and_are_plain_data():
    from logdigit.model.weights import DEFAULT_WEIGHTS

    if not DEFAULT_WEIGHTS.exists():
        pytest.fail(f"shipped weights missing: {DEFAULT_WEIGHTS}")
    model = load_model()
    assert sum(p.numel() for p in model.parameters()) < 3e6
    assert DEFAULT_WEIGHTS.stat().st_size < 20e6


def test_every_shipped_model_loads_and_the_student_is_a_quarter_of_the_teacher():
    """Every entry of MODELS is in models/ and loads as plain data; the fast model is the student:
    half the channels (a quarter of the parameters), distilled from the shipped weights it names."""
    from logdigit.io.atomic import sha256_file
    from logdigit.model.weights import MODELS, read_card, shipped_weights

    sizes = {}
    for name in MODELS:
        path = shipped_weights(name)
        assert path.is_file() and path.stat().st_size < 20e6, path
        sizes[name] = sum(p.numel() for p in load_model(path).parameters())
    assert 0.2 < sizes["fast"] / sizes["veernet"] < 0.3
    card = read_card(shipped_weights("fast"))
    assert card["config"]["widths"] == [4, 8, 16, 32, 64] and card["train"]["loss"] == "kd"
    assert card["teacher_sha256"] == sha256_file(shipped_weights("veernet"))
    # the print model is the shipped network fine-tuned from the shipped weights it names
    card = read_card(shipped_weights("print"))
    assert sizes["print"] == sizes["veernet"] and card["train"]["init"] == "models/veernet.safetensors"
    assert card["init_sha256"] == sha256_file(shipped_weights("veernet")) and card["data"]["style"] == "mixed"
