# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 1 · Quickstart: load a model, read its sites, patch one position
#
# This notebook takes about a minute on a laptop CPU. It uses the model that ships with `interp`
# (SmolLM2-135M-Instruct, 30 layers), so nothing is downloaded.
#
# You will:
#
# 1. load the model and look at its **sites** (the named places inside it you can read or write);
# 2. run it on a sentence and **cache** a few activations;
# 3. measure the model's **preference** for a verb that agrees with the subject;
# 4. **patch** one token's residual stream from another sentence and watch the preference flip.

# %%
import tempfile

import pandas as pd
import plotly.express as px
import plotly.io as pio

import interp
from interp.interventions import Patch

# Figures: a JSON mimetype for JupyterLab / VS Code, plus an HTML version with plotly.js embedded
# for the classic notebook and HTML exports; neither needs the internet when you view them.
pio.renderers.default = "plotly_mimetype+notebook"

# %% [markdown]
# ## The model and its sites
#
# `interp.load()` returns a `HookedModel`: the PyTorch model plus a graph of named **sites**. A site
# is one tensor that flows through the forward pass, such as the residual stream before layer 3
# (`resid_pre.3`) or the output of each attention head of layer 12 (`z.12`). Site names mean the same
# thing on every architecture (GPT-2, Pythia, Llama, …), so code written against them carries over.

# %%
hm = interp.load()
hm

# %%
hm.sites()[:14]

# %% [markdown]
# Per layer `L` there are `resid_pre.L` → attention (`q`, `k`, `v`, `z`, `head_out`, `pattern`, `attn_out`) →
# `resid_mid.L` → MLP (`mlp_post`, `mlp_out`) → `resid_post.L`. The residual stream adds up:
# `resid_mid = resid_pre + attn_out` and `resid_post = resid_mid + mlp_out`. Any module path is a
# site too (`"model.layers.3.mlp:output"`), for models that have no adapter.

# %%
pd.Series([name.split(".")[0] for name in hm.sites()]).value_counts().rename("sites of this kind").to_frame()

# %% [markdown]
# ## Run and cache
#
# `hm.run` takes text (or token ids) and returns the logits and the activations you asked for.
# Only the listed sites are kept. Shapes: residual sites are `batch × position × d_model`; per-head
# sites are `batch × position × head × d_head`.

# %%
out = hm.run(["The keys to the cabinet", "The key to the cabinets"], cache=["resid_post.10", "z.12"])
out

# %%
out.cache["z.12"].shape, out.last_logits.shape  # last_logits: the logits at each sentence's last real token

# %% [markdown]
# ## The model's preference
#
# Subject–verb agreement: after *"The key to the cabinets"* the next word should be *is*, not *are*:
# the verb agrees with the head noun *key*, not with the nearer *cabinets*. We measure the
# preference as the log-probability difference
#
# $$\text{preference} = \log p(\text{" are"}) - \log p(\text{" is"})$$
#
# at the last token: positive means the model prefers *are*, negative *is*.

# %%
ARE, IS = hm.to_single_token(" are"), hm.to_single_token(" is")  # an error names the pieces if not one token


def preference(last_logits):
    """log p(' are') − log p(' is'), one value per example."""
    log_probs = last_logits.log_softmax(-1)
    return log_probs[:, ARE] - log_probs[:, IS]


base, source = "The key to the cabinets", "The keys to the cabinet"
clean = hm.run([base, source])
pd.DataFrame({"sentence": [base, source], "preference (are − is)": preference(clean.last_logits).tolist()})

# %% [markdown]
# The model prefers *is* after the singular subject and *are* after the plural one. Where does it
# keep the number of the subject? Let us look at the tokens first: **positions** count tokens.

# %%
tokens = hm.to_str_tokens(hm.tokenize([base, source]))  # as hm.run tokenises them; padding shows as '<pad>'
pd.DataFrame({"base": tokens[0], "source": tokens[1]}).rename_axis("position")

# %% [markdown]
# ## Patch one position
#
# **Activation patching**: run the *source* sentence, take the residual stream at the subject
# token (position 1, *keys*) before layer 3, and write it into the run of the *base* sentence at
# its own position 1 (*key*). Everything else in the base run is computed as usual. If the patched
# vector carries the subject's number, the preference should flip from *is* to *are*.
#
# `Patch` is an intervention: a small object with a site, positions and a source. It shows its
# configuration as a table.

# %%
source_run = hm.run(source, cache=["resid_pre.3"])
patch = Patch("resid_pre.3", source=source_run.cache, positions=[1])
patch

# %%
patched = hm.run(base, interventions=[patch])
values = {"base (clean)": preference(clean.last_logits)[0].item(),
          "base, subject patched from source": preference(patched.last_logits)[0].item(),
          "source (clean)": preference(clean.last_logits)[1].item()}
fig = px.bar(x=list(values), y=list(values.values()), labels={"x": "", "y": "log p(are) − log p(is)"},
             title="Patching the subject token flips the verb the model prefers")
fig.show()

# %% [markdown]
# The patched run prefers *are*: the vector at the subject token before layer 3 carries the number
# that the verb agrees with. Patching the last token instead (position 4, *cabinets* → *cabinet*)
# removes the plural attractor and pushes the base further toward *is*.

# %%
rows = []
for position in (1, 4):
    run = hm.run(base, interventions=[Patch("resid_pre.3", source=source_run.cache, positions=[position])])
    rows.append({"patched position": position, "token": tokens[0][position],
                 "preference": preference(run.last_logits)[0].item()})
pd.DataFrame(rows)

# %% [markdown]
# ## Interventions are data
#
# An intervention saves as JSON plus safetensors and loads back without unpickling, so an
# experiment can be shared as files. Several interventions compose in one forward pass.

# %%
folder = patch.save(tempfile.mkdtemp())
sorted(p.name for p in folder.iterdir())

# %% [markdown]
# ## Next
#
# - [02 · patching sweep](02_patching_sweep.ipynb): every layer × position at once, and per-head patching.
# - [03 · DAS and friends](03_das_and_friends.ipynb): find the *direction* that carries the number.
# - The README lists every site and intervention.
