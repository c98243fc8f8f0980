"""On the embedded SmolLM2-135M-Instruct: built-in suites score well above chance; labels are single tokens."""

from __future__ import annotations

import pytest
import torch

from interp.eval import syntaxgym
from interp.graph.inputs import Batch
from interp.suites import causalgym

pytestmark = pytest.mark.slow

AGREEMENT_SUITES = ["builtin:number_pp", "builtin:number_src", "builtin:reflexive_pp"]


def test_builtin_agreement_suites_score_well_above_chance(embedded):
    result = syntaxgym(embedded, AGREEMENT_SUITES)
    per_prediction = result.summary[result.summary.prediction != "all"]
    # each prediction compares two sentences (chance 0.5); "all" needs two at once (chance 0.25)
    assert per_prediction.value.mean() >= 0.7, per_prediction
    assert result.accuracy("number_pp") >= 0.5, result.summary


def test_builtin_npi_and_garden_path_suites(embedded):
    result = syntaxgym(embedded, ["builtin:npi_ever", "builtin:npz_obj"])
    assert result.accuracy("npi_ever") >= 0.8 and result.accuracy("npz_obj") >= 0.8, result.summary


def test_every_builtin_label_is_one_token_for_the_embedded_tokenizer(embedded):
    templates = causalgym.read_templates("builtin:")
    for name, task in templates.items():
        pair = task.example()
        for words in task.labels.values():
            for word in words:
                label = (" " if task.prepend_space else "") + word
                assert len(embedded.tokenizer(label, add_special_tokens=False)["input_ids"]) == 1, (name, label)
        assert pair.encode(embedded.tokenizer).sites, name


def behavioural_accuracy(hm, pairs) -> float:
    encoded = [pair.encode(hm.tokenizer) for pair in pairs]
    width = max(len(e.base.ids) for e in encoded)
    ids = torch.zeros(len(encoded), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, e in enumerate(encoded):
        ids[row, : len(e.base.ids)] = torch.tensor(e.base.ids)
        mask[row, : len(e.base.ids)] = 1
    log_probs = hm.run(Batch(ids, mask)).last_logits.log_softmax(-1)
    good = torch.tensor([[e.base_label_id, e.src_label_id] for e in encoded])
    chosen = log_probs.gather(-1, good)
    return float((chosen[:, 0] > chosen[:, 1]).float().mean())


def test_builtin_agreement_tasks_are_learnable_by_the_embedded_model(embedded):
    tasks = causalgym.load_templates("builtin:agreement", seed=0, sizes=(2, 2, 100),
                                     tasks=["agr_sv_num_pp", "agr_refl_num_pp", "agr_gender"])
    for name, task in tasks.items():
        assert behavioural_accuracy(embedded, task.test) >= 0.65, name
