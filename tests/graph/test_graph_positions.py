import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.errors import InputError
from interp.graph import Batch, resolve_positions


def batch_of(lengths, width, side):
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        mask[row, width - n:] = 1 if side == "left" else 0
        mask[row, :n] = 1 if side == "right" else mask[row, :n]
    return Batch(torch.zeros(len(lengths), width, dtype=torch.long), mask)


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(1, 8), min_size=1, max_size=5), side=st.sampled_from(["left", "right"]),
       extra=st.integers(0, 3), data=st.data())
def test_positions_land_on_real_tokens(lengths, side, extra, data):
    batch = batch_of(lengths, max(lengths) + extra, side)
    rel = [data.draw(st.integers(-n, n - 1)) for n in lengths]
    absolute = resolve_positions([[r] for r in rel], batch)[:, 0]  # one position per example
    assert batch.attention_mask[torch.arange(len(lengths)), absolute].eq(1).all()
    real_index = absolute - batch.offsets
    assert real_index.tolist() == [r % n for r, n in zip(rel, lengths)]
    assert resolve_positions("last", batch)[:, 0].tolist() == batch.last_index.tolist()


def test_out_of_range_position_names_the_example():
    batch = batch_of([3, 5], 5, "right")
    with pytest.raises(InputError, match="position 4 is out of range for example 0, which has 3 tokens"):
        resolve_positions([4, 4], batch)
    with pytest.raises(InputError, match=r"positions=\[\[1\], \[2\]\] has 2 per-example lists for a batch of 3; .* "
                                         r"for the same positions in every example write positions=\[1, 2\]"):
        resolve_positions([[1], [2]], batch_of([3, 3, 3], 3, "left"))
    with pytest.raises(InputError, match="'all' needs equally long"):
        resolve_positions("all", batch)


def test_slices_and_lists():
    batch = batch_of([3, 4], 4, "left")
    assert resolve_positions(slice(-2, None), batch).tolist() == [[2, 3], [2, 3]]
    assert resolve_positions([[0, 1], [0, 3]], batch).tolist() == [[1, 2], [0, 3]]


def test_batch_rejects_holes_and_empty_rows():
    with pytest.raises(InputError, match="contiguous"):
        Batch(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[1, 0, 1]]))
    with pytest.raises(InputError, match="no tokens"):
        Batch(torch.zeros(1, 3, dtype=torch.long), torch.tensor([[0, 0, 0]]))
