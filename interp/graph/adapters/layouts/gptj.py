"""GPT-J and CodeGen (EleutherAI, Salesforce): one LayerNorm feeds attention and the MLP in parallel
(``resid_post = resid_pre + attn_out + mlp_out``, no ``resid_mid``), partial rotary embeddings.

- GPT-J: separate ``q_proj``/``k_proj``/``v_proj``; ``q``/``k`` are before the rotary embedding.
- CodeGen: one fused ``qkv_proj`` written for 4-way model parallelism (``mp_num = 4``): the output
  is 4 equal blocks, each ``[q | v | k]`` (note the order) holding a quarter of the heads, so
  block ``g`` has heads ``g * n_heads / 4`` onwards of each kind.
"""

from interp.graph.adapters.fused_qkv import FusedQKV
from interp.graph.adapters.layout import Layout, always

_PARALLEL = dict(embed="wte", layers="h", final_norm="ln_f", attn="attn", attn_out_proj="attn.out_proj",
                 mlp_down="mlp.fc_out", parallel_residual=always)

GPTJ = Layout(family="GPT-J", qkv=("attn.q_proj", "attn.k_proj", "attn.v_proj"), **_PARALLEL)
CODEGEN_QKV = FusedQKV(4, ("q", "v", "k"))
CODEGEN = Layout(family="CodeGen", qkv=("attn.qkv_proj",), qkv_fused=CODEGEN_QKV, **_PARALLEL)

LAYOUTS = {"gptj": GPTJ, "codegen": CODEGEN}
