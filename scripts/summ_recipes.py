"""Choose the summarizer's recipe by its worst source (issue #28), and build the chosen one.

Sources for choosing (each one both trains and is scored, by a joint K-fold cross-validation;
``training/summ_cv.py``): the writer summaries (dev half, less the unseen part), SumLLM CNN/DM (the
training pool: gpt4/val, its gpt3 twin and every article of another evaluation set excluded by key and text
hash), NEWTS (topic-focused references on CNN/DM) and the NeuS train clusters (the coverage summary).
Never looked at while choosing: the unseen writer articles, SumLLM gpt4/val and NeuS test; ``--final``
scores the first of them in-process and ``make default-summarizer`` the other two with ``presslens eval
summarize``.

    python scripts/summ_recipes.py --data ../shared/data --cache-dir ../cache/summ --work runs/summ-recipes
    python scripts/summ_recipes.py ... --only "prior;balanced"       # some recipes
    python scripts/summ_recipes.py ... --only candidates --final model/weights/summarizer   # choose, build
    python scripts/summ_recipes.py ... --curve                     # margin against SumLLM training articles

Results are kept in ``WORK/results-<tag>.json``, one file per encoder checksum and source sizes (a rerun
computes only the recipes not in it); embeddings are cached per encoder checksum in ``--cache-dir``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from presslens.model.summarizer import ExtractiveSummarizer, ScorerConfig, fit_keys_of
from presslens.training.summ_cv import (
    BASE_FEATURES,
    Recipe,
    choosing_sources,
    cross_validate,
    dumps,
    fit_recipe,
    prepare_source,
    score_units,
    summary_row,
    sweep,
    table,
)
from presslens.training.summarizer import EmbeddingCache, load_encoder

ALL4 = (("writers", 0.25), ("sumllm", 0.25), ("newts", 0.25))
# name -> recipe. `make default-summarizer` cross-validates the CANDIDATES and builds the one with the best
# smallest ROUGE-1 margin over the lead across sources (ties: ROUGE-2); the prior is one of them, so training
# ships only where it pays. `make summ-recipes` runs every recipe (the ablations too) and the learning curve.
RECIPES: dict[str, Recipe] = {
    "prior": Recipe(mix=0.0, multi_mix=0.0),
    "balanced": Recipe(shares=ALL4),
    "balanced, mix 0.5": Recipe(shares=ALL4, mix=0.5, multi_mix=0.5),
    "balanced, mix 0.25": Recipe(shares=ALL4, mix=0.25, multi_mix=0.25),
    "writers 0.5": Recipe(shares=(("writers", 0.5), ("sumllm", 0.25), ("newts", 0.25))),
    "sumllm 0.5": Recipe(shares=(("writers", 0.25), ("sumllm", 0.5), ("newts", 0.25))),
    "balanced, c 0.01": Recipe(shares=ALL4, c=0.01),
    # Grenander et al. 2019: half the target is each sentence's own ROUGE, beside the oracle's 0/1
    "balanced, soft labels": Recipe(shares=ALL4, soft=0.5),
    # ablations: what the lead features and the other sources bring
    "balanced, no lead features": Recipe(features=BASE_FEATURES, shares=ALL4),
    "writers only": Recipe(shares=(("writers", 1.0),)),
    "old recipe (writers only, no lead features)": Recipe(features=BASE_FEATURES, shares=(("writers", 1.0),)),
    "no newts": Recipe(shares=(("writers", 0.5), ("sumllm", 0.5))),
}
CANDIDATES = ("prior", "balanced", "balanced, mix 0.5", "balanced, mix 0.25", "writers 0.5", "sumllm 0.5",
              "balanced, soft labels")


def prepare(ns: argparse.Namespace, log) -> tuple[list, object]:
    encoder, key, commentary = load_encoder("serving", ns.model or None)
    cache = EmbeddingCache(EmbeddingCache.file_in(ns.cache_dir, key), key)
    docs = choosing_sources(ns.data, writers=ns.writers, sumllm=ns.sumllm, newts=ns.newts, neus=ns.neus)
    log(", ".join(f"{k} {len(v)}" for k, v in docs.items()))
    sources = {}
    for name, items in docs.items():
        t0 = time.time()
        sources[name] = prepare_source(name, items, encoder, commentary, cache, cluster=(name == "neus"), log=log)
        log(f"  {name}: {len(items)} documents featurised in {time.time() - t0:.0f}s "
            f"(best lead: {sources[name].lead_name})")
    return sources, (encoder, key, commentary)


def curve(sources: dict, recipe: Recipe, sizes: list[int], log) -> list[dict]:
    """Every source's cross-validated margin against the number of SumLLM articles the scorer may train on
    (the others unchanged; every SumLLM article is still scored)."""
    out = []
    srcs = [sources[k] for k in ("writers", "sumllm", "newts", "neus")]
    for n in sizes:
        res = cross_validate(srcs, recipe, train_limit={"sumllm": n})
        out.append({"sumllm_articles": n, "sources": res})
        log(f"sumllm {n}: " + ", ".join(f"{k} {v['rouge1']['margin']:+.2f}" for k, v in res.items()))
    return out


def final(ns: argparse.Namespace, sources: dict, results: dict, encoder, name: str) -> None:
    """Fit the recipe on all choosing sources, save it, and score the unseen writer articles."""
    recipe = RECIPES[name]
    train = [sources[k] for k in ("writers", "sumllm", "newts", "neus")]
    single, multi = fit_recipe(train, recipe)
    unseen = sources["writers-unseen"]
    held = summary_row(unseen, score_units(unseen, single, range(len(unseen.units))))
    training = {"command": "python " + " ".join(sys.argv), "recipe": recipe.to_dict(), "recipe_name": name,
                "chosen_among": {n: results[n]["worst_rouge1"] for n in ns.names},
                "cv": results.get(name, {}).get("sources"), "writers_unseen": held,
                "documents": {k: len(v.units) for k, v in sources.items()},
                "encoder": f"serving ({encoder[1]})", "scorer": "linear", "sentences": 3}
    config = ScorerConfig(single=single, multi=multi, training=training, encoder_checksum=encoder[0].checksum(),
                          **fit_keys_of(encoder[2]))  # the head, decision and support cosine it was fitted to
    path = ExtractiveSummarizer(config).save_pretrained(ns.final, card=card(training))
    print(f"wrote {path}; unseen writer articles: {json.dumps(held)}", file=sys.stderr)


def card(t: dict) -> str:
    return "\n".join([
        "# presslens extractive summarizer scorer", "",
        "Logistic regression over hand-built features (`model/summarizer.py` FEATURES, the lead ones included),",
        "on greedy ROUGE-1/2 oracle labels, blended with the hand-set prior; chosen by the smallest",
        "cross-validated ROUGE-1 margin over the lead across sources (`scripts/summ_recipes.py`).", "",
        f"- command: `{t['command']}`", f"- recipe: `{json.dumps(t['recipe'], sort_keys=True)}`",
        f"- documents: {json.dumps(t['documents'], sort_keys=True)}", f"- encoder: {t['encoder']}",
        f"- cross-validation per source: `{json.dumps(t['cv'], sort_keys=True)}`",
        f"- unseen writer articles: `{json.dumps(t['writers_unseen'], sort_keys=True)}`", ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data", help="the shared data directory")
    p.add_argument("--cache-dir", default="../cache/summ", help="embedding caches (per encoder checksum)")
    p.add_argument("--work", default="runs/summ-recipes", help="results.json and the curve go here")
    p.add_argument("--model", default="", help="stance checkpoint whose encoder the features read (default: shipped)")
    p.add_argument("--only", default="", help="';'-separated recipe names, or 'candidates' (default: all); the best "
                                         "of them by the smallest margin is --final's and --curve's")
    p.add_argument("--writers", type=int, default=0, help="at most N writer articles per part (0: all; for smoke runs)")
    p.add_argument("--sumllm", type=int, default=100, help="SumLLM pool articles (default 100)")
    p.add_argument("--newts", type=int, default=60, help="NEWTS articles (default 60)")
    p.add_argument("--neus", type=int, default=100, help="NeuS train clusters (default 100)")
    p.add_argument("--final", default="", metavar="DIR", help="fit the chosen recipe on everything; save it here")
    p.add_argument("--curve", action="store_true", help="also the learning curve of the chosen recipe")
    ns = p.parse_args(argv)
    names = [n for n in ns.only.split(";") if n] or list(RECIPES)
    names = ns.names = list(CANDIDATES) if names == ["candidates"] else names
    unknown = set(names) - set(RECIPES)
    if unknown:
        p.error(f"unknown recipes {sorted(unknown)}; known: {', '.join(RECIPES)}")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    sources, encoder = prepare(ns, log)
    work = Path(ns.work)
    work.mkdir(parents=True, exist_ok=True)
    # results hold for one encoder and one set of sizes: a new stance encoder starts afresh
    tag = hashlib.sha256(json.dumps([encoder[1], fit_keys_of(encoder[2]), ns.writers, ns.sumllm, ns.newts,
                                     ns.neus], sort_keys=True).encode()).hexdigest()
    res_path = work / f"results-{tag[:12]}.json"
    done = json.loads(res_path.read_text()) if res_path.is_file() else {}
    choose = [sources[k] for k in ("writers", "sumllm", "newts", "neus")]
    results = sweep(choose, {n: RECIPES[n] for n in names}, log=log, done=done)
    res_path.write_text(dumps(results))
    best = max(names, key=lambda n: (results[n]["worst_rouge1"], results[n]["worst_rouge2"]))
    print(table(results, names))
    print(f"chosen (best smallest ROUGE-1 margin): {best}")
    if ns.curve:
        sizes = [s for s in (0, 25, 50, 100, 200, 400) if s <= len(sources["sumllm"].units)]
        (work / "curve.json").write_text(dumps({"sizes": curve(sources, RECIPES[best], sizes, log)}))
    if ns.final:
        final(ns, sources, results, encoder, best)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
