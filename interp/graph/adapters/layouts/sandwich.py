"""Sandwich norms: a norm *after* attention and after the MLP, inside the residual branch.

``attn_out``/``mlp_out`` are what is added to the residual stream, i.e. the post-norms' outputs
(not the attention's or the MLP's own output). OLMo-2/3 and EXAONE-4 have no pre-norms; Gemma-2/3
and GLM-4 have both. Gemma-2/3 soft-cap the final logits (``final_logit_softcapping``): ``logits``
is then the model's output, after the cap.
"""

from interp.graph.adapters.layout import Layout

_POST_NORMS = {"attn_out": "post_attention_layernorm", "mlp_out": "post_feedforward_layernorm"}
_SOFTCAP = ("final_logit_softcapping",)

LAYOUTS = {
    "olmo2": Layout(family="OLMo-2", **_POST_NORMS),
    "olmo3": Layout(family="OLMo-3", **_POST_NORMS),
    "exaone4": Layout(family="EXAONE-4", **_POST_NORMS),
    "gemma2": Layout(family="Gemma-2", logit_adjustments=_SOFTCAP, **_POST_NORMS),
    "gemma3_text": Layout(family="Gemma-3", logit_adjustments=_SOFTCAP, **_POST_NORMS),
    "glm4": Layout(family="GLM-4", attn_out="post_self_attn_layernorm", mlp_out="post_mlp_layernorm"),
}
