"""One ``presslens batch`` run: plan (or resume) the job in the output directory, run the engine on the shards
not yet committed, and count what the directory holds at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from presslens.model.profiles import model_fingerprint

from . import sources, store
from .engines import JobConfig, ray_available, run_local, run_ray


class BatchError(Exception):
    """A run that could not finish (a shard failed, the engine failed); committed shards are kept."""


@dataclass
class Outcome:
    rows: int  # rows in the output directory (every input row once the job is complete)
    errors: int  # of those, rows with an error
    analysed: int  # rows this run processed
    skipped_shards: int  # shards already committed by an earlier run
    seconds: float  # this run, engine start to last commit
    engine: str
    workers: int

    @property
    def rate(self) -> float:
        return self.analysed / self.seconds if self.seconds > 0 else 0.0


def job_description(cfg: JobConfig, paths: list[Path], shard_rows: int) -> dict:
    """What makes two runs the same job: the same input files (unchanged), settings and model weights."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("batch_size", "stance", "summarizer")}
    # The weights, not the names: model.profiles resolves a profile and lists the summarizers that may serve
    # (without loading torch: the Ray driver never loads a model), so a retrained profile or another
    # summarizer is another job.
    settings.update(shard_rows=shard_rows, model=model_fingerprint(cfg.stance, cfg.summarizer))
    return {"inputs": [sources.fingerprint(p) for p in paths], "settings": settings}


def plan_job(out_dir: Path, inputs: list[str], cfg: JobConfig, shard_rows: int) -> list[sources.Shard]:
    """The job's shards: from DIR's manifest when it is this same job, else planned and recorded there."""
    paths = sources.discover(inputs)
    job = job_description(cfg, paths, shard_rows)
    manifest = store.read_manifest(out_dir)
    if manifest is not None:
        why = store.mismatch(manifest, job)
        if why:
            raise store.OutputError(f"{out_dir} holds another batch job's output ({why}); use a new --out")
        return store.manifest_shards(manifest)
    if any(out_dir.glob("*.parquet")):
        raise store.OutputError(f"{out_dir}: holds Parquet files but no batch manifest; use a new --out")
    shards = sources.plan_all(paths, shard_rows)
    store.write_manifest(out_dir, job, shards)
    return shards


def _root_cause(exc: BaseException) -> str:
    """One line for a failure that may come wrapped by Ray (RayTaskError -> the worker's exception)."""
    seen = exc
    for _ in range(10):
        inner = getattr(seen, "cause", None) or seen.__cause__
        if inner is None or inner is seen:
            break
        seen = inner
    lines = [ln for ln in str(seen).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines else type(seen).__name__
    return text if isinstance(seen, sources.InputError) else f"{type(seen).__name__}: {text}"


def run_job(inputs: list[str], out: str, cfg: JobConfig, *, engine: str | None = None, shard_rows: int = 200,
            address: str | None = None, workers: int | None = None, cpus_per_worker: int = 1,
            on_start: Callable[[int, int], None] | None = None,
            on_rows: Callable[[int], None] | None = None) -> Outcome:
    """Run (or finish) a batch job. ``on_start(rows_to_do, rows_already_done)`` and ``on_rows(n)`` feed a
    progress display. Raises sources.InputError / store.OutputError (nothing done) or BatchError."""
    engine = engine or ("ray" if ray_available() else "local")
    if engine == "ray" and not ray_available():
        raise BatchError("--engine ray needs Ray: pip install 'presslens[ray]' (or use --engine local)")
    out_dir = store.prepare_dir(out)
    with store.JobLock(out_dir):
        shards = plan_job(out_dir, inputs, cfg, shard_rows)
        store.remove_temporaries(out_dir)
        todo = [s for s in shards if not store.is_done(out_dir, s)]
        if on_start:
            on_start(sum(s.rows for s in todo), sum(s.rows for s in shards) - sum(s.rows for s in todo))
        analysed = 0

        def shard_done(stats: dict) -> None:
            nonlocal analysed
            analysed += stats["rows"]
            if engine == "ray" and on_rows:  # the local engine reports every batch as it goes
                on_rows(stats["rows"])

        t0 = time.perf_counter()
        info = {"engine": engine, "workers": 0}
        try:
            if todo and engine == "ray":
                info = run_ray(cfg, todo, out_dir, shard_done, address=address, workers=workers,
                               cpus_per_worker=cpus_per_worker)
            elif todo:
                info = run_local(cfg, todo, out_dir, on_rows or (lambda n: None), shard_done)
        except (sources.InputError, store.OutputError):
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one line for the user; committed shards stay for a rerun
            raise BatchError(f"the batch stopped: {_root_cause(exc)} (finished shards are kept; "
                             "rerun the same command to resume)") from exc
        seconds = time.perf_counter() - t0
        rows, errors = store.tally(out_dir, shards)
    return Outcome(rows, errors, analysed, len(shards) - len(todo), seconds, info["engine"], info["workers"])
