# ruff: noqa: B018, E402  (a bare expression ends a cell to display it; imports sit where they are first used)
# %% [markdown]
# # 7 · Bring your own model
#
# `interp.wrap(model, tokenizer)` puts the hook graph over a model you already have:
#
# | you have | sites you get |
# |---|---|
# | a Hugging Face causal LM of a known family (GPT-2, Pythia, Llama, Mistral, Qwen2, …) | `resid_pre.3`, `z.12`, … |
# | any other `torch.nn.Module` | module paths: `"blocks.0:output"`, `"encoder.layer.2:input"` |
# | a TransformerLens `TransformerBridge` | the canonical sites, bound to its HookPoints |
# | an nnsight `TransformersModel` / `LanguageModel` / `NNsight` | the canonical sites of the module it wraps |
#
# Everything else (interventions, sweeps, methods, evaluators) works the same on all of them.
# About 30 seconds on a laptop CPU; nothing is downloaded.

# %%
import copy

import pandas as pd
import plotly.express as px
import plotly.io as pio
import torch
from torch import nn
from transformers import AutoModelForCausalLM, Qwen2Config

import interp
from interp.interventions import Patch

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)

hm = interp.load()  # the native wrap of the embedded SmolLM2-135M-Instruct, our reference below

# %% [markdown]
# ## A Hugging Face model
#
# Any causal LM from `transformers`, loaded with `from_pretrained` or built from a config. The
# family's **adapter**, a small table of module paths, gives it the canonical sites. Here a tiny,
# randomly initialised Qwen2 built from a config:

# %%
config = Qwen2Config(vocab_size=len(hm.tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2)
qwen = interp.wrap(AutoModelForCausalLM.from_config(config), hm.tokenizer, name="tiny random Qwen2")
qwen

# %%
qwen.run("The keys to the cabinet", cache=["z.1", "k.1"])  # k has 2 key/value heads (grouped-query attention)

# %% [markdown]
# ## Any `nn.Module`
#
# A model with no adapter still has sites: every submodule's input and output, named by its path
# (`model.get_submodule(path)`) plus `:input` or `:output`. Here a toy language model:

# %%
class ToyLM(nn.Module):
    """Embedding, two residual MLP blocks, unembedding: [batch, pos] token ids -> [batch, pos, vocab] logits."""

    def __init__(self, vocab: int = 50, d: int = 32, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(d, d), nn.GELU()) for _ in range(layers))
        self.unembed = nn.Linear(d, vocab)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(input_ids)
        for block in self.blocks:
            h = h + block(h)
        return self.unembed(h)


torch.manual_seed(0)
toy = interp.wrap(ToyLM())
toy

# %% [markdown]
# Without a tokenizer, pass token ids; `toy.tokenize(ids)` makes them a `Batch` (ids + attention
# mask), which interventions need to resolve positions.

# %%
batch = toy.tokenize(torch.tensor([[1, 2, 3, 4], [1, 5, 3, 4]]))
out = toy.run(batch, cache=["embed:output", "blocks.0:output", "blocks.1.0:output"])
out

# %%
first, second = toy.tokenize(batch.input_ids[:1]), toy.tokenize(batch.input_ids[1:])
source = toy.run(second, cache=["blocks.0:output"])
patched = toy.run(first, interventions=[Patch("blocks.0:output", source=source.cache, positions=[1])])
changed = (patched.logits - out.logits[:1]).abs().amax(-1)[0]
pd.DataFrame({"position": range(4), "largest logit change": changed.tolist()})

# %% [markdown]
# Position 0 is untouched: a patch cannot change what came before it. (The toy model has no
# attention, so only position 1 itself changes.) Mistyped sites are errors that say what exists:

# %%
for site in ["resid_post.0", "blocks.0.3:output"]:
    try:
        toy.run(batch, cache=[site])
    except interp.InterpError as error:
        print(f"{site!r}: {error}\n")

# %% [markdown]
# ## A TransformerLens model
#
# `bridge_from_hf` builds a TransformerLens 3 `TransformerBridge` over an already-loaded Hugging
# Face model, offline. The bridge **rewrites the model it is built on** (it swaps in its own
# modules), so give it a copy. Wrapped, it has the same site names as the native model; the bridge
# runs its own attention implementation, so values agree up to float rounding.

# %%
from interp.graph.adapters.transformer_lens import bridge_from_hf

bridge = bridge_from_hf(copy.deepcopy(hm.model))
tl = interp.wrap(bridge, tokenizer=hm.tokenizer, name="SmolLM2-135M-Instruct via TransformerBridge")
tl

# %% [markdown]
# ## An nnsight model
#
# An nnsight `TransformersModel` (formerly `LanguageModel`) wraps the very same modules (no copy
# needed), so the wrap is bit for bit the native one, and nnsight's own tracing keeps working next
# to it.

# %%
import nnsight

lm = nnsight.TransformersModel(hm.model, tokenizer=hm.tokenizer)
nn_hm = interp.wrap(lm, name="SmolLM2-135M-Instruct via nnsight")
nn_hm

# %%
with lm.trace("The keys to the cabinet"):
    saved = lm.model.layers[5].output.save()
saved = saved[0] if isinstance(saved, tuple) else saved
torch.equal(saved, hm.run("The keys to the cabinet", cache=["resid_post.5"]).cache["resid_post.5"])

# %% [markdown]
# ## Same experiment, three wraps
#
# The patch of notebook 1 (the subject's residual stream before layer 3, from *keys … cabinet* into
# *key … cabinets*) on each wrap: the same sites, the same intervention, the same answer.

# %%
ARE, IS = (hm.tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in (" are", " is"))
base, source_text = "The key to the cabinets", "The keys to the cabinet"
reference = hm.run(source_text, cache=["z.12"]).cache["z.12"]
reference_logits = hm.run(base).logits
rows = []
for name, model in {"native": hm, "TransformerLens bridge": tl, "nnsight": nn_hm}.items():
    src = model.run(source_text, cache=["resid_pre.3", "z.12"])
    run = model.run(base, interventions=[Patch("resid_pre.3", source=src.cache, positions=[1])])
    log_probs = run.last_logits.log_softmax(-1)[0]
    rows.append({"wrap": name, "patched preference (are − is)": (log_probs[ARE] - log_probs[IS]).item(),
                 "max |Δ z.12| vs native": (src.cache["z.12"] - reference).abs().max().item(),
                 "max |Δ logits| vs native": (model.run(base).logits - reference_logits).abs().max().item()})
table = pd.DataFrame(rows)
table

# %%
px.bar(table, x="wrap", y="patched preference (are − is)",
       title="The same patch on three wraps of the same model").show()

# %% [markdown]
# ## Your own model
#
# - a hub id or a local folder: `interp.load("EleutherAI/pythia-70m")` (from the local Hugging Face
#   cache when offline), or `interp.load("path/to/model.gguf")`;
# - a family with no adapter yet: module-path sites work at once; an adapter is a small table in
#   `interp/graph/adapters/layouts/` (one file per family; how: `interp/graph/adapters/layout.py`),
#   checked when bound and by semantic tests on a tiny random model.
