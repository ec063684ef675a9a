"""Choose the summarizer's recipe on several sets at once (issue #23), never on one.

For each recipe below: ``presslens train summarizer`` with 5-fold cross-validation on the writers dev half
(the cross-validated ROUGE is printed into the checkpoint's config), then ``presslens eval summarize`` with
that checkpoint on SumLLM ``gpt4/val`` and NeuS ``val`` (both never trained on: gpt4/val is excluded from the
SumLLM pool, NeuS val is not NeuS train). Each step is skipped when its output exists, so a rerun resumes.
It ends with one table: per set, presslens minus the best lead baseline (ROUGE-1 / ROUGE-2), the dangling
share, and the smallest ROUGE-1 margin over the three sets, the number to choose by. NeuS test stays the
test: run it once, on the chosen recipe only.

    python scripts/summ_recipes.py --data ../shared/data --cache-dir ../cache/summ --work runs/summ-recipes
    python scripts/summ_recipes.py ... --only shipped,pool-w6     # some recipes
    python scripts/summ_recipes.py ... --table                    # the table of what has run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

WRITERS = "llm_news_summ_benchmark_writers/writer_summaries_dev.json"
# name -> extra `presslens train summarizer` options (the writers source and --cv 5 --c 0.1 are always given)
RECIPES: dict[str, list[str]] = {
    "shipped": ["--cluster-data", "neus:{data}/neus_allsides_mds/train.source", "--cluster-limit", "400"],
    # the writers plus SumLLM CNN/DM (gpt4/val excluded), the writers weighted up so 50 articles are not
    # swamped by the pool; the pool is cut to its first 15 sentences per article to bound embedding time
    "pool-w6": ["--data", "sumllm:{data}/sumllm_cnndm", "--data-weight", "6", "--data-weight", "1",
                "--limit", "300", "--max-sentences", "15", "--exclude", "sumllm:{data}/sumllm_cnndm/gpt4/val.jsonl",
                "--cluster-data", "neus:{data}/neus_allsides_mds/train.source", "--cluster-limit", "400"],
    "pool-w2": ["--data", "sumllm:{data}/sumllm_cnndm", "--data-weight", "2", "--data-weight", "1",
                "--limit", "300", "--max-sentences", "15", "--exclude", "sumllm:{data}/sumllm_cnndm/gpt4/val.jsonl",
                "--cluster-data", "neus:{data}/neus_allsides_mds/train.source", "--cluster-limit", "400"],
}
EVALS = {"gpt4-val": ["--format", "sumllm", "--data", "{data}/sumllm_cnndm/gpt4/val.jsonl"],
         "neus-val": ["--format", "neus", "--data", "{data}/neus_allsides_mds/val.source"]}
LEADS = ("lead3", "lead1_each", "lead_round_robin")


def _cli(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "presslens.api.cli", *args]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def run(name: str, ns: argparse.Namespace) -> None:
    work = Path(ns.work) / name
    fill = lambda items: [a.format(data=ns.data) for a in items]  # noqa: E731
    summ = work / "summarizer"
    if not (summ / "config.json").is_file():
        _cli(["train", "summarizer", "--data", f"writers:{ns.data}/{WRITERS}", "--cv", "5", "--c", "0.1",
              "--cache-dir", ns.cache_dir, *fill(RECIPES[name]), "--out", str(summ)])
    for ev, args in EVALS.items():
        if not (work / ev / "metrics.json").is_file():
            _cli(["eval", "summarize", *fill(args), "--summarizer", str(summ), "--no-oracle",
                  "--cache-dir", ns.cache_dir, "--out", str(work / ev)])


def row(name: str, work: Path) -> list[str] | None:
    cfg = work / name / "summarizer" / "config.json"
    if not cfg.is_file():
        return None
    cv = json.loads(cfg.read_text())["training"].get("cv", {})
    cells, margins = [], []
    if cv:
        d1 = cv["presslens"]["rouge1"] - cv["lead"]["rouge1"]
        d2 = cv["presslens"]["rouge2"] - cv["lead"]["rouge2"]
        cells.append(f"{d1:+.2f} / {d2:+.2f}")
        margins.append(d1)
    else:
        cells.append("-")
    for ev in EVALS:
        path = work / name / ev / "metrics.json"
        if not path.is_file():
            cells.append("-")
            continue
        m = json.loads(path.read_text())
        sysm = m["systems"]
        lead = max((s for s in LEADS if s in sysm), key=lambda s: sysm[s]["rouge1"]["value"])
        d1 = sysm["presslens"]["rouge1"]["value"] - sysm[lead]["rouge1"]["value"]
        d2 = sysm["presslens"]["rouge2"]["value"] - sysm[lead]["rouge2"]["value"]
        share = m.get("coherence", {}).get("presslens", {}).get("dangling_share")
        cells.append(f"{d1:+.2f} / {d2:+.2f} (vs {lead}; dangling {share})")
        margins.append(d1)
    worst = f"{min(margins):+.2f}" if len(margins) == 1 + len(EVALS) else "-"
    return [name, *cells, worst]


def table(ns: argparse.Namespace) -> str:
    head = ["recipe", "writers dev 5-fold CV, R1 / R2 over Lead-3", *[f"{ev}, R1 / R2 over the best lead" for ev in EVALS],
            "smallest R1 margin"]
    rows = [r for r in (row(n, Path(ns.work)) for n in RECIPES) if r]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data", help="the shared data directory")
    p.add_argument("--cache-dir", default="../cache/summ", help="embedding caches (per encoder checksum)")
    p.add_argument("--work", default="runs/summ-recipes", help="one directory per recipe")
    p.add_argument("--only", default="", help="comma-separated recipe names (default: all)")
    p.add_argument("--table", action="store_true", help="only print the table of what has run")
    ns = p.parse_args(argv)
    names = [n for n in ns.only.split(",") if n] or list(RECIPES)
    unknown = set(names) - set(RECIPES)
    if unknown:
        p.error(f"unknown recipes {sorted(unknown)}; known: {', '.join(RECIPES)}")
    if not ns.table:
        for name in names:
            run(name, ns)
    print(table(ns))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
