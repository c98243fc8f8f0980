"""The same numbers on a CUDA GPU as on the CPU: runs, caches, patch sweeps, DAS training and scoring
on the fast paths (KV reuse, packing). Skipped without CUDA; ``benchmarks/gpu_check.sh`` runs them."""

from __future__ import annotations

import pytest
import torch

import interp
from interp.interventions import Steer, patch_sweep
from interp.methods import PairData, score, train_das
from interp.models import FAMILIES

pytestmark = pytest.mark.gpu

BASE = ["The key to the cabinets", "The dog near the houses"]
SOURCE = ["The keys to the cabinet", "The dogs near the house"]


def both(family: str):
    return interp.models.tiny(family, device="cpu"), interp.models.tiny(family, device="cuda")


def pairs(hm) -> PairData:
    return PairData.from_texts(hm, BASE, SOURCE, base_positions=[[1], [1]], source_positions=[[1], [1]],
                               base_labels=[" is", " is"], source_labels=[" are", " are"], base_types=["sg", "sg"])


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-4) -> None:
    torch.testing.assert_close(a.detach().cpu().float(), b.detach().cpu().float(), atol=atol, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_runs_and_interventions_match_the_cpu(family):
    cpu, gpu = both(family)
    assert gpu.device.type == "cuda"
    vector = torch.randn(cpu.d_model, generator=torch.Generator().manual_seed(0))
    steer = [Steer("resid_pre.1", vector, alpha=2.0)]
    on_cpu, on_gpu = (hm.run(BASE, cache=["resid_post.0", "z.1"], interventions=steer) for hm in (cpu, gpu))
    close(on_cpu.logits, on_gpu.logits)
    close(on_cpu.cache["z.1"], on_gpu.cache["z.1"])
    assert interp.graph.count_hooks(gpu.model) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_paths_match_the_cpu(family):
    cpu, gpu = both(family)
    sweeps = [patch_sweep(hm, BASE, SOURCE, positions=[1, 2]) for hm in (cpu, gpu)]
    assert [s.path for s in sweeps] == ["kv-resume", "kv-resume"]
    close(sweeps[0].values, sweeps[1].values)
    trained = [train_das(hm, pairs(hm), "resid_post.0", steps=3, batch_size=2) for hm in (cpu, gpu)]
    assert [t.path for t in trained] == ["packed", "packed"]
    close(trained[0].losses, trained[1].losses, atol=1e-3)
    scores = [score(hm, pairs(hm), "resid_post.0", [t.interventions[0].basis.detach().cpu()])
              for hm, t in zip((cpu, gpu), trained)]
    close(scores[0].odds_ratio, scores[1].odds_ratio, atol=1e-3)
