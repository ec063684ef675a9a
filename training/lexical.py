"""Fit the lexical branch beside a trained stance model and choose its gate on dev data."""

from __future__ import annotations

import numpy as np
from presslens.model.lexical import LexicalBranch

from .selection import best_threshold

GATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
C_GRID = (0.3, 1.0, 3.0)


def fit_branch(model, train, dev, p_dev: np.ndarray, prior: float | None, seed: int = 13, log=print) -> dict:
    """Set ``model.lexical``: the n-gram model's C and the gate weight with the best (prior-weighted) dev
    macro-F1, the threshold tuned for each; ties go to the smaller gate. Returns the choices and scores."""
    yd = np.asarray(dev.y)
    alone = {}
    for c in C_GRID:
        b = LexicalBranch.fit(train.texts, train.y, c=c, min_df=1, seed=seed)
        alone[c] = (best_threshold(yd, 1.0 / (1.0 + np.exp(-b.logits(dev.texts))), prior)[1], b)
    c_best = max(C_GRID, key=lambda c: (round(alone[c][0], 4), -c))
    branch = alone[c_best][1]
    scores = {w: best_threshold(yd, branch.mix(p_dev, dev.texts, w), prior)[1] for w in GATES}
    gate = max(GATES, key=lambda w: (round(scores[w], 4), -w))
    branch.weight = gate
    branch.info.update({"gate_chosen_on": "dev", "dev_scores_by_gate": {str(w): round(f, 4) for w, f in scores.items()},
                        "dev_alone": round(alone[c_best][0], 4)})
    model.lexical = branch if gate > 0 else None
    log(f"lexical branch: C={c_best} (dev alone {alone[c_best][0]:.4f}); gate {gate} "
        f"(dev {scores[gate]:.4f} vs {scores[0.0]:.4f} without)")
    return {"c": c_best, "gate": gate, "dev_alone": round(alone[c_best][0], 4),
            "dev_with": round(scores[gate], 4), "dev_without": round(scores[0.0], 4)}
