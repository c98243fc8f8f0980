"""Config keyword arguments of a tiny random model for each Hugging Face ``model_type``.

Every entry builds a 2-layer model with ``d_model`` 64, 4 query heads (2 key/value heads where the
family has grouped-query attention) of ``d_head`` 16, a small MLP, few experts (MoE: 4, top-2), no
dropout and at least 128 positions, with the features that make the family what it is switched
on: soft-capping, a sliding window on some layer, Granite's multipliers, Cohere's ``logit_scale``,
Falcon's new decoder architecture with GQA, partial rotary, parallel residuals, q/k norms. The
vocabulary, the special-token ids and the attention implementation come from
:func:`interp.models.tiny`, which reads this table:

>>> from interp.models.tiny_configs import TINY_CONFIGS, tiny_config
>>> len(TINY_CONFIGS) >= 42, TINY_CONFIGS["granite"]["residual_multiplier"]
(True, 0.5)
>>> tiny_config("gemma2", vocab_size=384).final_logit_softcapping
5.0

Adding a family is adding one entry here (its ``model_type`` and keyword arguments).
"""

from __future__ import annotations

from typing import Any

# The shape every entry shares, in each family's own spelling.
_DECODER = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                intermediate_size=128, max_position_embeddings=128, attention_dropout=0.0)
_MHA = {**_DECODER, "num_key_value_heads": 4}  # families without grouped-query attention
_MOE = dict(num_experts_per_tok=2)
_SLIDING = dict(sliding_window=4, layer_types=["sliding_attention", "full_attention"])
_GRANITE = dict(embedding_multiplier=2.0, logits_scaling=4.0, residual_multiplier=0.5, attention_multiplier=0.25)
_MAMBA = dict(num_hidden_layers=2, hidden_size=64, state_size=8, expand=2, conv_kernel=4, time_step_rank=8,
              intermediate_size=128)

TINY_CONFIGS: dict[str, dict[str, Any]] = {
    # ----- the three families of interp.models.FAMILIES (configs unchanged: tests depend on their weights)
    "gpt2": dict(n_layer=2, n_head=4, n_embd=64, n_positions=128, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "gpt_neox": dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=64, intermediate_size=256,
                     max_position_embeddings=128, rotary_pct=0.5, use_parallel_residual=True),
    "llama": dict(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=64,
                  intermediate_size=128, max_position_embeddings=128, tie_word_embeddings=False),
    # ----- Llama-like: separate q/k/v/o projections, gated MLP, RMSNorm
    "mistral": {**_DECODER, "sliding_window": 4},
    "qwen2": {**_DECODER, **_SLIDING, "use_sliding_window": True, "max_window_layers": 0},
    "qwen3": {**_DECODER, **_SLIDING, "use_sliding_window": True, "max_window_layers": 0},  # q/k norms
    "olmo": {**_DECODER, "clip_qkv": 1.0},  # non-parametric layer norm, clipped q/k/v
    "smollm3": {**_DECODER, "no_rope_layers": [1, 0]},  # layer 1 has no rotary embedding
    "helium": dict(_DECODER),
    "ernie4_5": {**_DECODER, "use_bias": True},
    "seed_oss": {**_DECODER, "attention_bias": True, "residual_dropout": 0.0},
    "nemotron": {**_DECODER, "partial_rotary_factor": 0.5},  # relu² MLP without gate, LayerNorm1P
    "glm4": {**_DECODER, "attention_bias": True},  # partial rotary, sandwich norms, fused gate_up
    "exaone4": {**_DECODER, **_SLIDING},  # norms after attention/MLP, q/k norms
    "olmo2": dict(_DECODER),  # norms after attention/MLP, q/k norms over all heads
    "olmo3": {**_DECODER, **_SLIDING},
    "stablelm": {**_DECODER, "partial_rotary_factor": 0.25, "use_parallel_residual": True, "qk_layernorm": True,
                 "use_qkv_bias": True, "hidden_dropout": 0.0},
    "starcoder2": {**_DECODER, "sliding_window": 4, "use_bias": True, "residual_dropout": 0.0,
                   "embedding_dropout": 0.0},
    "persimmon": {**_MHA, "partial_rotary_factor": 0.5, "qk_layernorm": True, "hidden_dropout": 0.0},
    "phi": {**_MHA, "partial_rotary_factor": 0.5, "qk_layernorm": True, "resid_pdrop": 0.0, "embd_pdrop": 0.0},
    "phi3": {**_DECODER, "partial_rotary_factor": 0.5, "resid_pdrop": 0.0, "embd_pdrop": 0.0},  # fused qkv
    # ----- Gemma: embedding scale, (1 + weight) RMSNorm, sandwich norms (2, 3), soft-capping (2)
    "gemma": dict(_DECODER),
    "gemma2": {**_DECODER, **_SLIDING, "query_pre_attn_scalar": 16, "final_logit_softcapping": 5.0,
               "attn_logit_softcapping": 10.0},
    "gemma3_text": {**_DECODER, **_SLIDING, "query_pre_attn_scalar": 16},
    # ----- Granite and Cohere: multipliers and logit scale inside the sites' meaning
    "granite": {**_DECODER, **_GRANITE},
    "cohere": {**_DECODER, "logit_scale": 0.5, "use_qk_norm": True},  # parallel attention + MLP
    # ----- mixtures of experts
    "mixtral": {**_DECODER, **_MOE, "num_local_experts": 4, "sliding_window": 4},
    "qwen2_moe": {**_DECODER, **_MOE, "num_experts": 4, "moe_intermediate_size": 32,
                  "shared_expert_intermediate_size": 64},
    "qwen3_moe": {**_DECODER, **_MOE, "num_experts": 4, "moe_intermediate_size": 32},
    "olmoe": {**_DECODER, **_MOE, "num_experts": 4, "intermediate_size": 32},
    "granitemoe": {**_DECODER, **_GRANITE, **_MOE, "num_local_experts": 4, "intermediate_size": 32},
    "gpt_oss": {**_DECODER, **_SLIDING, **_MOE, "num_local_experts": 4, "intermediate_size": 32},  # attention sinks
    "deepseek_v3": {**_MHA, **_MOE, "n_routed_experts": 4, "n_shared_experts": 1, "moe_intermediate_size": 32,
                    "n_group": 1, "topk_group": 1, "first_k_dense_replace": 1,  # layer 0 dense, layer 1 MoE
                    "kv_lora_rank": 16, "q_lora_rank": 32, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8,
                    "v_head_dim": 16, "head_dim": 8},  # multi-head latent attention
    "llama4_text": {**_DECODER, **_MOE, "num_local_experts": 4, "intermediate_size": 32,
                    "intermediate_size_mlp": 128, "moe_layers": [1], "no_rope_layers": [1, 0],
                    "attention_chunk_size": 4, "layer_types": ["chunked_attention", "full_attention"]},
    # ----- fused QKV and parallel blocks, learned or ALiBi positions
    "opt": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, ffn_dim=128, word_embed_proj_dim=64,
                max_position_embeddings=128, dropout=0.0, attention_dropout=0.0),
    "gptj": dict(n_layer=2, n_embd=64, n_head=4, rotary_dim=8, n_inner=128, n_positions=128, resid_pdrop=0.0,
                 embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=False),
    # 8 heads: its fused qkv_proj has 4 blocks (mp_num) of [q | v | k], 2 heads each (with 4 heads, one
    # per block, a per-head reading would pass too)
    "codegen": dict(n_layer=2, n_embd=64, n_head=8, rotary_dim=4, n_inner=128, n_positions=128, n_ctx=128,
                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "gpt_neo": dict(num_layers=2, hidden_size=64, num_heads=4, intermediate_size=128, max_position_embeddings=128,
                    attention_types=[[["global", "local"], 1]], window_size=4, resid_dropout=0.0,
                    embed_dropout=0.0, attention_dropout=0.0),
    "gpt_bigcode": dict(n_layer=2, n_embd=64, n_head=4, n_inner=128, n_positions=128, multi_query=True,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "bloom": dict(n_layer=2, hidden_size=64, n_head=4, hidden_dropout=0.0, attention_dropout=0.0),  # ALiBi
    "mpt": dict(n_layers=2, d_model=64, n_heads=4, expansion_ratio=2, max_seq_len=128, resid_pdrop=0.0,
                emb_pdrop=0.0),  # ALiBi, fused Wqkv
    "falcon": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_kv_heads=2,
                   new_decoder_architecture=True, parallel_attn=True, ffn_hidden_size=128,
                   max_position_embeddings=128, hidden_dropout=0.0, attention_dropout=0.0),
    "xglm": dict(num_layers=2, d_model=64, attention_heads=4, ffn_dim=128, max_position_embeddings=128,
                 dropout=0.0, attention_dropout=0.0, activation_dropout=0.0),  # sinusoidal positions
    "biogpt": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128,
                   max_position_embeddings=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    # ----- state-space models and hybrids: no attention (or on some layers only)
    "mamba": dict(_MAMBA),
    "falcon_mamba": dict(_MAMBA),
    "mamba2": dict(num_hidden_layers=2, hidden_size=64, num_heads=8, head_dim=16, state_size=16, n_groups=1,
                   expand=2, conv_kernel=4, chunk_size=16, time_step_rank=8),
    "recurrent_gemma": dict(num_hidden_layers=2, hidden_size=64, lru_width=64, num_attention_heads=4,
                            num_key_value_heads=2, head_dim=16, intermediate_size=128, attention_window_size=16,
                            block_types=["recurrent", "attention"]),
    "jamba": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=128, attn_layer_period=2, attn_layer_offset=1, expert_layer_period=2,
                  expert_layer_offset=1, num_experts=4, num_experts_per_tok=2, mamba_d_state=8, mamba_dt_rank=8,
                  use_mamba_kernels=False, max_position_embeddings=128),
    "rwkv": dict(num_hidden_layers=2, hidden_size=64, attention_hidden_size=64, intermediate_size=128,
                 context_length=128),
}

# Model types whose tiny tokenizer prepends a beginning-of-sequence token (as their real tokenizers do).
ADDS_BOS = frozenset({"llama"})


def tiny_config(model_type: str, vocab_size: int, **overrides):
    """The ``transformers`` config of a tiny ``model_type`` model (pad, bos and eos token 0).

    >>> tiny_config("falcon", vocab_size=384, num_hidden_layers=3).num_hidden_layers
    3
    """
    from transformers import AutoConfig

    common = {"vocab_size": vocab_size, "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}
    return AutoConfig.for_model(model_type, **{**common, **TINY_CONFIGS[model_type], **overrides})
