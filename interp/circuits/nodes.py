"""What each upstream node writes into the residual stream: ``embed``, each head's ``z`` through its
slice of the output projection, each ``mlp_out``.

>>> import interp
>>> from interp.circuits.nodes import NodeOutputs, head_blocks
>>> hm = interp.models.tiny("gpt2")
>>> outputs = NodeOutputs.of(hm, hm.tokenize(["The keys to the"]))
>>> outputs.z[0].shape[2:] == (hm.n_heads, hm.d_head), head_blocks(hm)[0].shape == (hm.n_heads, hm.d_head, hm.d_model)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from interp.errors import SiteError
from interp.graph.inputs import Batch


def head_blocks(hm) -> list[Tensor]:
    """Per layer, the attention output projection as ``[head, d_head, d_model]`` blocks (model dtype),
    times the family's residual multiplier: ``hm.W_O(L)`` as each head's residual-stream write."""
    return [hm.W_O(layer) * residual_multiplier(hm) for layer in range(hm.n_layers)]


def residual_multiplier(hm) -> float:
    """The scale the family applies to both branches before adding them to the stream (Granite), else 1."""
    name = getattr(hm.layout, "residual_multiplier", None)
    return float(getattr(hm.config, name, 1.0) or 1.0) if name else 1.0


def node_sites(n_layers: int) -> list[str]:
    return ["embed", *(f"z.{layer}" for layer in range(n_layers)), *(f"mlp_out.{layer}" for layer in range(n_layers))]


@dataclass
class NodeOutputs:
    """Every upstream node's output on a batch: ``embed [B, P, d]``, per layer ``z [B, P, H, d_head]`` and
    ``mlp [B, P, d]``."""

    embed: Tensor
    z: list[Tensor]
    mlp: list[Tensor]
    last_logits: Tensor | None = None  # [B, vocab]
    stream: dict[str, Tensor] = field(default_factory=dict)  # site -> [B, P, d]: the ``keep`` sites of the run
    key_values: list | None = None  # per layer (keys, values) [B, kv_heads, P, d_head], with ``keep_kv``

    @classmethod
    def of(cls, hm, batch: Batch, *, check: bool = True, keep: Sequence[str] = (),
           keep_kv: bool = False) -> NodeOutputs:
        """Run ``batch`` once and keep the node outputs (with ``check``: also that the heads and the
        projection's bias sum to ``attn_out``, which edges need; ``keep``: more sites of the same run,
        e.g. the residual stream an edge-patching forward starts from; ``keep_kv``: also every layer's keys
        and values, from which a resumed forward recomputes only the later tokens)."""
        n = hm.n_layers
        sites = list(dict.fromkeys(node_sites(n) + ([f"attn_out.{layer}" for layer in range(n)] if check else [])
                                   + list(keep)))
        with torch.no_grad():
            out = hm.run(batch, cache=sites, keep_kv=keep_kv)
        if check:
            check_heads_sum(hm, out.cache, head_blocks(hm))
        return cls(out.cache["embed"], [out.cache[f"z.{layer}"] for layer in range(n)],
                   [out.cache[f"mlp_out.{layer}"] for layer in range(n)], out.last_logits,
                   {site: out.cache[site] for site in keep}, out.key_values)

    def rows(self, index: Tensor) -> NodeOutputs:
        """The same outputs for rows ``index`` (e.g. repeated once per edge)."""
        pick = lambda t: t[index.to(t.device)]  # noqa: E731
        return NodeOutputs(pick(self.embed), [pick(z) for z in self.z], [pick(m) for m in self.mlp],
                           None if self.last_logits is None else pick(self.last_logits))

    def mean(self) -> NodeOutputs:
        """The mean over examples at each position, for every row (mean ablation)."""
        avg = lambda t: t.mean(0, keepdim=True).expand_as(t)  # noqa: E731
        return NodeOutputs(avg(self.embed), [avg(z) for z in self.z], [avg(m) for m in self.mlp], None)


def check_heads_sum(hm, cache, blocks: list[Tensor]) -> None:
    """Raise unless ``attn_out.L == Σ_h z_h W_O[h] + b`` (what a head node's output means)."""
    for layer, block in enumerate(blocks):
        z, attn_out = cache[f"z.{layer}"], cache[f"attn_out.{layer}"]
        total = torch.einsum("bphk,hkd->bpd", z, block.to(z.dtype))
        bias = getattr(hm.binding(f"z.{layer}").module, "bias", None)
        if bias is not None:
            total = total + bias.detach() * residual_multiplier(hm)
        scale = float(attn_out.abs().max()) + 1e-6
        if not torch.allclose(total, attn_out, atol=2e-3 * scale, rtol=1e-3):
            raise SiteError(f"{hm.family}: attn_out.{layer} is not the sum of its heads through the output projection "
                            "(a norm after the projection, e.g. Gemma-2's and OLMo-2's sandwich norms), "
                            "so heads are not separate nodes of the residual stream in this family")
