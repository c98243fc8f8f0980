"""Writes tests/fixtures/saelens/ with SAELens itself: four small SAEs (standard, topk, topk with
rescale_acts_by_decoder_norm, jumprelu) saved by `save_model`, and their features and reconstructions of
6 random inputs. Needs sae-lens (not in the lock); run: python benchmarks/saelens_fixture.py tests/fixtures/saelens
"""
import sys
from pathlib import Path

import sae_lens
import torch
from sae_lens import JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig
from sae_lens.saes.sae import SAEMetadata
from safetensors.torch import save_file

out = Path(sys.argv[1])
torch.manual_seed(0)
x = torch.randn(6, 16)
expected = {"x": x}
for name, cls, cfg in [
    ("standard", StandardSAE, StandardSAEConfig(d_in=16, d_sae=32)),
    ("topk", TopKSAE, TopKSAEConfig(d_in=16, d_sae=32, k=4)),
    ("topk_rescaled", TopKSAE, TopKSAEConfig(d_in=16, d_sae=32, k=4, rescale_acts_by_decoder_norm=True)),
    ("jumprelu", JumpReLUSAE, JumpReLUSAEConfig(d_in=16, d_sae=32)),
]:
    cfg.metadata = SAEMetadata(hook_name="blocks.1.hook_resid_post", model_name="tiny-llama")
    sae = cls(cfg)
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        if name == "jumprelu":
            sae.threshold.copy_(torch.rand_like(sae.threshold) * 0.3)
    sae.save_model(out / name)
    with torch.no_grad():
        expected[f"{name}.features"] = sae.encode(x).contiguous()
        expected[f"{name}.reconstruction"] = sae(x).contiguous()
save_file(expected, out / "expected.safetensors")
print("sae_lens", sae_lens.__version__)
