"""eval/profile.py: the per-stage profile of a served request, on the tiny model."""

from __future__ import annotations

import pytest
from presslens.eval.bench import build_article_mix
from presslens.eval.profile import STAGES, profile_rows, stage_profile


@pytest.fixture(scope="module")
def mix(seed_texts):
    return build_article_mix(list(seed_texts.values()), [30, 60], variants=1)


def test_every_stage_is_timed_and_the_shares_add_up(tiny_analyzer, mix):
    # Level 1 served very slowly (a long 'outside'), level 2 faster than any replay (nothing outside).
    prof = stage_profile(tiny_analyzer, mix, [1, 2], rounds=1, served={"1": 0.01, "2": 1e9})
    assert set(prof) == {"1", "2"}
    for c, level in prof.items():
        assert level["batch_articles"] == int(c) and level["articles"] == len(mix)
        assert set(level["seconds_per_article"]) == set(STAGES) | {"outside"}
        assert all(v >= 0 for v in level["seconds_per_article"].values())
        assert level["seconds_per_article"]["encoder"] > 0 and level["seconds_per_article"]["clean_segment"] > 0
        assert sum(level["share"].values()) == pytest.approx(1.0)
        assert level["not_encoder_share"] == pytest.approx(1.0 - level["share"]["encoder"])
    assert prof["1"]["served_s"] == pytest.approx(100.0) and prof["1"]["share"]["outside"] > 0.9
    assert prof["2"]["seconds_per_article"]["outside"] == 0.0
    header, rows = profile_rows(prof)
    assert header[2:9] == list(STAGES) and header[9] == "outside" and [r[0] for r in rows] == ["1", "2"]


def test_without_served_figures_the_shares_are_of_the_replay(tiny_analyzer, mix):
    prof = stage_profile(tiny_analyzer, mix, [2], rounds=1)
    level = prof["2"]
    assert "outside" not in level["share"] and sum(level["share"].values()) == pytest.approx(1.0)
    assert profile_rows(prof)[0][-3] == "serialise"
