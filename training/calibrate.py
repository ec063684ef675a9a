"""``presslens calibrate``: choose every constant that depends on a checkpoint's encoder or head on labelled
data, and write them into the checkpoint (``config.json`` and the model card, each through the one atomic
write helper). ``presslens train stance`` ends with the same steps.

* **Claim links and summary support** (``link_threshold``, ``support_threshold``): cosines between the
  checkpoint's sentence embeddings, chosen on labelled pairs of news sentences (the STS benchmark's news
  headlines, fetched by ``scripts/fetch_sts_news.sh``; README "Calibration data"). A pair carries the same
  claim when its gold similarity is at least :data:`LINK_SCORE` (STS 4: "mostly equivalent"), and one is
  a close paraphrase (support) at :data:`SUPPORT_SCORE` (STS 3: "roughly equivalent"). Each cosine is the
  one with the best F1 on train + dev pooled; the test part is only reported.
* **The in-article threshold and the article rule**: on BASIL's calibration half, with the commentary
  decision as served (``training/article_rule.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .arguments import arg
from .data import DataError

LINK_SCORE = 4.0
SUPPORT_SCORE = 3.0
LINK_SPLITS = ("train", "dev", "test")
LINK_DATA = ("STS benchmark news headlines (SemEval 2013-16 via STS-B; text: European Media Monitor, "
             "reuse with acknowledgement; scores: CC BY-SA 4.0)")


def default_links_dir() -> Path:
    """Where ``scripts/fetch_sts_news.sh`` puts the pairs: ``$PRESSLENS_HOME/sts-news`` (``~/.cache/presslens``)."""
    from presslens.model.settings import ModelSettings

    return ModelSettings.from_env().home / "sts-news"


@dataclass
class CalibrateArgs:
    model: str = arg(metavar="NAME|DIR", help="stance checkpoint to calibrate in place (a profile or a directory)")
    links: str = arg("", metavar="DIR", help="labelled news sentence pairs: train.tsv, dev.tsv, test.tsv of "
                                             "score<TAB>sentence1<TAB>sentence2 (default: ~/.cache/presslens/sts-news, "
                                             "written by scripts/fetch_sts_news.sh)")
    articles: str = arg("", metavar="DIR", help="BASIL directory: also recalibrate the in-article threshold and "
                                                "the article rule on its calibration half")
    max_fer: float = arg(0.02, help="false-editorial budget of the article-rule calibration")
    summarizer: str = arg("", metavar="DIR", help="a trained summarizer fitted beside this checkpoint (same encoder "
                                                  "and head): record the recalibrated commentary decision in it "
                                                  "(calibration leaves the head's probability, its feature, as it was)")
    command: str = arg("", cli=False)


def load_pairs(directory: str | Path) -> dict[str, tuple[np.ndarray, list[str], list[str]]]:
    """Per split: gold scores and the two sentences. A missing or malformed file is a one-line ``DataError``."""
    out = {}
    for split in LINK_SPLITS:
        f = Path(directory).expanduser() / f"{split}.tsv"
        if not f.is_file():
            raise DataError(f"{f}: no such file (fetch the pairs with scripts/fetch_sts_news.sh)")
        scores, a, b = [], [], []
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            cols = line.split("\t")
            try:
                score = float(cols[0])
            except (ValueError, IndexError):
                score = float("nan")
            if len(cols) != 3 or not np.isfinite(score) or not cols[1].strip() or not cols[2].strip():
                raise DataError(f"{f}: line {n}: expected score<TAB>sentence1<TAB>sentence2")
            scores.append(score)
            a.append(cols[1])
            b.append(cols[2])
        if not scores:
            raise DataError(f"{f}: no pairs")
        out[split] = (np.array(scores), a, b)
    return out


def precision_recall(cos: np.ndarray, positive: np.ndarray, threshold: float) -> dict:
    pred = cos >= threshold
    tp = int((pred & positive).sum())
    p = tp / int(pred.sum()) if pred.any() else 0.0
    r = tp / int(positive.sum()) if positive.any() else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "n": len(cos),
            "positives": int(positive.sum())}


def choose_cosine(cos: np.ndarray, positive: np.ndarray) -> float:
    """The cosine (0.01 grid) with the best F1 for ``positive``; ties go to the higher (more precise) one."""
    grid = np.round(np.arange(0.30, 0.96, 0.01), 2)
    f1 = [precision_recall(cos, positive, float(t))["f1"] for t in grid]
    best = max(range(len(grid)), key=lambda k: (f1[k], grid[k]))
    return float(grid[best])


def link_calibration(encoder, pairs: dict, source: str) -> dict:
    """Choose ``link_threshold`` and ``support_threshold`` for ``encoder`` on train + dev; report test."""
    cos = {}
    for split, (_, a, b) in pairs.items():
        ea, eb = encoder.encode(a), encoder.encode(b)  # unit-normalised rows
        cos[split] = (ea * eb).sum(1)
    fit_cos = np.concatenate([cos["train"], cos["dev"]])
    fit_score = np.concatenate([pairs["train"][0], pairs["dev"][0]])
    record: dict = {"data": f"{LINK_DATA}: {source}", "chosen_on": "train+dev", "reported_on": "test"}
    for name, cut in (("link_threshold", LINK_SCORE), ("support_threshold", SUPPORT_SCORE)):
        t = choose_cosine(fit_cos, fit_score >= cut)
        record[name] = {"value": t, "positive": f"gold similarity >= {cut}",
                        "train+dev": precision_recall(fit_cos, fit_score >= cut, t),
                        "test": precision_recall(cos["test"], pairs["test"][0] >= cut, t)}
    return record


def calibrate_links(model, links: str | Path, log=print) -> dict:
    """Set ``model.config.link_threshold`` / ``support_threshold`` from the pairs under ``links``."""
    return calibrate_links_from(model, load_pairs(links), str(links), log)


def write_calibration(model, directory: str | Path) -> None:
    """Write the calibrated config and the model card into the checkpoint, each file atomically."""
    from presslens.model.card import model_card
    from presslens.model.io import atomic_write
    from presslens.model.stance import CONFIG_NAME

    path = Path(directory)
    atomic_write(path / CONFIG_NAME, (json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n").encode())
    atomic_write(path / "README.md", model_card(model.config).encode())


def calibrate(args: CalibrateArgs, log=print) -> dict:
    """Recompute the checkpoint's calibrated constants and write them into it; returns what was chosen."""
    from presslens.model.profiles import resolve_stance
    from presslens.model.stance import StanceModel

    path = resolve_stance(args.model)
    links = args.links or str(default_links_dir())
    pairs = load_pairs(links)  # bad data fails before the model loads
    model = StanceModel.from_pretrained(path)
    model.encoder.bf16 = False  # the constants are the fp32 reference's
    out = {"links": calibrate_links_from(model, pairs, links, log)}
    if args.articles:
        from .article_rule import calibrate_on_basil

        out["articles"] = calibrate_on_basil(model, args.articles, args.max_fer, log)
    if args.summarizer:
        restamp_summarizer(model, args.summarizer, log)
    write_calibration(model, path)
    log(f"wrote the calibrated constants into {path}")
    return out


def restamp_summarizer(model, directory: str | Path, log=print) -> None:
    """Record ``model``'s commentary decision in a summarizer already fitted to its encoder and head.

    Refused (one line) when the summarizer was fitted to another encoder or head: then it needs retraining.
    """
    from presslens.model.encoder import ModelLoadError
    from presslens.model.io import atomic_write
    from presslens.model.summarizer import ExtractiveSummarizer

    summ = ExtractiveSummarizer.from_pretrained(directory)
    keys = model.fit_keys()
    why = summ.misfit({k: v for k, v in keys.items() if k != "decision"})
    if why or summ.config.encoder_checksum is None:
        raise ModelLoadError(f"summarizer {directory} {why or 'records no encoder'}: retrain it beside this model")
    summ.config.head_checksum, summ.config.decision = keys["head_checksum"], keys["decision"]
    atomic_write(Path(directory) / "config.json", (json.dumps(summ.to_dict(), indent=2, sort_keys=True) + "\n").encode())
    log(f"recorded the head checksum and the commentary decision {json.dumps(keys['decision'], sort_keys=True)} "
        f"in {directory}")


def calibrate_links_from(model, pairs: dict, source: str, log=print) -> dict:
    record = link_calibration(model.encoder, pairs, source)
    model.config.link_threshold = record["link_threshold"]["value"]
    model.config.support_threshold = record["support_threshold"]["value"]
    model.config.calibration["links"] = record
    log(f"link cosines calibrated on {source}: link {model.config.link_threshold} (test "
        f"{json.dumps(record['link_threshold']['test'], sort_keys=True)}), support {model.config.support_threshold}")
    return record
