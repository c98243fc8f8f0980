"""Mixtures of experts: ``mlp_out`` is the sparse block's output (experts, shared experts and
their gates together), ``router.L`` (read-only, ``[batch, pos, n_experts]``) the router's
probabilities over all experts, and there is no ``mlp_post`` on a sparse layer (its experts' weights
are fused tensors, not modules). Dense layers of the same model (qwen2_moe's ``mlp_only_layers``,
deepseek_v3's first ``first_k_dense_replace`` layers) keep ``mlp_post``.

- gpt_oss routes with a softmax over the top-k logits only; ``router`` is the softmax over all.
- deepseek_v3 uses multi-head latent attention: the keys are a shared low-rank latent expanded
  per head plus one rotary part shared by all heads, so there are no per-head ``q``/``k``/``v``
  sites; ``z`` (``[batch, pos, head, v_head_dim]``, the output projection's input) is exact. Its
  router's probabilities are sigmoids, as the model scores experts.
"""

from interp.graph.adapters.layout import Dims, Layout, Router


def _latent_attention_dims(config) -> Dims:
    n_heads = config.num_attention_heads
    return Dims(config.num_hidden_layers, n_heads, n_heads, config.hidden_size, config.v_head_dim)


_GATE = Router("mlp.gate")

LAYOUTS = {
    "mixtral": Layout(family="Mixtral", router=_GATE),
    "qwen2_moe": Layout(family="Qwen2-MoE", router=_GATE),
    "qwen3_moe": Layout(family="Qwen3-MoE", router=_GATE),
    "olmoe": Layout(family="OLMoE", router=_GATE),
    "gpt_oss": Layout(family="gpt-oss", router=Router("mlp.router"), mlp_down=None),
    "deepseek_v3": Layout(family="DeepSeek-V3", qkv=(), router=Router("mlp.gate", probabilities="sigmoid"),
                          dims=_latent_attention_dims),
}
