"""Training interrupted mid-way (Ctrl-C or kill -9 of ``presslens train stance``) leaves the previous
checkpoint byte for byte as it was, loadable, and no temporary directory behind."""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from presslens.model.stance import StanceModel

ROOT = Path(__file__).resolve().parents[2]

_NEUTRAL = ["The ministry said talks would resume on {d}.", "Officials met in London on {d} to discuss sanctions.",
            "The vote is scheduled for {d}, the election office said.", "Prices rose 2 percent on {d}, data showed."]
_EDITORIAL = ["Frankly, the talks on {d} were a waste of everyone's time.", "I think the plan for {d} is a disgrace.",
              "No doubt this {d} summit will fail, as it deserves to.", "What a shameful week it was, {d}."]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@pytest.fixture()
def data(tmp_path) -> Path:
    import csv

    path = tmp_path / "train.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for d in _DAYS:
            w.writerows([(t.format(d=d), "neutral") for t in _NEUTRAL])
            w.writerows([(t.format(d=d), "editorial") for t in _EDITORIAL])
    return path


def _snapshot(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _as_from_a_terminal() -> None:
    """In the child: SIGINT delivered and at its default, as a shell gives a command it starts. A child
    inherits its parent's signal mask and ignored signals, and libraries loaded earlier in this test
    session (Ray's, grpc's threads) may leave SIGINT blocked in the pytest process."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _train(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "presslens.api.cli", "train", "stance", *args], cwd=str(ROOT), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_terminal, **kw)


def _stderr_lines(proc: subprocess.Popen) -> queue.Queue:
    """The child's stderr line by line (``None`` at its end), read by a thread, so a wait on it can time out."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue, prefix: str, timeout: float) -> None:
    """Until the child writes a line starting with ``prefix``; fails on timeout or if the child ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"no line starting {prefix!r} from the child within {timeout:.0f} s")
        if line is None:
            pytest.fail(f"the child exited before writing a line starting {prefix!r}")
        if line.startswith(prefix):
            return


def _rest(lines: queue.Queue, timeout: float) -> str:
    """What the child wrote after the lines already read, once it has exited."""
    out = []
    while (line := lines.get(timeout=timeout)) is not None:
        out.append(line)
    return "".join(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_interrupted_training_keeps_the_previous_checkpoint(tiny_encoder_dir, data, tmp_path, sig):
    models = tmp_path / "models"
    out = models / "stance"
    common = ["--data", str(data), "--encoder", str(tiny_encoder_dir), "--out", str(out)]
    first = _train([*common, "--epochs", "20"])
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    before = _snapshot(out)
    assert {"config.json", "head.safetensors"} <= set(before)

    # A run that would take hours, interrupted once it is inside the training loop.
    proc = _train([*common, "--epochs", "100000000", "--seed", "99"])
    lines = _stderr_lines(proc)
    try:
        _wait_for_line(lines, "fast head: 100000000 epochs", 120)  # logged as the epoch loop starts
        assert proc.poll() is None, "training finished before it could be interrupted"
        status = Path(f"/proc/{proc.pid}/status")
        masks = [ln for ln in status.read_text().splitlines() if ln.startswith("Sig")] if status.exists() else []
        proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"training ignored {sig.name} for 60 s; its signal state when sent: {masks}")
        err = _rest(lines, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    if sig == signal.SIGINT:
        # 130, or death by SIGINT itself (what a shell also reports as 130): seen once under load after the
        # message was printed; either way the run stopped as interrupted, which is what is checked here
        assert proc.returncode in (130, -signal.SIGINT) and "presslens: interrupted" in err, err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert _snapshot(out) == before
    assert sorted(p.name for p in models.iterdir()) == ["stance"]  # no .stance.tmp-* or .old-* left behind
    StanceModel.from_pretrained(out)  # and it still loads


def test_checkpoint_swap_is_one_atomic_step(tmp_path, monkeypatch):
    """Replacing a checkpoint never goes through a moment without one: the directories are exchanged in a
    single step (renameat2), not renamed aside and back, so a kill -9 at any instant leaves one whole."""
    from presslens.model import io

    target = tmp_path / "stance"
    target.mkdir()
    (target / "head.safetensors").write_text("old")
    if not io._exchange(tmp_path / "stance", target):  # swapping a directory with itself probes support
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this kernel or filesystem")

    def no_plain_rename(*a, **k):
        raise AssertionError("os.replace used: the target would be missing between two renames")

    monkeypatch.setattr(io.os, "replace", no_plain_rename)
    with io.atomic_dir(target) as tmp:
        (tmp / "head.safetensors").write_text("new")
    assert (target / "head.safetensors").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stance"]
