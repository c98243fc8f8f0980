"""The fewest floating-point operations of the CausalGym protocol's work, task by task and layer by layer,
counted from the rows the protocol runs (``benchmarks/protocol_floor.py`` explains the count;
``benchmarks/protocol.py`` weights its projection with it)."""

from __future__ import annotations

import torch

from interp.eval.causalgym.plan import encode_task, load_tasks
from interp.methods.das import batch_order

SUITES = "agreement,cleft,filler_gap,garden_path,npi,subordination"
FULL_TASKS = 29  # the published protocol's tasks (the built-in suites hold 25 of them)
SCORED_SETS = 9  # vanilla, probe, mean, pca, kmeans, lda, random (label-blind: task and control in one row) + 2 DAS


class Model:
    """Per-token multiply-add counts of the embedded model's pieces (2 FLOPs each)."""

    def __init__(self, config):
        d, ff = config.hidden_size, config.intermediate_size
        heads, kv = config.num_attention_heads, config.num_key_value_heads
        self.layers, self.d_head, self.heads = config.num_hidden_layers, d // heads, heads
        self.kv_proj = 2 * d * kv * self.d_head  # keys and values
        self.rest = 2 * d * d + 3 * d * ff  # queries, output, gated MLP
        self.vocab_row = d * config.vocab_size

    def attention(self, context: torch.Tensor) -> float:
        """Scores and weighted values for tokens that see ``context`` keys each."""
        return float(2 * self.heads * self.d_head * context.sum())


def rows_tokens(data, examples: torch.Tensor, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row (example, position): the tokens recomputed (edited one .. last) and each one's context length."""
    start = data.absolute("base")[examples, positions]
    last = data.base.last_index[examples]
    offset = data.base.offsets[examples]
    return last - start + 1, (start - offset, last - offset + 1)


def suffix_flops(model: Model, data, examples: torch.Tensor, positions: torch.Tensor, layers: int, *,
                 backward: bool, full_vocab: bool, attention: bool = True) -> float:
    """Fewest FLOPs of rows (examples, positions) through the last ``layers`` layers and the unembedding
    (``attention=False``: the products with weights alone, as torch's FLOP counter sees a CPU forward)."""
    lengths, (first, end) = rows_tokens(data, examples, positions)
    tokens, rows = float(lengths.sum()), float(len(lengths))
    context = torch.cat([torch.arange(int(a) + 1, int(b) + 1) for a, b in zip(first, end)]).float()
    attend = model.attention if attention else (lambda context: 0.0)
    per_layer = 2 * (tokens * (model.kv_proj + model.rest)) + 2 * attend(context)
    last_layer = 2 * (tokens * model.kv_proj + rows * model.rest) + 2 * attend(end.float())
    unembed = 2 * rows * (model.vocab_row if full_vocab else 2 * model.d_head)  # answer columns: negligible
    forward = (layers - 1) * per_layer + last_layer + unembed
    return forward * (2 if backward else 1)  # input gradients: one more product per forward product


def task_flops(model: Model, task, settings) -> dict[str, list[float]]:
    """FLOPs per layer (index = layer) of DAS and scoring, and the plain runs once per task."""
    n_pos = len(task.spans)
    das_rows = []
    for idx in batch_order(task.train.n, settings.das.steps, settings.das.batch_size, settings.seed):
        das_rows.append((idx.repeat(n_pos * 2), torch.arange(n_pos).repeat_interleave(len(idx)).repeat(2)))
    examples = torch.cat([r[0] for r in das_rows])
    positions = torch.cat([r[1] for r in das_rows])
    n_test = task.test.n
    score_rows = (torch.arange(n_test).repeat(n_pos * SCORED_SETS),
                  torch.arange(n_pos).repeat_interleave(n_test).repeat(SCORED_SETS))
    out = {"das": [], "scoring": []}
    for layer in range(model.layers):
        above = model.layers - layer - 1  # resid_post.L: the rows resume at layer L + 1
        if above == 0:  # the last layer's site: only the unembedding is left
            out["das"].append(2 * 2 * len(examples) * model.vocab_row)
            out["scoring"].append(0.0)
            continue
        out["das"].append(suffix_flops(model, task.train, examples, positions, above, backward=True, full_vocab=True))
        out["scoring"].append(suffix_flops(model, task.test, *score_rows, above, backward=False, full_vocab=False))
    plain = 0.0
    for data in (task.train, task.test):
        tokens = float((data.base.last_index - data.base.offsets + 1).sum())  # base side; the source side alike
        plain += 2 * 2 * tokens * model.layers * (model.kv_proj + model.rest)
    out["plain"] = [plain]
    return out


def protocol_tasks(hm, settings, suites: str = SUITES) -> dict[str, dict[str, list[float]]]:
    """``{task: task_flops(...)}`` for the built-in suites' tasks, encoded as the protocol encodes them
    (``settings``: a validated CausalGymConfig)."""
    model, out = Model(hm.model.config), {}
    for suite in suites.split(","):
        for splits in load_tasks(f"builtin:{suite}", None, settings.seed, settings.n_train, settings.n_test).values():
            task = encode_task(hm, splits, None, tuple(settings.control_labels))
            out[splits.task] = task_flops(model, task, settings)
    return out
