"""Look at SAE features: each feature's top-activating contexts (tokens shaded by its activation) and
the tokens its decoder row promotes and suppresses through the unembedding; inline in Jupyter
(``_repr_html_``) and as one offline HTML page (no scripts, no network).

>>> import interp, tempfile
>>> from interp.sae import SAE
>>> hm = interp.models.tiny("gpt2")
>>> sae = SAE(hm.d_model, 64, kind="relu", site="resid_post.0", seed=0)
>>> board = feature_dashboard(hm, sae, ["The keys to the cabinet", "A dog near the houses"], features=[3, 7], k=2)
>>> [card.feature for card in board.cards], len(board.cards[0].contexts) <= 2
([3, 7], True)
>>> path = board.write(tempfile.mkdtemp() + "/features.html")       # one self-contained page
>>> "<html" in path.read_text() and "feature 3" in board._repr_html_()
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import torch

from interp.errors import InputError
from interp.io import atomic_write_text
from interp.sae.features import feature_activations, promoted_tokens
from interp.sae.model import SAE


@dataclass
class Context:
    """One top-activating token: ``tokens`` around it, their ``activations``, and which one it is (``focus``)."""

    text: int                    # index of the text
    position: int                # token index in the text
    value: float                 # the feature's activation there
    tokens: list[str]
    activations: list[float]
    focus: int


@dataclass
class FeatureCard:
    feature: int
    max_activation: float
    density: float               # share of real tokens where it fires
    contexts: list[Context]
    promoted: list[tuple[str, float]] = field(default_factory=list)
    suppressed: list[tuple[str, float]] = field(default_factory=list)

    def html(self) -> str:
        top = max(self.max_activation, 1e-12)
        rows = []
        for context in self.contexts:
            spans = "".join(_token(token, value / top, i == context.focus)
                            for i, (token, value) in enumerate(zip(context.tokens, context.activations, strict=True)))
            rows.append(f"<tr><td>{context.value:.3g}</td><td style='font-family:monospace'>{spans}</td></tr>")
        logits = "".join(f"<tr><td>{_shown(up)}</td><td>{u:+.3g}</td><td>{_shown(down)}</td><td>{d:+.3g}</td></tr>"
                         for (up, u), (down, d) in zip(self.promoted, self.suppressed, strict=True))
        return (f"<div style='margin:1em 0'><h3>feature {self.feature}</h3>"
                f"<p>max activation {self.max_activation:.3g}, fires on {100 * self.density:.2f} % of tokens</p>"
                f"<table><tr><th>activation</th><th>context</th></tr>{''.join(rows)}</table>"
                f"<table><tr><th>promoted</th><th>logit</th><th>suppressed</th><th>logit</th></tr>{logits}</table></div>")


@dataclass
class FeatureDashboard:
    """Cards of the chosen features of one SAE on some texts."""

    title: str
    cards: list[FeatureCard]

    def html(self) -> str:
        return f"<div><h2>{escape(self.title)}</h2>{''.join(card.html() for card in self.cards)}</div>"

    def _repr_html_(self) -> str:
        return self.html()

    def write(self, path: str | Path) -> Path:
        """One offline HTML page (written atomically)."""
        path = Path(path)
        atomic_write_text(path, f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(self.title)}"
                                f"</title></head><body style='font-family:sans-serif'>{self.html()}</body></html>\n")
        return path


@torch.no_grad()
def feature_dashboard(hm, sae: SAE, texts: Sequence[str], *, features: Sequence[int] | None = None,
                      n_features: int = 10, k: int = 5, window: int = 8, n_tokens: int = 8, site: str | None = None,
                      batch_size: int = 16) -> FeatureDashboard:
    """Cards for ``features`` (default: the ``n_features`` with the largest activation on ``texts``):
    the ``k`` contexts where each fires most (``window`` tokens before, 2 after) and the ``n_tokens``
    tokens its decoder row promotes and suppresses (:func:`interp.sae.features.promoted_tokens`)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise InputError("feature_dashboard needs at least one text")
    acts, tokens = [], []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        batch = hm.tokenize(chunk)
        f = feature_activations(hm, sae, batch, site=site).float().cpu()          # [batch, pos, d_sae]
        for row in range(len(chunk)):
            n = int(batch.attention_mask[row].sum())
            real = batch.attention_mask[row].bool()
            acts.append(f[row][real[: f.shape[1]]][:n])
            tokens.append([hm.tokenizer.decode([i]) for i in batch.input_ids[row][real].tolist()])
    flat = torch.cat(acts)                                                          # [tokens, d_sae]
    if features is None:
        features = flat.max(0).values.topk(min(n_features, sae.d_sae)).indices.tolist()
    cards = []
    for feature in features:
        if not 0 <= int(feature) < sae.d_sae:
            raise InputError(f"feature {feature} is out of range: the SAE has {sae.d_sae} features")
        feature = int(feature)
        best = sorted(((float(a[p, feature]), t, p) for t, a in enumerate(acts) for p in range(len(a))
                       if a[p, feature] > 0), reverse=True)[:k]
        contexts = []
        for value, t, p in best:
            lo, hi = max(0, p - window), min(len(tokens[t]), p + 3)
            contexts.append(Context(t, p, value, tokens[t][lo:hi], acts[t][lo:hi, feature].tolist(), p - lo))
        promoted, suppressed = promoted_tokens(hm, sae.W_dec[feature].detach(), k=n_tokens)
        cards.append(FeatureCard(feature, float(flat[:, feature].max()), float((flat[:, feature] > 0).float().mean()),
                                 contexts, promoted, suppressed))
    where = site or sae.site
    return FeatureDashboard(f"{hm.name}: {sae.kind} SAE at {where} ({sae.d_sae} features)", cards)


def _token(token: str, strength: float, focus: bool) -> str:
    alpha = max(0.0, min(1.0, strength))
    border = "border-bottom:2px solid #000;" if focus else ""
    return (f"<span title='{strength:.3f}' style='background:rgba(255,120,0,{alpha:.2f});{border}"
            f"white-space:pre'>{_shown(token)}</span>")


def _shown(token: str) -> str:
    return escape(token.replace("\n", "⏎"))


__all__ = ["Context", "FeatureCard", "FeatureDashboard", "feature_dashboard"]
