"""Every Hugging Face model type's canonical sites mean what their names say: one row per type.

Each check runs on the tiny random model of each type (:data:`interp.models.MODEL_TYPES`, configs in
``interp/models/tiny_configs.py``), built once per module. The expected outcome is data, below:

- :data:`WORKING`: the model types whose layout passes every check. A type outside it is expected to
  fail every check (``xfail(strict=True)``), so a family that silently loses its layout fails here,
  and one that gains a layout fails too (XPASS) until it is added to ``WORKING``.
- :data:`KNOWN_GAPS`: ``(model_type, check) -> why``, for a check a working type does not pass yet.

A layout engineer who adds a family adds its ``model_type`` to ``WORKING`` (and any ``KNOWN_GAPS``),
then regenerates ``docs/families.md``, which :func:`test_the_families_table_is_in_sync` compares with
:func:`render`::

    .venv/bin/python tests/graph/test_families.py
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import pytest
import torch

import interp
from interp.errors import SiteError
from interp.graph.resume import resume_support
from interp.graph.runner import count_hooks
from interp.interventions import Apply, Patch
from interp.models import MODEL_TYPES

# Model types whose every check passes (add yours when its layout lands).
WORKING = frozenset({
    "gpt2", "gpt_neox", "llama", "mistral", "qwen2", "qwen3", "olmo", "smollm3",
    "helium", "ernie4_5", "seed_oss", "nemotron", "glm4", "exaone4", "olmo2", "olmo3", "starcoder2", "stablelm",
    "gemma", "gemma2", "gemma3_text", "granite", "cohere",
    "mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "granitemoe", "gpt_oss", "deepseek_v3",
    "gpt_bigcode",
    "phi", "phi3", "opt", "gptj", "gpt_neo", "bloom", "falcon", "codegen", "mpt", "persimmon", "xglm", "biogpt",
    "mamba", "falcon_mamba", "mamba2",
})
# (model_type, check) -> why a type of WORKING does not pass that check yet.
KNOWN_GAPS: dict[tuple[str, str], str] = {
    ("deepseek_v3", "pattern_v"): "multi-head latent attention has no `v` site yet",
}
# No attention at all: the attention checks do not apply, `no_attention_sites` does.
STATE_SPACE = frozenset({"mamba", "mamba2", "falcon_mamba", "rwkv"})
# Mixtures of experts: no single down projection (no `mlp_post`) on their sparse layers.
MIXTURE_OF_EXPERTS = frozenset({"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "granitemoe", "gpt_oss", "deepseek_v3",
                                "llama4_text", "jamba"})

SENTENCES = ["The keys to the cabinet are on the table.", "No teacher has ever seen", "Once upon a time there"]
OTHER = SENTENCES[1:] + SENTENCES[:1]  # same width, every row another sentence
SINGLE = "The author that the guards like laughs."
PATCHED_POSITION = 2
ROOT = Path(__file__).resolve().parents[2]
MARKDOWN = ROOT / "docs" / "families.md"


@functools.cache
def tiny(model_type: str):
    """The tiny model of ``model_type``, built once (no layout yet is expected: no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interp.models.tiny(model_type)


def with_sites(model_type: str):
    hm = tiny(model_type)
    assert hm.sites(), f"{model_type}: no canonical sites (no layout)"
    return hm


def close(actual, expected, rel=1e-5):
    """``actual == expected`` to ``rel`` of the expected values' scale."""
    scale = expected.abs().max().clamp_min(1e-30)
    error = (actual - expected).abs().max()
    assert error <= rel * scale, f"off by {error:.3g} (scale {scale:.3g})"


def no_pattern(hm) -> list[str]:
    return [site for site in hm.sites() if not site.startswith("pattern")]


def module_site(hm, module) -> str:
    """The module-path site of ``module``'s output."""
    return next(f"{name}:output" for name, candidate in hm.model.named_modules() if candidate is module)


def multiplier(hm) -> float:
    """The factor the model scales each branch by before adding it to the stream (Granite), else 1."""
    name = getattr(hm.layout, "residual_multiplier", None)
    return getattr(hm.config, name) if name else 1.0


def through_branch_end(hm, kind: str, layer: int, projected):
    """``projected`` (the output projection's output) as the layer adds it: through the module that
    defines ``kind.layer`` when that is a norm after the projection (sandwich norms), times the
    residual multiplier."""
    end = hm.binding(f"{kind}.{layer}").module  # the attention/MLP block, the projection, or a post-norm
    projection = hm.binding(f"{'z' if kind == 'attn_out' else 'mlp_post'}.{layer}").module
    inside = any(module is projection for module in end.modules())
    return (projected if inside else end(projected)) * multiplier(hm)


# ----------------------------------------------------------------- the checks (each takes a model type)
def check_logits(model_type):
    """Plain runs (also one caching every site but ``pattern``) give the model's own logits bit for bit."""
    hm = with_sites(model_type)
    for inputs in (SENTENCES, SINGLE):
        out = hm.run(inputs)
        plain = hm.model(**out.batch.model_kwargs(hm.device)).logits
        assert torch.equal(out.logits, plain)
        assert torch.equal(hm.run(inputs, cache=no_pattern(hm)).logits, plain)


def check_residual(model_type):
    """``resid_pre + attn_out == resid_mid``, ``resid_mid + mlp_out == resid_post`` (parallel blocks:
    ``resid_pre + attn_out + mlp_out``; state-space: ``resid_pre + mixer_out``), layers chain, embed in;
    the MLP reads ``resid_mid`` (writing it changes ``mlp_out``: a parallel block has no ``resid_mid``)."""
    hm = with_sites(model_type)
    cache = hm.run(SENTENCES, cache=no_pattern(hm)).cache
    for resid_mid in hm.sites("resid_mid"):
        mlp_out = resid_mid.replace("resid_mid", "mlp_out")
        pushed = hm.run(SENTENCES, cache=[mlp_out],
                        interventions=[Apply(resid_mid, lambda act, ctx: act + act.abs().max())]).cache[mlp_out]
        assert not torch.equal(pushed, cache[mlp_out]), f"{resid_mid} does not reach the MLP"
    close(cache["embed"], cache["resid_pre.0"], rel=0)
    for layer in range(hm.n_layers):
        pre, post = cache[f"resid_pre.{layer}"], cache[f"resid_post.{layer}"]
        if f"mixer_out.{layer}" in cache:
            close(pre + cache[f"mixer_out.{layer}"], post)
        elif f"resid_mid.{layer}" in cache:
            close(pre + cache[f"attn_out.{layer}"], cache[f"resid_mid.{layer}"])
            close(cache[f"resid_mid.{layer}"] + cache[f"mlp_out.{layer}"], post)
        else:
            close(pre + cache[f"attn_out.{layer}"] + cache[f"mlp_out.{layer}"], post)
        if layer + 1 < hm.n_layers:
            assert torch.equal(post, cache[f"resid_pre.{layer + 1}"])


def check_z_to_attn_out(model_type):
    """``z`` through the output projection is that projection's own output, and (through a post-norm,
    times a residual multiplier, where the family has them) ``attn_out``."""
    hm = with_sites(model_type)
    sites = [f"{kind}.{layer}" for layer in range(hm.n_layers) for kind in ("z", "attn_out")]
    projections = [module_site(hm, hm.binding(f"z.{layer}").module) for layer in range(hm.n_layers)]
    cache = hm.run(SENTENCES, cache=sites + projections).cache
    for layer, projection_site in enumerate(projections):
        z = cache[f"z.{layer}"]  # [batch, pos, head, d_head]
        assert z.shape[2] == hm.n_heads
        projected = hm.binding(f"z.{layer}").module(z.flatten(-2))
        close(projected, cache[projection_site])
        close(through_branch_end(hm, "attn_out", layer, projected), cache[f"attn_out.{layer}"])


def check_mlp_post_to_mlp_out(model_type):
    """``mlp_post`` through the down projection is its own output, and (as for ``attn_out``) ``mlp_out``;
    on layers with a dense MLP (a mixture of experts has no single ``mlp_post``)."""
    hm = with_sites(model_type)
    dense = [layer for layer in range(hm.n_layers) if f"mlp_post.{layer}" in hm.sites()]
    assert len(hm.sites("mlp_out")) == hm.n_layers
    assert model_type in MIXTURE_OF_EXPERTS or len(dense) == hm.n_layers, f"mlp_post on layers {dense} only"
    downs = [module_site(hm, hm.binding(f"mlp_post.{layer}").module) for layer in dense]
    # the down projections' outputs as they leave the module (Falcon then adds attention's output into them in place)
    snapshots = {}
    keep = [Apply(site, lambda act, ctx: snapshots.__setitem__(ctx.site, act.clone())) for site in downs]
    cache = hm.run(SENTENCES, cache=[f"{kind}.{layer}" for layer in dense for kind in ("mlp_post", "mlp_out")],
                   interventions=keep).cache
    for layer, down_site in zip(dense, downs):
        projected = hm.binding(f"mlp_post.{layer}").module(cache[f"mlp_post.{layer}"])
        close(projected, snapshots[down_site].reshape(projected.shape))  # OPT's MLP runs on [batch * pos, d] rows
        close(through_branch_end(hm, "mlp_out", layer, projected), cache[f"mlp_out.{layer}"])


def check_pattern_v(model_type):
    """``z_h = pattern_h @ v_(h // group)`` on every real token: q/k/v head layout, GQA and the pattern."""
    hm = with_sites(model_type)
    out = hm.run(SENTENCES, cache=[f"{kind}.{layer}" for kind in ("pattern", "v", "z") for layer in range(hm.n_layers)])
    real = out.batch.attention_mask.bool()  # [batch, pos]
    for layer in range(hm.n_layers):
        pattern, v, z = (out.cache[f"{kind}.{layer}"] for kind in ("pattern", "v", "z"))
        assert pattern.shape == (len(SENTENCES), hm.n_heads, out.batch.width, out.batch.width)
        v_per_head = v.repeat_interleave(hm.n_heads // v.shape[2], dim=2)  # [batch, pos, head, d_head]
        close(torch.einsum("bhqk,bkhd->bqhd", pattern, v_per_head)[real], z[real])


def check_patch_same_input(model_type):
    """Patching ``resid_pre.1`` (every position) from a run of the same input changes nothing, bit for bit."""
    hm = with_sites(model_type)
    base = hm.run(SENTENCES, cache=["resid_pre.1"])
    patched = hm.run(SENTENCES, interventions=[Patch("resid_pre.1", source=base.cache)])
    assert torch.equal(patched.logits, base.logits)


def check_patch_other_input(model_type):
    """Patching one position of ``resid_pre.1`` from other sentences changes the logits from there on only
    (before it: to float32 rounding, 2e-6, as expert routing of other tokens may batch differently)."""
    hm = with_sites(model_type)
    base = hm.run(SENTENCES)
    source = hm.run(OTHER, cache=["resid_pre.1"])
    patched = hm.run(SENTENCES, interventions=[Patch("resid_pre.1", source=source.cache,
                                                     positions=[PATCHED_POSITION])]).logits
    close(patched[:, :PATCHED_POSITION], base.logits[:, :PATCHED_POSITION], rel=2e-6)
    changed = (patched[:, PATCHED_POSITION] - base.logits[:, PATCHED_POSITION]).abs().amax(-1)  # [batch]
    assert (changed > 1e-4 * base.logits.abs().max()).all(), changed


def check_no_hooks_remain(model_type):
    """No hook outlives a run, also one whose intervention raises."""
    hm = with_sites(model_type)
    before = count_hooks(hm.model)
    hm.run(SENTENCES, cache=hm.sites(), interventions=[Apply("resid_pre.1", lambda act, ctx: act)])
    assert count_hooks(hm.model) == before

    def fail(act, ctx):
        raise RuntimeError("intervention failed on purpose")

    with pytest.raises(RuntimeError, match="on purpose"):
        hm.run(SENTENCES, cache=no_pattern(hm), interventions=[Apply(hm.sites("resid_post")[0], fail)])
    assert count_hooks(hm.model) == before


def check_resume(model_type):
    """``hm.resume`` from ``resid_pre.1`` at a token equals the full run where ``hm.can_resume``; else the
    reason is a sentence."""
    hm = with_sites(model_type)
    if not hm.can_resume:
        reason = resume_support(hm).reason
        assert isinstance(reason, str) and len(reason.split()) >= 4, reason
        return
    base = hm.run(SENTENCES, cache=["resid_pre.1"], keep_kv=True)
    out = hm.resume(base.batch, start_at=("resid_pre.1", base.cache["resid_pre.1"]), key_values=base.key_values,
                    from_token=PATCHED_POSITION)
    close(out.last_logits, base.last_logits)


def check_packed(model_type):
    """Packed suffix rows (each example resumed from its own token at layer 1, end to end in one
    sequence: how DAS trains and scores) give the full run's last logits where ``hm.can_resume``, and
    asked for some columns of each row (the unembedding narrowed to them), those logits."""
    from interp.graph.packing import Packing, base_state, packed_last_logits

    hm = with_sites(model_type)
    if not hm.can_resume:
        return
    batch = hm.tokenize(SENTENCES)
    examples = torch.tensor([0, 1, 2, 0])
    starts = batch.offsets[examples] + torch.tensor([1, 2, 0, 3])
    state, packing = base_state(hm, batch, layer=1), Packing(batch, examples, starts)
    packed = packed_last_logits(hm, state, packing, [])
    close(packed, hm.run(batch).last_logits[examples])
    columns = torch.tensor([[1, 2], [3, 1], [0, 5], [7, 7]])  # only these logits (how scoring reads its answers)
    close(packed_last_logits(hm, state, packing, [], columns=columns), packed.gather(1, columns))


def check_no_attention_sites(model_type):
    """A state-space model's attention sites are a :class:`SiteError` that says the architecture lacks them."""
    hm = with_sites(model_type)
    for site in ("z.0", "pattern.0", "attn_out.0", "q.1"):
        with pytest.raises(SiteError, match="no .* sites|attention"):
            hm.binding(site)


CHECKS = {
    "logits": check_logits,
    "residual": check_residual,
    "z_to_attn_out": check_z_to_attn_out,
    "mlp_post_to_mlp_out": check_mlp_post_to_mlp_out,
    "pattern_v": check_pattern_v,
    "patch_same_input": check_patch_same_input,
    "patch_other_input": check_patch_other_input,
    "no_hooks_remain": check_no_hooks_remain,
    "resume": check_resume,
    "packed": check_packed,
    "no_attention_sites": check_no_attention_sites,
}
ATTENTION_ONLY = {"z_to_attn_out", "mlp_post_to_mlp_out", "pattern_v"}
RESUMING = {"resume", "packed"}  # "no" in the table: the model cannot resume (the reason is in the notes)


def applies(model_type: str, check: str) -> bool:
    if model_type in STATE_SPACE:
        return check not in ATTENTION_ONLY
    return check != "no_attention_sites"


def expected_to_pass(model_type: str, check: str) -> bool:
    return model_type in WORKING and (model_type, check) not in KNOWN_GAPS


def rows() -> list:
    """``(model_type, check)`` for every check that applies, xfail (strict) where not expected to pass."""
    params = []
    for check in CHECKS:
        for model_type in MODEL_TYPES:
            if not applies(model_type, check):
                continue
            marks = () if expected_to_pass(model_type, check) else pytest.mark.xfail(
                strict=True, reason=KNOWN_GAPS.get((model_type, check), "no layout yet"))
            params.append(pytest.param(model_type, check, id=f"{check}-{model_type}", marks=marks))
    return params


@pytest.mark.parametrize(("model_type", "check"), rows())
def test_family(model_type, check):
    CHECKS[check](model_type)


def test_known_gaps_name_working_types_and_real_checks():
    for model_type, check in KNOWN_GAPS:
        assert model_type in WORKING and check in CHECKS and applies(model_type, check), (model_type, check)
    assert WORKING <= set(MODEL_TYPES)


# ----------------------------------------------------------------- docs/families.md
def site_kinds(model_type: str) -> str:
    kinds = dict.fromkeys(site.split(".")[0] for site in tiny(model_type).sites())
    return " ".join(f"`{kind}`" for kind in kinds) or "module paths only"


def mark(model_type: str, check: str) -> str:
    if not applies(model_type, check):
        return "n/a"
    if check in RESUMING and expected_to_pass(model_type, check) and not tiny(model_type).can_resume:
        return "no"
    if expected_to_pass(model_type, check):
        return "✓"
    return "gap" if model_type in WORKING else "–"


def render() -> str:
    checks = list(CHECKS)
    working = sorted(set(MODEL_TYPES) & WORKING)
    lines = [
        "# Model families: canonical sites and the checks they pass",
        "",
        "Generated from `tests/graph/test_families.py` (regenerate: `.venv/bin/python tests/graph/test_families.py`);",
        "each ✓ is a test that runs on a tiny random model of that `model_type` (configs in",
        "`interp/models/tiny_configs.py`: 2 layers, d_model 64, 4 heads, the family's distinctive features on).",
        "`–`: no layout yet (wrapping works with module-path sites only); `gap`: see the notes; `n/a`: the",
        "architecture has no such part (state-space models have no attention).",
        "",
        f"{len(working)} of {len(MODEL_TYPES)} model types pass every check that applies: {', '.join(working)}.",
        "",
        "The checks:",
        "",
        *(f"- **{name}**: {' '.join(CHECKS[name].__doc__.split())}".replace("``", "`") for name in checks),
        "",
        "| model type | family | sites | " + " | ".join(checks) + " |",
        "|---|---|---|" + "---|" * len(checks),
    ]
    for model_type in MODEL_TYPES:
        hm = tiny(model_type)
        family = hm.layout.family if hm.layout is not None and hm.sites() else "–"
        cells = [mark(model_type, check) for check in checks]
        lines.append(f"| `{model_type}` | {family} | {site_kinds(model_type)} | " + " | ".join(cells) + " |")
    if KNOWN_GAPS:
        lines += ["", "Notes:", ""] + [f"- `{t}` {c}: {why}" for (t, c), why in sorted(KNOWN_GAPS.items())]
    no_resume = [t for t in MODEL_TYPES if t in WORKING and not tiny(t).can_resume]
    lines += ["", "Why `resume`/`packed` say \"no\" (the tiny config; a model without the feature may resume):", ""]
    lines += [f"- `{t}`: {resume_support(tiny(t)).reason}" for t in no_resume]
    lines += ["", "Adding a family: its table under `interp/graph/adapters/layouts/` (see",
              "`interp/graph/adapters/layout.py`), its tiny config in `interp/models/tiny_configs.py`, its",
              "`model_type` in `WORKING` of `tests/graph/test_families.py`, then regenerate this file.", ""]
    return "\n".join(lines)


def test_the_families_table_is_in_sync():
    assert MARKDOWN.read_text(encoding="utf-8") == render(), "run: .venv/bin/python tests/graph/test_families.py"


if __name__ == "__main__":
    MARKDOWN.write_text(render(), encoding="utf-8")
    print(f"wrote {MARKDOWN} ({len(MODEL_TYPES)} model types, {len(WORKING)} working)", file=sys.stderr)
