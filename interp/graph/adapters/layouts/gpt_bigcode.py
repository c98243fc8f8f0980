"""GPT-BigCode (StarCoder, SantaCoder): GPT-2's modules and learned position embeddings, usually
with multi-query attention (``multi_query``: one key/value head).

Its fused ``c_attn`` is ``[q (all heads) | k | v]`` under multi-query attention and
``[h: q k v | ...]`` (per head) otherwise: both are the ``grouped`` packing, with one group per
key/value head.
"""

from typing import Any

from interp.graph.adapters.layout import Dims, Layout


def _dims(config: Any) -> Dims:
    n_heads = config.num_attention_heads
    n_kv = 1 if config.multi_query else n_heads
    return Dims(config.num_hidden_layers, n_heads, n_kv, config.hidden_size, config.hidden_size // n_heads)


GPT_BIGCODE = Layout(
    family="GPT-BigCode",
    embed="wte",
    layers="h",
    final_norm="ln_f",
    attn="attn",
    qkv=("attn.c_attn",),
    qkv_fused="grouped",
    attn_out_proj="attn.c_proj",
    mlp_down="mlp.c_proj",
    dims=_dims,
)

LAYOUTS = {"gpt_bigcode": GPT_BIGCODE}
