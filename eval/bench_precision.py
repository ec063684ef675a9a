"""What ``presslens bench`` says about precision: the CPU, the precision each system ran and why, the fp32
floor's bf16/int8 siblings, the accurate profile's target, and the per-stage profile of a served request.

The fp32 floor stays the denominator of ``fraction_of_floor`` (``eval.floor``); the bf16 and int8 floors
are the same FLOPs at this machine's torch bf16 ``mm`` and int8 ``_int_mm`` rates, shown beside it so a run
on a CPU with bf16/int8 units says how far the served precision could go.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .floor import matmul_gflops
from .tables import markdown_table

#: what the peers run: both are fp32 torch, whatever presslens chose
PEER_PRECISION = {"naive": "fp32 (torch, the plain transformers forward)",
                  "competent": "fp32 (torch, sentence-transformers encode)"}
ACCURATE = "accurate"


def precision_floors(flops_per_article: float, hidden: int, seconds: float) -> dict:
    out = {}
    for dtype in ("bf16", "int8"):
        print(f"measuring the {dtype} matmul rate ...", file=sys.stderr)
        try:
            mm = matmul_gflops(hidden, seconds=seconds, dtype=dtype)
        except (RuntimeError, ValueError) as exc:  # a torch build without the kernel
            out[dtype] = {"skipped": f"{type(exc).__name__}: {exc}"}
            continue
        out[dtype] = {"matmul_gflops": mm["gflops"], "articles_per_s": mm["gflops"] * 1e9 / flops_per_article}
    return out


def prepare_runtime(model_dir: str, runtime: str, precision: str, gate_dev: str | None = None) -> dict:
    """What ``presslens prepare`` does: the ONNX export, then the precision ladder's builds and gates (with
    the dev set where given), so the servers start as installed ones; what presslens will serve and why."""
    from presslens.model.runtime.loader import load_stance
    from presslens.model.runtime.onnx import onnxruntime_available

    if runtime == "torch" or not onnxruntime_available():
        return {"encoder": "torch", "precision": {"precision": "fp32", "why": "the torch runtime serves fp32"}}
    from presslens.model.runtime.loader import prepare_ladder
    from presslens.training.data import gate_dev_set

    print("preparing the ONNX Runtime export and the precision ladder (cached after the first run) ...",
          file=sys.stderr)
    t0 = time.perf_counter()
    fp32 = load_stance(model_dir, runtime=runtime).encoder
    meta = getattr(fp32, "meta", {})
    choice = prepare_ladder(model_dir, precision, gate_dev_set(gate_dev), say=lambda line: print(line, file=sys.stderr))
    return {"encoder": choice.get("runtime") or fp32.runtime, "precision": choice,
            "prepare_s": round(time.perf_counter() - t0, 2),
            **{k: meta[k] for k in ("graph", "fused", "probe_max_abs_diff") if k in meta}}


def accurate_target(name: str | None) -> tuple[str | None, str | None]:
    """(checkpoint directory, None) when the accurate profile (or the given model) can be benched here,
    else (None, why not)."""
    if not name:
        return None, "not asked for (--accurate-model '')"
    from presslens.model.encoder import ModelLoadError
    from presslens.model.profiles import resolve_stance
    from presslens.model.stance import encoder_sources, read_config

    try:
        path = resolve_stance(name)
        sources, _ = encoder_sources(read_config(Path(path)), Path(path))
    except (ModelLoadError, OSError) as exc:
        return None, str(exc)
    missing = [str(s) for s in sources if not Path(s).exists()]
    if missing:
        return None, f"its weights are not installed here: {', '.join(missing)}"
    return str(path), None


def run_profile(model_dir: str, mix: list[dict], levels, served: dict, runtime: str, precision: str) -> dict:
    from presslens.model.pipeline import Analyzer

    from .profile import stage_profile

    print("profiling the stages of a served request in-process ...", file=sys.stderr)
    analyzer = Analyzer.load(model_dir, runtime=runtime, precision=precision)
    return stage_profile(analyzer, mix, levels, served=served)


def cpu_dict() -> dict:
    from presslens.model.runtime.precision import cpu_info

    return cpu_info().to_dict()


def model_floor(model_dir: str, mix: list[dict], floor: dict) -> dict:
    """Another model's floors at the rates measured for the default's: its FLOPs per article differ."""
    from presslens.model.stance import StanceModel

    from .floor import encoder_cost

    cost = encoder_cost(StanceModel.from_pretrained(model_dir).encoder, mix)
    per = cost.flops / len(mix)
    return {"articles_per_s": floor["matmul_gflops"] * 1e9 / per, "flops_per_article": per,
            "tokens_per_article": cost.tokens / len(mix),
            "by_precision": {p: {**v, "articles_per_s": v["matmul_gflops"] * 1e9 / per}
                             for p, v in floor.get("by_precision", {}).items() if "matmul_gflops" in v}}


def cpu_line(cpu: dict) -> str:
    return f"- CPU: {cpu['model']}; flags of interest: {', '.join(cpu['flags']) or 'none'}."


def precision_lines(r: dict) -> list[str]:
    """The report's lines on precision: what each system ran and why, the gate's figures, the floors."""
    choice = (r.get("runtime") or {}).get("precision") or {}
    lines = [cpu_line(r["cpu"]),
             f"- presslens ran **{choice.get('precision', 'fp32')}** on {(r.get('runtime') or {}).get('encoder')} "
             f"(PRESSLENS_PRECISION={choice.get('requested', 'auto')}): {choice.get('why', 'n/a')}."]
    gate = choice.get("gate")
    if gate:
        lines.append(f"- Gate against fp32: {gate['summary']}.")
    for p, why in {**choice.get("refused", {}), **choice.get("skipped", {})}.items():
        lines.append(f"- {p}: not used ({why}).")
    lines += [f"- {peer} peer ran {what}." for peer, what in PEER_PRECISION.items()]
    acc = r.get("accurate") or {}
    if acc.get("skipped"):
        lines.append(f"- accurate profile: skipped ({acc['skipped']}).")
    elif acc:
        ac = (acc.get("runtime") or {}).get("precision") or {}
        lines.append(f"- accurate profile ({acc['model']}) ran {ac.get('precision', 'fp32')}: {ac.get('why', 'n/a')}; "
                     f"its own fp32 floor {acc['floor']['articles_per_s']:.2f} articles/s.")
    fl = r["floor"]
    sib = ", ".join(f"{p} {v['articles_per_s']:.2f} articles/s ({v['matmul_gflops']:.0f} G{'OP' if p == 'int8' else 'FLOP'}/s)"
                    if "articles_per_s" in v else f"{p} not measured ({v['skipped']})"
                    for p, v in fl.get("by_precision", {}).items())
    lines.append(f"- Floors: fp32 {fl['articles_per_s']:.2f} articles/s (the denominator of `fraction_of_floor`); "
                 f"{sib or 'bf16/int8 not measured'} (torch `mm` in bf16, `_int_mm` in int8, on this CPU).")
    return lines


def profile_section(profile: dict) -> list[str]:
    from .profile import profile_rows

    header, rows = profile_rows(profile)
    worst = max(v["not_encoder_share"] for v in profile.values())
    summ = max(v["share"].get("summarizer", 0.0) for v in profile.values())
    return ["## Where a served request's time goes", "",
            "The batch worker's steps replayed in-process on batches of as many articles as the service merges "
            "at each concurrency, with the served runtime and precision (`eval/profile.py`); `outside` is the "
            "served time per article at that level minus the replay (HTTP, validation, queue). Shares of the "
            "served time:", "", markdown_table(header, rows), "",
            f"Largest share outside the encoder: {worst:.1%} (the aim is under 15%); the summarizer's largest "
            f"share: {summ:.1%}.", ""]
