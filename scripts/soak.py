"""``make soak``: a bounded loopback load test of a real ``presslens serve`` process.

``--clients`` concurrent async clients (default 64) send a mix of requests for ``--seconds`` (default 60)
after a warm-up: short, medium and long articles, multi-article batches, feedback, and deliberate mistakes
(malformed JSON, unknown fields, wrong types, bodies that are not JSON, articles over the size limit). While
they run, a good checkpoint is hot-reloaded twice (two copies, so each reload is visible as a new model
version) and a corrupt one once. Every answer is checked against what that request should get.

Passes when: no request failed (deliberate 4xx answered as expected and 503 backpressure with Retry-After
are not failures; a transport error, a timeout, any other status, or a malformed 200 are), each good reload
took effect (the reload answered 200, /readyz names the new version, later answers carry it), the corrupt
checkpoint was refused with 422 and the serving version did not change, and the server's RSS at the end is
within ``--rss-tolerance`` (10 %) of its value after the warm-up (medians over the first and last 10 s of
the measured load, see ``rss_window_medians``). Prints a summary and writes a report (``--out``: soak.json,
rss.png with RSS over the whole run, report.md); exits 1 on any failure.

Only 127.0.0.1 is used; the server is a child process killed on exit (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from presslens.eval.server import REPO_ROOT as ROOT  # noqa: E402
from presslens.eval.server import running_server  # noqa: E402

ADMIN_TOKEN = "soak-admin-token"
SEEDS = sorted((ROOT / "tests" / "fixtures").glob("00[0-4]_*.txt"))
MAX_CHARS = 20_000
EXPECTED_SENTENCES: dict[str, list[str]] = {}  # PRESSLENS_MAX_CHARS for the soak server: the "too long" mistake stays cheap to send


@dataclass
class Kind:
    name: str
    weight: float
    path: str
    expect: int  # the status this request must get
    build: object  # rng -> (json body or None, raw bytes or None, headers)
    articles: int = 0  # for 200s: how many results must come back


@dataclass
class Stats:
    sent: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    backpressure: int = 0
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    latencies: list[float] = field(default_factory=list)
    versions_seen: list[tuple[float, str]] = field(default_factory=list)

    def fail(self, msg: str) -> None:
        self.failure_count += 1
        if len(self.failures) < 20:
            self.failures.append(msg)


def _texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in SEEDS]


def _lead(text: str, chars: int) -> str:
    out = []
    for para in text.split("\n\n"):
        out.append(para)
        if sum(map(len, out)) >= chars:
            break
    return "\n\n".join(out)


def _kinds() -> list[Kind]:
    texts = _texts()
    short = [_lead(t, 600) for t in texts]  # a headline and a paragraph or two
    long_text = "\n\n".join(texts[:3])  # about 10,000 characters
    from presslens.model.text import Article

    for t in [*short, *texts, long_text]:  # what the server must find in each, computed here alone
        EXPECTED_SENTENCES[t] = [s.text for s in Article(t).sentences]

    def one(pool):
        return lambda r: ({"articles": [{"id": f"a{r.randrange(10**6)}", "text": r.choice(pool)}],
                           "summary_sentences": r.randint(1, 5)}, None, {})

    def multi(r):
        arts = [{"text": t} for t in r.sample(texts, 3)]
        return {"articles": arts, "claims_only": r.random() < 0.5}, None, {}

    def html(r):
        paras = "".join(f"<p>{p}</p>" for p in r.choice(texts).split("\n\n"))
        return {"articles": [{"html": f"<html><head><title>T</title></head><body><article>{paras}</article></body></html>"}]}, None, {}

    def feedback(r):
        t = _lead(r.choice(texts), 200)
        return {"text": t, "label": r.choice(["neutral", "editorial"]), "predicted": "neutral"}, None, {}

    return [
        Kind("short", 0.30, "/v1/analyze", 200, one(short), articles=1),
        Kind("medium", 0.25, "/v1/classify", 200, one(texts), articles=1),
        Kind("long", 0.06, "/v1/analyze", 200, lambda r: ({"articles": [{"text": long_text}]}, None, {}), articles=1),
        Kind("multi", 0.10, "/v1/summarize", 200, multi, articles=3),
        Kind("html", 0.04, "/v1/analyze", 200, html, articles=1),
        Kind("feedback", 0.05, "/v1/feedback", 201, feedback),
        Kind("bad_json", 0.04, "/v1/analyze", 400, lambda r: (None, b'{"articles": [', {"content-type": "application/json"})),
        Kind("unknown_field", 0.04, "/v1/analyze", 422, lambda r: ({"articles": [{"body": "x"}]}, None, {})),
        Kind("wrong_type", 0.03, "/v1/classify", 422, lambda r: ({"articles": [{"text": "x"}], "claims_only": 0}, None, {})),
        Kind("bad_label", 0.03, "/v1/feedback", 422, lambda r: ({"text": "x", "label": "biased"}, None, {})),
        Kind("not_json", 0.03, "/v1/analyze", 415, lambda r: (None, b"text=hello", {"content-type": "application/x-www-form-urlencoded"})),
        Kind("too_long", 0.03, "/v1/analyze", 422, lambda r: ({"articles": [{"text": "word " * (MAX_CHARS // 5 + 10)}]}, None, {})),
    ]


def _check_ok(kind: Kind, body: dict, known_versions: set[str], payload: dict | None = None) -> str | None:
    if kind.path == "/v1/feedback":
        return None if isinstance(body.get("id"), int) and body.get("label") in ("neutral", "editorial") else f"bad feedback answer {body}"
    results = body.get("results")
    if not isinstance(results, list) or len(results) != kind.articles:
        return f"expected {kind.articles} results, got {results if not isinstance(results, list) else len(results)}"
    if body.get("model") not in known_versions:
        return f"answer from unknown model {body.get('model')!r}"
    for res in results:
        if "label" in res and res["label"] not in ("neutral", "editorial"):
            return f"label {res['label']!r}"
        sent_text = ((payload or {}).get("articles") or [{}])[0].get("text")
        if "sentences" in res and sent_text in EXPECTED_SENTENCES:
            got = [s["text"] for s in res["sentences"]]
            if got != EXPECTED_SENTENCES[sent_text]:
                return f"sentences differ from a sequential Article(): {len(got)} vs {len(EXPECTED_SENTENCES[sent_text])}"
        if "summary" in res and not res["summary"]:
            return (f"empty summary for {res.get('id')!r} ({len(res.get('sentences') or [])} sentences, "
                    f"title {res.get('title')!r}): {json.dumps(res)[:300]}")
    return None


async def _client(i: int, client: httpx.AsyncClient, kinds: list[Kind], stop_at: float, stats: Stats,
                  known_versions: set[str], seed: int, timeout: float) -> None:
    rng = random.Random(seed * 1000 + i)
    weights = [k.weight for k in kinds]
    while time.monotonic() < stop_at:
        kind = rng.choices(kinds, weights)[0]
        payload, raw, headers = kind.build(rng)
        stats.sent[kind.name] += 1
        t0 = time.monotonic()
        try:
            if raw is not None:
                resp = await client.post(kind.path, content=raw, headers=headers, timeout=timeout)
            else:
                resp = await client.post(kind.path, json=payload, timeout=timeout)
        except httpx.HTTPError as exc:
            stats.fail(f"{kind.name}: {type(exc).__name__}: {exc}")
            continue
        stats.latencies.append(time.monotonic() - t0)
        stats.statuses[resp.status_code] += 1
        if resp.status_code == 503 and kind.expect == 200 and resp.headers.get("retry-after"):
            stats.backpressure += 1  # the queue was full: the client is told to retry; not a failure
            await asyncio.sleep(float(resp.headers["retry-after"]) * rng.random())
            continue
        if resp.status_code != kind.expect:
            stats.fail(f"{kind.name}: expected {kind.expect}, got {resp.status_code}: {resp.text[:200]}")
            continue
        try:
            body = resp.json()
        except ValueError:
            stats.fail(f"{kind.name}: answer is not JSON: {resp.text[:200]}")
            continue
        if resp.status_code >= 400:
            if not body.get("error") or not body.get("error_type"):
                stats.fail(f"{kind.name}: error without a message: {body}")
        else:
            problem = _check_ok(kind, body, known_versions, payload)
            if problem:
                stats.fail(f"{kind.name}: {problem}")
            elif "model" in body:
                stats.versions_seen.append((t0, body["model"]))  # when it was sent, and who answered


async def _reload(client: httpx.AsyncClient, name: str) -> httpx.Response:
    return await client.post("/v1/models/reload", json={"checkpoint": name},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=300)


async def _ready_version(client: httpx.AsyncClient) -> str:
    return (await client.get("/readyz", timeout=30)).json()["model"]


async def _admin(client: httpx.AsyncClient, plan: list[tuple[float, str, bool]], known: set[str],
                 events: list[dict], stats: Stats) -> None:
    """Run the reloads at their times; record whether each took effect (or was refused) as it should."""
    for at, name, good in plan:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        before = await _ready_version(client)
        t0 = time.monotonic()
        resp = await _reload(client, name)
        done = time.monotonic()
        took = done - t0
        after = await _ready_version(client)
        ev = {"checkpoint": name, "good": good, "status": resp.status_code, "seconds": round(took, 2),
              "before": before, "after": after, "at": done}
        if good:
            expected_version = None
            if resp.status_code == 200:
                active = resp.json()["models"][0]
                expected_version = f"{active['id']}@{active['version']}"
                known.add(expected_version)
            ev["ok"] = resp.status_code == 200 and after == expected_version and after != before
        else:
            ev["ok"] = resp.status_code == 422 and after == before and "keeps serving" in resp.text
            ev["message"] = resp.json().get("error", "")[:160] if resp.status_code < 500 else resp.text[:160]
        events.append(ev)
        if not ev["ok"]:
            stats.fail(f"reload {name}: {ev}")


def _prepare_models(models: Path, stance: Path) -> None:
    shutil.copytree(stance, models / "good-a")
    # A second good copy whose config differs (threshold +0.01), so its reload shows as a new version.
    shutil.copytree(stance, models / "good-b")
    cfg = json.loads((models / "good-b" / "config.json").read_text())
    cfg["threshold"] = round(min(0.99, float(cfg.get("threshold", 0.5)) + 0.01), 4)
    (models / "good-b" / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    shutil.copytree(stance, models / "corrupt")
    head = models / "corrupt" / "head.safetensors"
    data = bytearray(head.read_bytes())
    head.write_bytes(bytes(data[: len(data) // 2]))  # truncated mid-tensor, as a crashed copy leaves it


async def _soak(url: str, rss, ns: argparse.Namespace) -> dict:
    kinds = _kinds()
    stats = Stats()
    limits = httpx.Limits(max_connections=ns.clients + 4, max_keepalive_connections=ns.clients + 4)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        initial = await _ready_version(client)
        known = {initial}
        t_start = time.monotonic()
        warm_end = t_start + ns.warmup
        end = warm_end + ns.seconds
        plan = [(warm_end + ns.seconds * f, name, good)
                for f, name, good in ((0.25, "good-a", True), (0.5, "corrupt", False), (0.75, "good-b", True))]
        events: list[dict] = []
        samples: list[tuple[float, int]] = []
        sampler = asyncio.create_task(_sample_rss(rss, samples, t_start, ns.sample_every))
        clients = [asyncio.create_task(_client(i, client, kinds, end, stats, known, ns.seed, ns.request_timeout))
                   for i in range(ns.clients)]
        await asyncio.sleep(max(0.0, warm_end - time.monotonic()))
        rss_warm = rss()
        sent_at_warm = sum(stats.sent.values())
        admin = asyncio.create_task(_admin(client, plan, known, events, stats))
        done, _ = await asyncio.wait([*clients, admin], timeout=ns.seconds + ns.request_timeout + 330)
        for task in [*clients, admin]:
            if task not in done:
                task.cancel()
                stats.fail("a client did not finish in time")
            elif task.exception() is not None:
                stats.fail(f"client crashed: {task.exception()!r}")
        t_load = time.monotonic() - t_start
        await asyncio.sleep(1.0)  # let the server finish freeing the last requests
        rss_end = rss()
        sampler.cancel()
        samples.append((time.monotonic() - t_start, rss_end))
        final_version = await _ready_version(client)
        metrics = (await client.get("/metrics", timeout=30)).text
    # A request sent after a good reload answered must be served by that model or a later one (the swap
    # happens before the reload answers and each batch reads the model when it starts); a request sent
    # before may be answered by either, since it can wait in the queue across the swap.
    good = sorted((e["at"], e["after"]) for e in events if e["good"] and e["ok"])
    order = [initial] + [v for _, v in good]
    stale = 0
    for sent, version in stats.versions_seen:
        floor = sum(1 for at, _ in good if at < sent)
        rank = max((i for i, v in enumerate(order) if v == version), default=-1)
        if rank < floor:
            stale += 1
            if stale <= 3:
                stats.fail(f"request sent at +{sent - t_start:.2f} s answered by {version}, expected {order[floor]} "
                           f"or later (reloads answered at {', '.join(f'+{at - t_start:.2f} s' for at, _ in good)})")
    if stale:
        stats.fail(f"{stale} answers to requests sent after a reload came from an older model")
    expected_final = good[-1][1] if good else initial
    if final_version != expected_final:
        stats.fail(f"serving {final_version} at the end, expected {expected_final}")
    return {"stats": stats, "events": events, "rss_warm": rss_warm, "rss_end": rss_end, "seconds": t_load,
            "rss_samples": samples, "reloads_at": [e["at"] - t_start for e in events],
            "sent_warm": sent_at_warm, "metrics": metrics}


async def _sample_rss(rss, samples: list[tuple[float, int]], t_start: float, every: float) -> None:
    """The server's RSS (KiB) every ``every`` seconds, from the start of the load until cancelled."""
    while True:
        try:
            samples.append((time.monotonic() - t_start, rss()))
        except (OSError, RuntimeError):  # the server is gone; the main loop reports that
            return
        await asyncio.sleep(every)


def rss_window_medians(samples: list[tuple[float, int]], warmup: float, seconds: float, warm: int,
                       end: int) -> tuple[float, float]:
    """RSS at the start and at the end of the measured load: medians over a window of samples each.

    RSS moves by several percent from one second to the next as batches allocate and free their buffers;
    one sample at each end would measure that jitter, not growth. The windows are the first and the last
    ``min(10 s, seconds / 4)`` of the measured load; with too few samples the single readings stand.
    """
    w = min(10.0, seconds / 4)
    first = [kib for t, kib in samples if warmup <= t <= warmup + w]
    last = [kib for t, kib in samples if warmup + seconds - w <= t <= warmup + seconds]
    if len(first) < 3 or len(last) < 3:
        return float(warm), float(end)
    return float(statistics.median(first)), float(statistics.median(last))


def write_report(out_dir: Path, ns: argparse.Namespace, out: dict, growth: float, passed: bool,
                 summary: list[str]) -> None:
    """soak.json (the run, RSS samples included), rss.png (RSS over time) and report.md into ``out_dir``."""
    from presslens.eval.files import write_json, write_text
    from presslens.eval.plots import plot_rss_over_time

    out_dir.mkdir(parents=True, exist_ok=True)
    samples = [(round(t, 2), round(kib / 1024, 1)) for t, kib in out["rss_samples"]]
    write_json(out_dir / "soak.json", {
        "passed": passed, "clients": ns.clients, "warmup_s": ns.warmup, "seconds": ns.seconds,
        "rss_warm_mib": round(out["rss_warm"] / 1024, 1), "rss_end_mib": round(out["rss_end"] / 1024, 1),
        "rss_max_mib": max((m for _, m in samples), default=None), "rss_growth": round(growth, 4),
        "rss_tolerance": ns.rss_tolerance, "rss_mib_samples": samples,
        "reloads_at_s": [round(t, 2) for t in out["reloads_at"]], "requests": sum(out["stats"].sent.values()),
        "failures": out["stats"].failures,
    })
    plot_rss_over_time(samples, out_dir / "rss.png", baseline_at=ns.warmup,
                       limit_mib=out["rss_warm"] / 1024 * (1 + ns.rss_tolerance), marks=out["reloads_at"],
                       mark_label="model reload",
                       title=f"presslens soak: {ns.clients} clients, {ns.warmup:g} s warm-up + {ns.seconds:g} s")
    write_text(out_dir / "report.md", "# presslens soak\n\n```\n" + "\n".join(summary)
               + "\n```\n\n![server RSS over the soak](rss.png)\n")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", "64")))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "60")),
                    help="measured load after the warm-up (SOAK_SECONDS, default 60)")
    ap.add_argument("--warmup", type=float, default=float(os.environ.get("SOAK_WARMUP", "15")),
                    help="load before the RSS baseline is taken (SOAK_WARMUP, default 15)")
    ap.add_argument("--rss-tolerance", type=float, default=float(os.environ.get("SOAK_RSS_TOLERANCE", "0.10")))
    # Longer than the server's own limit (PRESSLENS_REQUEST_TIMEOUT_S, 120 s), which answers 503 first.
    ap.add_argument("--request-timeout", type=float, default=150.0)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "7")))
    ap.add_argument("--sample-every", type=float, default=1.0, help="seconds between RSS samples")
    ap.add_argument("--out", default=os.environ.get("SOAK_OUT", "runs/soak"),
                    help="report directory: soak.json, rss.png (RSS over time), report.md (SOAK_OUT, runs/soak)")
    ap.add_argument("--model", default=os.environ.get("SOAK_MODEL") or None,
                    help="stance checkpoint to serve and to copy for the reloads (default: the shipped one)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    ns = ap.parse_args(argv)
    if ns.clients < 1 or ns.seconds <= 0 or ns.warmup < 0:
        ap.error("--clients must be >= 1, --seconds > 0, --warmup >= 0")

    from presslens.model.profiles import resolve_stance

    stance = resolve_stance(ns.model)
    with tempfile.TemporaryDirectory(prefix="presslens-soak-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        _prepare_models(models, stance)
        env = {"PRESSLENS_ADMIN_TOKEN": ADMIN_TOKEN, "PRESSLENS_MODELS_DIR": str(models),
               "PRESSLENS_MAX_CHARS": str(MAX_CHARS)}
        with running_server(work / "server", env, args=["--model", str(stance)] if ns.model else None) as server:
            out = asyncio.run(_soak(server.url, server.rss_kib, ns))
            alive = server.proc.poll() is None
            log_tail = server.log_tail(400)
    stats: Stats = out["stats"]
    if not alive:
        stats.fail("the server died during the soak")
    tracebacks = log_tail.count("Traceback")
    if tracebacks:
        stats.fail(f"{tracebacks} tracebacks in the server log")
    out["rss_warm"], out["rss_end"] = rss_window_medians(out["rss_samples"], ns.warmup, ns.seconds,
                                                         out["rss_warm"], out["rss_end"])
    growth = (out["rss_end"] - out["rss_warm"]) / out["rss_warm"]
    total = sum(stats.sent.values())
    lat = stats.latencies
    lines: list[str] = []

    def say(line: str) -> None:
        print(line)
        lines.append(line)

    say("== presslens soak summary ==")
    say(f"load: {ns.clients} clients, {ns.warmup:g} s warm-up + {ns.seconds:g} s measured "
          f"({out['seconds']:.0f} s until the last answer), seed {ns.seed}")
    say(f"requests: {total} ({total / out['seconds']:.1f}/s); by kind: "
          + ", ".join(f"{k} {n}" for k, n in sorted(stats.sent.items())))
    say("statuses: " + ", ".join(f"{c}: {n}" for c, n in sorted(stats.statuses.items())))
    say(f"latency (all kinds): p50 {_pct(lat, 0.5):.3f} s, p95 {_pct(lat, 0.95):.3f} s, p99 {_pct(lat, 0.99):.3f} s, "
          f"max {max(lat, default=float('nan')):.3f} s, mean {statistics.fmean(lat) if lat else float('nan'):.3f} s")
    say(f"503 backpressure (with Retry-After): {stats.backpressure}")
    for e in out["events"]:
        what = "good" if e["good"] else "corrupt"
        verdict = "took effect" if e["good"] and e["ok"] else "refused as it should be" if e["ok"] else "WRONG"
        say(f"reload {e['checkpoint']} ({what}): HTTP {e['status']} in {e['seconds']} s, serving {e['before']} -> "
              f"{e['after']}: {verdict}" + (f" ({e['message']})" if e.get("message") else ""))
    peak = max((kib for _, kib in out["rss_samples"]), default=0) / 1024
    say(f"server RSS (median of the first / last {min(10.0, ns.seconds / 4):g} s of load): "
        f"{out['rss_warm'] / 1024:.1f} MiB after warm-up, {out['rss_end'] / 1024:.1f} MiB at the end "
        f"({growth:+.1%}; limit ±{ns.rss_tolerance:.0%}); peak {peak:.1f} MiB")
    if abs(growth) > ns.rss_tolerance:
        stats.fail(f"RSS changed by {growth:+.1%}, more than {ns.rss_tolerance:.0%}")
    if len(out["events"]) != 3:
        stats.fail(f"{len(out['events'])} of 3 reloads ran")
    say(f"failures (requests, reloads, memory, server): {stats.failure_count}")
    for f in stats.failures:
        say(f"  - {f}")
    say("result: " + ("PASS" if not stats.failure_count else "FAIL"))
    if ns.out:
        write_report(Path(ns.out), ns, out, growth, not stats.failure_count, lines)
        print(f"report: {Path(ns.out) / 'report.md'} (RSS over time: {Path(ns.out) / 'rss.png'})")
    return 1 if stats.failure_count else 0


if __name__ == "__main__":
    sys.exit(main())
