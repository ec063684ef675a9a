"""Claim-link calibration figures for encoders, without writing anything: per encoder, the link and support
cosines ``presslens calibrate`` would choose (train+dev of the STS news pairs) and their precision/recall on
the test part.

    .venv/bin/python scripts/link_report.py --links ~/.cache/presslens/sts-news --model default --encoder default

``--model`` takes stance checkpoints (profiles or directories: their served encoder); ``--encoder`` bare
encoders (``default`` is the packaged all-MiniLM-L6-v2).
"""

from __future__ import annotations

import argparse
import json


def main() -> int:
    from presslens.model.encoder import Encoder
    from presslens.model.profiles import resolve_stance
    from presslens.model.stance import StanceModel
    from presslens.training.calibrate import link_calibration, load_pairs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", required=True, metavar="DIR")
    ap.add_argument("--model", action="append", default=[], metavar="NAME|DIR")
    ap.add_argument("--encoder", action="append", default=[], metavar="REF")
    ns = ap.parse_args()
    pairs = load_pairs(ns.links)
    encoders = [(f"model {m}", lambda m=m: StanceModel.from_pretrained(resolve_stance(m)).encoder) for m in ns.model]
    encoders += [(f"encoder {e}", lambda e=e: Encoder(e)) for e in ns.encoder]
    for name, load in encoders:
        record = link_calibration(load(), pairs, ns.links)
        for key in ("link_threshold", "support_threshold"):
            r = record[key]
            print(json.dumps({"encoder": name, "constant": key, "value": r["value"], "positive": r["positive"],
                              "test": r["test"], "train+dev_f1": r["train+dev"]["f1"]}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
