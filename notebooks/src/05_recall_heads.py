# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 5 · In-context or memorised? Head attribution and head scaling
#
# Tell a model something false in context, then ask:
#
# ```
# The capital of France is Paris.
# The capital of Japan is Tokyo.
# The capital of Germany is Quito.      <- a counterfactual, in context
# The capital of Germany is             <- " Berlin" (memorised) or " Quito" (in context)?
# ```
#
# Which attention heads push toward the memorised answer, and what happens when we turn them down
# or up? This follows Yu, Merullo & Pavlick (2023), *Characterizing mechanisms for factual recall
# in language models*, on the built-in `capitals` suite:
#
# 1. keep the facts the model knows without the counterfactual;
# 2. **direct logit attribution** on half of them: how much each head's output, read through the
#    unembedding, adds to logit(memorised) − logit(in-context);
# 3. **head scaling** on the other half: multiply the chosen heads' outputs by a factor while the
#    model generates, and count in-context / memorised / other answers.
#
# About a minute on a laptop CPU (48 facts, 4 generated tokens).

# %%
import pandas as pd
import plotly.io as pio
from tqdm.auto import tqdm

import interp
from interp.eval.recall import known_facts, recall_attribution, recall_scaling
from interp.interventions import ScaleHeads
from interp.suites import recall as recall_suites
from interp.viz.heads import component_bars, head_grid, scaling_curves

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)

hm = interp.load()
suite = recall_suites.load("builtin:capitals")
items = suite.items(hm.tokenizer)  # one per fact; each counterfactual differs in its first token
print(items[0].prompt)

# %% [markdown]
# ## 1 · Which facts does the model know?
#
# `known_facts` generates an answer to the *plain* prompt (no counterfactual) and keeps the facts
# whose capital it names. A head cannot be said to recall what the model does not know.

# %%
known, table = known_facts(hm, suite, items, max_new_tokens=4)
print(f"the model knows {len(known)} of {len(items)} capitals")
table.head(8)

# %%
train, held_out = recall_suites.split(known[:48], seed=0)  # choose heads on one half, test them on the other
len(train), len(held_out)

# %% [markdown]
# ## 2 · Direct logit attribution
#
# The final residual stream is a sum of pieces: the embedding, every head's output (its `z`
# through its slice of the attention output projection), every MLP's output, and biases. With the
# final norm's scale frozen at its actual value, the logit difference splits exactly into one
# contribution per piece. **Positive** heads push toward the memorised capital ("memory heads"),
# **negative** ones toward the in-context one.

# %%
attribution = recall_attribution(hm, train)
print(f"largest |sum of contributions − actual logit difference|: {attribution.residual_error():.1e}")
head_grid(attribution).show()

# %%
component_bars(attribution.table(), title="Contribution per component (heads summed per layer)").show()

# %%
ranked = attribution.heads().sort_values("value")
pd.concat([ranked.tail(3).iloc[::-1].assign(pushes="memorised"), ranked.head(2).assign(pushes="in-context")])

# %% [markdown]
# ## 3 · Head scaling
#
# `recall_scaling` multiplies a head's output by a factor at every position of the prompt and of
# the generated tokens (for SmolLM2's grouped-query attention this is that head's own share of the
# value vectors), generates greedily and scores each answer. Factor 1 is the unchanged model, 0
# switches the head off, −1 reverses it. We scale the two strongest memory heads and the strongest
# in-context head, one at a time, on the **held-out** facts.

# %%
heads = attribution.top(2, "positive") + attribution.top(1, "negative")
runs = [recall_scaling(hm, suite, held_out, heads=[head], factors=[-1.0, 0.0, 1.0, 2.0], max_new_tokens=4)
        for head in tqdm(heads, desc="heads")]
summary = pd.concat([run.summary for run in runs], ignore_index=True)
scaling_curves(summary).show()

# %%
summary.pivot_table(index=["heads", "factor"], columns="metric", values="value").round(2)

# %% [markdown]
# How to read it: without intervention the model mostly gives the memorised capital. Switching off
# or reversing the top memory head makes it *stop* naming the memorised capital — but it does not
# start copying the in-context one: the answers become "other". Recall and copying are separate
# mechanisms here; turning down memory does not turn up the context.
#
# ## The same with primitives
#
# `recall_scaling` is a loop over `ScaleHeads` and `hm.generate`. On one prompt:

# %%
layer, head = heads[0]
item = held_out[0]
rows = []
for factor in (1.0, 0.0, -1.0):
    scale = ScaleHeads(f"z.{layer}", {head: factor})
    generation = hm.generate(item.prompt, interventions=[scale], max_new_tokens=4, where="all")
    answer = generation.texts[0]
    rows.append({"intervention": repr(scale), "continuation": answer, "scored as": suite.score(answer, item)})
pd.DataFrame(rows)

# %% [markdown]
# ## The full version
#
# `interp.eval.recall(hm, heads="top:3", factors=[-2, -1.5, -1, 0, 1, 2])` runs all three steps on
# every known fact (and also scales the chosen heads together); from a shell:
# `interp recall --out out/recall`, which writes `results.csv`, `summary.csv`, `attribution.csv`,
# `known.csv`, `meta.json` and the figures.
