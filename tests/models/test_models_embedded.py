"""The real embedded model: it loads, shows real syntax, and its cache is faithful to the GGUF."""

import pytest
import torch

import interp
from interp.models import embedded as embedded_module
from interp.suites_common import single_token_id

pytestmark = pytest.mark.slow

AGREEMENT = [
    ("The keys to the cabinet", " are", " is"),
    ("The key to the cabinets", " is", " are"),
    ("The dogs near the house", " are", " is"),
    ("The dog near the houses", " is", " are"),
    ("The teacher of the students", " was", " were"),
]


def test_shape_of_smollm2(embedded):
    assert (embedded.n_layers, embedded.d_model, embedded.n_heads, embedded.n_kv_heads) == (30, 576, 9, 3)
    assert embedded.family == "Llama"


def test_prefers_the_agreeing_verb(embedded):
    log_probs = embedded.run([p for p, _, _ in AGREEMENT]).last_logits.log_softmax(-1)
    for row, (prompt, good, bad) in enumerate(AGREEMENT):
        good_id, bad_id = single_token_id(embedded.tokenizer, good), single_token_id(embedded.tokenizer, bad)
        assert log_probs[row, good_id] > log_probs[row, bad_id], prompt


def test_cached_copy_gives_the_gguf_logits_exactly(embedded):
    from_gguf = interp.load(str(embedded_module.embedded_gguf_path()))  # the .gguf path of interp.load
    text = ["The keys to the cabinet"]
    assert torch.equal(embedded.run(text).logits, from_gguf.run(text).logits)
