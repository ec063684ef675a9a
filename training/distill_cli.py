"""``presslens train pool``: build (and optionally pre-label) the pool a student is distilled on."""

from __future__ import annotations

import argparse
import sys


def register_pool(tsub: argparse._SubParsersAction) -> None:
    pl = tsub.add_parser("pool", help="build the unlabelled sentence pool a student is distilled on")
    pl.add_argument("--source", action="append", required=True, metavar="FORMAT:PATH",
                    help="neus:FILE.source, newts:FILE.csv, jsonl:FILE (an 'article' per row), basil:DIR (calib "
                         "half only), sentences:FILE (labels ignored); repeatable")
    pl.add_argument("--exclude", action="append", default=[], metavar="PATH",
                    help="labelled sentence files whose sentences must not enter the pool (eval splits)")
    pl.add_argument("--size", type=int, default=20000, help="at most this many sentences (default 20000)")
    pl.add_argument("--seed", type=int, default=13)
    pl.add_argument("--out", required=True, metavar="FILE.jsonl")
    pl.add_argument("--label-with", default="", metavar="NAME|DIR",
                    help="also label the pool with this teacher into the cache, --label-limit sentences first")
    pl.add_argument("--label-limit", type=int, default=0, help="label only the first N sentences (0: all)")
    pl.add_argument("--teacher-cache", default="", metavar="DIR")
    pl.set_defaults(func=_pool)


def _pool(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from .data import DataError
    from .distill import default_cache_dir, teacher_key, teacher_outputs
    from .pool import Pool, build_pool

    if ns.size < 1:
        raise DataError("--size must be at least 1")
    if Path(ns.out).is_file() and ns.label_with:
        pool = Pool.load(ns.out)  # label an existing pool without rebuilding it
    else:
        pool = build_pool(ns.source, ns.exclude, size=ns.size, seed=ns.seed)
        pool.save(ns.out)
    print(f"pool {ns.out}: {len(pool.texts)} sentences, sha256 {pool.sha256}", file=sys.stderr)
    if ns.label_with:
        from presslens.model.profiles import resolve_stance
        from presslens.model.stance import StanceModel

        teacher_dir = resolve_stance(ns.label_with)
        texts = pool.texts[: ns.label_limit] if ns.label_limit else pool.texts
        teacher_outputs(StanceModel.from_pretrained(teacher_dir), teacher_key(teacher_dir), texts,
                        ns.teacher_cache or default_cache_dir(), log=lambda m: print(m, file=sys.stderr))
    return 0
