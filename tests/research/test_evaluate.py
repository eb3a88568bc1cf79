import numpy as np
import pytest

from logdigit.research.evaluate import HEADERS, METHODS, classical_segment, evaluate, format_rows
from logdigit.research.synth import CurvePlan, SheetPlan, TrackPlan, make_sheet


def test_report_structure_for_both_methods(tiny_model):
    report = evaluate(tiny_model, n=2, seed=1, height=160, width=320)
    assert report["n"] == 2 and set(report["methods"]) == {"veernet", "classical"}  # the default rows
    for name, m in report["methods"].items():
        assert len(m["f1"]) == 3 and len(m["iou"]) == 3
        assert m["curve"]["curves"] > 0
        if name == "veernet":
            assert 0 <= m["ece"] <= 1 and 0 <= m["bece"] <= 1
        else:
            assert m["ece"] is None
    rows = format_rows(report)
    assert len(rows) == 2 and all(len(r) == len(HEADERS) for r in rows)


def test_true_masks_row_scores_the_tracer_alone():
    report = evaluate(n=3, seed=2, height=160, width=320, methods=("true-masks",))
    m = report["methods"]["true-masks"]
    assert m["f1"][1:] == [1.0, 1.0] and m["ece"] is None  # the true masks, by construction
    assert m["curve"]["curves"] > 0 and m["curve"]["coverage"] > 0.9
    assert set(METHODS) == {"veernet", "classical", "true-masks"}
    for groups in (m["curve"]["by_class_mates"], m["curve"]["by_look"]):
        assert sum(g["curves"] for g in groups.values()) == m["curve"]["curves"]
        assert sum(g["share_of_mean"] for g in groups.values()) == pytest.approx(m["curve"]["nmae"], abs=1e-5)


def test_curves_are_grouped_by_the_curves_of_their_class_in_their_track():
    from logdigit.research.evaluate import _Acc, _summarise

    a = _Acc.new()
    a.curves = [  # alone in its class twice; two sharing a class; one never drawn (n = 0)
        {"nmae": 0.001, "within2": 1.0, "coverage": 1.0, "n": 100, "class_mates": 1, "twin": False},
        {"nmae": 0.003, "within2": 1.0, "coverage": 1.0, "n": 100, "class_mates": 1, "twin": False},
        {"nmae": 0.010, "within2": 0.5, "coverage": 1.0, "n": 100, "class_mates": 2, "twin": False},
        {"nmae": 0.050, "within2": 0.3, "coverage": 0.8, "n": 300, "class_mates": 2, "twin": True},
        {
            "nmae": float("nan"),
            "within2": float("nan"),
            "coverage": float("nan"),
            "n": 0,
            "class_mates": 3,
            "twin": True,
        },
    ]
    c = _summarise(a, with_cal=False)["curve"]
    assert c["nmae"] == pytest.approx(0.016) and c["curves"] == 4
    one, two = c["by_class_mates"]["1"], c["by_class_mates"]["2"]
    assert set(c["by_class_mates"]) == {"1", "2"}
    assert (one["nmae"], one["nmae_median"], one["curves"], one["share_of_mean"]) == (0.002, 0.002, 2, 0.001)
    assert (two["nmae"], two["curves"], two["share_of_mean"]) == (0.03, 2, 0.015)
    assert two["within2"] == pytest.approx(0.35) and two["coverage"] == pytest.approx(0.85)
    twins, others = c["by_look"]["twins"], c["by_look"]["others"]  # the one twin drawn; the other three
    assert (twins["nmae"], twins["curves"], twins["share_of_mean"], twins["within2"]) == (0.05, 1, 0.0125, 0.3)
    assert (others["nmae"], others["curves"], others["share_of_mean"]) == (0.004667, 3, 0.0035)  # 0.014 / 3, / 4


def test_evaluate_cli_rows_and_a_bad_row_name():
    import json

    from typer.testing import CliRunner

    from logdigit.cli import app

    r = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--n",
            "1",
            "--height",
            "128",
            "--width",
            "256",
            "--methods",
            "true-masks",
            "--json",
            "--quiet",
            "--weights",
            "/nonexistent.safetensors",
        ],
    )
    assert r.exit_code == 0, r.output  # no veernet row: the weights are not even opened
    assert list(json.loads(r.stdout)["methods"]) == ["true-masks"]
    r = CliRunner().invoke(app, ["evaluate", "--n", "1", "--methods", "veernet,oracle"])
    assert r.exit_code != 0 and "oracle" in r.output and "true-masks" in r.output


def test_test_split_is_not_the_training_split(tiny_model):
    # The evaluation draws from the 'test' seed stream; training from 'train'.
    from logdigit.research.synth import sheet_rng

    a = make_sheet(height=96, width=200, rng=sheet_rng("test", 0, 0))
    b = make_sheet(height=96, width=200, rng=sheet_rng("train", 0, 0))
    assert not np.array_equal(a.image, b.image)


def test_classical_baseline_finds_a_clean_curve():
    plan = SheetPlan(
        tracks=(TrackPlan("linear", (CurvePlan("GR", 1, (0, 0, 0), "gr", width=10),)),), grid=(200, 200, 200)
    )
    from dataclasses import replace

    from logdigit.research.synth import DEFAULT_STYLE

    clean = replace(
        DEFAULT_STYLE, p_blur=0, p_noise=0, p_jpeg=0, p_bleed=0, p_bleed_through=0, p_specks=0, p_binarise=0, p_text=0
    )
    sheet = make_sheet(height=200, width=300, rng=3, plan=plan, style=clean)
    pred = classical_segment(sheet.image)
    truth = sheet.labels == 1
    found = pred > 0
    recall = (found & truth).sum() / truth.sum()
    assert recall > 0.7


def test_pre_drawn_test_sheets_give_the_same_report(tiny_model):
    from logdigit.research.evaluate import draw_test_sheets

    sheets = draw_test_sheets(2, 3, height=128, width=160)
    kw = dict(n=2, seed=3, height=128, width=160)
    assert evaluate(tiny_model, sheets=sheets, **kw) == evaluate(tiny_model, **kw)
    with pytest.raises(ValueError, match="pre-drawn"):
        evaluate(tiny_model, sheets=sheets[:1], **kw)


def test_probabilities_handed_back_give_the_same_report(tiny_model):
    from logdigit.model.inference import predict_proba
    from logdigit.research.evaluate import draw_test_sheets

    sheets = draw_test_sheets(2, 3, height=128, width=160)
    kw = dict(n=2, seed=3, height=128, width=160, methods=("veernet",))
    probs = [predict_proba(tiny_model, s.image) for s in sheets]
    assert evaluate(None, sheets=sheets, probs=probs, **kw) == evaluate(tiny_model, **kw)
    with pytest.raises(ValueError, match="probabilities of 1 sheets given for n=2"):
        evaluate(None, probs=probs[:1], **kw)


def test_unknown_method_and_missing_model():
    with pytest.raises(ValueError, match="valid"):
        evaluate(None, n=1, methods=("magic",))
    with pytest.raises(ValueError, match="needs a model"):
        evaluate(None, n=1, methods=("veernet",))


def test_classic_style_scores_the_first_generators_sheets():
    from logdigit.research.evaluate import draw_test_sheets
    from logdigit.research.synth import CLASSIC_STYLE, make_sheet, sheet_rng

    (sheet,) = draw_test_sheets(1, 2, height=128, width=300, style="classic")
    want = make_sheet(height=128, width=300, rng=sheet_rng("test", 2, 0), style=CLASSIC_STYLE)
    assert np.array_equal(sheet.image, want.image)
    report = evaluate(n=1, seed=2, height=128, width=300, methods=("true-masks",), style="classic")
    assert report["style"] == "classic"


def test_evaluate_with_amp_scores_bfloat16_probabilities(tiny_model):
    """evaluate(amp=True) on CPU scores bfloat16-autocast probabilities: not those of float32, but
    the same sheets and nearly the same scores; the CLI's --amp reaches it and is recorded."""
    import json

    from typer.testing import CliRunner

    from logdigit.cli import app

    kw = dict(n=1, height=128, width=256, methods=("veernet",), style="classic")
    full, low = evaluate(tiny_model, **kw), evaluate(tiny_model, amp=True, **kw)
    assert full["methods"]["veernet"]["ece"] != low["methods"]["veernet"]["ece"]
    assert abs(full["methods"]["veernet"]["ece"] - low["methods"]["veernet"]["ece"]) < 0.05
    args = ["evaluate", "--n", "1", "--height", "128", "--width", "256", "--methods", "veernet", "--json", "--quiet"]
    from logdigit.model.weights import shipped_weights

    r = CliRunner().invoke(app, [*args, "--amp", "--weights", str(shipped_weights("fast"))])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["amp"] is True
