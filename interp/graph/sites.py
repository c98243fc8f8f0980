"""Site names: the vocabulary shared by every architecture, and :class:`Site`, a parsed name.

Canonical sites, in execution order within a layer ``L``::

    embed
    resid_pre.L  q.L  k.L  v.L  z.L  head_out.L  pattern.L  attn_out.L  resid_mid.L  router.L  mlp_post.L  mlp_out.L
    resid_post.L
    logits

- ``embed``: the residual stream entering layer 0 (after any embedding scale or multiplier, so
  ``embed == resid_pre.0``).
- ``q``/``k``/``v``: ``batch × pos × head × d_head`` projections' outputs, before any per-head q/k
  norm (qwen3, olmo2, gemma3) and before rotary embeddings; ``k``/``v`` have one entry per key/value
  head under grouped-query attention. Fused projections are sliced per head.
- ``attn_out``/``mlp_out``: what the branch adds to the residual stream (after a sandwich post-norm,
  times a residual multiplier); ``resid_mid = resid_pre + attn_out`` (absent with parallel
  attention + MLP, where ``resid_post = resid_pre + attn_out + mlp_out``).
- ``router``: mixture-of-experts layers, ``batch × pos × n_experts`` router probabilities
  (read-only); a sparse layer has ``mlp_out`` but no ``mlp_post``.
- ``mixer_out``: state-space models (mamba), what a block's mixer adds to the stream; they have no
  attention or MLP sites.
- ``logits``: the output logits (after the family's soft-cap or logit scale); on a classification
  head, that head's output at every position.
- ``z``: ``batch × pos × head × d_head``, the per-head attention output, i.e. the *input* of the
  attention output projection.
- ``head_out``: ``batch × pos × head × d_model``, each head's ``z`` through its slice of the output
  projection (times a residual multiplier): summed over heads, ``attn_out`` minus the projection's bias
  (before the post-norm on sandwich-norm families; :mod:`interp.graph.adapters.head_out`).
- ``pattern``: ``batch × head × query_pos × key_pos`` attention probabilities, read-only, as the
  family's eager attention computes them (rows sum to 1, less a sink's share on gpt_oss). Caching it
  leaves the rest of an SDPA or eager run bit-identical; under flash/flex attention (and Falcon) the
  run switches to eager attention and moves by float rounding (:mod:`interp.graph.attention`).
- ``mlp_post``: ``batch × pos × d_mlp``, the neurons (input of the MLP output projection).
- everything else: ``batch × pos × d_model``.

Any module path is a site too: ``"model.layers.3.mlp:output"`` or ``"...:input"``.

A :class:`Site` is the name, parsed once: it *is* the string (equal to it, same hash, usable as a
dict key and anywhere a site name is taken) and carries its parts.

>>> site = Site.parse("resid_post.10")
>>> site.kind, site.layer, site == "resid_post.10", str(site)
('resid_post', 10, True, 'resid_post.10')
>>> site.at(3)
Site('resid_post.3')
>>> parse_site("model.layers.3.mlp:input")
Site('model.layers.3.mlp:input')
>>> parse_site("model.layers.3.mlp:input").module, parse_site("model.layers.3.mlp:input").io
('model.layers.3.mlp', 'input')
>>> {"resid_post.3": 1.0}[Site.of("resid_post", 3)]
1.0
>>> parse_site("resid_post.01")  # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.SiteError: 'resid_post.01' is not a site name: the layer must be written in ASCII digits ...
"""

from __future__ import annotations

import difflib
import operator
import re
from typing import Any

from interp.errors import SiteError

# ------------------------------------------------------------------------------ kinds (the one list)
GLOBAL_KINDS_BEFORE = ("embed",)
LAYER_KINDS = (  # every attention decoder's
    "resid_pre", "q", "k", "v", "z", "head_out", "pattern", "attn_out", "resid_mid", "mlp_post", "mlp_out",
    "resid_post",
)
FAMILY_KINDS = ("mixer_out", "router")  # only some families': state-space mixers, mixture-of-experts routers
PER_LAYER_KINDS = (  # execution order
    "resid_pre", "q", "k", "v", "z", "head_out", "pattern", "attn_out", "mixer_out", "resid_mid", "router", "mlp_post",
    "mlp_out", "resid_post",
)
GLOBAL_KINDS_AFTER = ("logits",)
ALL_KINDS = GLOBAL_KINDS_BEFORE + PER_LAYER_KINDS + GLOBAL_KINDS_AFTER  # execution order
READ_ONLY_KINDS = frozenset({"pattern", "router"})
HEAD_KINDS = ("q", "k", "v", "z", "head_out")  # batch × pos × head × d_head (head_out: × d_model)
KV_HEAD_KINDS = ("k", "v")  # one entry per key/value head under grouped-query attention
# d_model wide, per layer
LAYER_RESIDUAL_KINDS = ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "mixer_out")
RESIDUAL_KINDS = ("embed", *LAYER_RESIDUAL_KINDS)  # batch × pos × d_model
RESUMABLE_KINDS = ("embed", "resid_pre", "resid_post")  # a run can start from these

_LAYER_SITE = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<layer>-?\d+)$")
_MODULE_SITE = re.compile(r"^(?P<module>[A-Za-z0-9_.]*):(?P<io>input|output)$")


def kind_rank(kind: str) -> int:
    """Position of ``kind`` in execution order (unknown kinds last): a sort key for kinds.

    >>> sorted(["logits", "z", "embed"], key=kind_rank)
    ['embed', 'z', 'logits']
    """
    return ALL_KINDS.index(kind) if kind in ALL_KINDS else len(ALL_KINDS)


# ------------------------------------------------------------------------------ the value
class Site(str):
    """A site name parsed once: ``kind`` (a canonical kind, or ``"module"`` for a raw module path),
    ``layer`` (int, may be negative: from the end; None for ``embed``/``logits``/modules),
    ``module`` and ``io`` (for module paths). ``Site(name)`` and :meth:`parse` validate the name.

    >>> Site("z.-1").layer, Site("embed").layer, Site("z.0").per_head, Site("pattern.1").read_only
    (-1, None, True, True)
    >>> site = Site("z.0"); Site.parse(site) is site  # a Site is returned as it is
    True
    >>> import interp
    >>> hm = interp.models.tiny("llama")
    >>> Site("z.0").shape(hm), Site("resid_post.1").shape(hm), Site("pattern.0").shape(hm)
    ((4, 16), (64,), None)
    """

    __slots__ = ("kind", "layer", "module", "io")
    kind: str
    layer: int | None
    module: str | None
    io: str | None

    def __new__(cls, name: str) -> Site:
        if isinstance(name, Site):
            kind, layer, module, io = name.kind, name.layer, name.module, name.io
        else:
            kind, layer, module, io = _split(name)
        site = super().__new__(cls, name)
        site.kind, site.layer, site.module, site.io = kind, layer, module, io
        return site

    @classmethod
    def parse(cls, name: str | Site) -> Site:
        """The :class:`Site` named ``name`` (a :class:`SiteError` saying what is wrong if it names none)."""
        return name if type(name) is cls else cls(name)

    @classmethod
    def of(cls, kind: str, layer: int | None = None) -> Site:
        """The canonical site of ``kind`` at ``layer`` (no layer for ``embed`` and ``logits``).

        >>> Site.of("resid_post", 3), Site.of("logits")
        (Site('resid_post.3'), Site('logits'))
        """
        if layer is None:
            return cls(kind)
        if isinstance(layer, bool) or not isinstance(layer, int):
            layer = _integer_layer(layer, kind)
        if kind not in PER_LAYER_KINDS:
            raise SiteError(f"{kind!r} is not a per-layer site kind; choose one of {', '.join(PER_LAYER_KINDS)}")
        return cls(f"{kind}.{layer}")

    def at(self, layer: int) -> Site:
        """The same kind of site at another layer (``Site("z.3").at(5) == "z.5"``)."""
        if self.layer is None:
            raise SiteError(f"{str(self)!r} is not a per-layer site, so it has no version at layer {layer}")
        return Site.of(self.kind, layer)

    @property
    def per_head(self) -> bool:
        """True for ``q``/``k``/``v``/``z`` (``batch × pos × head × d_head``) and ``head_out`` (``× d_model``)."""
        return self.kind in HEAD_KINDS

    @property
    def read_only(self) -> bool:
        """True for sites that can be read but not written (``pattern``)."""
        return self.kind in READ_ONLY_KINDS

    def shape(self, hm: Any) -> tuple[int, ...] | None:
        """Trailing dims of this site's activation in ``hm`` (after batch and pos), or None if unknown
        (module paths, ``pattern``, ``logits``, a model without an adapter)."""
        if hm.dims is None or self.kind == "module":
            return None
        if self.kind in RESIDUAL_KINDS:
            return (hm.d_model,)
        if self.kind == "head_out":
            return (hm.n_heads, hm.d_model)
        if self.kind in KV_HEAD_KINDS:
            return (hm.n_kv_heads, hm.d_head)
        if self.kind in HEAD_KINDS:
            return (hm.n_heads, hm.d_head)
        if self.kind == "mlp_post":
            config = hm.config
            width = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None)
            return (width or 4 * hm.d_model,)
        return None

    def __repr__(self) -> str:
        return f"Site({str.__repr__(self)})"

    def __str__(self) -> str:
        return str.__str__(self)

    def __reduce__(self) -> tuple[type, tuple[str]]:  # pickles (worker processes) as its name
        return (Site, (str.__str__(self),))

    def __copy__(self) -> Site:
        return self

    def __deepcopy__(self, memo: dict) -> Site:
        return self


def parse_site(name: str | Site) -> Site:
    """The :class:`Site` named ``name``; raises :class:`SiteError` on malformed names."""
    return Site.parse(name)


def _integer_layer(layer: Any, kind: str) -> int:
    try:
        return operator.index(layer)  # numpy and torch integers
    except TypeError:
        raise SiteError(f"the layer of a {kind!r} site must be an integer, not {layer!r}") from None


def _split(name: str) -> tuple[str, int | None, str | None, str | None]:
    """Kind, layer, module and io of a site name; raises :class:`SiteError` on malformed names."""
    if not isinstance(name, str):
        raise SiteError(f"a site name must be a string, not {type(name).__name__}: {name!r}")
    if name in GLOBAL_KINDS_BEFORE or name in GLOBAL_KINDS_AFTER:
        return name, None, None, None
    if match := _MODULE_SITE.match(name):
        return "module", None, match["module"], match["io"]
    if match := _LAYER_SITE.match(name):
        canonical = f"{match['kind']}.{int(match['layer'])}"
        if canonical != name:  # "01", "-0", or digits of another script ("١"): one spelling per site
            raise SiteError(f"{name!r} is not a site name: the layer must be written in ASCII digits without "
                            f"leading zeros (and 0 without a sign); did you mean {canonical!r}?")
        return match["kind"], int(match["layer"]), None, None
    guess = _guess(name)
    raise SiteError(
        f"{name!r} is not a site name{f'; did you mean {guess!r}?' if guess else '.'} "
        "Use a canonical site such as 'resid_post.3' or 'z.0' "
        f"(kinds: {', '.join(ALL_KINDS)}) "
        "or a module path with ':input' or ':output', e.g. 'model.layers.3.mlp:output'."
    )


_LOOSE_SITE = re.compile(r"^\s*(?P<kind>[A-Za-z_ -]*[A-Za-z])(?P<sep>[^A-Za-z0-9]*)(?P<layer>\d+)?\s*$")


def _guess(name: str) -> str | None:
    """The canonical name a malformed one probably meant (``"Resid-Post 3"`` -> ``"resid_post.3"``)."""
    if ":" in name:  # a module path with a misspelt side
        module, _, io = name.rpartition(":")
        close = difflib.get_close_matches(io.strip().lower(), ["input", "output"], n=1, cutoff=0.6)
        if close and _MODULE_SITE.match(f"{module.strip()}:{close[0]}"):
            return f"{module.strip()}:{close[0]}"
    match = _LOOSE_SITE.match(name)
    if not match:
        return None
    kind = re.sub(r"[ -]+", "_", match["kind"].strip().lower())
    layer, sep = match["layer"], match["sep"]
    if layer is not None and sep.endswith("-") and sep.rstrip("-"):  # "z.-1", "z -1": from the end
        layer = f"-{layer}"
    kinds = PER_LAYER_KINDS if layer is not None else GLOBAL_KINDS_BEFORE + GLOBAL_KINDS_AFTER
    close = difflib.get_close_matches(kind, kinds, n=1, cutoff=0.6)
    if not close:
        return None
    return close[0] if layer is None else f"{close[0]}.{int(layer)}"


def canonical_names(n_layers: int, kinds: tuple[str, ...] = LAYER_KINDS) -> list[str]:
    """All canonical site names for ``n_layers`` layers, in execution order."""
    per_layer = [f"{kind}.{layer}" for layer in range(n_layers) for kind in kinds]
    return [*GLOBAL_KINDS_BEFORE, *per_layer, *GLOBAL_KINDS_AFTER]


def nearest(name: str, candidates: list[str], n: int = 5) -> list[str]:
    """Valid names closest to a misspelt one."""
    return difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
