"""``presslens train ...``: options generated from the training dataclasses, over the training functions."""

from __future__ import annotations

import argparse
import shlex
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from .arguments import add_dataclass_arguments
    from .stance_args import TrainStanceArgs
    from .summarizer import TrainSummarizerArgs

    train = sub.add_parser("train", help="train a model on labelled data")
    tsub = train.add_subparsers(dest="what", required=True, metavar="{stance,summarizer,stack,pool}")
    st = tsub.add_parser("stance", help="train the neutral/editorial sentence classifier")
    add_dataclass_arguments(st, TrainStanceArgs)
    st.set_defaults(func=_train_stance)
    sm = tsub.add_parser("summarizer", help="train the extractive summarizer's sentence scorer on oracle labels")
    add_dataclass_arguments(sm, TrainSummarizerArgs)
    sm.set_defaults(func=_train_summarizer)
    from .stacking import StackArgs

    sk = tsub.add_parser("stack", help="choose and fit the lexicon-feature stacker on a cross-validated checkpoint")
    add_dataclass_arguments(sk, StackArgs)
    sk.set_defaults(func=_train_stack)
    from .distill_cli import register_pool

    register_pool(tsub)
    from .calibrate import CalibrateArgs

    cal = sub.add_parser("calibrate", help="choose a stance checkpoint's encoder- and head-dependent constants "
                                           "(claim-link and support cosines, article rule) and write them into it")
    add_dataclass_arguments(cal, CalibrateArgs)
    cal.set_defaults(func=_calibrate)


def _command_line() -> str:
    """The command as the user typed it, recorded in the checkpoint so it can be rebuilt.

    ``PRESSLENS_REBUILD_VIA`` (set by ``make default-model``) names the command a user should run instead.
    """
    cmd = "presslens " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    from presslens.model.settings import current

    via = current().rebuild_via
    return f"{via}   # runs: {cmd}" if via else cmd


def _train_summarizer(ns: argparse.Namespace) -> int:
    from .arguments import from_namespace
    from .summarizer import TrainSummarizerArgs, train_summarizer

    train_summarizer(from_namespace(TrainSummarizerArgs, ns, command=_command_line()),
                     log=lambda m: print(m, file=sys.stderr))
    return 0


def _train_stance(ns: argparse.Namespace) -> int:
    from .arguments import from_namespace
    from .stance import TrainStanceArgs, train_stance

    train_stance(from_namespace(TrainStanceArgs, ns, command=_command_line()), log=lambda m: print(m, file=sys.stderr))
    return 0


def _train_stack(ns: argparse.Namespace) -> int:
    from .arguments import from_namespace
    from .stacking import StackArgs, stack

    stack(from_namespace(StackArgs, ns, command=_command_line()), log=lambda m: print(m, file=sys.stderr))
    return 0


def _calibrate(ns: argparse.Namespace) -> int:
    from .arguments import from_namespace
    from .calibrate import CalibrateArgs, calibrate

    calibrate(from_namespace(CalibrateArgs, ns, command=_command_line()), log=lambda m: print(m, file=sys.stderr))
    return 0
