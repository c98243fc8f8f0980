"""Text to train SAEs on, cut into fixed-length token blocks.

A corpus is any of: an iterable of texts; a folder of text files (``*.txt``, ``*.md``, ``*.rst``,
read in sorted order); a Hugging Face ``datasets`` dataset (its ``"text"`` column); token ids
(``[n, context]`` blocks, or one flat ``[n_tokens]`` stream); or ``None``, the offline default
:func:`installed_docs`.

:func:`installed_docs` is real English that arrives with the installed software, nothing downloaded:
the docstrings of Python's standard library (modules, classes, functions; at least 40 characters;
test folders skipped), then the descriptions (README) of every installed distribution, then the
``.md``/``.rst`` files that installed packages ship, each in sorted order, so the same installation
always gives the same text. With ``requirements.lock``'s environment (CPython 3.11) it is 4.0 M
characters, 1.16 M tokens of SmolLM2's tokenizer: 0.45 M from 7,231 stdlib docstrings, 0.50 M from 174
package descriptions, 0.20 M from 248 doc files.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> blocks = token_blocks(["The keys to the cabinet are on the table."] * 20, hm.tokenizer, context=8)
>>> blocks.shape[1], blocks.dtype
(8, torch.int64)
>>> next(iter(installed_docs()))[:30] != ""
True
"""

from __future__ import annotations

import ast
import sysconfig
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError

TEXT_SUFFIXES = (".txt", ".md", ".rst")
MIN_DOCSTRING = 40
SKIPPED_PARTS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"})


def stdlib_docstrings() -> Iterator[str]:
    """Docstrings of the standard library's modules, classes and functions, file by file (sorted)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if SKIPPED_PARTS & set(path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.get_docstring(node)
                if text and len(text) >= MIN_DOCSTRING:
                    yield text


def package_descriptions() -> Iterator[str]:
    """The long description (usually the README) of every installed distribution, by name."""
    seen = set()
    for dist in sorted(metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        name = (dist.metadata["Name"] or "").lower()
        if name in seen:
            continue
        seen.add(name)
        body = dist.metadata.get_payload() or dist.metadata["Description"] or ""
        if len(body.strip()) >= MIN_DOCSTRING:
            yield body.strip()


def package_doc_files() -> Iterator[str]:
    """The ``.md`` and ``.rst`` files shipped inside installed packages (sorted by path)."""
    for root in sorted({Path(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}):
        for path in sorted(p for suffix in (".md", ".rst") for p in root.rglob(f"*{suffix}")):
            try:
                text = path.read_text(encoding="utf-8").strip()
            except (UnicodeDecodeError, OSError):
                continue
            if len(text) >= MIN_DOCSTRING:
                yield text


def installed_docs() -> Iterator[str]:
    """The default corpus (see the module docstring): stdlib docstrings, package READMEs, package docs."""
    yield from stdlib_docstrings()
    yield from package_descriptions()
    yield from package_doc_files()


def folder_texts(folder: Path) -> Iterator[str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
    if not files:
        raise InputError(f"the corpus folder {folder} has no {', '.join(TEXT_SUFFIXES)} files")
    for path in files:
        yield path.read_text(encoding="utf-8", errors="replace")


def texts_of(corpus: Any) -> Iterator[str]:
    """The texts of a corpus that is not already token ids."""
    if corpus is None:
        return installed_docs()
    if isinstance(corpus, (str, Path)) and Path(corpus).is_dir():
        return folder_texts(Path(corpus))
    if isinstance(corpus, str):
        raise InputError(f"a corpus given as a string must be a folder of text files; {corpus!r} is not a folder "
                         "(pass a list for texts)")
    if hasattr(corpus, "column_names"):  # a datasets.Dataset
        if "text" not in corpus.column_names:
            raise InputError(f"the dataset has no 'text' column; its columns: {corpus.column_names}")
        return (row["text"] for row in corpus)
    if isinstance(corpus, Iterable):
        return iter(corpus)
    raise InputError(f"a corpus is texts, a folder, a datasets dataset or token ids; got {type(corpus).__name__}")


def token_blocks(corpus: Any, tokenizer, *, context: int = 128, max_tokens: int | None = None,
                 chunk: int = 64) -> Tensor:
    """``[n_blocks, context]`` token ids: the corpus's texts tokenised, joined by the tokenizer's EOS
    token and cut into blocks (the last partial block dropped); stops after ``max_tokens``."""
    if context < 2:
        raise InputError(f"context must be at least 2 tokens; got {context}")
    if isinstance(corpus, Tensor):
        ids = corpus.long()
        blocks = ids.reshape(-1, context) if ids.ndim == 1 else ids
        if ids.ndim == 1 and ids.numel() % context:
            raise InputError(f"a flat token stream of {ids.numel()} ids does not split into blocks of {context}")
        return blocks if max_tokens is None else blocks[: max(1, max_tokens // blocks.shape[1])]
    if tokenizer is None:
        raise InputError("text corpora need the model's tokenizer; this model has none: pass token ids")
    separator = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.bos_token_id
    wanted = None if max_tokens is None else -(-max_tokens // context) * context
    stream: list[int] = []
    texts = texts_of(corpus)
    while wanted is None or len(stream) < wanted:
        batch = [text for _, text in zip(range(chunk), texts) if text]
        if not batch:
            break
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            stream.extend(ids)
            if separator is not None:
                stream.append(separator)
    n_blocks = len(stream) // context if wanted is None else min(len(stream), wanted) // context
    if n_blocks == 0:
        raise InputError(f"the corpus gives {len(stream)} tokens, fewer than one block of {context}")
    return torch.tensor(stream[: n_blocks * context], dtype=torch.long).reshape(n_blocks, context)
