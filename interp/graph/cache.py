"""What ``hm.run(..., cache=...)`` keeps: ``"all"``, site names, and patterns; keys normalised.

- ``cache="all"``: every canonical site of the model (``hm.sites()``, ``pattern`` included: caching
  it leaves an SDPA or eager run bit for bit; see :mod:`interp.graph.attention`).
- ``"resid_post.*"``: that kind at every layer; ``"z.3:6"``: layers 3, 4 and 5 (a Python slice:
  ``"z.-2:"`` is the last two, ``"z.:2"`` the first two); any other ``*``/``?`` is a shell-style
  wildcard over the site names (``"*.0"``: every site of layer 0).
- Names with a negative layer are stored under their canonical name (``resid_post.-1`` is
  ``resid_post.1`` on a two-layer model), and a cache finds either spelling.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> cache_sites(hm, ["resid_post.*", "z.-1", "attn_out.0:1"])
['resid_post.0', 'resid_post.1', 'z.1', 'attn_out.0']
>>> out = hm.run("The keys", cache=["resid_post.-1"])
>>> list(out.cache), out.cache["resid_post.-1"] is out.cache["resid_post.1"]
(['resid_post.1'], True)
>>> len(hm.run("The keys", cache="all").cache) == len(hm.sites())
True
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from interp.errors import InputError, SiteError
from interp.graph.checks import site_list
from interp.graph.sites import Site

_RANGE = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<start>-?\d*):(?P<stop>-?\d*)$")


def cache_sites(hm, cache: Any) -> list[str]:
    """``cache`` (``"all"``, or a list of names and patterns) as canonical names, in the order given,
    each once. Names that are not canonical sites (module paths, values an intervention publishes)
    are kept as they are."""
    if isinstance(cache, str) and cache == "all":
        if not hm.sites():
            raise SiteError(f"{hm.family} has no adapter, so it has no canonical sites for cache='all'; "
                            "list module-path sites instead")
        return list(hm.sites())
    names: list[str] = []
    for name in site_list(cache, "cache"):
        names += _expanded(hm, name)
    return list(dict.fromkeys(names))


def _expanded(hm, name: str) -> list[str]:
    if match := _RANGE.match(name):
        layers = range(hm.n_layers)[slice(*(int(match[p]) if match[p] else None for p in ("start", "stop")))]
        sites = [f"{match['kind']}.{layer}" for layer in layers]
        missing = [site for site in sites if site not in hm.sites()]
        if not sites or missing:
            hm.binding(missing[0] if missing else f"{match['kind']}.0")  # the error says what exists
            raise InputError(f"cache pattern {name!r} selects no layers of {hm.n_layers}")
        return sites
    if "*" in name or "?" in name:
        matched = fnmatch.filter(hm.sites(), name)
        if not matched:
            kinds = sorted({site.split(".")[0] for site in hm.sites()})
            raise SiteError(f"cache pattern {name!r} matches no site of {hm.name}; its kinds: {', '.join(kinds)} "
                            "(e.g. 'resid_post.*', 'z.3:6')")
        return matched
    return [canonical_name(hm, name)]


def canonical_name(hm, name: str) -> str:
    """The name a cache stores ``name`` under: a canonical site's own name (``resid_post.-1`` ->
    ``resid_post.L``); any other name (a module path, a published value) as it is."""
    try:
        site = Site.parse(name)
    except SiteError:
        return name
    if site.layer is None or site.layer >= 0 or not hm.sites():
        return name
    return hm.binding(name).name


__all__ = ["cache_sites", "canonical_name"]
