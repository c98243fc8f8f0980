# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 8 · Sparse autoencoders: train one, splice it in, read and steer its features
#
# A **sparse autoencoder** (SAE) rewrites a site's activation `x` (here the residual stream after
# layer 6) as a sparse sum of learned directions: `x ≈ f(x) @ W_dec + b_dec`, with only a few of the
# thousands of features `f(x)` active per token. Each feature tends to mean one thing, and its decoder
# row is a direction we can read and write. This notebook walks the whole path on the embedded model
# in a few minutes:
#
# 1. collect activations at one site from the offline default corpus;
# 2. train a small TopK SAE;
# 3. evaluate it (FVU, L0, the language-model loss with the SAE spliced in);
# 4. splice it in **with its error term** (the logits do not change) and cache its features;
# 5. look at a feature dashboard, and steer generation along a feature.
#
# The sizes are small (about 20k tokens, 200 steps) so it runs in minutes on a laptop CPU; the last
# section says how to train a real one.

# %%
import plotly.io as pio
import torch

import interp
from interp.sae import Splice, feature_steer
from interp.sae.activations import collect
from interp.sae.corpus import token_blocks
from interp.sae.evaluate import evaluate
from interp.sae.features import direction_logits
from interp.sae.train import train_saes
from interp.sae.train_config import SAESpec, TrainConfig
from interp.viz.sae_features import feature_dashboard
from interp.viz.sae_plots import training_curves

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)
torch.manual_seed(0)

hm = interp.load()
SITE = "resid_post.6"

# %% [markdown]
# ## 1 · Activations
#
# `collect` tokenises a corpus into blocks of 128 tokens, runs the model with the site cached and
# stops the forward right after it (layers 7-29 never run), and keeps one `[tokens, d_model]` tensor per
# site, shuffled. With no corpus it reads the **installed docs**: docstrings of Python's standard
# library, then the READMEs and documentation files of the installed packages: real English that needs
# no download (about 1.16 M tokens of SmolLM2's tokenizer). The first token of each block, an attention
# sink with a huge norm, is left out.

# %%
store = collect(hm, [SITE], tokens=20_000, context=128, batch_size=16)
train, test = store.split(2_000)
store[SITE].shape, train.n_tokens, test.n_tokens

# %% [markdown]
# ## 2 · Training
#
# `train_saes` trains one SAE per `SAESpec` in one pass over the store (several sites, or several
# sizes, share each batch). A TopK SAE keeps the `k` largest features of each token, so its L0 is `k`
# by construction; decoder rows stay unit norm, the learning rate warms up, and features that stop firing
# get an auxiliary loss that brings them back. With `out=FOLDER` it checkpoints and a rerun resumes.

# %%
spec = SAESpec(SITE, d_sae=1152, kind="topk", k=32, lr=1e-3)
config = TrainConfig(steps=200, batch_size=512, lr_warmup_steps=10, sparsity_warmup_steps=1, dead_steps=50,
                     log_every=10)
trained = train_saes(train, [spec], config, model=hm.name)
sae = trained.saes[0]
sae

# %%
training_curves(trained.history, names={0: SITE}).show()

# %% [markdown]
# ## 3 · Evaluation
#
# - **FVU** (fraction of variance unexplained) on the held-out tokens: 0 is perfect reconstruction;
# - **L0**: features active per token; **dead**: features that never fire on these tokens;
# - **loss recovered**: next-token loss with the site *replaced* by the SAE's reconstruction (no error
#   term), between the clean model (1) and the site zero-ablated (0).
#
# The loss is measured on corpus text after the tokens the SAE was trained on.

# %%
unseen = token_blocks(None, hm.tokenizer, context=64, max_tokens=64 * 400)[-48:]   # [48, 64] after the training text
evaluate([sae], test, hm=hm, blocks=unseen[:8]).round(3)

# %% [markdown]
# ## 4 · Splicing with the error term, features as a cached site
#
# `Splice(sae)` replaces the site by `reconstruction + (x − reconstruction)`, written as
# `x + (f' − f) @ W_dec`: until a feature is edited, the model computes exactly what it computed
# before. Its features are a site of the run, `"sae:resid_post.6"` (`[batch, pos, d_sae]`), cached like
# any other; `ablate=`, `set_to=` and `source=`/`patch=` edit them at chosen positions, and a splice
# composes with every other intervention in the same forward.

# %%
prompt = "The keys to the cabinet"
clean = hm.run(prompt)
out = hm.run(prompt, interventions=[Splice(sae)], cache=[f"sae:{SITE}"])
torch.equal(out.logits, clean.logits)

# %%
features = out.cache[f"sae:{SITE}"][0, -1]                       # [d_sae] at the last token
top = features.topk(5)
list(zip(top.indices.tolist(), top.values.round(decimals=2).tolist()))

# %%
ablated = hm.run(prompt, interventions=[Splice(sae, ablate=top.indices.tolist(), positions="last")])
(ablated.last_logits - clean.last_logits).abs().max()            # ablating features does change the output

# %% [markdown]
# ## 5 · Looking at features, and steering with one
#
# `feature_dashboard` shows, for each feature, the contexts where it fires most (tokens shaded by its
# activation) and the tokens its decoder row promotes and suppresses through the final norm and the
# unembedding. It displays inline here and `board.write("features.html")` saves one offline page.

# %%
texts = hm.tokenizer.batch_decode(unseen[8:].tolist())
board = feature_dashboard(hm, sae, texts, n_features=4, k=3)
board

# %% [markdown]
# Steering adds a feature's decoder row during generation (`feature_steer` is a plain `Steer` along
# `W_dec[f]`, so it composes with everything else). Here we push the first dashboard feature hard and
# check that its promoted tokens become more likely after the prompt.

# %%
feature = board.cards[0].feature
alpha = 4 * board.cards[0].max_activation
ids = direction_logits(hm, sae.W_dec[feature].detach()).topk(5).indices     # the tokens it promotes most
steered = hm.run(prompt, interventions=[feature_steer(sae, feature, alpha=alpha)])
before, after = clean.last_logits.softmax(-1)[0, ids].sum(), steered.last_logits.softmax(-1)[0, ids].sum()
hm.tokenizer.batch_decode(ids[:, None]), float(before), float(after)   # their probability, unsteered vs steered

# %%
generated = hm.generate([prompt], interventions=[feature_steer(sae, feature, alpha=alpha)], max_new_tokens=12,
                        where="all")
plain = hm.generate([prompt], max_new_tokens=12)
{"unsteered": plain.texts[0], f"feature {feature} x {alpha:.1f}": generated.texts[0]}

# %% [markdown]
# ## The full version
#
# From a shell, each step writes a folder (`results.csv`, `summary.csv`, `meta.json`, `figures/`, the
# SAEs; rerun to resume): `interp sae train --out runs/sae` (add `--saelens` for SAELens's format),
# `interp sae eval --sae runs/sae --out runs/sae-eval`, `interp sae features --sae runs/sae --out
# runs/features`, and `interp sae groups --out runs/groups` for layer groups (one SAE for several
# adjacent layers). A real SAE wants millions of tokens: `--tokens 1000000 --steps 5000`. To ask
# whether an SAE feature controls a behaviour as well as DAS, save the SAE (`sae.save("runs/sae6")`)
# and add the `sae` method to CausalGym: `interp causalgym --methods das,probe,sae --sae runs/sae6
# --layers 6 --out runs/cg`, which picks, on the training pairs, the feature that best separates the
# two types and uses its decoder row as the direction.
