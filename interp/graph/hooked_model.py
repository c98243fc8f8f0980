"""HookedModel: a PyTorch model plus a graph of named sites you can read and write.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> hm.sites()[:4]
['embed', 'resid_pre.0', 'q.0', 'k.0']
>>> out = hm.run(["The keys to the cabinet"], cache=["resid_post.1", "z.0"])
>>> out.cache["z.0"].shape[2:] == (hm.n_heads, hm.d_head)
True

Every hook a run registers is removed when the run ends, also when it raises. The model's own
weights, modes and ``requires_grad`` flags are never changed.

Threads: runs on one model from several threads take turns. :meth:`HookedModel.run`,
:meth:`HookedModel.resume`, :meth:`HookedModel.generate` and the :meth:`HookedModel.hooks` block
hold a re-entrant lock of the underlying ``nn.Module`` (:func:`interp.graph.locking.model_lock`,
shared by every ``HookedModel`` that wraps it) while their hooks are attached or the model is edited,
so a plain run never sees another thread's interventions. A forward that calls ``hm.model``
directly, outside a ``hm.hooks(...)`` block, takes no lock and is not protected. The model is edited
in three places only, each for one run and undone after: :func:`interp.graph.resume.started_at` (a run
from ``start_at`` skips the layers below), :func:`interp.graph.attention.pattern_attention`
(``pattern`` sites: the attention implementation's name in the config) and, once when a model is
wrapped, :func:`interp.graph.adapters.verify.first_and_last_layers` (the layout check runs two layers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from interp.display import hooked_model_html
from interp.errors import InputError, SiteError
from interp.graph import generation
from interp.graph.adapters import Dims, Layout, build_bindings, layout_for, verify_layout, warn_no_layout
from interp.graph.attention import pattern_attention
from interp.graph.bindings import Binding
from interp.graph.cache import cache_sites
from interp.graph.checks import intervention_list, site_list, start_value
from interp.graph.forward import call_hf, call_module, input_device, is_hf, logits_of
from interp.graph.gradients import GradientCache
from interp.graph.handlers import check_stop, handler_table, stop_binding
from interp.graph.inputs import Batch, Inputs, check_fits, tokenize
from interp.graph.locking import model_lock
from interp.graph.outputs import ActivationCache, RunOutput
from interp.graph.resume import key_values_of, resume, resume_requirement, resume_support, started_at
from interp.graph.runner import Handler, StopForward, attached
from interp.graph.sites import (
    ALL_KINDS,
    READ_ONLY_KINDS,
    canonical_names,
    kind_rank,
    nearest,
    parse_site,
)
from interp.graph.tokens import TokenMethods
from interp.graph.weights import WeightMethods


class HookedModel(TokenMethods, WeightMethods):
    """A model with canonical sites (:func:`interp.wrap`, :func:`interp.load`); token helpers from
    :mod:`interp.graph.tokens`, weights by canonical name (``W_U``, ``W_O(L)``) from :mod:`interp.graph.weights`."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any = None,
        *,
        layout: Layout | None = None,
        name: str | None = None,
        revision: str | None = None,
        bindings: dict[str, Binding] | None = None,
        call: Callable[[nn.Module, Batch | Any], Any] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = getattr(model, "config", None)
        self.layout = layout if layout is not None else layout_for(model)
        if bindings is None and self.layout is not None:
            bindings = build_bindings(model, self.layout, self.config)
            verify_layout(model, self.layout, bindings, self.config)
        elif bindings is None and is_hf(model):
            warn_no_layout(model)
        self._bindings: dict[str, Binding] = bindings or {}
        self.dims = self.layout.dims(self.config) if self.layout is not None else None
        self.name = name or getattr(self.config, "name_or_path", None) or type(model).__name__
        self.revision = revision
        self._call = call or (call_hf if is_hf(model) else call_module)

    # ----------------------------------------------------------------- description
    @property
    def family(self) -> str:
        return self.layout.family if self.layout else type(self.model).__name__

    @property
    def n_layers(self) -> int:
        return self._dims().n_layers

    @property
    def n_heads(self) -> int:
        return self._dims().n_heads

    @property
    def n_kv_heads(self) -> int:
        return self._dims().n_kv_heads

    @property
    def d_model(self) -> int:
        return self._dims().d_model

    @property
    def d_head(self) -> int:
        return self._dims().d_head

    @property
    def device(self) -> torch.device:
        """Where inputs go: the input embedding's device (with ``device_map``, layers may live elsewhere)."""
        return input_device(self.model)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def _dims(self) -> Dims:
        if self.dims is None:
            raise SiteError(f"{self.family} has no adapter, so it has no layer/head dimensions")
        return self.dims

    def sites(self, kind: str | None = None) -> list[str]:
        """Canonical site names in execution order (optionally only one kind, e.g. ``"z"``)."""
        names = list(self._bindings)
        return names if kind is None else [n for n in names if n.split(".")[0] == kind]

    def __repr__(self) -> str:
        if self.dims is None:
            return f"HookedModel({self.name!r}, no adapter: module-path sites only)"
        d = self.dims
        return (
            f"HookedModel({self.name!r}, family={self.family}, layers={d.n_layers}, d_model={d.d_model}, "
            f"heads={d.n_heads}, kv_heads={d.n_kv_heads}, d_head={d.d_head}, sites={len(self._bindings)})"
        )

    def _repr_html_(self) -> str:
        return hooked_model_html(self)

    def site_kinds(self) -> list[str]:
        """The kinds of site this model has, in execution order: ``hm.site_kinds()[0] == "embed"``."""
        return sorted({n.split(".")[0] for n in self._bindings}, key=kind_rank)

    # ----------------------------------------------------------------- sites
    def binding(self, site: str) -> Binding:
        """The binding behind a site name; raises :class:`SiteError` saying what exists instead."""
        parsed = parse_site(site)
        if parsed.kind == "module":
            return self._module_binding(site, parsed.module, parsed.io)
        if site in self._bindings:
            return self._bindings[site]
        if not self._bindings:
            raise SiteError(
                f"{self.family} has no adapter, so canonical sites such as {site!r} are unavailable; "
                f"use module paths, e.g. {self._example_module_site()!r}"
            )
        kinds = {n.split(".")[0] for n in self._bindings}
        if parsed.kind not in kinds:
            if parsed.kind in ALL_KINDS:
                parallel = parsed.kind == "resid_mid"
                why = " (attention and MLP both read resid_pre: parallel residual)" if parallel else ""
                if getattr(self.layout, "no_attention", None) and parsed.kind not in kinds:
                    why = f": {self.layout.no_attention}"
                raise SiteError(
                    f"the {self.family} architecture has no {parsed.kind!r} sites{why}; "
                    f"it has: {', '.join(sorted(kinds, key=kind_rank))}"
                )
            guesses = nearest(site, list(self._bindings)) or nearest(parsed.kind, sorted(kinds))
            raise SiteError(f"unknown site {site!r}; did you mean {', '.join(map(repr, guesses)) or 'nothing close'}?")
        if parsed.layer is not None and -self.n_layers <= parsed.layer < 0:
            return self._bindings[f"{parsed.kind}.{parsed.layer % self.n_layers}"]
        raise SiteError(
            f"layer {parsed.layer} of site {site!r} is out of range: {self.name} has {self.n_layers} layers "
            f"(0..{self.n_layers - 1}, or -{self.n_layers}..-1 from the end)"
        )

    def _module_binding(self, site: str, path: str, io: str) -> Binding:
        try:
            module = self.model.get_submodule(path)
        except AttributeError:
            names = [n for n, _ in self.model.named_modules()]
            guesses = nearest(path, names)
            raise SiteError(
                f"no module {path!r} in {type(self.model).__name__}; closest: {guesses or names[:5]}"
            ) from None
        return Binding(site, module, io)

    def _example_module_site(self) -> str:
        names = [n for n, _ in self.model.named_modules() if n]
        return f"{names[len(names) // 2] if names else ''}:output"

    # ----------------------------------------------------------------- running
    def tokenize(self, inputs: Inputs, padding_side: str = "right") -> Batch:
        """Tokenise text (or wrap ids) into a :class:`Batch` that knows where real tokens are.

        Inputs longer than the model's context, or token ids outside its vocabulary, are an
        :class:`InputError` here, before any forward pass."""
        return check_fits(tokenize(self.tokenizer, inputs, padding_side), self.config)

    def run(
        self,
        inputs: Inputs | Any,
        *,
        interventions: Sequence[Any] = (),
        cache: Iterable[str] = (),
        stop_at: str | None = None,
        start_at: tuple[str, Tensor] | None = None,
        logits: bool = True,
        grad: bool = False,
        cache_grad: bool = False,
        grads: Iterable[str] = (),
        padding_side: str = "right",
        keep_kv: bool = False,
    ) -> RunOutput:
        """Run the model once with interventions applied and the requested sites cached.

        - ``interventions``: objects with a ``site`` and ``__call__(activation, context)``
          (see :mod:`interp.interventions`); several compose in execution order.
        - ``cache``: sites to keep (``"all"``, ``"resid_post.*"``, ``"z.3:6"``: :mod:`interp.graph.cache`), each
          the value the model used (after any intervention there); detached unless ``cache_grad=True``.
        - ``stop_at``: end the forward pass right after this site; ``logits=False`` stops after
          the last cached or intervened site. Either way ``logits`` is None. A cached site or an
          intervention after ``stop_at`` is an :class:`InputError` (the run would never reach it).
        - ``start_at=(site, activations)``: resume from cached activations at ``embed``,
          ``resid_pre.L`` or ``resid_post.L``; layers before it are not run. They must be finite.
        - ``grad``: build an autograd graph (for training interventions such as DAS).
        - ``cache_grad=True`` (with ``grad=True``): each cached activation is in the graph, also on a
          frozen model, so ``torch.autograd.grad(metric(out.logits), out.cache[site])`` is the
          gradient of the metric at that site.
        - ``grads``: site names whose gradient to record (with ``grad=True``): call ``backward()`` on a
          scalar computed from the outputs, then ``out.grads[site]`` holds ``d scalar / d activation``,
          shaped like the activation (see :mod:`interp.graph.gradients`).
        - ``keep_kv``: also return every layer's keys and values (``out.key_values``), from which
          :meth:`resume` can finish later runs of the same inputs (Hugging Face causal LMs only).

        >>> hm = __import__("interp").models.tiny("llama")
        >>> out = hm.run("The keys", grad=True, grads=["resid_post.0"])
        >>> out.last_logits[0].max().backward()
        >>> out.grads["resid_post.0"].shape == (1, out.batch.width, hm.d_model)
        True
        """
        with model_lock(self.model):  # sites resolve, hooks attach and the model runs while no other thread's do
            return self._run(inputs, interventions, cache, stop_at, start_at, logits, grad, cache_grad, grads,
                             padding_side, keep_kv)

    def _run(self, inputs, interventions, cache, stop_at, start_at, logits, grad, cache_grad, grads, padding_side,
             keep_kv) -> RunOutput:
        interventions = intervention_list(interventions)
        cache = cache_sites(self, cache)  # "all", patterns, canonical names (interp.graph.cache)
        gradients = GradientCache(site_list(grads, "grads"))
        if (cache_grad or gradients.sites) and not grad:
            asked = "cache_grad=True" if cache_grad else f"grads={gradients.sites}"
            raise InputError(f"{asked} needs grad=True: gradients come from this run's autograd graph")
        if keep_kv and not self.can_resume:
            raise InputError(f"keep_kv=True needs {resume_requirement(self)}")
        if start_at is not None:
            start_at = start_value(start_at)
        if stop_at is not None:
            check_stop(self, stop_at, interventions, cache, gradients.sites)
        batch = self._batch(inputs, padding_side)
        handlers, store = self.handler_table(batch, interventions, cache, cache_grad=cache_grad,
                                             grads=gradients if gradients.sites else None)
        stop = stop_binding(self, stop_at, logits, handlers)
        pattern_modules = [b.module for b in handlers if b.name.startswith("pattern.")]
        with ExitStack() as stack:
            stack.enter_context(torch.enable_grad() if grad else torch.no_grad())
            if pattern_modules:
                stack.enter_context(pattern_attention(self, pattern_modules))
            if start_at is not None:
                stack.enter_context(started_at(self, *start_at, batch))
            stack.enter_context(attached(handlers, batch=batch, stop=stop))
            try:
                if keep_kv:
                    output = self.model(**batch.model_kwargs(self.device), use_cache=True)
                else:
                    output = self._call(self.model, batch if batch is not None else inputs)
            except StopForward:
                return RunOutput(None, store, batch, stopped_at=stop.name, grads=gradients)
        key_values = key_values_of(output) if keep_kv else None
        return RunOutput(logits_of(output), store, batch, key_values=key_values, grads=gradients)

    @property
    def is_hf_causal_lm(self) -> bool:
        """Whether runs call a Hugging Face causal LM's own forward (token ids in, logits out)."""
        return self._call is call_hf

    @property
    def can_resume(self) -> bool:
        """Whether :meth:`resume` (and ``run(keep_kv=True)``) work: a Hugging Face causal LM with an
        adapter whose forward takes a KV cache (``cache`` or ``past_key_values``, as the installed
        transformers names it), ``position_ids`` and ``logits_to_keep``. See :mod:`interp.graph.resume`."""
        return resume_support(self).ok

    def resume(
        self,
        inputs: Inputs,
        *,
        start_at: tuple[str, Tensor],
        key_values: Sequence[tuple[Tensor, Tensor]] | None = None,
        from_token: int = 0,
        hooks: dict[str, Handler | list[Handler]] | None = None,
    ) -> RunOutput:
        """Finish a run of ``inputs`` from cached activations: only the layers from ``start_at`` on,
        only the tokens from ``from_token`` on, the keys and values of an earlier run of the same
        inputs standing in for the tokens before it. Logits at each example's last real token only.

        A patch of token ``p`` at layer ``L`` cannot change layers below ``L`` or tokens before
        ``p``: resuming at ``resid_pre.L`` from token ``p`` recomputes exactly what it can change.

        >>> hm = __import__("interp").models.tiny("llama")
        >>> base = hm.run("The keys to the cabinet", cache=["resid_pre.1"], keep_kv=True)
        >>> out = hm.resume(base.batch, start_at=("resid_pre.1", base.cache["resid_pre.1"]),
        ...                 key_values=base.key_values, from_token=3)
        >>> out.logits.shape[1], torch.allclose(out.last_logits, base.last_logits, atol=1e-5)
        (1, True)

        - ``start_at=(site, activations)``: ``embed``, ``resid_pre.L`` or ``resid_post.L``, for every
          token ``[batch, pos, d_model]`` or for the tokens from ``from_token`` on only.
        - ``key_values``: per layer ``(keys, values)`` ``[batch, kv_heads, ≥ from_token, d_head]``,
          e.g. ``hm.run(inputs, keep_kv=True).key_values`` (rows picked to match ``inputs``); only
          the first ``from_token`` tokens are read. Needed when ``from_token > 0``.
        - ``hooks``: ``{site: handler}`` as in :meth:`hooks`; handlers see the tokens from
          ``from_token`` on only (index ``i`` is token ``from_token + i``).

        Returns a :class:`RunOutput` with ``logits`` ``[batch, 1, vocab]``. Needs ``hm.can_resume``.
        """
        logits = resume(self, inputs, start_at=start_at, key_values=key_values, from_token=from_token, hooks=hooks)
        return RunOutput(logits, batch=None)

    def handler_table(self, batch: Batch | None, interventions: Sequence[Any] = (), cache: Iterable[str] = (), *,
                      cache_grad: bool = False, grads: GradientCache | None = None,
                      ) -> tuple[dict[Binding, list[Handler]], ActivationCache]:
        """Bind ``interventions`` to ``batch`` and add cache handlers (:func:`interp.graph.handlers.handler_table`)."""
        return handler_table(self, batch, interventions, cache, cache_grad=cache_grad, grads=grads)

    def generate(self, prompts: Inputs, *, interventions: Sequence[Any] = (), max_new_tokens: int = 20,
                 where: str = "prompt", **generate_kwargs):
        """Generate with interventions and the KV cache on; see :func:`interp.graph.generation.generate`.

        ``where``: ``"prompt"`` (intervene on the prompt positions), ``"new"`` (every new token) or
        ``"all"``.
        """
        return generation.generate(self, prompts, interventions=interventions, max_new_tokens=max_new_tokens,
                        where=where, **generate_kwargs)

    @contextmanager
    def hooks(self, handlers: dict[str, Handler | list[Handler]], batch: Batch | None = None) -> Iterator[dict]:
        """Attach handlers to sites while you call ``hm.model`` yourself (e.g. ``generate``).

        The block holds the model's lock (:mod:`interp.graph.locking`): runs on this model from other
        threads wait until it ends, so they neither see these handlers nor add theirs to your calls.

        >>> hm = __import__("interp").models.tiny("gpt2")
        >>> seen = []
        >>> with hm.hooks({"resid_post.0": lambda act, ctx: seen.append(act.shape)}):
        ...     _ = hm.model(**hm.tokenize("hello there").model_kwargs("cpu"))
        >>> len(seen)
        1
        """
        with model_lock(self.model):  # sites resolve and hooks attach while no other thread's do
            if not isinstance(handlers, Mapping):
                raise InputError(f"hooks() takes {{site: handler}}, e.g. {{'resid_post.0': handler}}; "
                                 f"got {type(handlers).__name__}")
            table: dict[Binding, list[Handler]] = {}
            for site, site_handlers in handlers.items():
                listed = site_handlers if isinstance(site_handlers, list) else [site_handlers]
                for handler in listed:
                    if not callable(handler):
                        raise InputError(f"the handler for {site!r} is {type(handler).__name__} {handler!r:.40}, not a "
                                         "function; a handler is called as handler(activation, context) and returns a "
                                         "tensor or None")
                table.setdefault(self.binding(site), []).extend(listed)
            for binding in list(table):
                for needed in binding.needs:
                    table.setdefault(self.binding(needed), [])
            with attached(table, batch=batch) as state:
                yield state

    # ----------------------------------------------------------------- helpers
    def _batch(self, inputs: Any, padding_side: str) -> Batch | None:
        if isinstance(inputs, Batch) or isinstance(inputs, str):
            return self.tokenize(inputs, padding_side)
        if self.tokenizer is not None or is_hf(self.model):
            if isinstance(inputs, Tensor) and inputs.is_floating_point():
                raise InputError("token ids must be integers; got a floating-point tensor")
            return self.tokenize(inputs, padding_side)
        return None  # any other nn.Module takes its inputs as they are


__all__ = ["ActivationCache", "HookedModel", "RunOutput", "canonical_names", "READ_ONLY_KINDS"]
