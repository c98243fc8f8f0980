"""SAE features as values and directions: their activations on inputs, steering along a decoder row,
and the tokens a decoder row promotes through the unembedding.

>>> import torch, interp
>>> from interp.sae import SAE
>>> hm = interp.models.tiny("gpt2")
>>> sae = SAE(hm.d_model, 128, kind="relu", site="resid_post.0", seed=0)
>>> feature_activations(hm, sae, ["The keys to the cabinet", "A dog"]).shape     # [batch, pos, d_sae]
torch.Size([2, 7, 128])
>>> steer = feature_steer(sae, 5, alpha=4.0)                 # a Steer along W_dec[5]: composes, generates
>>> steer
Steer(site='resid_post.0', alpha=4.0, vector=[64])
>>> gen = hm.generate(["The keys to the"], interventions=[steer], max_new_tokens=3, where="all")
>>> up, down = promoted_tokens(hm, sae.W_dec[5], k=3)         # ([(token, logit), ...] x 2)
>>> len(up), len(down)
(3, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from interp.errors import InputError
from interp.interventions import Steer
from interp.interventions import positions as P
from interp.sae.model import SAE
from interp.sae.splice import Splice


def feature_activations(hm, sae: SAE, inputs, *, site: str | None = None, interventions: Sequence = (),
                        padding_side: str = "right") -> Tensor:
    """The SAE's features ``[batch, pos, d_sae]`` on ``inputs`` (one forward, stopped at the site;
    padding positions hold whatever the padded activation encodes to: mask them with ``hm.tokenize``)."""
    splice = Splice(sae, site)
    out = hm.run(inputs, interventions=[*interventions, splice], cache=[splice.name], logits=False,
                 padding_side=padding_side)
    return out.cache[splice.name]


def feature_steer(sae: SAE, feature: int, alpha: float | Tensor = 1.0, positions: P.PositionSpec | None = None, *,
                  site: str | None = None) -> Steer:
    """``Steer(site, sae.W_dec[feature], alpha, positions)``: add ``alpha`` times the feature's decoder row
    (as if the feature fired ``alpha`` more); ``hm.generate(..., interventions=[it])`` steers generation."""
    site = site if site is not None else sae.site
    if not isinstance(site, str):
        raise InputError(f"this SAE reads {list(sae.sites) or 'no recorded site'}: pass site=... (one site)")
    if not (isinstance(feature, int) and 0 <= feature < sae.d_sae):
        raise InputError(f"feature {feature!r} is out of range: the SAE has {sae.d_sae} features (0..{sae.d_sae - 1})")
    return Steer(site, sae.W_dec[feature].detach().clone(), alpha=alpha, positions=positions)


@torch.no_grad()
def direction_logits(hm, direction: Tensor) -> Tensor:
    """``[vocab]`` logits a residual-stream ``direction [d_model]`` adds through the final norm's scale and
    the unembedding (the norm's centring and scale as weights, its normalisation left out: the usual
    direct-logit reading of a direction, as in :mod:`interp.eval.head_attribution`)."""
    head = hm.model.get_output_embeddings() if hasattr(hm.model, "get_output_embeddings") else None
    if head is None:
        raise InputError(f"{hm.name} has no output embedding to read a direction through")
    direction = direction.to(head.weight.device, head.weight.dtype)
    norm = _final_norm(hm)
    if norm is not None:
        if isinstance(norm, torch.nn.LayerNorm):
            direction = direction - direction.mean()
        weight = getattr(norm, "weight", None)
        if weight is not None:
            direction = direction * (weight + 1 if _offset_weight(norm) else weight)
    return direction @ head.weight.T


def promoted_tokens(hm, direction: Tensor, k: int = 10) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The ``k`` tokens a direction promotes most and the ``k`` it suppresses most: ``[(token, logit), ...]``."""
    logits = direction_logits(hm, direction).float().cpu()
    k = min(k, logits.numel())
    top, bottom = logits.topk(k), (-logits).topk(k)

    def named(values: Tensor, ids: Tensor, sign: float) -> list[tuple[str, float]]:
        return [(hm.tokenizer.decode([i]), sign * v) for v, i in zip(values.tolist(), ids.tolist(), strict=True)]

    return named(top.values, top.indices, 1.0), named(bottom.values, bottom.indices, -1.0)


def _final_norm(hm):
    """The norm before the unembedding (the layout's ``final_norm``), where the model has one."""
    path = getattr(getattr(hm, "layout", None), "final_norm", None)
    return hm.model.get_submodule(path) if path else None


def _offset_weight(norm) -> bool:
    """Gemma-style RMSNorm multiplies by ``1 + weight``."""
    return "gemma" in type(norm).__name__.lower()


__all__ = ["direction_logits", "feature_activations", "feature_steer", "promoted_tokens"]
