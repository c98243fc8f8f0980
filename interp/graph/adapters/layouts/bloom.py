"""BLOOM (BigScience): ALiBi positions, a LayerNorm on the embeddings, one fused
``query_key_value`` packed per head (``[h: q k v | ...]``).

Its attention and its MLP add the residual themselves (``dropout_add(output, residual)``), so
what a branch *adds* is its last projection's output: ``attn_out`` is ``self_attention.dense``'s,
``mlp_out`` is ``mlp.dense_4h_to_h``'s, and the attention module's own output is ``resid_mid``.
``embed`` is the stream entering layer 0: after ``word_embeddings_layernorm``.

Not described (such a model wraps with module-path sites only, and the warning says why):
``apply_residual_connection_post_layernorm`` (the residual is the normed stream) and
``pretraining_tp > 1`` with ``slow_but_exact`` (the projections are computed from weight slices,
so their modules never run).
"""

from typing import Any

from interp.graph.adapters.layout import Layout


def _unsupported(config: Any) -> str | None:
    if getattr(config, "apply_residual_connection_post_layernorm", False):
        return "apply_residual_connection_post_layernorm=True: the residual is the normed stream"
    if getattr(config, "pretraining_tp", 1) > 1 and getattr(config, "slow_but_exact", False):
        return "slow_but_exact with pretraining_tp > 1: the output projections run as weight slices, not modules"
    return None


BLOOM = Layout(
    family="BLOOM",
    embed="word_embeddings",
    layers="h",
    final_norm="ln_f",
    attn="self_attention",
    qkv=("self_attention.query_key_value",),
    qkv_fused="per_head",
    attn_out_proj="self_attention.dense",
    attn_out="self_attention.dense",
    mlp_down="mlp.dense_4h_to_h",
    mlp_out="mlp.dense_4h_to_h",
    unsupported=_unsupported,
)

LAYOUTS = {"bloom": BLOOM}
