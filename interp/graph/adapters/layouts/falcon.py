"""Falcon (TII): one fused ``query_key_value``, rotary embeddings (ALiBi on the ``alibi`` models),
attention and MLP in parallel on the new decoder architecture (Falcon-40B/180B, with one or two
LayerNorms) and on ``parallel_attn`` models (Falcon-7B), sequential otherwise (Falcon-RW).

The fused output is the ``grouped`` packing with one group per key/value head in all three
configurations: new decoder architecture ``[g: q..q k v]`` with ``num_kv_heads`` groups;
multi-query ``[q (all heads) | k | v]`` (one group); otherwise ``[h: q k v | ...]`` (one per head).

The layer adds the attention's output into the MLP's output *in place*
(``mlp_output += attention_output``), so ``mlp_out`` is read and written as a copy: it is the MLP's
own output, what it contributes.
"""

from typing import Any

from interp.graph.adapters.layout import Dims, Layout


def _dims(config: Any) -> Dims:
    n_heads = config.num_attention_heads
    if config.new_decoder_architecture:
        n_kv = config.num_kv_heads
    else:
        n_kv = 1 if config.multi_query else n_heads
    return Dims(config.num_hidden_layers, n_heads, n_kv, config.hidden_size, config.hidden_size // n_heads)


def _parallel(config: Any) -> bool:
    return bool(config.new_decoder_architecture or config.parallel_attn)


FALCON = Layout(
    family="Falcon",
    embed="word_embeddings",
    layers="h",
    final_norm="ln_f",
    attn="self_attention",
    qkv=("self_attention.query_key_value",),
    qkv_fused="grouped",
    attn_out_proj="self_attention.dense",
    mlp_down="mlp.dense_4h_to_h",
    copied=("mlp_out",),
    parallel_residual=_parallel,
    dims=_dims,
)

LAYOUTS = {"falcon": FALCON}
