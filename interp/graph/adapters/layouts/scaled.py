"""Families whose head or residual branches carry multipliers, inside the sites' meaning.

- Cohere: attention and MLP in parallel on one pre-norm; the head multiplies by ``logit_scale``.
- Granite (and its mixture of experts): each branch is scaled by ``residual_multiplier`` before it
  is added (``attn_out``/``mlp_out`` include it), the embeddings by ``embedding_multiplier`` (inside
  ``embed``), and the head divides by ``logits_scaling``.
"""

from interp.graph.adapters.layout import Layout, Router, always

LAYOUTS = {
    "cohere": Layout(family="Cohere", parallel_residual=always, logit_adjustments=("logit_scale",)),
    "granite": Layout(family="Granite", residual_multiplier="residual_multiplier",
                      logit_adjustments=("logits_scaling",)),
    "granitemoe": Layout(family="Granite-MoE", mlp="block_sparse_moe", mlp_down=None,
                         router=Router("block_sparse_moe.router"), residual_multiplier="residual_multiplier",
                         logit_adjustments=("logits_scaling",)),
}
