"""SAELens's on-disk format, both ways: a folder with ``cfg.json`` and ``sae_weights.safetensors``.

Reads SAELens 6 configs (``architecture``, ``d_in``, ``d_sae``, ``k``, ``apply_b_dec_to_input``,
``normalize_activations``, ``metadata.hook_name``, ``metadata.model_name``, ...) and the flat configs
before 6.0 (``hook_point``/``hook_name``, ``activation_fn_str``/``activation_fn``,
``activation_fn_kwargs.k``). Architectures: ``standard`` (interp's ``relu``), ``topk`` (also with
``rescale_acts_by_decoder_norm``, folded into the weights) and ``jumprelu`` (``threshold`` or
``log_threshold``). TransformerLens hook names become interp sites (:data:`HOOKS`):
``blocks.8.hook_resid_post`` is ``resid_post.8``; an unknown hook leaves ``site`` None and keeps the
name in ``config.extra["saelens"]["hook_name"]``.

>>> import tempfile, torch
>>> from interp.sae import SAE
>>> sae = SAE(16, 32, "topk", k=4, site="resid_post.2", model="tiny", seed=0)
>>> folder = save_saelens(sae, tempfile.mkdtemp())
>>> sorted(p.name for p in folder.iterdir())
['cfg.json', 'sae_weights.safetensors']
>>> again = load_saelens(folder)
>>> again.site, torch.equal(again(torch.ones(3, 16)), sae(torch.ones(3, 16)))
('resid_post.2', True)
>>> site_of_hook("blocks.8.hook_resid_post"), hook_of_site("z.3")
('resid_post.8', 'blocks.3.attn.hook_z')
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError

from interp.errors import InputError
from interp.graph.sites import Site
from interp.io import atomic_write_bytes, atomic_write_text
from interp.sae.model import SAE, SAEConfig

CFG_FILE, WEIGHTS_FILE = "cfg.json", "sae_weights.safetensors"
SAELENS_VERSION = "6.54.12"   # the release whose format this writes (metadata.sae_lens_version)

# TransformerLens hook (after "blocks.L.") <-> interp site kind
HOOKS = {
    "hook_resid_pre": "resid_pre", "hook_resid_mid": "resid_mid", "hook_resid_post": "resid_post",
    "hook_attn_out": "attn_out", "hook_mlp_out": "mlp_out", "attn.hook_z": "z", "attn.hook_q": "q",
    "attn.hook_k": "k", "attn.hook_v": "v", "attn.hook_pattern": "pattern", "mlp.hook_post": "mlp_post",
}
KIND_OF_ARCHITECTURE = {"standard": "relu", "topk": "topk", "jumprelu": "jumprelu"}


def site_of_hook(hook: str) -> str | None:
    """The interp site of a TransformerLens hook name, or None when there is none."""
    if hook == "hook_embed":
        return "embed"
    match = re.fullmatch(r"blocks\.(\d+)\.(.+)", hook)
    if match and match.group(2) in HOOKS:
        return f"{HOOKS[match.group(2)]}.{match.group(1)}"
    return None


def hook_of_site(site: str) -> str:
    """The TransformerLens hook name of an interp site (``InputError`` for sites it has none for)."""
    if site == "embed":
        return "hook_embed"
    parsed = Site.parse(site)
    hooks = {kind: hook for hook, kind in HOOKS.items()}
    if parsed.layer is None or parsed.kind not in hooks or parsed.layer < 0:
        raise InputError(f"site {site!r} has no TransformerLens hook name; SAELens folders need one of "
                         f"{', '.join(sorted(hooks))} at a non-negative layer")
    return f"blocks.{parsed.layer}.{hooks[parsed.kind]}"


def _config(cfg: dict[str, Any], source: Path) -> tuple[SAEConfig, bool]:
    metadata = cfg.get("metadata") or {}
    hook = metadata.get("hook_name") or cfg.get("hook_name") or cfg.get("hook_point")
    architecture = cfg.get("architecture")
    activation = cfg.get("activation_fn") or cfg.get("activation_fn_str") or "relu"
    k = cfg.get("k") or (cfg.get("activation_fn_kwargs") or {}).get("k")
    if architecture is None:
        architecture = "topk" if activation == "topk" else "standard"
    if architecture not in KIND_OF_ARCHITECTURE:
        raise InputError(f"{source}: SAELens architecture {architecture!r} is not one interp reads; it reads "
                         f"{', '.join(KIND_OF_ARCHITECTURE)}")
    if architecture == "standard" and activation != "relu":
        raise InputError(f"{source}: a standard SAE with activation {activation!r}; interp reads relu ones")
    normalize = cfg.get("normalize_activations", "none")
    if normalize not in ("none", None):
        raise InputError(f"{source}: normalize_activations={normalize!r} needs a runtime scale interp does not "
                         "apply; fold it into the weights first (SAELens: fold_activation_norm_scaling_factor)")
    if cfg.get("reshape_activations") not in (None, "none", "hook_z"):
        raise InputError(f"{source}: reshape_activations={cfg['reshape_activations']!r} is not supported")
    try:
        config = SAEConfig(int(cfg["d_in"]), int(cfg["d_sae"]), KIND_OF_ARCHITECTURE[architecture],
                           k=int(k) if architecture == "topk" else None,
                           site=site_of_hook(hook) if hook else None,
                           model=metadata.get("model_name") or cfg.get("model_name"),
                           apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
                           extra={"saelens": {"hook_name": hook, "architecture": architecture,
                                              "sae_lens_version": metadata.get("sae_lens_version")}})
    except KeyError as error:
        raise InputError(f"{source}: the config has no {error.args[0]!r}") from None
    return config, bool(cfg.get("rescale_acts_by_decoder_norm", False))


def load_saelens(path: str | Path, *, device: str | torch.device | None = None) -> SAE:
    """An SAE saved by SAELens (``sae.save_model(path)``) or by :func:`save_saelens`, as float32."""
    folder = Path(path)
    cfg_file, weights_file = folder / CFG_FILE, folder / WEIGHTS_FILE
    if not cfg_file.is_file() or not weights_file.is_file():
        raise InputError(f"{folder} is not a SAELens SAE folder: it needs {CFG_FILE} and {WEIGHTS_FILE}")
    try:
        cfg = json.loads(cfg_file.read_text())
        tensors = safetensors.torch.load_file(weights_file, device=str(device or "cpu"))
    except json.JSONDecodeError as error:
        raise InputError(f"{cfg_file} is not valid JSON: {error}") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise InputError(f"{weights_file} is not a safetensors file: {error}") from None
    config, rescale = _config(cfg, cfg_file)
    tensors = {name: value.float() for name, value in tensors.items()}
    if "log_threshold" in tensors:
        tensors["threshold"] = tensors.pop("log_threshold").exp()
    if rescale:   # SAELens scales pre-activations by ||W_dec row|| and divides them out again in decode
        norms = tensors["W_dec"].norm(dim=-1)                                    # [d_sae]
        tensors["W_enc"], tensors["b_enc"] = tensors["W_enc"] * norms, tensors["b_enc"] * norms
        tensors["W_dec"] = tensors["W_dec"] / norms[:, None]
    return SAE.from_tensors(config, tensors, source=str(weights_file))


def save_saelens(sae: SAE, path: str | Path) -> Path:
    """Write ``sae`` as SAELens 6 writes one (``SAE.load_from_disk(path)`` reads it back)."""
    if len(sae.sites) != 1:
        raise InputError(f"a SAELens folder names one hook; this SAE reads {list(sae.sites) or 'no site'}")
    architecture = {kind: arch for arch, kind in KIND_OF_ARCHITECTURE.items()}[sae.kind]
    cfg: dict[str, Any] = {
        "d_in": sae.d_in, "d_sae": sae.d_sae, "dtype": sae.config.dtype, "device": "cpu",
        "apply_b_dec_to_input": sae.config.apply_b_dec_to_input, "normalize_activations": "none",
        "reshape_activations": "hook_z" if Site.parse(sae.sites[0]).kind == "z" else "none",
        "metadata": {"sae_lens_version": SAELENS_VERSION, "sae_lens_training_version": None,
                     "model_name": sae.config.model, "hook_name": hook_of_site(sae.sites[0]),
                     "hook_head_index": None, "prepend_bos": True, "context_size": None,
                     "dataset_path": None, "neuronpedia_id": None},
        "architecture": architecture,
    }
    if sae.kind == "topk":
        cfg.update(k=sae.k, rescale_acts_by_decoder_norm=False)
    folder = Path(path)
    tensors = {name: value.detach().contiguous().cpu() for name, value in sae.state_dict().items()}
    atomic_write_bytes(folder / WEIGHTS_FILE, safetensors.torch.save(tensors))
    atomic_write_text(folder / CFG_FILE, json.dumps(cfg, indent=2) + "\n")
    return folder


def load(path: str | Path, *, device: str | torch.device | None = None) -> SAE:
    """An SAE from a folder in either format: interp's (``config.json``) or SAELens's (``cfg.json``)."""
    folder = Path(path)
    if (folder / CFG_FILE).is_file() and not (folder / "config.json").is_file():
        return load_saelens(folder, device=device)
    return SAE.load(folder, device=device)
