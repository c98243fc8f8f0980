# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 2 · Activation patching sweep: layers × positions, then heads
#
# Notebook 1 patched one site at one position. Here we patch **every** layer × position of the
# residual stream and draw a heat-map of where the subject's number lives; then we look at the
# attention and MLP outputs, and at **single heads**. About a minute on a laptop CPU.
#
# `patch_sweep` runs such a grid without one forward per patch: the base and source runs happen
# once, the patches are stacked along the batch dimension, and each forward starts from the
# cached residual stream at the lowest layer it patches (earlier layers are never recomputed).

# %%
import pandas as pd
import plotly.express as px
import plotly.io as pio
import torch

import interp
from interp.interventions import Patch, attribution_patch, patch_sweep, spearman

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)

hm = interp.load()

# %% [markdown]
# The minimal pair and the metric, as in notebook 1: the **preference** is
# log p(" are") − log p(" is") at the last token. The *base* sentence has a singular subject
# (preference < 0), the *source* a plural one (preference > 0).

# %%
def token_id(text: str) -> int:
    return hm.tokenizer(text, add_special_tokens=False)["input_ids"][0]


ARE, IS = token_id(" are"), token_id(" is")


def preference(last_logits: torch.Tensor) -> torch.Tensor:
    """log p(' are') − log p(' is') for each row of ``[rows, vocab]`` logits."""
    log_probs = last_logits.log_softmax(-1)
    return log_probs[..., ARE] - log_probs[..., IS]


base, source = ["The key to the cabinets"], ["The keys to the cabinet"]
tokens = [hm.tokenizer.decode(t) for t in hm.tokenize(base).input_ids[0]]
clean = preference(hm.run(base + source).last_logits)
clean_base, clean_source = clean.tolist()
print(f"base {clean_base:+.2f}, source {clean_source:+.2f}; tokens {tokens}")

# %% [markdown]
# ## The residual stream, layer by layer and token by token
#
# Each cell of the heat-map is one patched run: `resid_pre.L` at one position copied from the
# source run into the base run. We show the **normalised effect**
#
# $$\frac{\text{patched} - \text{base}}{\text{source} - \text{base}}$$
#
# so 0 means "no change" and 1 means "the base now behaves like the source". Every second layer
# keeps this quick; `layers=None` sweeps all 30. A sweep's `.values` are effects,
# `metric(patched) − metric(clean)` (what `attribution_patch` estimates below); `.patched` holds the
# metric of each patched run itself and `.clean` the unpatched one.

# %%
def normalised(values: torch.Tensor) -> torch.Tensor:
    return (values - clean_base) / (clean_source - clean_base)


resid = patch_sweep(hm, base, source, kind="resid_pre", layers=range(0, hm.n_layers, 2), metric=preference)
fig = px.imshow(normalised(resid.patched[..., 0]), x=[f"{p}: {t}" for p, t in enumerate(tokens)], y=resid.layers,
                labels={"x": "position", "y": "layer (resid_pre)", "color": "normalised effect"},
                color_continuous_scale="RdBu_r", color_continuous_midpoint=0, aspect="auto",
                title="Patching the residual stream from 'keys … cabinet' into 'key … cabinets'")
fig.update_yaxes(autorange=True)  # layer 0 at the bottom
fig.show()

# %% [markdown]
# Read it like this: in the early and middle layers the number sits at the **subject** token
# (position 1): patching it there flips the verb. Near the top it has moved to the **last**
# token, where the next word is predicted. Position 4 (*cabinets*) goes negative: the source's
# singular *cabinet* removes the plural attractor, so the base prefers *is* even more. Positions
# the pair shares (*The*, *to*, *the*) carry nothing until the information flows into them.
#
# ## Which components move it? Attention vs MLP outputs at the last token
#
# `attn_out.L` and `mlp_out.L` are what layer `L`'s attention and MLP add to the residual stream.
# Patching them at the last position only (`positions=[-1]`) is cheap: one token per forward.

# %%
rows = []
for kind in ("attn_out", "mlp_out"):
    sweep = patch_sweep(hm, base, source, kind=kind, positions=[-1], metric=preference)
    rows += [{"component": kind, "layer": layer, "normalised effect": float(normalised(v))}
             for layer, v in zip(sweep.layers, sweep.patched[:, 0, 0])]
components = pd.DataFrame(rows)
px.line(components, x="layer", y="normalised effect", color="component", markers=True,
        title="Patching one component's output at the last token").show()

# %% [markdown]
# Only a few components near the top matter at the last token: the attention outputs of layers 26
# and 27 and the MLP of layer 25 each recover about half of the flip on their own. Attention is made
# of heads, so which heads?
#
# ## Per-head patching
#
# `z.L` is the per-head attention output (`batch × position × head × d_head`), the input of the
# output projection. `per_head=True` patches each head alone (as `Patch("z.L", heads=[h])` does),
# all of them stacked in the same batched forwards.

# %%
heads = patch_sweep(hm, base, source, kind="z", per_head=True, positions=[-1], metric=preference)
head_effect = normalised(heads.patched[:, 0, :, 0])  # [layer, head]
fig = px.imshow(head_effect, labels={"x": "head", "y": "layer", "color": "normalised effect"},
                color_continuous_scale="RdBu_r", color_continuous_midpoint=0, aspect="auto",
                title="Patching one head's output (z) at the last token")
fig.update_yaxes(autorange=True)
fig.show()

# %%
top = heads.table().assign(normalised=lambda t: normalised(torch.tensor(t.patched.values)).numpy())
top = top.reindex(top.effect.abs().sort_values(ascending=False).index).head(5)
top[["site", "head", "patched", "effect", "normalised"]].rename(columns={"patched": "preference"})

# %% [markdown]
# Two heads stand out. Interventions compose in one forward pass, so patching both together is one
# run: each `Patch` names its site, heads and positions.

# %%
source_run = hm.run(source, cache=[f"z.{layer}" for layer in range(hm.n_layers)])
best = top.head(2)
both = [Patch(site, source=source_run.cache, heads=[int(head)], positions=[-1])
        for site, head in zip(best.site, best["head"])]
patched = preference(hm.run(base, interventions=both).last_logits)[0].item()
pd.DataFrame({"run": ["base", f"base with {' and '.join(f'{s} head {h}' for s, h in zip(best.site, best['head']))}",
                      "source"],
              "preference": [clean_base, patched, clean_source]})

# %% [markdown]
# ## Attribution patching: the first-order estimate
#
# For large sweeps (many prompts, every head at every position) an exact patch per cell is still
# a lot of compute. `attribution_patch` estimates all of them from **one** forward and one backward
# pass: effect ≈ (h_source − h_base) · ∂metric/∂h_base. It ranks the heads almost like the exact
# sweep; use it to choose what to verify exactly.

# %%
estimate = attribution_patch(hm, base, source, kind="z", per_head=True, positions=[-1], metric=preference)
exact_change = heads.values.flatten()  # both sweeps' values are effects: metric(patched) - metric(clean)
compare = pd.DataFrame({"exact": exact_change.numpy(), "estimate": estimate.values.flatten().numpy(),
                        "site": heads.table().site + " head " + heads.table()["head"].astype(str)})
print(f"Spearman rank correlation: {spearman(estimate.values.flatten(), exact_change):.3f}")
px.scatter(compare, x="estimate", y="exact", hover_name="site",
           title="Attribution estimate vs exact patch, every head at the last token").show()

# %% [markdown]
# ## The full version
#
# Sweep every layer (`layers=None`), every position and several minimal pairs at once (lists of
# base and source sentences; positions count each example's own tokens), e.g.
# `patch_sweep(hm, bases, sources, kind="z", per_head=True, metric=preference)`; `.table()` gives a
# tidy pandas table for plotting or saving.
