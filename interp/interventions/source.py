"""Where source activations come from: a cache, a run output, a tensor, or inputs to run.

:class:`Source` normalises all of them to ``acts [batch_src, pos_src, ...]`` plus the source's
attention mask, so that source positions count the *source's* real tokens (a minimal pair's
base and source may tokenise to different lengths).

>>> import interp
>>> hm = interp.models.tiny("gpt2")
>>> out = hm.run(["The keys to the cabinet"], cache=["resid_post.0"])
>>> Source.of(out.cache, "resid_post.0").acts.shape[-1]
64
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from interp.errors import InputError, SiteError
from interp.graph.inputs import Batch
from interp.interventions import positions as P


@dataclass
class Source:
    """Source activations (``acts``) with their mask, or ``inputs`` still to be run."""

    acts: Tensor | None = None  # [batch_src, pos_src, ...]
    mask: Tensor | None = None  # [batch_src, pos_src]; None = every position is a real token
    inputs: Any = None  # text(s) or a Batch, run at bind time
    per_row: bool = False  # acts are one value per row [R, ...] (for Slots positions), not [batch, pos, ...]

    @classmethod
    def rows(cls, values: Tensor) -> Source:
        """One value per row ``[R, ...]`` (kept as given: no copy)."""
        if values.ndim < 2:
            raise InputError(f"a source value per row must be [rows, ...]; got shape {list(values.shape)}")
        return cls(values, per_row=True)

    @classmethod
    def of(cls, source: Any, site: str) -> Source | None:
        if source is None or isinstance(source, Source):
            return source
        if hasattr(source, "cache") and hasattr(source, "batch"):  # a RunOutput
            batch = source.batch
            return cls(_cached(source.cache, site), None if batch is None else batch.attention_mask)
        if isinstance(source, dict):  # an ActivationCache (remembers its batch) or a plain dict
            batch = getattr(source, "batch", None)
            return cls(_cached(source, site), None if batch is None else batch.attention_mask)
        if isinstance(source, Tensor):
            if source.is_floating_point():
                if source.ndim < 3:
                    raise InputError(
                        f"a source tensor must be [batch, pos, ...]; got shape {list(source.shape)}"
                    )
                return cls(source)
            return cls(inputs=source)  # token ids
        if isinstance(source, (str, list, tuple, Batch)):
            return cls(inputs=list(source) if isinstance(source, tuple) else source)
        raise InputError(
            "source must be a cache, a RunOutput, an activation tensor or inputs to run; "
            f"got {type(source).__name__}"
        )

    def materialise(self, hm, site: str, padding_side: str = "right") -> Source:
        """Run the source inputs (no interventions) if needed."""
        if self.acts is not None:
            return self
        out = hm.run(self.inputs, cache=[site], logits=False, padding_side=padding_side)
        return Source(out.cache[site], out.batch.attention_mask)

    def at(self, spec: P.PositionSpec | None, base_size: int, base_width: int, site: str) -> Tensor:
        """Source values at ``spec`` (counted in the source's real tokens): ``[base_size, k, ...]``.

        A source of one example serves every base example; any other batch size must match.
        """
        acts = self.acts
        if acts.shape[0] not in (1, base_size):
            raise InputError(
                f"{site}: the source batch has {acts.shape[0]} examples but the base batch has {base_size}; "
                "they must match (or the source must be a single example, shared by all)"
            )
        if spec is None:
            if acts.shape[1] != base_width:
                raise InputError(
                    f"{site}: positions=None patches every position, but the source has {acts.shape[1]} "
                    f"positions and the base {base_width}; choose positions (and source_positions)"
                )
            return acts.expand(base_size, *acts.shape[1:])
        batch = P.mask_batch(self.mask, acts.shape[0], acts.shape[1])
        try:
            idx = P.resolve(spec, batch)
        except InputError as error:
            raise InputError(f"{site} source positions: {error}") from None
        values = P.select(acts, idx, None)
        return values.expand(base_size, *values.shape[1:])

    def tensors(self) -> dict[str, Tensor]:
        if self.acts is None:
            return {}
        out = {"source_acts": self.acts.detach()}
        if self.mask is not None:
            out["source_mask"] = self.mask.long()
        return out

    def config(self) -> Any:
        if self.acts is not None:
            return "rows" if self.per_row else "tensors"
        if isinstance(self.inputs, Batch):
            batch = self.inputs
            return {"input_ids": batch.input_ids.tolist(), "attention_mask": batch.attention_mask.tolist()}
        if isinstance(self.inputs, Tensor):
            return {"input_ids": self.inputs.tolist()}
        return self.inputs

    @classmethod
    def from_saved(cls, config: Any, tensors: dict[str, Tensor]) -> Source | None:
        if config is None:
            return None
        if config in ("tensors", "rows"):
            return cls(tensors.pop("source_acts"), tensors.pop("source_mask", None), per_row=config == "rows")
        if isinstance(config, dict):
            ids = torch.tensor(config["input_ids"])
            mask = torch.tensor(config.get("attention_mask", torch.ones_like(ids).tolist()))
            return cls(inputs=Batch(ids, mask))
        return cls(inputs=config)

    def __repr__(self) -> str:
        if self.acts is not None:
            return f"{'rows' if self.per_row else 'cache'}{list(self.acts.shape)}"
        return repr(self.inputs)


def _cached(cache: dict, site: str) -> Tensor:
    try:
        return cache[site]
    except KeyError:
        raise SiteError(f"the source cache has no {site!r}; it holds {sorted(cache)}") from None
