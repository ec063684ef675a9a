"""``presslens train ...``: thin argument parsing over the training functions."""

from __future__ import annotations

import argparse
import os
import shlex
import sys


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model on labelled data")
    tsub = train.add_subparsers(dest="what", required=True, metavar="{stance,summarizer}")
    st = tsub.add_parser("stance", help="train the neutral/editorial sentence classifier")
    st.add_argument("--data", action="append", required=True, metavar="PATH",
                    help="labelled sentences (repeatable): CheckThat TSV, NewsSD/BABE CSV, text,label csv/tsv/jsonl/parquet, or a hub id")
    st.add_argument("--dev", action="append", default=[], metavar="PATH", help="dev data: picks the epoch and threshold")
    st.add_argument("--exclude", action="append", default=[], metavar="PATH",
                    help="held-out evaluation files: their sentences are removed from training and scored at the end")
    st.add_argument("--format", default="auto", help="format of the --data files (default: detect)")
    st.add_argument("--out", required=True, metavar="DIR", help="checkpoint directory (written atomically)")
    st.add_argument("--encoder", default="default", help="encoder: 'default', a hub id or a directory")
    st.add_argument("--mode", default="fast", choices=["fast", "adapter", "partial", "full"],
                    help="fast: frozen encoder + head; adapter: LoRA; partial: top --train-layers layers; full: all")
    st.add_argument("--epochs", type=int, default=0)
    st.add_argument("--lr", type=float, default=0.0)
    st.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the head when fine-tuning")
    st.add_argument("--train-layers", type=int, default=2, help="partial mode: top encoder layers to fine-tune")
    st.add_argument("--batch-size", type=int, default=16)
    st.add_argument("--hidden", type=int, default=0, help="hidden width of the head (0: linear)")
    st.add_argument("--max-length", type=int, default=128)
    st.add_argument("--seed", type=int, default=13)
    st.add_argument("--calibrate-articles", default="", metavar="DIR",
                    help="BASIL directory: calibrate the in-article threshold and article rule on its calib half")
    st.add_argument("--max-fer", type=float, default=0.02, help="false-editorial budget for that calibration")
    st.add_argument("--threshold-prior", default="train", choices=["train", "dev"],
                    help="choose the sentence threshold for the training data's label balance (default) or the dev data's")
    st.add_argument("--limit", type=int, default=0, help="use at most N training sentences")
    st.add_argument("--init", default="", metavar="DIR",
                    help="start the encoder from this stance checkpoint (a first stage trained on other data)")
    st.set_defaults(func=_train_stance)
    _register_summarizer(tsub)


def _register_summarizer(tsub: argparse._SubParsersAction) -> None:
    sm = tsub.add_parser("summarizer", help="train the extractive summarizer's sentence scorer on oracle labels")
    sm.add_argument("--data", action="append", default=[], metavar="FORMAT:PATH",
                    help="single-article data (repeatable): newts:CSV, writers:JSON, jsonl:FILE")
    sm.add_argument("--cluster-data", action="append", default=[], metavar="FORMAT:PATH",
                    help="multi-article clusters for the coverage scorer (repeatable): neus:train.source")
    sm.add_argument("--out", required=True, metavar="DIR", help="checkpoint directory (written atomically)")
    sm.add_argument("--encoder", default="serving",
                    help="sentence encoder: 'serving' (default: the stance checkpoint's, which the Analyzer embeds "
                         "with), 'default' (the packaged base encoder), a hub id or a directory")
    sm.add_argument("--model", default="", metavar="DIR",
                    help="stance checkpoint whose encoder 'serving' means (default: the shipped one)")
    sm.add_argument("--sentences", type=int, default=3, help="oracle budget in sentences (default 3)")
    sm.add_argument("--hidden", type=int, default=0, help="hidden width of an MLP scorer (0: logistic regression)")
    sm.add_argument("--c", type=float, default=0.1, help="inverse regularisation strength (default 0.1)")
    sm.add_argument("--mmr-lambda", type=float, default=0.8, help="MMR trade-off salience/novelty (default 0.8)")
    sm.add_argument("--limit", type=int, default=0, help="use at most N documents per data file")
    sm.add_argument("--seed", type=int, default=13)
    sm.add_argument("--cv", type=int, default=0, metavar="K",
                    help="also report K-fold cross-validated ROUGE on the single-article data (K >= 2)")
    sm.add_argument("--embedding-cache", default="", metavar="FILE.npz",
                    help="reuse sentence embeddings across runs (created if missing)")
    sm.set_defaults(func=_train_summarizer)


def _command_line() -> str:
    """The command as the user typed it, recorded in the checkpoint so it can be rebuilt.

    ``PRESSLENS_REBUILD_VIA`` (set by ``make default-model``) names the command a user should run instead.
    """
    cmd = "presslens " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    via = os.environ.get("PRESSLENS_REBUILD_VIA", "").strip()
    return f"{via}   # runs: {cmd}" if via else cmd


def _train_summarizer(ns: argparse.Namespace) -> int:
    from .summarizer import TrainSummarizerArgs, train_summarizer

    args = TrainSummarizerArgs(
        data=ns.data, cluster_data=ns.cluster_data, out=ns.out, encoder=ns.encoder, model=ns.model, sentences=ns.sentences,
        hidden=ns.hidden, c=ns.c, mmr_lambda=ns.mmr_lambda, limit=ns.limit, seed=ns.seed,
        embedding_cache=ns.embedding_cache, cv=ns.cv,
        command=_command_line(),
    )
    train_summarizer(args, log=lambda m: print(m, file=sys.stderr))
    return 0


def _train_stance(ns: argparse.Namespace) -> int:
    from .stance import TrainStanceArgs, train_stance

    args = TrainStanceArgs(
        data=ns.data, dev=ns.dev, exclude=ns.exclude, format=ns.format, out=ns.out, encoder=ns.encoder,
        mode=ns.mode, epochs=ns.epochs, lr=ns.lr, batch_size=ns.batch_size, hidden=ns.hidden,
        max_length=ns.max_length, head_lr=ns.head_lr, train_layers=ns.train_layers, seed=ns.seed, limit=ns.limit,
        calibrate_articles=ns.calibrate_articles, max_fer=ns.max_fer, threshold_prior=ns.threshold_prior, init=ns.init,
        command=_command_line(),
    )
    train_stance(args, log=lambda m: print(m, file=sys.stderr))
    return 0
