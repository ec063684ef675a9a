"""What this CPU runs natively: its model name and feature flags, read once from ``/proc/cpuinfo`` (Linux).

Machines change between sessions (an AMD EPYC with AVX2 only, an Intel Xeon with AVX-512 VNNI, one with
AMX), so anything that picks a precision (training here, serving in ``model/runtime/precision.py``) asks here at run
time and never assumes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

#: the flags that make a precision's matrix products run in hardware
NATIVE_FLAGS = {"bf16": ("amx_bf16", "avx512_bf16"), "int8": ("amx_int8", "avx512_vnni", "avx_vnni")}
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict:
        return {"model": self.model, "flags": sorted(f for f in self.flags if f in REPORTED_FLAGS)}

    @property
    def kind(self) -> str:
        """The CPU class a verdict holds for: the units that pick the kernels (an AMX and an AVX512-BF16 CPU
        may round differently, so each gets its own verdict)."""
        return "-".join(sorted(f for f in self.flags if f in REPORTED_FLAGS)) or "plain"


@functools.lru_cache(maxsize=8)
def cpu_info(path: str = "/proc/cpuinfo") -> CpuInfo:
    """The CPU's model name and feature flags as the kernel reports them (none where it cannot be read:
    then no rung is native and ``auto`` serves fp32); read once per process (the one reader: training, the
    precision ladder and eval's run records all ask here)."""
    model, flags = "unknown", frozenset()
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "unknown":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = frozenset(value.split())
                if model != "unknown" and flags:
                    break
    except OSError:
        pass
    return CpuInfo(model, flags)


def cpu_flags() -> frozenset[str]:
    """This machine's feature flags (empty where ``/proc/cpuinfo`` cannot be read)."""
    return cpu_info().flags


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True where bf16 matrix products run in hardware, so bf16 autocast is faster than fp32."""
    return any(f in (cpu_flags() if flags is None else flags) for f in NATIVE_FLAGS["bf16"])


def training_precision(choice: str = "auto", flags: frozenset[str] | None = None) -> str:
    """``bf16`` or ``fp32`` for a training run: ``auto`` takes bf16 autocast only where the CPU has the units
    (elsewhere bf16 is emulated and slower than fp32); an explicit choice is kept."""
    if choice not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {choice!r}")
    if choice != "auto":
        return choice
    return "bf16" if native_bf16(flags) else "fp32"
