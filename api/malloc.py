"""glibc malloc tuning for the server process: few arenas, so memory freed by one thread is reused by the next.

glibc gives a thread that finds the main arena busy an arena of its own, up to 8 per core, and memory freed
into one arena serves only allocations made from it. The server's threads (the batch worker, FastAPI's thread
pool of up to 40, the event loop) each end up with a heap of their own that grows to its thread's peak and
stays there, so RSS climbs for minutes under varied load before it levels off. Two arenas (one per core
these machines have) keep the peak shared instead. ``MALLOC_ARENA_MAX`` in the environment, when set, wins:
glibc reads it itself at start-up and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

from presslens.model.settings import environment

_M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_arenas(n: int) -> bool:
    """Cap glibc's malloc arenas at ``n`` (for threads created from now on); False where not glibc or unset."""
    if n < 1 or environment().get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, int(n)))
    except (OSError, AttributeError):  # musl, macOS: no mallopt / no arenas to cap
        return False


def trim() -> bool:
    """Give free heap pages back to the system (``malloc_trim(0)``), e.g. after a model is replaced."""
    try:
        return bool(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False
