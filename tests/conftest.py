"""Shared fixtures: tiny random models built once per session in a temp dir, and the seed articles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Servers and batch jobs started by tests serve fp32 whatever the CPU: tests never depend on the CPU kind
# (a test of the precision ladder names its precision and its CPU flags itself).
os.environ.setdefault("PRESSLENS_PRECISION", "fp32")

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEEDS = sorted(FIXTURES.glob("00[0-4]_*.txt"))

_WORDS = (
    "the a an of to in and is was be on for that with as by at from it this he she they said would will "
    "russia russian ukraine crimea kerry lavrov talks meeting official state minister foreign london "
    "referendum sanctions i think guess no doubt not what do you ? . , ' \" - : ; ( )"
).split()


def build_tiny_encoder(directory: Path, hidden: int = 32, layers: int = 2) -> Path:
    """A random BERT with a small word-piece vocabulary, saved like any transformers checkpoint."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + letters + [f"##{c}" for c in letters] + _WORDS
    seen, ordered = set(), []
    for tok in vocab:
        if tok not in seen:
            seen.add(tok)
            ordered.append(tok)
    (directory / "vocab.txt").write_text("\n".join(ordered) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(directory / "vocab.txt"), do_lower_case=True)
    config = BertConfig(vocab_size=len(ordered), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=256)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory


@pytest.fixture(scope="session", autouse=True)
def _runtime_cache(tmp_path_factory):
    """ONNX exports made by tests (servers started in them included) go to a temp dir, not the user's cache."""
    old = os.environ.get("PRESSLENS_CACHE_DIR")
    os.environ["PRESSLENS_CACHE_DIR"] = str(tmp_path_factory.mktemp("presslens-cache"))
    yield
    if old is None:
        os.environ.pop("PRESSLENS_CACHE_DIR", None)
    else:
        os.environ["PRESSLENS_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _settings_read_afresh():
    """Each test starts from the environment as it is now (``model.settings`` reads it once and keeps it), and
    leaves none of its own behind: set up before ``monkeypatch`` and torn down after it, so the reload after
    the test sees the environment restored (a module fixture set up next must not read a test's variables).
    A test that sets a variable itself calls ``settings.reload()`` after (or uses ``settings.override``)."""
    from presslens.model import settings

    settings.reload()
    yield
    settings.reload()


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))


@pytest.fixture(scope="session")
def tiny_stance_dir(tiny_encoder_dir, tmp_path_factory) -> Path:
    """A stance checkpoint over the tiny encoder with a random head (threshold 0.5)."""
    from presslens.model.stance import StanceModel

    model = StanceModel.new(str(tiny_encoder_dir))
    path = model.save_pretrained(tmp_path_factory.mktemp("tiny-stance") / "stance")
    prepare_onnx(model, path)
    return path


def prepare_onnx(model, path: Path) -> None:
    """Put the checkpoint's ONNX export in the (session's) cache now, from the torch model in hand, as
    `presslens prepare` does at install: servers started by tests then load it instead of exporting it
    in a child process (seconds of torch and transformers imports) inside their start-up timeout."""
    from presslens.model.runtime.onnx import cache_root, export_encoder, fingerprint, onnxruntime_available
    from presslens.model.stance import encoder_sources

    if onnxruntime_available():
        sources, settings = encoder_sources(model.config, path)
        export_encoder(model.encoder, cache_root() / fingerprint(sources, **settings))


@pytest.fixture(scope="session")
def tiny_analyzer(tiny_stance_dir):
    from presslens.model.pipeline import Analyzer

    return Analyzer.load(tiny_stance_dir, runtime="torch", precision="fp32")  # the torch reference


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {p.stem[:3]: p.read_text(encoding="utf-8") for p in SEEDS}


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance (2 CPUs, no dashboard) for every test that needs Ray: starting Ray and its
    actors is the slow part, so it happens once."""
    import logging

    import ray  # the test extra installs it: a missing Ray is a broken install, not a skip

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 1024 * 1024,
             logging_level=logging.ERROR)
    yield ray
    ray.shutdown()
