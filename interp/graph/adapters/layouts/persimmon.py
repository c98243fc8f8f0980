"""Persimmon (Adept): Llama's residual structure with LayerNorms, one fused ``query_key_value``
packed per head (``[h: q k v | ...]``), optional per-head q/k LayerNorms (``q``/``k`` are before
them and before the partial rotary embedding), a plain MLP ``dense_h_to_4h`` -> ``dense_4h_to_h``."""

from interp.graph.adapters.layout import Layout

PERSIMMON = Layout(
    family="Persimmon",
    final_norm="final_layernorm",
    qkv=("self_attn.query_key_value",),
    qkv_fused="per_head",
    attn_out_proj="self_attn.dense",
    mlp_down="mlp.dense_4h_to_h",
)

LAYOUTS = {"persimmon": PERSIMMON}
