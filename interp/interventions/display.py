"""The HTML view of an intervention (its ``_repr_html_``), for Jupyter."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from interp.display import html_table, html_title, shape_text
from interp.interventions import positions as P


def intervention_html(intervention) -> str:
    """The intervention's config fields and the shapes of its tensors, one row each.

    >>> import torch
    >>> from interp.interventions import Steer
    >>> html = Steer("resid_post.0", torch.ones(64), alpha=2.0)._repr_html_()
    >>> "alpha" in html and "64" in html
    True
    """
    defaults = {"heads": "all", "source_positions": "same as positions", "source_site": "same as site"}
    rows: list[tuple[str, Any]] = []
    for name in intervention.fields:
        value = getattr(intervention, name)
        if value is None and name in defaults:
            value = defaults[name]
        elif name.endswith("positions"):
            value = P.describe(value)
        elif isinstance(value, Tensor):
            value = f"tensor {shape_text(value)}"
        rows.append((name, value))
    source = getattr(intervention, "source", None)
    if source is not None and "source" not in intervention.fields:
        rows.append(("source", repr(source)))
    tensors = {**intervention._parameters, **intervention._buffers}
    tensors.update({name: getattr(module, "weight", None) for name, module in intervention._modules.items()})
    tensors.update({name: getattr(intervention, name) for name in intervention.tensor_fields})
    for name, tensor in tensors.items():
        if isinstance(tensor, Tensor):
            trainable = " (trainable)" if tensor.requires_grad else ""
            rows.append((name, f"tensor {shape_text(tensor)}{trainable}"))
    return html_title(type(intervention).__name__) + html_table(rows, header=["field", "value"])
