"""GPT-Neo (EleutherAI): learned position embeddings, GPT-2's residual structure, layers alternating
global and local (windowed) attention.

The attention block ``attn`` wraps the module that holds the projections (``attn.attention``:
``q_proj``/``k_proj``/``v_proj``/``out_proj``); ``embed`` is the stream entering layer 0 (token plus
position embeddings). GPT-Neo does not scale attention scores by ``1/sqrt(d_head)``: ``pattern`` is
the model's own softmax.
"""

from interp.graph.adapters.layout import Layout

GPT_NEO = Layout(
    family="GPT-Neo",
    embed="wte",
    layers="h",
    final_norm="ln_f",
    attn="attn",
    qkv=("attn.attention.q_proj", "attn.attention.k_proj", "attn.attention.v_proj"),
    attn_out_proj="attn.attention.out_proj",
    mlp_down="mlp.c_proj",
)

LAYOUTS = {"gpt_neo": GPT_NEO}
