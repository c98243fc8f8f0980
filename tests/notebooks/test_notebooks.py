"""The notebooks run top to bottom, and the repository stores them without outputs.

Each notebook is executed with nbclient in a kernel that runs this interpreter (``sys.executable``,
through a kernelspec written to a temporary ``JUPYTER_PATH``), so the venv's ``interp`` is the one
under test whatever the machine's default ``python3`` kernel is. Any cell that raises fails the test.
The kernel runs torch on one thread unless ``OMP_NUM_THREADS`` says otherwise: the notebooks' small
batches gain little from a second thread, and on a shared CPU the spinning threads cost a lot.

Run them alone with ``.venv/bin/python -m pytest -q tests/notebooks/test_notebooks.py`` (``-s`` prints each
notebook's time).
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
KERNEL = "interp-test-python"
WIDGET = "application/vnd.jupyter.widget-view+json"
# what particular notebooks must show: the toolkit's HTML tables and tqdm's notebook progress bars
EXPECTED = {
    "01_quickstart": ["<b>HookedModel</b>", "<b>RunOutput</b>", "<b>Patch</b>"],
    "03_das_and_friends": ["<b>CausalEfficacyResult</b>", "<b>Subspace</b>", WIDGET],
    "04_syntaxgym": ["<b>SyntaxGymResult</b>", WIDGET],
    "05_recall_heads": [WIDGET],
    "06_steering": ["<b>Steer</b>"],
    "07_bring_your_own_model": ["module-path sites only", "TransformerBridge"],
    "08_sae": ["promoted"],
    "09_circuits": ["a26.h0", "faithfulness"],  # the top edge (a26.h0->logits), the curve
}


def _builder():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOK_DIR / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_source_has_its_notebook_and_nine_exist():
    built = {notebook.name for notebook in _builder().targets().values()}
    assert built == {notebook.name for notebook in NOTEBOOKS}
    assert len(NOTEBOOKS) == 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs_and_matches_its_source(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    for cell in code:
        assert cell.outputs == [], f"{path.name} cell {cell.id} has stored outputs"
        assert cell.execution_count is None, f"{path.name} cell {cell.id} has an execution count"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    source = NOTEBOOK_DIR / "src" / f"{path.stem}.py"
    assert path.read_text() == _builder().build(source), f"{path.name} is stale: run notebooks/_build.py"


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernelspec that starts this interpreter's ipykernel, found first on JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    (root / "kernels" / KERNEL).mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "interp tests", "language": "python",
            "env": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}}
    (root / "kernels" / KERNEL / "kernel.json").write_text(json.dumps(spec))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root), *([previous] if previous else [])])
    yield KERNEL
    if previous is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = previous


def execute(path: Path, kernel: str) -> nbformat.NotebookNode:
    """Run every cell in order, in the notebook's folder; a cell that raises raises here."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel, timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, kernel_name):
    started, cpu = time.perf_counter(), _children_cpu()
    notebook = execute(path, kernel_name)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert figures, f"{path.name} shows no plotly figure"
    assert any("text/html" in o.get("data", {}) for o in outputs), f"{path.name} renders no HTML table"
    shown = "\n".join([o.get("data", {}).get("text/html", "") for o in outputs]
                      + [WIDGET for o in outputs if WIDGET in o.get("data", {})])
    for marker in EXPECTED.get(path.stem, []):
        assert marker in shown, f"{path.name} does not show {marker!r}"
    print(f"{path.name}: {seconds:.1f} s wall, {cpu:.1f} s CPU (kernel)")


def _children_cpu() -> float:
    """User + system seconds of finished child processes (the kernel, once it has shut down)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
