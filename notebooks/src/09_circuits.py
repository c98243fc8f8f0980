# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 9 · The subject–verb agreement circuit: edge attribution, faithfulness, exact edge patching
#
# Patching (notebook 2) says *where* the number of the subject lives. A circuit says *which connections*
# carry it from the subject to the verb. We:
#
# 1. take minimal pairs from the built-in CausalGym agreement task ("The key near the cabinets" →
#    " is" vs "The keys near the cabinet" → " are");
# 2. score every edge of the model's graph (input, 270 heads and 30 MLPs as upstream nodes; the q, k, v
#    of every head, every MLP and the logits as downstream inputs) with **edge attribution patching**
#    (EAP: gradient × activation difference, one forward and backward);
# 3. keep the top edges as a circuit and measure its **faithfulness**: everything outside it ablated
#    (set to its corrupted value), normalised so that the full model is 1 and the empty circuit 0;
# 4. check the top estimates with **exact edge patching** and draw the circuit.
#
# A few minutes on a laptop CPU (4 pairs).

# %%
import plotly.io as pio

import interp
from interp.circuits import Graph, edge_scores, faithfulness_curve, from_causalgym, patch_edges, top_n
from interp.circuits.circuit import circuit_table
from interp.circuits.tasks import same_length
from interp.viz.circuit import circuit_graph
from interp.viz.circuit import faithfulness_curve as faithfulness_figure

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)

hm = interp.load()
graph = Graph.of(hm)
print(f"{graph.n_upstream} upstream nodes, {graph.n_downstream} downstream inputs, {graph.n_edges:,} edges")

# %% [markdown]
# ## 1 · The pairs
#
# Edge attribution compares the clean and corrupted runs position by position, so both sides of a pair
# must tokenise to the same length; `same_length` keeps those (and warns with a count if it leaves any
# out).

# %%
task = same_length(hm, from_causalgym("builtin:agreement", "agr_sv_num_pp", n=16)).subset(range(4))
list(zip(task.clean, task.target, task.corrupted, task.baseline))

# %% [markdown]
# ## 2 · Edge scores
#
# `score(u → v)` = (u's corrupted output − its clean output) · ∂ logit difference / ∂ (v's input),
# summed over positions and averaged over pairs. A negative score means that switching the edge to the
# corrupted run lowers logit(target) − logit(baseline): the edge carries the subject's number.

# %%
scores = edge_scores(hm, task, method="eap", metric="logit_diff")
table = scores.table().sort_values("rank")
table.head(10)[["edge", "score", "rank"]]

# %% [markdown]
# ## 3 · Faithfulness over circuit size
#
# Each point ablates every edge outside the top-n circuit (pruned to nodes joined to both the input and
# the logits). 1 = the full model's logit difference, 0 = the fully corrupted run's.

# %%
sizes = [round(f * graph.n_edges) for f in (0.002, 0.01, 0.05, 0.2)]
curve = faithfulness_curve(hm, task, scores, sizes=sizes)
print(f"full model {curve.full:.2f}, empty circuit {curve.empty:.2f} (logit difference)")
faithfulness_figure(curve.table()).show()
curve.table()

# %% [markdown]
# ## 4 · Exact edge patching of the top estimates
#
# `patch_edges` patches each edge alone (its upstream node's corrupted output, into that one input only),
# many edges as rows of a batch resumed at the layer the edge enters. Compare the exact effects with EAP's
# first-order estimates: most agree to a few per cent; an edge whose effect is far from linear (such as
# the embedding into the first MLP) is where EAP-IG (`method="eap-ig-inputs"`) earns its extra steps.

# %%
top = [(int(u), int(d)) for u, d in zip(table.up[:8], table.down[:8])]
exact = patch_edges(hm, task, top)
comparison = table.head(8)[["edge", "score"]].assign(exact=exact.effects.numpy())
comparison

# %% [markdown]
# ## 5 · The circuit
#
# The smallest circuit of the curve, drawn with layers top to bottom and edge width = |score|. The
# model has 3 key/value heads shared by 9 query heads: a key or value edge enters its group's node
# (`a{L}.kv{G}`), linked to the group's query heads.

# %%
circuit = top_n(scores, sizes[0])
edges = circuit_table(scores, circuit)
print(f"{len(edges)} edges kept of {sizes[0]} asked")
circuit_graph(edges, title="Agreement circuit (EAP)", group=hm.n_heads // hm.n_kv_heads).show()

# %% [markdown]
# ## The full version
#
# More pairs, EAP-IG (integrated gradients over the inputs, 5 steps) and the whole folder (edge table,
# circuit, faithfulness curve, figures; `docs/formats.md`) from the command line:
#
# ```bash
# interp circuit --suite builtin:agreement --task agr_sv_num_pp --n 64 --method eap-ig-inputs --steps 5 \
#     --out runs/agreement_circuit
# ```
