"""Reading SyntaxGym suites: the fixture loads; each kind of malformed file names file, item, field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from interp.errors import SuiteError
from interp.suites import syntaxgym

FIXTURE = FIXTURES / "syntaxgym_agreement.json"


def data():
    return json.loads(FIXTURE.read_text())


def write(tmp_path, obj, name="suite.json") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_fixture_loads():
    suite = syntaxgym.load(FIXTURE)
    assert suite.name == "fixture_agreement" and suite.metric == "sum"
    assert suite.conditions == ["match_sing", "mismatch_sing", "match_plural", "mismatch_plural"]
    assert suite.region_names == {1: "intro", 2: "np_subj", 3: "prep", 4: "verb", 5: "continuation"}
    assert [p.text for p in suite.predictions][0] == "(4;%mismatch_sing%) > (4;%match_sing%)"
    assert suite.items[1].conditions["match_sing"].text() == "The author laughs ."     # empty region: no double space
    table = suite.to_frame()
    assert len(table) == 2 * 4 * 5 and set(table.region) == set(suite.region_names.values())


def test_folder_and_builtins_load(tmp_path):
    write(tmp_path, data(), "a.json")
    write(tmp_path, data(), "b.json")
    assert [s.source for s in syntaxgym.load(tmp_path)] == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    builtins = syntaxgym.load_all("builtin:")
    assert {"number_pp", "number_src", "number_orc", "reflexive_pp", "npi_ever"} <= {s.name for s in builtins}
    with pytest.raises(SuiteError, match="no built-in syntaxgym suite 'nope'.*number_pp"):
        syntaxgym.load("builtin:nope")


def _mutate(fn):
    raw = copy.deepcopy(data())
    fn(raw)
    return raw


def _set_formula(raw, text):
    raw["predictions"][1]["formula"] = text


def _drop_region(raw):
    del raw["items"][1]["conditions"][2]["regions"][3]


def _drop_condition(raw):
    del raw["items"][1]["conditions"][3]


BAD_FORMULA = "[(4;%match_plural%) < (4;%mismatch_plural%)] & & [(1;%match_sing%) > 2]"
MALFORMED = {
    "bad formula": (lambda r: _set_formula(r, BAD_FORMULA),
                    ["suite.json", "prediction 1", "field 'formula'", "character 47", "^"]),
    "unknown condition": (lambda r: _set_formula(r, "(4;%match_sing%) < (4;%mismatch_singular%)"),
                          ["suite.json", "prediction 1", "unknown condition 'mismatch_singular'", "character 19"]),
    "unknown region": (lambda r: _set_formula(r, "(9;%match_sing%) < (4;%mismatch_sing%)"),
                       ["suite.json", "prediction 1", "unknown region 9", "character 0"]),
    "missing region": (_drop_region,
                       ["suite.json", "item 2", "condition 'match_plural'", "field 'regions'",
                        "missing region 4 (verb)"]),
    "inconsistent conditions": (_drop_condition,
                                ["suite.json", "item 2", "field 'conditions'", "missing ['mismatch_plural']"]),
    "missing content": (lambda r: r["items"][0]["conditions"][1]["regions"][0].pop("content"),
                        ["suite.json", "item 1", "condition 'mismatch_sing'", "field 'content' is missing"]),
    "content not text": (lambda r: r["items"][0]["conditions"][0]["regions"][0].update(content=3),
                         ["item 1", "condition 'match_sing'", "field 'content' must be a string"]),
    "bad metric": (lambda r: r["meta"].update(metric="average"), ["suite.json", "field 'meta.metric'", "'average'"]),
    "no items": (lambda r: r.pop("items"), ["suite.json", "field 'items' is missing"]),
    "duplicate condition": (lambda r: r["items"][0]["conditions"][1].update(condition_name="match_sing"),
                            ["item 1", "condition 'match_sing'", "appears twice"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_suites_name_file_item_and_field(tmp_path, case):
    mutate, fragments = MALFORMED[case]
    path = write(tmp_path, _mutate(mutate))
    with pytest.raises(SuiteError) as caught:
        syntaxgym.load(path)
    for fragment in fragments:
        assert fragment in str(caught.value), f"{fragment!r} not in:\n{caught.value}"


def test_wrong_json_names_file_line_and_column(tmp_path):
    path = write(tmp_path, '{"meta": {"name": "x"},\n "items": [}')
    with pytest.raises(SuiteError, match=r"suite\.json: not valid JSON \(line 2, column 12"):
        syntaxgym.load(path)
    with pytest.raises(SuiteError, match="top level must be an object"):
        syntaxgym.load(write(tmp_path, "[1, 2]"))
    with pytest.raises(SuiteError, match="no such file"):
        syntaxgym.load(tmp_path / "missing.json")
