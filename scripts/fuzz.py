"""``make fuzz``: schemathesis against the running service's own OpenAPI document, all endpoints, all checks.

Starts ``presslens serve`` on a loopback port (an API key, an admin token, a temporary models folder and
feedback database), runs ``st run http://127.0.0.1:PORT/openapi.json --checks all`` bounded by examples per
operation (``FUZZ_MAX``) and wall time (``FUZZ_SECONDS``), then reads the server's own ``/metrics`` to count
what it answered. Prints a summary; exits 1 on any schemathesis failure, any 5xx answer, fewer requests
than ``FUZZ_MIN_REQUESTS``, or a run that did not finish in time.

One allowance, stated in the generated config: for the analysis operations (analyze, summarize, classify,
coverage) a schema-valid article may still be refused with 422 because it holds no sentence after cleaning
("0", "!!!") or its HTML has no article text. JSON Schema cannot express that; the 422 names it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from presslens.eval.server import running_server  # noqa: E402
from presslens.model.errors import ModelLoadError  # noqa: E402
from presslens.model.profiles import resolve_stance  # noqa: E402

API_KEY = "fuzz-api-key"
ADMIN_TOKEN = "fuzz-admin-token"


def _config(path: Path, request_timeout: float) -> Path:
    # Two tokens on purpose: the API key must not open the admin endpoint (ignored_auth checks both).
    path.write_text(f"""\
request-timeout = {request_timeout}
suppress-health-check = ["too_slow", "data_too_large", "filter_too_much"]
headers = {{ Authorization = "Bearer {API_KEY}" }}

[dictionaries]
# "good" is a real checkpoint in the models folder, so some reloads go all the way and swap it in.
checkpoints = {{ values = ["good", "missing", "..", "."] }}

[[operations]]
include-path = "/v1/models/reload"
headers = {{ Authorization = "Bearer {ADMIN_TOKEN}" }}
parameters = {{ "body.checkpoint" = {{ dictionary = "checkpoints", probability = 0.5 }} }}

[[operations]]
include-path-regex = "^/v1/(analyze|summarize|classify|coverage)$"
# Valid JSON can still hold no article (no sentence after cleaning, HTML without text): 422 names it.
checks.positive_data_acceptance.expected-statuses = ["2XX", "401", "403", "404", "409", "413", "422", "429", "503"]
""")
    return path


def _server_counts(url: str, since: dict[str, int] | None = None) -> dict[str, int]:
    """Requests the server answered, by status code, from its own Prometheus counter (minus ``since``)."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=10).text
    counts: dict[str, int] = {}
    for m in re.finditer(r'^presslens_requests_total\{[^}]*status="(\d+)"[^}]*\} ([0-9.e+]+)$', text, re.M):
        counts[m.group(1)] = counts.get(m.group(1), 0) + int(float(m.group(2)))
    since = since or {}
    return {code: n - since.get(code, 0) for code, n in counts.items() if n - since.get(code, 0)}


def _run_bounded(cmd: list[str], cwd: Path, seconds: float) -> tuple[str, int, bool]:
    """(output, exit code, timed out) of ``cmd``, interrupted like Ctrl-C after ``seconds``."""
    proc = subprocess.Popen(cmd, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGINT)  # schemathesis prints its summary on Ctrl-C
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return out, proc.returncode, timed_out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-examples", type=int, default=int(os.environ.get("FUZZ_MAX", "200")),
                    help="schemathesis examples per operation and phase (FUZZ_MAX, default 200)")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", "480")),
                    help="wall-time bound for the schemathesis run (FUZZ_SECONDS, default 480)")
    ap.add_argument("--min-requests", type=int, default=int(os.environ.get("FUZZ_MIN_REQUESTS", "1000")),
                    help="fail if the server answered fewer requests (FUZZ_MIN_REQUESTS, default 1000)")
    # One worker: with several, hypothesis describes strategies from threads and CPython 3.11.7's ast.parse is
    # not thread-safe ("AST constructor recursion depth mismatch"), an error in the fuzzer, not the service.
    ap.add_argument("--workers", type=int, default=int(os.environ.get("FUZZ_WORKERS", "1")))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20240607")))
    ap.add_argument("--model", default=os.environ.get("FUZZ_MODEL") or None,
                    help="stance checkpoint to serve (default: the shipped one)")
    ns = ap.parse_args(argv)
    try:
        stance = resolve_stance(ns.model)  # a profile name or a checkpoint directory, as the server takes it
    except ModelLoadError as exc:
        print(f"fuzz: error: {exc}", file=sys.stderr)
        return 2
    if not (stance / "config.json").is_file():
        print(f"fuzz: error: --model {ns.model}: no stance checkpoint at {stance}", file=sys.stderr)
        return 2

    st = shutil.which("st", path=os.path.dirname(sys.executable)) or shutil.which("st")
    if st is None:
        print("fuzz: error: schemathesis (st) is not installed; install the test extra", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="presslens-fuzz-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        shutil.copytree(stance, models / "good")
        env = {"PRESSLENS_API_KEY": API_KEY, "PRESSLENS_ADMIN_TOKEN": ADMIN_TOKEN, "PRESSLENS_MODELS_DIR": str(models)}
        args = ["--model", ns.model] if ns.model else []
        with running_server(work / "server", env, args=args) as server:
            # Where the server's own URL is not loopback the run would leave this machine: refuse.
            assert server.url.startswith("http://127.0.0.1:"), server.url
            before = _server_counts(server.url)  # the start-up polls of /readyz are not the fuzzer's
            cfg = _config(work / "schemathesis.toml", request_timeout=60)
            cmd = [st, "--config-file", str(cfg), "run", server.url + "/openapi.json", "--checks", "all",
                   "--max-examples", str(ns.max_examples), "--seed", str(ns.seed), "--workers", str(ns.workers),
                   "--no-shrink", "--generation-database", "none", "--no-color",
                   "--report", "junit", "--report-dir", str(work / "report")]
            out, returncode, timed_out = _run_bounded(cmd, work, ns.seconds)
            counts = _server_counts(server.url, before)
            server_log = server.log_tail(400)
    elapsed = time.monotonic() - t0

    print(out.rstrip()[-20000:] if returncode else "\n".join(out.rstrip().splitlines()[-25:]))
    total = sum(counts.values())
    server_errors = {code: n for code, n in counts.items() if code.startswith("5")}
    internal = sum(n for code, n in server_errors.items() if code == "500")
    generated = re.search(r"(\d+) generated", out)
    tracebacks = server_log.count("Traceback")
    print("\n== presslens fuzz summary ==")
    print(f"schemathesis: exit {returncode}{' (timed out)' if timed_out else ''}, "
          f"{generated.group(1) if generated else '?'} test cases generated, checks=all, "
          f"max-examples={ns.max_examples}, seed={ns.seed}")
    print(f"server answered {total} requests: " + ", ".join(f"{c}: {n}" for c, n in sorted(counts.items())))
    print(f"server errors (5xx): {sum(server_errors.values())} (500: {internal}); tracebacks in server log: {tracebacks}")
    print(f"wall time: {elapsed:.0f} s")
    problems = []
    if timed_out:
        problems.append(f"did not finish within {ns.seconds:g} s")
    if returncode:
        problems.append(f"schemathesis reported failures (exit {returncode})")
    if server_errors:
        problems.append(f"{sum(server_errors.values())} server errors")
    if tracebacks:
        problems.append(f"{tracebacks} tracebacks in the server log")
    if total < ns.min_requests:
        problems.append(f"only {total} requests, fewer than {ns.min_requests}")
    print("result: " + ("FAIL: " + "; ".join(problems) if problems else "PASS"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
