"""Activations of one or many sites, collected in one pass over a corpus, for SAEs to train on.

:func:`collect` tokenises a corpus into blocks of ``context`` tokens (:mod:`interp.sae.corpus`), runs
the model over them with every site cached and ``logits=False`` (the forward stops after the last
site needed), and returns :class:`Activations`: one ``[n_tokens, d]`` tensor per site, the same tokens
in the same (shuffled) order for every site, so several SAEs and layer groups train on one store.
With ``out=FOLDER`` it writes the store as safetensors shards plus ``activations.json``; a later call
with the same settings loads it instead of running the model again.

The first position of each block is dropped by default (``skip_first``): it is an attention sink
whose residual norm is tens of times the others' and would dominate every reconstruction loss. Some
models have such *massive activations* at ordinary tokens too (SmolLM2, from about layer 10 on: 0.1 % of
tokens, newlines, spaces, digits, hold 98 % of layer 12's variance); ``max_norm_ratio=r`` drops every token whose norm
at any site is more than ``r`` times that site's median, and without it a
:class:`~interp.errors.MassiveActivationWarning` says when tokens over 10 times the median carry more
than half of a site's variance.

>>> import interp
>>> hm = interp.models.tiny("llama")
>>> texts = ["The keys to the cabinet are on the table."] * 40
>>> store = collect(hm, ["resid_post.0", "resid_post.1"], texts, tokens=200, context=16)
>>> store.sites, store["resid_post.0"].shape
(['resid_post.0', 'resid_post.1'], torch.Size([210, 64]))
>>> batch = next(store.batches(32))
>>> batch["resid_post.1"].shape
torch.Size([32, 64])
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor
from tqdm.auto import tqdm

from interp.errors import InputError, MassiveActivationWarning
from interp.graph.sites import parse_site
from interp.io import atomic_write_bytes, atomic_write_text
from interp.sae.corpus import token_blocks

STORE_FILE = "activations.json"


@dataclass
class Activations:
    """``acts[site]``: ``[n_tokens, d]``, row ``i`` of every site from the same token ``tokens[i]``."""

    acts: dict[str, Tensor]
    tokens: Tensor | None = None                 # [n_tokens] token ids
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        lengths = {site: value.shape[0] for site, value in self.acts.items()}
        if not lengths or len(set(lengths.values())) != 1:
            raise InputError(f"Activations need sites with the same number of tokens; got {lengths}")

    @property
    def sites(self) -> list[str]:
        return list(self.acts)

    @property
    def n_tokens(self) -> int:
        return next(iter(self.acts.values())).shape[0]

    def __getitem__(self, site: str) -> Tensor:
        if site not in self.acts:
            raise InputError(f"these activations have no site {site!r}; they have {self.sites}")
        return self.acts[site]

    def batches(self, batch_size: int, *, seed: int = 0, epoch: int = 0,
                sites: Sequence[str] | None = None) -> Iterator[dict[str, Tensor]]:
        """Batches ``{site: [batch_size, d]}`` over one epoch in a seeded random order (full batches only)."""
        order = torch.randperm(self.n_tokens, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        for start in range(0, self.n_tokens - batch_size + 1, batch_size):
            rows = order[start:start + batch_size]
            yield {site: self[site][rows] for site in (sites or self.sites)}

    def split(self, n_test: int) -> tuple[Activations, Activations]:
        """(train, test): the last ``n_test`` tokens held out (the store is shuffled already)."""
        if not 0 < n_test < self.n_tokens:
            raise InputError(f"cannot hold out {n_test} of {self.n_tokens} tokens")
        cut = self.n_tokens - n_test
        tokens = self.tokens
        train = Activations({site: value[:cut] for site, value in self.acts.items()},
                            None if tokens is None else tokens[:cut], dict(self.meta))
        test = Activations({site: value[cut:] for site, value in self.acts.items()},
                           None if tokens is None else tokens[cut:], dict(self.meta))
        return train, test

    def save(self, folder: str | Path, *, shard_tokens: int = 1 << 16) -> Path:
        """Shards ``shard_00000.safetensors`` (every site plus ``tokens``) and ``activations.json`` last."""
        folder = Path(folder)
        n_shards = -(-self.n_tokens // shard_tokens)
        for shard in range(n_shards):
            rows = slice(shard * shard_tokens, (shard + 1) * shard_tokens)
            tensors = {site: value[rows].contiguous() for site, value in self.acts.items()}
            if self.tokens is not None:
                tensors["tokens"] = self.tokens[rows].contiguous()
            atomic_write_bytes(folder / f"shard_{shard:05d}.safetensors", safetensors.torch.save(tensors))
        info = {**self.meta, "sites": self.sites, "n_tokens": self.n_tokens, "n_shards": n_shards}
        atomic_write_text(folder / STORE_FILE, json.dumps(info, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, sites: Sequence[str] | None = None) -> Activations:
        """A store written by :meth:`save`; ``sites``: only these (a layer subset fits in less memory)."""
        folder = Path(folder)
        info_file = folder / STORE_FILE
        if not info_file.is_file():
            raise InputError(f"{folder} is not an activation store (no {STORE_FILE}; was the collection interrupted?)")
        info = json.loads(info_file.read_text())
        wanted = list(sites or info["sites"])
        missing = [s for s in wanted if s not in info["sites"]]
        if missing:
            raise InputError(f"the store {folder} has no sites {missing}; it has {info['sites']}")
        parts: dict[str, list[Tensor]] = {site: [] for site in wanted + ["tokens"]}
        for shard in range(info["n_shards"]):
            with safetensors.safe_open(folder / f"shard_{shard:05d}.safetensors", "pt") as file:
                for name in parts:
                    if name in file.keys():
                        parts[name].append(file.get_tensor(name))
        tokens = torch.cat(parts.pop("tokens")) if parts["tokens"] else None
        meta = {k: v for k, v in info.items() if k not in ("sites", "n_tokens", "n_shards")}
        return cls({site: torch.cat(parts[site]) for site in wanted}, tokens, meta)


def collect(hm, sites: str | Sequence[str], corpus: Any = None, *, tokens: int = 100_000, context: int = 128,
            batch_size: int = 16, skip_first: bool = True, dtype: torch.dtype = torch.float32,
            shuffle: bool = True, seed: int = 0, out: str | Path | None = None,
            progress: bool | None = None, max_norm_ratio: float | None = None) -> Activations:
    """Activations of ``sites`` at about ``tokens`` tokens of ``corpus`` (default: the installed docs).

    ``dtype``: how they are stored (``torch.float16`` halves the memory); ``out``: a folder to save the
    store in, or to load it from when it holds one collected with the same settings; ``max_norm_ratio``:
    leave out tokens with massive activations (see the module docstring; ``meta["dropped_tokens"]``)."""
    if max_norm_ratio is not None and not max_norm_ratio > 1:
        raise InputError(f"max_norm_ratio must be a number above 1 (times the median norm); got {max_norm_ratio!r}")
    sites = [parse_site(s) for s in ([sites] if isinstance(sites, str) else sites)]
    if not sites:
        raise InputError("collect needs at least one site")
    settings = {"model": getattr(hm, "name", None), "revision": getattr(hm, "revision", None),
                "context": context, "skip_first": skip_first, "dtype": str(dtype).removeprefix("torch."),
                "shuffle": shuffle, "seed": seed, "requested_tokens": tokens,
                "corpus": "installed_docs" if corpus is None else type(corpus).__name__,
                "max_norm_ratio": max_norm_ratio}
    if out is not None and (Path(out) / STORE_FILE).is_file():
        stored = json.loads((Path(out) / STORE_FILE).read_text())
        if all(stored.get(k) == v for k, v in settings.items()) and set(map(str, sites)) <= set(stored["sites"]):
            return Activations.load(out, sites=sites)
    started = time.perf_counter()
    blocks = token_blocks(corpus, getattr(hm, "tokenizer", None), context=context,
                          max_tokens=tokens + (-(-tokens // context) if skip_first else 0))   # [n_blocks, context]
    first = 1 if skip_first else 0
    per_block = blocks.shape[1] - first
    n_tokens = blocks.shape[0] * per_block
    buffers: dict[str, Tensor] = {}
    bar = tqdm(total=n_tokens, unit="tok", desc="activations",
               disable=not (sys.stderr.isatty() if progress is None else progress))
    with torch.inference_mode():
        for start in range(0, blocks.shape[0], batch_size):
            ids = blocks[start:start + batch_size].to(hm.device)
            out_run = hm.run(ids, cache=sites, logits=False)
            rows = slice(start * per_block, (start + ids.shape[0]) * per_block)
            for site in sites:
                value = out_run.cache[site][:, first:].flatten(2).flatten(0, 1)     # [batch * pos, d]
                if site not in buffers:
                    buffers[site] = torch.empty(n_tokens, value.shape[-1], dtype=dtype)
                buffers[site][rows] = value.to("cpu", dtype)
            bar.update(rows.stop - rows.start)
    bar.close()
    token_ids = blocks[:, first:].flatten()                                           # [n_tokens]
    keep = _ordinary_tokens(buffers, max_norm_ratio)
    dropped = int((~keep).sum())
    if dropped:
        buffers = {site: value[keep] for site, value in buffers.items()}
        token_ids, n_tokens = token_ids[keep], n_tokens - dropped
    if shuffle:
        order = torch.randperm(n_tokens, generator=torch.Generator().manual_seed(seed))
        buffers = {site: value[order] for site, value in buffers.items()}
        token_ids = token_ids[order]
    seconds = time.perf_counter() - started
    store = Activations({str(s): v for s, v in buffers.items()}, token_ids,
                        {**settings, "seconds": seconds, "tokens_per_second": n_tokens / seconds,
                         "dropped_tokens": dropped})
    if out is not None:
        store.save(out)
    return store


def _ordinary_tokens(buffers: dict[str, Tensor], max_norm_ratio: float | None) -> Tensor:
    """``[n_tokens]`` bool: the tokens whose norm is at most ``max_norm_ratio`` x the median at every site
    (all of them without a ratio, warning when tokens over 10 x the median hold most of a site's variance)."""
    n_tokens = next(iter(buffers.values())).shape[0]
    keep = torch.ones(n_tokens, dtype=torch.bool)
    for site, value in buffers.items():
        norms = value.float().norm(dim=-1)                                          # [n_tokens]
        median = norms.median()
        if max_norm_ratio is not None:
            keep &= norms <= max_norm_ratio * median
            continue
        massive = norms > 10 * median
        if bool(massive.any()):
            spread = (value.float() - value.float().mean(0)).pow(2).sum(-1)             # [n_tokens]
            share = float(spread[massive].sum() / spread.sum().clamp_min(1e-30))
            if share > 0.5:
                warnings.warn(f"{int(massive.sum())} of {n_tokens} tokens at {site} have norms over 10 x the median "
                              f"({float(median):.3g}) and carry {share:.0%} of its variance: reconstruction losses and "
                              f"FVU will be set by them; collect(..., max_norm_ratio=10) leaves them out",
                              MassiveActivationWarning, stacklevel=3)
    return keep
