"""The batching queue: one worker thread runs the model; requests that arrive together share a call.

Routes put a ``Job`` on a bounded queue and await its future; they never run the model on the event loop.
A job carries its raw input and a ``prepare`` step (HTML extraction, cleaning, segmentation) that the worker
runs just before the model call, so no CPU-bound Python thread competes with inference for the GIL.
The worker takes the first job, then keeps taking jobs for up to ``max_wait`` seconds while the batch stays
under ``max_articles`` and ``max_tokens``, and runs them through ``Analyzer.analyze`` together (one encoder
pass; jobs whose summary options differ get one call per option set). A full queue raises ``QueueFull`` at
once so the route can answer 503 with Retry-After instead of letting clients hang.

The model lives in a ``ModelSlot``. A reload replaces the slot's single reference; the worker reads it once
per batch, so a batch that started on the old model finishes on it and the next batch uses the new one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import astuple, dataclass, field
from typing import Any

from presslens.model.pipeline import AnalyzeOptions
from presslens.model.text import Article

log = logging.getLogger("presslens.batching")


class QueueFull(Exception):
    """The queue holds ``queue_size`` requests already."""


class ShuttingDown(Exception):
    """The service is stopping; the request was not run."""


@dataclass(frozen=True)
class LoadedModel:
    """An analyzer and the facts about it that the API reports; replaced as a whole on reload."""

    analyzer: Any
    version: str
    info: dict = field(default_factory=dict)


class ModelSlot:
    """Holds the current ``LoadedModel``; reading and swapping a reference is atomic in Python."""

    def __init__(self, loaded: LoadedModel | None = None):
        self._current = loaded
        self.error: str | None = None  # why the initial load failed, for /readyz

    @property
    def current(self) -> LoadedModel | None:
        return self._current

    def swap(self, loaded: LoadedModel) -> LoadedModel | None:
        old, self._current = self._current, loaded
        return old


@dataclass
class BatchResult:
    model: str
    results: list[dict]


@dataclass
class Job:
    articles: list[Article]
    options: AnalyzeOptions
    tokens: int
    kind: str = "analyze"  # or "coverage": several articles on one event, one result for all of them
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.monotonic)
    # Builds ``articles`` on the worker thread (cleaning, segmentation, HTML extraction) when given; an
    # exception it raises becomes the job's result. ``size`` is the number of articles it will return.
    prepare: Callable[[], list[Article]] | None = None
    size: int = 0

    def __post_init__(self) -> None:
        self.size = self.size or len(self.articles)


def approx_tokens(text: str) -> int:
    """Encoder tokens a text will cost: about four characters a token, plus the special tokens.

    The one estimator behind the queue's batch bound: it keeps tokenization out of the request path.
    """
    return len(text) // 4 + 2


def estimate_tokens(articles: Sequence[Article], max_length: int = 128) -> int:
    """Encoder tokens an article batch will cost: :func:`approx_tokens` per sentence, capped at ``max_length``."""
    return sum(min(max_length, approx_tokens(s.text)) for a in articles for s in a.sentences)


class Metrics:
    """Hooks the queue calls; ``api.metrics`` fills them with Prometheus instruments."""

    def batch(self, articles: int, tokens: int, requests: int, seconds: float) -> None:  # pragma: no cover
        pass


class BatchQueue:
    def __init__(self, slot: ModelSlot, *, max_articles: int = 32, max_tokens: int = 16_384,
                 max_wait: float = 0.005, queue_size: int = 64, metrics: Metrics | None = None):
        self.slot = slot
        self.max_articles = max_articles
        self.max_tokens = max_tokens
        self.max_wait = max_wait
        self._q: queue.Queue[Job] = queue.Queue(maxsize=queue_size)
        self._metrics = metrics or Metrics()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy = 0  # articles in the batch being run now
        # Work that must not overlap inference (a reload's smoke test shares the encoder and its tokenizer,
        # which is not safe to call from two threads at once): run by the worker between batches.
        self._control: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = queue.SimpleQueue()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="presslens-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        while True:  # whatever is still queued will not run: tell its waiters
            try:
                job = self._q.get_nowait()
            except queue.Empty:
                break
            _fail(job.future, ShuttingDown("the service is shutting down"))

    # -- producer side ---------------------------------------------------------------------------
    def depth(self) -> int:
        """Requests waiting (not counting the batch running now)."""
        return self._q.qsize()

    def submit(self, articles: list[Article], options: AnalyzeOptions, tokens: int | None = None,
               kind: str = "analyze", *, prepare: Callable[[], list[Article]] | None = None,
               size: int = 0) -> Future:
        """Queue articles, or a ``prepare`` callable that builds ``size`` of them on the worker thread.

        Preparing on the worker keeps CPU-bound Python work from running beside inference: a thread
        holding the GIL stalls every torch op of the forward pass (an encoder pass of 0.93 s took 6.6 s
        beside a thread segmenting text), while jobs waiting unprepared still merge into one batch.
        """
        if self._stop.is_set():
            raise ShuttingDown("the service is shutting down")
        if prepare is not None and tokens is None:
            raise ValueError("a job prepared on the worker needs its token estimate up front")
        job = Job(list(articles), options, tokens if tokens is not None else estimate_tokens(articles), kind,
                  prepare=prepare, size=size)
        try:
            self._q.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"{self._q.maxsize} requests are already waiting") from None
        return job.future

    def run_exclusive(self, fn: Callable[[], Any]) -> Future:
        """Run ``fn`` on the worker thread between batches; the queue's bound does not apply."""
        future: Future = Future()
        if self._thread is None:  # not started (tests, start-up): nothing else can be running
            _call(fn, future)
        else:
            self._control.put((fn, future))
        return future

    # -- worker side -----------------------------------------------------------------------------
    def _next(self, timeout: float) -> Job | None:
        try:
            return self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
        except queue.Empty:
            return None

    def _run(self) -> None:
        carry: Job | None = None
        while not self._stop.is_set():
            while not self._control.empty():
                _call(*self._control.get_nowait())
            first = carry or self._next(0.05)
            carry = None
            if first is None:
                continue
            batch, n, tok = [first], first.size, first.tokens
            deadline = time.monotonic() + self.max_wait
            while n < self.max_articles and tok < self.max_tokens:
                job = self._next(deadline - time.monotonic())
                if job is None:
                    break
                if n + job.size > self.max_articles or tok + job.tokens > self.max_tokens:
                    carry = job  # starts the next batch; a job is never split across batches
                    break
                batch.append(job)
                n += job.size
                tok += job.tokens
            self._process(batch, n, tok)
        if carry is not None:
            _fail(carry.future, ShuttingDown("the service is shutting down"))
        while not self._control.empty():
            _fail(self._control.get_nowait()[1], ShuttingDown("the service is shutting down"))

    def _process(self, batch: list[Job], n_articles: int, n_tokens: int) -> None:
        loaded = self.slot.current  # read once: the whole batch runs on this model
        live = [j for j in batch if j.future.set_running_or_notify_cancel()]
        if not live:
            return
        if loaded is None:
            for j in live:
                _fail(j.future, ShuttingDown("no model is loaded"))
            return
        t0 = time.perf_counter()
        self._busy = n_articles
        # Outcomes are handed to the waiting requests only after the batch is recorded in the metrics, so a
        # client that has its answer finds its batch counted (no window where /metrics lags the response).
        outcomes: list[tuple[Future, Any, BaseException | None]] = []
        try:
            live = [j for j in live if _prepared(j, outcomes)]
            groups: dict[tuple, list[Job]] = {}
            for j in live:
                if j.kind == "coverage":  # its articles belong together and to no one else
                    self._run_coverage(loaded, j, outcomes)
                else:
                    groups.setdefault(astuple(j.options), []).append(j)
            for jobs in groups.values():
                self._run_group(loaded, jobs, outcomes)
        finally:
            self._busy = 0
            try:
                self._metrics.batch(n_articles, n_tokens, len(live), time.perf_counter() - t0)
            finally:
                for future, result, exc in outcomes:
                    if exc is not None:
                        _fail(future, exc)
                    else:
                        _settle(future, result)

    def _run_coverage(self, loaded: LoadedModel, job: Job, outcomes: list) -> None:
        try:
            result = loaded.analyzer.coverage(job.articles, job.options).to_dict()
        except Exception as exc:
            log.exception("coverage failed")
            outcomes.append((job.future, None, exc))
            return
        outcomes.append((job.future, BatchResult(loaded.version, [result]), None))

    def _run_group(self, loaded: LoadedModel, jobs: list[Job], outcomes: list) -> None:
        articles = [a for j in jobs for a in j.articles]
        try:
            results = [r.to_dict() for r in loaded.analyzer.analyze(articles, jobs[0].options)]
        except Exception as exc:
            if len(jobs) > 1:
                # One request's input must not fail its neighbours: run each alone to find it.
                for j in jobs:
                    self._run_group(loaded, [j], outcomes)
                return
            log.exception("analysis failed")
            outcomes.append((jobs[0].future, None, exc))
            return
        pos = 0
        for j in jobs:
            outcomes.append((j.future, BatchResult(loaded.version, results[pos : pos + len(j.articles)]), None))
            pos += len(j.articles)


def _prepared(job: Job, outcomes: list) -> bool:
    """Build the job's articles if it carries a ``prepare``; False (and the job's failure recorded in
    ``outcomes``) when that raises."""
    if job.prepare is None:
        return True
    try:
        job.articles = job.prepare()
    except Exception as exc:  # the input's own error (an ApiError with its 4xx) goes back to its request
        outcomes.append((job.future, None, exc))
        return False
    return True


def _settle(future: Future, result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _call(fn: Callable[[], Any], future: Future) -> None:
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(fn())
    except BaseException as exc:  # handed to the waiter, who decides what it means
        future.set_exception(exc)


def _fail(future: Future, exc: BaseException) -> None:
    if not future.done():
        if future.running() or future.set_running_or_notify_cancel():
            future.set_exception(exc)

