"""EAP scores against the gradient times the difference computed by hand, on tiny models."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.circuits import Graph, Task, edge_scores
from interp.circuits.nodes import NodeOutputs, head_blocks

TOY = Task("toy", ("The dog near the", "The man near the"), ("The key near the", "The dog near the"),
           (" is", " is"), (" are", " are"))


def _metric(hm, logits):
    is_, are = hm.tokenizer(" is")["input_ids"][-1], hm.tokenizer(" are")["input_ids"][-1]
    return (logits[:, is_] - logits[:, are]).sum()


def _diff(hm, up: int, graph: Graph) -> torch.Tensor:
    clean_b, corr_b, _ = TOY.encode(hm)
    clean, corr = NodeOutputs.of(hm, clean_b), NodeOutputs.of(hm, corr_b)
    if up == 0:
        return corr.embed - clean.embed
    layer, slot = divmod(up - 1, graph.per_layer_up)
    if slot == graph.n_heads:
        return corr.mlp[layer] - clean.mlp[layer]
    return (corr.z[layer] - clean.z[layer])[:, :, slot] @ head_blocks(hm)[layer][slot]


@pytest.mark.parametrize("family", ["gpt2", "neox", "llama", "qwen2"])
def test_eap_into_logits_and_mlp_equals_grad_times_difference(family):
    hm = interp.models.tiny(family)
    graph = Graph.of(hm)
    scores = edge_scores(hm, TOY, method="eap").values
    last = hm.n_layers - 1
    batch = TOY.encode(hm)[0]
    out = hm.run(batch, grad=True, grads=[f"resid_post.{last}"])
    _metric(hm, out.last_logits).backward()
    grad = out.grads[f"resid_post.{last}"]
    for up in (0, graph.head_up(0, 1), graph.mlp_up(0), graph.head_up(last, 2)):
        by_hand = (_diff(hm, up, graph) * grad).sum() / len(TOY)
        assert float(scores[up, graph.logits_down]) == pytest.approx(float(by_hand), rel=1e-4, abs=1e-7)


def test_eap_into_q_and_mlp_of_llama_by_hand():
    hm = interp.models.tiny("llama")
    graph = Graph.of(hm)
    scores = edge_scores(hm, TOY, method="eap").values
    batch = TOY.encode(hm)[0]
    layer = hm.model.model.layers[1]
    out = hm.run(batch, grad=True, cache=["resid_pre.1", "resid_mid.1"], grads=["q.1", "k.1", "mlp_out.1"])
    _metric(hm, out.last_logits).backward()
    x = out.cache["resid_pre.1"].detach().requires_grad_()
    q = layer.self_attn.q_proj(layer.input_layernorm(x)).unflatten(-1, (hm.n_heads, hm.d_head))
    (g_q,) = torch.autograd.grad(q[:, :, 2], x, out.grads["q.1"][:, :, 2])
    k = layer.self_attn.k_proj(layer.input_layernorm(x)).unflatten(-1, (hm.n_kv_heads, hm.d_head))
    (g_k,) = torch.autograd.grad(k[:, :, 1], x, out.grads["k.1"][:, :, 1])
    mid = out.cache["resid_mid.1"].detach().requires_grad_()
    (g_mlp,) = torch.autograd.grad(layer.mlp(layer.post_attention_layernorm(mid)), mid, out.grads["mlp_out.1"])
    for up in (0, graph.head_up(0, 3), graph.mlp_up(0)):
        diff = _diff(hm, up, graph)
        for down, grad in ((graph.down_index(1, "q", 2), g_q), (graph.down_index(1, "k", 1), g_k),
                           (graph.down_index(1, "mlp"), g_mlp)):
            by_hand = (diff * grad).sum() / len(TOY)
            assert float(scores[up, down]) == pytest.approx(float(by_hand), rel=1e-4, abs=1e-7)
    head = graph.head_up(1, 0)  # a head of the same layer into its MLP
    by_hand = (_diff(hm, head, graph) * g_mlp).sum() / len(TOY)
    assert float(scores[head, graph.down_index(1, "mlp")]) == pytest.approx(float(by_hand), rel=1e-4, abs=1e-7)


def test_ig_with_one_step_is_the_gradient_at_the_corrupted_input():
    hm = interp.models.tiny("gpt2")
    one = edge_scores(hm, TOY, method="eap-ig-inputs", steps=1).values
    swapped = Task("swap", TOY.corrupted, TOY.clean, TOY.target, TOY.baseline)
    eap_at_corrupted = -edge_scores(hm, swapped, method="eap").values
    assert torch.allclose(one, eap_at_corrupted, atol=1e-6)


def test_graph_counts_and_gqa():
    graph = Graph.of(interp.models.tiny("llama"))  # 2 layers, 4 heads, 2 key/value heads
    assert graph.per_layer_down == 4 + 2 * 2 + 1
    assert graph.down_name(graph.down_index(1, "k", 1)) == "a1.h1<k>"
    assert graph.n_edges == int(graph.mask.sum()) == len(graph.edges)
    parallel = Graph.of(interp.models.tiny("neox"))
    assert parallel.parallel and not parallel.mask[parallel.head_up(0, 0), parallel.down_index(0, "mlp")]
