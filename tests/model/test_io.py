"""model/io.py directly: atomic checkpoint directories and their checksums."""

from __future__ import annotations

import hashlib

import pytest
from presslens.model.io import atomic_dir, checksums, replace_dir


def _write(d, files):
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)


def test_atomic_dir_replaces_only_when_the_block_completes(tmp_path):
    target = tmp_path / "ckpt"
    with atomic_dir(target) as tmp:
        _write(tmp, {"config.json": b"{}", "weights.safetensors": b"v1"})
        assert not target.exists()  # nothing visible until the block ends
    assert (target / "weights.safetensors").read_bytes() == b"v1"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        _write(tmp, {"weights.safetensors": b"half"})
        raise RuntimeError("crash mid-write")
    assert (target / "weights.safetensors").read_bytes() == b"v1"  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # and no temporary directory is left
    with atomic_dir(target) as tmp:
        _write(tmp, {"weights.safetensors": b"v2"})
    assert (target / "weights.safetensors").read_bytes() == b"v2" and not (target / "config.json").exists()


def test_replace_dir_into_a_new_place(tmp_path):
    src, dst = tmp_path / "new", tmp_path / "dst"
    src.mkdir()
    (src / "a.json").write_text("1")
    replace_dir(src, dst)
    assert (dst / "a.json").read_text() == "1" and not src.exists()


def test_checksums_cover_weights_and_configs_but_not_the_card(tmp_path):
    _write(tmp_path, {"config.json": b"{}", "weights.safetensors": b"abc", "README.md": b"card",
                      "sub/tokenizer.json": b"tok", ".hidden.json": b"x"})
    sums = checksums(tmp_path)
    assert sums == {"config.json": hashlib.sha256(b"{}").hexdigest(),
                    "sub/tokenizer.json": hashlib.sha256(b"tok").hexdigest(),
                    "weights.safetensors": hashlib.sha256(b"abc").hexdigest()}
    (tmp_path / "README.md").write_text("another card")
    assert checksums(tmp_path) == sums
    (tmp_path / "weights.safetensors").write_bytes(b"abd")
    assert checksums(tmp_path)["weights.safetensors"] != sums["weights.safetensors"]


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path):
    import os

    import pytest
    from presslens.model.io import atomic_file, atomic_write

    target = tmp_path / "sub" / "data.csv"
    atomic_write(target, b"old\n")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old\n" and sorted(p.name for p in target.parent.iterdir()) == ["data.csv"]
    with atomic_file(target) as tmp, open(tmp, "w") as fh:
        assert tmp.parent == target.parent and tmp.name.startswith(".data.csv.") and tmp.name.endswith(".tmp")
        fh.write("new\n")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "new\n" and (target.stat().st_mode & 0o777) == 0o666 & ~umask
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.csv"]
