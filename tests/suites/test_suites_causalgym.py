"""CausalGym templates and rows: deterministic splits kept apart, controls, BOS markers, labels, errors."""

from __future__ import annotations

import json

import pytest
from conftest import FIXTURES

from interp.errors import InputError, SuiteError
from interp.models import tiny_tokenizer
from interp.suites import causalgym
from interp.suites.builtin_source import BUILTIN_DIR, generated_files

TEMPLATES = FIXTURES / "causalgym_templates.json"
ROWS = FIXTURES / "causalgym_rows.json"
SIZES = (60, 20, 20)


def test_templates_sample_deterministically_into_sized_splits():
    first = causalgym.load_templates(TEMPLATES, seed=3, sizes=(20, 4, 4))
    again = causalgym.load_templates(TEMPLATES, seed=3, sizes=(20, 4, 4))
    other = causalgym.load_templates(TEMPLATES, seed=4, sizes=(20, 4, 4))
    task = first["agr_fixture"]
    assert (len(task.train), len(task.dev), len(task.test)) == (20, 4, 4)
    assert task.to_frame().equals(again["agr_fixture"].to_frame())
    assert not task.to_frame().equals(other["agr_fixture"].to_frame())
    alone = causalgym.load_templates(TEMPLATES, seed=3, sizes=(20, 4, 4), tasks=["agr_fixture"])
    assert alone["agr_fixture"].to_frame().equals(task.to_frame())           # independent of other tasks


def test_pairs_differ_only_in_label_spans_and_come_with_swapped_copies():
    task = causalgym.load_templates(TEMPLATES, seed=0, sizes=SIZES, tasks=["agr_fixture"])["agr_fixture"]
    for split in (task.train, task.dev, task.test):
        for pair, swapped in zip(split[::2], split[1::2]):
            assert swapped == pair.swapped()
            assert {pair.base_type, pair.src_type} == {"singular", "plural"}
            assert pair.label_spans == (1,)
            assert [k for k in range(len(pair.base)) if pair.base[k] != pair.src[k]] == [1]
            assert pair.base_label in {" is", " was"} if pair.base_type == "singular" else {" are", " were"}
            assert pair.src_label in {" is", " was"} if pair.src_type == "singular" else {" are", " were"}
    assert {p.base_type for p in task.test} == {"singular", "plural"}


def test_no_sentence_of_dev_or_test_is_in_train():
    for seed in range(3):
        task = causalgym.load_templates(TEMPLATES, seed=seed, sizes=SIZES, tasks=["agr_fixture"])["agr_fixture"]
        sentences = {name: {t for p in getattr(task, name) for t in (p.base_text, p.src_text)}
                     for name in ("train", "dev", "test")}
        assert not sentences["dev"] & sentences["train"]
        assert not sentences["test"] & sentences["train"]
        assert not sentences["test"] & sentences["dev"]


def test_dotted_variables_share_an_index_and_empty_fillers_make_empty_spans():
    task = causalgym.load_templates(TEMPLATES, seed=0, sizes=(20, 4, 4))
    for pair in task["gender_fixture"].train:
        verb, obj = pair.base[1].strip(), pair.base[2].strip()
        verbs = ["read", "opened", "ate", "painted", "found"]
        assert verbs.index(verb) == ["a book", "the door", "an apple", "the fence", "a key"].index(obj)
    comma_pairs = [p for p in task["agr_fixture"].train if len(p.base) == 6]
    assert comma_pairs and all(p.base[2] == "" for p in comma_pairs)   # "{subject}{comma}" with filler ""


def test_control_task_relabels_types_with_dog_and_give():
    task = causalgym.load_templates(TEMPLATES, seed=0, sizes=SIZES, tasks=["agr_fixture"])["agr_fixture"]
    control = task.control()
    assert control.control_task and len(control.test) == len(task.test)
    for original, relabelled in zip(task.test, control.test):
        assert (relabelled.base, relabelled.src) == (original.base, original.src)
        assert relabelled.base_label == (" dog" if original.base_type == "singular" else " give")
        assert relabelled.src_label == (" dog" if original.src_type == "singular" else " give")
    via_flag = causalgym.load_templates(TEMPLATES, seed=0, sizes=SIZES, control=True, tasks=["agr_fixture"])
    via_flag = via_flag["agr_fixture"]
    assert via_flag.to_frame().equals(control.to_frame())


def test_too_few_fillers_is_an_error_not_a_short_split(tmp_path):
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"tiny": {"templates": ["The {n}"], "label": "n",
                                         "labels": {"a": ["is"], "b": ["are"]},
                                         "variables": {"n": {"a": ["dog"], "b": ["dogs"]}}}}))
    with pytest.raises(SuiteError, match=r"small\.json: task 'tiny' yields only 2 of 10 distinct train rows"):
        causalgym.load_templates(path, sizes=(10, 2, 2), strict=True)   # the default keeps colliding pairs


BAD_TEMPLATES = {
    "labels need two types": ({"labels": {"a": ["x"]}}, "field 'labels': must have exactly two keys"),
    "label variable keyed by type": ({"variables": {"subject": ["dog"], "prep": ["near"], "object": ["car"],
                                                   "comma": [""]}},
                                     "field 'variables.subject': is label-bearing"),
    "unknown variable": ({"templates": ["The {subject} {verb}"]}, "field 'templates[0]': uses {verb}"),
    "no label variable in template": ({"templates": ["The {object}"]}, "uses no label-bearing variable"),
    "missing field": ({"labels": None}, "field 'labels'"),
    "unequal dotted group": (None, "need equally many fillers"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEMPLATES))
def test_malformed_templates_name_file_task_and_field(tmp_path, case):
    raw = json.loads(TEMPLATES.read_text())
    change, message = BAD_TEMPLATES[case]
    task = "agr_fixture"
    if change is None:
        task = "gender_fixture"
        raw[task]["variables"]["vp.object"].append("a pear")
    else:
        raw[task].update(change)
        if change.get("labels", 1) is None:
            del raw[task]["labels"]
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(SuiteError) as caught:
        causalgym.read_templates(path)
    assert f"templates.json: task '{task}'" in str(caught.value) and message in str(caught.value)


def test_rows_load_grouped_by_task_with_the_bos_marker_removed():
    rows = causalgym.load_rows(ROWS)
    assert list(rows) == ["agr_fixture", "gender_fixture"] and len(rows["agr_fixture"]) == 4
    first = rows["agr_fixture"][0]
    assert first.base[0] == "The" and first.base_text == "The dog near the house"
    assert rows["gender_fixture"][0].base_text == "John left because"           # '<s>' marker too
    for tokenizer in (tiny_tokenizer(), tiny_tokenizer(add_bos=True)):
        encoded = first.encode(tokenizer)
        bos = tokenizer.convert_tokens_to_ids("<s>" if tokenizer("a")["input_ids"][0] == 1 else "<|endoftext|>")
        assert encoded.base.ids[0] == bos and encoded.base.ids.count(bos) == 1    # the tokenizer's own, once
        assert tokenizer.convert_ids_to_tokens(encoded.base.ids[1:3]) == ["The", "Ġdog"]


def test_rows_empty_span_and_per_side_positions():
    pair = causalgym.load_rows(ROWS)["agr_fixture"][2]      # base " keys" "" vs source " key" ","
    encoded = pair.encode(tiny_tokenizer())
    assert pair.label_spans == (1, 2) and encoded.sites == [1, 3, 4]
    assert encoded.positions(1) == (3, 2)                   # " keys" is Ġkey s; " key" is one token
    assert encoded.positions(3) == (4, 4)                   # the source's comma shifts it back level


def test_labels_must_be_single_tokens_unless_first_token_ok():
    pair = causalgym.load_rows(ROWS)["gender_fixture"][0]   # " she" is Ġs + he in the tiny vocabulary
    with pytest.raises(InputError, match=r"task 'gender_fixture': label ' she' is 2 tokens \['Ġs', 'he'\]"):
        pair.encode(tiny_tokenizer())
    with pytest.warns(UserWarning, match="scoring its first token"):
        encoded = pair.encode(tiny_tokenizer(), first_token_ok=True)
    assert encoded.src_label_id == tiny_tokenizer().convert_tokens_to_ids("Ġs")


BAD_ROWS = {
    "not a list": ({"base": []}, "must be a JSON list"),
    "missing label": ([{"base": ["a"], "src": ["b"], "base_type": "x", "src_type": "y", "src_label": " b",
                        "task": "t"}], "row 0 (task 't'): field 'base_label' is missing"),
    "misaligned": ([{"base": ["a", " b"], "src": ["b"], "base_type": "x", "src_type": "y", "base_label": " a",
                     "src_label": " b", "task": "t"}], "row 0 (task 't'): fields 'base' and 'src' must align"),
    "wrong json": ("[{", "not valid JSON (line 1"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_malformed_rows_name_file_row_and_field(tmp_path, case):
    content, message = BAD_ROWS[case]
    path = tmp_path / "rows.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(SuiteError) as caught:
        causalgym.load_rows(path)
    assert "rows.json" in str(caught.value) and message in str(caught.value)


# ------------------------------------------------------------------------------ built-ins
PHENOMENA = ["agr_sv_num_pp", "agr_sv_num_subj-relc", "agr_sv_num_obj-relc", "agr_refl_num_pp", "agr_gender",
             "npi_any_subj-relc", "npi_ever_subj-relc", "garden_mvrr", "garden_npz_obj", "gss_subord", "cleft",
             "filler_gap_obj", "filler_gap_pp", "filler_gap_subj", "filler_gap_embed", "filler_gap_hierarchy"]


def test_builtin_templates_cover_the_phenomena_with_400_100_100_pairs_each():
    tasks = causalgym.load_templates("builtin:", seed=0)
    assert set(PHENOMENA) <= set(tasks)
    for name, task in tasks.items():
        assert (len(task.train), len(task.dev), len(task.test)) == (400, 100, 100), name
        assert task.test[0].text_sites(), name


def test_builtin_files_are_exactly_what_the_source_generates():
    for relative, text in generated_files().items():
        assert (BUILTIN_DIR / relative).read_text(encoding="utf-8") == text, relative
