"""Logit lens (and a tuned lens): what the model would predict from each layer's residual stream.

The logit lens reads ``resid_post.L`` through the model's own final norm and unembedding (and the
head's soft-cap or logit scale), so its last layer *is* the model's output. A tuned lens first sends
each layer's stream through a trained affine translator (:class:`TunedLens`, Belrose et al. 2023),
trained to match the final distribution on a corpus and saved as safetensors.

>>> import interp
>>> hm = interp.models.tiny("gpt2")
>>> lens = logit_lens(hm, "The keys to the", target=" dog", k=3)
>>> table = lens.table()                        # one row per layer × position
>>> list(table.columns)[:6]
['layer', 'position', 'token', 'top_tokens', 'top_token', 'top_probability']
>>> len(table) == hm.n_layers * len(hm.to_str_tokens("The keys to the"))
True
>>> bool((lens.probabilities[-1] - hm.run(lens.batch).logits[0].softmax(-1)).abs().max() < 1e-5)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import safetensors.torch
import torch
from torch import Tensor, nn

from interp.errors import InputError
from interp.eval.finite import check_finite
from interp.graph.adapters.layout import adjust_logits
from interp.graph.inputs import Batch
from interp.graph.positions import integer_index
from interp.graph.weights import unembed_module
from interp.io import atomic_write_bytes
from interp.viz.lens import lens_heatmap


@dataclass
class LensResult:
    """``probabilities``: ``[layer, pos, vocab]`` of one text; ``tokens``: its tokens as strings."""

    probabilities: Tensor
    tokens: list[str]
    top_ids: Tensor  # [layer, pos, k]
    target: int | None
    batch: Batch
    decode: object

    def table(self) -> pd.DataFrame:
        """One row per layer × position: the ``k`` most probable next tokens (``top_tokens``, joined by
        ``|``), the first and its probability, and the target's probability and rank (1 = top)."""
        rows = []
        n_layers, n_pos, _ = self.probabilities.shape
        for layer in range(n_layers):
            for position in range(n_pos):
                probs = self.probabilities[layer, position]
                top = [self.decode([int(i)]) for i in self.top_ids[layer, position]]
                row = {"layer": layer, "position": position, "token": self.tokens[position],
                       "top_tokens": "|".join(top), "top_token": top[0],
                       "top_probability": float(probs[self.top_ids[layer, position, 0]])}
                if self.target is not None:
                    row["target_probability"] = float(probs[self.target])
                    row["target_rank"] = int((probs > probs[self.target]).sum()) + 1
                rows.append(row)
        return pd.DataFrame(rows)

    def figure(self):
        """A plotly heat-map: layers × positions, coloured by the target's (else the top token's)
        probability, each cell labelled with the top token (:func:`interp.viz.lens.lens_heatmap`)."""
        return lens_heatmap(self.table())


def _logits(hm, resid: Tensor) -> Tensor:
    normed = hm.final_norm(resid) if hm.layout is not None and hm.layout.final_norm else resid
    return adjust_logits(hm.layout, hm.config, unembed_module(hm)(normed))


def logit_lens(hm, text: str, *, target: str | int | None = None, k: int = 5, lens: TunedLens | None = None,
               bos="auto") -> LensResult:
    """The logit (or, with ``lens``, tuned) lens of ``text`` at every layer and position."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a whole number of at least 1, not {k!r}")
    if lens is not None:
        lens.check_fits(hm)
    batch = hm.to_tokens(text, bos=bos, as_batch=True)
    target_id = hm.to_single_token(target) if isinstance(target, str) else target
    if target_id is not None and not isinstance(target, str):
        target_id = integer_index(target_id, "target (a token id or a token string)")
        vocab = unembed_module(hm).weight.shape[0]
        if not 0 <= target_id < vocab:
            raise InputError(f"target token id {target_id} is outside the vocabulary (0..{vocab - 1})")
    with torch.no_grad():
        cache = hm.run(batch, cache=["resid_post.*"]).cache
        layers = []
        for layer in range(hm.n_layers):
            resid = cache[f"resid_post.{layer}"]
            if lens is not None and layer < hm.n_layers - 1:
                resid = lens.translate(layer, resid)
            layers.append(_logits(hm, resid)[0].float().softmax(-1))  # [pos, vocab]
    probabilities = torch.stack(layers)  # [layer, pos, vocab]
    check_finite(probabilities, f"logit lens of {text!r}", lambda i: f"the distribution of layer {i[0]}, position "
                 f"{i[1]}")
    top_ids = probabilities.topk(min(k, probabilities.shape[-1]), dim=-1).indices
    return LensResult(probabilities, hm.to_str_tokens(batch.input_ids[0]), top_ids, target_id, batch,
                      hm.tokenizer.decode)


class TunedLens(nn.Module):
    """One affine translator per layer but the last, ``h + A h + b`` (``A``, ``b`` start at zero: the
    logit lens). Train with :func:`train_tuned_lens`; :meth:`save` / :meth:`load` as safetensors."""

    def __init__(self, n_layers: int, d_model: int):
        super().__init__()
        self.translators = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(n_layers - 1))
        for translator in self.translators:
            nn.init.zeros_(translator.weight)
            nn.init.zeros_(translator.bias)

    def translate(self, layer: int, resid: Tensor) -> Tensor:
        translator = self.translators[layer]
        return resid + translator(resid.to(translator.weight.dtype)).to(resid.dtype)

    def save(self, path: str | Path) -> Path:
        tensors = {name: value.detach().contiguous() for name, value in self.state_dict().items()}
        metadata = {"n_layers": str(len(self.translators) + 1)}
        return atomic_write_bytes(path, safetensors.torch.save(tensors, metadata=metadata))

    @classmethod
    def load(cls, path: str | Path) -> TunedLens:
        """Read a lens written by :meth:`save`; a missing or malformed file is an ``InputError`` naming it."""
        try:
            tensors = safetensors.torch.load_file(str(path))
            n_layers = len({name.split(".")[1] for name in tensors}) + 1
            lens = cls(n_layers, tensors["translators.0.weight"].shape[0])
            lens.load_state_dict(tensors)
        except FileNotFoundError:
            raise InputError(f"tuned lens {path}: no such file") from None
        except (safetensors.SafetensorError, OSError, KeyError, IndexError, RuntimeError) as error:
            raise InputError(f"tuned lens {path}: not a tuned lens saved by TunedLens.save ({error})") from None
        return lens

    def check_fits(self, hm) -> None:
        """An ``InputError`` unless this lens was made for ``hm``'s shape (one translator per layer but the
        last, each ``d_model`` wide) and its parameters are finite: otherwise its numbers would be wrong."""
        layers, width = len(self.translators) + 1, self.translators[0].in_features if self.translators else None
        if layers != hm.n_layers or width not in (None, hm.d_model):
            raise InputError(f"the tuned lens was made for a model of {layers} layers and d_model={width}, but "
                             f"{hm.name} has {hm.n_layers} layers and d_model={hm.d_model}; train one for this "
                             "model (train_tuned_lens)")
        bad = sum(int((~torch.isfinite(p)).sum()) for p in self.parameters())
        if bad:
            raise InputError(f"the tuned lens holds {bad} NaN or inf parameters (did its training diverge?); every "
                             "value must be finite")


def train_tuned_lens(hm, texts: list[str], *, steps: int = 100, lr: float = 1e-3, seed: int = 0) -> TunedLens:
    """Fit each translator so that its layer's lens matches the model's final distribution (KL) on ``texts``."""
    torch.manual_seed(seed)
    lens = TunedLens(hm.n_layers, hm.d_model)
    with torch.no_grad():
        out = hm.run(hm.to_tokens(texts, as_batch=True), cache=["resid_post.*"])
    mask = out.batch.attention_mask.bool()
    final = out.logits.float().log_softmax(-1)[mask]  # [tokens, vocab]
    optimiser = torch.optim.Adam(lens.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = 0.0
        for layer in range(hm.n_layers - 1):
            resid = out.cache[f"resid_post.{layer}"].float()
            predicted = _logits(hm, lens.translate(layer, resid).to(hm.dtype)).float().log_softmax(-1)[mask]
            loss = loss + torch.nn.functional.kl_div(predicted, final, log_target=True, reduction="batchmean")
        loss.backward()
        optimiser.step()
    return lens


__all__ = ["LensResult", "TunedLens", "logit_lens", "train_tuned_lens"]
