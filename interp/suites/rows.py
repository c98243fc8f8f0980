"""CausalGym dataset rows (docs/formats.md, format C) in the files they are published as: JSON (a
list), JSON lines, CSV or Parquet; a folder of ``train``/``dev``/``test`` files; a Hugging Face dataset.

>>> import tempfile
>>> from interp.suites.pairs import Pair
>>> folder = tempfile.mkdtemp()
>>> pair = Pair(("The", " dog"), ("The", " dogs"), "sg", "pl", " is", " are", task="agr")
>>> paths = write_rows(folder, {"train": [pair, pair.swapped()], "test": [pair]}, types={"agr": ("sg", "pl")})
>>> [p.name for p in paths]
['train.jsonl', 'test.jsonl']
>>> records = read_records(paths[0])
>>> records[0]["base"], records[0]["types"]
(['<|endoftext|>The', ' dog'], ['sg', 'pl'])
>>> row_pair(records[0], 0, "train.jsonl") == pair          # the BOS marker is not text
True

A row may carry two fields the published rows lack, which interp writes so that a run reruns
exactly from its rows: ``types`` (the task's two types in order; the first gets the control
label `` dog``) and ``label_spans`` (the spans of the label-bearing variables). Without them the
types come in the order they first appear and the label spans are the spans that differ.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from interp.errors import SuiteError
from interp.io import atomic_write_text
from interp.suites.pairs import Pair

#: The suffixes of rows files, best first (what :func:`write_rows` writes is the first).
SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
#: Split names in file names and datasets -> interp's split names.
SPLIT_NAMES = {"train": "train", "dev": "dev", "validation": "dev", "test": "test"}
#: The BOS text the published rows put before the first span (of the GPT-2/Pythia family).
PUBLISHED_BOS = "<|endoftext|>"
BOS_MARKER = re.compile(r"^(<\|[^|<>\s]+\|>|<s>|<bos>|<BOS>|\[CLS\])")
FIELDS = {"base": list, "src": list, "base_type": str, "src_type": str, "base_label": str, "src_label": str,
          "task": str}


def strip_bos_marker(span: str) -> str:
    """``"<|endoftext|>The"`` -> ``"The"``: the original model's BOS is not text for another tokenizer."""
    return BOS_MARKER.sub("", span, count=1)


# ------------------------------------------------------------------------------ reading
def read_records(path: str | Path) -> list[dict]:
    """The rows of one file, as dicts (lists for ``base``/``src``), whatever its format."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return _json_records(path)
    if suffix == ".csv":
        return _table_records(path, lambda: pd.read_csv(path, dtype=str, keep_default_na=False))
    if suffix == ".parquet":
        return _table_records(path, lambda: pd.read_parquet(path))
    raise SuiteError(f"{path}: unknown file type {path.suffix or '(no suffix)'!r}; CausalGym rows are "
                     f"{', '.join(SUFFIXES)} files (templates are .json)")


def row_pair(row: Any, index: int, where: str | Path) -> Pair:
    """One row (format C) as a :class:`~interp.suites.pairs.Pair`, checked, BOS markers removed."""
    place = f"{where}: row {index}"
    if not isinstance(row, dict):
        raise SuiteError(f"{place}: must be an object, not {type(row).__name__}")
    if isinstance(row.get("task"), str):
        place += f" (task {row['task']!r})"
    for name, kind in FIELDS.items():
        if name not in row:
            raise SuiteError(f"{place}: field {name!r} is missing")
        if not isinstance(row[name], kind):
            raise SuiteError(f"{place}: field {name!r} must be a {kind.__name__}, not {type(row[name]).__name__}")
    for side in ("base", "src"):
        if not row[side] or not all(isinstance(s, str) for s in row[side]):
            raise SuiteError(f"{place}: field {side!r} must be a non-empty list of strings")
    if len(row["base"]) != len(row["src"]):
        raise SuiteError(f"{place}: fields 'base' and 'src' must align: {len(row['base'])} spans "
                         f"vs {len(row['src'])}")
    spans = row.get("label_spans") or ()
    if not isinstance(spans, (list, tuple)) or not all(isinstance(k, int) and 0 <= k < len(row["base"])
                                                        for k in spans):
        raise SuiteError(f"{place}: field 'label_spans' must be a list of span indices, not {spans!r}")
    base = [strip_bos_marker(row["base"][0]), *row["base"][1:]]
    src = [strip_bos_marker(row["src"][0]), *row["src"][1:]]
    return Pair(tuple(base), tuple(src), row["base_type"], row["src_type"], row["base_label"], row["src_label"],
                row["task"], tuple(spans))


def row_types(row: dict) -> tuple[str, str] | None:
    """The optional ``types`` field of a row (the task's two types, in order)."""
    types = row.get("types")
    if isinstance(types, (list, tuple)) and len(types) == 2 and all(isinstance(t, str) for t in types):
        return (types[0], types[1])
    return None


def split_files(folder: str | Path) -> dict[str, list[Path]]:
    """The rows files of a folder by split: ``train.jsonl``, ``dev.csv`` / ``validation.csv``,
    ``test.parquet``, or the Hugging Face shards ``data/train-00000-of-00001.parquet``; ``{}``: none."""
    folder = Path(folder)
    found: dict[str, dict[str, list[Path]]] = {}
    for place in (folder, folder / "data"):
        for path in sorted(place.glob("*")) if place.is_dir() else []:
            if path.suffix.lower() not in SUFFIXES or not path.is_file():
                continue
            name = path.stem.lower()
            prefix = name.split("-", 1)[0]
            split = SPLIT_NAMES.get(name) or (SPLIT_NAMES.get(prefix) if "-" in name else None)
            if split is not None:  # shards of one split share their prefix and suffix
                pattern = (name if name in SPLIT_NAMES else f"{prefix}-*") + path.suffix.lower()
                kind = (path.parent.relative_to(folder) / pattern).as_posix()
                found.setdefault(split, {}).setdefault(kind, []).append(path)
    files = {}
    for split, by_name in found.items():
        if len(by_name) > 1:
            raise SuiteError(f"{folder}: files {' and '.join(sorted(by_name))} both hold the {split} split; keep one")
        files[split] = next(iter(by_name.values()))
    return files


def hub_records(dataset_id: str) -> dict[str, list[dict]]:
    """The splits of a Hugging Face dataset (``datasets`` package; its local cache, or the network)."""
    try:
        import datasets
    except ImportError:
        raise SuiteError(f"{dataset_id}: not a file or folder; to read it as a Hugging Face dataset id, install the "
                         "'datasets' package (pip install datasets)") from None
    try:
        loaded = datasets.load_dataset(dataset_id)
    except Exception as error:  # noqa: BLE001 - offline, unknown id, no permission: all "cannot load"
        raise SuiteError(f"{dataset_id}: not a file or folder, and the Hugging Face dataset cannot be loaded "
                         f"(it must be in the local cache or reachable online): {type(error).__name__}: "
                         f"{error}") from None
    splits = {}
    for name in loaded:
        split = SPLIT_NAMES.get(str(name))
        if split is None:
            continue
        rows = loaded[name].to_list() if hasattr(loaded[name], "to_list") else list(loaded[name])
        splits[split] = rows
    return splits


# ------------------------------------------------------------------------------ writing
def write_rows(folder: str | Path, splits: dict[str, Sequence[Pair]], *,
               types: dict[str, tuple[str, str]] | None = None, bos_marker: str = PUBLISHED_BOS) -> list[Path]:
    """Write each non-empty split as ``FOLDER/SPLIT.jsonl`` (published format C, one row a line),
    atomically; ``types`` (task -> its two types) and the label spans go in as extra fields."""
    paths = []
    for split, pairs in splits.items():
        if not pairs:
            continue
        lines = [json.dumps(_row(pair, types, bos_marker), ensure_ascii=False) for pair in pairs]
        paths.append(atomic_write_text(Path(folder) / f"{split}.jsonl", "\n".join(lines) + "\n"))
    return paths


def _row(pair: Pair, types: dict[str, tuple[str, str]] | None, bos_marker: str) -> dict:
    row = pair.to_row(bos_marker)
    if types and pair.task in types:
        row["types"] = list(types[pair.task])
    row["label_spans"] = list(pair.label_spans)
    return row


# ------------------------------------------------------------------------------ file formats
def _json_records(path: Path) -> list:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SuiteError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        data = json.loads(text) if path.suffix.lower() != ".jsonl" else _lines(text)
    except json.JSONDecodeError as whole_error:
        try:  # JSON lines
            data = _lines(text)
        except json.JSONDecodeError:
            raise SuiteError(f"{path}: not valid JSON (line {whole_error.lineno}, column {whole_error.colno}: "
                             f"{whole_error.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list):
        raise SuiteError(f"{path}: CausalGym rows must be a JSON list of objects, not {type(data).__name__}")
    return data


def _lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _table_records(path: Path, read) -> list[dict]:
    try:
        frame = read()
    except (OSError, ValueError, ImportError) as error:
        raise SuiteError(f"{path}: cannot read as a table: {error}") from None
    return [{key: _cell(path, index, key, value) for key, value in row.items()}
            for index, row in enumerate(frame.to_dict(orient="records"))]


def _cell(path: Path, index: int, key: str, value: Any) -> Any:
    """A table cell as JSON would hold it: lists (``base``, ``src``, ``types``, ``label_spans``) from
    arrays or from their JSON / Python text in a CSV."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars (Parquet)
        value = value.tolist()
    if key in ("base", "src", "types", "label_spans") and isinstance(value, str):
        if key in ("types", "label_spans") and not value:
            return None
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(parsed, (list, tuple)):
                return list(parsed)
        raise SuiteError(f"{path}: row {index}: field {key!r} must be a list of strings, written as JSON "
                         f"(e.g. [\"The\", \" dog\"]); got {value[:60]!r}")
    return value


def records_of(paths: Iterable[Path]) -> list[dict]:
    """The rows of several files (shards of one split), in order."""
    return [row for path in paths for row in read_records(path)]


__all__ = ["BOS_MARKER", "FIELDS", "PUBLISHED_BOS", "SPLIT_NAMES", "SUFFIXES", "hub_records", "read_records",
           "records_of", "row_pair", "row_types", "split_files", "strip_bos_marker", "write_rows"]
