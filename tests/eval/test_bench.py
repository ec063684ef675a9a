"""The benchmark: the article mix, the compute floor, the naive peer, and one end-to-end run on a tiny model."""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
from presslens.eval import bench
from presslens.eval.floor import encoder_cost, matmul_gflops
from presslens.eval.load import request_sequence
from presslens.eval.server import ServerProcess, ServerStartError, free_port, peak_rss_mb


@pytest.fixture(scope="module")
def mix():
    return bench.build_article_mix([p.read_text(encoding="utf-8") for p in bench.seed_sources()], (40, 150), 2)


def test_seed_sources_are_found():
    assert len(bench.seed_sources()) == 5


def test_article_mix_is_fixed_and_sized(mix):
    again = bench.build_article_mix([p.read_text(encoding="utf-8") for p in bench.seed_sources()], (40, 150), 2)
    assert mix == again
    assert [a["id"] for a in mix] == ["len40-v0", "len150-v0", "len40-v1", "len150-v1"]
    for a in mix:
        # Whole sentences up to the target: at least the target, and not a whole extra paragraph beyond it.
        assert a["target_words"] <= a["words"] < a["target_words"] + 80
        body = a["text"].split("\n\n", 1)[1]
        assert body.rstrip()[-1] in ".!?\"”’'", body[-40:]
    assert mix[0]["text"] != mix[2]["text"]  # variants start at different paragraphs
    with pytest.raises(bench.BenchError, match="no paragraphs"):
        bench.build_article_mix(["", "   "])


def test_request_sequence_repeats_the_mix_in_order(mix):
    seq = request_sequence(mix, 6)
    assert [a["id"] for a in seq] == [a["id"] for a in mix] + [mix[0]["id"], mix[1]["id"]]


def test_encoder_cost_counts_tokens_and_flops(tiny_encoder_dir):
    from presslens.model.encoder import Encoder
    from presslens.model.text import Article

    enc = Encoder(tiny_encoder_dir)
    arts = [{"id": "a", "text": "Talks in London.\n\nThe minister said the talks would go on."}]
    cost = encoder_cost(enc, arts)
    manual = sum(p.numel() for n, p in enc.model.named_parameters()
                 if not n.startswith(("embeddings", "pooler")))
    assert cost.params_nonembedding == manual
    lens = np.array(enc.count_tokens([s.text for s in Article(arts[0]["text"]).sentences]))
    assert cost.tokens == lens.sum() and cost.sentences == len(lens)
    assert cost.flops == pytest.approx(2 * manual * lens.sum() + 4 * 2 * 32 * (lens ** 2).sum())


def test_matmul_rate_is_measured():
    mm = matmul_gflops(shapes=[(64, 64, 64), (128, 32, 64)], seconds=0.2)
    assert mm["gflops"] > 0 and set(mm["by_shape"]) == {"64x64x64", "128x32x64"}
    assert mm["gflops"] == max(mm["by_shape"].values())


def test_peak_rss_and_free_port():
    rss = peak_rss_mb(os.getpid())
    assert rss is None or rss > 10  # a Python with numpy loaded holds well over 10 MiB
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_argument_parsing_rejects_bad_values():
    import argparse

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    ns = p.parse_args(["--out", "x"])
    assert ns.concurrency == [1, 8, 32] and ns.lengths == [80, 200, 400, 800]
    for bad in (["--concurrency", "1,0"], ["--concurrency", "a"], ["--limit", "2,3"], ["--requests", "0"]):
        with pytest.raises(SystemExit):
            p.parse_args(["--out", "x", *bad])


def test_naive_peer_gives_the_library_result(tiny_stance_dir, seed_texts):
    from fastapi.testclient import TestClient
    from presslens.eval.naive_server import create_naive_app
    from presslens.model.pipeline import Analyzer
    from presslens.model.text import Article

    expected = Analyzer.load(tiny_stance_dir).analyze([Article(seed_texts["000"], id="s0")])[0].to_dict()
    with TestClient(create_naive_app(str(tiny_stance_dir))) as client:
        r = client.post("/v1/analyze", json={"articles": [{"id": "s0", "text": seed_texts["000"]}]})
        assert r.status_code == 200
        got = r.json()[0]
        assert got["label"] == expected["label"] and got["commentary"] == expected["commentary"]
        assert [s["text"] for s in got["summary"]] == [s["text"] for s in expected["summary"]]
        assert got["editorial_probability"] == pytest.approx(expected["editorial_probability"], abs=1e-3)
        assert client.post("/v1/analyze", json={"articles": []}).status_code == 422


def test_competent_peer_gives_the_library_result(tiny_stance_dir, seed_texts):
    """sentence-transformers over the checkpoint's own weights: the same embeddings, so the same answers."""
    import numpy as np
    from fastapi.testclient import TestClient
    from presslens.eval.competent_server import SentenceTransformerEncoder, use_sentence_transformers
    from presslens.eval.naive_server import create_naive_app
    from presslens.model.pipeline import Analyzer
    from presslens.model.text import Article

    analyzer = Analyzer.load(tiny_stance_dir, runtime="torch", precision="fp32")  # the peers run plain torch
    texts = [s.text for s in Article(seed_texts["004"], id="s4").sentences]
    st = SentenceTransformerEncoder(analyzer.encoder)
    assert np.abs(st.encode(texts) - analyzer.encoder.encode(texts)).max() < 1e-4
    expected = [r.to_dict() for r in analyzer.analyze([Article(seed_texts[k], id=k) for k in ("000", "004")])]
    app = create_naive_app(str(tiny_stance_dir), setup=use_sentence_transformers, per_request=True)
    with TestClient(app) as client:
        r = client.post("/v1/analyze", json={"articles": [{"id": k, "text": seed_texts[k]} for k in ("000", "004")]})
        assert r.status_code == 200
        got = r.json()
        assert [g["label"] for g in got] == [e["label"] for e in expected]
        assert [g["commentary"] for g in got] == [e["commentary"] for e in expected]
        assert [[s["text"] for s in g["summary"]] for g in got] == [[s["text"] for s in e["summary"]] for e in expected]


def test_served_floor_is_the_floor_of_the_precision_served():
    r = {"runtime": {"precision": {"precision": "bf16"}}, "best_articles_per_s": {"presslens": 30.0},
         "floor": {"articles_per_s": 20.0, "by_precision": {"bf16": {"articles_per_s": 40.0}}}}
    assert bench.served_floor(r) == {"precision": "bf16", "served_floor_articles_per_s": 40.0,
                                     "fraction_of_served_floor": 0.75}
    r["floor"]["by_precision"] = {"bf16": {"skipped": "no kernel"}}
    assert bench.served_floor(r)["fraction_of_served_floor"] is None
    r["runtime"] = {"encoder": "torch", "precision": {"precision": "fp32"}}
    assert bench.served_floor(r)["fraction_of_served_floor"] == 1.5


def test_bench_end_to_end_on_a_tiny_model(tiny_stance_dir, tmp_path, capsys):
    """All three real servers start as subprocesses on loopback, answer, are measured and are stopped."""
    out = tmp_path / "bench"
    rc = bench.main(["--out", str(out), "--model", str(tiny_stance_dir), "--concurrency", "1,2",
                     "--lengths", "30,60", "--requests", "2", "--naive-requests", "2", "--competent-requests", "2",
                     "--matmul-seconds", "0.2", "--level-seconds", "60", "--startup-timeout", "120",
                     "--accurate-model", str(tiny_stance_dir)])
    captured = capsys.readouterr()
    assert rc == 0, [ln for ln in captured.err.splitlines() if "error" in ln.lower()]
    printed = json.loads(captured.out)
    data = json.loads((out / "bench.json").read_text())
    assert set(printed) == {"speedup_vs_naive", "speedup_vs_competent", "fraction_of_floor",
                            "fraction_of_served_floor", "rss_mb", "cold_start_s", "bars_met"}
    for key in set(printed) - {"bars_met"}:
        assert isinstance(data[key], float) and data[key] > 0, key
    assert printed["bars_met"]["rss_mb"] == (data["rss_mb"] <= 500)
    assert data["runtime"]["encoder"] == "onnx" and data["runtime"]["probe_max_abs_diff"] < 1e-4
    for system in ("presslens", "naive", "competent"):
        for c in ("1", "2"):
            level = data["levels"][system][c]
            assert level["ok"] == 2 and level["errors"] == 0
            assert 0 < level["p50_ms"] <= level["p95_ms"] and level["articles_per_s"] > 0
    best = max(v["articles_per_s"] for v in data["levels"]["presslens"].values())
    assert data["fraction_of_floor"] == pytest.approx(best / data["floor"]["articles_per_s"], rel=1e-3, abs=1e-4)
    assert data["label_agreement"] == {"naive": 1.0, "competent": 1.0}  # same checkpoint, same answers
    best_competent = max(v["articles_per_s"] for v in data["levels"]["competent"].values())
    assert data["speedup_vs_competent"] == pytest.approx(best / best_competent, rel=1e-3)
    # What it compared: the CPU, each system's precision, the floors beside fp32's, the accurate rows, the profile.
    assert data["cpu"]["model"] and isinstance(data["cpu"]["flags"], list)
    assert data["runtime"]["precision"]["precision"] == "fp32"  # the tests' PRESSLENS_PRECISION
    # served at fp32, the served floor is the fp32 floor
    assert data["precision"] == "fp32" and data["fraction_of_served_floor"] == data["fraction_of_floor"]
    assert "Served precision **fp32**" in (out / "report.md").read_text()
    assert data["runtime"]["precision"]["why"] == "requested (PRESSLENS_PRECISION=fp32)"
    for p in ("bf16", "int8"):
        fl = data["floor"]["by_precision"][p]
        assert fl["articles_per_s"] == pytest.approx(fl["matmul_gflops"] * 1e9 / data["floor"]["flops_per_article"],
                                                     rel=1e-3)
    acc = data["accurate"]
    assert acc["model"] == str(tiny_stance_dir) and set(acc["levels"]) == {"1", "2"}
    assert all(v["ok"] == 2 for v in acc["levels"].values()) and acc["rss_mb"] > 0
    assert "accurate" not in data["levels"] and "speedup_vs_accurate" not in data
    for c in ("1", "2"):
        prof = data["profile"][c]
        assert prof["batch_articles"] == int(c) and prof["seconds_per_article"]["encoder"] > 0
        # bench.json keeps 4 digits, so the rounded shares add up to one within a few 1e-4
        assert sum(prof["share"].values()) == pytest.approx(1.0, abs=1e-3)
        assert prof["not_encoder_share"] == pytest.approx(1 - prof["share"]["encoder"], abs=1e-3)
    report = (out / "report.md").read_text()
    assert "- CPU: " in report and "- presslens ran **fp32**" in report and "naive peer ran fp32" in report
    assert "| compute floor (bf16 GEMM rate) |" in report and "| presslens (accurate) | 1 |" in report
    assert "## Where a served request's time goes" in report and "| json_parse |" in report
    assert "| presslens | 1 |" in report and "| naive | 2 |" in report and "| competent | 2 |" in report
    assert "| competent peer |" in report and "| compute floor (fp32 GEMM rate) |" in report
    assert "throughput.png" in report
    assert (out / "throughput.png").read_bytes()[:4] == b"\x89PNG"
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "bench" and len(run["data"]) == 5 and all(d["sha256"] for d in run["data"])
    # The servers are gone: nothing listens on their ports any more.
    for log in sorted((out / "logs").glob("*-server.log")):
        assert log.stat().st_size > 0


def test_server_that_exits_or_hangs_is_reported_and_stopped(tmp_path):
    import sys
    import time

    dead = ServerProcess("dead", [sys.executable, "-c", "print('boom: no model'); raise SystemExit(3)"],
                        free_port(), tmp_path / "dead.log")
    with pytest.raises(ServerStartError, match=r"dead server exited with code 3 before it was ready: boom"):
        dead.start(timeout=30)
    dead.stop()
    slow = ServerProcess("slow", [sys.executable, "-c", "import time; time.sleep(60)"], free_port(),
                        tmp_path / "slow.log")
    t0 = time.monotonic()
    with pytest.raises(ServerStartError, match="slow server was not ready after 1 s"):
        slow.start(timeout=1.0)
    pid = slow.proc.pid
    slow.stop()
    assert time.monotonic() - t0 < 20
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stop() ended it


def test_bench_rejects_missing_article_files(tmp_path, capsys):
    rc = bench.main(["--out", str(tmp_path / "b"), "--articles", str(tmp_path / "nope.txt")])
    assert rc == 2 and "nope.txt: no such file" in capsys.readouterr().err
