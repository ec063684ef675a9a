"""``presslens bench``: the real service against a naive peer and against the compute floor, in one run.

What it does, in order:

1. Builds a fixed mix of articles of several lengths (default 80/200/400/800 words) from the seed articles
   in ``tests/fixtures`` (or ``--articles FILE...``): paragraphs are concatenated round-robin and cut at a
   sentence boundary, so every run sends the same texts in the same order.
2. Estimates the compute floor: tokens the encoder must process for the mix (its own tokenizer, with its
   truncation), FLOPs = 2 x non-embedding parameters x tokens + the attention term 4 x layers x hidden x
   length^2 per sentence, divided by this machine's fp32 matrix-multiply rate measured now with torch on
   encoder-shaped GEMMs. That is the articles/s no implementation of this model could beat here.
3. Starts the real service (``python -m api.cli serve`` on 127.0.0.1, a free port), records the cold start
   (process start until ``/readyz`` answers), drives ``POST /v1/analyze`` with one article per request at
   each concurrency (default 1, 8, 32) from async httpx clients, and reads the server's peak RSS (VmHWM,
   children included) before stopping it.
4. Does the same for the naive peer (:mod:`eval.naive_server`: same checkpoint and result, a synchronous
   route, each sentence through the encoder on its own) with fewer requests, since it is slow.
5. Writes ``bench.json``, ``report.md``, ``throughput.png`` and ``run.json`` into ``--out``.

Every loop is bounded in count and in time; servers are stopped on every exit path. Traffic is loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .report import REPO_ROOT, markdown_table, plot_throughput, write_json, write_run_info, write_text

DEFAULT_LEVELS = (1, 8, 32)
DEFAULT_LENGTHS = (80, 200, 400, 800)
SEED_GLOB = "tests/fixtures/00[0-4]_*.txt"


class BenchError(RuntimeError):
    """Something the user can fix (no seed articles, a server that will not start); one line."""


# ------------------------------------------------------------------------------------------ the mix


def seed_sources() -> list[Path]:
    return sorted(REPO_ROOT.glob(SEED_GLOB))


def build_article_mix(texts: Sequence[str], lengths: Sequence[int] = DEFAULT_LENGTHS,
                      variants: int = 2) -> list[dict]:
    """``variants`` articles per target length (in words), interleaved by length.

    Paragraphs of all sources (cleaned of page furniture) form one pool; each article starts at a
    different paragraph and takes whole sentences until it reaches its length, so articles are real prose
    of a known size. The same inputs always give the same mix.
    """
    from model.text import clean_lines, split_sentences

    pool: list[tuple[str | None, str]] = []
    for text in texts:
        headline, paragraphs = clean_lines(text)
        pool.extend((headline, p) for p in paragraphs)
    if not pool:
        raise BenchError("the benchmark needs article text; the sources have no paragraphs")
    total_words = sum(len(p.split()) for _, p in pool)
    mix = []
    for v in range(variants):
        for L in lengths:
            if L < 1:
                raise BenchError(f"article length must be at least 1 word, got {L}")
            j = len(mix)
            start = (j * 7) % len(pool)
            headline = pool[start][0] or "Benchmark article"
            paras: list[str] = []
            words = 0
            # Bounded: at most as many passes over the pool as it takes to reach L words, plus one.
            for step in range(len(pool) * (L // max(1, total_words) + 2)):
                para = pool[(start + step) % len(pool)][1]
                kept = []
                for s, e in split_sentences(para):
                    if words >= L:
                        break
                    kept.append(para[s:e])
                    words += len(para[s:e].split())
                if kept:
                    paras.append(" ".join(kept))
                if words >= L:
                    break
            mix.append({"id": f"len{L}-v{v}", "target_words": L, "words": words,
                        "text": headline + "\n\n" + "\n\n".join(paras)})
    return mix


def request_sequence(mix: Sequence[dict], n: int) -> list[dict]:
    """The first ``n`` requests: the mix repeated in order, so each level sees the same proportions."""
    return [mix[i % len(mix)] for i in range(n)]


# ------------------------------------------------------------------------------------------ compute floor


@dataclass
class EncoderCost:
    sentences: int
    tokens: int
    flops: float
    params_nonembedding: int
    layers: int
    hidden: int
    max_length: int
    per_article_flops: list[float] = field(default_factory=list)


def encoder_cost(encoder, articles: Sequence[dict]) -> EncoderCost:
    """Tokens and forward FLOPs the encoder needs for every sentence of every article (padding excluded)."""
    from model.text import Article

    model = encoder.model
    params = sum(p.numel() for n, p in model.named_parameters()
                 if "embeddings" not in n and not n.startswith("pooler"))
    cfg = model.config
    layers, hidden = int(cfg.num_hidden_layers), int(cfg.hidden_size)
    total_tokens = total_sents = 0
    per_article = []
    for a in articles:
        sents = [s.text for s in Article(a["text"], id=a["id"]).sentences]
        lens = np.array(encoder.count_tokens(sents), dtype=float)
        total_tokens += int(lens.sum())
        total_sents += len(sents)
        # Dense layers: 2 FLOPs per parameter per token. Attention: QK^T and AV, 2*len^2*hidden each per layer.
        per_article.append(float(2 * params * lens.sum() + 4 * layers * hidden * (lens ** 2).sum()))
    return EncoderCost(total_sents, total_tokens, float(sum(per_article)), int(params), layers, hidden,
                       int(encoder.max_length), per_article)


def matmul_gflops(hidden: int = 384, seconds: float = 2.0, shapes: Sequence[tuple[int, int, int]] | None = None,
                  threads: int | None = None) -> dict:
    """This machine's fp32 matmul rate (GFLOP/s) with torch, on encoder-shaped GEMMs; the best shape wins.

    Shapes are (tokens, hidden) @ (hidden, 4*hidden) and its transpose, the feed-forward GEMMs that
    dominate an encoder, plus a square one. Each shape runs for about ``seconds / len(shapes)``.
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    shapes = list(shapes or [(2048, hidden, 4 * hidden), (2048, 4 * hidden, hidden), (1024, 1024, 1024)])
    rates = {}
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for m, k, n in shapes:
            a = torch.randn(m, k, generator=gen)
            b = torch.randn(k, n, generator=gen)
            torch.mm(a, b)  # warm-up: first call allocates and picks a kernel
            best = 0.0
            deadline = time.perf_counter() + seconds / len(shapes)
            for _ in range(1000):  # bounded even on a very fast machine
                t0 = time.perf_counter()
                torch.mm(a, b)
                dt = time.perf_counter() - t0
                best = max(best, 2.0 * m * k * n / dt / 1e9)
                if time.perf_counter() > deadline:
                    break
            rates[f"{m}x{k}x{n}"] = best
    return {"gflops": max(rates.values()), "by_shape": rates, "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            out.extend(int(x) for x in task.read_text().split())
        except (OSError, ValueError):
            pass
    return out


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of ``pid`` plus its descendants, in MiB; None where /proc is absent."""
    seen, todo, total, found = set(), [pid], 0, False
    while todo and len(seen) < 256:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
                    found = True
                    break
        except OSError:
            continue
        todo.extend(_children(p))
    return round(total / 1024, 1) if found else None


class Server:
    """A server subprocess on loopback: start, wait until ready, measure, stop (always)."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path):
        self.name, self.argv, self.port, self.log_path = name, argv, port, log_path
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"
        self.cold_start_s: float | None = None

    def start(self, timeout: float) -> float:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        env["TOKENIZERS_PARALLELISM"] = "false"
        # Keep the benchmark from writing into the user's feedback store (ignored by builds without one).
        env["PRESSLENS_FEEDBACK_DB"] = str(self.log_path.parent / f"{self.name}-feedback.sqlite3")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        t0 = time.perf_counter()
        # Own session, so stop() can signal the whole process group.
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=str(REPO_ROOT), start_new_session=True)
        from api.server import wait_until_ready

        state = wait_until_ready(self.url + "/readyz", lambda: self.proc.poll() is None, timeout)
        if state == "died":
            raise BenchError(f"{self.name} server exited with code {self.proc.returncode} before it was "
                             f"ready: {self._log_tail()}")
        if state == "timeout":
            raise BenchError(f"{self.name} server was not ready after {timeout:.0f} s: {self._log_tail()}")
        self.cold_start_s = time.perf_counter() - t0
        return self.cold_start_s

    def _log_tail(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "(no log)"
        return lines[-1][:300] if lines else "(empty log)"

    def peak_rss_mb(self) -> float | None:
        return peak_rss_mb(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, PermissionError):
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        self.proc = None


# ------------------------------------------------------------------------------------------ load


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


async def _drive(url: str, seq: Sequence[dict], concurrency: int, max_seconds: float,
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
    key = os.environ.get("PRESSLENS_API_KEY", "").strip()
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
        return asyncio.run(_drive(url, seq, concurrency, max_seconds, request_timeout, progress))


def warm_up(server: Server, mix: Sequence[dict], level_seconds: float, request_timeout: float) -> dict[str, str]:
    """One request per article length outside the measurement, so first-call costs are not counted."""
    by_length: dict[int, dict] = {}
    for a in mix:
        by_length.setdefault(a["target_words"], a)
    warm = run_level(server.url, list(by_length.values()), 1, level_seconds, request_timeout,
                     f"{server.name} warm-up")
    if warm.ok == 0:
        raise BenchError(f"{server.name} server answered no request during warm-up: {server._log_tail()}")
    return warm.labels


def bench_systems(servers: Sequence[Server], mix: Sequence[dict], levels: Sequence[int],
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


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return values


def _positive(text: str) -> int:
    values = _int_list(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one whole number, got {text!r}")
    return values[0]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="report directory (created)")
    p.add_argument("--model", default=None, metavar="DIR", help="stance checkpoint (default: the shipped one)")
    p.add_argument("--concurrency", type=_int_list, default=list(DEFAULT_LEVELS), metavar="N,N,...",
                   help="client concurrency levels (default 1,8,32)")
    p.add_argument("--lengths", type=_int_list, default=list(DEFAULT_LENGTHS), metavar="W,W,...",
                   help="article lengths in words for the mix (default 80,200,400,800)")
    p.add_argument("--articles", nargs="+", default=None, metavar="FILE",
                   help="source texts for the mix (default: the seed articles in tests/fixtures)")
    p.add_argument("--requests", type=_positive, default=None, metavar="N",
                   help="presslens requests per level (default: max(64, 2 x concurrency))")
    p.add_argument("--naive-requests", type=_positive, default=None, metavar="N",
                   help="naive-peer requests per level (default: max(32, concurrency); it is slow)")
    p.add_argument("--limit", type=_positive, default=None, metavar="N",
                   help="cap requests per level for both systems (quick runs)")
    p.add_argument("--quick", action="store_true", help="a smoke run: --limit 8 and 30 s per level")
    p.add_argument("--level-seconds", type=float, default=75.0, metavar="S",
                   help="stop issuing requests at a level after S seconds (default 75)")
    p.add_argument("--startup-timeout", type=float, default=180.0, metavar="S")
    p.add_argument("--request-timeout", type=float, default=300.0, metavar="S")
    p.add_argument("--matmul-seconds", type=float, default=3.0, metavar="S",
                   help="time spent measuring the matmul rate (default 3)")
    p.add_argument("--seed", type=int, default=0, help="recorded in run.json; the mix itself is fixed")


def _sources(ns: argparse.Namespace) -> list[Path]:
    paths = [Path(p) for p in ns.articles] if ns.articles else seed_sources()
    if not paths:
        raise BenchError(f"no seed articles found under {REPO_ROOT / 'tests/fixtures'}; pass --articles FILE...")
    for p in paths:
        if not p.is_file():
            raise BenchError(f"{p}: no such file")
    return paths


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on Linux
        return None


def run_bench(ns: argparse.Namespace) -> dict:
    from model.pipeline import default_stance_path
    from model.stance import StanceModel

    started = time.time()
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    limit = ns.limit or (8 if ns.quick else None)
    level_seconds = min(ns.level_seconds, 30.0) if ns.quick else ns.level_seconds
    sources = _sources(ns)
    texts = []
    for p in sources:
        try:
            texts.append(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchError(f"{p}: cannot read as UTF-8 text ({exc})") from None
    mix = build_article_mix(texts, ns.lengths)

    model_dir = ns.model or str(default_stance_path())
    encoder = StanceModel.from_pretrained(model_dir).encoder  # a bad --model fails here, before any server
    cost = encoder_cost(encoder, mix)
    del encoder
    print("measuring the fp32 matmul rate ...", file=sys.stderr)
    mm = matmul_gflops(cost.hidden, seconds=ns.matmul_seconds)
    flops_per_article = cost.flops / len(mix)
    floor_aps = mm["gflops"] * 1e9 / flops_per_article

    def cap(n: int) -> int:
        return min(n, limit) if limit else n

    def presslens_n(c: int) -> int:
        return cap(ns.requests or max(64, 2 * c))

    def naive_n(c: int) -> int:
        return cap(ns.naive_requests or max(32, c))

    py = sys.executable
    model_args = ["--model", ns.model] if ns.model else []
    servers = []
    for name, module_args in (("presslens", ["api.cli", "serve"]), ("naive", ["eval.naive_server"])):
        port = free_port()
        servers.append(Server(name, [py, "-m", *module_args, "--host", "127.0.0.1", "--port", str(port),
                                     *model_args], port, out / "logs" / f"{name}-server.log"))
    load_before = _loadavg()
    systems = bench_systems(servers, mix, ns.concurrency, {"presslens": presslens_n, "naive": naive_n},
                            startup_timeout=ns.startup_timeout, level_seconds=level_seconds,
                            request_timeout=ns.request_timeout)
    load_after = _loadavg()

    pl, nv = systems["presslens"], systems["naive"]
    best_pl = max(v["articles_per_s"] for v in pl["levels"].values())
    best_nv = max(v["articles_per_s"] for v in nv["levels"].values())
    common = sorted(set(pl["labels"]) & set(nv["labels"]))
    result = {
        "speedup_vs_naive": best_pl / best_nv if best_nv > 0 else None,
        "fraction_of_floor": best_pl / floor_aps if floor_aps > 0 else None,
        "rss_mb": pl["rss_mb"],
        "cold_start_s": pl["cold_start_s"],
        "naive_rss_mb": nv["rss_mb"],
        "naive_cold_start_s": nv["cold_start_s"],
        "best_articles_per_s": {"presslens": best_pl, "naive": best_nv},
        "speedup_by_concurrency": {
            c: (pl["levels"][c]["articles_per_s"] / nv["levels"][c]["articles_per_s"]
                if nv["levels"][c]["articles_per_s"] > 0 else None)
            for c in pl["levels"]
        },
        "levels": {"presslens": pl["levels"], "naive": nv["levels"]},
        "floor": {
            "articles_per_s": floor_aps, "matmul_gflops": mm["gflops"], "matmul_by_shape": mm["by_shape"],
            "torch_threads": mm["threads"], "flops_per_article": flops_per_article,
            "tokens_per_article": cost.tokens / len(mix), "sentences_per_article": cost.sentences / len(mix),
            "encoder_params_nonembedding": cost.params_nonembedding, "encoder_layers": cost.layers,
            "encoder_hidden": cost.hidden, "max_length": cost.max_length,
        },
        "mix": {"articles": len(mix), "target_words": list(ns.lengths),
                "words": {a["id"]: a["words"] for a in mix}},
        # Same checkpoint, same result object: the two servers should label the mix the same way.
        "label_agreement": (sum(pl["labels"][k] == nv["labels"][k] for k in common) / len(common)
                            if common else None),
        "model": model_dir,
        # Other work on the machine skews every number here; the 1-minute load average says how much.
        "machine_load_1m": {"before": load_before, "after": load_after},
    }
    write_json(out / "bench.json", result, digits=4)
    write_text(out / "report.md", bench_report_md(result))
    levels = [int(c) for c in pl["levels"]]
    plot_throughput(levels, {"presslens": [pl["levels"][str(c)]["articles_per_s"] for c in levels],
                             "naive peer": [nv["levels"][str(c)]["articles_per_s"] for c in levels]},
                    out / "throughput.png",
                    latency_p95_ms={"presslens": [pl["levels"][str(c)]["p95_ms"] for c in levels],
                                    "naive peer": [nv["levels"][str(c)]["p95_ms"] for c in levels]},
                    floor=floor_aps, title="presslens vs naive peer: throughput")
    write_run_info(out, sources, ns.seed, started, extra={"model": model_dir, "command": "bench"})
    return result


def bench_report_md(r: dict) -> str:
    fl = r["floor"]
    lines = [
        "# presslens benchmark", "",
        f"- **{r['best_articles_per_s']['presslens']:.2f} articles/s** at best for presslens, "
        f"{r['best_articles_per_s']['naive']:.2f} for the naive peer: **{r['speedup_vs_naive']:.2f}x**.",
        f"- Compute floor on this machine: {fl['articles_per_s']:.2f} articles/s "
        f"({fl['flops_per_article'] / 1e9:.2f} GFLOP per article at {fl['matmul_gflops']:.1f} GFLOP/s fp32); "
        f"presslens reaches **{r['fraction_of_floor']:.1%}** of it.",
        f"- Server cold start {r['cold_start_s']:.1f} s, peak RSS {r['rss_mb']} MiB "
        f"(naive peer: {r['naive_cold_start_s']:.1f} s, {r['naive_rss_mb']} MiB).",
        "- Label agreement between the two servers on the mix: "
        + (f"{r['label_agreement']:.0%}." if r["label_agreement"] is not None else "n/a."),
        f"- 1-minute load average on the machine before/after: {r['machine_load_1m']['before']} / "
        f"{r['machine_load_1m']['after']} (other work on a shared machine skews every number).",
        "", "## Throughput and latency", "",
    ]
    rows = []
    for system, levels in r["levels"].items():
        for c, v in levels.items():
            rows.append([system, c, f"{v['articles_per_s']:.2f}", f"{v['p50_ms']:.0f}", f"{v['p95_ms']:.0f}",
                         f"{v['ok']}/{v['requests']}", v["rejected_503"]])
    lines.append(markdown_table(["system", "concurrency", "articles/s", "p50 ms", "p95 ms", "ok/sent",
                                 "503 retries"], rows))
    lines += [
        "![throughput](throughput.png)", "",
        "## Method", "",
        f"- Mix: {r['mix']['articles']} articles built from the seed texts, target lengths "
        f"{', '.join(map(str, r['mix']['target_words']))} words "
        f"({fl['sentences_per_article']:.1f} sentences, {fl['tokens_per_article']:.0f} encoder tokens per article "
        "on average); one article per request, the mix repeated in order at every level.",
        "- presslens: `python -m api.cli serve` on 127.0.0.1 (batching queue, packed encoder forward); naive "
        "peer: `python -m eval.naive_server` (same checkpoint and result, synchronous route, each sentence "
        "through the plain transformers forward alone).",
        "- Cold start: process start until `/readyz` answers 200. RSS: VmHWM of the server process and its "
        "children after the run.",
        f"- Floor: 2 x {fl['encoder_params_nonembedding']:,} non-embedding parameters x tokens + attention "
        f"(4 x {fl['encoder_layers']} layers x {fl['encoder_hidden']} x length^2 per sentence), padding excluded, "
        f"divided by the best fp32 `torch.mm` rate measured in this run ({fl['torch_threads']} threads).",
        "- Latency is per request, client side, including any 503 retry waits.",
    ]
    return "\n".join(lines) + "\n"


def run(ns: argparse.Namespace) -> int:
    try:
        result = run_bench(ns)
    except BenchError as exc:
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2
    keys = ("speedup_vs_naive", "fraction_of_floor", "rss_mb", "cold_start_s")
    print(json.dumps({k: result[k] for k in keys}, indent=2))
    print(f"report written to {ns.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="presslens bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
