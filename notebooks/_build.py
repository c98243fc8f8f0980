"""Build the notebooks from their sources: ``notebooks/src/NN_name.py`` → ``notebooks/NN_name.ipynb``.

Each source is a plain Python file in the "percent" format that Jupytext, VS Code and Spyder
read: ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose lines are comments.
The notebooks are written without outputs or execution counts and with fixed cell ids, so a
rebuild of unchanged sources gives the same bytes (``tests/notebooks/test_notebooks.py`` checks that).

    .venv/bin/python notebooks/_build.py            # rebuild every notebook
    .venv/bin/python notebooks/_build.py --check    # exit 1 if a notebook differs from its source

Lines starting with ``# ruff:`` are linter directives for the source file and are dropped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from interp.io import atomic_write_text

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _markdown(lines: list[str]) -> str:
    out = []
    for line in lines:
        if line == "#":
            out.append("")
        elif line.startswith("# "):
            out.append(line[2:])
        else:
            raise ValueError(f"markdown cell line is not a comment: {line!r}")
    return "\n".join(out)


def cells_of(source: str) -> list[tuple[str, str]]:
    """``[(kind, text)]`` of a percent-format source; kind is ``"code"`` or ``"markdown"``.

    >>> cells_of("# %% [markdown]\\n# # Title\\n#\\n# text\\n\\n# %%\\nx = 1\\n")
    [('markdown', '# Title\\n\\ntext'), ('code', 'x = 1')]
    """
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# ruff:"):
            continue
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"text before the first '# %%' cell marker: {line!r}")
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            out.append((kind, _markdown(lines) if kind == "markdown" else "\n".join(lines)))
    return out


def build(source_path: Path) -> str:
    """The notebook JSON (text) for one source file."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    stem = source_path.stem
    for i, (kind, text) in enumerate(cells_of(source_path.read_text())):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(make(text, id=f"{stem[:2]}-{i:02d}"))
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def targets() -> dict[Path, Path]:
    """Source file → notebook path, for every source."""
    return {src: HERE / f"{src.stem}.ipynb" for src in sorted(SOURCES.glob("[0-9][0-9]_*.py"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks match their sources")
    args = parser.parse_args(argv)
    stale = []
    for src, notebook in targets().items():
        text = build(src)
        if notebook.exists() and notebook.read_text() == text:
            continue
        stale.append(notebook.name)
        if not args.check:
            atomic_write_text(notebook, text)
    if args.check and stale:
        print(f"out of date (run notebooks/_build.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    if not args.check:
        print(f"rebuilt: {', '.join(stale) or 'nothing (all up to date)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
