"""Token helpers: hm.to_tokens / to_str_tokens / to_string / to_single_token, with the evaluators' BOS."""

from __future__ import annotations

import pytest
import torch

from interp.errors import InputError
from interp.graph.tokens import PADDING_SHOWN, context_ids


def test_to_tokens_puts_the_evaluators_bos_in_front(tiny_hm):
    hm = tiny_hm
    ids = hm.to_tokens("The keys to the cabinet")
    plain = hm.tokenizer("The keys to the cabinet", add_special_tokens=False)["input_ids"]
    assert ids.tolist() == [context_ids(hm.tokenizer) + plain]
    bare = hm.tokenizer("The keys", add_special_tokens=False)["input_ids"]
    assert hm.to_tokens("The keys", bos=None).tolist() == [bare]
    out = hm.run(hm.to_tokens(["The keys", "A dog near the house"], as_batch=True))
    lengths = [len(hm.to_str_tokens("The keys")), len(hm.to_str_tokens("A dog near the house"))]
    assert out.batch.lengths.tolist() == lengths


def test_str_tokens_of_a_batch_show_padding(tiny_hm):
    hm = tiny_hm
    rows = hm.to_str_tokens(["The keys to the cabinet", "A dog"], padding_side="left")
    assert len(rows[0]) == len(rows[1]) and rows[1][0] == PADDING_SHOWN and PADDING_SHOWN not in rows[0]
    assert rows[1][-len(hm.to_str_tokens("A dog")):] == hm.to_str_tokens("A dog")
    assert "".join(hm.to_str_tokens("The keys", bos=None)) == "The keys"
    ids = hm.to_tokens("The keys")
    assert hm.to_str_tokens(ids[0]) == hm.to_str_tokens("The keys")
    assert hm.to_str_tokens(ids) == [hm.to_str_tokens(ids[0])]
    assert hm.to_str_tokens(hm.tokenize(["The keys", "A"]))[1][-1] == PADDING_SHOWN


def test_to_string_round_trips_and_drops_padding_of_a_batch(tiny_hm):
    hm = tiny_hm
    assert hm.to_string(hm.to_tokens("The keys to the cabinet", bos=None)[0]) == "The keys to the cabinet"
    batch = hm.to_tokens(["The keys", "A dog near"], bos=None, as_batch=True)
    assert hm.to_string(batch) == ["The keys", "A dog near"]
    assert hm.to_string([int(i) for i in batch.input_ids[0, :2]]) == hm.to_string(batch.input_ids[0, :2])


def test_to_single_token_names_the_pieces(tiny_hm):
    hm = tiny_hm
    piece = hm.to_str_tokens(" keys", bos=None)[0]
    assert hm.to_single_token(piece) == hm.to_tokens(piece, bos=None)[0, 0]
    with pytest.raises(InputError, match=r"' cabinet' is \d tokens, not one: '.*' \+ "):
        hm.to_single_token(" cabinet")
    with pytest.raises(InputError, match="takes a string"):
        hm.to_single_token(5)
    with pytest.raises(InputError, match="integers"):
        hm.to_str_tokens(torch.ones(3))
