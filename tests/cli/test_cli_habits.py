"""CLI habits: version, python -m, completion, help panels and examples, options declared once,
the weights' environment variable, bad paths before torch, the licence string."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logdigit import __version__
from logdigit.cli import app

ROOT = Path(__file__).resolve().parents[2]
DIGITISE = ("infer", "layout", "score", "batch")
RESEARCH = ("synth", "train", "evaluate", "compare-losses", "losses")


def _help(*args: str) -> str:
    r = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.output
    return r.output


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"logdigit {__version__}"


def test_python_m_logdigit():
    r = subprocess.run([sys.executable, "-m", "logdigit", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == f"logdigit {__version__}", r.stderr


def test_shell_completion_script_and_completions():
    """The script --install-completion installs (bash), and what it completes; through the
    environment variable the script sets, so no shell needs detecting."""
    script = CliRunner().invoke(app, [], prog_name="logdigit", env={"_LOGDIGIT_COMPLETE": "source_bash"})
    assert script.exit_code == 0 and "_LOGDIGIT_COMPLETE=complete_bash" in script.output, script.output
    env = {"_LOGDIGIT_COMPLETE": "complete_bash", "COMP_WORDS": "logdigit inf", "COMP_CWORD": "1"}
    words = CliRunner().invoke(app, [], prog_name="logdigit", env=env)
    assert words.exit_code == 0 and words.output.split() == ["infer"], words.output
    assert "--install-completion" in _help()


def test_research_commands_have_their_own_panel():
    text = _help()
    digitise, research = text.index("Digitise"), text.index("Research")
    for name in DIGITISE:
        assert digitise < text.index(f" {name} ") < research, name
    for name in RESEARCH:
        assert text.index(f" {name} ") > research, name


@pytest.mark.parametrize("command", DIGITISE + RESEARCH)
def test_every_command_shows_an_example(command):
    assert f"Example: logdigit {command}" in _help(command)


def test_weights_environment_variable_is_shown():
    for command in ("infer", "batch"):
        assert "LOGDIGIT_WEIGHTS" in _help(command), command


def test_batch_offers_the_digitising_options_of_infer():
    for flag in (
        "--qc",
        "--deskew",
        "--hysteresis",
        "--max-pixels",
        "--max-gap",
        "--threshold",
        "--tile",
        "--weights",
        "--device",
        "--overwrite",
        "--quality",
        "--verbose",
    ):
        assert flag in _help("batch"), flag


def test_digitising_options_are_declared_once():
    """Every command takes its shared options from cli.options, with InferOptions' defaults."""
    from logdigit.cli import batch, infer, layout, options, research, score

    commands = (batch, infer, layout, research, score)
    for module in commands:
        for name in (
            "WeightsOpt",
            "DeviceOpt",
            "ThresholdOpt",
            "HysteresisOpt",
            "DeskewOpt",
            "TileOpt",
            "MaxPixelsOpt",
            "MaxGapOpt",
            "OverwriteOpt",
            "JsonOpt",
            "QuietOpt",
        ):
            assert name not in vars(module) or vars(module)[name] is getattr(options, name), (module, name)
    for source in (Path(m.__file__) for m in commands):
        text = source.read_text()
        for flag in (
            "--weights",
            "--device",
            "--threshold",
            "--hysteresis",
            "--deskew",
            "--tile",
            "--max-pixels",
            "--max-gap",
            "--overwrite",
            "--json",
            "--quiet",
        ):
            assert f'"{flag}"' not in text, (source.name, flag)


def test_a_bad_path_fails_before_torch_is_imported(tmp_path):
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom logdigit.cli import app\n"
        f"r = CliRunner().invoke(app, ['infer', {str(tmp_path / 'missing.tif')!r}])\n"
        "print(r.exit_code, 'torch' in sys.modules)\nprint(r.output)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    first, *rest = r.stdout.splitlines()
    assert first == "2 False", r.stdout + r.stderr
    assert "missing.tif: no such file" in "\n".join(rest)


def test_licence_is_an_spdx_string():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and "version" in project["dynamic"]


@pytest.mark.slow  # two local Dask clusters in real processes
def test_dask_messages_only_with_verbose(tmp_path):
    import shutil

    for name in ("simple.jpg", "simple.layout.toml"):
        shutil.copy(ROOT / "samples" / name, tmp_path / name)

    def run(*extra: str) -> str:
        cmd = [
            sys.executable,
            "-m",
            "logdigit",
            "batch",
            str(tmp_path / "simple.jpg"),
            "--outdir",
            str(tmp_path / "out"),
            "--workers",
            "1",
            "--device",
            "cpu",
            "--force",
            *extra,
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stderr
        return r.stderr

    assert "distributed." not in run()
    assert "distributed.scheduler" in run("--verbose")
