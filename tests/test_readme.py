"""The README's Python example runs as written and prints the seeds' labels (the real packaged encoder)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES, SEEDS

README = Path(__file__).resolve().parent.parent / "README.md"


def python_example() -> str:
    """The first ``python`` code block of the README's "## Python" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Python section has no ```python block"
    return match.group(1)


def test_the_readme_has_a_python_example_that_loads_and_analyzes():
    code = python_example()
    assert "presslens.load(" in code and ".analyze(" in code and "to_pandas(" in code


@pytest.mark.integration
def test_the_readme_python_example_prints_the_seed_labels(tmp_path):
    """Run from a folder holding only the seeds (at tests/fixtures, as in a checkout), not the repository."""
    shutil.copytree(FIXTURES, tmp_path / "tests" / "fixtures", ignore=lambda d, names: [
        n for n in names if not n.endswith(".txt")])
    (tmp_path / "example.py").write_text(python_example(), encoding="utf-8")
    run = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    labels = dict(line.split() for line in lines[:len(SEEDS)])
    assert labels == {"000": "neutral", "001": "neutral", "002": "neutral", "003": "neutral", "004": "editorial"}
    table = "\n".join(lines[len(SEEDS):])
    assert "editorial_probability" in table and "n_commentary" in table
