"""The two engines of ``presslens batch``: in this process, or on Ray Data. Both run the same shard function.

``run_shard`` is the whole unit of work: read one input shard, analyse its rows in batches
(``model.batch.analyze_rows``), write the shard's Parquet file and commit it by renaming. The local engine calls
it in a loop; the Ray engine hands the shard plan to ``ray.data`` and maps it over a pool of actors
(``ActorPoolStrategy``), each loading the Analyzer once and running torch on the CPUs Ray gave it. Ray is
imported only here and only for ``--engine ray``, so it stays an optional extra.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from presslens.model.batch import RowLimits, analyze_rows
from presslens.model.settings import environment

from ..settings import Settings
from .sources import Shard, read_shard
from .store import build_table, commit_shard


@dataclass(frozen=True)
class JobConfig:
    """Everything a worker needs to analyse shards; plain values, so it travels to Ray actors as is."""

    stance: str | None = None
    summarizer: str | None = None
    summary_sentences: int | None = 3
    summary_words: int | None = None
    claims_only: bool = False
    max_chars: int = Settings.model_fields["max_chars"].default  # the API's default; the CLI passes the live one
    batch_size: int = 32  # articles per Analyzer call (bounds memory; the results do not depend on it)
    # The serving runtime and precision ladder (model/runtime/precision.py), as the API has them: part of the job's
    # settings, since a bf16 run's probabilities differ from fp32's in the third decimal.
    runtime: str = "auto"
    precision: str = "auto"

    def options(self):
        from presslens.model.pipeline import AnalyzeOptions

        return AnalyzeOptions(summary_sentences=self.summary_sentences, summary_words=self.summary_words,
                              claims_only=self.claims_only)


def load_analyzer(cfg: JobConfig, threads: int | None = None):
    """The job's Analyzer; ``threads``: the exported runtime's threads (a Ray actor's CPUs; default: the
    settings' ``PRESSLENS_THREADS`` or the CPUs this process may use)."""
    from presslens.model.pipeline import Analyzer

    if cfg.runtime == "torch":  # transformers loads the weights (with a bar) only on the torch runtime; importing
        # it elsewhere costs each Ray actor a second of start-up and tens of MB for nothing
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a bar per worker would scribble over the job's own progress bar
    analyzer = Analyzer.load(cfg.stance, cfg.summarizer, runtime=cfg.runtime, precision=cfg.precision,
                             threads=threads)
    choice = getattr(analyzer.encoder, "precision_choice", None) or {}
    why = choice.get("why") or ("requested (fp32)" if cfg.precision == "fp32" else "the torch runtime serves fp32")
    print(f"presslens batch: encoder on {analyzer.encoder.runtime}, precision "
          f"{choice.get('precision', analyzer.encoder.precision)} ({why})", file=sys.stderr)
    return analyzer


def _release_memory() -> None:
    """Hand freed heap back to the OS between shards (glibc keeps it otherwise, and a worker's RSS creeps up
    with every long article it has seen)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def run_shard(analyzer, cfg: JobConfig, shard: Shard, out_dir: Path,
              on_rows: Callable[[int], None] | None = None) -> dict:
    """Analyse one shard and commit its file; returns {"name", "rows", "errors"}."""
    data = read_shard(shard)
    limits, options = RowLimits(cfg.max_chars), cfg.options()
    results: list[dict] = []
    for i in range(0, len(data.rows), cfg.batch_size):
        part = analyze_rows(analyzer, data.rows[i:i + cfg.batch_size], data.default_ids[i:i + cfg.batch_size],
                            limits, options)
        results.extend(part)
        if on_rows:
            on_rows(len(part))
    commit_shard(out_dir, shard, build_table(results, shard, data.passthrough))
    del data
    _release_memory()
    return {"name": shard.name, "rows": len(results), "errors": sum(r["error"] is not None for r in results)}


def run_local(cfg: JobConfig, shards: list[Shard], out_dir: Path, on_rows: Callable[[int], None],
              on_shard: Callable[[dict], None]) -> dict:
    """Every shard in this process, one after another, torch on all the cores it has."""
    analyzer = load_analyzer(cfg)
    for shard in shards:
        on_shard(run_shard(analyzer, cfg, shard, out_dir, on_rows))
    return {"engine": "local", "workers": 1}


class ShardWorker:
    """A Ray Data actor: loads the Analyzer once, then turns each batch of shard descriptors into committed
    files and one stats row per shard."""

    def __init__(self, cfg: dict, out_dir: str, threads: int):
        threads = max(1, threads)
        self.cfg = JobConfig(**cfg)
        self.out_dir = Path(out_dir)
        self.analyzer = load_analyzer(self.cfg, threads)  # ONNX Runtime / OpenVINO: the actor's CPUs only
        if "torch" in sys.modules:  # only where the torch encoder serves: importing it costs an actor ~1 s and
            import torch  # ~200 MB, and an exported encoder never needs it

            torch.set_num_threads(threads)

    def __call__(self, batch: dict) -> dict:
        out: dict[str, list] = {"name": [], "rows": [], "errors": []}
        for blob in batch["shard"]:
            stats = run_shard(self.analyzer, self.cfg, Shard(**json.loads(blob)), self.out_dir)
            for key in out:
                out[key].append(stats[key])
        return out


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.data") is not None


def _start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Connect to ``address`` (or RAY_ADDRESS), else start Ray in this process on the local cores with the
    dashboard off; True when this call started it (so it is ours to shut down)."""
    import ray

    if ray.is_initialized():
        return False
    address = address or environment().get("RAY_ADDRESS") or None
    quiet = {"logging_level": logging.ERROR, "log_to_driver": True}
    if address:
        ray.init(address=address, **quiet)
    else:
        # The object store only carries shard descriptors and stats rows: a small one keeps memory down.
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 object_store_memory=128 * 1024 * 1024, **quiet)
    return True


def run_ray(cfg: JobConfig, shards: list[Shard], out_dir: Path, on_shard: Callable[[dict], None], *,
            address: str | None = None, workers: int | None = None, cpus_per_worker: int = 1) -> dict:
    """ray.data over the shard plan -> map_batches(ShardWorker, ActorPoolStrategy) -> stats rows back here.

    Each shard is one block and one actor call, so a shard is analysed and committed by exactly one actor,
    and an actor takes a new shard only when it is idle (no shard waits behind a busy actor at the end)."""
    import ray
    import ray.data

    started = _start_ray(address, None)
    try:
        total_cpus = int(ray.cluster_resources().get("CPU", 1))
        size = max(1, min(workers or total_cpus // cpus_per_worker, len(shards)))
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours counts rows and articles/s; Ray's would draw over it
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ds = ray.data.from_items([{"shard": json.dumps(s.to_dict())} for s in shards],
                                 override_num_blocks=len(shards))
        ds = ds.map_batches(
            ShardWorker, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1),
            num_cpus=cpus_per_worker,
            fn_constructor_kwargs={"cfg": asdict(cfg), "out_dir": str(out_dir), "threads": cpus_per_worker},
        )
        for row in ds.iter_rows():
            on_shard({"name": str(row["name"]), "rows": int(row["rows"]), "errors": int(row["errors"])})
    finally:
        if started:
            ray.shutdown()
    return {"engine": "ray", "workers": size}
