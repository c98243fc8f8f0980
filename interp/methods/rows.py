"""Row-wise interchange and the resumed forward that DAS training and scoring share.

Each row of a stacked batch carries its own intervention: row ``r`` writes its slot (a
:class:`~interp.interventions.positions.Slots` row) with ``h + B_r B_rᵀ (h_src[r] − h)``
(``B_r = basis[r]``, ``[d, k]``), or with the whole source vector where ``full[r]`` (vanilla
patching): :func:`interchanges` builds those public per-row ``Subspace``/``Patch`` interventions.
Stacking positions (and directions) along the batch lets one forward serve every position of a layer.

The forward resumes at ``resid_pre.L`` from the base run's cached activations (the frozen
prefix is computed once), and when the model has an adapter it stops at the last residual
stream and unembeds only each row's last prompt token (the loss needs no other logits).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from interp.graph.inputs import Batch
from interp.graph.sites import parse_site
from interp.interventions.patch import Patch
from interp.interventions.positions import Slots
from interp.interventions.subspace import Subspace


def interchanges(hm, site: str, slots: Slots, source: Tensor, basis: Tensor,
                 full: Tensor | None = None) -> list[Callable]:
    """Bound per-row edits of ``site``: row ``r`` writes its slot with ``h + B_r B_rᵀ (source[r] − h)``
    (``basis [R, d, k]``, a :class:`Subspace` per row), or with the whole ``source[r]`` where ``full[r]``
    (a :class:`Patch`); ``source [R, d]``. Ready for ``hm.run`` or a packed forward."""
    if full is None:
        return [Subspace(site, basis, source, slots).bind(hm)]
    whole, along = full.nonzero().flatten(), (~full).nonzero().flatten()
    edits = [Patch(site, source[whole], slots.take(whole)).bind(hm)] if len(whole) else []
    if len(along):
        edits.append(Subspace(site, basis[along], source[along], slots.take(along)).bind(hm))
    return edits


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
    if layout.adjusts_logits(hm.config) or getattr(hm.config, "final_logit_softcapping", None) \
            or getattr(hm.config, "logit_scale", None):
        return None  # the logits are more than unembed(norm(h)) (soft-cap, logit scales): the model's way
    try:
        norm = hm.model.get_submodule(layout.final_norm)
        head = getattr(hm.model, "get_output_embeddings", lambda: None)() or hm.model.get_submodule(layout.unembed)
    except AttributeError:
        return None
    return norm, head
