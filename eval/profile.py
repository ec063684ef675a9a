"""Where a served request's time goes: the batch worker's steps replayed in-process, stage by stage.

At concurrency ``c`` the service's queue merges up to ``c`` one-article requests (at most its
``batch_max_articles``) into one model call, so each level is profiled on batches of that many articles of
the bench's mix, with the server's runtime and precision. Stages, in the order a request meets them:

- ``json_parse``: the request body (``{"articles": [{"id", "text"}]}``) parsed;
- ``clean_segment``: ``model.text.Article`` (page furniture removed, sentences with offsets);
- ``tokenize``, ``encoder``, ``head``, ``summarizer``: the Analyzer's own stages, timed by it
  (``Analyzer.analyze(..., timer=StageTimer())``): the tokenizer over every sentence of the batch, the encoder
  run, sentence probabilities with commentary and the article label, the extractive summary;
- ``serialise``: the result object to JSON.

What the replay cannot see (HTTP, request validation, the queue, the event loop) is the served time per
article at that level minus the replay's sum: ``outside``. Shares are of the served time when it is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from presslens.model.limits import BATCH_MAX_ARTICLES

STAGES = ("json_parse", "clean_segment", "tokenize", "encoder", "head", "summarizer", "serialise")


def _batch(analyzer, bodies: Sequence[bytes], timer) -> None:
    """One served batch: the request bodies parsed, the articles built, ``Analyzer.analyze`` (timing its own
    stages: tokenize, encoder, head, summarizer) and the results serialised, as the service does them."""
    from presslens.model.pipeline import AnalyzeOptions
    from presslens.model.text import Article

    with timer("json_parse"):
        items = [json.loads(b)["articles"][0] for b in bodies]
    with timer("clean_segment"):
        articles = [Article(a["text"], id=a["id"]) for a in items]
    results = analyzer.analyze(articles, AnalyzeOptions(), timer=timer)
    with timer("serialise"):
        for r in results:
            json.dumps({"model": "bench", "results": [r.to_dict()]})


def stage_profile(analyzer, mix: Sequence[dict], levels: Sequence[int], rounds: int = 2,
                  served: dict[str, float] | None = None) -> dict:
    """Seconds per article in each stage at each concurrency level (``rounds`` passes over the mix, after one
    untimed batch); ``served``: the service's articles/s per level, for the ``outside`` share."""
    from presslens.model.pipeline import StageTimer

    bodies = [json.dumps({"articles": [{"id": a["id"], "text": a["text"]}]}).encode() for a in mix]
    out = {}
    for c in levels:
        size = max(1, min(int(c), BATCH_MAX_ARTICLES))
        _batch(analyzer, bodies[:size], StageTimer(STAGES))  # warm-up
        timer = StageTimer(STAGES)
        n = 0
        for r in range(rounds):
            order = bodies[r % len(bodies):] + bodies[: r % len(bodies)]
            for i in range(0, len(order), size):
                _batch(analyzer, order[i : i + size], timer)
                n += len(order[i : i + size])
        per_article = {k: v / n for k, v in timer.seconds.items()}
        level = {"batch_articles": size, "articles": n, "seconds_per_article": per_article,
                 "in_process_s": sum(per_article.values())}
        aps = (served or {}).get(str(c))
        # Served faster than the replay (noise on a shared machine, or batches the queue merged larger than
        # the level): nothing is left outside, and the shares are of the replay.
        total = max(1.0 / aps, level["in_process_s"]) if aps else level["in_process_s"]
        if aps:
            level["served_s"] = 1.0 / aps
            level["seconds_per_article"] = {**per_article, "outside": total - level["in_process_s"]}
        level["share"] = {k: v / total for k, v in level["seconds_per_article"].items()}
        level["not_encoder_share"] = 1.0 - level["share"]["encoder"]
        out[str(c)] = level
    return out


def profile_rows(profile: dict) -> tuple[list[str], list[list]]:
    """A table: one row per level, the share of each stage (and what lies outside the replay)."""
    stages = list(STAGES) + (["outside"] if any("served_s" in v for v in profile.values()) else [])
    rows = []
    for c, v in profile.items():
        rows.append([c, v["batch_articles"], *(f"{v['share'].get(s, 0.0):.1%}" for s in stages),
                     f"{v['not_encoder_share']:.1%}", f"{1000 * v['in_process_s']:.1f}"])
    return ["concurrency", "articles per call", *stages, "not encoder", "in-process ms/article"], rows
