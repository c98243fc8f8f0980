"""`interp circuit` end to end on a saved tiny Llama: the folder, and a rerun that reads the scores back."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from interp.circuits.tasks import UnequalLengthWarning
from interp.cli import main
from interp.viz.circuit import circuit_graph

PAIRS = "clean,corrupted,target,baseline\nThe dog near the,The key near the, is, are\n" \
        "The man near the,The dog near the, is, are\n"
LONGER = "The man near the,The enormous old wooden cabinets near the, is, are\n"  # not the same token length


def test_circuit_command_writes_its_folder_and_resumes(tmp_path, tiny_llama_dir, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(PAIRS + LONGER)
    out = tmp_path / "out"
    argv = ["circuit", "--model", str(tiny_llama_dir), "--pairs", str(pairs), "--method", "eap", "--curve", "0,0.5,1",
            "--out", str(out)]
    with pytest.warns(UnequalLengthWarning, match=r"left out 1 of 3 pairs.*pair 2: 'The man near the'"):
        assert main(argv) == 0
    for name in ("edges.csv", "circuit.csv", "faithfulness.csv", "results.csv", "summary.csv", "meta.json",
                 "figures/circuit.html", "figures/faithfulness.html"):
        assert (out / name).exists(), name
    curve = pd.read_csv(out / "faithfulness.csv")
    assert curve.faithfulness.iloc[0] == 0 and abs(curve.faithfulness.iloc[-1] - 1) < 1e-5
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["method"], meta["n_pairs"], meta["n_pairs_left_out"]) == ("eap", 2, 1)
    circuit = pd.read_csv(out / "circuit.csv")  # tiny llama: 4 query heads, 2 key/value heads
    kv = circuit[circuit.kind.isin(["k", "v"])]
    assert kv.down_node.str.fullmatch(r"a\d\.kv[01]").all() and len(kv) > 0
    edges = (out / "edges.csv").read_text()
    with pytest.warns(UnequalLengthWarning):
        assert main(argv) == 0
    assert "read the edge scores back" in capsys.readouterr().out
    assert (out / "edges.csv").read_text() == edges
    assert main([*argv[:-2], "--method", "eap-ig-inputs", "--out", str(out)]) == 2  # other settings: refused


def test_gqa_key_value_edges_enter_their_group_node():
    edges = pd.DataFrame({"upstream": ["input", "a0.h1", "a0.h1"], "down_node": ["a1.kv1", "a1.h2", "a1.h3"],
                          "kind": ["k", "q", "q"], "score": [0.5, -0.2, 0.1]})
    fig = circuit_graph(edges, group=2)
    links = [t for t in fig.data if t.hoverinfo == "skip"]  # a1.kv1 -> its query heads a1.h2, a1.h3
    assert len(links) == 1 and [x for x in links[0].x if x is not None] == [2.5, 2.0, 2.5, 3.0]
    assert fig.data[0].x[1] == 2.5  # the key edge ends at the group node, centred over heads 2 and 3
