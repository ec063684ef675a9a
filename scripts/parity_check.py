"""One article, the same numbers from every entry point (issue #27's exactness bar), on the real service.

Starts ``presslens serve`` (``PRESSLENS_PRECISION`` as given, default ``auto``) and reads seed 004's sentence
probabilities five ways: posted alone; inside a 12-article request; posted alone while 16 other clients post
mixed requests at the same time; from ``presslens analyze`` (a separate process, same settings); and, after
a hot reload (``POST /v1/models/reload``) of a copy of the same checkpoint, from the server again, compared
with ``presslens analyze --model`` on that copy. Prints one JSON report (max absolute differences; the API
and the CLI round probabilities to 4 decimals) and writes it to ``--out``.

    .venv/bin/python scripts/parity_check.py --out reports/parity.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from presslens.eval.server import running_server
from presslens.model.profiles import resolve_stance
from presslens.model.settings import child_env

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "tests" / "fixtures").glob("00[0-4]_*.txt"))
TOKEN = "parity-admin-token"


def _probs(result: dict) -> list[float]:
    return [s["probability"] for s in result["sentences"]] + [result["editorial_probability"]]


def _post(url: str, articles: list[dict]) -> list[dict]:
    r = httpx.post(f"{url}/v1/analyze", json={"articles": articles}, timeout=300)
    r.raise_for_status()
    return r.json()["results"]


def _cli(path: Path, model: str | None, env: dict[str, str]) -> list[float]:
    cmd = [sys.executable, "-m", "presslens.api.cli", "analyze", str(path)] + (["--model", model] if model else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=True)
    return _probs(json.loads(proc.stdout)[0])


def _diff(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b), "different sentence counts"
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--out", type=Path, default=Path("reports/parity.json"))
    ns = ap.parse_args(argv)
    texts = {p.stem[:3]: p.read_text(encoding="utf-8") for p in SEEDS}
    target = {"id": "004", "text": texts["004"]}
    others = [{"id": f"{k}-{i}", "text": t} for i in range(3) for k, t in texts.items() if k != "004"]
    work = Path(tempfile.mkdtemp(prefix="parity-"))
    models = work / "models"
    shutil.copytree(resolve_stance("default"), models / "stance-copy")
    settings = {"PRESSLENS_PRECISION": ns.precision, "PRESSLENS_ADMIN_TOKEN": TOKEN,
                "PRESSLENS_MODELS_DIR": str(models)}
    env = child_env(**settings)
    report: dict = {"precision_requested": ns.precision}
    try:
        with running_server(work / "server", env=settings) as server:
            url = server.url
            report["served"] = httpx.get(f"{url}/info", timeout=30).json().get("runtime", {})
            alone = _probs(_post(url, [target])[0])
            batch = _post(url, others[:6] + [target] + others[6:11])
            in_batch = _probs(next(a for a in batch if a["id"] == "004"))
            with ThreadPoolExecutor(17) as pool:
                noise = [pool.submit(_post, url, others[i % len(others): i % len(others) + 1 + i % 4])
                         for i in range(16)]
                amid = _probs(pool.submit(_post, url, [target]).result()[0])
                for f in noise:
                    f.result()
            cli = _cli(SEEDS[4], None, env)
            r = httpx.post(f"{url}/v1/models/reload", json={"checkpoint": "stance-copy"},
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600)
            r.raise_for_status()
            reloaded = _probs(_post(url, [target])[0])
            cli_copy = _cli(SEEDS[4], str(models / "stance-copy"), env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.update({
        "sentences": len(alone) - 1,
        "max_abs_diff": {"alone_vs_12_article_request": _diff(alone, in_batch),
                         "alone_vs_amid_16_concurrent": _diff(alone, amid),
                         "alone_vs_cli": _diff(alone, cli),
                         "after_reload_vs_cli_same_checkpoint": _diff(reloaded, cli_copy)},
        "rounding": "the API and the CLI give probabilities to 4 decimals",
    })
    report["bar_met"] = (max(v for k, v in report["max_abs_diff"].items() if not k.startswith("after")) <= 1e-5
                         and report["max_abs_diff"]["after_reload_vs_cli_same_checkpoint"] <= 1e-4)
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0 if report["bar_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
