"""Which model an intervention was made for: saved with it, checked when it is used.

A steering vector or a DAS basis means something only in the residual stream of the model it
came from. ``intervention.save(folder, model=hm)`` records that model's name, family, width,
layers and heads (without ``model=``, the model the intervention last ran on, if any);
:func:`interp.interventions.load` reads it back, and every later run checks it:

- a different family, ``d_model``, ``n_layers`` or ``n_heads`` is an :class:`InputError` naming both
  models (the numbers would mean nothing);
- the same family and shape under another name (a fine-tune, an instruct variant, another
  revision) gives a :class:`ModelMismatchWarning` and runs: transferring a vector between such
  models is a legitimate experiment.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> identity_of(hm)
{'name': 'tiny-llama', 'family': 'Llama', 'd_model': 64, 'n_layers': 2, 'n_heads': 4}
>>> try:
...     check(identity_of(hm), interp.models.tiny("gpt2"), "Steer at resid_post.0")
... except InputError as error:
...     print(str(error).split(": ")[-1])
its family differs; build or train it again on tiny-gpt2
"""

from __future__ import annotations

import warnings
from typing import Any

from interp.errors import InputError

SHAPE = ("d_model", "n_layers", "n_heads")
KEYS = ("name", "family", *SHAPE)


class ModelMismatchWarning(UserWarning):
    """An intervention saved for one model runs on another of the same family and shape."""


def identity_of(hm) -> dict[str, Any]:
    """The model's name, family and (when it has an adapter) ``d_model``, ``n_layers``, ``n_heads``."""
    out: dict[str, Any] = {"name": str(hm.name), "family": str(hm.family)}
    if getattr(hm, "dims", None) is not None:
        out.update(d_model=int(hm.d_model), n_layers=int(hm.n_layers), n_heads=int(hm.n_heads))
    return out


def validate(saved: Any, where: str) -> dict[str, Any] | None:
    """A saved identity as read from ``config.json``; anything malformed is an :class:`InputError`."""
    if saved is None:
        return None
    if not isinstance(saved, dict) or set(saved) - set(KEYS) or not {"name", "family"} <= set(saved) or not all(
            isinstance(saved[k], str) for k in ("name", "family")) or not all(
            isinstance(saved[k], int) and not isinstance(saved[k], bool) for k in SHAPE if k in saved):
        raise InputError(f"{where}: 'model' must be {{name, family, d_model, n_layers, n_heads}}; got {saved!r}")
    return dict(saved)


def describe(identity: dict[str, Any]) -> str:
    if "d_model" not in identity:
        return f"{identity['name']} ({identity['family']})"
    return (f"{identity['name']} ({identity['family']}, d_model={identity['d_model']}, {identity['n_layers']} layers, "
            f"{identity['n_heads']} heads)")


def check(saved: dict[str, Any] | None, hm, what: str) -> None:
    """Refuse (or warn about) running an intervention saved for ``saved`` on ``hm``; see the module doc."""
    if saved is None:
        return
    here = identity_of(hm)
    differ = [k for k in ("family", *SHAPE) if k in saved and k in here and saved[k] != here[k]]
    if differ:
        names = {"family": "family", "d_model": "width (d_model)", "n_layers": "number of layers",
                 "n_heads": "number of heads"}
        raise InputError(f"{what} was saved for {describe(saved)}, not for {describe(here)}: its "
                         f"{' and '.join(names[k] for k in differ)} {'differs' if len(differ) == 1 else 'differ'}; "
                         f"build or train it again on {here['name']}")
    if saved["name"] != here["name"]:
        warnings.warn(f"{what} was saved for {saved['name']} and runs on {here['name']} (same family and shape)",
                      ModelMismatchWarning, stacklevel=4)
