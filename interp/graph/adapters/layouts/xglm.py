"""XGLM and BioGPT (fairseq-style decoders): the MLP's ``fc1``/``fc2`` sit directly on the layer
(``mlp_out`` is ``fc2``'s output, ``mlp_post`` its input), embeddings scaled by ``sqrt(d_model)``
(``scale_embedding``) plus sinusoidal (XGLM) or learned (BioGPT) position embeddings: ``embed`` is
that sum, the stream entering layer 0. BioGPT's head is ``output_projection``."""

from interp.graph.adapters.layout import Layout

_FAIRSEQ = dict(final_norm="layer_norm", attn_out_proj="self_attn.out_proj", mlp="fc2", mlp_down="fc2")

LAYOUTS = {
    "xglm": Layout(family="XGLM", **_FAIRSEQ),
    "biogpt": Layout(family="BioGPT", unembed="output_projection", **_FAIRSEQ),
}
