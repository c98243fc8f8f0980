"""Tiny random-initialised models of each supported family, for fast and exact tests.

Nothing is downloaded: the configs are written here and the tokenizer is a byte-level BPE
trained in-process on a small built-in English corpus (deterministic, ~0.1 s, cached).

>>> from interp.models import tiny
>>> hm = tiny("llama")                 # 2 layers, 4 query heads over 2 key/value heads
>>> hm.n_layers, hm.n_heads, hm.n_kv_heads
(2, 4, 2)
>>> tiny("neox", use_parallel_residual=False).sites("resid_mid")
['resid_mid.0', 'resid_mid.1']
"""

from __future__ import annotations

import functools
import os

import torch

from interp.errors import ModelLoadError
from interp.graph import HookedModel
from interp.models.tiny_configs import ADDS_BOS, TINY_CONFIGS, tiny_config

FAMILIES = ("gpt2", "neox", "llama")
# Every Hugging Face model_type with a tiny config (interp.models.tiny_configs); "neox" names gpt_neox.
MODEL_TYPES = tuple(TINY_CONFIGS)
_ALIASES = {"neox": "gpt_neox"}

_CORPUS = """
The keys to the cabinet are on the table. The key to the cabinets is on the table.
The author that the guards like laughs. The authors that the guard likes laugh.
The dog near the houses was happy, and the dogs near the house were happy.
No teacher has ever seen any student. The teacher that no student likes has ever seen them.
The man who the woman saw yesterday thinks that she knows what he wants.
The capital of Poland is Warsaw. The capital of France is Paris. The capital of Japan is Tokyo.
I think that the movie was wonderful, great and lovely. I hate it; it was terrible, awful and bad.
While the doctor visited the patient the nurse sang. After the man left the house it rained.
She saw herself in the mirror and he hurt himself, and they told themselves a story.
It was the senator that the reporter who the editor hired attacked.
Is, are, was, were, has, have, does, do: singular and plural verbs agree with their subjects.
Once upon a time there was a little girl who lived in a village near the forest.
""".strip()


@functools.cache
def _tokenizer_backend(add_bos: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=384,
        special_tokens=["<|endoftext|>", "<s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines(), trainer)
    if add_bos:
        bos = tokenizer.token_to_id("<s>")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
        )
    return tokenizer.to_str()


def tiny_tokenizer(add_bos: bool = False):
    """A byte-level BPE tokenizer (GPT-2 style leading-space tokens); ``add_bos`` prepends ``<s>``."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(_tokenizer_backend(add_bos))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>" if add_bos else "<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def _model_type(family: str) -> str:
    """The Hugging Face ``model_type`` behind a tiny ``family`` name (``"neox"`` is ``gpt_neox``)."""
    model_type = _ALIASES.get(family, family)
    if model_type not in TINY_CONFIGS:
        raise ModelLoadError(
            f"unknown tiny family {family!r}; choose one of {', '.join(FAMILIES)} or a Hugging Face model type: "
            f"{', '.join(sorted(MODEL_TYPES))}"
        )
    return model_type


def tiny(family: str = "llama", *, seed: int = 0, attn_implementation: str = "sdpa", device: str | None = None,
         **overrides):
    """A small random model of ``family`` (``"gpt2"``, ``"neox"``, ``"llama"`` or any Hugging Face ``model_type``
    of :data:`MODEL_TYPES`, e.g. ``"gemma2"``, ``"falcon"``, ``"mixtral"``, ``"mamba"``), wrapped.

    Keyword ``overrides`` go to the family's ``transformers`` config (e.g. ``num_hidden_layers=3``;
    real sizes give a random model of a real architecture, for timing). The same ``seed`` always gives
    the same weights. ``device``: where the model lives (default ``$INTERP_TINY_DEVICE``, else the
    CPU; the test suite's ``--device cuda`` sets it). ``attn_implementation`` falls back to ``"eager"`` on
    families without SDPA attention (and state-space models, which have no attention).

    >>> tiny("mistral").model.config.sliding_window
    4
    """
    from transformers import AutoModelForCausalLM

    model_type = _model_type(family)
    tokenizer = tiny_tokenizer(add_bos=model_type in ADDS_BOS)
    config = tiny_config(model_type, len(tokenizer), **overrides)
    model_class = AutoModelForCausalLM._model_mapping[type(config)]
    if attn_implementation == "sdpa" and not getattr(model_class, "_supports_sdpa", False):
        attn_implementation = "eager"
    config._attn_implementation = attn_implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.eval().requires_grad_(False)
    device = device or os.environ.get("INTERP_TINY_DEVICE") or "cpu"
    if device != "cpu":
        model.to(device)
    hm = HookedModel(model, tokenizer, name=f"tiny-{family}", revision=f"seed={seed}")
    hm.spec = {"loader": "tiny", "family": family, "seed": seed, "attn_implementation": attn_implementation,
               **overrides}  # to load it again in another process (interp.exec)
    return hm
