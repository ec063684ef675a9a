"""The house rules that a reader relies on, checked on the source itself.

Imports run one way (model <- training <- eval; api may use all three; none of those imports api), and no
private name (``_x``) crosses a package boundary. Both are read from the syntax tree, so the test needs
nothing installed and fails with the file and line that broke the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RANK = {"model": 0, "training": 1, "eval": 2, "api": 3}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for package in [*RANK, "tests", "scripts"]:
        for path in sorted((root / package).rglob("*.py")):
            where = path.relative_to(root)
            for line, module, names in _imports(path):
                top = module.split(".")[0]
                if top not in RANK:
                    continue
                if package in RANK and RANK[top] > RANK[package]:
                    found.append(f"{where}:{line}: {package} imports {module}, a package above it")
                if top == package:
                    continue
                private = [n for n in names if n.startswith("_")]
                private += [p for p in module.split(".")[1:] if p.startswith("_") and p != "__main__"]
                found += [f"{where}:{line}: private name {module}.{n} crosses a package" for n in private]
    return found


def test_imports_run_one_way_and_no_private_name_crosses_a_package():
    assert violations() == []


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("model", "from api.app import create_app\n", "model imports api.app, a package above it"),
        ("eval", "import api.server\n", "eval imports api.server, a package above it"),
        ("api", "from training.data import _load\n", "private name training.data._load crosses a package"),
    ],
)
def test_the_checker_sees_each_kind_of_violation(tmp_path, package, source, expected):
    (tmp_path / package).mkdir()
    (tmp_path / package / "bad.py").write_text(source)
    assert [v.split(": ", 1)[1] for v in violations(tmp_path)] == [expected]
