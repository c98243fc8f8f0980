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
directly, outside a ``hm.hooks(...)`` block, takes no lock and is not protected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from interp.errors import InputError, SiteError
from interp.graph.adapters import Dims, Layout, build_bindings, layout_for
from interp.graph.bindings import Binding
from interp.graph.checks import intervention_list, site_list, start_value
from interp.graph.gradients import GradientCache, tracking_handler
from interp.graph.inputs import Batch, Inputs, check_fits, tokenize
from interp.graph.locking import model_lock
from interp.graph.resume import cache_kwargs, key_values_of, resume_support
from interp.graph.runner import Handler, StopForward, _input_set, attached
from interp.graph.sites import (
    ALL_KINDS,
    READ_ONLY_KINDS,
    RESUMABLE_KINDS,
    canonical_names,
    kind_rank,
    nearest,
    parse_site,
)


class ActivationCache(dict):
    """Site name -> activation tensor. A missing site says which sites were cached.

    ``batch`` is the :class:`Batch` the activations came from (so that positions in them can be
    counted in that run's real tokens, e.g. by a patch that reads this cache as its source).
    """

    batch: Batch | None = None

    def __missing__(self, key):
        raise SiteError(f"site {key!r} was not cached in this run; cached sites: {sorted(self)}")


@dataclass
class RunOutput:
    """What :meth:`HookedModel.run` returns.

    ``logits``: ``[batch, pos, vocab]`` (None when the run stopped early);
    ``cache``: the requested activations; ``batch``: the tokenised inputs;
    ``grads``: the gradient at each ``grads=[...]`` site, filled when you call ``backward()``;
    ``key_values``: per layer ``(keys, values)``, each ``[batch, kv_heads, pos, d_head]``, when the
    run was asked to keep them (``keep_kv=True``), for :meth:`HookedModel.resume`.
    """

    logits: Tensor | None
    cache: ActivationCache = field(default_factory=ActivationCache)
    batch: Batch | None = None
    stopped_at: str | None = None
    key_values: list[tuple[Tensor, Tensor]] | None = field(default=None, repr=False)
    grads: GradientCache = field(default_factory=lambda: GradientCache([]), repr=False)

    @property
    def last_logits(self) -> Tensor:
        """``[batch, vocab]`` logits at each example's last real token."""
        if self.logits is None:
            raise InputError(f"this run stopped early at {self.stopped_at!r} and computed no logits")
        if self.batch is None:
            return self.logits[:, -1]
        return self.logits[torch.arange(self.batch.size), self.batch.last_index.to(self.logits.device)]

    def __repr__(self) -> str:
        shape = None if self.logits is None else tuple(self.logits.shape)
        cached = {name: tuple(t.shape) for name, t in self.cache.items()}
        return f"RunOutput(logits={shape}, cache={cached})"

    def _repr_html_(self) -> str:
        from interp.display import run_output_html

        return run_output_html(self)


class HookedModel:
    """A model with canonical sites. Build it with :func:`interp.wrap` or :func:`interp.load`."""

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
        self._bindings: dict[str, Binding] = bindings or {}
        self.dims = Dims.from_config(self.config) if self.layout is not None else None
        self.name = name or getattr(self.config, "name_or_path", None) or type(model).__name__
        self.revision = revision
        self._call = call or (_call_hf if _is_hf(model) else _call_module)

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
        from interp.display import hooked_model_html

        return hooked_model_html(self)

    @staticmethod
    def _kind_rank(kind: str) -> int:
        return kind_rank(kind)

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
                raise SiteError(
                    f"the {self.family} architecture has no {parsed.kind!r} sites{why}; "
                    f"it has: {', '.join(sorted(kinds, key=self._kind_rank))}"
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
        - ``cache``: a list of site names to keep, each the value the model actually used (after any
          intervention at that site); detached unless ``cache_grad=True``.
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
        cache = site_list(cache, "cache")
        gradients = GradientCache(site_list(grads, "grads"))
        if (cache_grad or gradients.sites) and not grad:
            asked = "cache_grad=True" if cache_grad else f"grads={gradients.sites}"
            raise InputError(f"{asked} needs grad=True: gradients come from this run's autograd graph")
        if keep_kv and not self.can_resume:
            raise InputError(f"keep_kv=True needs {self._resume_requirement()}")
        if start_at is not None:
            start_at = start_value(start_at)
        if stop_at is not None:
            self._check_stop(stop_at, interventions, cache, gradients.sites)
        batch = self._batch(inputs, padding_side)
        handlers, store = self.handler_table(batch, interventions, cache, cache_grad=cache_grad,
                                             grads=gradients if gradients.sites else None)
        stop = self._stop_binding(stop_at, logits, handlers)
        needs_eager = any(b.name.startswith("pattern.") for b in handlers)
        with ExitStack() as stack:
            stack.enter_context(torch.enable_grad() if grad else torch.no_grad())
            if needs_eager:
                stack.enter_context(self._eager_attention())
            if start_at is not None:
                stack.enter_context(self._start_from(*start_at, batch))
            stack.enter_context(attached(handlers, batch=batch, stop=stop))
            try:
                if keep_kv:
                    output = self.model(**batch.model_kwargs(self.device), use_cache=True)
                else:
                    output = self._call(self.model, batch if batch is not None else inputs)
            except StopForward:
                return RunOutput(None, store, batch, stopped_at=stop.name, grads=gradients)
        key_values = key_values_of(output) if keep_kv else None
        return RunOutput(_logits_of(output), store, batch, key_values=key_values, grads=gradients)

    @property
    def is_hf_causal_lm(self) -> bool:
        """Whether runs call a Hugging Face causal LM's own forward (token ids in, logits out)."""
        return self._call is _call_hf

    @property
    def can_resume(self) -> bool:
        """Whether :meth:`resume` (and ``run(keep_kv=True)``) work: a Hugging Face causal LM with an
        adapter whose forward takes a KV cache (``cache`` or ``past_key_values``, as the installed
        transformers names it), ``position_ids`` and ``logits_to_keep``. See :mod:`interp.graph.resume`."""
        return resume_support(self).ok

    def _resume_requirement(self) -> str:
        return (f"a Hugging Face causal LM whose forward takes a KV cache, position_ids and logits_to_keep; "
                f"{self.name} is not one ({resume_support(self).reason}; hm.can_resume is False): "
                f"use hm.run(start_at=...) over full sequences")

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
        if not self.can_resume:
            raise InputError(f"resume needs {self._resume_requirement()}")
        site, value = start_value(start_at)
        batch = self._batch(inputs, "right")
        if not 0 <= from_token < batch.width:
            raise InputError(f"from_token={from_token} is outside the inputs' {batch.width} tokens")
        if (batch.last_index < from_token).any():
            short = (batch.last_index < from_token).nonzero().flatten().tolist()
            raise InputError(f"examples {short} end before from_token={from_token}: nothing of them is left to run")
        if value.ndim >= 2 and value.shape[1] == batch.width:
            value = value[:, from_token:]
        if value.ndim < 2 or tuple(value.shape[:2]) != (batch.size, batch.width - from_token):
            raise InputError(
                f"start_at activations have shape {tuple(value.shape)}, but the inputs are [batch={batch.size}, "
                f"pos={batch.width}] (or [batch={batch.size}, pos={batch.width - from_token}] from token {from_token})"
            )
        past = None
        if from_token:
            if key_values is None or len(key_values) != self.n_layers:
                got = "none" if key_values is None else f"{len(key_values)} layers"
                raise InputError(f"from_token={from_token} needs key_values for all {self.n_layers} layers; got {got}")
            past = [(k[:, :, :from_token], v[:, :, :from_token]) for k, v in key_values]
        device = self.device
        position_ids = (torch.arange(batch.width)[None, :] - batch.offsets[:, None]).clamp(min=0)[:, from_token:]
        last = (batch.last_index - from_token)[:, None]
        with model_lock(self.model), torch.no_grad(), self.hooks(hooks or {}, batch=batch), \
                self._start_from(site, value, None):
            output = self.model(
                input_ids=batch.input_ids[:, from_token:].to(device), attention_mask=batch.attention_mask.to(device),
                position_ids=position_ids.to(device), logits_to_keep=last.to(device),
                **cache_kwargs(resume_support(self), past))
        return RunOutput(output.logits, batch=None)

    def handler_table(self, batch: Batch | None, interventions: Sequence[Any] = (), cache: Iterable[str] = (), *,
                      cache_grad: bool = False, grads: GradientCache | None = None,
                      ) -> tuple[dict[Binding, list[Handler]], ActivationCache]:
        """Bind ``interventions`` to ``batch`` (every check runs here) and add cache handlers.

        Returns ``({binding: [handler, ...]}, cache)``: what :meth:`run` attaches as hooks, and
        what another executor (e.g. an nnsight trace, :mod:`interp.graph.adapters.nnsight_trace`)
        can call at the same sites; the cache fills as the handlers run. With ``cache_grad`` or
        ``grads`` (a :class:`GradientCache` to fill in backward), those sites are tracked in the
        autograd graph (:func:`interp.graph.gradients.tracking_handler`), after the interventions
        there and before the cache reads them.
        """
        handlers: dict[Binding, list[Handler]] = {}
        for intervention in interventions:
            binding = self.binding(_site_of(intervention))
            if not binding.writable:
                raise SiteError(f"site {binding.name!r} is read-only: interventions cannot write to it")
            bound = intervention.bind(self, batch) if hasattr(intervention, "bind") else intervention
            handlers.setdefault(binding, []).append(bound)
        tracked = [*(cache if cache_grad else ()), *(grads.sites if grads is not None else ())]
        self._add_tracking(handlers, tracked, grads)
        store = ActivationCache()
        store.batch = batch
        for name in cache:
            handlers.setdefault(self.binding(name), []).append(_cache_handler(store, name, cache_grad))
        for binding in list(handlers):
            for needed in binding.needs:
                handlers.setdefault(self.binding(needed), [])
        return handlers, store

    def _add_tracking(self, handlers: dict[Binding, list[Handler]], sites: list[str],
                      grads: GradientCache | None) -> None:
        """Track ``sites`` in the autograd graph (once each); a read-only site (``pattern.L``) is
        reached through ``resid_pre.L``, tracked too."""
        record: dict[Binding, list[str]] = {}
        for name in sites:
            binding = self.binding(name)
            if not binding.writable and binding.layer is not None:
                record.setdefault(self.binding(f"resid_pre.{binding.layer}"), [])
            names = record.setdefault(binding, [])
            if grads is not None and name in grads.sites and name not in names:
                names.append(name)
        for binding, names in sorted(record.items(), key=lambda item: item[0].order or 0):
            handlers.setdefault(binding, []).append(tracking_handler(binding, names, grads))

    def generate(self, prompts: Inputs, *, interventions: Sequence[Any] = (), max_new_tokens: int = 20,
                 where: str = "prompt", **generate_kwargs):
        """Generate with interventions and the KV cache on; see :func:`interp.interventions.generate`.

        ``where``: ``"prompt"`` (intervene on the prompt positions), ``"new"`` (every new token) or
        ``"all"``.
        """
        from interp.interventions.generation import generate

        return generate(self, prompts, interventions=interventions, max_new_tokens=max_new_tokens,
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
        if self.tokenizer is not None or _is_hf(self.model):
            if isinstance(inputs, Tensor) and inputs.is_floating_point():
                raise InputError("token ids must be integers; got a floating-point tensor")
            return self.tokenize(inputs, padding_side)
        return None  # any other nn.Module takes its inputs as they are

    def _check_stop(self, stop_at: str, interventions: list, cache: list[str], grads: list[str]) -> None:
        """A site the run is asked to cache, or an intervention, after ``stop_at`` is an :class:`InputError`."""
        stop = self.binding(stop_at)
        if stop.order is None:
            return  # a module-path site has no known place in the graph
        for name in [*cache, *grads]:
            binding = self.binding(name)
            if binding.order is not None and binding.order > stop.order:
                raise InputError(f"stop_at={stop_at!r} ends the run before {name!r}, which it is asked to "
                                 f"{'cache' if name in cache else 'record the gradient of'}; stop at {name!r} (or "
                                 f"later), or drop {name!r}")
        for intervention in interventions:
            site = _site_of(intervention)
            binding = self.binding(site)
            if binding.order is not None and binding.order > stop.order:
                raise InputError(f"the {type(intervention).__name__} at {site!r} comes after stop_at={stop_at!r}: the "
                                 f"run would end before it acts; stop at {site!r} (or later), or drop it")

    def _stop_binding(self, stop_at: str | None, logits: bool, handlers: dict[Binding, list]) -> Binding | None:
        if stop_at is not None:
            binding = self.binding(stop_at)
            handlers.setdefault(binding, [])
            return binding
        if logits:
            return None
        ordered = [b for b in handlers if b.order is not None]
        if not ordered or len(ordered) < len(handlers):
            return None  # a module-path site has no known place in the graph: run to the end
        return max(ordered, key=lambda b: b.order)

    @contextmanager
    def _eager_attention(self) -> Iterator[None]:
        config = self.config
        if config is None or not hasattr(config, "_attn_implementation"):
            raise SiteError(
                "pattern sites need eager attention, which interp switches on per run through the "
                f"model's config; {self.family} has no attention-implementation setting"
            )
        with model_lock(self.model):
            previous = config._attn_implementation
            if previous == "eager":
                yield
                return
            config._attn_implementation = "eager"
            try:
                yield
            finally:
                config._attn_implementation = previous

    @contextmanager
    def _start_from(self, site: str, value: Tensor, batch: Batch | None) -> Iterator[None]:
        binding = self.binding(site)
        kind = binding.name.split(".")[0]
        if kind not in RESUMABLE_KINDS or self.layout is None:
            raise SiteError(
                f"a run can start from {', '.join(RESUMABLE_KINDS[:2])}.L or resid_post.L, not {site!r}"
            )
        first = 0 if kind == "embed" else binding.layer + (kind == "resid_post")
        if batch is not None and tuple(value.shape[:2]) != (batch.size, batch.width):
            raise InputError(
                f"start_at activations have shape {tuple(value.shape)}, but the inputs are "
                f"[batch={batch.size}, pos={batch.width}]"
            )

        def replace(module, args, kwargs):
            return _input_set((args, kwargs), 0, value)

        with model_lock(self.model):  # the layer list is read and swapped back under the lock
            parent_path, _, attribute = self.layout.layers.rpartition(".")
            parent = self.model.get_submodule(parent_path)
            layers = getattr(parent, attribute)
            entry = layers[first] if first < len(layers) else self.model.get_submodule(self.layout.final_norm)
            handle = entry.register_forward_pre_hook(replace, with_kwargs=True, prepend=True)
            if first:
                setattr(parent, attribute, nn.ModuleList(list(layers)[first:]))
            try:
                yield
            finally:
                setattr(parent, attribute, layers)
                handle.remove()


def _site_of(intervention: Any) -> str:
    site = getattr(intervention, "site", None)
    if not isinstance(site, str):
        raise InputError(f"an intervention needs a 'site' attribute naming where it acts; got {intervention!r}")
    return site


def _cache_handler(store: ActivationCache, name: str, keep_grad: bool) -> Handler:
    def handler(act: Tensor, context) -> None:
        store[name] = act if keep_grad else act.detach()

    return handler


def _is_hf(model: nn.Module) -> bool:
    try:
        from transformers import PreTrainedModel
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, PreTrainedModel)


def input_device(model: nn.Module) -> torch.device:
    """The device a model's token ids must be on: its input embedding's, also when a
    ``device_map`` spread the layers over devices (or offloaded them, leaving ``meta`` weights)."""
    embeddings = getattr(model, "get_input_embeddings", lambda: None)()
    weight = getattr(embeddings, "weight", None)
    if isinstance(weight, Tensor) and weight.device.type != "meta":
        return weight.device
    for parameter in model.parameters():
        if parameter.device.type != "meta":
            return parameter.device
    return torch.device("cpu")  # every weight offloaded: accelerate moves them to the inputs' device


def _call_hf(model: nn.Module, batch: Batch) -> Any:
    return model(**batch.model_kwargs(input_device(model)), use_cache=False)


def _call_module(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Batch):
        return model(inputs.input_ids.to(input_device(model)))
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


def _logits_of(output: Any) -> Tensor | None:
    if isinstance(output, Tensor):
        return output
    if getattr(output, "logits", None) is not None:
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    return None


__all__ = ["ActivationCache", "HookedModel", "RunOutput", "canonical_names", "READ_ONLY_KINDS"]
