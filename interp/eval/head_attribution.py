"""Direct logit attribution per attention head: what each head writes, read through the unembedding.

For a logit difference ``logit(target) − logit(baseline)`` at each prompt's last token, the final
residual stream is a sum of components — ``embed``, every head's ``z`` through its slice of the
attention output projection, the projection's bias, every ``mlp_out`` — and the final norm is
linear in that sum once its scale is *frozen* at the value computed from the actual final residual
(the standard linearisation, as in Yu, Merullo & Pavlick 2023): ``LayerNorm(x) ≈ γ ⊙ (x − mean x) · s + β``
and ``RMSNorm(x) ≈ γ ⊙ x · s`` with ``s`` fixed per prompt. So each component's contribution is
``s · (P c) · (γ ⊙ (W_U[target] − W_U[baseline]))`` (``P`` removes the mean for LayerNorm), plus
two constants (``β`` and the unembedding bias), and the contributions sum to the model's actual
logit difference exactly (up to float rounding).

>>> import interp
>>> from interp.eval.head_attribution import head_attribution
>>> hm = interp.models.tiny("gpt2")
>>> attribution = head_attribution(hm, ["The keys to the", "The dog near the"], target=[" cabinet", " house"],
...                                baseline=[" table", " car"])
>>> attribution.grid().shape                      # layers × heads, mean over prompts
(2, 4)
>>> bool(attribution.residual_error() < 1e-4)    # components sum to the actual logit difference
True
>>> sorted(set(attribution.table().component))
['attn_bias', 'embed', 'final_norm_bias', 'head', 'mlp']

Positive values push toward ``target`` (in the recall task: the memorised answer), negative
ones toward ``baseline`` (the in-context answer). Targets are token ids or strings (their first
token counts; write the leading space yourself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import Tensor, nn

from interp.errors import InputError, SiteError
from interp.eval.finite import check_finite
from interp.graph.positions import integer_index
from interp.graph.readout import FrozenReadout

Tokens = Sequence[int] | Sequence[str]


@dataclass
class HeadAttribution:
    """``values``: ``[prompt, component]`` contributions (float64), ``components``: one row per
    component (``component``, ``layer``, ``head``), ``total``: ``[prompt]`` actual logit difference."""

    values: Tensor
    components: pd.DataFrame
    total: Tensor
    n_layers: int
    n_heads: int

    def table(self) -> pd.DataFrame:
        """Tidy: one row per component with the mean ``value`` over prompts, its ``std`` and ``n``."""
        table = self.components.copy()
        table["value"] = self.values.mean(0).numpy()
        table["std"] = self.values.std(0).numpy() if len(self.values) > 1 else float("nan")
        table["n"] = len(self.values)
        return table

    def heads(self) -> pd.DataFrame:
        """One row per (layer, head): ``layer, head, value, std, n``."""
        table = self.table()
        table = table[table.component == "head"].drop(columns="component")
        return table.astype({"layer": int, "head": int}).reset_index(drop=True)

    def per_head(self) -> Tensor:
        """``[prompt, layer, head]`` contributions of the heads."""
        mask = torch.tensor((self.components.component == "head").to_numpy())
        return self.values[:, mask].reshape(len(self.values), self.n_layers, self.n_heads)

    def grid(self) -> pd.DataFrame:
        """Mean contribution per head: index ``layer``, columns ``head``."""
        return self.heads().pivot(index="layer", columns="head", values="value")

    def top(self, k: int, direction: str = "positive") -> list[tuple[int, int]]:
        """The ``k`` heads with the largest mean contribution: ``"positive"`` (toward target),
        ``"negative"`` (toward baseline) or ``"abs"`` (either way)."""
        k = integer_index(k, "k (how many heads)")
        if k < 1:
            raise InputError(f"k (how many heads) must be at least 1, not {k}")
        values = self.heads()
        key = {"positive": values.value, "negative": -values.value, "abs": values.value.abs()}.get(direction)
        if key is None:
            raise InputError(f"direction must be 'positive', 'negative' or 'abs', not {direction!r}")
        order = key.sort_values(ascending=False, kind="stable").index[:k]
        return [(int(values.at[i, "layer"]), int(values.at[i, "head"])) for i in order]

    def residual_error(self) -> float:
        """Largest ``|sum of contributions − actual logit difference|`` over prompts."""
        return float((self.values.sum(-1) - self.total).abs().max())


def head_attribution(hm, prompts: Sequence[str], target: Tokens, baseline: Tokens, *,
                     batch_size: int = 16) -> HeadAttribution:
    """Each component's direct contribution to ``logit(target) − logit(baseline)`` at the last token."""
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    if not prompts:
        raise InputError("head_attribution needs at least one prompt")
    if hm.layout is None:
        raise SiteError(f"{hm.family} has no adapter: head attribution needs its attention and norm modules")
    target_ids, baseline_ids = _token_ids(hm, target, len(prompts), "target"), _token_ids(hm, baseline, len(prompts),
                                                                                          "baseline")
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}")
    readout = FrozenReadout(hm)
    projections = [_OutputProjection(hm, layer) for layer in range(hm.n_layers)]
    parts, totals = [], []
    for start in range(0, len(prompts), batch_size):
        stop = start + batch_size
        values, total = _attribute_batch(hm, prompts[start:stop], target_ids[start:stop], baseline_ids[start:stop],
                                         readout, projections)
        parts.append(values)
        totals.append(total)
    labels = _component_labels(hm, projections, readout)
    values = torch.cat(parts)
    check_finite(values, "head attribution",
                 lambda i: f"prompt {i[0]} ({prompts[i[0]][:40]!r}), component {_component_name(labels, i[1])}")
    return HeadAttribution(values, labels, torch.cat(totals),
                           hm.n_layers, hm.n_heads)


def _token_ids(hm, tokens: Tokens, n: int, what: str) -> Tensor:
    tokens = list(tokens)
    if len(tokens) != n:
        raise InputError(f"{what} has {len(tokens)} entries for {n} prompts")
    weight = getattr(getattr(hm.model, "get_output_embeddings", lambda: None)(), "weight", None)
    vocab = None if weight is None else weight.shape[0]
    ids = []
    for token in tokens:
        if isinstance(token, str):
            encoded = hm.tokenizer(token, add_special_tokens=False)["input_ids"] if hm.tokenizer else []
            if not encoded:
                raise InputError(f"{what} {token!r} tokenises to no tokens")
            token = encoded[0]
        if not 0 <= int(token) < (vocab or int(token) + 1):
            raise InputError(f"{what} token id {token} is outside the vocabulary (size {vocab})")
        ids.append(int(token))
    return torch.tensor(ids)


class _OutputProjection:
    """One layer's attention output projection split into per-head ``[head, d_head, d_model]`` blocks."""

    def __init__(self, hm, layer: int):
        module = hm.binding(f"z.{layer}").module
        weight = getattr(module, "weight", None)
        width = hm.n_heads * hm.d_head
        if weight is None or weight.ndim != 2:
            raise SiteError(f"attention output projection of layer {layer} ({type(module).__name__}) "
                            "has no weight matrix")
        weight = weight.detach().double().cpu()
        if isinstance(module, nn.Linear):  # x @ W.T + b; transformers' Conv1D (GPT-2) is x @ W + b
            weight = weight.T
        if weight.shape != (width, hm.d_model):
            raise SiteError(f"attention output projection of layer {layer} has weight {tuple(weight.shape)}, "
                            f"expected [{width}, {hm.d_model}] or its transpose")
        self.blocks = weight.reshape(hm.n_heads, hm.d_head, hm.d_model)
        bias = getattr(module, "bias", None)
        self.bias = None if bias is None else bias.detach().double().cpu()


def _attribute_batch(hm, prompts, target, baseline, readout: FrozenReadout,
                     projections: list[_OutputProjection]) -> tuple[Tensor, Tensor]:
    n = hm.n_layers
    sites = ["embed", *(f"z.{layer}" for layer in range(n)), *(f"mlp_out.{layer}" for layer in range(n)),
             f"resid_post.{n - 1}"]
    with torch.no_grad():
        out = hm.run(prompts, cache=sites)
    rows = torch.arange(len(prompts))
    last = out.batch.last_index

    def at_last(name: str, native: bool = False) -> Tensor:
        act = out.cache[name]
        act = act[rows.to(act.device), last.to(act.device)]
        return act if native else act.double().cpu()

    final = at_last(f"resid_post.{n - 1}", native=True)
    check_finite(final.detach().double().cpu(), "head attribution",
                 lambda i: f"prompt {prompts[i[0]][:40]!r}: the final residual stream at its last token")
    w, constants = readout.direction(final, target, baseline)
    logits = out.logits[rows.to(out.logits.device), last.to(out.logits.device)].double().cpu()
    total = logits[rows, target] - logits[rows, baseline]
    columns = [(at_last("embed") * w).sum(-1, keepdim=True)]
    for layer, projection in enumerate(projections):
        z = at_last(f"z.{layer}")  # [batch, head, d_head]
        columns.append(torch.einsum("bhd,hde,be->bh", z, projection.blocks, w))
    for projection in projections:
        if projection.bias is not None:
            columns.append((w @ projection.bias)[:, None])
    columns += [(at_last(f"mlp_out.{layer}") * w).sum(-1, keepdim=True) for layer in range(n)]
    columns += [value[:, None] for value in constants.values()]
    return torch.cat(columns, dim=1), total


def _component_name(labels: pd.DataFrame, index: int) -> str:
    row = labels.iloc[index]
    parts = [str(row["component"])] + [f"{key} {row[key]}" for key in ("layer", "head") if not pd.isna(row[key])]
    return " ".join(parts)


def _component_labels(hm, projections: list[_OutputProjection], readout: FrozenReadout) -> pd.DataFrame:
    rows = [("embed", None, None)]
    rows += [("head", layer, head) for layer in range(hm.n_layers) for head in range(hm.n_heads)]
    rows += [("attn_bias", layer, None) for layer, p in enumerate(projections) if p.bias is not None]
    rows += [("mlp", layer, None) for layer in range(hm.n_layers)]
    if readout.beta is not None:
        rows.append(("final_norm_bias", None, None))
    if readout.unembed_bias is not None:
        rows.append(("unembed_bias", None, None))
    table = pd.DataFrame(rows, columns=["component", "layer", "head"])
    return table.astype({"layer": "Int64", "head": "Int64"})
