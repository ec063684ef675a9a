"""``presslens bench``: the real service against a naive peer and against the compute floor, in one run.

What it does, in order:

1. Builds a fixed mix of articles of several lengths (default 80/200/400/800 words) from the seed articles
   in ``tests/fixtures`` (or ``--articles FILE...``): paragraphs are concatenated round-robin and cut at a
   sentence boundary, so every run sends the same texts in the same order.
2. Estimates the compute floor: tokens the encoder must process for the mix (its own tokenizer, with its
   truncation), FLOPs = 2 x non-embedding parameters x tokens + the attention term 4 x layers x hidden x
   length^2 per sentence, divided by this machine's fp32 matrix-multiply rate measured now with torch on
   encoder-shaped GEMMs. That is the articles/s no implementation of this model could beat here.
3. Starts the real service (``python -m presslens.api.cli serve`` on 127.0.0.1, a free port), records the cold start
   (process start until ``/readyz`` answers), drives ``POST /v1/analyze`` with one article per request at
   each concurrency (default 1, 8, 32) from async httpx clients, and reads the server's peak RSS (VmHWM,
   children included) before stopping it.
4. Does the same for two peers with fewer requests: the naive one (:mod:`eval.naive_server`: same
   checkpoint and result, a synchronous route, each sentence through the encoder on its own) and the
   competent one (:mod:`eval.competent_server`: sentence-transformers ``encode`` of each request's sentences
   in one call, the same head, behind a synchronous FastAPI route), what a capable user writes in an afternoon.
   Before any server starts, the model's runtime export is built if missing (``presslens prepare``), so the
   cold start measured is that of an installed service, not of a first-ever export.
5. Writes ``bench.json``, ``report.md``, ``throughput.png`` and ``run.json`` into ``--out``.

Every loop is bounded in count and in time; servers are stopped on every exit path. Traffic is loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import bench_precision as bp
from .files import write_json, write_text
from .floor import encoder_cost, matmul_gflops
from .load import LoadError, bench_systems
from .plots import plot_throughput
from .provenance import REPO_ROOT, write_run_info
from .server import ServerProcess, ServerStartError, free_port, serve_command
from .tables import markdown_table

DEFAULT_LEVELS = (1, 8, 32)
#: the systems a run compares, in the order they start: presslens first, then its two peers
PEERS = (("presslens", "presslens.api.cli serve"), ("naive", "presslens.eval.naive_server"), ("competent", "presslens.eval.competent_server"))
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
    from presslens.model.text import clean_lines, split_sentences

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
    p.add_argument("--model", default=None, metavar="NAME|DIR",
                   help="stance model for every server: passed to each as --model (a profile, default or "
                        "accurate, or a checkpoint directory; default: default)")
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
    p.add_argument("--competent-requests", type=_positive, default=None, metavar="N",
                   help="competent-peer requests per level (default: max(48, concurrency))")
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
    p.add_argument("--gate-dev", default=None, metavar="FILE",
                   help="labelled dev sentences for the precision gate (as `presslens prepare --gate-dev`): "
                        "without it the gate decides on its probe set and probe articles")
    p.add_argument("--accurate-model", default=bp.ACCURATE, metavar="NAME|DIR",
                   help="also bench presslens on this model, its rows beside the default's (default: the accurate "
                        "profile, skipped with the reason where its weights are not installed; '' to skip)")
    p.add_argument("--no-profile", action="store_true", help="skip the per-stage profile of a served request")


def _sources(ns: argparse.Namespace) -> list[Path]:
    paths = [Path(p) for p in ns.articles] if ns.articles else seed_sources()
    if not paths:
        raise BenchError(f"no seed articles found under {REPO_ROOT / 'tests/fixtures'}; pass --articles FILE...")
    for p in paths:
        if not p.is_file():
            raise BenchError(f"{p}: no such file")
    return paths


def _precision_setting() -> str:
    from presslens.model.runtime.onnx import precision_setting
    from presslens.model.settings import SettingsError

    try:
        return precision_setting()
    except SettingsError as exc:
        raise BenchError(str(exc)) from None


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on Linux
        return None


def _read_texts(ns: argparse.Namespace) -> tuple[list[Path], list[str]]:
    sources = _sources(ns)
    texts = []
    for p in sources:
        try:
            texts.append(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise BenchError(f"{p}: cannot read as UTF-8 text ({exc})") from None
    return sources, texts


def _compute_floor(model_dir: str, mix: list[dict], matmul_seconds: float) -> dict:
    from presslens.model.stance import StanceModel

    encoder = StanceModel.from_pretrained(model_dir).encoder  # a bad --model fails here, before any server
    cost = encoder_cost(encoder, mix)
    del encoder
    print("measuring the fp32 matmul rate ...", file=sys.stderr)
    mm = matmul_gflops(cost.hidden, seconds=matmul_seconds)
    flops_per_article = cost.flops / len(mix)
    return {
        "by_precision": bp.precision_floors(flops_per_article, cost.hidden, matmul_seconds),
        "articles_per_s": mm["gflops"] * 1e9 / flops_per_article, "matmul_gflops": mm["gflops"],
        "matmul_by_shape": mm["by_shape"], "torch_threads": mm["threads"], "flops_per_article": flops_per_article,
        "tokens_per_article": cost.tokens / len(mix), "sentences_per_article": cost.sentences / len(mix),
        "encoder_params_nonembedding": cost.params_nonembedding, "encoder_layers": cost.layers,
        "encoder_hidden": cost.hidden, "max_length": cost.max_length,
    }


def _requests_for(ns: argparse.Namespace, limit: int | None) -> dict[str, object]:
    def cap(n: int) -> int:
        return min(n, limit) if limit else n

    return {"presslens": lambda c: cap(ns.requests or max(64, 2 * c)),
            bp.ACCURATE: lambda c: cap(ns.requests or max(64, 2 * c)),
            "naive": lambda c: cap(ns.naive_requests or max(32, c)),
            "competent": lambda c: cap(ns.competent_requests or max(48, c))}


def _servers(ns: argparse.Namespace, out: Path, accurate_dir: str | None = None) -> list[ServerProcess]:
    model_args = ["--model", ns.model] if ns.model else []
    servers = []
    for name, module in PEERS + (((bp.ACCURATE, "presslens.api.cli serve"),) if accurate_dir else ()):
        if name == bp.ACCURATE:
            model_args = ["--model", accurate_dir]
        port = free_port()
        servers.append(ServerProcess(name, serve_command(port, model_args, module), port,
                                     out / "logs" / f"{name}-server.log"))
    return servers


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _agreement(a: dict[str, str], b: dict[str, str]) -> float | None:
    common = sorted(set(a) & set(b))
    return sum(a[k] == b[k] for k in common) / len(common) if common else None


def _summarize(systems: dict[str, dict], floor: dict, mix: list[dict], ns: argparse.Namespace) -> dict:
    pl = systems["presslens"]
    best = {name: max(v["articles_per_s"] for v in s["levels"].values()) for name, s in systems.items()}
    floor_aps = floor["articles_per_s"]
    peers = [name for name in systems if name != "presslens"]
    result = {f"speedup_vs_{peer}": _ratio(best["presslens"], best[peer]) for peer in peers}
    result.update({
        "fraction_of_floor": _ratio(best["presslens"], floor_aps),
        "rss_mb": pl["rss_mb"],
        "cold_start_s": pl["cold_start_s"],
        **{f"{peer}_{k}": systems[peer][k] for peer in peers for k in ("rss_mb", "cold_start_s")},
        "best_articles_per_s": best,
        "fraction_of_floor_by_system": {name: _ratio(v, floor_aps) for name, v in best.items()},
        "speedup_by_concurrency": {
            peer: {c: _ratio(pl["levels"][c]["articles_per_s"], systems[peer]["levels"][c]["articles_per_s"])
                   for c in pl["levels"]}
            for peer in peers
        },
        "levels": {name: s["levels"] for name, s in systems.items()},
        "floor": floor,
        "mix": {"articles": len(mix), "target_words": list(ns.lengths),
                "words": {a["id"]: a["words"] for a in mix}},
        # Same checkpoint, same result object: every server should label the mix the same way.
        "label_agreement": {peer: _agreement(pl["labels"], systems[peer]["labels"]) for peer in peers},
    })
    return result


def served_floor(result: dict) -> dict:
    """The precision presslens served and its articles/s over that precision's floor (``fraction_of_served_floor``;
    ``fraction_of_floor`` stays the fp32 floor's, beside it). None where that floor was not measured."""
    precision = ((result.get("runtime") or {}).get("precision") or {}).get("precision", "fp32")
    floor = result["floor"]
    aps = floor["articles_per_s"] if precision == "fp32" else \
        (floor.get("by_precision", {}).get(precision) or {}).get("articles_per_s")
    best = result["best_articles_per_s"]["presslens"]
    return {"precision": precision, "served_floor_articles_per_s": aps,
            "fraction_of_served_floor": _ratio(best, aps) if aps else None}


def _served_line(r: dict) -> str:
    share = r.get("fraction_of_served_floor")
    served = (f"{share:.1%} of its floor ({r['served_floor_articles_per_s']:.2f} articles/s)" if share is not None
              else "its floor was not measured")
    fp32 = r.get("fraction_of_floor")
    return (f"- Served precision **{r.get('precision', 'fp32')}**: {served}"
            + (f"; {fp32:.1%} of the fp32 floor." if fp32 is not None else "."))


def _plot(result: dict, path: Path) -> None:
    systems = result["levels"]
    levels = [int(c) for c in systems["presslens"]]
    label = {name: name if name == "presslens" else f"{name} peer" for name in systems}
    plot_throughput(levels, {label[n]: [s[str(c)]["articles_per_s"] for c in levels] for n, s in systems.items()},
                    path, latency_p95_ms={label[n]: [s[str(c)]["p95_ms"] for c in levels] for n, s in systems.items()},
                    floor=result["floor"]["articles_per_s"], title="presslens vs its peers: throughput")


def run_bench(ns: argparse.Namespace) -> dict:
    from presslens.model.profiles import resolve_stance
    from presslens.model.settings import current

    started = time.time()
    out = Path(ns.out)
    out.mkdir(parents=True, exist_ok=True)
    limit = ns.limit or (8 if ns.quick else None)
    level_seconds = min(ns.level_seconds, 30.0) if ns.quick else ns.level_seconds
    sources, texts = _read_texts(ns)
    mix = build_article_mix(texts, ns.lengths)
    model_dir = str(resolve_stance(ns.model))  # a profile name or a directory
    floor = _compute_floor(model_dir, mix, ns.matmul_seconds)
    runtime_setting, precision = current().runtime, _precision_setting()
    runtime = bp.prepare_runtime(model_dir, runtime_setting, precision, ns.gate_dev)
    accurate_dir, accurate_skip = bp.accurate_target(ns.accurate_model)
    accurate = {"skipped": accurate_skip} if accurate_skip else {
        "model": accurate_dir, "floor": bp.model_floor(accurate_dir, mix, floor),
        "runtime": bp.prepare_runtime(accurate_dir, runtime_setting, precision, ns.gate_dev)}
    load_before = _loadavg()
    systems = bench_systems(_servers(ns, out, accurate_dir), mix, ns.concurrency, _requests_for(ns, limit),
                            startup_timeout=ns.startup_timeout, level_seconds=level_seconds,
                            request_timeout=ns.request_timeout)
    load_after = _loadavg()
    if accurate_dir:
        accurate.update({k: systems[bp.ACCURATE][k] for k in ("levels", "rss_mb", "cold_start_s")})
        accurate["best_articles_per_s"] = max(v["articles_per_s"] for v in accurate["levels"].values())
        accurate["fraction_of_floor"] = _ratio(accurate["best_articles_per_s"], accurate["floor"]["articles_per_s"])
    systems.pop(bp.ACCURATE, None)
    result = _summarize(systems, floor, mix, ns)
    result["model"] = model_dir
    result["runtime"] = runtime
    result.update(served_floor(result))
    result["accurate"] = accurate
    result["cpu"] = bp.cpu_dict()
    if not ns.no_profile:
        result["profile"] = bp.run_profile(model_dir, mix, ns.concurrency,
                                           {c: v["articles_per_s"] for c, v in result["levels"]["presslens"].items()},
                                           runtime_setting, precision)
    result["bars_met"] = bars_met(result)
    # Other work on the machine skews every number here; the 1-minute load average says how much.
    result["machine_load_1m"] = {"before": load_before, "after": load_after}
    write_json(out / "bench.json", result, digits=4)
    write_text(out / "report.md", bench_report_md(result))
    _plot(result, out / "throughput.png")
    write_run_info(out, sources, ns.seed, started, extra={"model": model_dir, "command": "bench"})
    return result


#: the bars the issue set (#15); the report says which this run met, so a rerun explains itself
BARS = {"speedup_vs_naive": (">=", 4.0), "speedup_vs_competent": (">=", 2.0), "fraction_of_floor": (">=", 0.5),
        "fraction_of_served_floor": (">=", 0.6),  # issue #27: against the floor of the precision served
        "rss_mb": ("<=", 500.0), "cold_start_s": ("<=", 2.0)}  # issue #22


def bars_met(r: dict) -> dict[str, bool | None]:
    """Each bar in ``BARS``: met (True), missed (False) or not measured (None)."""
    out = {}
    for key, (op, bound) in BARS.items():
        v = r.get(key)
        out[key] = None if v is None else (v >= bound if op == ">=" else v <= bound)
    return out


def _side_by_side(r: dict) -> list[str]:
    """One row per system and the floor: best articles/s, presslens's speedup over it, share of the floor."""
    fl, best = r["floor"], r["best_articles_per_s"]
    rows = []
    for name, aps in best.items():
        peer = name != "presslens"
        rows.append([name if not peer else f"{name} peer", f"{aps:.2f}",
                     f"{r[f'speedup_vs_{name}']:.2f}x" if peer and r.get(f"speedup_vs_{name}") else "-",
                     f"{r['fraction_of_floor_by_system'][name]:.1%}",
                     r["rss_mb"] if not peer else r[f"{name}_rss_mb"],
                     f"{(r['cold_start_s'] if not peer else r[f'{name}_cold_start_s']):.1f}"])
    rows.append(["compute floor (fp32 GEMM rate)", f"{fl['articles_per_s']:.2f}",
                 f"{best['presslens'] / fl['articles_per_s']:.2f}x", "100%", "-", "-"])
    for p, v in fl.get("by_precision", {}).items():
        if "articles_per_s" in v:
            rows.append([f"compute floor ({p} GEMM rate)", f"{v['articles_per_s']:.2f}",
                         f"{best['presslens'] / v['articles_per_s']:.2f}x", f"{v['articles_per_s'] / fl['articles_per_s']:.0%}",
                         "-", "-"])
    acc = r.get("accurate") or {}
    if "best_articles_per_s" in acc:
        rows.append([f"presslens, accurate profile ({acc['runtime']['precision'].get('precision', 'fp32')})",
                     f"{acc['best_articles_per_s']:.2f}", "-",
                     f"{acc['fraction_of_floor']:.1%} of its own fp32 floor ({acc['floor']['articles_per_s']:.2f})",
                     acc["rss_mb"], f"{acc['cold_start_s']:.1f}"])
    return [markdown_table(["system", "best articles/s", "presslens speedup over it", "share of the floor",
                            "peak RSS MiB", "cold start s"], rows)]


def bench_report_md(r: dict) -> str:
    fl = r["floor"]
    met = bars_met(r)
    runtime = r.get("runtime") or {}
    agreement = ", ".join(f"{peer} {v:.0%}" if v is not None else f"{peer} n/a"
                          for peer, v in r["label_agreement"].items())
    lines = [
        "# presslens benchmark", "",
        *_side_by_side(r), "",
        "Bars (issue #22): " + ", ".join(
            f"`{k}` {BARS[k][0]} {BARS[k][1]:g}: " + ("met" if ok else "not met" if ok is False else "n/a")
            for k, ok in met.items()) + ".",
        "",
        f"- presslens encoder runtime: {runtime.get('encoder', 'torch')}"
        + (f" ({runtime.get('graph')} graph; fused {', '.join(f'{k} {v}' for k, v in sorted((runtime.get('fused') or {}).items()))}; "
           f"max embedding difference from torch on the probes {runtime.get('probe_max_abs_diff', float('nan')):.1e})"
           if runtime.get("encoder") == "onnx" else "") + ".",
        *bp.precision_lines(r),
        _served_line(r),
        f"- Compute floor on this machine: {fl['articles_per_s']:.2f} articles/s "
        f"({fl['flops_per_article'] / 1e9:.2f} GFLOP per article at {fl['matmul_gflops']:.1f} GFLOP/s fp32).",
        f"- Label agreement of each peer with presslens on the mix: {agreement}.",
        f"- 1-minute load average on the machine before/after: {r['machine_load_1m']['before']} / "
        f"{r['machine_load_1m']['after']} (other work on a shared machine skews every number; on 2 cores "
        "anything above about 2 means the systems were timed while sharing the CPU).",
        "", "## Throughput and latency", "",
    ]
    rows = []
    for system, levels in r["levels"].items():
        for c, v in levels.items():
            rows.append([system, c, f"{v['articles_per_s']:.2f}", f"{v['p50_ms']:.0f}", f"{v['p95_ms']:.0f}",
                         f"{v['ok']}/{v['requests']}", v["rejected_503"]])
    acc_levels = (r.get("accurate") or {}).get("levels") or {}
    for c, v in acc_levels.items():
        rows.append(["presslens (accurate)", c, f"{v['articles_per_s']:.2f}", f"{v['p50_ms']:.0f}", f"{v['p95_ms']:.0f}",
                     f"{v['ok']}/{v['requests']}", v["rejected_503"]])
    lines.append(markdown_table(["system", "concurrency", "articles/s", "p50 ms", "p95 ms", "ok/sent",
                                 "503 retries"], rows))
    lines += [
        "![throughput](throughput.png)", "",
        *(bp.profile_section(r["profile"]) if r.get("profile") else []),
        "## Method", "",
        f"- Mix: {r['mix']['articles']} articles built from the seed texts, target lengths "
        f"{', '.join(map(str, r['mix']['target_words']))} words "
        f"({fl['sentences_per_article']:.1f} sentences, {fl['tokens_per_article']:.0f} encoder tokens per article "
        "on average); one article per request, the mix repeated in order at every level, levels alternating "
        "between the systems.",
        "- presslens: `python -m presslens.api.cli serve` on 127.0.0.1 (batching queue; the encoder on "
        f"{runtime.get('encoder', 'torch')}). Naive peer: `python -m presslens.eval.naive_server` (same checkpoint and "
        "result, synchronous route, each sentence through the plain transformers forward alone). Competent peer: "
        "`python -m presslens.eval.competent_server` (same checkpoint, head and result; sentence-transformers `encode` of "
        "each request's sentences in one call, synchronous FastAPI route).",
        "- Cold start: process start until `/readyz` answers 200, with the runtime export already built "
        "(`presslens prepare`, run by `make install`; this run prepared it first). RSS: VmHWM (peak) of each "
        "server process and its children after the run.",
        f"- Floor: 2 x {fl['encoder_params_nonembedding']:,} non-embedding parameters x tokens + attention "
        f"(4 x {fl['encoder_layers']} layers x {fl['encoder_hidden']} x length^2 per sentence), padding excluded, "
        f"divided by the best fp32 `torch.mm` rate measured in this run ({fl['torch_threads']} threads).",
        "- Latency is per request, client side, including any 503 retry waits.",
    ]
    return "\n".join(lines) + "\n"


def run(ns: argparse.Namespace) -> int:
    try:
        result = run_bench(ns)
    except (BenchError, ServerStartError, LoadError) as exc:
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({**{k: result.get(k) for k in BARS}, "bars_met": bars_met(result)}, indent=2))
    print(f"report written to {ns.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="presslens bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
