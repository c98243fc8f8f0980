"""Corrupt files are detected and reported with the file's name, never half-read; crafted files
cannot execute code (interp reads JSON and safetensors only, never pickle).

Covered elsewhere: the embedded model's corrupt cache is rebuilt (``test_models_loading.py``);
malformed suites name file, item and field (``test_suites_*``, ``test_bad_inputs.py``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import AGREEMENT_SMALL, FIXTURES
from safetensors.torch import load_file, save_file

import interp
from interp.cli import main
from interp.errors import InputError, ModelLoadError, SuiteError
from interp.eval import causal_efficacy
from interp.interventions import DAS, Patch, Steer, Subspace, load
from interp.suites import causalgym, syntaxgym

TASK = AGREEMENT_SMALL


class Evil:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edit_config(folder: Path, change: Callable[[dict], object]) -> None:
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


def replace_tensors(folder: Path, change: Callable[[dict], dict]) -> None:
    save_file(change(load_file(folder / "tensors.safetensors")), folder / "tensors.safetensors")


SAVED = {  # damage to a saved intervention -> what the error must say
    "truncated safetensors": ("steer", lambda f: truncate(f / "tensors.safetensors"),
                              r"tensors.safetensors is not a safetensors file"),
    "garbage safetensors header": ("steer", lambda f: (f / "tensors.safetensors").write_bytes(b"\xff" * 64),
                                   r"tensors.safetensors is not a safetensors file"),
    "truncated config": ("steer", lambda f: truncate(f / "config.json"), r"config.json is not valid JSON"),
    "config is a list": ("steer", lambda f: (f / "config.json").write_text("[1, 2]"),
                         r"config.json: unknown intervention type None"),
    "config without its site": ("steer", lambda f: edit_config(f, lambda c: c.pop("site")),
                                r"steer: the saved Steer does not fit together: a site name must be a string"),
    "alpha that is not a number": ("steer", lambda f: edit_config(f, lambda c: c.update(alpha="lots")),
                                   r"the saved Steer does not fit together"),
    "format from a newer interp": ("steer", lambda f: edit_config(f, lambda c: c.update(format=99)),
                                   r"config.json: format 99 is not one this interp reads"),
    "steering vector missing": ("steer", lambda f: replace_tensors(f, lambda t: {}), r"the saved Steer"),
    "basis no longer orthonormal": ("subspace", lambda f: replace_tensors(f, lambda t: {"@basis": torch.ones(64, 2)}),
                                    r"the saved Subspace does not fit together: .*orthonormal"),
    "DAS rotation cut short": ("das", lambda f: replace_tensors(f, lambda t: {k: v[:10] for k, v in t.items()}),
                               r"(?s)the saved DAS does not fit together: .*size mismatch"),
    "DAS rotation missing": ("das", lambda f: replace_tensors(f, lambda t: {}),
                             r"the saved DAS needs tensors \['rotation.*the file has \[\]"),
    "extra tensor": ("das", lambda f: replace_tensors(f, lambda t: {**t, "payload": torch.ones(1)}),
                     r"(?s)the saved DAS .*payload"),
    "source activations missing": ("patch", lambda f: replace_tensors(f, lambda t: {}),
                                   r"the saved Patch does not fit together"),
    "positions that name a class": ("patch", lambda f: edit_config(
        f, lambda c: c.update(positions={"__class__": "os.system", "args": ["touch x"]})),
        r"not a saved position selector"),
}


def originals(hm) -> dict:
    src = hm.run(["The keys to the cabinet"], cache=["resid_post.0"])
    return {"steer": Steer("resid_post.0", torch.ones(64), alpha=2.0, positions="last"),
            "subspace": Subspace("resid_post.0", torch.eye(64)[:, :2]),
            "das": DAS("resid_post.0", 64, 2, seed=3),
            "patch": Patch("resid_post.0", src.cache, "last")}


@pytest.mark.parametrize("case", sorted(SAVED))
def test_a_damaged_saved_intervention_is_reported_never_half_loaded(hm, tmp_path, case):
    kind, damage, message = SAVED[case]
    folder = originals(hm)[kind].save(tmp_path / kind)
    load(folder)  # whole, it loads
    damage(folder)
    with pytest.raises(InputError, match=message) as caught:
        load(folder)
    assert str(tmp_path / kind) in str(caught.value)


def test_crafted_pickles_are_never_executed(hm, tmp_path):
    marker = tmp_path / "pwned"
    folder = Steer("resid_post.0", torch.ones(64)).save(tmp_path / "steer")
    for payload in (pickle.dumps(Evil(marker)), _torch_save({"vector": Evil(marker)}, tmp_path / "t.pt")):
        (folder / "tensors.safetensors").write_bytes(payload)
        with pytest.raises(InputError, match="not a safetensors file"):
            load(folder)
    # a model folder whose weights are a pickle (pytorch_model.bin): refused, not run
    model_dir = tmp_path / "model"
    hm.model.save_pretrained(model_dir)
    hm.tokenizer.save_pretrained(model_dir)
    (model_dir / "model.safetensors").unlink()
    (model_dir / "pytorch_model.bin").write_bytes(pickle.dumps({"model.embed_tokens.weight": Evil(marker)}))
    with pytest.raises(ModelLoadError, match=r"weights of .*model' cannot be read"):
        interp.load(str(model_dir))
    # JSON that names classes or code is only data
    suite = json.loads((FIXTURES / "syntaxgym_agreement.json").read_text())
    suite["meta"]["__class__"] = "os.system"
    suite["predictions"][0]["formula"] = f"__import__('os').system('touch {marker}')"
    (tmp_path / "suite.json").write_text(json.dumps(suite))
    with pytest.raises(SuiteError, match="formula"):
        syntaxgym.load(tmp_path / "suite.json")
    assert not marker.exists()


def _torch_save(obj, path: Path) -> bytes:
    torch.save(obj, path)
    return path.read_bytes()


def test_truncated_model_weights_are_reported(hm, tmp_path):
    hm.model.save_pretrained(tmp_path)
    hm.tokenizer.save_pretrained(tmp_path)
    truncate(tmp_path / "model.safetensors")
    with pytest.raises(ModelLoadError, match=r"cannot be read \(a corrupt or truncated file"):
        interp.load(str(tmp_path))


@pytest.mark.parametrize("reader, name", [(syntaxgym.load, "syntaxgym_agreement.json"),
                                          (causalgym.read_templates, "causalgym_templates.json"),
                                          (causalgym.load_rows, "causalgym_rows.json")])
def test_a_truncated_suite_file_is_reported_with_its_name(tmp_path, reader, name):
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    reader(path)
    truncate(path)
    with pytest.raises(SuiteError, match=rf"{name}: not valid JSON"):
        reader(path)


SMALL = dict(methods=["mean", "vanilla"], layers=[0, 1], n_train=4, n_test=2, n_boot=10, control=False)


@pytest.mark.parametrize("damage", ["truncated", "not an object", "unit settings"])
def test_a_damaged_unit_file_stops_the_resume_and_names_the_file(hm, tmp_path, damage):
    suite = tmp_path / "agr.json"
    suite.write_text(json.dumps(TASK))
    out = tmp_path / "run"
    causal_efficacy(hm, suite, out=out, **SMALL)
    reference = (out / "results.csv").read_text()
    (out / "results.csv").unlink()
    units = sorted(p for p in (out / "units").glob("*.json") if p.name != "config.json")
    victim = {"truncated": units[1], "not an object": units[0], "unit settings": out / "units" / "config.json"}[damage]
    if damage == "not an object":
        victim.write_text("[1, 2, 3]")
    else:
        truncate(victim)
    with pytest.raises(InputError, match=rf"{victim.name}: corrupt file"):
        causal_efficacy(hm, suite, out=out, **SMALL)
    assert not (out / "results.csv").exists()
    # interp report refuses it too, with exit status 2 and the file's name
    assert main(["report", str(out)]) == 2
    victim.unlink()  # deleting a damaged unit file recomputes that unit
    if damage != "unit settings":
        causal_efficacy(hm, suite, out=out, **SMALL)
        assert (out / "results.csv").read_text() == reference


@pytest.mark.parametrize("damage", ["truncated", "garbage", "no metadata"])
def test_a_damaged_directions_file_is_reported_with_its_name(tmp_path, damage):
    from interp.eval import load_directions
    from interp.eval.causal_efficacy import save_directions

    path = save_directions(tmp_path / "d.safetensors", torch.eye(64)[None, :, :1], "resid_post.0", [1])
    assert list(load_directions(path)) == [1]
    if damage == "truncated":
        truncate(path)
    elif damage == "garbage":
        path.write_bytes(pickle.dumps(Evil(tmp_path / "pwned")))
    else:
        save_file({"bases": torch.ones(1, 64, 1)}, path)
    with pytest.raises(InputError, match="d.safetensors"):
        load_directions(path)
    assert not (tmp_path / "pwned").exists()
