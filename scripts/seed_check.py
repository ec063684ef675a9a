"""The five seed articles through one stance profile: each label, and every sentence marked commentary.

    python scripts/seed_check.py --model accurate --voice-rules off --out reports/stance/seeds.json

Prints one block per seed (label, P(editorial), the commentary sentences with their probabilities) and
writes the same as JSON. The seeds are a check, never training data. Exit 0 always: it reports, the
reader judges (the README's stance section says which outcome each profile gives).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from presslens.model.pipeline import Analyzer
    from presslens.model.text import Article

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="profile name or checkpoint directory")
    ap.add_argument("--voice-rules", default="checkpoint", choices=["checkpoint", "on", "off"])
    ap.add_argument("--out", default="", help="write the result as JSON here too")
    ns = ap.parse_args(argv)
    analyzer = Analyzer.load(ns.model)
    if ns.voice_rules != "checkpoint":
        analyzer.stance.config.voice_rules = ns.voice_rules == "on"
    seeds = sorted((ROOT / "tests" / "fixtures").glob("00*.txt"))
    articles = [Article(p.read_text(encoding="utf-8"), id=p.stem[:3]) for p in seeds]
    rows = []
    for a in analyzer.analyze(articles):
        d = a.to_dict()
        flagged = [{"text": s["text"], "p": round(s["probability"], 3)} for s in d["sentences"] if s["commentary"]]
        rows.append({"id": d["id"], "label": d["label"], "editorial_probability": d["editorial_probability"],
                     "commentary": flagged})
        print(f"{d['id']}: {d['label']} (P(editorial) {d['editorial_probability']:.3f}), "
              f"{len(flagged)} commentary sentence(s)")
        for f in flagged:
            print(f"    p={f['p']:.2f}  {f['text'][:110]}")
    if ns.out:
        Path(ns.out).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.out).write_text(json.dumps({"model": ns.model, "voice_rules": analyzer.stance.config.voice_rules,
                                            "seeds": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
