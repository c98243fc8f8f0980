"""Exact edge patching and faithfulness: patching every out-edge of a node equals patching the node (float64),
the empty circuit is the corrupted run and the full circuit the clean one, batched equals one edge per
forward, no hooks stay behind."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.circuits import Graph, Task, ablate_outside, edge_scores, faithfulness_curve, greedy, patch_edges, top_n
from interp.circuits.patching import Prepared
from interp.interventions import Patch

TOY = Task("toy", ("The dog near the", "The man near the"), ("The key near the", "The dog near the"),
           (" is", " is"), (" are", " are"))


def _double(family):
    hm = interp.models.tiny(family)
    hm.model.double()
    return hm


@pytest.mark.parametrize("family", ["gpt2", "neox", "llama", "qwen2"])
def test_all_out_edges_of_a_node_equal_patching_the_node(family):
    hm = _double(family)
    graph = Graph.of(hm)
    prepared = Prepared.of(hm, TOY)
    clean, corrupted, _ = TOY.encode(hm)
    source = hm.run(corrupted, cache=["z.0", "mlp_out.0"]).cache
    for up, patch in ((graph.head_up(0, 1), Patch("z.0", source=source, heads=[1])),
                      (graph.mlp_up(0), Patch("mlp_out.0", source=source))):
        circuit = graph.mask.clone()
        circuit[up] = False  # ablate every edge out of `up`
        edges_ablated = ablate_outside(hm, TOY, circuit, prepared=prepared)
        node = prepared.metric(hm.run(clean, interventions=[patch]).last_logits, torch.arange(len(TOY)))
        assert float(edges_ablated[0]) == pytest.approx(float(node.mean()), abs=1e-10)


@pytest.mark.parametrize("family", ["gpt2", "llama", "gemma", "mistral", "phi3", "gptj", "granite", "qwen3", "falcon",
                                    "opt"])
def test_empty_circuit_is_corrupted_and_full_is_clean(family):
    hm = _double(family)
    graph = Graph.of(hm)
    prepared = Prepared.of(hm, TOY)
    full, empty = ablate_outside(hm, TOY, torch.stack([graph.mask, torch.zeros_like(graph.mask)]), prepared=prepared)
    assert float(full) == pytest.approx(float(prepared.clean_metric.mean()), abs=1e-10)
    assert float(empty) == pytest.approx(float(prepared.corrupted_metric.mean()), abs=1e-10)
    if family in ("gpt2", "llama"):  # the curve's ends, on two families
        curve = faithfulness_curve(hm, TOY, edge_scores(hm, TOY), sizes=[0, graph.n_edges])
        assert curve.faithfulness.tolist() == pytest.approx([0.0, 1.0], abs=1e-9)


def test_single_edge_patch_equals_the_edge_alone_and_batched_equals_serial():
    hm = _double("llama")
    graph = Graph.of(hm)
    edges = graph.edges[::7]
    prepared = Prepared.of(hm, TOY)
    batched = patch_edges(hm, TOY, edges, prepared=prepared)
    serial = patch_edges(hm, TOY, edges, prepared=prepared, edges_per_batch=1)
    assert torch.allclose(batched.patched, serial.patched, atol=1e-10)
    for i, edge in enumerate(edges[:4]):
        circuit = graph.mask.clone()
        circuit[edge] = False
        alone = ablate_outside(hm, TOY, circuit, prepared=prepared)
        assert float(batched.patched[i]) == pytest.approx(float(alone[0]), abs=1e-10)


def test_circuits_are_pruned_and_no_hooks_leak():
    hm = interp.models.tiny("gpt2")
    before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in hm.model.modules())
    scores = edge_scores(hm, TOY, method="eap-ig-activations", steps=2)
    graph = scores.graph
    for circuit in (top_n(scores, 15), greedy(scores, 15)):
        assert 0 < int(circuit.sum()) <= 15
        assert bool(circuit[:, graph.logits_down].any())
    mean_curve = faithfulness_curve(hm, TOY, scores, sizes=[5, 30], mode="mean")
    assert mean_curve.faithfulness.isfinite().all()
    after = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in hm.model.modules())
    assert after == before
    import numpy as np  # circuit sizes are whole numbers of edges; numpy integers are fine
    assert torch.equal(top_n(scores, np.int64(15)), top_n(scores, 15))
    for bad, message in ((True, "must be an integer, not True"), (2.5, "must be an integer, not 2.5"),
                         (-1, "at least 0; got -1")):
        for select in (top_n, greedy):
            with pytest.raises(interp.InputError, match=message):
                select(scores, bad)  # True was one edge, 2.5 a raw TypeError, -1 the empty circuit
        with pytest.raises(interp.InputError, match=message):
            faithfulness_curve(hm, TOY, scores, sizes=[bad])
    with pytest.raises(interp.InputError, match="at least one circuit size"):
        faithfulness_curve(hm, TOY, scores, sizes=[])


@pytest.mark.parametrize("family", ["gemma2", "olmo2"])
def test_sandwich_norms_say_why_heads_are_not_nodes(family):
    with pytest.raises(interp.errors.SiteError, match="sandwich"):
        Prepared.of(interp.models.tiny(family), TOY)


@pytest.mark.parametrize("family,mode", [("gpt2", "corrupted"), ("neox", "mean"), ("qwen2", "corrupted")])
def test_resumed_edge_patching_equals_the_channel_forward(family, mode):
    from interp.circuits.patching import edge_plan

    hm = _double(family)
    graph = Graph.of(hm)
    prepared = Prepared.of(hm, TOY, mode=mode)
    edges = graph.edges[::3]  # q, k, v, MLP (same-layer heads too) and logits inputs of every layer
    fast = patch_edges(hm, TOY, edges, prepared=prepared, edges_per_batch=8).patched
    channels = prepared.run(hm, edge_plan(graph, edges, len(TOY))).reshape(len(edges), len(TOY)).double().mean(1)
    assert torch.allclose(fast, channels.cpu(), atol=1e-10)


@pytest.mark.parametrize("family,mode", [("gpt2", "corrupted"), ("llama", "mean"), ("neox", "corrupted"),
                                         ("qwen2", "corrupted"), ("granite", "corrupted"), ("phi3", "mean")])
def test_layer_by_layer_ablation_equals_the_channel_forward(family, mode):
    hm = _double(family)
    graph = Graph.of(hm)
    prepared = Prepared.of(hm, TOY, mode=mode)
    generator = torch.Generator().manual_seed(0)
    random = [graph.mask & (torch.rand(graph.mask.shape, generator=generator) < share) for share in (0.1, 0.5, 0.9)]
    late = graph.mask.clone()
    late[:, : graph.per_layer_down] = False  # only edges into layer 0 kept: the layer path starts at layer 1
    late = ~late & graph.mask
    circuits = torch.stack([*random, late, graph.mask, torch.zeros_like(graph.mask), random[1]])
    layers = ablate_outside(hm, TOY, circuits, prepared=prepared, circuits_per_batch=3)
    channels = ablate_outside(hm, TOY, circuits, prepared=prepared, path="channels")
    assert torch.allclose(layers, channels, atol=1e-10)
    assert float(layers[4]) == float(prepared.clean_metric.double().mean())  # the full circuit is the clean run
    assert float(layers[6]) == float(layers[1])  # identical circuits, one value


def test_faithfulness_curve_ends_are_exactly_one_and_zero():
    hm = interp.models.tiny("llama")  # float32: exact by construction, not by tolerance
    scores = edge_scores(hm, TOY)
    curve = faithfulness_curve(hm, TOY, scores, sizes=[0, 7, scores.graph.n_edges])
    assert curve.faithfulness[0] == 0.0 and curve.faithfulness[-1] == 1.0
