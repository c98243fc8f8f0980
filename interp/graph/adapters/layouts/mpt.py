"""MPT (MosaicML): ALiBi positions, bias-free LayerNorms, one fused ``Wqkv`` packed ``[q | k | v]``.

The MLP (``ffn``) adds the residual itself, so ``mlp_out`` is ``ffn.down_proj``'s output (what it
adds). ``q``/``k``/``v`` are ``Wqkv``'s output before the optional ``clip_qkv`` clamp.
"""

from interp.graph.adapters.layout import Layout

MPT = Layout(
    family="MPT",
    embed="wte",
    layers="blocks",
    final_norm="norm_f",
    attn="attn",
    qkv=("attn.Wqkv",),
    qkv_fused="concat",
    attn_out_proj="attn.out_proj",
    mlp="ffn",
    mlp_down="ffn.down_proj",
    mlp_out="ffn.down_proj",
)

LAYOUTS = {"mpt": MPT}
