"""What every ``presslens`` subcommand shares: the user-error type, argument types and the settings.

Kept apart from ``api/cli.py`` so the subcommands registered there (``api/batch/cli.py``) can use them
without importing the module that imports them.
"""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """A user-facing problem with the command's input."""


def service_settings(**overrides):
    """``api.settings.Settings`` from the PRESSLENS_* variables; a bad value is a ``UsageError`` naming it."""
    from presslens.model.settings import SettingsError
    from pydantic import ValidationError

    from .settings import Settings

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"bad setting PRESSLENS_{str(first['loc'][0]).upper()}: {first['msg']}") from None
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def precision_option(value: str | None = None) -> str:
    """The encoder precision a command asked for (``--precision``, else ``PRESSLENS_PRECISION``), checked: a bad
    value is a ``UsageError`` of one line."""
    from presslens.model.runtime.onnx import precision_setting
    from presslens.model.settings import SettingsError

    try:
        return precision_setting(value)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
