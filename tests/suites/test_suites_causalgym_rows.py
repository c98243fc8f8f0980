"""Published CausalGym rows as a suite: every file format, a folder of splits, a single file with a
split field, a Hugging Face dataset id (a stand-in ``datasets``: no download), and the rows a run writes."""

from __future__ import annotations

import json
import sys
import types

import pandas as pd
import pytest
from conftest import FIXTURES

from interp.errors import SuiteError
from interp.suites import causalgym
from interp.suites.causalgym_source import open_suite, save_rows, suite_files, suite_kind, suite_tasks
from interp.suites.rows import read_records, split_files

TEMPLATES = FIXTURES / "causalgym_templates.json"
ROWS = FIXTURES / "causalgym_rows.json"


@pytest.fixture(scope="module")
def sampled():
    return causalgym.load_templates(TEMPLATES, seed=0, sizes=(12, 4, 8))


def _frames(tasks):
    return {name: task.to_frame() for name, task in tasks.items()}


def _write(folder, split, suffix, rows):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{split}{suffix}"
    frame = pd.DataFrame(rows)
    if suffix == ".json":
        path.write_text(json.dumps(rows))
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif suffix == ".csv":
        frame.assign(base=frame.base.map(json.dumps), src=frame.src.map(json.dumps),
                     types=frame.types.map(json.dumps), label_spans=frame.label_spans.map(json.dumps)).to_csv(
            path, index=False)
    else:
        frame.to_parquet(path)
    return path


def test_saved_rows_reload_as_the_same_pairs_types_and_label_spans(sampled, tmp_path):
    paths = save_rows(tmp_path, sampled)
    assert sorted(p.name for p in paths) == ["dev.jsonl", "test.jsonl", "train.jsonl"]
    first = read_records(tmp_path / "train.jsonl")[0]
    assert first["base"][0].startswith("<|endoftext|>")               # as published: the original BOS marker
    assert suite_kind(tmp_path) == "rows" and suite_tasks(tmp_path) == list(sampled)
    loaded = open_suite(tmp_path)
    assert _frames(loaded).keys() == _frames(sampled).keys()
    for name, task in sampled.items():
        assert loaded[name].to_frame().equals(task.to_frame())
        assert loaded[name].types == task.types
        assert [p.label_spans for p in loaded[name].test] == [p.label_spans for p in task.test]
        assert loaded[name].control().to_frame().equals(task.control().to_frame())


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet"])
def test_every_published_file_format_reads_the_same(sampled, tmp_path, suffix):
    save_rows(tmp_path / "jsonl", sampled)
    for split in ("train", "dev", "test"):
        _write(tmp_path / "other", "validation" if split == "dev" else split, suffix,
               read_records(tmp_path / "jsonl" / f"{split}.jsonl"))
    loaded = open_suite(tmp_path / "other")
    for name, task in sampled.items():
        assert loaded[name].to_frame().equals(task.to_frame()), suffix
        assert loaded[name].types == task.types


def test_sizes_cap_rows_which_are_otherwise_used_as_given(sampled, tmp_path):
    save_rows(tmp_path, sampled)
    capped = open_suite(tmp_path, sizes=(8, 0, 100), tasks=["agr_fixture"])
    assert list(capped) == ["agr_fixture"]
    task = capped["agr_fixture"]
    assert (len(task.train), len(task.dev), len(task.test)) == (8, 0, 8)
    assert task.train == sampled["agr_fixture"].train[:8]
    with pytest.raises(SuiteError, match=r"no task \['nope'\]; the tasks are: agr_fixture, gender_fixture"):
        open_suite(tmp_path, tasks=["nope"])


def test_a_single_rows_file_with_a_split_field_and_the_published_fixture(tmp_path):
    rows = json.loads(ROWS.read_text())
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{**row, "split": "test" if i % 2 else "train"} for i, row in enumerate(rows)]))
    task = open_suite(path)["agr_fixture"]
    assert [p.base_text for p in task.train] == ["The dog near the house", "The keys to the cabinet"]
    assert task.types == ("singular", "plural")                      # first seen, without a types field
    assert suite_files(path) == [path]
    with pytest.raises(SuiteError, match=r"row 0: a single rows file needs a 'split' field"):
        open_suite(ROWS)


def test_huggingface_shards_in_a_data_folder(sampled, tmp_path):
    save_rows(tmp_path / "flat", sampled)
    for split, name in (("train", "train-00000-of-00002"), ("test", "test-00000-of-00001")):
        records = read_records(tmp_path / "flat" / f"{split}.jsonl")
        _write(tmp_path / "snapshot" / "data", name, ".parquet", records[:6] if split == "train" else records)
    _write(tmp_path / "snapshot" / "data", "train-00001-of-00002", ".parquet",
           read_records(tmp_path / "flat" / "train.jsonl")[6:])
    assert sorted(split_files(tmp_path / "snapshot")) == ["test", "train"]
    loaded = open_suite(tmp_path / "snapshot")
    for name, task in sampled.items():
        assert loaded[name].train == task.train and loaded[name].test == task.test


BAD = {
    "missing test split": (lambda d: _write(d, "train", ".jsonl", [{"x": 1}]) and d,
                           r"rows folder without a test split; it needs train.jsonl and test.jsonl"),
    "two files for one split": (lambda d: [(d / f"{s}{x}").write_text("[]") for s in ("train", "test")
                                           for x in (".json", ".csv")],
                                r"files test.csv and test.json both hold the test split; keep one"),
    "unknown file type": (lambda d: (d / "rows.txt").write_text("[]") and d / "rows.txt",
                          r"rows.txt: unknown file type '.txt'"),
    "list cell that is not a list": (lambda d: (d / "train.csv").write_text("base,src\nThe dog,The dogs\n") and
                                     (d / "test.csv").write_text("base\n[]\n") and d,
                                     r"train.csv: row 0: field 'base' must be a list of strings, written as JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rows_suites_say_what_is_wrong(tmp_path, case):
    make, message = BAD[case]
    made = make(tmp_path)
    suite = made if isinstance(made, type(tmp_path)) else tmp_path
    with pytest.raises(SuiteError, match=message):
        open_suite(suite)


def test_dataset_id_reads_through_datasets_or_says_what_is_missing(sampled, tmp_path, monkeypatch):
    save_rows(tmp_path, sampled)
    published = {"train": read_records(tmp_path / "train.jsonl"), "validation": read_records(tmp_path / "dev.jsonl"),
                 "test": read_records(tmp_path / "test.jsonl")}

    class Split(list):
        def to_list(self):
            return list(self)

    def load_dataset(name):
        if name != "someone/causalgym":
            raise FileNotFoundError(f"Couldn't find a dataset script or data files for {name}")
        return {split: Split(rows) for split, rows in published.items()}

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    assert suite_kind("someone/causalgym") == "hub" and suite_files("someone/causalgym") == []
    for name in ("someone/causalgym", "hf:someone/causalgym"):
        loaded = open_suite(name)
        assert all(loaded[t].to_frame().equals(task.to_frame()) for t, task in sampled.items())
    with pytest.raises(SuiteError, match=r"someone/other: not a file or folder, and the Hugging Face dataset cannot "
                                         r"be loaded \(it must be in the local cache or reachable online\)"):
        open_suite("someone/other")
    monkeypatch.setitem(sys.modules, "datasets", None)                  # not installed
    with pytest.raises(SuiteError, match=r"someone/causalgym: not a file or folder; to read it as a Hugging Face "
                                         r"dataset id, install the 'datasets' package"):
        suite_tasks("someone/causalgym")


def test_a_template_folder_holding_a_file_named_test_json_stays_templates(tmp_path):
    (tmp_path / "test.json").write_text(TEMPLATES.read_text())
    assert suite_kind(tmp_path) == "templates" and suite_kind(TEMPLATES) == "templates"
    assert suite_tasks(tmp_path) == ["agr_fixture", "gender_fixture"]
    with pytest.raises(SuiteError, match="no such file or folder"):
        suite_kind(tmp_path / "missing" / "rows")
