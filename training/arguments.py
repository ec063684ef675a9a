"""Command-line options generated from the training dataclasses, so each option is defined once.

A field becomes ``--field-name`` with its type, its default and the help, metavar and choices in its
``metadata`` (see :func:`arg`). List fields are repeatable (``--data A --data B``, as the Makefile writes
them; ``transformers.HfArgumentParser`` would make them ``nargs="+"`` and break that). Fields marked
``cli=False`` are set by code, not by the user.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any


def arg(default: Any = dataclasses.MISSING, *, help: str = "", metavar: str | None = None,  # noqa: A002
        choices: typing.Sequence[str] | None = None, required: bool = False, cli: bool = True,
        default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its command-line description."""
    meta = {"help": help, "metavar": metavar, "choices": choices, "required": required, "cli": cli}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _cli_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls) -> None:
    """One ``--option`` per command-line field of the dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    for f in _cli_fields(cls):
        meta = f.metadata
        kwargs: dict[str, Any] = {"help": meta.get("help") or None}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if meta.get("choices"):
            kwargs["choices"] = list(meta["choices"])
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default or meta.get("required"):
            kwargs["required"] = True
        elif f.default_factory is not dataclasses.MISSING:
            kwargs["default"] = f.default_factory()
        else:
            kwargs["default"] = f.default
        hint = hints[f.name]
        if hint is bool:  # a flag: --name turns a False default on, --no-name a True default off
            flag = f.name.replace("_", "-") if not kwargs.get("default") else "no-" + f.name.replace("_", "-")
            parser.add_argument("--" + flag, dest=f.name, action="store_false" if kwargs.get("default") else "store_true",
                                default=bool(kwargs.get("default")), help=kwargs["help"])
            continue
        if typing.get_origin(hint) is list:
            kwargs["action"] = "append"
            kwargs.setdefault("default", [])
            kwargs["type"] = typing.get_args(hint)[0]
        else:
            kwargs["type"] = hint
        parser.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def from_namespace(cls, ns: argparse.Namespace, **extra: Any):
    """The dataclass built from parsed options (its ``__post_init__`` checks them) plus ``extra`` fields."""
    return cls(**{f.name: getattr(ns, f.name) for f in _cli_fields(cls)}, **extra)
