"""Rich HTML views of the toolkit's objects, for Jupyter (``_repr_html_`` delegates here).

It imports nothing from ``interp``: it reads the objects it renders by their attributes, so every
package may use it (interventions render through :mod:`interp.interventions.display`, which needs
their position specs).

A notebook cell that ends in a :class:`~interp.HookedModel`, an intervention, a
:class:`~interp.RunOutput` or an evaluator's result shows a small table instead of a one-line
repr. Every piece of text is HTML-escaped (site names such as ``model.layers.3.mlp:output`` and
prompts with ``<``/``&`` appear as written).

>>> from interp.display import html_table
>>> print(html_table([["resid_post.3", "1×6×576"]], header=["site", "shape"]))
<table><thead><tr><th>site</th><th>shape</th></tr></thead><tbody><tr><td>resid_post.3</td><td>1×6×576</td></tr></tbody></table>
>>> "&lt;b&gt;" in html_table([["<b>"]])
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

SUMMARY_METRICS = ("odds_ratio", "iia", "selectivity", "behaviour")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def html_table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, caption: str | None = None) -> str:
    """An HTML table of ``rows`` (cells are escaped; floats shown with 4 significant digits)."""
    head = ""
    if header is not None:
        head = "<thead><tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in header) + "</tr></thead>"
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = "" if caption is None else f"<caption>{escape(caption)}</caption>"
    return f"<table>{cap}{head}<tbody>{body}</tbody></table>"


def html_title(kind: str, detail: str = "") -> str:
    """The bold class name, then ``detail`` in code type (both escaped)."""
    return f"<b>{escape(kind)}</b>" + (f" <code>{escape(detail)}</code>" if detail else "")


def shape_text(tensor: Any) -> str:
    """``"2×6×64"`` for a tensor (anything with ``.shape``), ``"—"`` otherwise."""
    shape = getattr(tensor, "shape", None)
    return "×".join(map(str, shape)) if shape is not None else "—"


# ------------------------------------------------------------------------------ HookedModel
def hooked_model_html(hm) -> str:
    """Name, family, dimensions and a compact per-kind site summary (count, first and last name).

    >>> import interp
    >>> html = interp.models.tiny("llama")._repr_html_()
    >>> "resid_post" in html and "d_model" in html
    True
    """
    facts = [("family", hm.family)]
    if hm.dims is not None:
        d = hm.dims
        facts += [("layers", d.n_layers), ("d_model", d.d_model), ("heads", d.n_heads),
                  ("kv heads", d.n_kv_heads), ("d_head", d.d_head)]
    else:
        facts.append(("sites", "no adapter: module-path sites only, e.g. 'PATH:output'"))
    if next(hm.model.parameters(), None) is not None:  # a parameter-free module has neither
        facts += [("dtype", str(hm.dtype).replace("torch.", "")), ("device", hm.device)]
    names = hm.sites()
    by_kind: dict[str, list[str]] = {}
    for name in names:
        by_kind.setdefault(name.split(".")[0], []).append(name)
    kinds = [kind for kind in hm.site_kinds() if kind in by_kind]
    site_rows = [(kind, len(by_kind[kind]), by_kind[kind][0] if len(by_kind[kind]) == 1
                  else f"{by_kind[kind][0]} … {by_kind[kind][-1]}") for kind in kinds]
    out = html_title("HookedModel", str(hm.name)) + html_table(facts)
    if site_rows:
        out += html_table(site_rows, header=["site kind", "count", "names"], caption=f"{len(names)} sites")
    return out


# ------------------------------------------------------------------------------ RunOutput
def run_output_html(out) -> str:
    """Logits shape, where the run stopped, and every cached site with its shape and dtype.

    >>> import interp
    >>> hm = interp.models.tiny("gpt2")
    >>> "z.1" in hm.run("The keys", cache=["z.1"])._repr_html_()
    True
    """
    facts = [("logits", "none (stopped early)" if out.logits is None else shape_text(out.logits))]
    if out.stopped_at:
        facts.append(("stopped at", out.stopped_at))
    if out.batch is not None:
        facts.append(("batch", f"{out.batch.size} examples × {out.batch.width} tokens"))
    html = html_title("RunOutput") + html_table(facts)
    if out.cache:
        rows = [(site, shape_text(t), str(getattr(t, "dtype", "")).replace("torch.", ""))
                for site, t in out.cache.items()]
        html += html_table(rows, header=["cached site", "shape", "dtype"])
    return html


# ------------------------------------------------------------------------------ evaluator results
def _interval(value: float, low: float, high: float) -> str:
    if low != low or high != high:  # NaN: no interval
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def causal_efficacy_html(result, max_rows: int = 30) -> str:
    """Per-method summary (mean over tasks, 95 % intervals) and the size of the per-unit table.

    >>> import pandas as pd
    >>> from interp.eval import CausalEfficacyResult
    >>> summary = pd.DataFrame([{"task": "all", "method": "das", "metric": "iia", "value": 0.9,
    ...                          "ci_low": 0.8, "ci_high": 1.0}])
    >>> "0.900 [0.800, 1.000]" in CausalEfficacyResult(pd.DataFrame(), summary, [])._repr_html_()
    True
    """
    summary = result.summary
    title = html_title("CausalEfficacyResult", f"{len(result.results)} result rows, {len(result.records)} units")
    if result.out is not None:
        title += f" in <code>{escape(str(result.out))}</code>"
    if summary is None or len(summary) == 0:
        return title + "<p>empty summary</p>"
    overall = summary[summary.task == "all"]
    if len(overall) == 0:
        overall = summary
    metrics = [m for m in SUMMARY_METRICS if m in set(overall.metric)]
    metrics += [m for m in dict.fromkeys(overall.metric) if m not in metrics]
    methods = list(dict.fromkeys(overall.method))
    cells = {(r.method, r.metric): _interval(r.value, r.ci_low, r.ci_high) for r in overall.itertuples()}
    rows = [[method, *(cells.get((method, metric), "") for metric in metrics)] for method in methods[:max_rows]]
    caption = "mean over test pairs → max over positions → mean over layers → mean over tasks (95 % CI)"
    return title + html_table(rows, header=["method", *metrics], caption=caption)


def syntaxgym_html(result) -> str:
    """Accuracy per suite and prediction (``all`` = every prediction holds for the item).

    >>> import pandas as pd
    >>> from interp.eval import SyntaxGymResult
    >>> summary = pd.DataFrame([{"suite": "number_pp", "prediction": "all", "value": 0.75, "n": 8}])
    >>> "0.75" in SyntaxGymResult(pd.DataFrame(), pd.DataFrame(), summary)._repr_html_()
    True
    """
    summary = result.summary
    columns = [c for c in ("suite", "prediction", "formula", "value", "n") if c in summary.columns]
    rows = summary[columns].itertuples(index=False)
    header = ["accuracy" if c == "value" else c for c in columns]
    regions = result.regions
    n_items = len(regions[["suite", "item"]].drop_duplicates()) if {"suite", "item"} <= set(regions.columns) else 0
    n_suites = summary["suite"].nunique()
    title = f"{n_suites} suite{'' if n_suites == 1 else 's'}, {n_items} item{'' if n_items == 1 else 's'}"
    return html_title("SyntaxGymResult", title) + html_table(
        rows, header=header)
