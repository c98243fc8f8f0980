"""OPT (Meta): learned position embeddings, the MLP's ``fc1``/``fc2`` directly on the layer.

- ``embed`` is the stream entering layer 0: token embeddings (through ``project_in`` where the
  model has one) plus the learned position embeddings.
- The MLP runs on ``[batch * pos, d]`` rows (``flat_mlp``): ``mlp_post`` (``fc2``'s input) and
  ``mlp_out`` (``fc2``'s output, what is added) are shaped back to ``[batch, pos, ...]``.
- Only pre-norm OPT is described (``do_layer_norm_before=True``: every released size but 350m).
  OPT-350m normalises *after* each residual addition (so ``resid_pre + attn_out`` is not the
  stream the MLP reads) and projects the final state to ``word_embed_proj_dim`` before the head:
  it wraps with module-path sites only, and the warning says why.
"""

from typing import Any

from interp.graph.adapters.layout import Layout


def _unsupported(config: Any) -> str | None:
    if not getattr(config, "do_layer_norm_before", True):
        return ("do_layer_norm_before=False: each block normalises after its residual additions, so the stream "
                "is not a sum of the blocks' outputs")
    if getattr(config, "word_embed_proj_dim", config.hidden_size) != config.hidden_size:
        return "the decoder projects its final state to word_embed_proj_dim (project_out) before the head"
    return None


OPT = Layout(
    family="OPT",
    layers="decoder.layers",
    embed="decoder.embed_tokens",
    final_norm="decoder.final_layer_norm",
    attn_out_proj="self_attn.out_proj",
    mlp="fc2",
    mlp_down="fc2",
    flat_mlp=True,
    unsupported=_unsupported,
)

LAYOUTS = {"opt": OPT}
