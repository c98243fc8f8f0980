# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 3 · DAS and friends: which *direction* carries grammatical number?
#
# Patching a whole residual vector (notebooks 1–2) tells you *where* information is. Here we ask
# for a single **direction** `a` in the residual stream such that swapping only the component
# along `a` does the job:
#
# $$h_\text{base} \leftarrow h_\text{base} + a\,(a^\top h_\text{source} - a^\top h_\text{base})$$
#
# We follow the CausalGym protocol (Arora et al., 2024) on a built-in task and compare ways of
# finding `a`:
#
# | method | how it finds the direction |
# |---|---|
# | `das` | distributed alignment search: *trains* a rotation so that the interchange produces the source's label |
# | `probe` | logistic-regression probe separating the two types (singular / plural) |
# | `mean` | difference of the two types' mean activations |
# | `pca` | first principal component of the activations |
# | `random` | a random unit vector (the floor) |
# | `vanilla` | no direction: patch the whole vector (the ceiling) |
#
# This small version (2 layers, 32 training and 20 test pairs, 24 DAS steps) takes a bit over a
# minute on a laptop CPU; the full protocol is at the end.

# %%
import plotly.io as pio

import interp
from interp.eval import causal_efficacy
from interp.interventions import Subspace
from interp.suites.causalgym import load_templates
from interp.viz import layer_position_heatmap, method_summary

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)

hm = interp.load()

# %% [markdown]
# ## The task: minimal pairs from templates
#
# `builtin:agreement` holds subject–verb agreement tasks written in the CausalGym template format.
# In `agr_sv_num_pp` the subject is followed by a prepositional phrase; a **pair** is a *base* and a
# *source* sentence that differ only in the subject's number, each with the verb it should take.

# %%
TASK = "agr_sv_num_pp"
splits = load_templates("builtin:agreement", tasks=[TASK], sizes=(32, 0, 20), seed=0)[TASK]
splits.to_frame().head(6)

# %% [markdown]
# Sentences are cut into **spans** (one per template variable: *The* · *subject* · *prep* · *the* ·
# *object*); an intervention at span *k* reads the source at the last token of its span *k* and
# writes the base at the last token of *its* span *k*, so pairs whose words tokenise to different
# lengths stay aligned. The metrics (per test pair, at the last prompt token):
#
# - **log odds-ratio**: how far the intervention moves the model from the base label toward the
#   source label, in nats: [log p(y_b) − log p(y_s)] + [log p*(y_s) − log p*(y_b)]; 0 = no effect.
# - **IIA** (interchange-intervention accuracy): share of pairs where the intervened model prefers
#   the source label.
# - **selectivity**: score on the task − score on a **control** task that relabels singular/plural
#   with two arbitrary words (*dog* / *give*). A method that can also teach the model arbitrary
#   labels is expressive, not faithful; a faithful direction has high selectivity.
#
# ## Run the protocol
#
# One call runs every method × layer × span, on the task and its control. The progress bar counts
# units (task × layer × method × task/control).

# %%
result = causal_efficacy(hm, {TASK: splits}, methods=["das", "probe", "mean", "pca", "random", "vanilla"],
                         layers=[6, 14], das_steps=24, das_lr=2e-2, n_boot=200, progress=True,
                         suite_name="builtin:agreement")
result

# %% [markdown]
# The table is the published aggregation: mean over test pairs → max over spans → mean over layers
# (→ mean over tasks), with 95 % bootstrap intervals. `result.results` is the tidy per-unit table
# behind it (one row per task × layer × span × method × metric).

# %%
result.results.head()

# %%
method_summary(result.summary, "odds_ratio", title="Log odds-ratio per method (95 % CI)").show()
method_summary(result.summary, "selectivity", title="Selectivity: task − control").show()

# %% [markdown]
# What to look for: `random` and `pca` are near 0 (the direction of most variance is not number);
# `vanilla`, the whole-vector patch, is the ceiling on the task **and** moves the control a lot.
# `das`, `probe` and `mean` get close to the ceiling with one dimension; compare their selectivity.
# With this little training DAS is not yet at its best; more steps and data change the ranking
# (see the full version below).
#
# ## Where: layers × spans
#
# The heat-map shows the log odds-ratio per layer and span for one method. The subject span
# (span 1) carries the number at these layers; the other spans carry little yet.

# %%
layer_position_heatmap(result.results, "das", TASK).show()

# %%
result.table("odds_ratio").round(2)

# %% [markdown]
# ## Reuse a direction as an intervention
#
# Every direction comes back as a `Subspace` intervention (one per span), ready to apply to any
# sentence. Here: the DAS direction of layer 14 at the subject span, on a pair of our own.

# %%
subspace = result.subspaces(TASK, "das", 14)[0]  # spans are [1, 2, 3, 4]: index 0 is the subject span
subspace

# %%
def token_id(text: str) -> int:
    return hm.tokenizer(text, add_special_tokens=False)["input_ids"][0]


IS, ARE = token_id(" is"), token_id(" are")
base, source = "The doctor near the cars", "The doctors near the cars"
swap = Subspace(subspace.site, subspace.basis, source=source, positions=[1])  # the subject token, both sides
runs = {"base": hm.run(base), "base, number direction from source": hm.run(base, interventions=[swap]),
        "source": hm.run(source)}
{name: round((run.last_logits.log_softmax(-1)[0, ARE] - run.last_logits.log_softmax(-1)[0, IS]).item(), 2)
 for name, run in runs.items()}  # log p(are) − log p(is)

# %% [markdown]
# One dimension out of 576 is enough to make the model treat *doctor* as plural.
#
# ## The full version
#
# The published protocol uses 400 training / 100 test pairs per task, 100 DAS steps, every second
# layer and all 25 built-in tasks — hours on a CPU, minutes on a GPU:
#
# ```python
# result = causal_efficacy(hm, "builtin:agreement", layers="0:30:2", out="out/agreement", progress=True)
# ```
#
# or from a shell: `interp causalgym --suite builtin:agreement --layers 0:30:2 --out out/agreement`.
# With `out=` every finished unit is written at once and a rerun resumes where it stopped.
