"""Where a served request's time goes: the batch worker's steps replayed in-process, stage by stage.

At concurrency ``c`` the service's queue merges up to ``c`` one-article requests (at most its
``batch_max_articles``) into one model call, so each level is profiled on batches of that many articles of
the bench's mix, with the server's runtime and precision. Stages, in the order a request meets them:

- ``json_parse``: the request body (``{"articles": [{"id", "text"}]}``) parsed;
- ``clean_segment``: ``model.text.Article`` (page furniture removed, sentences with offsets);
- ``tokenize``: the encoder's tokenizer over every sentence of the batch;
- ``encoder``: the encoder run itself (its ``encode`` minus the tokenizing measured just before);
- ``head``: sentence probabilities, commentary and the article label (``Analyzer.judge``);
- ``summarizer``: the extractive summary;
- ``serialise``: the result object to JSON.

What the replay cannot see (HTTP, request validation, the queue, the event loop) is the served time per
article at that level minus the replay's sum: ``outside``. Shares are of the served time when it is given.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

STAGES = ("json_parse", "clean_segment", "tokenize", "encoder", "head", "summarizer", "serialise")
#: the most articles the service merges into one call (api.settings BATCH_MAX_ARTICLES default)
BATCH_MAX_ARTICLES = 32


def _batch(analyzer, bodies: Sequence[bytes], t: dict[str, float]) -> None:
    from presslens.model.pipeline import AnalyzeOptions
    from presslens.model.text import Article

    def tick(stage: str, t0: float) -> float:
        now = time.perf_counter()
        t[stage] += now - t0
        return now

    t0 = time.perf_counter()
    items = [json.loads(b)["articles"][0] for b in bodies]
    t0 = tick("json_parse", t0)
    articles = [Article(a["text"], id=a["id"]) for a in items]
    t0 = tick("clean_segment", t0)
    texts = [s.text for a in articles for s in a.sentences]
    encoder = analyzer.encoder
    encoder.count_tokens(texts)
    t_tok = time.perf_counter() - t0
    t0 = tick("tokenize", t0)
    emb = encoder.encode(texts)
    t["encoder"] += max(0.0, time.perf_counter() - t0 - t_tok)  # encode tokenizes again: counted once above
    t0 = time.perf_counter()
    per, pos = [], 0
    for a in articles:
        per.append(emb[pos : pos + len(a.sentences)])
        pos += len(a.sentences)
    judged = [analyzer.judge(a, e) for a, e in zip(articles, per, strict=True)]
    t0 = tick("head", t0)
    options = AnalyzeOptions()
    summaries = [analyzer.summarizer.summarize(a, e, max_sentences=options.summary_sentences,
                                               max_words=options.summary_words)
                 for a, e in zip(articles, per, strict=True)]
    t0 = tick("summarizer", t0)
    from presslens.model.pipeline import Analysis

    for a, st, sm in zip(articles, judged, summaries, strict=True):
        json.dumps({"model": "bench", "results": [Analysis(a, st, sm, None).to_dict()]})
    tick("serialise", t0)


def stage_profile(analyzer, mix: Sequence[dict], levels: Sequence[int], rounds: int = 2,
                  served: dict[str, float] | None = None) -> dict:
    """Seconds per article in each stage at each concurrency level (``rounds`` passes over the mix, after one
    untimed batch); ``served``: the service's articles/s per level, for the ``outside`` share."""
    bodies = [json.dumps({"articles": [{"id": a["id"], "text": a["text"]}]}).encode() for a in mix]
    out = {}
    for c in levels:
        size = max(1, min(int(c), BATCH_MAX_ARTICLES))
        _batch(analyzer, bodies[:size], dict.fromkeys(STAGES, 0.0))  # warm-up
        t = dict.fromkeys(STAGES, 0.0)
        n = 0
        for r in range(rounds):
            order = bodies[r % len(bodies):] + bodies[: r % len(bodies)]
            for i in range(0, len(order), size):
                _batch(analyzer, order[i : i + size], t)
                n += len(order[i : i + size])
        per_article = {k: v / n for k, v in t.items()}
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
