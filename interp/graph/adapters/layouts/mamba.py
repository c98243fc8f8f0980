"""State-space models (Mamba, Mamba-2, Falcon-Mamba): no attention and no MLP.

Each block is ``resid_post = resid_pre + mixer(norm(resid_pre))``; the mixer's output is the
``mixer_out.L`` site (what the block adds to the residual stream). Sites: ``embed``,
``resid_pre.L``, ``mixer_out.L``, ``resid_post.L``, ``logits``.
"""

from interp.graph.adapters.layout import Dims, Layout


def _dims(config) -> Dims:
    return Dims(config.num_hidden_layers, 0, 0, config.hidden_size, 0)


_WHY = "it is a state-space model: each block mixes tokens with a selective scan, not attention"
_MAMBA = {"embed": "embeddings", "final_norm": "norm_f", "attn": None, "qkv": (), "attn_out_proj": None,
          "mlp": None, "mlp_down": None, "mixer": "mixer", "no_attention": _WHY, "dims": _dims}

LAYOUTS = {
    "mamba": Layout(family="Mamba", **_MAMBA),
    "mamba2": Layout(family="Mamba-2", **_MAMBA),
    "falcon_mamba": Layout(family="Falcon-Mamba", **_MAMBA),
}
