"""Atomic writes, the one helper for each: a file (``atomic_file``, ``atomic_write``) or a checkpoint directory
(``atomic_dir``) is written under a temporary sibling and renamed into place, so a crash never leaves a
half-written one that looks complete. And checkpoints' checksums."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported.

    Two plain renames leave a moment with no ``target`` at all: a ``kill -9`` there would lose the previous
    checkpoint. An exchange has no such moment.
    """
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not glibc >= 2.28 / not Linux
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # old kernel or a filesystem without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def replace_dir(tmp: Path, target: Path) -> None:
    """Swap ``tmp`` into ``target``; an existing target is kept until the new one is in place."""
    if target.exists() and _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous checkpoint
        return
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def _relax_permissions(root: Path) -> None:
    """mkdtemp makes a private (0700) directory; give the checkpoint the usual umask-based modes."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [root, *root.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_dir(directory: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``directory`` only if the block completes.

    A crash or an exception inside the block leaves any previous ``directory`` untouched and removes the
    temporary one, so a half-written checkpoint never looks complete.
    """
    target = Path(directory).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        _relax_permissions(tmp)
        replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a rename in ``directory`` durable (the directory entry, not only the file's data)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling path (``.<name>.<random>.tmp``) that becomes ``path`` if the block completes.

    Write the file at the yielded path (by name, or ``open(tmp, "wb")``). On success it gets the usual
    umask-based mode, is fsynced and renamed over ``path``, and the directory is fsynced (``durable=False``
    skips both fsyncs: caches that can be rebuilt). On any exception the temporary file is removed and
    ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's file is private; what we write is not
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(target.parent)


def atomic_write(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> Path:
    """``data`` into ``path`` through ``atomic_file``."""
    with atomic_file(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


_HASHED_SUFFIXES = (".json", ".safetensors", ".txt", ".model")


def checksums(directory: Path) -> dict[str, str]:
    """sha256 of every weight/config file in a checkpoint, by relative path (the model card is not hashed)."""
    out = {}
    for f in sorted(directory.rglob("*")):
        if f.is_file() and f.suffix in _HASHED_SUFFIXES and not f.name.startswith("."):
            h = hashlib.sha256()
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out[str(f.relative_to(directory))] = h.hexdigest()
    return out
