"""``presslens corpus-report DIR --by source [--by month]``: who editorialises, and when, in a batch output.

Per group (the combination of the ``--by`` columns): how many articles were analysed, the share labelled
``editorial`` and the share of sentences flagged as the writer's commentary (all sentences of the group's
articles, headlines included), each with a 95% bootstrap interval over articles (resampled with the seed, so
reruns agree). ``month`` is a derived key: ``YYYY-MM`` of the ``--date-column`` (default ``date``: a timestamp
or an ISO date string), unless the output has a ``month`` column of its own. Writes ``metrics.json``,
``report.md`` and ``corpus.png`` through the shared report layer (eval/report.py).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from . import report
from .plots import _PALETTE, _pyplot, _save

MISSING = "(none)"
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})")


class CorpusError(ValueError):
    """A batch output that cannot be reported on; the message names the problem."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="output directory of presslens batch")
    p.add_argument("--by", action="append", required=True, metavar="COLUMN",
                   help="group by this column (repeat to cross groups); 'month' derives YYYY-MM from --date-column")
    p.add_argument("--date-column", default="date", help="column that --by month reads (default: date)")
    p.add_argument("--out", default=None, metavar="DIR", help="report directory (default: DIR/_report)")
    p.add_argument("--seed", type=int, default=report.DEFAULT_SEED, help="seed of the bootstrap")
    p.add_argument("--resamples", type=int, default=report.N_RESAMPLES, help="bootstrap resamples (default 1000)")


def _month(value) -> str:
    if value is None:
        return MISSING
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m")
    m = _ISO_MONTH.match(str(value).strip())
    return f"{m.group(1)}-{m.group(2)}" if m else MISSING


def load_rows(directory: Path, by: list[str], date_column: str) -> dict[str, list]:
    """The columns the report needs, from every shard file (read one by one: pass-through columns may be
    typed differently in different shards)."""
    import pyarrow.parquet as pq

    files = sorted(directory.glob("*.parquet"))
    if not files:
        raise CorpusError(f"{directory}: no Parquet files (is it a presslens batch output?)")
    wanted = {"label", "commentary", "n_sentences", "error"}
    keys = {k: (date_column if k == "month" else k) for k in by}
    cols: dict[str, list] = defaultdict(list)
    seen_keys: set[str] = set()
    for f in files:
        names = set(pq.read_schema(f).names)
        if not wanted <= names:
            raise CorpusError(f"{f}: not a presslens batch shard (missing {', '.join(sorted(wanted - names))})")
        own_month = "month" in names
        read = sorted(wanted | ({keys[k] for k in by if k != "month" or not own_month} & names)
                      | ({"month"} & names if own_month else set()))
        table = pq.read_table(f, columns=read)
        n = table.num_rows
        for k in ("label", "n_sentences", "error"):
            cols[k].extend(table.column(k).to_pylist())
        cols["commentary"].extend(len(c or []) for c in table.column("commentary").to_pylist())
        for k in by:
            source = "month" if k == "month" and own_month else keys[k]
            if source in names:
                seen_keys.add(k)
                values = table.column(source).to_pylist()
                cols[k].extend(_month(v) if k == "month" and source != "month" else
                               (MISSING if v is None else str(v)) for v in values)
            else:
                cols[k].extend([MISSING] * n)
    for k in by:
        if k not in seen_keys:
            raise CorpusError(f"{directory}: no column {keys[k]!r} to group by"
                              + (" (--by month reads --date-column)" if k == "month" else ""))
    return dict(cols)


def _commentary_share(comm: np.ndarray, sents: np.ndarray) -> float:
    total = sents.sum()
    return float(comm.sum() / total) if total else float("nan")


def group_stats(rows: dict[str, list], by: list[str], seed: int, resamples: int) -> list[dict]:
    """One entry per group (sorted by key), plus the whole corpus first."""
    n = len(rows["label"])
    analysed = np.array([e is None for e in rows["error"]])
    editorial = np.array([lab == "editorial" for lab in rows["label"]], dtype=float)
    comm = np.array(rows["commentary"], dtype=float)
    sents = np.array([s or 0 for s in rows["n_sentences"]], dtype=float)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i in range(n):
        groups[tuple(rows[k][i] for k in by)].append(i)
    out = []
    for key, idx in [(("all",) * len(by), list(range(n))), *sorted(groups.items())]:
        idx = np.array(idx)
        ok = idx[analysed[idx]]
        entry = {"group": dict(zip(by, key, strict=True)), "articles": int(len(ok)),
                 "errors": int(len(idx) - len(ok)), "sentences": int(sents[ok].sum())}
        if len(ok):
            ed = report.bootstrap_ci(np.mean, editorial[ok], n_resamples=resamples, seed=seed)
            cs = report.bootstrap_ci(_commentary_share, comm[ok], sents[ok], n_resamples=resamples, seed=seed)
            entry.update(editorial_share=ed.to_dict(), commentary_share=cs.to_dict())
        out.append(entry)
    return out


def _table_md(stats: list[dict], by: list[str]) -> str:
    rows = []
    for s in stats:
        ed, cs = s.get("editorial_share"), s.get("commentary_share")
        rows.append([*(s["group"][k] for k in by), s["articles"], s["errors"],
                     report.fmt_ci(ed["value"], ed["ci_low"], ed["ci_high"]) if ed else "n/a",
                     report.fmt_ci(cs["value"], cs["ci_low"], cs["ci_high"]) if cs else "n/a"])
    return report.markdown_table([*by, "articles", "errors", "editorial share [95% CI]",
                                  "commentary sentences [95% CI]"], rows, align="l" * len(by) + "rrrr")


def plot_groups(stats: list[dict], by: list[str], path: Path, max_groups: int = 30) -> Path:
    """Two panels (editorial share, commentary share) with 95% CI whiskers: bars per group, or for two keys
    one line per value of the first over the values of the second (e.g. each outlet over the months)."""
    plt = _pyplot()
    shown = [s for s in stats[1:] if "editorial_share" in s]
    shown = sorted(shown, key=lambda s: -s["articles"])[:max_groups]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.35 * max(8, len(shown)) if len(by) != 2 else 4.5))
    for ax, metric, title in ((axes[0], "editorial_share", "editorial articles"),
                              (axes[1], "commentary_share", "commentary sentences")):
        if len(by) == 2:
            xs = sorted({s["group"][by[1]] for s in shown})
            for k, line in enumerate(sorted({s["group"][by[0]] for s in shown})):
                pts = sorted((xs.index(s["group"][by[1]]), s[metric]) for s in shown if s["group"][by[0]] == line)
                x = [p[0] for p in pts]
                ax.errorbar(x, [p[1]["value"] for p in pts],
                            yerr=[[p[1]["value"] - p[1]["ci_low"] for p in pts],
                                  [p[1]["ci_high"] - p[1]["value"] for p in pts]],
                            marker="o", capsize=3, label=line, color=_PALETTE[k % len(_PALETTE)])
            ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right")
            ax.set_xlabel(by[1])
            ax.set_ylabel(f"share of {title}")
            ax.legend(fontsize=7, title=by[0])
        else:
            labels = [" / ".join(str(s["group"][k]) for k in by) + f" (n={s['articles']})" for s in shown]
            vals = [s[metric] for s in shown]
            ax.barh(range(len(shown)), [v["value"] for v in vals],
                    xerr=[[v["value"] - v["ci_low"] for v in vals], [v["ci_high"] - v["value"] for v in vals]],
                    color=_PALETTE[0], capsize=3)
            ax.set_yticks(range(len(shown)), labels, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(f"share of {title}")
        ax.set_title(f"Share of {title} (95% bootstrap CI)")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def run(ns: argparse.Namespace) -> int:
    started = time.time()
    directory = Path(ns.dir)
    out = Path(ns.out) if ns.out else directory / "_report"
    by = list(dict.fromkeys(ns.by))
    try:
        if not directory.is_dir():
            raise CorpusError(f"{directory}: no such directory")
        if ns.resamples < 10:
            raise CorpusError("--resamples must be at least 10")
        rows = load_rows(directory, by, ns.date_column)
    except CorpusError as exc:
        print(f"presslens: error: {exc}", file=sys.stderr)
        return 2
    stats = group_stats(rows, by, ns.seed, ns.resamples)
    metrics = {"by": by, "seed": ns.seed, "n_resamples": ns.resamples, "groups": stats}
    report.write_metrics(out, metrics)
    plot_groups(stats, by, out / "corpus.png")
    total = stats[0]
    report.write_text(out / "report.md", "\n".join([
        f"# Corpus report: {directory}", "",
        f"{total['articles']} articles analysed ({total['errors']} rows with errors left out), grouped by "
        f"{' x '.join(by)}. Shares with 95% percentile bootstrap intervals over articles ({ns.resamples} "
        f"resamples, seed {ns.seed}); commentary sentences are a share of all the group's sentences.", "",
        _table_md(stats, by), "![shares by group](corpus.png)", ""]))
    manifest = [m for m in [directory / "_presslens_batch.json"] if m.is_file()]  # identifies the batch job
    report.write_run_info(out, manifest, ns.seed, started, extra={"dir": str(directory), "by": by})
    print(f"wrote {out}/report.md: {len(stats) - 1} groups, {total['articles']} articles")
    return 0
