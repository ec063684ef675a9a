"""Load generation for ``presslens bench``: drive ``POST /v1/analyze`` at each concurrency from async clients.

Every loop is bounded in count and in time; a full queue's 503 + Retry-After is honoured, boundedly.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from presslens.model.settings import environment

from .server import ServerProcess


class LoadError(RuntimeError):
    """A server that answered no request at all."""


def request_sequence(mix: Sequence[dict], n: int) -> list[dict]:
    """The first ``n`` requests: the mix repeated in order, so each level sees the same proportions."""
    return [mix[i % len(mix)] for i in range(n)]


@dataclass
class LevelResult:
    concurrency: int
    requests: int
    ok: int
    errors: int
    rejected: int
    wall_s: float
    latencies_ms: list[float]
    labels: dict[str, str]

    def summary(self) -> dict:
        lat = np.array(self.latencies_ms) if self.latencies_ms else np.array([np.nan])
        return {
            "concurrency": self.concurrency, "requests": self.requests, "ok": self.ok, "errors": self.errors,
            "rejected_503": self.rejected, "wall_s": round(self.wall_s, 3),
            "articles_per_s": self.ok / self.wall_s if self.wall_s > 0 else 0.0,
            "p50_ms": float(np.percentile(lat, 50)), "p95_ms": float(np.percentile(lat, 95)),
            "mean_ms": float(lat.mean()),
        }


async def drive(url: str, seq: Sequence[dict], concurrency: int, max_seconds: float,
                 request_timeout: float, progress) -> LevelResult:
    import httpx

    latencies: list[float] = []
    labels: dict[str, str] = {}
    counts = {"ok": 0, "errors": 0, "rejected": 0, "issued": 0}
    next_i = 0
    t_start = time.perf_counter()
    deadline = t_start + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_i
        while next_i < len(seq) and time.perf_counter() < deadline:
            art = seq[next_i]
            next_i += 1
            counts["issued"] += 1
            body = {"articles": [{"id": art["id"], "text": art["text"]}]}
            t0 = time.perf_counter()
            for _attempt in range(20):  # a full queue answers 503 + Retry-After: honour it, boundedly
                try:
                    r = await client.post(url + "/v1/analyze", json=body)
                except httpx.HTTPError:
                    counts["errors"] += 1
                    break
                if r.status_code == 503:
                    counts["rejected"] += 1
                    try:
                        wait = float(r.headers.get("retry-after", "0.5"))
                    except ValueError:
                        wait = 0.5
                    await asyncio.sleep(min(max(wait, 0.05), 5.0))
                    continue
                if r.status_code == 200:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    counts["ok"] += 1
                    try:
                        data = r.json()
                        # A bare list of results, or {"results": [...]} from builds that wrap it.
                        items = data["results"] if isinstance(data, dict) else data
                        labels.setdefault(art["id"], items[0]["label"])
                    except (ValueError, LookupError, TypeError):
                        pass
                else:
                    counts["errors"] += 1
                break
            else:
                counts["errors"] += 1
            progress.update(1)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # A service started with PRESSLENS_API_KEY in the environment wants it on every /v1 call.
    key = environment().get("PRESSLENS_API_KEY", "").strip()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(timeout=request_timeout, limits=limits, headers=headers) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    wall = time.perf_counter() - t_start
    return LevelResult(concurrency, counts["issued"], counts["ok"], counts["errors"], counts["rejected"], wall,
                       latencies, labels)


def run_level(url: str, seq: Sequence[dict], concurrency: int, max_seconds: float, request_timeout: float,
              desc: str) -> LevelResult:
    from tqdm import tqdm

    with tqdm(total=len(seq), desc=desc, unit="art", leave=False, file=sys.stderr) as progress:
        return asyncio.run(drive(url, seq, concurrency, max_seconds, request_timeout, progress))


def warm_up(server: ServerProcess, mix: Sequence[dict], level_seconds: float, request_timeout: float) -> dict[str, str]:
    """One request per article length outside the measurement, so first-call costs are not counted."""
    by_length: dict[int, dict] = {}
    for a in mix:
        by_length.setdefault(a["target_words"], a)
    warm = run_level(server.url, list(by_length.values()), 1, level_seconds, request_timeout,
                     f"{server.name} warm-up")
    if warm.ok == 0:
        raise LoadError(f"{server.name} server answered no request during warm-up: {server.last_log_line()}")
    return warm.labels


def bench_systems(servers: Sequence[ServerProcess], mix: Sequence[dict], levels: Sequence[int],
                  requests_for: dict[str, object], *, startup_timeout: float, level_seconds: float,
                  request_timeout: float) -> dict[str, dict]:
    """Start every server (one after the other, so each cold start runs on an idle machine), warm them up,
    then run each concurrency level for every system in turn before moving to the next level.

    Interleaving levels means a burst of background load on a shared machine hits both systems alike
    instead of whichever happened to run during it. Every server is stopped on every exit path.
    """
    out: dict[str, dict] = {}
    try:
        for server in servers:
            print(f"starting the {server.name} server on 127.0.0.1:{server.port} ...", file=sys.stderr)
            cold = server.start(startup_timeout)
            out[server.name] = {"cold_start_s": cold, "levels": {}, "labels": {}}
        for server in servers:
            out[server.name]["labels"].update(warm_up(server, mix, level_seconds, request_timeout))
        for c in levels:
            for server in servers:
                seq = request_sequence(mix, requests_for[server.name](c))
                res = run_level(server.url, seq, c, level_seconds, request_timeout, f"{server.name} c={c}")
                out[server.name]["labels"].update(res.labels)
                s = out[server.name]["levels"][str(c)] = res.summary()
                print(f"  {server.name:9s} c={c:<3d} {s['articles_per_s']:7.2f} articles/s  "
                      f"p50 {s['p50_ms']:8.0f} ms  p95 {s['p95_ms']:8.0f} ms  ({s['ok']}/{s['requests']} ok)",
                      file=sys.stderr)
        for server in servers:
            out[server.name]["rss_mb"] = server.peak_rss_mb()
    finally:
        for server in servers:
            server.stop()
    return out


# ------------------------------------------------------------------------------------------ command
