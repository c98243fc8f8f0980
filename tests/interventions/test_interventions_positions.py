"""Position lists mean the same thing whatever the batch size: a flat list (or 1-D tensor/array) is
"these positions in every example", a list of lists (or 2-D tensor/array) is one list per example.
Checked against hand-written hooks that patch single positions."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import interp
from interp.errors import InputError
from interp.interventions import Patch, Steer, load

TEXTS = ["The keys to the cabinet", "The dog near the houses is", "A cat sat here"]
SOURCES = ["The key to the cabinets", "The dogs near the house was", "A dog sat here"]


@pytest.fixture(scope="module")
def hm():
    return interp.models.tiny("llama")


def by_hand(hm, base, source, rows: list[list[int]]):
    """Logits of ``base`` with ``resid_post.0`` of example b patched at each position in ``rows[b]``
    from the source's real token of the same index (both right-padded: real index = absolute index)."""
    src = hm.run(source, cache=["resid_post.0"]).cache["resid_post.0"]

    def manual(act, ctx):
        act = act.clone()
        for b, row in enumerate(rows):
            for p in row:
                act[b, p] = src[b, p]
        return act

    manual.site = "resid_post.0"
    return hm.run(base, interventions=[manual]).logits


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("spelling", ["list", "tensor", "numpy"])
def test_a_flat_list_is_the_same_positions_in_every_example(hm, n, spelling):
    base, source = TEXTS[:n], SOURCES[:n]
    flat = {"list": [2, 3], "tensor": torch.tensor([2, 3]), "numpy": np.array([2, 3])}[spelling]
    src = hm.run(source, cache=["resid_post.0"])
    out = hm.run(base, interventions=[Patch("resid_post.0", src.cache, positions=flat)]).logits
    expected = by_hand(hm, base, source, [[2, 3]] * n)
    assert torch.equal(out, expected)
    assert not torch.equal(out, hm.run(base).logits)  # the patch changed something


@pytest.mark.parametrize("spelling", ["lists", "tensor", "numpy"])
def test_a_list_of_lists_is_one_list_per_example(hm, spelling):
    rows = [[1], [4], [0]]
    per_example = {"lists": rows, "tensor": torch.tensor(rows), "numpy": np.array(rows)}[spelling]
    src = hm.run(SOURCES, cache=["resid_post.0"])
    out = hm.run(TEXTS, interventions=[Patch("resid_post.0", src.cache, positions=per_example)]).logits
    assert torch.equal(out, by_hand(hm, TEXTS, SOURCES, rows))


def test_steering_a_flat_list_on_one_example_steers_both_positions(hm):
    vector = torch.ones(hm.d_model)
    one = hm.run(TEXTS[:1], interventions=[Steer("resid_post.0", vector, positions=[1, 3])], cache=["resid_post.0"])
    plain = hm.run(TEXTS[:1], cache=["resid_post.0"])
    changed = (one.cache["resid_post.0"] - plain.cache["resid_post.0"]).abs().sum(-1)[0]
    assert changed.nonzero().flatten().tolist() == [1, 3]


@pytest.mark.parametrize("positions, message", [
    ([[1], [4]], r"positions=\[\[1\], \[4\]\] has 2 per-example lists for a batch of 3; .*"
                 r"for the same positions in every example write positions=\[1, 4\]"),
    ([1, 40], r"position 40 is out of range for example 0, .*positions=\[1, 40\] means positions 1, 40 in every "
              r"example; for one position per example write positions=\[\[1\], \[40\]\]"),
    ([1, [4], 2], r"mixes positions and lists; .*positions=\[1, 4\].*positions=\[\[1\], \[4\]\]"),
    ([[1], [2, 3], [0]], r"per-example position lists must be equally long"),
    ([1.0, 2], r"a position \(token index\) must be an integer, not 1.0 \(float\)"),
    ([True], r"must be an integer, not True \(bool\)"),
    (torch.zeros(3, 1, 1, dtype=torch.long), r"1-D .* or 2-D .*got shape \[3, 1, 1\]"),
    ([], r"positions=\[\] selects nothing"),
])
def test_bad_positions_show_both_spellings(hm, positions, message):
    src = hm.run(SOURCES, cache=["resid_post.0"])
    with pytest.raises(InputError, match=message):
        hm.run(TEXTS, interventions=[Patch("resid_post.0", src.cache, positions=positions)])


def test_positions_saved_by_format_1_keep_their_per_example_meaning(hm, tmp_path):
    src = hm.run(SOURCES[:2], cache=["resid_post.0"])
    folder = Patch("resid_post.0", src.cache, positions=[[1], [4]]).save(tmp_path / "patch")
    config = json.loads((folder / "config.json").read_text())
    assert config["positions"] == [[1], [4]]
    config.update(format=1, positions=[1, 4])  # how interp wrote per-example positions before
    (folder / "config.json").write_text(json.dumps(config))
    assert load(folder).positions == [[1], [4]]
