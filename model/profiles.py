"""Model profiles: one place that turns ``--model NAME_OR_PATH`` into a stance checkpoint directory.

``default`` is the distilled MiniLM student shipped in ``model/weights/stance`` (what ``make serve`` runs);
``accurate`` is the MPNet teacher with its lexical branch (``model/weights/stance-accurate``: a LoRA
adapter, the head and the branch, over all-mpnet-base-v2, which ``presslens models install mpnet`` puts in
the models home). Anything else is a checkpoint directory.

Encoders that are installed rather than shipped are named in a checkpoint's config (``"encoder": "mpnet"``)
and resolved here too, so a checkpoint on MPNet loads wherever MPNet was installed, and fails with one line
saying how to install it where it was not.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import settings
from .encoder import ModelLoadError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
PROFILES = {"default": "stance", "accurate": "stance-accurate"}
# Profiles whose encoder is installed separately (``presslens models install NAME``), not shipped in the wheel.
PROFILE_ENCODERS = {"accurate": "mpnet"}
PROFILE_RECIPES = {"default": "make default-model", "accurate": "make accurate-model"}

# Encoders installed into the models home by ``presslens models install NAME``: name -> directory name.
INSTALLED_ENCODERS = {"mpnet": "all-mpnet-base-v2"}
INSTALL_HINT = "run `presslens models install mpnet` (or `make mpnet`)"


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
