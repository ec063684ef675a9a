"""The precision half of ``presslens prepare``: build and gate each rung the setting would try, then say
what would serve and why (``model.precision``)."""

from __future__ import annotations

from pathlib import Path


def load_dev(path: str | None):
    """``--gate-dev FILE`` as a ``model.gate.DevSet`` (None without one); a bad file raises ``DataError``."""
    if not path:
        return None
    from model.gate import DevSet
    from training.data import load_sentences

    data = load_sentences(path)
    return DevSet.of(data.texts, data.labels, Path(path).name)


def prepare_precisions(stance_dir: Path, requested: str, dev_file: str | None = None) -> dict:
    """Gate the rungs ``requested`` tries on this CPU, top first, down to the first that passes; prints one
    line per rung and the choice; returns the choice (``precision_choice``)."""
    from model.encoder import ModelLoadError
    from model.gate import summary
    from model.precision import cpu_info, plan
    from model.prepare import prepare_and_gate
    from model.stance import StanceModel

    dev = load_dev(dev_file)
    cpu = cpu_info()
    tries, skipped = plan(requested, cpu)
    print(f"CPU: {cpu.model}; flags: {', '.join(cpu.to_dict()['flags']) or 'none of interest'}")
    for p, why in skipped.items():
        print(f"{p}: skipped ({why})")
    for p, _why in tries:
        if p == "fp32":
            break
        try:
            verdict = prepare_and_gate(stance_dir, p, dev)
        except ModelLoadError as exc:
            print(f"{p}: could not be prepared: {exc}")
            continue
        print(f"{p} ({verdict['backend']}): {'passed' if verdict['passed'] else 'refused by'} the gate: "
              f"{summary(verdict)}")
        if verdict["passed"]:
            break
    choice = StanceModel.from_pretrained(stance_dir, runtime="onnx", precision=requested).encoder.precision_choice
    print(f"PRESSLENS_PRECISION={requested} serves {choice['precision']}: {choice['why']}")
    return choice
