"""``presslens eval stance|summarize`` and ``presslens bench``: thin main(argv) over importable functions.

Each command lives in its own module (eval/stance.py, eval/summarize.py, eval/bench.py) exposing
``add_arguments(parser)`` and ``run(ns) -> int``; this file only wires them into the CLI.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

_EVALS = {
    "stance": "evaluate the stance classifier (sentence or article level)",
    "summarize": "evaluate summaries with ROUGE against references",
}


def _wire(parser: argparse.ArgumentParser, module_name: str) -> None:
    module = importlib.import_module(module_name)
    module.add_arguments(parser)
    parser.set_defaults(func=module.run)


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="evaluate models on labelled data and write a report")
    esub = ev.add_subparsers(dest="what", required=True)
    for name, help_text in _EVALS.items():
        if importlib.util.find_spec(f"presslens.eval.{name}") is not None:
            _wire(esub.add_parser(name, help=help_text), f"presslens.eval.{name}")
    _wire(sub.add_parser("corpus-report", help="share of editorial articles and commentary per group of a "
                         "presslens batch output"), "presslens.eval.corpus")
    if importlib.util.find_spec("presslens.eval.bench") is not None:
        _wire(sub.add_parser("bench", help="benchmark the running service against a naive peer"), "presslens.eval.bench")
