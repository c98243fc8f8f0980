"""SAELens's format: folders SAELens saved load with SAELens's own reconstructions (fixture made by
benchmarks/saelens_fixture.py with sae-lens 6.54.12), interp writes folders SAELens reads, hook names
map to sites."""

from __future__ import annotations

import pytest
import torch
from conftest import FIXTURES
from safetensors.torch import load_file

from interp.errors import InputError
from interp.sae import SAE
from interp.sae.saelens import hook_of_site, load, load_saelens, save_saelens, site_of_hook

SAVED = FIXTURES / "saelens"


@pytest.mark.parametrize("name", ["standard", "topk", "topk_rescaled", "jumprelu"])
def test_loading_what_saelens_saved_gives_its_reconstructions(name):
    expected = load_file(SAVED / "expected.safetensors")
    sae = load(SAVED / name)
    assert sae.site == "resid_post.1" and sae.config.model == "tiny-llama"
    torch.testing.assert_close(sae.encode(expected["x"]), expected[f"{name}.features"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sae(expected["x"]), expected[f"{name}.reconstruction"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["relu", "topk", "jumprelu"])
def test_saelens_round_trip_is_bit_exact(tmp_path, kind):
    sae = SAE(16, 48, kind, k=6 if kind == "topk" else None, site="attn_out.3", model="m", seed=2)
    with torch.no_grad():
        sae.b_enc.normal_()
        if kind == "jumprelu":
            sae.threshold.uniform_(0, 0.5)
    again = load_saelens(save_saelens(sae, tmp_path))
    assert (again.kind, again.k, again.site, again.config.model) == (sae.kind, sae.k, "attn_out.3", "m")
    for name, value in sae.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name


def test_saelens_reads_what_interp_writes(tmp_path):
    pytest.importorskip("sae_lens")
    from sae_lens import SAE as SAELensSAE
    x = torch.randn(5, 16)
    for kind in ("relu", "topk", "jumprelu"):
        sae = SAE(16, 32, kind, k=4 if kind == "topk" else None, site="resid_post.0", seed=3)
        with torch.no_grad():
            sae.b_enc.normal_(0, 0.3)
            if kind == "jumprelu":
                sae.threshold.uniform_(0, 0.3)
        theirs = SAELensSAE.load_from_disk(save_saelens(sae, tmp_path / kind))
        assert theirs.cfg.metadata.hook_name == "blocks.0.hook_resid_post"
        with torch.no_grad():
            torch.testing.assert_close(theirs(x), sae(x), rtol=1e-5, atol=1e-6)


def test_hook_names_map_to_sites_both_ways():
    for site in ["resid_pre.0", "resid_mid.2", "resid_post.8", "attn_out.1", "mlp_out.4", "z.3", "q.0",
                 "mlp_post.5", "embed"]:
        assert site_of_hook(hook_of_site(site)) == site
    assert site_of_hook("blocks.8.hook_resid_post") == "resid_post.8"
    assert site_of_hook("blocks.2.ln1.hook_normalized") is None
    with pytest.raises(InputError, match="no TransformerLens hook"):
        hook_of_site("logits")


def test_a_layer_group_sae_has_no_saelens_form(tmp_path):
    with pytest.raises(InputError, match="one hook"):
        save_saelens(SAE(8, 16, site=["resid_post.0", "resid_post.1"]), tmp_path)
