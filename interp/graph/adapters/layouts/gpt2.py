"""GPT-2: fused ``c_attn`` (``[q | k | v]``), Conv1D projections, learned position embeddings."""

from interp.graph.adapters.layout import Layout

GPT2 = Layout(
    family="GPT-2",
    embed="wte",
    layers="h",
    final_norm="ln_f",
    attn="attn",
    qkv=("attn.c_attn",),
    qkv_fused="concat",
    attn_out_proj="attn.c_proj",
    mlp_down="mlp.c_proj",
)

LAYOUTS = {"gpt2": GPT2}
