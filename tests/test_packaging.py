"""The wheel installs one import name: ``presslens`` and its dist-info at the top, every package folder of the
repository inside it as ``presslens.<folder>``, and the package data (weights, static files, probes) with it.

Builds the wheel from a copy of this checkout offline (``pip wheel --no-deps --no-build-isolation --no-index``:
setuptools and wheel from the test environment, nothing fetched); about 20 s."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("model", "api", "training", "eval")  # installed as presslens.<folder> (pyproject's package-dir)


def _source_copy(dest: Path) -> Path:
    """The checkout's files (tracked, and new ones git does not ignore) copied to ``dest``: setuptools builds in
    the tree it is given, so a stale ``build/`` there (or a local, ignored checkpoint) cannot reach the wheel."""
    run = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, text=True)
    if run.returncode != 0:  # not a git checkout (an unpacked sdist): the tree as it is
        shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", "build", "*.egg-info", "__pycache__"))
        return dest
    for rel in filter(None, run.stdout.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    source = _source_copy(tmp_path_factory.mktemp("src") / "presslens")
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    wheels = list(out.glob("presslens-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as zf:
        return set(zf.namelist())


def test_the_only_top_level_names_are_presslens_and_its_dist_info(wheel_names):
    top = {name.split("/", 1)[0] for name in wheel_names}
    assert "presslens" in top
    others = {t for t in top if t != "presslens" and not (t.startswith("presslens-") and t.endswith(".dist-info"))}
    assert others == set(), f"the wheel installs other top-level names: {sorted(others)}"


def _package_folders() -> list[str]:
    """Every folder under model/, api/, training/ and eval/ that holds an __init__.py, as its install path."""
    found = []
    for folder in FOLDERS:
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT).as_posix()
            if "__pycache__" not in rel:
                found.append(f"presslens/{rel}")
    return found


def test_every_package_folder_is_in_the_wheel_under_presslens(wheel_names):
    folders = _package_folders()
    assert "presslens/model/runtime" in folders  # the walk finds sub-packages
    missing = [f for f in folders if f"{f}/__init__.py" not in wheel_names]
    assert missing == [], f"package folders missing from the wheel: {missing} (pyproject's packages list)"
    for folder in ["presslens", *folders]:  # and every module in them
        source = ROOT / folder.removeprefix("presslens/") if folder != "presslens" else ROOT / "presslens"
        modules = {f"{folder}/{p.name}" for p in source.glob("*.py")}
        assert modules <= wheel_names, sorted(modules - wheel_names)


DATA = ("model/weights", "model/probes", "api/static")


def _data_files() -> list[str]:
    """The package data the repository ships: the files git tracks under ``DATA`` (at any depth, so a file a
    package-data glob misses shows up), or, outside a git checkout, every file there."""
    run = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--", *DATA], capture_output=True, text=True)
    if run.returncode == 0 and run.stdout.strip():
        return run.stdout.split()
    return [p.relative_to(ROOT).as_posix() for d in DATA for p in (ROOT / d).rglob("*") if p.is_file()]


def test_the_package_data_is_in_the_wheel(wheel_names):
    data = _data_files()
    assert "model/weights/stance/head.safetensors" in data and "model/probes/gate.json" in data
    assert any(p.startswith("api/static/") for p in data)
    missing = sorted({f"presslens/{p}" for p in data} - wheel_names)
    assert missing == [], f"package data missing from the wheel: {missing} (pyproject's package-data)"


def test_the_wheel_holds_no_tests_or_scripts(wheel_names):
    assert not [n for n in wheel_names if n.startswith(("presslens/tests/", "presslens/scripts/"))]
