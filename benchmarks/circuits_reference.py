"""interp's EAP and EAP-IG edge scores side by side with the reference implementation (hannamw/EAP-IG).

    .venv/bin/python benchmarks/circuits_reference.py --eap-ig-path /tmp/eapig_target [--model smollm2|tiny]
        [--pairs 8] [--steps 5] [--dtype float32|float64] [--threads 1]

The reference (distribution ``eap``, github.com/hannamw/EAP-IG; not the unrelated ``eap`` on PyPI) is not a
dependency. Install it outside the project's venv, without its dependencies (the venv has them)::

    git clone https://github.com/hannamw/EAP-IG /tmp/eapig_src
    .venv/bin/pip install --no-deps --target /tmp/eapig_target /tmp/eapig_src

Without ``--eap-ig-path`` (or ``eap`` on ``PYTHONPATH``) the script says this and exits 0.

**The model.** ``--model smollm2`` (default): the embedded SmolLM2-135M-Instruct, ``tiny``: interp's tiny random
Llama (2 layers, 4 heads). Both are Hugging Face models loaded offline; the reference runs a TransformerLens
``TransformerBridge`` built over a copy of the same model (no download:
:func:`interp.graph.adapters.transformer_lens.bridge_from_hf`), interp wraps the Hugging Face model itself
(interp's circuits need the projection weights behind ``z``, which the bridge's hook points do not carry).
The reference needs ``use_attn_result``, ``use_split_qkv_input`` and ``use_hook_mlp_in`` (the bridge has them)
and, with grouped-query attention, ``ungroup_grouped_query_attention`` (one ``k``/``v`` input per query head),
which the bridge lacks; so both sides run the *ungrouped* model: each key/value projection repeated once per
query head of its group (the same function: ``repeat_kv`` does exactly this inside attention; the logits'
largest difference is printed). A second row per method checks interp's own grouped graph on the original
model: its ``k``/``v`` edge of key/value head ``g`` equals the sum of the reference's edges into the query
heads of group ``g``. The reference stores its scores in float32 (``Graph.scores``), so float64 agrees to ~1e-9.

**The conventions, matched.** Both graphs have the nodes ``input``, ``a{L}.h{H}``, ``m{L}``, ``logits`` and the
same edges, with the same names (``a0.h1->a1.h2<q>``, ``m0->logits``): every upstream node into each later
``q``/``k``/``v`` of a head, MLP and the logits, and a layer's heads into its own MLP. A head's output is its
``z`` through its slice of the output projection (the reference's ``attn.hook_result``), without the projection's
bias (a constant, so it cancels in every difference). The input node is the token embedding (``hook_embed``;
interp: ``resid_pre.0``, the same tensor in Llama). A downstream input is the residual stream before the layer's
norm (``hook_q_input``, ``hook_mlp_in``, ``resid_post`` of the last layer for the logits), so the norms sit inside
the gradients on both sides. Scores: ``Σ_pos (a_u(corrupted) − a_u(clean)) · ∂metric/∂(input of v)``, the metric
the logit difference ``logit(target) − logit(baseline)`` at the last real token, summed over pairs and divided by
the number of pairs on both sides. EAP-IG over the inputs: the embeddings interpolated
``corrupted + k/m · (clean − corrupted)`` for ``k = 0 … m − 1`` on both sides, gradients averaged over the m steps.

**What the script changes in the reference at run time** (its code is not copied): TransformerLens 4 removed
``HookedTransformer``/``HookedTransformerConfig`` and ``transformer_lens.utils``, which the reference imports (for
type hints and ``isinstance``, and ``get_attention_mask``): stand-ins are registered before the import. Its score
matrices are allocated on ``device='cuda'``: on a machine without CUDA they go to the model's device. Its
``tokenize_plus`` (``to_tokens`` with a prepended BOS) is replaced by interp's tokenisation of the same strings
(right-padded, the same ids, mask, lengths), so both sides read identical tokens.

**Not compared: EAP-IG over activations**, whose definitions differ: the reference interpolates each node group's
output at ``k/m`` for ``k = 1 … m`` (interp: ``k = 0 … m − 1``), *replaces* it by a constant (no gradient flows
back through that group, interp keeps the path scaled by ``k/m``), and adds every run's gradients into *every*
edge's score, dividing by (groups × m) (interp scores a group's edges only with that group interpolated).

Measured (SmolLM2, float32, 8 agreement pairs, m = 5, 123,211 edges of the ungrouped graph): EAP's largest
difference 1.5e-6 (scores up to 1.65), EAP-IG-inputs' 1.9e-6 (scores up to 4.38), Spearman 1.000000 for both;
the grouped graph (70,651 edges) 1.7e-6 and 3.3e-6. The tiny model in float64: under 4e-9.

The last line printed is JSON, also written to benchmarks/results/circuits_reference.json.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import sys
import time
import types
from pathlib import Path

import torch

import interp
from interp.circuits import Task, edge_scores
from interp.circuits.tasks import from_causalgym, same_length
from interp.interventions import spearman

sys.path.insert(0, str(Path(__file__).parent))
from _report import print_table, report  # noqa: E402

HOW_TO_GET = """The EAP-IG reference is not importable. To compare with it:
    git clone https://github.com/hannamw/EAP-IG /tmp/eapig_src
    .venv/bin/pip install --no-deps --target /tmp/eapig_target /tmp/eapig_src
    .venv/bin/python benchmarks/circuits_reference.py --eap-ig-path /tmp/eapig_target"""

METHODS = {"eap": "EAP", "eap-ig-inputs": "EAP-IG-inputs"}  # interp's name -> the reference's


# ----------------------------------------------------------------------------- the reference, on TL 4
def import_reference(path: str | None):
    """``eap.attribute`` and ``eap.graph`` with TransformerLens 4 stand-ins, or None when not installed."""
    if path:
        sys.path.insert(0, path)
    import transformer_lens
    from transformer_lens.utilities.tokenize_utils import get_attention_mask

    for name in ("HookedTransformer", "HookedTransformerConfig"):  # type hints and isinstance only
        try:
            getattr(transformer_lens, name)
        except (AttributeError, ImportError):  # TransformerLens 4 raises ImportError for the removed names
            setattr(transformer_lens, name, type(name, (), {}))
    if "transformer_lens.utils" not in sys.modules:
        sys.modules["transformer_lens.utils"] = types.SimpleNamespace(get_attention_mask=get_attention_mask)
    try:
        return importlib.import_module("eap.attribute"), importlib.import_module("eap.graph")
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] == "eap":
            return None
        raise


class _TorchOn:
    """``torch`` as the reference's module sees it: ``device='cuda'`` allocations go to ``device``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __getattr__(self, name: str):
        return getattr(torch, name)

    def zeros(self, *shape, device=None, **kwargs):
        return torch.zeros(*shape, device=self.device if device == "cuda" else device, **kwargs)


def adapt_reference(attribute, hm, device: torch.device) -> None:
    """Point the reference's tokeniser at interp's and its 'cuda' allocations at ``device`` (if no CUDA)."""

    def tokenize_plus(model, inputs, max_length=None):
        batch = hm.tokenize(list(inputs))
        mask = batch.attention_mask.to(device)
        return batch.input_ids.to(device), mask, mask.sum(1), mask.size(1)

    attribute.tokenize_plus = tokenize_plus
    if not torch.cuda.is_available():
        attribute.torch = _TorchOn(device)


def logit_diff(logits, clean_logits, input_lengths, label):
    """The reference's metric signature: logit(target) − logit(baseline) at the last real token, summed."""
    last = logits[torch.arange(len(logits)), input_lengths.to(logits.device) - 1]  # [pairs, vocab]
    label = label.to(logits.device)
    return (last.gather(1, label[:, :1]) - last.gather(1, label[:, 1:])).sum()


def reference_scores(attribute, eap_graph, bridge, task: Task, answers, method: str, steps: int) -> dict:
    """Edge name -> the reference's score on ``task`` (one batch)."""
    graph = eap_graph.Graph.from_model({"n_layers": bridge.cfg.n_layers, "n_heads": bridge.cfg.n_heads,
                                        "parallel_attn_mlp": False, "d_model": bridge.cfg.d_model})
    loader = [(list(task.clean), list(task.corrupted), answers)]
    attribute.attribute(bridge, graph, loader, logit_diff, method=METHODS[method], ig_steps=steps, quiet=True)
    return {name: float(edge.score) for name, edge in graph.edges.items()}


# ----------------------------------------------------------------------------- the models
def ungrouped(model):
    """The same model with one key/value head per query head (each group's projection repeated)."""
    config = copy.deepcopy(model.config)
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    config.num_key_value_heads = heads
    config._attn_implementation = "eager"
    twin = type(model)(config).to(model.dtype).eval()
    state = model.state_dict()
    for key, value in state.items():
        if ".k_proj." in key or ".v_proj." in key:
            state[key] = value.reshape(kv, -1, *value.shape[1:]).repeat_interleave(heads // kv, 0).flatten(0, 1)
    twin.load_state_dict(state)
    return twin


def models(name: str, dtype: torch.dtype):
    """``(grouped interp model, ungrouped interp model, bridge over a copy of the ungrouped one)``."""
    from interp.graph.adapters.transformer_lens import bridge_from_hf

    hm = interp.load(dtype=dtype) if name == "smollm2" else interp.models.tiny("llama")
    hm.model.to(dtype)
    hm.model.set_attn_implementation("eager")
    twin = ungrouped(hm.model)
    bridge = bridge_from_hf(copy.deepcopy(twin))
    bridge.set_use_attn_result(True)
    bridge.set_use_split_qkv_input(True)
    bridge.set_use_hook_mlp_in(True)
    bridge.cfg.ungroup_grouped_query_attention = True  # it is: one k/v head per query head
    bridge.cfg.dtype = dtype
    return hm, interp.wrap(twin, hm.tokenizer), bridge


def task_for(hm, name: str, pairs: int) -> Task:
    if name == "smollm2":
        return same_length(hm, from_causalgym("builtin:agreement", "agr_sv_num_pp", n=4 * pairs), warn=False).subset(
            range(pairs))
    nouns = ("dog", "man", "key", "cat", "box", "car", "boy", "girl")
    clean = tuple(f"The {a} near the" for a in nouns)
    corrupted = tuple(f"The {b} near the" for b in nouns[1:] + nouns[:1])
    toy = same_length(hm, Task("toy", clean, corrupted, (" is",) * len(nouns), (" are",) * len(nouns)), warn=False)
    return toy.subset(range(min(pairs, len(toy))))

# ----------------------------------------------------------------------------- comparing
def compare(interp_scores: dict, reference: dict) -> dict:
    if set(interp_scores) != set(reference):
        only = sorted(set(interp_scores) ^ set(reference))[:5]
        raise SystemExit(f"the two graphs have different edges ({len(interp_scores)} vs {len(reference)}), e.g. {only}")
    names = sorted(reference)
    a = torch.tensor([interp_scores[n] for n in names], dtype=torch.float64)
    b = torch.tensor([reference[n] for n in names], dtype=torch.float64)
    worst = int((a - b).abs().argmax())
    return {"edges": len(names), "max_abs_score": float(b.abs().max()), "max_abs_diff": float((a - b).abs().max()),
            "worst_edge": names[worst], "spearman": spearman(a, b)}


def grouped_reference(reference: dict, heads: int, kv: int) -> dict:
    """The reference's per-query-head ``k``/``v`` edges summed over each key/value group (interp's grouped graph)."""
    out: dict[str, float] = {}
    for name, score in reference.items():
        up, down = name.split("->")
        if down.endswith(("<k>", "<v>")):
            layer, head = down[1:-3].split(".h")
            down = f"a{layer}.h{int(head) // (heads // kv)}{down[-3:]}"
        out[f"{up}->{down}"] = out.get(f"{up}->{down}", 0.0) + score
    return out


def by_name(scores) -> dict:
    return {row.edge: float(row.score) for row in scores.table().itertuples()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eap-ig-path", help="folder holding the reference's `eap` package (pip --target)")
    parser.add_argument("--model", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5, help="EAP-IG steps m (both sides)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    reference = import_reference(args.eap_ig_path)
    if reference is None:
        print(HOW_TO_GET)
        return
    attribute, eap_graph = reference
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    grouped_hm, hm, bridge = models(args.model, dtype)
    adapt_reference(attribute, hm, next(bridge.parameters()).device)
    task = task_for(hm, args.model, args.pairs)
    clean, _, answers = task.encode(hm)
    with torch.no_grad():
        logits = {"grouped": grouped_hm.run(clean).last_logits, "ungrouped": hm.run(clean).last_logits}
        full = bridge(clean.input_ids, attention_mask=clean.attention_mask)
        logits["bridge"] = full[torch.arange(len(full)), clean.lengths - 1]
    gap = lambda a, b: float((logits[a] - logits[b]).abs().max())  # noqa: E731
    print(f"model: {args.model} ({hm.name}, {hm.n_layers} layers x {hm.n_heads} heads, {args.dtype}), "
          f"{len(task)} pairs of {task.name}, m = {args.steps}")
    print(f"last-token logits, max |difference|: ungrouped vs grouped {gap('ungrouped', 'grouped'):.2e}, "
          f"bridge vs ungrouped {gap('bridge', 'ungrouped'):.2e}")
    rows, results = [], {}
    for method in METHODS:
        start = time.perf_counter()
        ref = reference_scores(attribute, eap_graph, bridge, task, answers, method, args.steps)
        ref_seconds = time.perf_counter() - start
        start = time.perf_counter()
        ours = by_name(edge_scores(hm, task, method=method, steps=args.steps, batch_size=len(task)))
        our_seconds = time.perf_counter() - start
        grouped = by_name(edge_scores(grouped_hm, task, method=method, steps=args.steps, batch_size=len(task)))
        for variant, scores, against in (
                ("ungrouped model", ours, ref),
                ("grouped model (k/v summed per group)", grouped,
                 grouped_reference(ref, hm.n_heads, grouped_hm.n_kv_heads))):
            result = compare(scores, against)
            if variant.startswith("ungrouped"):
                result.update(interp_seconds=round(our_seconds, 2), reference_seconds=round(ref_seconds, 2))
            results[f"{method} / {variant}"] = result
            rows.append((method, variant, result["edges"], f"{result['max_abs_score']:.3g}",
                         f"{result['max_abs_diff']:.2e}", f"{result['spearman']:.6f}", result["worst_edge"]))
    print_table(rows, ("method", "interp on", "edges", "max |score|", "max |diff|", "Spearman", "worst edge"))
    report("circuits_reference", {
        "model": args.model, "dtype": args.dtype, "pairs": len(task), "task": task.name, "steps": args.steps,
        "logits_gap": {"ungrouped_vs_grouped": gap("ungrouped", "grouped"),
                       "bridge_vs_ungrouped": gap("bridge", "ungrouped")},
        "methods": results})


if __name__ == "__main__":
    main()
