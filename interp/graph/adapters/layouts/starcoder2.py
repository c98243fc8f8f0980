"""StarCoder2: Llama's attention names, LayerNorm, a plain MLP ``c_fc`` -> ``c_proj``."""

from interp.graph.adapters.layout import Layout

LAYOUTS = {"starcoder2": Layout(family="StarCoder2", mlp_down="mlp.c_proj")}
