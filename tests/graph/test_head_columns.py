"""Narrowed unembedding (interp.graph.head_columns): the logits asked for, equal to the full logits' columns,
whatever the family does to its logits after the unembedding; hooks gone afterwards, also after an error."""

import pytest
import torch

import interp
from interp.errors import InputError
from interp.graph.head_columns import only_columns
from interp.graph.packing import Packing, base_state, packed_last_logits

COLUMNS = torch.tensor([[4, 9, 4], [17, 2, 30]])  # [kept tokens, J]: a repeat, several ids per row


@pytest.mark.parametrize("model_type", ["llama", "gemma2", "cohere", "granite"])  # soft-cap, logit scales
def test_narrowed_logits_are_the_full_logits_columns(model_type):
    hm = interp.models.tiny(model_type)
    ids = hm.tokenize(["The key to the cabinets", "A dog near the houses"]).input_ids
    keep = torch.tensor([2, 5])
    with torch.no_grad():
        full = hm.model(input_ids=ids, logits_to_keep=keep).logits  # [2, 2, vocab]
        with only_columns(hm, COLUMNS):
            some = hm.model(input_ids=ids, logits_to_keep=keep).logits
    assert some.shape == (2, 2, 3)
    expected = torch.stack([row.gather(1, COLUMNS) for row in full])
    torch.testing.assert_close(some, expected, atol=1e-5, rtol=1e-5)


def test_the_hooks_are_removed_also_after_an_error():
    hm = interp.models.tiny("llama")
    head = hm.model.get_output_embeddings()
    ids = hm.tokenize(["The key to the cabinets"]).input_ids
    with pytest.raises(ValueError, match="2 rows of columns for 3 hidden states"):
        with only_columns(hm, COLUMNS):
            hm.model(input_ids=ids, logits_to_keep=torch.tensor([1, 2, 3]))
    assert not head._forward_hooks and not head._forward_pre_hooks
    with torch.no_grad():
        assert hm.model(input_ids=ids).logits.shape[-1] == head.weight.shape[0]


def test_packed_columns_refuse_a_logits_hook_and_work_without_a_linear_head(monkeypatch):
    hm = interp.models.tiny("llama")
    batch = hm.tokenize(["The key to the cabinets", "A dog near the houses"])
    state, packing = base_state(hm, batch, layer=1), Packing(batch, torch.tensor([0, 1]), torch.tensor([2, 3]))

    class Watch:
        site = "logits"

        def __call__(self, act, ctx):
            return act

    with pytest.raises(InputError, match="hook on 'logits'"):
        packed_last_logits(hm, state, packing, [Watch()], columns=COLUMNS)
    full = packed_last_logits(hm, state, packing, [])
    monkeypatch.setattr(type(hm.model), "get_output_embeddings", lambda self: None)  # not a plain linear head
    torch.testing.assert_close(packed_last_logits(hm, state, packing, [], columns=COLUMNS), full.gather(1, COLUMNS))
