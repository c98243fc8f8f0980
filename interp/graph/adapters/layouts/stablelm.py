"""StableLM: Llama's module names, LayerNorm, partial rotary, optional per-head q/k LayerNorms, and
parallel attention + MLP blocks when ``use_parallel_residual`` (then no ``resid_mid``)."""

from interp.graph.adapters.layout import Layout

LAYOUTS = {
    "stablelm": Layout(
        family="StableLM",
        parallel_residual=lambda config: bool(getattr(config, "use_parallel_residual", False)),
    ),
}
