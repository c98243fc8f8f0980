"""Row-wise interchange and the resumed forward that DAS training and scoring share.

Each row of a stacked batch carries its own intervention: row ``r`` writes base token
``index[r]`` with ``h + B_r B_rᵀ (h_src[r] − h)`` (``B_r = basis[r]``, ``[d, k]``), or with the
whole source vector where ``full[r]`` (vanilla patching). Stacking positions (and directions)
along the batch lets one forward serve every position of a layer.

The forward resumes at ``resid_pre.L`` from the base run's cached activations (the frozen
prefix is computed once), and when the model has an adapter it stops at the last residual
stream and unembeds only each row's last prompt token (the loss needs no other logits).
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.graph.inputs import Batch
from interp.graph.sites import parse_site


class RowInterchange:
    """A plain ``hm.run`` intervention (``site`` + ``__call__(act, ctx)``) with one edit per row.

    ``index [R]``: absolute token index per row; ``source [R, d]``; ``basis [R, d, k]`` or None;
    ``full [R]`` bool (rows patched whole) or None.
    """

    def __init__(self, site: str, index: Tensor, source: Tensor, basis: Tensor | None = None,
                 full: Tensor | None = None):
        self.site, self.index, self.source, self.basis, self.full = site, index, source, basis, full

    def __call__(self, act: Tensor, context=None) -> Tensor:
        rows = torch.arange(act.shape[0], device=act.device)
        index = self.index.to(act.device)
        base = act[rows, index]  # [R, d]
        source = self.source.to(act.device, act.dtype)
        if self.basis is None:
            new = source
        else:
            basis = self.basis.to(act.device, act.dtype)  # [R, d, k]
            # the order of operations of interp.interventions.subspace.interchange, per row
            down = lambda x: torch.einsum("rd,rdk->rk", x, basis)  # noqa: E731
            up = lambda c: torch.einsum("rk,rdk->rd", c, basis)  # noqa: E731
            new = base - up(down(base)) + up(down(source))
            if self.full is not None:
                new = torch.where(self.full.to(act.device)[:, None], source, new)
        out = act.clone()
        out[rows, index] = new
        return out


def prefix_site(hm, site: str) -> str | None:
    """Where a run that intervenes at ``site`` can resume: ``resid_pre`` of its layer (None: from the start)."""
    layer = parse_site(site).layer
    return None if layer is None else f"resid_pre.{layer % hm.n_layers}"


def last_logprobs(hm, batch: Batch, interventions: list, *, start: tuple[str, Tensor] | None = None,
                  grad: bool = False) -> Tensor:
    """``[R, vocab]`` log-softmax at each row's last real token, of a (resumed) intervened run."""
    rows = torch.arange(batch.size)
    unembed = _unembed(hm)
    if unembed is None:
        out = hm.run(batch, interventions=interventions, start_at=start, grad=grad)
        return out.last_logits.float().log_softmax(-1)
    norm, head = unembed
    final = f"resid_post.{hm.n_layers - 1}"
    out = hm.run(batch, interventions=interventions, start_at=start, grad=grad, cache=[final],
                 cache_grad=grad, logits=False)
    hidden = out.cache[final][rows, batch.last_index.to(out.cache[final].device)]  # [R, d]
    with torch.enable_grad() if grad else torch.no_grad():
        return head(norm(hidden[:, None]))[:, 0].float().log_softmax(-1)


def _unembed(hm):
    """``(final_norm, unembed)`` modules when the layout names them (else None: use full logits)."""
    layout = getattr(hm, "layout", None)
    if layout is None or getattr(hm, "dims", None) is None:
        return None
    if getattr(hm.config, "final_logit_softcapping", None) or getattr(hm.config, "logit_scale", None):
        return None  # the logits are more than unembed(norm(h)): compute them the model's way
    try:
        norm = hm.model.get_submodule(layout.final_norm)
        head = getattr(hm.model, "get_output_embeddings", lambda: None)() or hm.model.get_submodule(layout.unembed)
    except AttributeError:
        return None
    return norm, head
