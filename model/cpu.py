"""What this CPU runs natively: read once from ``/proc/cpuinfo`` (Linux) and torch's own capability probe.

Machines change between sessions (an AMD EPYC with AVX2 only, an Intel Xeon with AVX-512 VNNI, one with
AMX), so anything that picks a precision asks here at run time and never assumes.
"""

from __future__ import annotations

import functools
from pathlib import Path

#: flags that mean the CPU computes bf16 dot products in hardware (AVX512-BF16 or AMX tiles)
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
#: flags that mean int8 dot products run on VNNI (AVX-512 or AVX) or AMX units
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True where bf16 matrix products run in hardware, so bf16 autocast is faster than fp32."""
    return any(f in (cpu_flags() if flags is None else flags) for f in BF16_FLAGS)


def native_int8(flags: frozenset[str] | None = None) -> bool:
    return any(f in (cpu_flags() if flags is None else flags) for f in INT8_FLAGS)


def training_precision(choice: str = "auto", flags: frozenset[str] | None = None) -> str:
    """``bf16`` or ``fp32`` for a training run: ``auto`` takes bf16 autocast only where the CPU has the units
    (elsewhere bf16 is emulated and slower than fp32); an explicit choice is kept."""
    if choice not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {choice!r}")
    if choice != "auto":
        return choice
    return "bf16" if native_bf16(flags) else "fp32"
