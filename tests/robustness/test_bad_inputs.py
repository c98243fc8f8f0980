"""Every bad input we try, and the error it gets: a clear ``InterpError`` that names what is wrong,
raised before any work (no forward pass on the model, no output folder).

``CASES`` is the table; ``tests/robustness/BAD_INPUTS.md`` is the same table as markdown, kept in sync by
:func:`test_the_markdown_table_is_in_sync`. After adding a case, regenerate it with::

    .venv/bin/python tests/robustness/test_bad_inputs.py

CLI cases (area ``cli``) call ``interp.cli.main([...])``: it must return 2 and print the message
on stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import interp
import interp.cli
from interp.errors import InputError, InterpError, ModelLoadError, SiteError, SuiteError
from interp.eval import causal_efficacy, recall, steering_sweep, syntaxgym
from interp.eval.lens import TunedLens, logit_lens
from interp.graph.decomposition import accumulated_resid
from interp.interventions import (
    DAS,
    Ablate,
    Patch,
    ScaleHeads,
    Steer,
    Subspace,
    attribution_patch,
    generate,
    load,
    patch_sweep,
)
from interp.methods import PairData, find_direction, score, train_das
from interp.sae import SAEConfig
from interp.sae.activations import collect
from interp.suites import causalgym
from interp.suites import syntaxgym as sg_suites
from interp.suites.causalgym_source import open_suite
from interp.suites.formula import parse_formula

if __name__ == "__main__":  # run as a script (regenerating BAD_INPUTS.md): find conftest as pytest does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import AGREEMENT_SMALL, FIXTURES  # noqa: E402

HERE = Path(__file__).parent
MARKDOWN = HERE / "BAD_INPUTS.md"
BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]
TASK = AGREEMENT_SMALL
SMALL = dict(n_train=4, n_test=2, n_boot=10, control_labels=(" dog", " house"))


class CliError(Exception):
    """``interp ...`` returned exit status 2; the message is what it printed on stderr."""


@dataclass
class Case:
    area: str  # graph | interventions | suites | methods | evaluators | models | cli
    name: str  # the bad input, in words
    trigger: Callable[[Any], Any]
    error: type[BaseException]
    message: str  # a regex the message must match


def cli(*argv: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = interp.cli.main(list(argv))
        except SystemExit as exit_:  # argparse's own usage errors
            code = exit_.code
    if code != 2:
        raise AssertionError(f"interp {' '.join(argv)} returned {code}, not 2")
    raise CliError(err.getvalue().strip())


def causalgym_cli(c, *options: str) -> None:
    """``interp causalgym`` on the test suite with a model that is never loaded, plus ``options``."""
    cli("causalgym", "--model", str(c.tmp / "no-model"), "--suite", str(c.templates), "--out", str(c.out), *options)


def write(c, name: str, content: Any) -> Path:
    path = c.tmp / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def syntaxgym_raw() -> dict:
    return json.loads((FIXTURES / "syntaxgym_agreement.json").read_text())


def mutated_suite(c, change: Callable[[dict], Any]) -> Path:
    raw = syntaxgym_raw()
    change(raw)
    return write(c, "suite.json", raw)


def task_with(**changes) -> dict:
    return {"agr": {**TASK["agr"], **changes}}


def pair_data(c, **changes) -> PairData:
    kwargs = dict(base_positions=[[1], [1]], source_positions=[[1], [1]], base_labels=[" is", " is"],
                  source_labels=[" are", " are"], base_types=["sg", "sg"])
    return PairData.from_texts(c.hm, BASE, SOURCE, **{**kwargs, **changes})


def steer(vector: torch.Tensor, **kwargs) -> Steer:
    return Steer("resid_post.0", vector, **kwargs)


def shared_label_splits() -> dict:
    """A task given as pairs (no template check) whose two types both have the label ' is'."""
    from interp.suites.pairs import Pair

    pairs = [Pair(("The", " dog"), ("The", " dogs"), "sg", "pl", " is", " is", "agr"),
             Pair(("The", " dogs"), ("The", " dog"), "pl", "sg", " is", " is", "agr")]
    return {"agr": causalgym.TaskSplits("agr", ("sg", "pl"), train=pairs, test=pairs)}


def rows_folder(c, *splits: str) -> Path:
    """A folder of published rows holding only ``splits`` (one row each)."""
    row = {"base": ["The", " dog"], "src": ["The", " dogs"], "base_type": "sg", "src_type": "pl",
           "base_label": " is", "src_label": " are", "task": "agr"}
    (c.tmp / "rows").mkdir(exist_ok=True)
    for split in splits:
        write(c, f"rows/{split}.jsonl", json.dumps(row) + "\n")
    return c.tmp / "rows"


def without_datasets(call: Callable[[], Any]) -> Any:
    """``call()`` as if the ``datasets`` package were not installed."""
    saved = sys.modules.get("datasets")
    sys.modules["datasets"] = None  # type: ignore[assignment]  # import datasets -> ImportError
    try:
        return call()
    finally:
        if saved is None:
            del sys.modules["datasets"]
        else:
            sys.modules["datasets"] = saved


def renamed_copy(c) -> Path:
    """Another file holding a suite of the fixture's name."""
    return write(c, "copy.json", syntaxgym_raw())


def nan_das(c) -> DAS:
    das = DAS("resid_post.0", 64, 2, c.src.cache, "last", seed=0)
    with torch.no_grad():
        das.rotation.parametrizations.weight.original.fill_(float("nan"))
    return das


def tuned_lens(c, n_layers: int, d_model: int = 64, fill: float | None = None) -> Path:
    """A saved tuned lens for a model of ``n_layers`` layers (its translators filled with ``fill``)."""
    lens = TunedLens(n_layers, d_model)
    if fill is not None:
        with torch.no_grad():
            for parameter in lens.parameters():
                parameter.fill_(fill)
    return lens.save(c.tmp / "lens.safetensors")


def run_with(c, *interventions, inputs=BASE):
    return c.hm.run(inputs, interventions=list(interventions))


CASES: list[Case] = [
    # ---------------------------------------------------------------- graph: sites, inputs, runs
    Case("graph", "W_O of a layer that is a bool", lambda c: c.hm.W_O(True), InputError,
         r"a layer must be an integer, not True \(bool\)"),
    Case("graph", "accumulated_resid up to a layer that is a float", lambda c: accumulated_resid(c.src.cache, 1.0),
         InputError, r"layer must be an integer, not 1.0 \(float\)"),
    Case("graph", "misspelt site", lambda c: c.hm.run("The keys", cache=["resid_pst.1"]),
         SiteError, r"unknown site 'resid_pst.1'; did you mean 'resid_post.1'"),
    Case("graph", "site without its dot", lambda c: c.hm.run("The keys", cache=["resid_post1"]),
         SiteError, r"not a site name; did you mean 'resid_post.1'"),
    Case("graph", "site with capitals and a dash", lambda c: c.hm.run("The keys", cache=["Resid-Post.1"]),
         SiteError, r"did you mean 'resid_post.1'"),
    Case("graph", "module path with a misspelt side", lambda c: c.hm.run("x", cache=["model.layers.0.mlp:outptu"]),
         SiteError, r"did you mean 'model.layers.0.mlp:output'"),
    Case("graph", "module path that does not exist", lambda c: c.hm.run("x", cache=["model.layers.0.mlpp:output"]),
         SiteError, r"no module 'model.layers.0.mlpp'.*model.layers.0.mlp"),
    Case("graph", "layer out of range", lambda c: c.hm.run("The keys", cache=["resid_post.7"]),
         SiteError, r"layer 7 of site 'resid_post.7' is out of range: tiny-llama has 2 layers \(0..1"),
    Case("graph", "negative layer out of range", lambda c: c.hm.run("The keys", cache=["z.-3"]),
         SiteError, r"layer -3 .* out of range"),
    Case("graph", "site the architecture lacks", lambda c: interp.models.tiny("neox").run("x", cache=["resid_mid.0"]),
         SiteError, r"GPT-NeoX architecture has no 'resid_mid' sites.*parallel residual"),
    Case("graph", "stop_at a misspelt site", lambda c: c.hm.run("The keys", stop_at="resid_pots.1"),
         SiteError, r"did you mean 'resid_post.1'"),
    Case("graph", "start_at a site a run cannot start from", lambda c: c.hm.run(
        "The keys", start_at=("z.0", torch.zeros(1, 3, 4, 16))), SiteError, r"can start from .* not 'z.0'"),
    Case("graph", "start_at activations of the wrong shape", lambda c: c.hm.run(
        "The keys", start_at=("resid_pre.1", torch.zeros(1, 9, 64))), InputError,
        r"start_at activations have shape \(1, 9, 64\), but the inputs are \[batch=1, pos="),
    Case("graph", "hooks() on a misspelt site", lambda c: c.hm.hooks({"mlp_outt.0": lambda a, x: None}).__enter__(),
         SiteError, r"did you mean 'mlp_out.0'"),
    Case("graph", "text longer than the model's context", lambda c: c.hm.run("a " * 200),
         InputError, r"inputs are \d+ tokens long .*context holds 128 \(max_position_embeddings\)"),
    Case("graph", "token ids longer than the context", lambda c: c.hm.run(torch.zeros(1, 129, dtype=torch.long)),
         InputError, r"129 tokens long .*context holds 128"),
    Case("graph", "token ids outside the vocabulary", lambda c: c.hm.run(torch.tensor([[1, 2, 10**6]])),
         InputError, r"token ids \[1000000\] are outside the vocabulary \(0..383\)"),
    Case("graph", "negative token ids", lambda c: c.hm.run(torch.tensor([[1, -2]])),
         InputError, r"token ids \[-2\] are outside the vocabulary"),
    Case("graph", "floating-point token ids", lambda c: c.hm.run(torch.ones(1, 3)),
         InputError, r"token ids must be integers"),
    Case("graph", "token ids of three dims", lambda c: c.hm.run(torch.ones(1, 2, 3, dtype=torch.long)),
         InputError, r"input_ids must be \[batch, pos\]"),
    Case("graph", "empty list of inputs", lambda c: c.hm.run([]), InputError, r"non-empty list of strings"),
    Case("graph", "attention mask with a hole", lambda c: c.hm.run(
        {"input_ids": torch.ones(1, 3, dtype=torch.long), "attention_mask": torch.tensor([[1, 0, 1]])}),
        InputError, r"one contiguous run of real tokens"),
    Case("graph", "unknown padding side", lambda c: c.hm.run(["a", "b c"], padding_side="middle"),
         InputError, r"padding_side must be 'left' or 'right', not 'middle'"),
    Case("graph", "writing the read-only pattern site", lambda c: run_with(
        c, SimpleNamespace(site="pattern.0", __call__=None)), SiteError, r"'pattern.0' is read-only"),
    Case("graph", "an intervention without a site", lambda c: run_with(c, lambda act, ctx: act),
         InputError, r"needs a 'site' attribute"),
    Case("graph", "inputs that are None", lambda c: c.hm.run(None),
         InputError, r"inputs must be a string, a non-empty list of strings, .*; got NoneType None"),
    Case("graph", "inputs that are a number", lambda c: c.hm.run(123), InputError, r"inputs must be .*; got int 123"),
    Case("graph", "one intervention, not in a list", lambda c: c.hm.run(BASE, interventions=steer(torch.ones(64))),
         InputError, r"interventions takes a list, e.g. interventions=\[Steer\(...\)\]; got one Steer on its own"),
    Case("graph", "cache=True", lambda c: c.hm.run(BASE, cache=True),
         InputError, r"cache takes a list of site names, e.g. cache=\['resid_post.0'\]; got bool True"),
    Case("graph", "cache given one site name as a string", lambda c: c.hm.run(BASE, cache="resid_post.0"),
         InputError, r"cache takes a list of site names, e.g. cache=\['resid_post.0'\]; got the string 'resid_post.0'"),
    Case("graph", "layer written with a leading zero", lambda c: c.hm.run(BASE, cache=["resid_post.01"]), SiteError,
         r"'resid_post.01' is not a site name: the layer must be written in ASCII digits without leading zeros"
         r".*did you mean 'resid_post.1'\?"),
    Case("graph", "layer written as -0", lambda c: c.hm.run(BASE, cache=["resid_post.-0"]), SiteError,
         r"'resid_post.-0' is not a site name: the layer must be written in ASCII digits.*did you mean 'resid_post.0'"),
    Case("graph", "layer written in non-ASCII digits", lambda c: c.hm.run(BASE, cache=["resid_post.\u0661"]),
         SiteError, r"is not a site name: the layer must be written in ASCII digits.*did you mean 'resid_post.1'"),
    Case("graph", "stop_at before a cached site", lambda c: c.hm.run(BASE, cache=["resid_post.1"],
                                                                     stop_at="resid_post.0"),
         InputError, r"stop_at='resid_post.0' ends the run before 'resid_post.1', which it is asked to cache"),
    Case("graph", "an intervention after stop_at", lambda c: c.hm.run(
        BASE, interventions=[Steer("resid_post.1", torch.ones(64))], stop_at="resid_post.0"), InputError,
        r"the Steer at 'resid_post.1' comes after stop_at='resid_post.0': the run would end before it acts"),
    Case("graph", "start_at activations holding NaN", lambda c: c.hm.run(
        BASE, start_at=("resid_pre.1", torch.zeros(2, 8, 64).index_fill(1, torch.tensor([2]), float("nan")))),
        InputError, r"start_at activations for 'resid_pre.1' hold 128 NaN or inf values \(the first at index "
        r"\[0, 2, 0\]\)"),
    Case("graph", "resume from activations holding inf", lambda c: c.hm.resume(
        BASE, start_at=("resid_pre.1", torch.full((2, 8, 64), float("inf"))), from_token=0),
        InputError, r"start_at activations for 'resid_pre.1' hold 1024 NaN or inf values"),
    Case("graph", "start_at that is not (site, activations)", lambda c: c.hm.run(BASE, start_at=torch.zeros(2, 8, 64)),
         InputError, r"start_at takes \(site, activations\), e.g. start_at=\('resid_pre.1', "),
    Case("graph", "cache_grad without grad", lambda c: c.hm.run(BASE, cache=["resid_post.0"], cache_grad=True),
         InputError, r"cache_grad=True needs grad=True"),
    Case("graph", "grads given one site name as a string", lambda c: c.hm.run(BASE, grad=True, grads="resid_post.0"),
         InputError, r"grads takes a list of site names, e.g. grads=\['resid_post.0'\]; got the string"),
    Case("graph", "generate with max_new_tokens=0", lambda c: c.hm.generate("The", max_new_tokens=0),
         InputError, r"max_new_tokens must be a whole number of at least 1, not 0"),
    Case("graph", "generate with one intervention, not in a list", lambda c: generate(
        c.hm, "The", interventions=steer(torch.ones(64))), InputError, r"interventions takes a list.*on its own"),
    Case("graph", "hooks() with a handler that is not a function", lambda c: c.hm.hooks(
        {"resid_post.0": 3}).__enter__(), InputError,
        r"the handler for 'resid_post.0' is int 3, not a function; a handler is called as handler\(activation, "
        r"context\)"),
    # ---------------------------------------------------------------- interventions
    Case("interventions", "position out of range", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache, positions=[[1], [40]])), InputError,
        r"position 40 is out of range for example 1, which has \d+ tokens"),
    Case("interventions", "a flat position list out of range (meant per example?)", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache, positions=[1, 40])), InputError,
        r"position 40 is out of range for example 0.*positions=\[1, 40\] means positions 1, 40 in every example; "
        r"for one position per example write positions=\[\[1\], \[40\]\]"),
    Case("interventions", "position that is a float", lambda c: run_with(c, steer(torch.ones(64), positions=1.5)),
         InputError, r"unknown position selector 1.5 \(float\)"),
    Case("interventions", "position list with a float", lambda c: run_with(
        c, steer(torch.ones(64), positions=[1, 2.0])), InputError, r"a position \(token index\) must be an integer, "
        r"not 2.0 \(float\)"),
    Case("interventions", "position list with a bool", lambda c: run_with(
        c, steer(torch.ones(64), positions=[True])), InputError, r"must be an integer, not True \(bool\)"),
    Case("interventions", "position list mixing positions and lists", lambda c: run_with(
        c, steer(torch.ones(64), positions=[1, [2]])), InputError,
        r"mixes positions and lists; .*positions=\[1, 4\].*positions=\[\[1\], \[4\]\]"),
    Case("interventions", "unknown position selector", lambda c: run_with(c, steer(torch.ones(64), positions="first")),
         InputError, r"unknown position selector 'first'"),
    Case("interventions", "one position list per example, wrong count", lambda c: run_with(
        c, steer(torch.ones(64), positions=[[1], [2], [3]])), InputError,
        r"positions=\[\[1\], \[2\], \[3\]\] has 3 per-example lists for a batch of 2; .*for the same positions "
        r"in every example write positions=\[1, 2, 3\]"),
    Case("interventions", "source positions out of range", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache, positions="last", source_positions=12)), InputError,
        r"resid_post.0 source positions: position 12 is out of range"),
    Case("interventions", "base and source batches of different sizes", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache["resid_post.0"][:1].repeat(3, 1, 1), "last")), InputError,
        r"source batch has 3 examples but the base batch has 2"),
    Case("interventions", "source activations of another site's width", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache["z.1"], positions="last")), InputError,
        r"source activation has shape \[2, 1, 4, 16\], but resid_post.0 needs trailing dims \[64\]"),
    Case("interventions", "source cache without the site", lambda c: Patch("resid_post.1", c.src.cache),
         SiteError, r"source cache has no 'resid_post.1'; it holds \['resid_post.0', 'v.0', 'z.1'\]"),
    Case("interventions", "patching every position of unequal lengths", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache["resid_post.0"][:, :5])), InputError, r"choose positions"),
    Case("interventions", "steering vector of the wrong width", lambda c: run_with(c, steer(torch.ones(65))),
         InputError, r"steering vector has shape \[65\], but resid_post.0 needs trailing dims \[64\]"),
    Case("interventions", "steering vector with an extra dim", lambda c: run_with(c, steer(torch.ones(3, 64))),
         InputError, r"steering vector has shape \[3, 64\], but one slot of resid_post.0 has shape \[64\]"),
    Case("interventions", "complex steering vector", lambda c: steer(torch.ones(64, dtype=torch.complex64)),
         InputError, r"dtype torch.complex64; it must hold real numbers"),
    Case("interventions", "boolean steering vector", lambda c: steer(torch.ones(64, dtype=torch.bool)),
         InputError, r"dtype torch.bool; it must hold real numbers"),
    Case("interventions", "steering vector on the meta device", lambda c: steer(torch.ones(64, device="meta")),
         InputError, r"on the meta device and has no values"),
    Case("interventions", "complex subspace basis", lambda c: Subspace("resid_post.0", torch.eye(64, 2).cfloat()),
         InputError, r"the basis has dtype torch.complex64"),
    Case("interventions", "subspace basis that is not orthonormal", lambda c: Subspace(
        "resid_post.0", torch.ones(64, 2)), InputError, r"must be orthonormal"),
    Case("interventions", "subspace basis of the wrong width", lambda c: run_with(
        c, Subspace("resid_post.0", torch.ones(32, 1) / 32**0.5, c.src.cache, "last")), InputError,
        r"basis has width 32, but resid_post.0 activations have width 64"),
    Case("interventions", "DAS of the wrong width", lambda c: run_with(c, DAS("resid_post.0", 32, 2, c.src.cache,
                                                                               "last")), InputError, r"dim=32"),
    Case("interventions", "DAS of rank 0", lambda c: DAS("resid_post.0", 64, 0), InputError, r"rank"),
    Case("interventions", "head index out of range", lambda c: run_with(c, ScaleHeads("z.1", {4: 0.0})),
         InputError, r"head index \[4\] out of range: z.1 has 4 heads \(0..3\)"),
    Case("interventions", "key/value head out of range (GQA)", lambda c: run_with(c, ScaleHeads("v.0", {2: 0.0})),
         InputError, r"v.0 has 2 key/value heads"),
    Case("interventions", "heads on a site without heads", lambda c: run_with(
        c, Patch("resid_post.0", c.src.cache, "last", heads=[0])), SiteError, r"needs a per-head site"),
    Case("interventions", "empty head list", lambda c: Patch("z.0", None, heads=[]), InputError,
         r"heads=\[\] selects nothing"),
    Case("interventions", "unknown ablation", lambda c: Ablate("resid_post.0", "median"), InputError,
         r"unknown ablation"),
    Case("interventions", "resample ablation without a reference", lambda c: Ablate("resid_post.0", "resample"),
         InputError, r"needs reference"),
    Case("interventions", "malformed site in a constructor", lambda c: Patch("resid post 0", None),
         SiteError, r"not a site name; did you mean 'resid_post.0'"),
    Case("interventions", "loading a folder that holds no intervention", lambda c: load(c.tmp),
         InputError, r"is not a saved intervention: it needs config.json and tensors.safetensors"),
    Case("interventions", "patch_sweep over a layer the model lacks", lambda c: patch_sweep(
        c.hm, BASE, SOURCE, layers=[5]), SiteError, r"layer 5 of site 'resid_pre.5' is out of range"),
    Case("interventions", "patch_sweep with unpaired bases and sources", lambda c: patch_sweep(
        c.hm, BASE, SOURCE[:1]), InputError, r"2 base examples but 1 sources"),
    Case("interventions", "patch_sweep of an unknown kind", lambda c: patch_sweep(c.hm, BASE, SOURCE, kind="resid"),
         SiteError, r"unknown site 'resid.0'; did you mean"),
    Case("interventions", "patch_sweep position out of range", lambda c: patch_sweep(
        c.hm, BASE, SOURCE, positions=[30]), InputError, r"position 30 is out of range"),
    Case("interventions", "generate with an unknown 'where'", lambda c: generate(c.hm, "The", where="prompts"),
         InputError, r"where must be one of 'prompt', 'new', 'all', not 'prompts'"),
    Case("interventions", "generate past the model's context", lambda c: generate(c.hm, "a " * 60,
                                                                                  max_new_tokens=100),
         InputError, r"tokens long \+ 100 new tokens .*context holds 128"),
    Case("interventions", "generate with a misspelt site", lambda c: generate(
        c.hm, "The", interventions=[steer(torch.ones(64)).using(site="resid_pots.0")]), SiteError,
        r"did you mean 'resid_post.0'"),
    Case("interventions", "NaN steering vector", lambda c: steer(torch.full((64,), float("nan"))), InputError,
         r"Steer at resid_post.0: the steering vector holds 64 NaN and 0 inf values"),
    Case("interventions", "inf steering coefficient", lambda c: steer(torch.ones(64), alpha=float("inf")),
         InputError, r"Steer at resid_post.0: alpha=inf is not finite"),
    Case("interventions", "NaN coefficient set with using()", lambda c: run_with(
        c, steer(torch.ones(64)).using(alpha=float("nan"))), InputError, r"Steer at resid_post.0: alpha=nan is not"),
    Case("interventions", "NaN patch source", lambda c: run_with(c, Patch(
        "resid_post.0", torch.full((2, 9, 64), float("nan")), positions="last")), InputError,
        r"Patch at resid_post.0: the source activation at the patched positions holds 128 NaN"),
    Case("interventions", "inf head-scaling factor", lambda c: ScaleHeads("z.1", {1: float("inf")}), InputError,
         r"ScaleHeads at z.1: factors \[inf\] holds inf; every value must be finite"),
    Case("interventions", "NaN subspace basis", lambda c: Subspace("resid_post.0", torch.full((64, 1), float("nan"))),
         InputError, r"Subspace at resid_post.0: the basis holds 64 NaN"),
    Case("interventions", "DAS whose training diverged to NaN", lambda c: run_with(c, nan_das(c)), InputError,
         r"DAS at resid_post.0: the trained rotation \(did training diverge.*\) holds 128 NaN"),
    Case("interventions", "head index that is a float", lambda c: ScaleHeads("z.1", {1.9: 0.0}), InputError,
         r"ScaleHeads at z.1: a head index must be an integer, not 1.9 \(float\)"),
    Case("interventions", "head index that is a bool", lambda c: Patch("z.1", c.src.cache, heads=[True]), InputError,
         r"Patch at z.1: a head index must be an integer, not True \(bool\)"),
    Case("interventions", "patch_sweep layer that is a bool", lambda c: patch_sweep(c.hm, BASE, SOURCE, layers=[True]),
         InputError, r"a layer must be an integer, not True \(bool\)"),
    Case("interventions", "attribution_patch layer that is a float", lambda c: attribution_patch(
        c.hm, BASE, SOURCE, layers=[0.5], metric=lambda lg: lg[:, 0]), InputError,
        r"a layer must be an integer, not 0.5 \(float\)"),
    Case("interventions", "patch_sweep per_head index that is a bool", lambda c: patch_sweep(
        c.hm, BASE, SOURCE, kind="z", per_head=[True]), InputError, r"a head index in per_head must be an integer"),
    Case("interventions", "Steer saved for another model family", lambda c: run_with(c, load(steer(
        torch.ones(64)).save(c.tmp / "steer", model=interp.models.tiny("gpt2")))), InputError,
        r"Steer at resid_post.0 was saved for tiny-gpt2 \(GPT-2, .*\), not for tiny-llama \(Llama, .*\): its family "
        r"differs"),
    Case("interventions", "Steer saved for a wider model", lambda c: load(steer(torch.ones(128)).save(
        c.tmp / "steer", model=interp.models.tiny("llama", hidden_size=128)), model=c.hm), InputError,
        r"saved Steer at resid_post.0 was saved for tiny-llama \(Llama, d_model=128.*not for tiny-llama "
        r"\(Llama, d_model=64.*width \(d_model\) differs"),
    # ---------------------------------------------------------------- suites
    Case("suites", "SyntaxGym file that is not JSON", lambda c: sg_suites.load(write(c, "suite.json", '{"items": [}')),
         SuiteError, r"suite.json: not valid JSON \(line 1, column"),
    Case("suites", "SyntaxGym file that does not exist", lambda c: sg_suites.load(c.tmp / "nope.json"),
         SuiteError, r"no such file"),
    Case("suites", "SyntaxGym suite without items", lambda c: sg_suites.load(
        mutated_suite(c, lambda r: r.pop("items"))), SuiteError, r"suite.json: field 'items' is missing"),
    Case("suites", "SyntaxGym suite with an empty item list", lambda c: sg_suites.load(
        mutated_suite(c, lambda r: r.update(items=[]))), SuiteError, r"suite.json.*items"),
    Case("suites", "SyntaxGym formula that does not parse", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["predictions"][0].update(formula="(4;%match_sing%) < < (4;%mismatch_sing%)"))),
        SuiteError, r"suite.json: prediction 0, field 'formula'.*character 19"),
    Case("suites", "SyntaxGym formula naming an unknown condition", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["predictions"][0].update(formula="(4;%match_sing%) < (4;%nope%)"))),
        SuiteError, r"unknown condition 'nope'"),
    Case("suites", "SyntaxGym formula naming an unknown region", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["predictions"][0].update(formula="(9;%match_sing%) < (4;%match_sing%)"))),
        SuiteError, r"unknown region 9"),
    Case("suites", "SyntaxGym formula that is Python code", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["predictions"][0].update(formula="__import__('os').system('true')"))),
        SuiteError, r"prediction 0, field 'formula'"),
    Case("suites", "SyntaxGym items with inconsistent conditions", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["items"][1]["conditions"].pop())), SuiteError, r"item 2.*field 'conditions'.*missing"),
    Case("suites", "SyntaxGym region without content", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["items"][0]["conditions"][0]["regions"][0].pop("content"))), SuiteError,
        r"item 1.*field 'content' is missing"),
    Case("suites", "SyntaxGym unknown metric", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["meta"].update(metric="average"))), SuiteError, r"field 'meta.metric'.*'average'"),
    Case("suites", "formula with an unknown operator", lambda c: parse_formula("(1;%a%) >= (1;%b%)"),
         SuiteError, r"character 9"),
    Case("suites", "CausalGym templates that are not JSON", lambda c: causalgym.read_templates(
        write(c, "t.json", "{")), SuiteError, r"t.json: not valid JSON"),
    Case("suites", "CausalGym task with three types", lambda c: causalgym.read_templates(write(
        c, "t.json", task_with(labels={"a": ["x"], "b": ["y"], "c": ["z"]}))), SuiteError,
        r"t.json: task 'agr'.*field 'labels': must have exactly two keys"),
    Case("suites", "CausalGym template using an unknown variable", lambda c: causalgym.read_templates(write(
        c, "t.json", task_with(templates=["The {subject} {verb}"]))), SuiteError, r"uses \{verb\}"),
    Case("suites", "CausalGym task without labels", lambda c: causalgym.read_templates(write(
        c, "t.json", {"agr": {k: v for k, v in TASK["agr"].items() if k != "labels"}})), SuiteError,
        r"task 'agr'.*field 'labels'"),
    Case("suites", "CausalGym row with a missing field", lambda c: causalgym.load_rows(write(
        c, "rows.json", [{"base": ["The"], "src": ["A"], "task": "t"}])), SuiteError,
        r"rows.json: row 0 \(task 't'\): field '\w+' is missing"),
    Case("suites", "CausalGym row whose sides do not align", lambda c: causalgym.load_rows(write(
        c, "rows.json", [{"base": ["The", " dog"], "src": ["The"], "base_type": "a", "src_type": "b",
                          "base_label": " is", "src_label": " are", "task": "t"}])), SuiteError,
        r"fields 'base' and 'src' must align"),
    Case("suites", "CausalGym rows folder without a test split", lambda c: open_suite(rows_folder(c, "train")),
         SuiteError, r"rows: rows folder without a test split; it needs train.jsonl and test.jsonl"),
    Case("suites", "CausalGym suite file of an unknown type", lambda c: open_suite(write(c, "rows.txt", "[]")),
         SuiteError, r"rows.txt: unknown file type '.txt'; a CausalGym suite is a template file \(.json\) or rows"),
    Case("suites", "CausalGym dataset id without the datasets package", lambda c: without_datasets(
        lambda: open_suite("someone/causalgym")), SuiteError,
        r"someone/causalgym: not a file or folder; to read it as a Hugging Face dataset id, install the 'datasets'"),
    Case("suites", "unknown built-in suite", lambda c: sg_suites.load("builtin:nope"), SuiteError, r"nope"),
    Case("suites", "SyntaxGym suite with no predictions", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r.update(predictions=[]))), SuiteError, r"suite.json: field 'predictions' is empty"),
    Case("suites", "SyntaxGym item number used twice", lambda c: sg_suites.load(mutated_suite(
        c, lambda r: r["items"][1].update(item_number=1))), SuiteError,
        r"suite.json, item 1: field 'item_number' repeats: entries 0 and 1"),
    Case("suites", "CausalGym task whose two types share a label", lambda c: causalgym.read_templates(write(
        c, "t.json", task_with(labels={"sg": ["is", "was"], "pl": ["are", "is"]}))), SuiteError,
        r"t.json: task 'agr', field 'labels': 'is' is a label of both types 'sg' and 'pl'"),
    # ---------------------------------------------------------------- methods
    Case("methods", "unknown direction method", lambda c: find_direction(
        "pcaa", torch.randn(4, 8), torch.randn(4, 8), [0, 1, 0, 1]), InputError, r"pcaa"),
    Case("methods", "direction from a single type", lambda c: find_direction(
        "mean", torch.randn(4, 8), torch.randn(4, 8), ["a"] * 4, ["a"] * 4), InputError, r"two types"),
    Case("methods", "pairs with more labels than examples", lambda c: pair_data(
        c, base_labels=[" is", " is", " is"]), InputError, r"2 base examples, but \{'base_labels': 3\}"),
    Case("methods", "multi-token label", lambda c: pair_data(c, base_labels=[" give", " is"]),
         InputError, r"' give'"),
    Case("methods", "DAS at a misspelt site", lambda c: train_das(c.hm, pair_data(c), "resid_pots.0", steps=1),
         SiteError, r"did you mean 'resid_post.0'"),
    Case("methods", "scoring a direction of the wrong width", lambda c: score(
        c.hm, pair_data(c), "resid_post.0", torch.ones(32) / 32**0.5), InputError, r"32"),
    Case("methods", "scoring more directions than positions", lambda c: score(
        c.hm, pair_data(c), "resid_post.0", [None, None]), InputError, r"2 directions for 1 positions"),
    # ---------------------------------------------------------------- evaluators
    Case("evaluators", "causal_efficacy: unknown method", lambda c: causal_efficacy(
        c.hm, c.templates, methods=["dasx"], out=c.out, **SMALL), InputError, r"unknown method 'dasx'.*das, probe"),
    Case("evaluators", "causal_efficacy: layers outside the model", lambda c: causal_efficacy(
        c.hm, c.templates, layers="0:30:2", out=c.out, **SMALL), InputError, r"outside the model.*2 layers"),
    Case("evaluators", "recall: a head's layer that is a bool", lambda c: recall(c.hm, heads=[(True, 0)]), InputError,
         r"a head's layer must be an integer, not True \(bool\)"),
    Case("evaluators", "recall: a head index that is a float", lambda c: recall(c.hm, heads=[(0, 1.0)]), InputError,
         r"a head's index must be an integer, not 1.0 \(float\)"),
    Case("evaluators", "causal_efficacy: unknown site kind", lambda c: causal_efficacy(
        c.hm, c.templates, site_kind="z", out=c.out, **SMALL), InputError, r"site_kind must be one of"),
    Case("evaluators", "causal_efficacy: unknown task", lambda c: causal_efficacy(
        c.hm, c.templates, tasks=["nope"], out=c.out, **SMALL), SuiteError, r"no task"),
    Case("evaluators", "causal_efficacy: empty suite", lambda c: causal_efficacy(
        c.hm, write(c, "empty.json", "{}"), out=c.out, **SMALL), SuiteError, r"empty.json"),
    Case("evaluators", "causal_efficacy: multi-token label", lambda c: causal_efficacy(
        c.hm, write(c, "multi.json", task_with(labels={"sg": ["gives"], "pl": ["are"]})), out=c.out, **SMALL),
        InputError, r"'agr'.*' gives' is \d+ tokens"),
    Case("evaluators", "causal_efficacy: multi-token control label", lambda c: causal_efficacy(
        c.hm, c.templates, out=c.out, **{**SMALL, "control_labels": (" dog", " give")}), InputError,
        r"' give' is \d+ tokens.*control"),
    Case("evaluators", "causal_efficacy: three control labels", lambda c: causal_efficacy(
        c.hm, c.templates, out=c.out, **{**SMALL, "control_labels": (" dog", " house", " car")}), InputError,
        r"control_labels must be two labels"),
    Case("evaluators", "causal_efficacy: too few pairs", lambda c: causal_efficacy(
        c.hm, c.templates, out=c.out, **{**SMALL, "n_train": 1}), InputError, r"at least 2 training"),
    Case("evaluators", "causal_efficacy: span that no pair has", lambda c: causal_efficacy(
        c.hm, c.templates, positions=[9], out=c.out, **SMALL), InputError, r"span \[9\] not usable"),
    Case("evaluators", "syntaxgym: BOS token not in the vocabulary", lambda c: syntaxgym(
        c.hm, FIXTURES / "syntaxgym_agreement.json", bos="<nope>"), InputError, r"BOS token '<nope>'"),
    Case("evaluators", "causal_efficacy: das_steps=0 (an untrained DAS)", lambda c: causal_efficacy(
        c.hm, c.templates, methods=["das"], das_steps=0, out=c.out, **SMALL), InputError,
        r"das_steps: must be at least 1 \(zero steps would report an untrained DAS as DAS\), not 0"),
    Case("evaluators", "causal_efficacy: negative das_steps", lambda c: causal_efficacy(
        c.hm, c.templates, das_steps=-5, out=c.out, **SMALL), InputError, r"das_steps: must be at least 1"),
    Case("evaluators", "causal_efficacy: fractional das_steps", lambda c: causal_efficacy(
        c.hm, c.templates, das_steps=2.5, out=c.out, **SMALL), InputError, r"das_steps: must be a whole number"),
    Case("evaluators", "causal_efficacy: das_lr NaN", lambda c: causal_efficacy(
        c.hm, c.templates, das_lr=float("nan"), out=c.out, **SMALL), InputError,
        r"das_lr: nan is out of range \(must be a finite number greater than 0\)"),
    Case("evaluators", "causal_efficacy: das_lr infinite", lambda c: causal_efficacy(
        c.hm, c.templates, das_lr=float("inf"), out=c.out, **SMALL), InputError, r"das_lr: inf is out of range"),
    Case("evaluators", "causal_efficacy: das_lr 0", lambda c: causal_efficacy(
        c.hm, c.templates, das_lr=0.0, out=c.out, **SMALL), InputError, r"das_lr: 0.0 is out of range"),
    Case("evaluators", "causal_efficacy: das_warmup 1", lambda c: causal_efficacy(
        c.hm, c.templates, das_warmup=1.0, out=c.out, **SMALL), InputError, r"das_warmup: 1.0 is out of range"),
    Case("evaluators", "causal_efficacy: das_batch_size 0", lambda c: causal_efficacy(
        c.hm, c.templates, das_batch_size=0, out=c.out, **SMALL), InputError, r"das_batch_size: must be at least 1"),
    Case("evaluators", "causal_efficacy: das_rank 0", lambda c: causal_efficacy(
        c.hm, c.templates, das_rank=0, out=c.out, **SMALL), InputError, r"das_rank: must be at least 1"),
    Case("evaluators", "causal_efficacy: n_boot 0", lambda c: causal_efficacy(
        c.hm, c.templates, out=c.out, **{**SMALL, "n_boot": 0}), InputError,
        r"n_boot: must be at least 1 \(the summary's intervals need at least one bootstrap resample\), not 0"),
    Case("evaluators", "causal_efficacy: max_rows 0", lambda c: causal_efficacy(
        c.hm, c.templates, max_rows=0, out=c.out, **SMALL), InputError, r"max_rows: must be at least 1, not 0"),
    Case("evaluators", "causal_efficacy: tasks=[] (not every task)", lambda c: causal_efficacy(
        c.hm, c.templates, tasks=[], out=c.out, **SMALL), InputError,
        r"tasks is empty: name at least one task, or pass None for all"),
    Case("evaluators", "causal_efficacy: tasks=['']", lambda c: causal_efficacy(
        c.hm, c.templates, tasks=[""], out=c.out, **SMALL), InputError, r"tasks is empty"),
    Case("evaluators", "causal_efficacy: tasks=''", lambda c: causal_efficacy(
        c.hm, c.templates, tasks="", out=c.out, **SMALL), InputError, r"tasks is empty"),
    Case("evaluators", "causal_efficacy: the same control label for both types", lambda c: causal_efficacy(
        c.hm, c.templates, out=c.out, **{**SMALL, "control_labels": (" dog", " dog")}), InputError,
        r"control_labels: both types get the label ' dog'"),
    Case("evaluators", "causal_efficacy: a task (given as pairs) whose types share a label", lambda c: causal_efficacy(
        c.hm, shared_label_splits(), methods=["mean"], control=False, out=c.out, **SMALL), SuiteError,
        r"task 'agr': the label ' is' belongs to both types 'sg' and 'pl'"),
    Case("evaluators", "syntaxgym: the same suite file twice", lambda c: syntaxgym(
        c.hm, [FIXTURES / "syntaxgym_agreement.json", FIXTURES / "syntaxgym_agreement.json"]), InputError,
        r"suite 'fixture_agreement' \(.*syntaxgym_agreement.json\) is given twice"),
    Case("evaluators", "syntaxgym: two suites of one name", lambda c: syntaxgym(
        c.hm, [FIXTURES / "syntaxgym_agreement.json", renamed_copy(c)]), InputError,
        r"two suites are named 'fixture_agreement' \(.*syntaxgym_agreement.json and .*copy.json\)"),
    Case("evaluators", "syntaxgym: suite file missing", lambda c: syntaxgym(c.hm, c.tmp / "none.json"),
         SuiteError, r"no such file"),
    Case("evaluators", "syntaxgym: batch_size 0", lambda c: syntaxgym(
        c.hm, FIXTURES / "syntaxgym_agreement.json", batch_size=0), InputError,
        r"batch_size must be a whole number of at least 1, not 0"),
    Case("evaluators", "steering_sweep: a layer that is a bool", lambda c: steering_sweep(
        c.hm, "builtin:sentiment", layers=[True], coefficients=[0.0]), InputError,
        r"layers must be a non-empty list of distinct integers, not \[True\]"),
    Case("evaluators", "logit_lens: a tuned lens made for a model of other depth", lambda c: logit_lens(
        c.hm, "The keys", lens=TunedLens.load(tuned_lens(c, 5))), InputError,
        r"the tuned lens was made for a model of 5 layers and d_model=64, but tiny-llama has 2 layers"),
    Case("evaluators", "logit_lens: a tuned lens made for a wider model", lambda c: logit_lens(
        c.hm, "The keys", lens=TunedLens(2, 128)), InputError, r"made for a model of 2 layers and d_model=128"),
    Case("evaluators", "logit_lens: a tuned lens holding NaN", lambda c: logit_lens(
        c.hm, "The keys", lens=TunedLens.load(tuned_lens(c, 2, fill=float("nan")))), InputError,
        r"the tuned lens holds 4160 NaN or inf parameters \(did its training diverge\?\)"),
    Case("evaluators", "logit_lens: k=0", lambda c: logit_lens(c.hm, "The keys", k=0), InputError,
         r"k must be a whole number of at least 1, not 0"),
    Case("evaluators", "logit_lens: k that is a bool", lambda c: logit_lens(c.hm, "The keys", k=True), InputError,
         r"k must be a whole number of at least 1, not True"),
    Case("evaluators", "logit_lens: a target id outside the vocabulary", lambda c: logit_lens(
        c.hm, "The keys", target=10**9), InputError,
        r"target token id 1000000000 is outside the vocabulary \(0..383\)"),
    Case("evaluators", "logit_lens: a target that is a bool", lambda c: logit_lens(c.hm, "The keys", target=True),
         InputError, r"target \(a token id or a token string\) must be an integer, not True \(bool\)"),
    Case("evaluators", "steering_sweep: a coefficient that is a bool", lambda c: steering_sweep(
        c.hm, "builtin:sentiment", layers=[0], coefficients=[True]), InputError,
        r"coefficients must be a list of numbers \(not strings or bools\), not \[True\]"),
    Case("evaluators", "TunedLens.load: a file that is not a tuned lens", lambda c: TunedLens.load(
        write(c, "lens.safetensors", "junk")), InputError, r"tuned lens .*lens.safetensors: not a tuned lens saved by "
        r"TunedLens.save"),
    # ---------------------------------------------------------------- models
    Case("models", "a model that is not causal", lambda c: interp.load(str(c.encoder_dir)),
         ModelLoadError, r"not a causal language model"),
    Case("models", "a directory without config.json", lambda c: interp.load(str(c.tmp)),
         ModelLoadError, r"has no config.json"),
    Case("models", "a GGUF file that does not exist", lambda c: interp.load(str(c.tmp / "m.gguf")),
         ModelLoadError, r"does not exist"),
    Case("models", "device and device_map together", lambda c: interp.load(str(c.tmp), device="cuda",
                                                                            device_map="auto"),
         ModelLoadError, r"either device='cuda' or device_map='auto'"),
    # ---------------------------------------------------------------- cli
    Case("cli", "causalgym --methods with an unknown method", lambda c: cli(
        "causalgym", "--model", str(c.tmp / "no-model"), "--suite", str(c.templates), "--methods", "das,foo",
        "--out", str(c.out)), CliError, r"interp causalgym: error: unknown method 'foo'"),
    Case("cli", "causalgym --suite that does not exist", lambda c: cli(
        "causalgym", "--model", str(c.tmp / "no-model"), "--suite", str(c.tmp / "none.json"), "--out", str(c.out)),
        CliError, r"error: .*none.json.*no such file"),
    Case("cli", "causalgym --suite rows folder without a test split", lambda c: causalgym_cli(
        c, "--suite", str(rows_folder(c, "train"))), CliError,
        r"interp causalgym: error: .*rows: rows folder without a test split"),
    Case("cli", "causalgym --tasks naming no task", lambda c: cli(
        "causalgym", "--model", str(c.tmp / "no-model"), "--suite", str(c.templates), "--tasks", "nope",
        "--out", str(c.out)), CliError, r"no task 'nope'; the tasks are: agr"),
    Case("cli", "causalgym --model that does not exist", lambda c: cli(
        "causalgym", "--model", str(c.tmp / "m.gguf"), "--suite", str(c.templates), "--out", str(c.out)),
        CliError, r"interp causalgym: error: GGUF file .*m.gguf' does not exist"),
    Case("cli", "syntaxgym with a malformed suite", lambda c: cli(
        "syntaxgym", str(write(c, "bad.json", "{")), "--model", str(c.tmp / "no-model"), "--out", str(c.out)),
        CliError, r"interp syntaxgym: error: .*bad.json: not valid JSON"),
    Case("cli", "an unknown --dtype", lambda c: cli("sites", "--dtype", "float8"), CliError,
         r"invalid choice: 'float8'"),
    Case("cli", "causalgym --n-boot 0", lambda c: causalgym_cli(c, "--n-boot", "0"), CliError,
         r"interp causalgym: error: argument --n-boot: must be a positive integer, not '0'"),
    Case("cli", "causalgym --das-steps 0 with das among the methods", lambda c: causalgym_cli(
        c, "--methods", "das,mean", "--das-steps", "0"), CliError,
        r"argument --das-steps: must be a positive integer, not '0'"),
    Case("cli", "causalgym --das-steps negative", lambda c: causalgym_cli(c, "--das-steps", "-5"), CliError,
         r"argument --das-steps: must be a positive integer, not '-5'"),
    Case("cli", "causalgym --das-lr nan", lambda c: causalgym_cli(c, "--das-lr", "nan"), CliError,
         r"argument --das-lr: must be a finite positive number, not 'nan'"),
    Case("cli", "causalgym --das-lr inf", lambda c: causalgym_cli(c, "--das-lr", "inf"), CliError,
         r"argument --das-lr: must be a finite positive number, not 'inf'"),
    Case("cli", "causalgym --das-batch-size 0", lambda c: causalgym_cli(c, "--das-batch-size", "0"), CliError,
         r"argument --das-batch-size: must be a positive integer"),
    Case("cli", "causalgym --tasks empty", lambda c: causalgym_cli(c, "--tasks", ""), CliError,
         r"argument --tasks: is empty: name at least one task"),
    Case("cli", "causalgym --tasks of commas only", lambda c: causalgym_cli(c, "--tasks", " , "), CliError,
         r"argument --tasks: is empty: name at least one task"),
    Case("cli", "causalgym --n-train 1", lambda c: causalgym_cli(c, "--n-train", "1"), CliError,
         r"argument --n-train: must be an integer of at least 2, not '1'"),
    Case("cli", "causalgym --n-test 0", lambda c: causalgym_cli(c, "--n-test", "0"), CliError,
         r"argument --n-test: must be a positive integer, not '0'"),
    Case("cli", "causalgym --seed negative", lambda c: causalgym_cli(c, "--seed", "-1"), CliError,
         r"argument --seed: must be a non-negative integer, not '-1'"),
    Case("cli", "causalgym --positions not numbers", lambda c: causalgym_cli(c, "--positions", "1,x"), CliError,
         r"argument --positions: must be 'all' or span indices N,M,\.\.\. \(e.g. 0,2\), not '1,x'"),
    Case("cli", "causalgym --site of an unknown kind", lambda c: causalgym_cli(c, "--site", "resid"), CliError,
         r"argument --site: invalid choice: 'resid'"),
    Case("cli", "causalgym --ray-workers 0", lambda c: causalgym_cli(c, "--executor", "ray", "--ray-workers", "0"),
         CliError, r"argument --ray-workers: must be a positive integer"),
    Case("cli", "causalgym --out naming a file", lambda c: cli(
        "causalgym", "--model", str(c.tmp / "no-model"), "--suite", str(c.templates),
        "--out", str(write(c, "file.txt", "notes"))), CliError, r"--out .*file.txt: a file is there, not a folder"),
    Case("cli", "causalgym --out inside a file", lambda c: cli(
        "causalgym", "--model", str(c.tmp / "no-model"), "--suite", str(c.templates),
        "--out", str(write(c, "file.txt", "notes") / "out")), CliError,
        r"--out .*file.txt/out: cannot create it, .*file.txt is a file"),
    Case("cli", "syntaxgym --out where nobody can create a folder (even root)", lambda c: cli(
        "syntaxgym", "builtin:npz_obj", "--model", str(c.tmp / "no-model"), "--out", "/proc/interp-out"), CliError,
        r"interp syntaxgym: error: --out /proc/interp-out: cannot create it"),
    Case("cli", "syntaxgym --batch-size 0", lambda c: cli(
        "syntaxgym", "builtin:npz_obj", "--model", str(c.tmp / "no-model"), "--batch-size", "0", "--out", str(c.out)),
        CliError, r"interp syntaxgym: error: argument --batch-size: must be a positive integer, not '0'"),
    Case("cli", "syntaxgym with the same suite twice", lambda c: cli(
        "syntaxgym", str(FIXTURES / "syntaxgym_agreement.json"), str(FIXTURES / "syntaxgym_agreement.json"),
        "--model", str(c.tmp / "no-model"), "--out", str(c.out)), CliError,
        r"interp syntaxgym: error: suite 'fixture_agreement' \(.*syntaxgym_agreement.json\) is given twice"),
    Case("cli", "causalgym --layers not numbers", lambda c: causalgym_cli(c, "--layers", "0:x"), CliError,
         r"argument --layers: must be all, START:STOP\[:STEP\] \(e.g. 0:30:2\), a number, .*not '0:x'"),
    Case("cli", "steer --layers not numbers", lambda c: cli(
        "steer", "--model", str(c.tmp / "no-model"), "--layers", "6,,8", "--out", str(c.out)), CliError,
        r"interp steer: error: argument --layer/--layers: must be all, START:STOP.*not '6,,8'"),
    Case("cli", "lens --k 0", lambda c: cli("lens", "The keys", "--model", str(c.tmp / "no-model"), "--k", "0",
                                            "--out", str(c.out)), CliError,
         r"interp lens: error: argument --k: must be a positive integer, not '0'"),
    Case("cli", "lens --tuned that does not exist", lambda c: cli(
        "lens", "The keys", "--model", str(c.tmp / "no-model"), "--tuned", str(c.tmp / "none.safetensors"),
        "--out", str(c.out)), CliError, r"interp lens: error: tuned lens .*none.safetensors: no such file"),
    Case("cli", "steer --coefficients with nan", lambda c: cli(
        "steer", "--model", str(c.tmp / "no-model"), "--coefficients=-1,nan", "--out", str(c.out)), CliError,
        r"interp steer: error: cannot read coefficients '-1,nan': write finite numbers"),
    Case("cli", "steer --temperature 0", lambda c: cli(
        "steer", "--model", str(c.tmp / "no-model"), "--temperature", "0", "--out", str(c.out)), CliError,
        r"argument --temperature: must be a finite positive number, not '0'"),
    Case("cli", "steer --max-new-tokens 0", lambda c: cli(
        "steer", "--model", str(c.tmp / "no-model"), "--max-new-tokens", "0", "--out", str(c.out)), CliError,
        r"argument --max-new-tokens: must be a positive integer, not '0'"),
    Case("cli", "recall --factors with inf", lambda c: cli(
        "recall", "--model", str(c.tmp / "no-model"), "--factors=1,inf", "--out", str(c.out)), CliError,
        r"interp recall: error: --factors must be comma-separated numbers, each finite, not '1,inf'"),
    Case("cli", "recall --n-facts 1", lambda c: cli(
        "recall", "--model", str(c.tmp / "no-model"), "--n-facts", "1", "--out", str(c.out)), CliError,
        r"argument --n-facts: must be an integer of at least 2, not '1'"),
    Case("cli", "report --n-boot 0", lambda c: cli("report", str(c.tmp), "--n-boot", "0"), CliError,
         r"interp report: error: argument --n-boot: must be a positive integer, not '0'"),
    Case("cli", "sites --kind that is no site kind", lambda c: cli("sites", "--kind", "zz"), CliError,
         r"interp sites: error: argument --kind: invalid choice: 'zz' \(choose from 'embed', 'resid_pre'"),
    Case("cli", "sae train --k 0", lambda c: cli(
        "sae", "train", "--model", str(c.tmp / "no-model"), "--k", "0", "--out", str(c.out)), CliError,
        r"interp sae train: error: argument --k: must be a positive integer, not '0'"),
    Case("cli", "sae train --d-sae not a number", lambda c: cli(
        "sae", "train", "--model", str(c.tmp / "no-model"), "--d-sae", "64,x", "--out", str(c.out)), CliError,
        r"interp sae train: error: --d-sae must be positive integers separated by commas, not '64,x'"),
    Case("cli", "sae train --kind unknown", lambda c: cli(
        "sae", "train", "--model", str(c.tmp / "no-model"), "--kind", "gated", "--out", str(c.out)), CliError,
        r"argument --kind: invalid choice: 'gated'"),
    Case("cli", "sae train --k larger than --d-sae", lambda c: cli(
        "sae", "train", "--model", str(c.tmp / "no-model"), "--d-sae", "16", "--k", "32", "--out", str(c.out)),
        CliError, r"a topk SAE needs k between 1 and d_sae=16; got k=32"),
    Case("cli", "sae train --corpus that is not a folder", lambda c: cli(
        "sae", "train", "--model", str(c.tmp / "no-model"), "--corpus", str(c.tmp / "none"), "--out", str(c.out)),
        CliError, r"--corpus .*none: not a folder"),
    Case("cli", "sae groups with both --n-groups and --threshold", lambda c: cli(
        "sae", "groups", "--model", str(c.tmp / "no-model"), "--n-groups", "2", "--threshold", "0.1",
        "--out", str(c.out)), CliError, r"interp sae groups: error: give one of --n-groups and --threshold"),
    Case("cli", "sae eval --sae folder without SAEs", lambda c: cli(
        "sae", "eval", "--model", str(c.tmp / "no-model"), "--sae", str(c.tmp), "--out", str(c.out)), CliError,
        r"interp sae eval: error: --sae .*: no saved SAE there"),
    Case("cli", "sae features --features not indices", lambda c: cli(
        "sae", "features", "--model", str(c.tmp / "no-model"), "--sae", str(c.tmp), "--features", "3,x",
        "--out", str(c.out)), CliError, r"argument --features: must be feature indices N,M,\.\.\. \(e.g. 3,17\)"),
    Case("sae", "collect with max_norm_ratio at most 1", lambda c: collect(
        c.hm, ["resid_post.0"], ["The keys to the cabinet"] * 4, tokens=32, context=8, max_norm_ratio=1.0),
        InputError, r"max_norm_ratio must be a number above 1 \(times the median norm\); got 1.0"),
    Case("sae", "a TopK SAE with k that is a bool", lambda c: SAEConfig(d_in=64, d_sae=128, kind="topk", k=True),
         InputError, r"a topk SAE needs k between 1 and d_sae=128; got k=True"),
]


@pytest.fixture(scope="module")
def context(tmp_path_factory, suite):
    from transformers import DistilBertConfig, DistilBertModel

    hm = interp.models.tiny("llama")
    src = hm.run(SOURCE, cache=["resid_post.0", "z.1", "v.0"])
    encoder_dir = tmp_path_factory.mktemp("encoder")
    DistilBertModel(DistilBertConfig(vocab_size=32, dim=16, n_layers=1, n_heads=2,
                                     hidden_dim=32)).save_pretrained(encoder_dir)
    interp.models.tiny_tokenizer().save_pretrained(encoder_dir)
    calls: list[int] = []
    handle = hm.model.register_forward_pre_hook(lambda *args: calls.append(1))
    yield SimpleNamespace(hm=hm, src=src, encoder_dir=encoder_dir, templates=suite, calls=calls)
    handle.remove()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.name}" for c in CASES])
def test_bad_input_gets_a_clear_error_before_any_work(case, context, tmp_path):
    hm = context.hm
    ctx = SimpleNamespace(**vars(context), tmp=tmp_path, out=tmp_path / "out")
    context.calls.clear()
    hooks = interp.graph.count_hooks(hm.model)
    with pytest.raises(case.error) as caught:
        case.trigger(ctx)
    message = str(caught.value)
    assert re.search(case.message, message, re.S), f"{message!r} does not match {case.message!r}"
    if case.error is not CliError:
        assert isinstance(caught.value, InterpError)
    assert context.calls == [], "the model ran before the bad input was reported"
    assert not ctx.out.exists(), "an output folder was created before the bad input was reported"
    assert interp.graph.count_hooks(hm.model) == hooks


def test_every_area_is_covered():
    assert {c.area for c in CASES} == {"graph", "interventions", "suites", "methods", "evaluators", "models", "sae",
                                       "cli"}
    names = [(c.area, c.name) for c in CASES]
    assert len(names) == len(set(names))


def render() -> str:
    lines = [
        "# Bad inputs and the errors they get",
        "",
        "Generated from `CASES` in `tests/robustness/test_bad_inputs.py` (regenerate: `.venv/bin/python "
        "tests/robustness/test_bad_inputs.py`).",
        "Each case is a test: the error type must match, the message must match the pattern, and nothing ran",
        "before it (no forward pass on the model, no output folder, no hook left behind). CLI cases return",
        "exit status 2 and print `interp COMMAND: error: MESSAGE` on stderr.",
        "",
        f"{len(CASES)} cases.",
        "",
        "| area | bad input | error | message matches |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        error = "exit 2" if case.error is CliError else case.error.__name__
        pattern = case.message.replace("|", r"\|")
        lines.append(f"| {case.area} | {case.name} | `{error}` | `{pattern}` |")
    return "\n".join(lines) + "\n"


def test_the_markdown_table_is_in_sync():
    assert MARKDOWN.read_text(encoding="utf-8") == render(), \
        "run: .venv/bin/python tests/robustness/test_bad_inputs.py"


if __name__ == "__main__":
    MARKDOWN.write_text(render(), encoding="utf-8")
    print(f"wrote {MARKDOWN} ({len(CASES)} cases)", file=sys.stderr)
