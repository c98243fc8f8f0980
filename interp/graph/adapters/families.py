"""The layouts of the Hugging Face families interp knows, keyed by ``config.model_type``."""

from __future__ import annotations

from interp.graph.adapters.layout import Layout

GPT2 = Layout(
    family="GPT-2",
    embed="transformer.drop",
    layers="transformer.h",
    attn="attn",
    attn_out_proj="attn.c_proj",
    mlp="mlp",
    mlp_down="mlp.c_proj",
    final_norm="transformer.ln_f",
    unembed="lm_head",
    qkv=("attn.c_attn",),
    qkv_fused="concat",
)

GPT_NEOX = Layout(
    family="GPT-NeoX",
    embed="gpt_neox.emb_dropout",
    layers="gpt_neox.layers",
    attn="attention",
    attn_out_proj="attention.dense",
    mlp="mlp",
    mlp_down="mlp.dense_4h_to_h",
    final_norm="gpt_neox.final_layer_norm",
    unembed="lm_head",
    qkv=("attention.query_key_value",),
    qkv_fused="per_head",
    parallel_residual=lambda config: bool(getattr(config, "use_parallel_residual", True)),
)

LLAMA = Layout(
    family="Llama",
    embed="model.embed_tokens",
    layers="model.layers",
    attn="self_attn",
    attn_out_proj="self_attn.o_proj",
    mlp="mlp",
    mlp_down="mlp.down_proj",
    final_norm="model.norm",
    unembed="lm_head",
    qkv=("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
)

LAYOUTS: dict[str, Layout] = {
    "gpt2": GPT2,
    "gpt_neox": GPT_NEOX,
    # The Llama family: same module names, RMSNorm, rotary embeddings, optional GQA.
    "llama": LLAMA,
    "mistral": LLAMA,
    "qwen2": LLAMA,
    "qwen3": LLAMA,
    "olmo": LLAMA,
    "smollm3": LLAMA,
}
