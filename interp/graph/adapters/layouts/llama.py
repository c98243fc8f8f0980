"""The Llama family: ``q_proj``/``k_proj``/``v_proj``/``o_proj``, a gated MLP ending in
``down_proj``, pre-norms only (what the attention and the MLP return is what they add), rotary
embeddings, optional grouped-query attention.

Every family below has exactly these module names and this residual structure. On qwen3 (and
others with per-head q/k norms) ``q``/``k`` are the projections' outputs, before the norm and
before rotary embeddings. Gemma scales the embeddings by ``sqrt(d_model)`` inside the base model:
``embed`` is the scaled stream (it is always what enters layer 0).
"""

from interp.graph.adapters.layout import Layout

LLAMA = Layout(family="Llama")

_SAME_AS_LLAMA = {
    "llama": "Llama", "mistral": "Llama", "qwen2": "Llama", "qwen3": "Llama", "olmo": "Llama",
    "smollm3": "Llama", "ernie4_5": "ERNIE-4.5", "seed_oss": "Seed-OSS", "helium": "Helium",
    "nemotron": "Nemotron", "gemma": "Gemma",
}

LAYOUTS = {model_type: LLAMA if family == "Llama" else Layout(family=family)
           for model_type, family in _SAME_AS_LLAMA.items()}
