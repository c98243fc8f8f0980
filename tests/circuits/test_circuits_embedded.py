"""Slow: the subject-verb agreement circuit of the embedded SmolLM2-135M-Instruct at 20 % of the edges."""

from __future__ import annotations

import pytest

from interp.circuits import edge_scores, faithfulness_curve, from_causalgym
from interp.circuits.tasks import same_length


@pytest.mark.slow
def test_agreement_circuit_at_a_fifth_of_the_edges_keeps_faithfulness(embedded):
    task = same_length(embedded, from_causalgym("builtin:agreement", "agr_sv_num_pp", n=24)).subset(range(6))
    scores = edge_scores(embedded, task, method="eap", batch_size=6)
    n = round(0.2 * scores.graph.n_edges)
    curve = faithfulness_curve(embedded, task, scores, sizes=[n])
    print(f"agreement circuit: {curve.kept[0]} edges kept of {n} asked ({scores.graph.n_edges} in all), "
          f"faithfulness {float(curve.faithfulness[0]):.3f} (full {curve.full:.3f}, empty {curve.empty:.3f})")
    assert float(curve.faithfulness[0]) > 0.5
