# ruff: noqa: B018  (a bare expression at the end of a cell is how a notebook displays it)
# %% [markdown]
# # 4 · SyntaxGym: does the model find ungrammatical words surprising?
#
# A SyntaxGym **test suite** compares the **surprisal** (−log₂ p, in bits) that a model assigns
# to the regions of sentences in different **conditions**. For agreement: *"The banker by the
# neighbors **needs**"* (match) vs *"… **need**"* (mismatch); a model that knows agreement finds
# the mismatching verb more surprising. A suite states this as **predictions**, formulas such as
# `(4;%mismatch_sing%) > (4;%match_sing%)`: region 4 (the verb) in condition `mismatch_sing`
# has higher surprisal than in `match_sing`. An item passes when all predictions hold for it.
#
# This notebook scores three of the eight built-in suites, then a suite you write yourself
# (about 30 seconds on a laptop CPU).

# %%
import json
import tempfile
from pathlib import Path

import pandas as pd
import plotly.express as px
import plotly.io as pio
from tqdm.auto import tqdm

import interp
from interp.eval import SyntaxGymResult, syntaxgym
from interp.suites import builtin_names
from interp.suites import syntaxgym as suites
from interp.viz import syntaxgym_accuracy

pio.renderers.default = "plotly_mimetype+notebook"  # offline-capable figures (see notebook 1)

hm = interp.load()
builtin_names("syntaxgym")

# %% [markdown]
# ## Score built-in suites
#
# `syntaxgym(hm, suite)` takes a suite file, a folder, `builtin:NAME` or a list of them. We score
# three suites one by one (to show progress) and put the tables together.

# %%
names = ["number_pp", "number_src", "npi_ever"]
parts = [syntaxgym(hm, f"builtin:{name}") for name in tqdm(names, desc="suites")]
result = SyntaxGymResult(*(pd.concat([getattr(p, t) for p in parts], ignore_index=True)
                           for t in ("regions", "predictions", "summary")))
result

# %% [markdown]
# `accuracy` is the share of the 40 items for which the prediction holds (`all`: every prediction
# of the suite). Chance is 50 % for one prediction, less for several together.

# %%
syntaxgym_accuracy(result.summary).show()

# %% [markdown]
# ## Look inside: region surprisals
#
# `result.regions` has one row per item × condition × region, with the region's tokens and its
# surprisal (the sum over its tokens, as the suite's `metric` says).

# %%
result.regions.query("suite == 'number_pp' and item == 1")[["condition", "region", "content", "tokens", "value"]]

# %%
verbs = result.regions.query("suite == 'number_pp' and region == 'verb'")
px.box(verbs, x="condition", y="value", points="all", hover_data=["content"],
       labels={"value": "surprisal of the verb (bits)"},
       title="number_pp: the verb is more surprising when it does not agree").show()

# %% [markdown]
# ## A suite of your own
#
# A suite is a JSON file in the SyntaxGym format (see `docs/formats.md`): region names, predictions and
# items, each item with the same conditions. Regions are joined with single spaces; an empty region
# adds nothing. Here: does the model expect a plural verb after a coordinated subject?

# %%
def item(number, noun_a, noun_b, verb_sg, verb_pl):
    conditions = {
        "coord_plural": [f"The {noun_a} and the {noun_b}", verb_pl],
        "coord_sing": [f"The {noun_a} and the {noun_b}", verb_sg],
        "single_sing": [f"The {noun_a}", verb_sg],
        "single_plural": [f"The {noun_a}", verb_pl],
    }
    return {"item_number": number, "conditions": [
        {"condition_name": name, "regions": [{"region_number": 1, "content": subject},
                                             {"region_number": 2, "content": verb},
                                             {"region_number": 3, "content": "here ."}]}
        for name, (subject, verb) in conditions.items()]}


my_suite = {
    "meta": {"name": "coordination", "metric": "sum"},
    "region_meta": {"1": "subject", "2": "verb", "3": "end"},
    "predictions": [{"type": "formula", "formula": "(2;%coord_sing%) > (2;%coord_plural%)"},
                    {"type": "formula", "formula": "(2;%single_plural%) > (2;%single_sing%)"}],
    "items": [item(1, "cat", "dog", "is", "are"), item(2, "teacher", "student", "was", "were"),
              item(3, "boy", "girl", "has", "have"), item(4, "farmer", "baker", "lives", "live"),
              item(5, "pilot", "doctor", "works", "work"), item(6, "king", "queen", "sits", "sit")],
}
path = Path(tempfile.mkdtemp()) / "coordination.json"
path.write_text(json.dumps(my_suite, indent=1))
mine = syntaxgym(hm, suites.load(path))
mine

# %% [markdown]
# ## Mistakes are reported, not scored
#
# A formula that names an unknown condition or region, or items that disagree on their
# conditions, is an error that names the file, the item and the place, raised before the model
# runs. Formulas are parsed, never `eval`-ed.

# %%
broken = dict(my_suite, predictions=[{"type": "formula", "formula": "(2;%coord_sing%) > (2;%coord_plurl%)"}])
path.write_text(json.dumps(broken))
try:
    suites.load(path)
except interp.InterpError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## The full version
#
# All eight built-in suites: `syntaxgym(hm, [f"builtin:{n}" for n in builtin_names("syntaxgym")])`
# (about a minute), or from a shell `interp syntaxgym builtin:number_pp --out out/sg`, which writes
# `results.csv`, `predictions.csv`, `summary.csv` and `meta.json`.
