"""Site names: the vocabulary shared by every architecture.

Canonical sites, in execution order within a layer ``L``::

    embed
    resid_pre.L  q.L  k.L  v.L  z.L  pattern.L  attn_out.L  resid_mid.L  mlp_post.L  mlp_out.L  resid_post.L
    logits

- ``q``/``k``/``v``: ``batch × pos × head × d_head`` projections before rotary embeddings;
  ``k``/``v`` have one entry per key/value head under grouped-query attention.
- ``z``: ``batch × pos × head × d_head``, the per-head attention output, i.e. the *input* of the
  attention output projection.
- ``pattern``: ``batch × head × query_pos × key_pos`` attention probabilities (eager attention,
  read-only).
- ``mlp_post``: ``batch × pos × d_mlp``, the neurons (input of the MLP output projection).
- everything else: ``batch × pos × d_model``.

Any module path is a site too: ``"model.layers.3.mlp:output"`` or ``"...:input"``.

>>> parse_site("resid_post.10")
SiteName(kind='resid_post', layer=10, module=None, io=None)
>>> parse_site("model.layers.3.mlp:input")
SiteName(kind='module', layer=None, module='model.layers.3.mlp', io='input')
>>> parse_site("resid_post.01")  # doctest: +ELLIPSIS
Traceback (most recent call last):
interp.errors.SiteError: 'resid_post.01' is not a site name: the layer must be written in ASCII digits ...
"""

from __future__ import annotations

import difflib
import re
from typing import NamedTuple

from interp.errors import SiteError

GLOBAL_KINDS_BEFORE = ("embed",)
LAYER_KINDS = (
    "resid_pre", "q", "k", "v", "z", "pattern", "attn_out", "resid_mid", "mlp_post", "mlp_out", "resid_post",
)
GLOBAL_KINDS_AFTER = ("logits",)
READ_ONLY_KINDS = frozenset({"pattern"})

_LAYER_SITE = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<layer>-?\d+)$")
_MODULE_SITE = re.compile(r"^(?P<module>[A-Za-z0-9_.]*):(?P<io>input|output)$")


class SiteName(NamedTuple):
    kind: str  # a canonical kind, or "module" for a raw module path
    layer: int | None
    module: str | None
    io: str | None


def parse_site(name: str) -> SiteName:
    """Split a site name into its parts; raises :class:`SiteError` on malformed names."""
    if not isinstance(name, str):
        raise SiteError(f"a site name must be a string, not {type(name).__name__}: {name!r}")
    if name in GLOBAL_KINDS_BEFORE or name in GLOBAL_KINDS_AFTER:
        return SiteName(name, None, None, None)
    if match := _MODULE_SITE.match(name):
        return SiteName("module", None, match["module"], match["io"])
    if match := _LAYER_SITE.match(name):
        canonical = f"{match['kind']}.{int(match['layer'])}"
        if canonical != name:  # "01", "-0", or digits of another script ("١"): one spelling per site
            raise SiteError(f"{name!r} is not a site name: the layer must be written in ASCII digits without "
                            f"leading zeros (and 0 without a sign); did you mean {canonical!r}?")
        return SiteName(match["kind"], int(match["layer"]), None, None)
    guess = _guess(name)
    raise SiteError(
        f"{name!r} is not a site name{f'; did you mean {guess!r}?' if guess else '.'} "
        "Use a canonical site such as 'resid_post.3' or 'z.0' "
        f"(kinds: {', '.join(GLOBAL_KINDS_BEFORE + LAYER_KINDS + GLOBAL_KINDS_AFTER)}) "
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
    kinds = LAYER_KINDS if layer is not None else GLOBAL_KINDS_BEFORE + GLOBAL_KINDS_AFTER
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
