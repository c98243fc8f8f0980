"""How good an SAE is, per site: reconstruction (FVU, L0, dead and dense features) on held-out
activations, and the language model's loss with the SAE's reconstruction in place of the site.

- ``fvu``: fraction of variance unexplained, ``sum ||x - sae(x)||^2 / sum ||x - mean x||^2``;
- ``l0``: features active per token; ``dead``: fraction of features that never fire on these
  tokens; ``dense``: fraction that fire on more than ``dense_above`` (10 %) of them;
- ``loss_clean``, ``loss_spliced`` (the site replaced by ``sae(site)``, **no error term**: what the
  SAE alone explains), ``loss_zero`` (the site zero-ablated): next-token cross-entropy, and
  ``loss_recovered = (loss_zero - loss_spliced) / (loss_zero - loss_clean)`` (1: as good as the model).

The splice is a plain :class:`interp.interventions.Apply` on the site; positions before ``first``
(default 1: the attention sink, which :func:`~interp.sae.activations.collect` leaves out too) keep
their own values in both the spliced and the zero-ablated run. A layer-group SAE gets one row per
layer it covers.

>>> import interp, torch
>>> from interp.sae import SAE
>>> hm = interp.models.tiny("llama")
>>> sae = SAE(64, 128, "topk", k=8, site="resid_post.0", seed=0)
>>> blocks = torch.randint(0, 100, (2, 12))
>>> row = lm_losses(hm, sae, "resid_post.0", blocks)
>>> sorted(row)
['loss_clean', 'loss_recovered', 'loss_spliced', 'loss_zero']
>>> sorted(reconstruction(sae, torch.randn(50, 64)))
['dead', 'dense', 'fvu', 'l0', 'mse']
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor

from interp.errors import InputError
from interp.interventions import Ablate, Apply
from interp.sae.activations import Activations
from interp.sae.model import SAE


@torch.no_grad()
def reconstruction(sae: SAE, x: Tensor, *, dense_above: float = 0.1, batch: int = 8192) -> dict[str, float]:
    """FVU, MSE, L0, dead and dense fractions of ``sae`` on activations ``x [n_tokens, d_in]``."""
    squared_error, fired, active = 0.0, torch.zeros(sae.d_sae), 0.0
    for start in range(0, x.shape[0], batch):
        chunk = x[start:start + batch].float()
        f = sae.encode(chunk)
        squared_error += float((sae.decode(f).float() - chunk).pow(2).sum())
        fired += (f > 0).sum(0).float()
        active += float((f > 0).sum())
    variance = float((x.float() - x.float().mean(0)).pow(2).sum())
    n = x.shape[0]
    return {"fvu": squared_error / max(variance, 1e-12), "mse": squared_error / n, "l0": active / n,
            "dead": float((fired == 0).float().mean()), "dense": float((fired / n > dense_above).float().mean())}


def _next_token_loss(logits: Tensor, ids: Tensor, first: int) -> float:
    """Mean cross-entropy of predicting ``ids[:, t+1]`` from position ``t >= first``."""
    predicted = logits[:, first:-1].float()
    return float(torch.nn.functional.cross_entropy(predicted.flatten(0, 1), ids[:, first + 1:].flatten()))


def replace_with_reconstruction(sae: SAE, site: str, first: int = 1) -> Apply:
    """``Apply`` replacing ``site`` (from position ``first`` on) by ``sae``'s reconstruction, no error term."""
    def reconstruct(act: Tensor, ctx) -> Tensor:
        shape = act.shape
        flat = act.flatten(2)                                              # [batch, pos, d_in]
        rebuilt = torch.cat([flat[:, :first], sae(flat[:, first:])], dim=1)
        return rebuilt.reshape(shape)
    return Apply(site, reconstruct)


@torch.no_grad()
def lm_losses(hm, sae: SAE, site: str, blocks: Tensor, *, first: int = 1, batch_size: int = 8) -> dict[str, float]:
    """Clean, spliced and zero-ablated next-token losses over token ``blocks [n, context]`` and the
    fraction of the loss the SAE recovers."""
    losses = {"loss_clean": [], "loss_spliced": [], "loss_zero": []}
    interventions = {"loss_clean": [], "loss_spliced": [replace_with_reconstruction(sae, site, first)],
                     "loss_zero": [Ablate(site, "zero", positions=slice(first, None))]}
    for start in range(0, blocks.shape[0], batch_size):
        ids = blocks[start:start + batch_size].to(hm.device)
        for name, chosen in interventions.items():
            losses[name].append(_next_token_loss(hm.run(ids, interventions=chosen).logits, ids.cpu(), first))
    row = {name: sum(values) / len(values) for name, values in losses.items()}
    gap = row["loss_zero"] - row["loss_clean"]
    row["loss_recovered"] = (row["loss_zero"] - row["loss_spliced"]) / gap if gap else float("nan")
    return row


def evaluate(saes: Sequence[SAE], test: Activations, *, hm=None, blocks: Tensor | None = None,
             first: int = 1, dense_above: float = 0.1) -> pd.DataFrame:
    """One row per SAE and site it covers: ``sae`` (its index), ``site``, ``d_sae``, ``kind``, the
    reconstruction metrics on ``test`` and, with ``hm`` and ``blocks``, the language-model losses."""
    if (hm is None) != (blocks is None):
        raise InputError("the language-model losses need both hm and blocks (token ids [n, context])")
    rows = []
    for index, sae in enumerate(saes):
        if not sae.sites:
            raise InputError(f"SAE {index} does not say which site it reads (its site is None)")
        for site in sae.sites:
            row = {"sae": index, "site": site, "sites": ",".join(sae.sites), "kind": sae.kind, "d_sae": sae.d_sae,
                   **reconstruction(sae, test[site], dense_above=dense_above)}
            if hm is not None:
                row.update(lm_losses(hm, sae, site, blocks, first=first))
            rows.append(row)
    return pd.DataFrame(rows)
