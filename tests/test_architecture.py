"""The package's layering: the product never imports the research code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import logdigit

PACKAGE = Path(logdigit.__file__).resolve().parent


def test_the_product_loads_no_research_module():
    code = (
        "import logdigit.pipeline, logdigit.batch, logdigit.cli, sys; "
        "print(sorted(m for m in sys.modules if m.startswith('logdigit.research')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_the_research_commands_import_research():
    allowed = {PACKAGE / "cli" / "research.py"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "research") in path.parents or path in allowed:
            continue
        offenders += [f"{path.relative_to(PACKAGE)}: {m}" for m in _imports(path) if m.startswith("logdigit.research")]
    assert offenders == []
