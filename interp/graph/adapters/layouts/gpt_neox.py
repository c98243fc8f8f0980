"""GPT-NeoX (Pythia): fused ``query_key_value`` packed per head, parallel residual by config."""

from interp.graph.adapters.layout import Layout

GPT_NEOX = Layout(
    family="GPT-NeoX",
    embed="embed_in",
    final_norm="final_layer_norm",
    unembed="embed_out",
    attn="attention",
    qkv=("attention.query_key_value",),
    qkv_fused="per_head",
    attn_out_proj="attention.dense",
    mlp_down="mlp.dense_4h_to_h",
    parallel_residual=lambda config: bool(getattr(config, "use_parallel_residual", True)),
)

LAYOUTS = {"gpt_neox": GPT_NEOX}
