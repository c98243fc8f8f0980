"""The ``interp`` command line when things go wrong: output folders that belong to another command or
to other settings (refused, resumed, ``--overwrite``), Ctrl-C, a closed pipe, unexpected errors and
``--debug``. Tiny models saved to a folder; bad option values are in ``tests/robustness/test_bad_inputs.py``."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AGREEMENT_SMALL

import interp
import interp.commands.causalgym
import interp.commands.sites
import interp.commands.syntaxgym
from interp.cli import main
from interp.folders import OWNER_FILE

TASK = AGREEMENT_SMALL


def causalgym(tiny_llama_dir: Path, suite: Path, out: Path, *options: str) -> list[str]:
    return ["causalgym", "--model", str(tiny_llama_dir), "--suite", str(suite), "--methods", "mean,random",
            "--layers", "0:2", "--no-control", "--n-train", "4", "--n-test", "2", "--n-boot", "10", "--no-figures",
            "--out", str(out), *options]


def stamps(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def no_model_load(monkeypatch) -> None:
    for module in (interp.commands.causalgym, interp.commands.syntaxgym):
        monkeypatch.setattr(module, "load_model", lambda args: pytest.fail("the model loaded before the refusal"))


@pytest.fixture(scope="module")
def causal_out(tiny_llama_dir, suite, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("causal") / "out"
    assert main(causalgym(tiny_llama_dir, suite, out)) == 0
    return out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(folder, tmp_path / "copy"))


# ------------------------------------------------------------------------------ folders
def test_the_folder_records_its_command_and_settings(causal_out, tiny_llama_dir):
    owner = json.loads((causal_out / OWNER_FILE).read_text())
    assert owner["command"] == "causalgym"
    assert owner["settings"]["methods"] == "mean,random" and owner["settings"]["model"] == str(tiny_llama_dir)
    assert "out" not in owner["settings"] and "figures" not in owner["settings"]


def test_another_command_is_refused_before_any_load_and_changes_nothing(causal_out, tmp_path, monkeypatch, capsys):
    out = copy_of(causal_out, tmp_path)
    before = stamps(out)
    no_model_load(monkeypatch)
    assert main(["syntaxgym", "builtin:npz_obj", "--model", "whatever", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"interp syntaxgym: error: {out} holds the results of `interp causalgym`")
    assert "--overwrite" in err and "\n" not in err
    assert stamps(out) == before


# every command that writes an --out folder, with arguments that would otherwise get past the check
EVERY_OUT_COMMAND = {
    "causalgym": lambda tmp: ["causalgym", "--suite", "builtin:agreement"],
    "syntaxgym": lambda tmp: ["syntaxgym", "builtin:npz_obj"],
    "steer": lambda tmp: ["steer"],
    "recall": lambda tmp: ["recall"],
    "lens": lambda tmp: ["lens", "The keys"],
    "circuit": lambda tmp: ["circuit"],
    "sae train": lambda tmp: ["sae", "train"],
    "sae groups": lambda tmp: ["sae", "groups"],
    "sae eval": lambda tmp: ["sae", "eval", "--sae", str(saved_sae(tmp))],
    "sae features": lambda tmp: ["sae", "features", "--sae", str(saved_sae(tmp))],
}


def saved_sae(tmp: Path) -> Path:
    from interp.sae import SAE

    return SAE(64, 128, site="resid_post.0", seed=0).save(tmp / "sae")


@pytest.mark.parametrize("command", [*EVERY_OUT_COMMAND, "run"])
def test_every_command_refuses_a_folder_another_command_wrote(command, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    owner = "syntaxgym" if command == "causalgym" else "causalgym"
    (out / OWNER_FILE).write_text(json.dumps({"command": owner, "settings": {}}))
    (out / "summary.csv").write_text("value\n1\n")
    before = stamps(out)
    if command == "run":
        spec = tmp_path / "exp.toml"
        spec.write_text(f'out = "{out}"\nmodels = ["{tmp_path / "no-model"}"]\n[[evaluations]]\nevaluator = '
                        '"syntaxgym"\nsuite = "builtin:npz_obj"\n')
        argv = ["run", str(spec)]
    else:  # a model that does not exist: the refusal must come first
        argv = [*EVERY_OUT_COMMAND[command](tmp_path), "--model", str(tmp_path / "no-model"), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (f"interp {command}: error: {out} holds the results of `interp {owner}`; `interp {command}` would "
                   "mix its files with them: use another --out folder, or --overwrite to replace them\n")
    assert stamps(out) == before


def test_the_same_command_with_other_settings_is_refused_naming_them(causal_out, tiny_llama_dir, suite, tmp_path,
                                                                     monkeypatch, capsys):
    out = copy_of(causal_out, tmp_path)
    before = stamps(out)
    no_model_load(monkeypatch)
    assert main(causalgym(tiny_llama_dir, suite, out, "--seed", "1", "--n-boot", "20")) == 2
    err = capsys.readouterr().err
    assert "holds the results of `interp causalgym` with other settings" in err
    assert "n-boot: 10 there, 20 now; seed: 0 there, 1 now" in err
    assert stamps(out) == before


def test_the_same_command_and_settings_resume_without_recomputing(causal_out, tiny_llama_dir, suite, tmp_path):
    out = copy_of(causal_out, tmp_path)
    units = {k: v for k, v in stamps(out).items() if k.startswith("units/")}
    assert main(causalgym(tiny_llama_dir, suite, out)) == 0
    assert {k: v for k, v in stamps(out).items() if k.startswith("units/")} == units
    assert main(causalgym(tiny_llama_dir, suite, out, "--no-figures")) == 0  # how to run is not a setting


def test_overwrite_removes_the_old_results_and_keeps_other_files(causal_out, tiny_llama_dir, tmp_path):
    out = copy_of(causal_out, tmp_path)
    (out / "notes.txt").write_text("mine")
    assert main(["syntaxgym", "builtin:npz_obj", "--model", str(tiny_llama_dir), "--out", str(out), "--overwrite"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {OWNER_FILE, "notes.txt", "results.csv", "summary.csv", "predictions.csv", "meta.json"}
    assert json.loads((out / OWNER_FILE).read_text())["command"] == "syntaxgym"
    assert json.loads((out / "meta.json").read_text())["evaluator"] == "syntaxgym"


def test_a_folder_written_before_owner_records_is_adopted_by_its_own_command_only(causal_out, tiny_llama_dir, suite,
                                                                                  tmp_path, monkeypatch, capsys):
    out = copy_of(causal_out, tmp_path)
    (out / OWNER_FILE).unlink()
    with monkeypatch.context() as patch:
        no_model_load(patch)
        assert main(["syntaxgym", "builtin:npz_obj", "--model", "whatever", "--out", str(out)]) == 2
    assert "holds the results of `interp causalgym`" in capsys.readouterr().err
    assert main(causalgym(tiny_llama_dir, suite, out)) == 0
    assert json.loads((out / OWNER_FILE).read_text())["command"] == "causalgym"


def test_a_folder_holding_only_a_claim_is_free(tiny_llama_dir, suite, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / OWNER_FILE).write_text(json.dumps({"command": "steer", "settings": {}}))  # a run that failed early
    assert main(causalgym(tiny_llama_dir, suite, out)) == 0
    assert json.loads((out / OWNER_FILE).read_text())["command"] == "causalgym"


def test_report_still_reads_an_owned_folder(causal_out, tmp_path, capsys):
    out = copy_of(causal_out, tmp_path)
    assert main(["report", str(out), "--no-figures"]) == 0
    assert "rebuilt (causalgym)" in capsys.readouterr().out


def test_an_experiment_folder_refuses_another_command(causal_out, tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    (out / "experiment.toml").write_text('out = "x"\n')
    assert main(["syntaxgym", "builtin:npz_obj", "--model", str(tiny_llama_dir), "--out", str(out)]) == 2
    assert "holds the results of `interp run`" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_out_is_refused(tiny_llama_dir, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["syntaxgym", "builtin:npz_obj", "--model", str(tiny_llama_dir), "--out", str(locked / "out")]) == 2
    assert "is not writable" in capsys.readouterr().err


# ------------------------------------------------------------------------------ interruptions and failures
def test_ctrl_c_says_what_was_kept_and_a_rerun_resumes(tiny_llama_dir, suite, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    jobs = importlib.import_module("interp.eval.causalgym.job")  # one job per task x layer: 2 units each here
    original, calls = jobs.run_job, []

    def interrupt_second(worker, job):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(worker, job)

    monkeypatch.setattr(jobs, "run_job", interrupt_second)
    assert main(causalgym(tiny_llama_dir, suite, out)) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == f"interp causalgym: interrupted: 2 finished units kept in {out}; rerun the same command to resume"
    monkeypatch.setattr(jobs, "run_job", original)
    kept = {k: v for k, v in stamps(out).items() if k.startswith("units/")}
    assert main(causalgym(tiny_llama_dir, suite, out)) == 0
    after = stamps(out)
    assert all(after[k] == v for k, v in kept.items())
    assert len([k for k in after if k.startswith("units/") and k != "units/config.json"]) == 4


COMMAND_MODULES = {"causalgym": "causalgym", "syntaxgym": "syntaxgym", "steer": "steer", "recall": "recall",
                   "lens": "lens", "circuit": "circuit", "sae train": "sae_train", "sae groups": "sae_train",
                   "sae eval": "sae_eval", "sae features": "sae_eval"}


@pytest.mark.parametrize("command", list(EVERY_OUT_COMMAND))
def test_ctrl_c_in_every_command_is_one_line_naming_the_folder(command, tmp_path, monkeypatch, capsys):
    def interrupt(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(f"interp.commands.{COMMAND_MODULES[command]}"), "load_model", interrupt)
    out = tmp_path / "out"
    assert main([*EVERY_OUT_COMMAND[command](tmp_path), "--model", "unused", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"interp {command}: interrupted: ") and err.count("\n") == 1 and str(out) in err
    assert "rerun the same command to resume" in err or "rerun to resume" in err or "nothing new was written" in err


def boom(args):
    raise RuntimeError("boom")


def test_an_unexpected_error_is_one_line_with_a_hint_and_exit_1(monkeypatch, capsys):
    monkeypatch.setattr(interp.commands.sites, "load_model", boom)
    assert main(["sites"]) == 1
    err = capsys.readouterr().err
    assert err == "interp sites: error: unexpected RuntimeError: boom (rerun with --debug for the traceback)\n"


@pytest.mark.parametrize("argv", [["--debug", "sites"], ["sites", "--debug"]])
def test_debug_prints_the_traceback(argv, monkeypatch, capsys):
    monkeypatch.setattr(interp.commands.sites, "load_model", boom)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith("unexpected RuntimeError: boom")


def test_an_interp_error_has_no_traceback_unless_debug(tmp_path, capsys):
    argv = ["sites", "--model", str(tmp_path / "m.gguf")]
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", *argv]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(tiny_llama_dir):
    """``interp sites | true``: the reader is gone before the first line is written (``| head -1`` races)."""
    interp_bin = Path(sys.executable).parent / "interp"
    done = subprocess.run(["bash", "-c", f"'{interp_bin}' sites --model '{tiny_llama_dir}' | true; "
                                         "echo ${PIPESTATUS[0]}"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.stdout == "0\n"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr and "Exception" not in done.stderr
