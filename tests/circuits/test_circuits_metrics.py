"""The odds-ratio and KL metrics through EAP and EAP-IG (scores equal the gradient times the difference computed
by hand) and through exact edge patching (batched equals one edge at a time and the channel forward), and the
answer-columns unembedding edge patching uses for metrics that read only the answers."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.circuits import Graph, Task, edge_scores, patch_edges
from interp.circuits.nodes import NodeOutputs, head_blocks
from interp.circuits.patching import Prepared, edge_plan
from interp.circuits.resumed import answer_columns, unembed
from interp.interventions import Apply

TOY = Task("toy", ("The dog near the", "The man near the"), ("The key near the", "The dog near the"),
           (" is", " is"), (" are", " are"))


def _by_hand(hm, name: str, logits: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """The metric summed over pairs, written out: ``logits``/``clean`` ``[pairs, vocab]`` (clean held fixed)."""
    is_, are = hm.tokenizer(" is")["input_ids"][-1], hm.tokenizer(" are")["input_ids"][-1]
    if name == "odds_ratio":
        gap = lambda x: x.log_softmax(-1)[:, is_] - x.log_softmax(-1)[:, are]  # noqa: E731
        return (gap(clean) - gap(logits)).sum()
    reference = clean.softmax(-1)
    return (reference * (reference.log() - logits.log_softmax(-1))).sum()


def _differences(hm, graph: Graph) -> dict[int, torch.Tensor]:
    """Corrupted minus clean output ``[pairs, P, d]`` of a few upstream nodes."""
    clean_b, corr_b, _ = TOY.encode(hm)
    clean, corr = NodeOutputs.of(hm, clean_b), NodeOutputs.of(hm, corr_b)
    blocks = head_blocks(hm)
    last = hm.n_layers - 1
    return {0: corr.embed - clean.embed, graph.mlp_up(0): corr.mlp[0] - clean.mlp[0],
            graph.head_up(0, 1): (corr.z[0] - clean.z[0])[:, :, 1] @ blocks[0][1],
            graph.head_up(last, 2): (corr.z[last] - clean.z[last])[:, :, 2] @ blocks[last][2]}


def _final_gradient(hm, name: str, steps: int) -> torch.Tensor:
    """The metric's gradient at the final residual ``[pairs, P, d]``: on the clean run (``steps`` 0) or the mean
    over the EAP-IG points between the corrupted and the clean embeddings (``steps`` ≥ 1)."""
    clean_b, corr_b, _ = TOY.encode(hm)
    clean_logits = hm.run(clean_b).last_logits.detach()
    corrupted_embed = hm.run(corr_b, cache=["resid_pre.0"]).cache["resid_pre.0"]
    site = f"resid_post.{hm.n_layers - 1}"
    total = 0
    for alpha in ([1.0] if steps == 0 else [k / steps for k in range(steps)]):
        mix = Apply("resid_pre.0", lambda act, ctx, a=alpha: corrupted_embed + a * (act - corrupted_embed))
        out = hm.run(clean_b, interventions=[mix], grad=True, grads=[site])
        _by_hand(hm, name, out.last_logits, clean_logits).backward()
        total = total + out.grads[site]
    return total / max(steps, 1)


def _tiny_float64(family: str):
    hm = interp.models.tiny(family)
    hm.model.double()
    return hm, Graph.of(hm)


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("name", ["odds_ratio", "kl"])
def test_eap_and_eap_ig_with_odds_ratio_and_kl_equal_grad_times_difference(family, name):
    hm, graph = _tiny_float64(family)
    diffs = _differences(hm, graph)
    for method, steps in (("eap", 0), ("eap-ig-inputs", 3)):
        scores = edge_scores(hm, TOY, method=method, metric=name, steps=max(steps, 1)).values
        grad = _final_gradient(hm, name, steps)
        for up, diff in diffs.items():
            by_hand = (diff * grad).sum() / len(TOY)
            assert float(scores[up, graph.logits_down]) == pytest.approx(float(by_hand), rel=1e-6, abs=1e-12)
    if name == "kl":  # KL(clean ‖ run) is smallest at the clean run: EAP's gradient there is 0, EAP-IG's is not
        eap = edge_scores(hm, TOY, method="eap", metric="kl").values
        assert float(eap.abs().max()) < 1e-9
        assert float(edge_scores(hm, TOY, method="eap-ig-inputs", metric="kl", steps=3).values.abs().max()) > 1e-6


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("name", ["odds_ratio", "kl"])
def test_edge_patching_with_odds_ratio_and_kl_batched_equals_serial_and_channels(family, name):
    hm, graph = _tiny_float64(family)
    prepared = Prepared.of(hm, TOY, metric=name)
    assert (prepared.columns is None) == (name == "kl")  # the odds-ratio reads only the answers' logits
    edges = graph.edges[::5]
    batched = patch_edges(hm, TOY, edges, prepared=prepared, edges_per_batch=8).patched
    serial = patch_edges(hm, TOY, edges, prepared=prepared, edges_per_batch=1).patched
    channels = prepared.run(hm, edge_plan(graph, edges, len(TOY))).reshape(len(edges), len(TOY)).double().mean(1)
    assert torch.allclose(batched, serial, atol=1e-10)
    assert torch.allclose(batched, channels.cpu(), atol=1e-10)
    assert float(prepared.clean_metric.abs().max()) < 1e-10  # both are 0 on the clean run
    assert float(batched.abs().max()) > 1e-6


def test_answer_columns_unembed_the_answers_and_only_where_logits_are_the_plain_unembedding():
    hm = interp.models.tiny("llama")
    prepared = Prepared.of(hm, TOY)
    final = prepared.clean.stream[f"resid_post.{hm.n_layers - 1}"][:, -1]
    columns = prepared.columns
    assert sorted(columns.tolist()) == sorted(set(prepared.metric.columns.flatten().tolist()))
    assert torch.allclose(unembed(hm, final, columns)[:, columns], unembed(hm, final)[:, columns], atol=1e-5)
    granite = interp.models.tiny("granite")  # logits scaled after the unembedding: every logit is computed
    clean_b = TOY.encode(granite)[0]
    out = granite.run(clean_b, cache=[f"resid_post.{granite.n_layers - 1}"])
    last = out.cache[f"resid_post.{granite.n_layers - 1}"][torch.arange(len(TOY)), clean_b.last_index]
    assert answer_columns(granite, Prepared.of(granite, TOY).metric, last, out.last_logits) is None
