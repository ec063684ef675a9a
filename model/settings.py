"""The process's settings: the environment read once, in this one module, and checked here.

Every command, the service, training and eval read paths, the encoder runtime and the thread count from
``current()``, never from ``os.environ``; a bad value stops whatever is starting with one line naming the
variable (``SettingsError``). The API's settings (``api/settings.py``) extend this: they are parsed from the
same snapshot (``environment()``), carry this object as ``core``, and ``/info`` shows it. Variables other
programs own (``MALLOC_ARENA_MAX``, ``RAY_ADDRESS``) are read from that snapshot too, and a child process's
environment is built by ``child_env``. ``tests/test_layering.py`` fails on ``os.environ`` anywhere else.

The environment is read on the first call and kept: ``reload()`` reads it again (a test that changed a
variable), ``override(**fields)`` swaps in changed settings for a ``with`` block.

| variable | field | default |
|---|---|---|
| ``PRESSLENS_HOME`` | ``home`` | ``~/.cache/presslens`` (installed encoders under ``models/``, caches under ``cache/``) |
| ``PRESSLENS_CACHE_DIR`` | ``cache_dir`` | ``$XDG_CACHE_HOME/presslens`` (``~/.cache/presslens``): ONNX exports under ``onnx/`` |
| ``PRESSLENS_RUNTIME`` | ``runtime`` | ``auto`` (``onnx``, ``torch``) |
| ``PRESSLENS_THREADS`` | ``threads`` | unset: up to 2 (the CPUs this process may use) |
| ``PRESSLENS_PRECISION`` | ``precision`` | ``auto`` (``fp32``, ``bf16``, ``int8``; ``model/runtime/precision.py``) |
| ``PRESSLENS_REBUILD_VIA`` | ``rebuild_via`` | unset: the command a checkpoint records is the one typed |
| ``XDG_DATA_HOME`` | ``data_dir`` | ``~/.local/share``, with ``presslens/`` under it (the feedback store) |
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import MappingProxyType

RUNTIMES = ("auto", "onnx", "torch")
PRECISIONS = ("auto", "fp32", "bf16", "int8")


class SettingsError(ValueError):
    """A ``PRESSLENS_*`` variable with a value that cannot be used; the message names it, in one line."""


@dataclass(frozen=True)
class ModelSettings:
    home: Path
    cache_dir: Path
    runtime: str = "auto"
    threads: int | None = None  # None: default_threads() decides from the CPUs available
    # The encoder's numeric precision (auto: the fastest this CPU runs natively that passes the gate)
    precision: str = "auto"
    #: the command a checkpoint records as the way to rebuild it (``make default-model`` sets it)
    rebuild_via: str = ""
    #: where presslens keeps user data outside the checkout (``$XDG_DATA_HOME/presslens``)
    data_dir: Path | None = None

    @property
    def models_dir(self) -> Path:
        """Installed encoders (``presslens models install NAME``)."""
        return self.home / "models"

    @property
    def onnx_cache(self) -> Path:
        """ONNX Runtime exports, one directory per set of weights."""
        return self.cache_dir / "onnx"

    @property
    def teacher_cache(self) -> Path:
        """Cached teacher outputs for distillation."""
        return self.home / "cache" / "teacher"

    def resolved_threads(self) -> int:
        """``threads``, or up to 2 of the CPUs this process may run on."""
        if self.threads is not None:
            return self.threads
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, min(2, n))

    def to_dict(self) -> dict:
        """For ``/info`` and run records: paths as strings."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ModelSettings:
        env = environment() if env is None else env
        home = env.get("PRESSLENS_HOME", "").strip()
        cache = env.get("PRESSLENS_CACHE_DIR", "").strip()
        xdg = env.get("XDG_CACHE_HOME", "").strip()
        data = env.get("XDG_DATA_HOME", "").strip()
        runtime = env.get("PRESSLENS_RUNTIME", "").strip().lower() or "auto"
        if runtime not in RUNTIMES:
            raise SettingsError(f"bad setting PRESSLENS_RUNTIME={runtime!r}: expected one of {', '.join(RUNTIMES)}")
        precision = env.get("PRESSLENS_PRECISION", "").strip().lower() or "auto"
        if precision not in PRECISIONS:
            raise SettingsError(f"bad setting PRESSLENS_PRECISION={precision!r}: expected one of {', '.join(PRECISIONS)}")
        return cls(
            home=Path(home).expanduser() if home else Path.home() / ".cache" / "presslens",
            cache_dir=Path(cache).expanduser() if cache else (Path(xdg) if xdg else Path.home() / ".cache") / "presslens",
            runtime=runtime,
            threads=_threads(env.get("PRESSLENS_THREADS", "")),
            precision=precision,
            rebuild_via=env.get("PRESSLENS_REBUILD_VIA", "").strip(),
            data_dir=(Path(data) if data else Path.home() / ".local" / "share") / "presslens",
        )


def _threads(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        raise SettingsError(f"bad setting PRESSLENS_THREADS={text!r}: expected a whole number of threads") from None
    if n < 1:
        raise SettingsError(f"bad setting PRESSLENS_THREADS={n}: at least 1 thread")
    return n


# -- the one read of the environment -----------------------------------------------------------------------

_environment: Mapping[str, str] | None = None
_current: ModelSettings | None = None


def environment() -> Mapping[str, str]:
    """The process environment as read once (read-only): what the API's settings are parsed from, and
    where variables other programs own are looked up."""
    global _environment
    if _environment is None:
        _environment = MappingProxyType(dict(os.environ))
    return _environment


def current() -> ModelSettings:
    """The settings of this process, read from ``environment()`` on first use and kept."""
    global _current
    if _current is None:
        _current = ModelSettings.from_env(environment())
    return _current


def reload() -> None:
    """Forget what was read: the next ``environment()`` / ``current()`` reads the environment again (a test
    that set a variable; a bad value raises there, not here)."""
    global _environment, _current
    _environment = _current = None


@contextmanager
def override(**fields) -> Iterator[ModelSettings]:
    """``current()`` with ``fields`` replaced, inside the block (tests; a worker given its own thread count)."""
    global _current
    saved = _current
    _current = replace(current(), **fields)
    try:
        yield _current
    finally:
        _current = saved


def child_env(overrides: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment for a child process: this process's as it is now (so a variable set since start-up,
    such as ``TOKENIZERS_PARALLELISM``, travels), with ``overrides`` and ``extra`` on top."""
    return {**os.environ, **(overrides or {}), **extra}


def quiet_tokenizers() -> None:
    """``TOKENIZERS_PARALLELISM=false`` unless set: Hugging Face tokenizers read it themselves, before any
    tokenizer loads (a command's start, never at import)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
