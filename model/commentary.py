"""The one commentary decision: which sentences of an article are the writer's own commentary.

Serving (``StanceModel.judge_article``, under ``Analyzer.judge`` and ``eval stance``) and the article rule's
calibration on straight news (``training/article_rule.py``) decide through :func:`commentary_flags`, so the
rule that is calibrated is the rule that is served. :func:`commentary_decision` gives its settings as a
checkpoint serves them; a summarizer that reads the stance model's commentary is keyed by them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .voice import writer_voice


def commentary_flags(texts: Sequence[str], probabilities: np.ndarray, reported: Sequence[bool],
                     is_title: Sequence[bool], *, threshold: float, voice_rules: bool) -> np.ndarray:
    """Per sentence: commentary or not.

    A sentence is commentary when it is not the headline, not reported speech (``model.claims.attribute``),
    and either its probability reaches the in-article ``threshold`` or, with ``voice_rules``, it speaks in
    the writer's own voice outside quotes (``model.voice.writer_voice``: first person, a question put to the
    reader, ...).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    own = p >= threshold
    if voice_rules and len(texts):
        own = own | np.array([writer_voice(t) for t in texts], dtype=bool)
    return own & ~np.asarray(reported, dtype=bool) & ~np.asarray(is_title, dtype=bool)


def commentary_decision(config: Any) -> dict:
    """The decision's settings in a ``model.stance.StanceConfig`` (taken untyped: this module sits below
    model.stance): the in-article threshold and the writer-voice switch."""
    threshold = config.commentary_threshold if config.commentary_threshold is not None else config.threshold
    return {"threshold": round(float(threshold), 6), "voice_rules": bool(config.voice_rules)}
