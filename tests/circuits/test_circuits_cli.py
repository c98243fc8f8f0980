"""`interp circuit` end to end on a saved tiny Llama: the folder, and a rerun that reads the scores back."""

from __future__ import annotations

import json

import pandas as pd

from interp.cli import main

PAIRS = "clean,corrupted,target,baseline\nThe dog near the,The key near the, is, are\n" \
        "The man near the,The dog near the, is, are\n"


def test_circuit_command_writes_its_folder_and_resumes(tmp_path, tiny_llama_dir, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(PAIRS)
    out = tmp_path / "out"
    argv = ["circuit", "--model", str(tiny_llama_dir), "--pairs", str(pairs), "--method", "eap", "--curve", "0,0.5,1",
            "--out", str(out)]
    assert main(argv) == 0
    for name in ("edges.csv", "circuit.csv", "faithfulness.csv", "results.csv", "summary.csv", "meta.json",
                 "figures/circuit.html", "figures/faithfulness.html"):
        assert (out / name).exists(), name
    curve = pd.read_csv(out / "faithfulness.csv")
    assert curve.faithfulness.iloc[0] == 0 and abs(curve.faithfulness.iloc[-1] - 1) < 1e-5
    assert json.loads((out / "meta.json").read_text())["method"] == "eap"
    edges = (out / "edges.csv").read_text()
    assert main(argv) == 0
    assert "read the edge scores back" in capsys.readouterr().out
    assert (out / "edges.csv").read_text() == edges
    assert main([*argv[:-2], "--method", "eap-ig-inputs", "--out", str(out)]) == 2  # other settings: refused
