"""The bar checks of ``presslens batch`` (issue #14) on the 503-row corpus of scripts/batch_corpus.py.

Runs, back to back: the local engine, the Ray engine, and a Ray run killed with SIGKILL (its whole process
group) once about half its shards are committed and then rerun. For each run: wall time, the rate on the
command's last line, and the peak memory of the whole job (sum of PSS over the driver, its descendants and
its session: Ray's raylet, GCS and workers included), sampled every 0.2 s. Then it compares the rows of every
output directory and prints one JSON report (also written next to the outputs).

    python scripts/batch_bar.py --corpus /work/cache/batch/corpus.jsonl --work /work/cache/batch/bar
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil


def _job_processes(root: psutil.Process) -> list[psutil.Process]:
    procs = {root.pid: root}
    try:
        for child in root.children(recursive=True):
            procs[child.pid] = child
    except psutil.Error:
        pass
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == root.pid:
                procs[p.pid] = p
        except (OSError, psutil.Error):
            continue
    return list(procs.values())


class PeakMemory(threading.Thread):
    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.every, self.peak, self.peak_procs, self.stop = psutil.Process(pid), every, 0, 0, False

    def run(self) -> None:
        while not self.stop:
            total, n = 0, 0
            for p in _job_processes(self.root):
                try:
                    total += p.memory_full_info().pss
                    n += 1
                except psutil.Error:
                    continue
            if total > self.peak:
                self.peak, self.peak_procs = total, n
            time.sleep(self.every)


def run_batch(corpus: Path, out: Path, engine: str, shard_rows: int, kill_after_shards: int | None = None) -> dict:
    cmd = [sys.executable, "-m", "presslens.api.cli", "batch", str(corpus), "--out", str(out), "--engine", engine,
           "--shard-rows", str(shard_rows), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    mem = PeakMemory(proc.pid)
    mem.start()
    killed = False
    if kill_after_shards is not None:
        while proc.poll() is None:
            if len(list(out.glob("*.parquet"))) >= kill_after_shards:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.2)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    mem.stop = True
    mem.join()
    survivors = []
    if killed:
        time.sleep(5)
        survivors = [p.pid for p in psutil.process_iter() if _in_session(p, proc.pid)]
    return {"engine": engine, "rc": proc.returncode, "wall_s": round(wall, 1), "killed": killed,
            "survivors_after_kill": survivors, "last_line": (stdout.strip().splitlines() or [""])[-1],
            "stderr_tail": stderr.strip().splitlines()[-3:], "peak_pss_mb": round(mem.peak / 2**20),
            "peak_processes": mem.peak_procs, "committed": len(list(out.glob("*.parquet")))}


def _in_session(p: psutil.Process, sid: int) -> bool:
    try:
        return os.getsid(p.pid) == sid
    except OSError:
        return False


def rows(out: Path) -> list[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(f) for f in sorted(out.glob("*.parquet"))]
    table = pa.concat_tables(tables, promote_options="permissive")
    return sorted(table.to_pylist(), key=lambda r: (r["input_path"], r["input_row"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/cache/batch/corpus.jsonl"))
    ap.add_argument("--work", type=Path, default=Path("/work/cache/batch/bar"))
    ap.add_argument("--shard-rows", type=int, default=50)
    ap.add_argument("--only", choices=["local", "ray", "kill"], action="append")
    ns = ap.parse_args()
    steps = ns.only or ["local", "ray", "kill"]
    ns.work.mkdir(parents=True, exist_ok=True)
    report: dict = {"load_avg_start": os.getloadavg()}
    for step in steps:
        out = ns.work / step
        shutil.rmtree(out, ignore_errors=True)
        if step == "kill":
            n_shards = -(-sum(1 for line in ns.corpus.open("rb") if line.strip()) // ns.shard_rows)
            report["kill"] = run_batch(ns.corpus, out, "ray", ns.shard_rows, kill_after_shards=n_shards // 2)
            report["kill_rerun"] = run_batch(ns.corpus, out, "ray", ns.shard_rows)
        else:
            report[step] = run_batch(ns.corpus, out, step, ns.shard_rows)
        print(json.dumps({step: report.get(step) or report.get("kill_rerun")}), flush=True)
    results = {step: rows(ns.work / step) for step in steps}
    ref_name = steps[0]
    ref = results[ref_name]
    report["rows"] = {k: len(v) for k, v in results.items()}
    report["error_ids"] = {k: sorted(r["id"] for r in v if r["error"]) for k, v in results.items()}
    report["same_rows_as_" + ref_name] = {k: v == ref for k, v in results.items()}
    report["load_avg_end"] = os.getloadavg()
    (ns.work / "bar.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
