"""A sparse autoencoder: one module, three kinds, saved as JSON config + safetensors.

Parameters carry SAELens's names and shapes: ``W_enc [d_in, d_sae]``, ``b_enc [d_sae]``,
``W_dec [d_sae, d_in]``, ``b_dec [d_in]`` and, for ``kind="jumprelu"``, ``threshold [d_sae]``.

``encode(x) = act((x - b_dec) @ W_enc + b_enc)`` (``b_dec`` is subtracted first unless
``apply_b_dec_to_input=False``), ``decode(f) = f @ W_dec + b_dec``, ``forward(x) = decode(encode(x))``.
Kinds (:mod:`interp.sae.kinds`): ``"relu"`` (trained with L1), ``"topk"`` (``k`` features per token),
``"jumprelu"`` (per-feature threshold).

``site`` names where the SAE reads (``"resid_post.8"``), or the layers of a layer-group SAE
(``["resid_post.3", "resid_post.4"]``); ``model`` is the name of the model it was trained on.

>>> import tempfile, torch
>>> sae = SAE(64, 256, kind="topk", k=8, site="resid_post.1", seed=0)
>>> x = torch.randn(2, 5, 64)                                     # [batch, pos, d_in]
>>> sae.encode(x).shape, sae(x).shape                             # [batch, pos, d_sae], [batch, pos, d_in]
(torch.Size([2, 5, 256]), torch.Size([2, 5, 64]))
>>> folder = sae.save(tempfile.mkdtemp())                         # config.json + sae.safetensors
>>> again = SAE.load(folder)
>>> again
SAE(kind='topk', d_in=64, d_sae=256, k=8, site='resid_post.1')
>>> torch.equal(again(x), sae(x))
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import Tensor, nn

from interp.errors import InputError
from interp.io import atomic_write_bytes, atomic_write_text
from interp.sae.kinds import KINDS, activate

FORMAT_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE = "config.json", "sae.safetensors"



def _whole(value) -> bool:
    """A Python int that is not a bool (``True`` would pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)

@dataclass(frozen=True)
class SAEConfig:
    """What an SAE is, apart from its weights (``config.json``)."""

    d_in: int
    d_sae: int
    kind: str = "relu"
    k: int | None = None                    # topk only
    site: str | tuple[str, ...] | None = None
    model: str | None = None
    apply_b_dec_to_input: bool = True
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)   # free-form facts (training settings, SAELens cfg)

    def __post_init__(self):
        if not (_whole(self.d_in) and _whole(self.d_sae) and self.d_in > 0 and self.d_sae > 0):
            raise InputError(f"an SAE needs positive integer d_in and d_sae; got d_in={self.d_in!r}, "
                             f"d_sae={self.d_sae!r}")
        if self.kind not in KINDS:
            raise InputError(f"unknown SAE kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.kind == "topk" and not (_whole(self.k) and 0 < self.k <= self.d_sae):
            raise InputError(f"a topk SAE needs k between 1 and d_sae={self.d_sae}; got k={self.k!r}")
        if self.kind != "topk" and self.k is not None:
            raise InputError(f"k is for topk SAEs; this one is {self.kind!r}")
        if isinstance(self.site, list):
            object.__setattr__(self, "site", tuple(self.site))
        if self.site is not None and not (isinstance(self.site, str) or (
                self.site and all(isinstance(s, str) for s in self.site))):
            raise InputError(f"site must be a site name or a list of them; got {self.site!r}")
        if not isinstance(getattr(torch, self.dtype, None), torch.dtype):
            raise InputError(f"dtype {self.dtype!r} is not a torch dtype")

    @property
    def sites(self) -> tuple[str, ...]:
        """The site(s) as a tuple (empty when unknown)."""
        return () if self.site is None else (self.site,) if isinstance(self.site, str) else tuple(self.site)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["site"] = list(self.site) if isinstance(self.site, tuple) else self.site
        return {"type": "SAE", "format": FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SAEConfig:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})


class SAE(nn.Module):
    """A sparse autoencoder ``d_in -> d_sae -> d_in`` (see the module docstring).

    ``SAE(d_in, d_sae, kind=..., k=..., site=..., seed=...)`` initialises it as the trainer does:
    decoder rows of unit norm, the encoder their transpose, biases 0 (JumpReLU thresholds 0)."""

    def __init__(self, d_in: int, d_sae: int, kind: str = "relu", *, k: int | None = None,
                 site: str | list[str] | None = None, model: str | None = None,
                 apply_b_dec_to_input: bool = True, dtype: torch.dtype | str = torch.float32,
                 seed: int | None = None, config: SAEConfig | None = None):
        super().__init__()
        dtype_name = dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")
        self.config = config or SAEConfig(d_in, d_sae, kind, k, site, model, apply_b_dec_to_input, dtype_name)
        dtype = getattr(torch, self.config.dtype)
        d_in, d_sae = self.config.d_in, self.config.d_sae
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        W_dec = torch.randn(d_sae, d_in, generator=generator)
        W_dec = W_dec / W_dec.norm(dim=1, keepdim=True)
        self.W_enc = nn.Parameter(W_dec.T.contiguous().to(dtype))             # [d_in, d_sae]
        self.b_enc = nn.Parameter(torch.zeros(d_sae, dtype=dtype))            # [d_sae]
        self.W_dec = nn.Parameter(W_dec.to(dtype))                            # [d_sae, d_in]
        self.b_dec = nn.Parameter(torch.zeros(d_in, dtype=dtype))             # [d_in]
        if self.config.kind == "jumprelu":
            self.threshold = nn.Parameter(torch.zeros(d_sae, dtype=dtype))    # [d_sae]

    # what it is ---------------------------------------------------------------------------------
    d_in = property(lambda self: self.config.d_in)
    d_sae = property(lambda self: self.config.d_sae)
    kind = property(lambda self: self.config.kind)
    k = property(lambda self: self.config.k)
    site = property(lambda self: self.config.site)
    sites = property(lambda self: self.config.sites)

    @classmethod
    def from_config(cls, config: SAEConfig, *, seed: int | None = None) -> SAE:
        return cls(config.d_in, config.d_sae, seed=seed, config=config)

    # what it does -------------------------------------------------------------------------------
    def pre_activations(self, x: Tensor) -> Tensor:
        """``(x - b_dec) @ W_enc + b_enc``: ``[..., d_in] -> [..., d_sae]`` in the SAE's dtype."""
        x = x.to(self.W_enc.dtype)
        if self.config.apply_b_dec_to_input:
            x = x - self.b_dec
        return x @ self.W_enc + self.b_enc

    def encode(self, x: Tensor) -> Tensor:
        """Feature activations ``[..., d_sae]`` of activations ``x [..., d_in]``."""
        return activate(self.pre_activations(x), self.kind, k=self.k, threshold=getattr(self, "threshold", None))

    def decode(self, f: Tensor) -> Tensor:
        """The reconstruction ``[..., d_in]`` of feature activations ``f [..., d_sae]``."""
        return f.to(self.W_dec.dtype) @ self.W_dec + self.b_dec

    def forward(self, x: Tensor) -> Tensor:
        """``decode(encode(x))`` in ``x``'s dtype: ``[..., d_in] -> [..., d_in]``."""
        return self.decode(self.encode(x)).to(x.dtype)

    # saving -------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``sae.safetensors`` into the folder ``path`` (each atomically)."""
        folder = Path(path)
        tensors = {name: value.detach().contiguous().cpu() for name, value in self.state_dict().items()}
        atomic_write_bytes(folder / WEIGHTS_FILE, safetensors.torch.save(tensors))
        atomic_write_text(folder / CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None) -> SAE:
        """An SAE written by :meth:`save` (never unpickles). SAELens folders: :func:`interp.sae.load`."""
        folder = Path(path)
        config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        if not config_file.is_file() or not weights_file.is_file():
            raise InputError(f"{folder} is not a saved SAE: it needs {CONFIG_FILE} and {WEIGHTS_FILE}")
        try:
            data = json.loads(config_file.read_text())
        except json.JSONDecodeError as error:
            raise InputError(f"{config_file} is not valid JSON: {error}") from None
        if not isinstance(data, dict) or data.get("type") != "SAE":
            raise InputError(f"{config_file} does not describe an SAE (its type is "
                             f"{data.get('type') if isinstance(data, dict) else data!r})")
        if not isinstance(data.get("format"), int) or data["format"] > FORMAT_VERSION:
            raise InputError(f"{config_file}: format {data.get('format')!r} is not one this interp reads "
                             f"(1..{FORMAT_VERSION})")
        try:
            config = SAEConfig.from_dict(data)
        except TypeError as error:
            raise InputError(f"{config_file}: {error}") from None
        try:
            tensors = safetensors.torch.load_file(weights_file, device=str(device or "cpu"))
        except (SafetensorError, OSError, ValueError) as error:
            raise InputError(f"{weights_file} is not a safetensors file: {error}") from None
        return cls.from_tensors(config, tensors, source=str(weights_file))

    @classmethod
    def from_tensors(cls, config: SAEConfig, tensors: dict[str, Tensor], *, source: str = "tensors") -> SAE:
        """An SAE of ``config`` holding exactly ``tensors`` (names and shapes checked)."""
        sae = cls.from_config(config).to(device=next(iter(tensors.values())).device if tensors else None)
        expected = {name: tuple(value.shape) for name, value in sae.state_dict().items()}
        found = {name: tuple(value.shape) for name, value in tensors.items()}
        if expected != found:
            raise InputError(f"{source}: a {config.kind} SAE with d_in={config.d_in}, d_sae={config.d_sae} needs "
                             f"tensors {expected}; found {found}")
        sae.load_state_dict({name: value.to(getattr(torch, config.dtype)) for name, value in tensors.items()})
        return sae

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        k = f", k={self.k}" if self.k is not None else ""
        site = list(self.site) if isinstance(self.site, tuple) else self.site
        return f"SAE(kind={self.kind!r}, d_in={self.d_in}, d_sae={self.d_sae}{k}, site={site!r})"
