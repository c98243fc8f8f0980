"""Phi and Phi-3 (Microsoft).

- Phi (1, 1.5, 2): one LayerNorm feeds attention and the MLP in parallel, no ``resid_mid``
  (``resid_post = resid_pre + attn_out + mlp_out``); the output projection is ``self_attn.dense``,
  the MLP ``fc1`` -> ``fc2``; optional per-head q/k LayerNorms (``qk_layernorm``): ``q``/``k`` are
  the projections' outputs, before the norm and before the partial rotary embedding.
- Phi-3: Llama's residual structure with one fused ``qkv_proj`` packed ``[q | k | v]`` (GQA
  widths) and a fused ``gate_up_proj``; ``mlp_post`` is ``down_proj``'s input.
"""

from interp.graph.adapters.layout import Layout, always

PHI = Layout(
    family="Phi",
    final_norm="final_layernorm",
    attn_out_proj="self_attn.dense",
    mlp_down="mlp.fc2",
    parallel_residual=always,
)

PHI3 = Layout(family="Phi-3", qkv=("self_attn.qkv_proj",), qkv_fused="concat")

LAYOUTS = {"phi": PHI, "phi3": PHI3}
