"""The lexicon features and the stacker: values a reader can check, and the save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from presslens.model.encoder import ModelLoadError
from presslens.model.features import GROUPS, Stacker, features


def test_features_read_the_writer_outside_quotes():
    own = "I think this is clearly a shameful, absurd decision, isn't it?"
    quoted = 'The minister said: "I think this is clearly a shameful, absurd decision, isn\'t it?"'
    plain = "The meeting in London lasted six hours on Friday."
    f = features([own, quoted, plain], list(GROUPS))
    names = [n for g in GROUPS for n in GROUPS[g]]
    col = {n: f[:, i] for i, n in enumerate(names)}
    assert col["first_person"][0] > 0 and col["first_person"][1] == 0  # the quoted "I" is the minister's
    assert col["question"][0] == 1 and col["question"][1] == 0
    assert col["boosters"][0] > 0 == col["boosters"][2]
    assert col["pattern_subjectivity"][0] > 0.5 > col["pattern_subjectivity"][2]
    assert col["vader_neg"][0] > 0 == col["vader_neg"][2]


def test_stacker_round_trips_through_save_and_load(tmp_path):
    texts = ["I think it is a shameful farce!", "The talks lasted six hours.", "Obviously they failed, sadly.",
             "Russia said the vote would go ahead.", "What a ridiculous show, don't you think?",
             "The minister met the official in London."] * 3
    y = np.array([1, 0, 1, 0, 1, 0] * 3)
    p = np.linspace(0.3, 0.7, len(texts))
    st = Stacker.fit(p, texts, y, ["voice", "subjectivity"], info={"chosen_by": "test"})
    st.save(tmp_path)
    back = Stacker.load(tmp_path)
    assert back.groups == ["voice", "subjectivity"] and back.info == {"chosen_by": "test"}
    np.testing.assert_allclose(back.mix(p, texts), st.mix(p, texts), atol=1e-7)
    mixed = st.mix(p, texts)
    assert mixed[y == 1].mean() > mixed[y == 0].mean()  # the features separate what p alone does not
    data = json.loads((tmp_path / "stacker.json").read_text())
    assert data["features"] == ["first_person", "second_person", "question", "exclamation", "pattern_subjectivity"]


@pytest.mark.parametrize("edit", [{"groups": ["nope"]}, {"coef": [1.0]}, {"scale": [0, 1, 1, 1, 1]},
                                  {"format": "other"}])
def test_a_malformed_stacker_is_refused_with_one_line(edit, tmp_path):
    st = Stacker(["voice", "subjectivity"], [0.0] * 5, [1.0] * 5, [1.0] * 6, 0.0)
    st.save(tmp_path)
    data = json.loads((tmp_path / "stacker.json").read_text())
    data.update(edit)
    (tmp_path / "stacker.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError):
        Stacker.load(tmp_path)
