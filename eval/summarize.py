"""``presslens eval summarize``: ROUGE of presslens summaries and baselines against human references.

ROUGE is rouge-score with the Porter stemmer; F-measures x100; for several references the best score per
document; ``rougeLsum`` compares newline-separated sentences (candidate sentences as selected, references
split with the same segmenter the articles use). Scores are averaged over documents.

Systems, single articles (``writers``, ``newts``, ``jsonl``): ``presslens`` (the shipped or given scorer,
MMR), ``prior`` (the same selection with the untrained prior weights), ``lead3`` (the first N body
sentences), ``centroid`` (top N by similarity to the article centroid) and ``oracle`` (greedy ROUGE-1/2
oracle, an upper bound). Clusters (``neus``): ``presslens`` is the coverage event summary;
``lead3`` takes the first N sentences of the first article, ``lead1_each`` the first sentence of each
article, ``lead_round_robin`` the articles' first sentences, then second ones, up to N.

Writes ``metrics.json`` (systems at the top level, each ``rouge1``/``rouge2``/``rougeLsum``; sorted keys,
two decimals), ``report.md``, ``per_document.jsonl``, ``rouge.png`` and ``run.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

SYSTEMS_SINGLE = ("presslens", "prior", "lead3", "centroid", "oracle")
SYSTEMS_CLUSTER = ("presslens", "lead3", "lead1_each", "lead_round_robin", "oracle")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.summ_data import SUMM_FORMATS

    parser.add_argument("--data", required=True, metavar="PATH",
                        help="references: writers JSON, NeuS .source/.target (or DIR:split), NEWTS CSV, or jsonl")
    parser.add_argument("--format", required=True, choices=SUMM_FORMATS)
    parser.add_argument("--out", required=True, metavar="DIR", help="report directory")
    parser.add_argument("--sentences", type=int, default=3, help="summary budget in sentences (default 3)")
    parser.add_argument("--words", type=int, default=None, help="also cap the presslens summary at N words")
    parser.add_argument("--summarizer", default=None, metavar="DIR", help="summarizer checkpoint (default: shipped)")
    parser.add_argument("--encoder", default="default", help="sentence encoder (default: the packaged MiniLM)")
    parser.add_argument("--limit", type=int, default=0, help="evaluate the first N documents only")
    parser.add_argument("--no-oracle", action="store_true", help="skip the greedy oracle")


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("presslens", "torch", "transformers", "numpy", "rouge-score", "scikit-learn", "pysbd"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _data_files(path: str, fmt: str) -> list[Path]:
    if fmt == "neus":
        from training.summ_data import _neus_paths

        return list(_neus_paths(path))
    return [Path(path)]


def lead(sentences: list[str], n: int) -> list[str]:
    return sentences[:n]


def lead_round_robin(per_article: list[list[str]], n: int) -> list[str]:
    out: list[str] = []
    depth = 0
    while len(out) < n and any(depth < len(s) for s in per_article):
        out.extend(s[depth] for s in per_article if depth < len(s) and len(out) < n)
        depth += 1
    return out


def evaluate(docs, *, sentences: int, words: int | None, summarizer_dir: str | None, encoder_ref: str,
             oracle: bool = True, log: Callable[[str], None] = lambda m: None) -> tuple[dict, list[dict]]:
    """Mean ROUGE per system over ``docs`` and per-document rows."""
    from model.coverage import event_summary
    from model.encoder import Encoder
    from model.pipeline import default_summarizer_path
    from model.summarizer import ExtractiveSummarizer, body_indices
    from training.summ_data import NgramOracle, Rouge, reference_lines
    from training.summarizer import doc_articles, embed_all

    sdir = Path(summarizer_dir) if summarizer_dir else default_summarizer_path()
    summ = ExtractiveSummarizer.from_pretrained(sdir) if (sdir / "config.json").is_file() or summarizer_dir \
        else ExtractiveSummarizer()
    prior = ExtractiveSummarizer()
    encoder = Encoder(encoder_ref)
    rouge, ngram = Rouge(), NgramOracle()
    t0 = time.time()
    per_doc = [doc_articles(d) for d in docs]
    embs = embed_all(encoder, [a for arts in per_doc for a in arts])
    log(f"embedded {len(embs)} articles in {time.time() - t0:.0f}s")
    rows, pos = [], 0
    for doc, arts in zip(docs, per_doc, strict=True):
        e = embs[pos:pos + len(arts)]
        pos += len(arts)
        refs = [reference_lines(r) for r in doc.references]
        bodies = [[a.sentences[i].text for i in body_indices(a)] for a in arts]
        outputs: dict[str, list[str]] = {}
        if len(arts) == 1:
            a, em = arts[0], e[0]
            outputs["presslens"] = [s.text for s in summ.summarize(a, em, max_sentences=sentences, max_words=words)]
            outputs["prior"] = [s.text for s in prior.summarize(a, em, max_sentences=sentences, max_words=words)]
            outputs["lead3"] = lead(bodies[0], sentences)
            body = body_indices(a)
            if body:
                b = em[body]
                c = b.mean(0)
                top = sorted(np.argsort(-(b @ c))[:sentences])
                outputs["centroid"] = [bodies[0][k] for k in top]
            else:
                outputs["centroid"] = []
        else:
            cov = event_summary(arts, e, summ, max_sentences=sentences, max_words=words)
            outputs["presslens"] = [s.text for s in cov]
            outputs["lead3"] = lead(bodies[0], sentences)
            outputs["lead1_each"] = [b[0] for b in bodies if b][:max(sentences, len(bodies))]
            outputs["lead_round_robin"] = lead_round_robin(bodies, sentences)
        if oracle:
            flat = [s for b in bodies for s in b]
            outputs["oracle"] = [flat[i] for i in ngram.greedy(flat, doc.references, k=sentences)]
        row = {"id": doc.id, "systems": {}}
        for name, sents in outputs.items():
            sc = rouge.score(sents, refs)
            row["systems"][name] = {k: round(v, 4) for k, v in sc.items()} | {"sentences": len(sents),
                                                                              "words": sum(len(s.split()) for s in sents)}
        rows.append(row)
    names = list(rows[0]["systems"]) if rows else []
    metrics = {}
    for name in names:
        metrics[name] = {t: round(float(np.mean([r["systems"][name][t] for r in rows])), 2)
                         for t in ("rouge1", "rouge2", "rougeLsum")}
        metrics[name]["words"] = round(float(np.mean([r["systems"][name]["words"] for r in rows])), 1)
    log(f"scored {len(rows)} documents in {time.time() - t0:.0f}s")
    return metrics, rows


def _plot(metrics: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(metrics)
    types = ("rouge1", "rouge2", "rougeLsum")
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.6))
    for j, t in enumerate(types):
        ax.bar(x + (j - 1) * 0.27, [metrics[n][t] for n in names], width=0.27, label=t)
    ax.set_xticks(x, names)
    ax.set_ylabel("F x100")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(ns: argparse.Namespace) -> int:
    from training.data import DataError
    from training.summ_data import load_summ

    if ns.sentences < 1:
        raise DataError("--sentences must be at least 1")
    if ns.words is not None and ns.words < 1:
        raise DataError("--words must be at least 1")
    docs = load_summ(ns.data, ns.format)
    if ns.limit:
        docs = docs[: ns.limit]
    out = Path(ns.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{out}: cannot create the report directory: {exc.strerror}") from exc
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    metrics, rows = evaluate(docs, sentences=ns.sentences, words=ns.words, summarizer_dir=ns.summarizer,
                             encoder_ref=ns.encoder, oracle=not ns.no_oracle, log=log)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    with open(out / "per_document.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
    cluster = any(d.is_cluster for d in docs)
    run_info = {
        "command": "presslens " + " ".join(sys.argv[1:]), "git_commit": _git_commit(), "versions": _versions(),
        "data": {str(p): _sha256(p) for p in _data_files(ns.data, ns.format)}, "format": ns.format,
        "documents": len(docs), "references": sum(len(d.references) for d in docs), "clusters": cluster,
        "sentences": ns.sentences, "words": ns.words, "summarizer": ns.summarizer or "shipped",
        "encoder": ns.encoder, "seed": None,
        "rouge": "rouge-score, use_stemmer=True, F x100, best over references; rougeLsum on newline-split sentences",
    }
    (out / "run.json").write_text(json.dumps(run_info, indent=2, sort_keys=True) + "\n")
    title = f"{ns.format}: {len(docs)} {'clusters' if cluster else 'articles'}, {ns.sentences}-sentence budget"
    _plot(metrics, out / "rouge.png", title)
    lines = [f"# Summarization ROUGE: {title}", "",
             "ROUGE F x100 (rouge-score, stemming, best over references; rougeLsum on newline-split sentences).",
             "", "| system | ROUGE-1 | ROUGE-2 | ROUGE-Lsum | words |", "|---|---:|---:|---:|---:|"]
    for name, m in metrics.items():
        lines.append(f"| {name} | {m['rouge1']:.2f} | {m['rouge2']:.2f} | {m['rougeLsum']:.2f} | {m['words']:.1f} |")
    if "presslens" in metrics and "lead3" in metrics:
        d1 = metrics["presslens"]["rouge1"] - metrics["lead3"]["rouge1"]
        d2 = metrics["presslens"]["rouge2"] - metrics["lead3"]["rouge2"]
        lines += ["", f"presslens - lead3: ROUGE-1 {d1:+.2f}, ROUGE-2 {d2:+.2f}."]
    lines += ["", "![ROUGE](rouge.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0
