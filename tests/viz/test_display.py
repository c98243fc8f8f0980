"""Rich HTML reprs (interp/display.py): escaped, balanced tables that state the key facts."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
import torch
from torch import nn

import interp
from interp.display import html_table
from interp.eval import CausalEfficacyResult, syntaxgym
from interp.eval.aggregate import summarize
from interp.interventions import DAS, Patch, ScaleHeads, Steer

VOID = {"br"}


class _Reader(HTMLParser):
    """Collects the text of every cell and checks that tags nest properly."""

    def __init__(self):
        super().__init__()
        self.stack, self.cells, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("td", "th"):
            self.cells.append("")

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1] in ("td", "th"):
            self.cells[-1] += data
        elif "td" in self.stack or "th" in self.stack:
            self.cells[-1] += data


def read(html: str) -> _Reader:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    assert reader.stack == [], f"unclosed tags {reader.stack}"
    return reader


def test_html_table_escapes_every_cell_header_and_caption():
    html = html_table([["<script>", 1.23456789]], header=["a&b"], caption="x<y")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a&amp;b" in html and "x&lt;y" in html
    assert read(html).cells == ["a&b", "<script>", "1.235"]


@pytest.mark.parametrize("family", ["gpt2", "neox", "llama"])
def test_hooked_model_html_states_dimensions_and_site_counts(family):
    hm = interp.models.tiny(family)
    hm.name = "<tiny & odd>"
    html = hm._repr_html_()
    assert "<tiny" not in html and "&lt;tiny &amp; odd&gt;" in html
    cells = read(html).cells
    facts = dict(zip(cells[0::2], cells[1::2]))
    assert facts["family"] == hm.family
    assert facts["layers"] == str(hm.n_layers) and facts["d_model"] == str(hm.d_model)
    assert facts["heads"] == str(hm.n_heads) and facts["kv heads"] == str(hm.n_kv_heads)
    for kind in ("resid_pre", "z", "mlp_out"):
        i = cells.index(kind)
        names = hm.sites(kind)
        assert cells[i + 1] == str(len(names))
        assert cells[i + 2] == f"{names[0]} … {names[-1]}"
    assert f"{len(hm.sites())} sites" in html


def test_hooked_model_html_without_adapter_says_module_paths():
    hm = interp.wrap(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
    html = hm._repr_html_()
    assert "module-path sites only" in html and "Sequential" in html
    read(html)
    assert "module-path sites only" in interp.wrap(nn.ReLU())._repr_html_()  # no parameters: no dtype row


def test_intervention_html_lists_config_and_tensor_shapes():
    steer = Steer("resid_post.0", torch.ones(64), alpha=2.5, positions="last")
    cells = read(steer._repr_html_()).cells
    rows = dict(zip(cells[2::2], cells[3::2]))
    assert rows == {"site": "resid_post.0", "positions": "'last'", "heads": "all", "alpha": "2.5",
                    "vector": "tensor 64"}

    das = DAS("resid_pre.1", dim=64, rank=2)
    html = das._repr_html_()
    assert "<b>DAS</b>" in html and "tensor 64×2 (trainable)" in html

    scale = ScaleHeads("z.1", {0: 0.5, 3: 2.0})
    assert "0.5" in scale._repr_html_() and "z.1" in scale._repr_html_()

    patch = Patch("model.transformer.h.0:output", source=torch.zeros(1, 3, 64), positions=[1])
    cells = read(patch._repr_html_()).cells
    rows = dict(zip(cells[2::2], cells[3::2]))
    assert rows["site"] == "model.transformer.h.0:output" and rows["positions"] == "[1]"
    assert rows["source_positions"] == "same as positions" and rows["source"] == repr(patch.source)


def test_run_output_html_lists_cached_sites_and_shapes():
    hm = interp.models.tiny("llama")
    out = hm.run(["The keys to the cabinet", "a"], cache=["resid_post.1", "z.0"])
    cells = read(out._repr_html_()).cells
    width = out.batch.width
    assert cells[:2] == ["logits", f"2×{width}×{out.logits.shape[-1]}"]
    assert f"2 examples × {width} tokens" in cells
    i = cells.index("z.0")
    assert cells[i + 1] == f"2×{width}×{hm.n_heads}×{hm.d_head}" and cells[i + 2] == "float32"
    stopped = hm.run("a b", cache=["resid_post.0"], stop_at="resid_post.0")
    assert "none (stopped early)" in stopped._repr_html_() and "resid_post.0" in stopped._repr_html_()


def _unit(method, layer, control, shift):
    return {"task": "t", "method": method, "layer": layer, "control": control, "behaviour": [1, 0],
            "odds_ratio": [[1.0 + shift, 3.0 + shift]], "iia": [[1, 0]]}


def test_causal_efficacy_html_shows_the_overall_summary_with_intervals():
    records = [_unit(m, 0, c, 0.0 if not c else -1.0) for m in ("das", "mean") for c in (False, True)]
    summary = summarize(records, model="m", suite="s", n_boot=20)
    result = CausalEfficacyResult(pd.DataFrame(), summary, records, out=None)
    html = result._repr_html_()
    cells = read(html).cells
    header = cells[:cells.index("das")]
    assert header[:5] == ["method", "odds_ratio", "iia", "selectivity", "behaviour"]
    row = dict(zip(header, cells[cells.index("das"):]))
    overall = summary[(summary.task == "all") & (summary.method == "das")].set_index("metric")
    odds = overall.loc["odds_ratio"]
    assert row["odds_ratio"] == f"{odds.value:.3f} [{odds.ci_low:.3f}, {odds.ci_high:.3f}]"
    assert row["selectivity"].startswith("1.000")  # task 2.0 − control 1.0
    assert "4 units" in html


def test_syntaxgym_html_escapes_formulas_and_shows_accuracy():
    hm = interp.models.tiny("gpt2")
    result = syntaxgym(hm, "builtin:number_pp")
    html = result._repr_html_()
    reader = read(html)
    formulas = result.summary.formula.tolist()
    assert any("<" in f or ">" in f for f in formulas)
    for formula in formulas:
        assert formula in reader.cells
    overall = result.summary[result.summary.prediction == "all"].value.iloc[0]
    assert f"{overall:.4g}" in reader.cells
