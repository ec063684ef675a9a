"""``presslens batch INPUT... --out DIR``: a corpus through the Analyzer, resumably, on Ray Data or in-process."""

from __future__ import annotations

import argparse
import sys

from presslens.api.cli_common import positive, service_settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="JSONL, Parquet or CSV files, directories of them, or globs; rows with text or html")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (Parquet, one file per shard)")
    p.add_argument("--engine", choices=["ray", "local"], default=None,
                   help="ray (default when Ray is installed) or local (this process, no Ray)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="a running Ray cluster (default: RAY_ADDRESS, else Ray starts here on the local cores)")
    p.add_argument("--workers", type=positive, default=None,
                   help="Ray actors (default: the cluster's CPUs / --cpus-per-worker)")
    p.add_argument("--cpus-per-worker", type=positive, default=1, help="CPUs (torch threads) per Ray actor")
    p.add_argument("--shard-rows", type=positive, default=200,
                   help="rows per shard, the unit of work and of resumption (default 200)")
    p.add_argument("--batch-size", type=positive, default=32, help="articles per model call (default 32)")
    p.add_argument("--model", default=None, metavar="NAME|DIR",
                   help="stance model: a profile (default, accurate) or a checkpoint directory (default: default)")
    p.add_argument("--summarizer", default=None, metavar="DIR", help="summarizer checkpoint")
    p.add_argument("--sentences", type=positive, default=None,
                   help="summary budget in sentences (default 3 when --words is not given)")
    p.add_argument("--words", type=positive, default=None,
                   help="summary budget in words: never exceeded; alone, no sentence cap")
    p.add_argument("--claims-only", action="store_true", help="leave the writer's commentary out of the summary")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "int8"],
                   help="encoder precision, as the server's (default: PRESSLENS_PRECISION, else auto: the fastest "
                        "this CPU runs natively that passes the gate against fp32)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


class _Progress:
    """rows done / to do, articles/s and ETA on stderr (tqdm; off when stderr is not a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled, self.bar = enabled, None

    def start(self, todo: int, done: int) -> None:
        if done:
            print(f"presslens batch: resuming, {done} rows already done, {todo} to do", file=sys.stderr)
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=todo, unit=" articles", desc="batch", file=sys.stderr, disable=None,
                            smoothing=0.1, dynamic_ncols=True)

    def rows(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(ns: argparse.Namespace) -> int:
    from presslens.api.cli_common import UsageError, precision_option
    from presslens.model.pipeline import summary_budget

    from .engines import JobConfig
    from .job import BatchError, run_job
    from .sources import InputError
    from .store import OutputError

    # The API's per-article limit (PRESSLENS_MAX_CHARS), so the two refuse the same articles.
    sentences, words = summary_budget(ns.sentences, ns.words)
    cfg = JobConfig(stance=ns.model, summarizer=ns.summarizer, summary_sentences=sentences,
                    summary_words=words, claims_only=ns.claims_only, max_chars=service_settings().max_chars,
                    batch_size=ns.batch_size, precision=precision_option(ns.precision))
    progress = _Progress(not ns.no_progress)
    try:
        outcome = run_job(ns.inputs, ns.out, cfg, engine=ns.engine, shard_rows=ns.shard_rows,
                          address=ns.address, workers=ns.workers, cpus_per_worker=ns.cpus_per_worker,
                          on_start=progress.start, on_rows=progress.rows)
    except (InputError, OutputError, BatchError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    skipped = f", {outcome.skipped_shards} shards from an earlier run kept" if outcome.skipped_shards else ""
    who = f"{outcome.engine}, {outcome.workers} worker{'s' if outcome.workers != 1 else ''}"
    print(f"{outcome.rows} rows done, {outcome.errors} with errors; this run: {outcome.analysed} rows in "
          f"{outcome.seconds:.1f} s, {outcome.rate:.2f} articles/s ({who}{skipped}) -> {ns.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="analyse a corpus (JSONL/Parquet/CSV) into Parquet, resumably, on Ray or here")
    add_arguments(p)
    p.set_defaults(func=run)
