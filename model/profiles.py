"""The one resolver: ``--model NAME_OR_PATH`` to a stance checkpoint directory, and the summarizers that may
serve beside it.

``default`` is the MiniLM checkpoint shipped in ``model/weights/stance`` (what ``make serve`` runs; today
trained on CheckThat, its recipe in ``make default-model`` and its ``config.json``); ``accurate`` is MPNet with its lexical branch (``model/weights/stance-accurate``: a LoRA
adapter, the head and the branch, over all-mpnet-base-v2, which ``presslens models install mpnet`` puts in
the models home). Anything else is a checkpoint directory. "default" names this profile only: the
packaged base encoder under it is ``minilm`` (``model/encoder.py``).

Encoders that are installed rather than shipped are named in a checkpoint's config (``"encoder": "mpnet"``)
and resolved here too, so a checkpoint on MPNet loads wherever MPNet was installed, and fails with one line
saying how to install it where it was not.

Which summarizer serves beside a stance checkpoint is decided by ``model.pipeline.choose_summarizer`` from
the candidates named here (``summarizer_candidates``) and the loaded encoder's weights; ``model_fingerprint``
records those candidates' and the checkpoint's weights without loading anything, for a batch run's manifest.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import settings
from .errors import ModelLoadError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
PROFILES = {"default": "stance", "accurate": "stance-accurate"}
# Profiles whose encoder is installed separately (``presslens models install NAME``), not shipped in the wheel.
PROFILE_ENCODERS = {"accurate": "mpnet"}
PROFILE_RECIPES = {"default": "make default-model", "accurate": "make accurate-model"}

# Encoders installed into the models home by ``presslens models install NAME``: name -> directory name.
INSTALLED_ENCODERS = {"mpnet": "all-mpnet-base-v2"}
INSTALL_HINT = "run `presslens models install mpnet` (or `make mpnet`)"


#: a stance checkpoint may carry, in this subdirectory, the summarizer scorer trained on its encoder
CHECKPOINT_SUMMARIZER = "summarizer"
#: the shipped summarizer scorer (trained on the default profile's encoder)
SHIPPED_SUMMARIZER = "summarizer"


def default_stance_path() -> Path:
    return WEIGHTS_DIR / PROFILES["default"]


def default_summarizer_path() -> Path:
    return WEIGHTS_DIR / SHIPPED_SUMMARIZER


def summarizer_candidates(stance_dir: str | os.PathLike | None,
                          summarizer_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """(role, directory) of each summarizer that may serve beside ``stance_dir``, in the order they are tried:
    the one the user named (``given``) alone, else the checkpoint's own (``checkpoint``) and the shipped one
    (``shipped``) where they exist. None fitting the encoder means the built-in prior."""
    if summarizer_dir:
        return [("given", Path(summarizer_dir))]
    found = [("checkpoint", Path(stance_dir) / CHECKPOINT_SUMMARIZER)] if stance_dir else []
    found.append(("shipped", default_summarizer_path()))
    return [(role, path) for role, path in found if (path / "config.json").is_file()]


def model_fingerprint(stance_ref: str | os.PathLike | None, summarizer_dir: str | os.PathLike | None = None) -> dict:
    """The weights a ``--model`` / ``--summarizer`` pair names, as file checksums, without loading a model.

    Covers the resolved stance checkpoint (a profile name resolves first, so ``accurate`` is its directory,
    not a path named "accurate") and every summarizer candidate: which one serves is a function of these
    files and the encoder they define, so two runs with equal fingerprints summarise with the same scorer.
    """
    from .io import checksums

    stance = resolve_stance(stance_ref)
    if not (stance / "config.json").is_file():
        raise ModelLoadError(f"stance checkpoint {stance} has no config.json")
    return {"stance": checksums(stance), "encoder": _checkpoint_encoder(stance),
            "summarizer": {role: checksums(path) for role, path in summarizer_candidates(stance, summarizer_dir)}}


def models_home() -> Path:
    """Where installed encoders live: ``$PRESSLENS_HOME/models``, else ``~/.cache/presslens/models``."""
    return settings.current().models_dir


def installed_encoder_path(name: str) -> Path:
    """The directory of an installed encoder, or a one-line ``ModelLoadError`` saying how to install it."""
    path = models_home() / INSTALLED_ENCODERS[name]
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise ModelLoadError(f"encoder {name!r} (all-mpnet-base-v2) is not installed in {models_home()}: {INSTALL_HINT}")
    return path


def is_installed_encoder(ref: object) -> bool:
    return isinstance(ref, str) and ref in INSTALLED_ENCODERS


def resolve_stance(ref: str | os.PathLike | None) -> Path:
    """A profile name (``default``, ``accurate``) or a checkpoint directory -> the checkpoint directory.

    A profile whose encoder is installed separately is checked here, so ``--model accurate`` without MPNet
    fails at once with the install command rather than deep inside a load.
    """
    text = "default" if ref is None or str(ref).strip() == "" else str(ref)
    if text in PROFILES:
        path = WEIGHTS_DIR / PROFILES[text]
        encoder = PROFILE_ENCODERS.get(text) or _checkpoint_encoder(path)
        if is_installed_encoder(encoder):
            try:
                installed_encoder_path(encoder)
            except ModelLoadError:
                raise ModelLoadError(f"--model {text} needs the {encoder} encoder, which is not installed: "
                                     f"{INSTALL_HINT}") from None
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"profile {text!r} has no checkpoint at {path} (build it: {PROFILE_RECIPES[text]})")
        return path
    return Path(text).expanduser()


def profile_name(path: str | os.PathLike) -> str | None:
    """The profile a checkpoint directory is, if any (for ids in the API and reports)."""
    try:
        resolved = Path(path).resolve()
    except OSError:
        return None
    for name, sub in PROFILES.items():
        if (WEIGHTS_DIR / sub).resolve() == resolved:
            return name
    return None


def _checkpoint_encoder(path: Path) -> str | None:
    import json

    try:
        return json.loads((path / "config.json").read_text()).get("encoder")
    except (OSError, ValueError, AttributeError):
        return None
