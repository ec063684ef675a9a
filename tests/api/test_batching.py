"""The batching queue: requests that arrive together share one model call, within bounds; a full queue
answers 503 with Retry-After instead of hanging."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from presslens.api.app import create_app
from presslens.api.batching import BatchQueue, LoadedModel, ModelSlot, QueueFull, estimate_tokens
from presslens.api.settings import Settings
from presslens.model.pipeline import AnalyzeOptions
from presslens.model.text import Article


class Recording:
    """Wraps an analyzer; records the articles of every ``analyze`` call, optionally blocking it."""

    def __init__(self, inner, gate: threading.Event | None = None):
        self.inner = inner
        self.calls: list[list[str]] = []
        self.gate = gate
        self.entered = threading.Event()

    def __getattr__(self, name):  # stance, encoder, summarizer: those of the wrapped analyzer
        return getattr(self.inner, name)

    def analyze(self, articles, options=None):
        self.calls.append([a.id for a in articles])
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(30)
        return self.inner.analyze(articles, options)


def _articles(seed_texts, prefix, keys):
    return [Article(seed_texts[k], id=f"{prefix}{k}") for k in keys]


def test_jobs_waiting_together_share_one_call(tiny_analyzer, seed_texts):
    rec = Recording(tiny_analyzer)
    q = BatchQueue(ModelSlot(LoadedModel(rec, "v1")), max_articles=32, max_wait=0.05)
    futures = [q.submit(_articles(seed_texts, f"r{i}-", ["000", "004"]), AnalyzeOptions()) for i in range(3)]
    q.start()
    try:
        results = [f.result(30) for f in futures]
    finally:
        q.stop()
    assert rec.calls == [["r0-000", "r0-004", "r1-000", "r1-004", "r2-000", "r2-004"]]
    # each request gets back exactly its own articles, equal to running it alone
    for i, res in enumerate(results):
        assert [r["id"] for r in res.results] == [f"r{i}-000", f"r{i}-004"]
        alone = tiny_analyzer.analyze(_articles(seed_texts, f"r{i}-", ["000", "004"]))
        assert [r["label"] for r in res.results] == [a.stance.label for a in alone]
        assert res.model == "v1"


def test_jobs_are_prepared_on_the_worker_and_a_bad_one_fails_alone(tiny_analyzer, seed_texts):
    """Segmentation runs on the worker thread, between model calls; its error goes to its own request only."""
    rec = Recording(tiny_analyzer)
    q = BatchQueue(ModelSlot(LoadedModel(rec, "v1")), max_articles=32, max_wait=0.05)
    threads: list[str] = []

    def build(prefix):
        def prepare():
            threads.append(threading.current_thread().name)
            if prefix == "bad":
                raise ValueError("no sentences left after cleaning")
            return _articles(seed_texts, prefix, ["001"])
        return prepare

    futures = [q.submit([], AnalyzeOptions(), tokens=100, prepare=build(p), size=1) for p in ("a", "bad", "b")]
    q.start()
    try:
        assert [r["id"] for r in futures[0].result(30).results] == ["a001"]
        assert "no sentences" in str(futures[1].exception(30))
        assert [r["id"] for r in futures[2].result(30).results] == ["b001"]
    finally:
        q.stop()
    assert threads == ["presslens-batcher"] * 3
    assert rec.calls == [["a001", "b001"]]  # the good ones still share one call


def test_batches_respect_article_and_token_bounds(tiny_analyzer, seed_texts):
    rec = Recording(tiny_analyzer)
    q = BatchQueue(ModelSlot(LoadedModel(rec, "v1")), max_articles=3, max_wait=0.05)
    futures = [q.submit(_articles(seed_texts, f"r{i}-", ["001", "002"]), AnalyzeOptions()) for i in range(3)]
    q.start()
    try:
        [f.result(30) for f in futures]
    finally:
        q.stop()
    assert [len(c) for c in rec.calls] == [2, 2, 2]  # 2+2 > 3: no two requests fit together, none is split

    one = _articles(seed_texts, "t", ["003"])
    tokens = estimate_tokens(one)
    rec2 = Recording(tiny_analyzer)
    q2 = BatchQueue(ModelSlot(LoadedModel(rec2, "v1")), max_tokens=2 * tokens + 1, max_wait=0.05)
    futures = [q2.submit(_articles(seed_texts, f"r{i}-", ["003"]), AnalyzeOptions()) for i in range(5)]
    q2.start()
    try:
        [f.result(30) for f in futures]
    finally:
        q2.stop()
    assert [len(c) for c in rec2.calls] == [2, 2, 1]


def test_different_options_do_not_mix(tiny_analyzer, seed_texts):
    rec = Recording(tiny_analyzer)
    q = BatchQueue(ModelSlot(LoadedModel(rec, "v1")), max_wait=0.05)
    f1 = q.submit(_articles(seed_texts, "a", ["000"]), AnalyzeOptions(summary_sentences=1))
    f2 = q.submit(_articles(seed_texts, "b", ["000"]), AnalyzeOptions(summary_sentences=4))
    q.start()
    try:
        r1, r2 = f1.result(30), f2.result(30)
    finally:
        q.stop()
    assert len(r1.results[0]["summary"]) == 1 and len(r2.results[0]["summary"]) == 4


def test_one_failing_request_does_not_fail_its_neighbours(tiny_analyzer, seed_texts):
    class Picky(Recording):
        def analyze(self, articles, options=None):
            if any(a.id == "poison" for a in articles):
                raise ValueError("cannot analyse poison")
            return super().analyze(articles, options)

    q = BatchQueue(ModelSlot(LoadedModel(Picky(tiny_analyzer), "v1")), max_wait=0.05)
    good = q.submit(_articles(seed_texts, "ok", ["001"]), AnalyzeOptions())
    bad = q.submit([Article(seed_texts["002"], id="poison")], AnalyzeOptions())
    q.start()
    try:
        assert good.result(30).results[0]["id"] == "ok001"
        assert isinstance(bad.exception(30), ValueError)
    finally:
        q.stop()


def test_full_queue_answers_503_with_retry_after(tiny_analyzer, tmp_path, seed_texts):
    gate = threading.Event()
    rec = Recording(tiny_analyzer, gate)
    app = create_app(Settings(feedback_db=str(tmp_path / "fb.sqlite3"), queue_size=1, batch_max_articles=1),
                     rec)
    req = {"articles": [{"text": seed_texts["000"]}]}
    with TestClient(app) as c:
        q = app.state.queue
        busy = q.submit(_articles(seed_texts, "busy", ["001"]), AnalyzeOptions())  # the worker blocks on it
        assert rec.entered.wait(10)
        waiting = q.submit(_articles(seed_texts, "wait", ["001"]), AnalyzeOptions())  # fills the queue
        try:
            q.submit(_articles(seed_texts, "x", ["001"]), AnalyzeOptions())
            raise AssertionError("the queue accepted more than queue_size requests")
        except QueueFull:
            pass
        resp = c.post("/v1/analyze", json=req)
        assert resp.status_code == 503
        assert resp.headers["Retry-After"] == "1"
        assert "busy" in resp.json()["error"]
        assert "presslens_queue_depth 1.0" in c.get("/metrics").text
        gate.set()
        busy.result(30), waiting.result(30)
        assert c.post("/v1/analyze", json=req).status_code == 200
        assert 'presslens_rejected_total{reason="queue_full"} 1.0' in c.get("/metrics").text


def test_concurrent_http_requests_are_merged(tiny_analyzer, tmp_path, seed_texts):
    gate = threading.Event()
    rec = Recording(tiny_analyzer, gate)
    app = create_app(Settings(feedback_db=str(tmp_path / "fb.sqlite3"), batch_wait_ms=50), rec)
    with TestClient(app) as c:
        q = app.state.queue
        blocker = q.submit(_articles(seed_texts, "first", ["000"]), AnalyzeOptions())
        assert rec.entered.wait(10)
        out: dict[int, int] = {}

        def post(i):
            out[i] = c.post("/v1/analyze", json={"articles": [{"id": f"c{i}", "text": seed_texts["003"]}]}).status_code

        threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for _ in range(200):  # all four wait in the queue while the worker is busy
            if q.depth() == 4:
                break
            threading.Event().wait(0.02)
        gate.set()
        for t in threads:
            t.join(30)
        blocker.result(30)
    assert out == {0: 200, 1: 200, 2: 200, 3: 200}
    assert rec.calls[0] == ["first000"]
    assert sorted(rec.calls[1]) == ["c0", "c1", "c2", "c3"] and len(rec.calls) == 2


def test_a_batch_is_in_the_metrics_before_its_requests_have_their_answers(tiny_analyzer, seed_texts):
    """/metrics read right after a response must count that response's batch (it once lagged: a race)."""
    from presslens.api.batching import Metrics

    futures = []
    seen: list[tuple[int, list[bool]]] = []

    class Watching(Metrics):
        def batch(self, articles, tokens, requests, seconds):
            seen.append((articles, [f.done() for f in futures]))

    q = BatchQueue(ModelSlot(LoadedModel(tiny_analyzer, "v1")), max_wait=0.05, metrics=Watching())
    futures += [q.submit(_articles(seed_texts, f"r{i}-", ["001"]), AnalyzeOptions()) for i in range(2)]
    futures.append(q.submit([], AnalyzeOptions(), 10, prepare=lambda: [][0], size=1))  # a failing prepare
    q.start()
    try:
        results = [f.exception(30) or f.result(30) for f in futures]
    finally:
        q.stop()
    assert seen == [(3, [False, False, False])]  # recorded while every waiter was still waiting
    assert [r.results[0]["id"] for r in results[:2]] == ["r0-001", "r1-001"]
    assert isinstance(results[2], IndexError)
