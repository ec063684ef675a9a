"""The model layer's settings, read from ``PRESSLENS_*`` variables in one place and checked there.

Every command, the service, training and eval read paths, the encoder runtime and the thread count from
``current()``, never from ``os.environ``; a bad value stops whatever is starting with one line naming the
variable (``SettingsError``). The API's settings carry this object and ``/info`` shows it.

| variable | field | default |
|---|---|---|
| ``PRESSLENS_HOME`` | ``home`` | ``~/.cache/presslens`` (installed encoders under ``models/``, caches under ``cache/``) |
| ``PRESSLENS_CACHE_DIR`` | ``cache_dir`` | ``$XDG_CACHE_HOME/presslens`` (``~/.cache/presslens``): ONNX exports under ``onnx/`` |
| ``PRESSLENS_RUNTIME`` | ``runtime`` | ``auto`` (``onnx``, ``torch``) |
| ``PRESSLENS_THREADS`` | ``threads`` | unset: up to 2 (the CPUs this process may use) |
| ``PRESSLENS_PRECISION`` | ``precision`` | ``auto`` (``fp32``, ``bf16``, ``int8``; ``model/precision.py``) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

RUNTIMES = ("auto", "onnx", "torch")
PRECISIONS = ("auto", "fp32", "bf16", "int8")
_READ = ("PRESSLENS_HOME", "PRESSLENS_CACHE_DIR", "PRESSLENS_RUNTIME", "PRESSLENS_THREADS", "PRESSLENS_PRECISION",
         "XDG_CACHE_HOME")


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
        env = os.environ if env is None else env
        home = env.get("PRESSLENS_HOME", "").strip()
        cache = env.get("PRESSLENS_CACHE_DIR", "").strip()
        xdg = env.get("XDG_CACHE_HOME", "").strip()
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


_cache: tuple[tuple, ModelSettings] | None = None


def current() -> ModelSettings:
    """The settings of this process, read once (again only when a variable it reads has changed, as in tests)."""
    global _cache
    key = tuple(os.environ.get(name) for name in _READ)
    if _cache is None or _cache[0] != key:
        _cache = (key, ModelSettings.from_env())
    return _cache[1]
