"""The ``presslens`` command: analyze, serve, train, eval. Each subcommand is thin over library code.

Errors a user can cause (unreadable files, empty input, bad data, a model that will not load) end with
exit code 2 and one line on stderr naming the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from presslens.model.settings import quiet_tokenizers

from .cli_common import UsageError, positive, precision_option, service_settings


def _read_inputs(paths: list[str]) -> list[tuple[str, str]]:
    """(id, text) for each path; ``-`` reads stdin. Every input must be readable UTF-8 and not empty."""
    out = []
    for p in paths:
        if p == "-":
            data = sys.stdin.buffer.read()
            ident = "stdin"
        else:
            path = Path(p)
            if not path.is_file():
                raise UsageError(f"{p}: no such file" if not path.exists() else f"{p}: not a regular file")
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise UsageError(f"{p}: cannot read: {exc.strerror}") from exc
            ident = path.stem
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{p}: not UTF-8 text (byte {exc.start})") from exc
        if not text.strip():
            raise UsageError(f"{p}: empty input")
        out.append((ident, text))
    return out


def _format_text(result: dict) -> str:
    lines = [f"== {result['id']}: {result['label'].upper()} (confidence {result['confidence']:.2f})"]
    if result.get("title"):
        lines.append(f"   {result['title']}")
    if result.get("abstract"):
        lines.append(f"Abstract: {result['abstract']['text']}")
    lines.append("Summary:")
    for s in result["summary"]:
        who = f"  [{s['speaker']}]" if s.get("speaker") else ""
        lines.append(f"  - {s['text']}{who}")
    flagged = [s for s in result["sentences"] if s["commentary"]]
    lines.append(f"Commentary ({len(flagged)} sentence{'s' if len(flagged) != 1 else ''}):")
    for s in flagged:
        lines.append(f"  ! {s['text']}  (p={s['probability']:.2f})")
    return "\n".join(lines)


def _articles(paths: list[str]) -> list:
    """The files' articles through ``model.intake`` (the API's checks and limit, PRESSLENS_MAX_CHARS)."""
    from presslens.model.intake import IntakeError, to_article

    max_chars = service_settings().max_chars
    articles = []
    for ident, text in _read_inputs(paths):
        try:
            articles.append(to_article(text=text, id=ident, max_chars=max_chars))
        except IntakeError as exc:
            raise UsageError(f"{ident}: {exc}") from None
    return articles


def _analyze(ns: argparse.Namespace) -> int:
    from presslens.model.pipeline import AnalyzeOptions, Analyzer, summary_budget

    articles = _articles(ns.files)
    analyzer = Analyzer.load(ns.model, ns.summarizer, abstractive=ns.abstractive)
    sentences, words = summary_budget(ns.sentences, ns.words)
    opts = AnalyzeOptions(summary_sentences=sentences, summary_words=words, claims_only=ns.claims_only,
                          abstractive=bool(ns.abstractive))
    results = [r.to_dict() for r in analyzer.analyze(articles, opts)]
    if ns.format == "text":
        print("\n\n".join(_format_text(r) for r in results))
    else:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


def _format_coverage(result: dict) -> str:
    lines = ["Event summary:"]
    for c in result["summary"]:
        who = f"  [{c['speaker']}]" if c.get("speaker") else ""
        lines.append(f"  - ({c['article']}) {c['text']}{who}")
    lines.append(f"Shared claims ({len(result['shared'])}):")
    for cl in result["shared"]:
        who = f"  [{cl['speaker']}]" if cl.get("speaker") else ""
        lines.append(f"  * {', '.join(cl['articles'])}: {cl['text']}{who}")
    lines.append("Only one outlet:")
    for ident, claims in result["unique"].items():
        for c in claims:
            lines.append(f"  - ({ident}) {c['text']}")
    return "\n".join(lines)


def _coverage(ns: argparse.Namespace) -> int:
    from presslens.model.pipeline import AnalyzeOptions, Analyzer, summary_budget

    if len(ns.files) < 2:
        raise UsageError("coverage needs at least two articles on the same event")
    articles = _articles(ns.files)
    for a in articles:
        if not a.body_sentences:
            raise UsageError(f"{a.id}: no sentences left after cleaning (only a headline)")
    analyzer = Analyzer.load(ns.model, ns.summarizer)
    sentences, words = summary_budget(ns.sentences, ns.words)
    opts = AnalyzeOptions(summary_sentences=sentences, summary_words=words, claims_only=ns.claims_only)
    result = analyzer.coverage(articles, opts).to_dict()
    if ns.format == "text":
        print(_format_coverage(result))
    else:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def _serve(ns: argparse.Namespace) -> int:
    from .server import run

    if ns.model:  # fail fast on a path that is plainly not a checkpoint; the full load runs in the server
        from presslens.model.profiles import resolve_stance
        from presslens.model.stance import check_safe_checkpoint, read_config

        read_config(resolve_stance(ns.model))
        check_safe_checkpoint(resolve_stance(ns.model))
    overrides = {k: v for k, v in {"host": ns.host, "port": ns.port, "model": ns.model}.items() if v is not None}
    run(service_settings(**overrides))  # a PRESSLENS_* variable with a bad value stops here, in one line
    return 0


def _prepare(ns: argparse.Namespace) -> int:
    """Build (or find) the serving runtime's export of a model, and gate the precisions the setting would
    try on this CPU, so the server's first start need not."""
    from presslens.model.profiles import resolve_stance
    from presslens.model.runtime.loader import load_stance

    requested = precision_option(ns.precision)
    stance_dir = resolve_stance(ns.model)
    model = load_stance(stance_dir, runtime="onnx")
    meta = model.encoder.meta
    fused = ", ".join(f"{k} {v}" for k, v in sorted(meta.get("fused", {}).items())) or "none"
    print(f"ONNX Runtime export of {ns.model or 'the default model'} ready in {model.encoder.directory}: "
          f"{meta.get('graph')} graph (fused: {fused}), max |embedding difference| from torch on the probe "
          f"sentences {meta.get('probe_max_abs_diff', float('nan')):.1e}")
    del model
    from presslens.model.runtime.loader import prepare_ladder
    from presslens.training.data import gate_dev_set

    prepare_ladder(stance_dir, requested, gate_dev_set(ns.gate_dev))
    return 0


def _feedback_export(ns: argparse.Namespace) -> int:
    from .feedback import FeedbackError, export_csv, open_store

    location = ns.db or service_settings().feedback_db
    if not ns.db and not Path(location).exists():
        raise UsageError(f"no feedback database at {location} (set --db or PRESSLENS_FEEDBACK_DB)")
    try:
        store = open_store(location)
        try:
            written, superseded = export_csv(store, ns.out, kind=ns.kind, keep_all=ns.all)
        finally:
            store.close()
    except (FeedbackError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    note = f" ({superseded} earlier correction{'s' if superseded != 1 else ''} superseded)" if superseded else ""
    print(f"wrote {written} row{'s' if written != 1 else ''} to {ns.out}{note}", file=sys.stderr)
    return 0


def _add_analysis_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--format", choices=["json", "text"], default="json")
    p.add_argument("--model", default=None, metavar="NAME|DIR",
                   help="stance model: a profile (default, accurate) or a checkpoint directory (default: default)")
    p.add_argument("--summarizer", default=None, metavar="DIR", help="summarizer checkpoint")
    p.add_argument("--sentences", type=positive, default=None,
                   help=f"{what} budget in sentences (default 3 when --words is not given)")
    p.add_argument("--words", type=positive, default=None,
                   help=f"{what} budget in words: never exceeded; alone, no sentence cap")
    p.add_argument("--claims-only", action="store_true", help="leave the writer's commentary out of the summary")


def build_parser(everything: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``everything=False`` leaves out ``batch``, ``train`` and ``eval``, whose options
    are built from their modules (and so import torch, transformers and the data libraries)."""
    parser = argparse.ArgumentParser(prog="presslens", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser("analyze", help="summarize articles and label them neutral or editorial")
    an.add_argument("files", nargs="+", metavar="FILE", help="article text files; - reads stdin")
    _add_analysis_options(an, "summary")
    an.add_argument("--abstractive", default=None, metavar="MODEL",
                    help="also write an abstractive summary with this seq2seq checkpoint (hub id or directory)")
    an.set_defaults(func=_analyze)

    cv = sub.add_parser("coverage", help="several articles on one event: event summary and shared claims")
    cv.add_argument("files", nargs="+", metavar="FILE", help="article text files (two or more); - reads stdin")
    _add_analysis_options(cv, "event summary")
    cv.set_defaults(func=_coverage)

    sv = sub.add_parser("serve", help="start the HTTP API")
    sv.add_argument("--host", default=None)
    sv.add_argument("--port", type=int, default=None)
    sv.add_argument("--model", default=None, metavar="NAME|DIR",
                    help="stance model: a profile (default, accurate) or a checkpoint directory (default: default)")
    sv.set_defaults(func=_serve)

    pr = sub.add_parser("prepare", help="export a model's encoder for the ONNX runtime now (cached by checksum; "
                                        "`make install` runs it for the default)")
    pr.add_argument("--model", default=None, metavar="NAME|DIR",
                    help="stance model: a profile (default, accurate) or a checkpoint directory (default: default)")
    pr.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "int8"],
                    help="the precisions to prepare and gate (default: PRESSLENS_PRECISION, else auto: those this "
                         "CPU runs natively)")
    pr.add_argument("--gate-dev", default=None, metavar="FILE",
                    help="labelled dev sentences (CheckThat! dev_en.tsv or any format `train stance` reads): the "
                         "gate then also requires dev macro-F1 within 0.005 of fp32's (default: probes only)")
    pr.set_defaults(func=_prepare)

    fb = sub.add_parser("feedback", help="users' corrected labels stored by the API")
    fsub = fb.add_subparsers(dest="what", required=True, metavar="{export}")
    ex = fsub.add_parser("export", help="write the feedback as a text,label CSV for `presslens train stance`")
    ex.add_argument("--out", required=True, metavar="FILE", help="CSV file to write (atomically)")
    ex.add_argument("--db", default=None, metavar="PATH|URL",
                    help="SQLite file or postgresql:// URL (default: PRESSLENS_FEEDBACK_DB or the server's default)")
    ex.add_argument("--kind", choices=["article", "sentence"], default=None, help="only this kind of feedback")
    ex.add_argument("--all", action="store_true",
                    help="every stored row; by default a text corrected twice appears once, with its latest label")
    ex.set_defaults(func=_feedback_export)

    from .models_cli import register as register_models

    register_models(sub)
    if not everything:
        return parser
    from presslens.training.cli import register as register_training

    from .batch.cli import register as register_batch

    register_batch(sub)

    register_training(sub)
    try:
        from presslens.eval.cli import register as register_eval
    except ImportError:  # pragma: no cover - eval is part of the distribution
        register_eval = None
    if register_eval:
        register_eval(sub)
    return parser


def _user_error(exc: BaseException) -> bool:
    """A problem the user can fix (bad input, a model that will not load, bad training data). The error
    classes are looked up only in modules already imported: a command that never imported model.encoder
    (the Ray driver of ``presslens batch``) need not load torch to tell, and cannot have raised one."""
    kinds = [UsageError]
    for module, name in (("presslens.model.encoder", "ModelLoadError"), ("presslens.model.settings", "SettingsError"),
                         ("presslens.training.data", "DataError")):
        if module in sys.modules:
            kinds.append(getattr(sys.modules[module], name))
    return isinstance(exc, tuple(kinds))


def parser_for(args: list[str]) -> argparse.ArgumentParser:
    """The parser for this command line: ``serve`` (and ``prepare``) without the training and evaluation
    commands, since registering them imports what a server never uses (torch, transformers, scipy: about
    300 MB and seconds of start-up)."""
    return build_parser(everything=not (args and args[0] in ("serve", "prepare")))


def main(argv: list[str] | None = None) -> int:
    quiet_tokenizers()  # before any tokenizer loads; not at import
    args = sys.argv[1:] if argv is None else list(argv)
    ns = parser_for(args).parse_args(args)
    try:
        return int(ns.func(ns) or 0)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("presslens: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _user_error(exc):
            raise
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
