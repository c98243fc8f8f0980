"""Property-based tests (hypothesis) for site parsing and position selection, the inputs users type.

Span alignment and the formula parser have theirs in ``test_suites_alignment.py`` and
``test_suites_formula.py``. See the case counts with ``pytest --hypothesis-show-statistics``.
"""

from __future__ import annotations

import re

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import interp
from interp.errors import InputError, SiteError
from interp.graph import Batch, resolve_positions
from interp.graph.sites import GLOBAL_KINDS_AFTER, GLOBAL_KINDS_BEFORE, LAYER_KINDS, Site, parse_site

HM = interp.models.tiny("llama")  # 2 layers; module-level so that every example reuses it
KINDS = sorted({n.split(".")[0] for n in HM.sites()})


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30) | st.text(alphabet="resid_postmlpattnz.:-0123456789 ", max_size=20))
def test_any_text_is_a_site_or_a_site_error(text):
    try:
        parsed = parse_site(text)
    except SiteError as error:
        assert repr(text) in str(error)
        guess = re.search(r"did you mean '([^']*)'\?", str(error))
        if guess:  # a suggestion is itself a well-formed name
            parse_site(guess[1])
        return
    assert isinstance(parsed, Site)
    try:
        binding = HM.binding(text)
    except SiteError as error:
        assert str(error)
        return
    assert binding.name in HM.sites() or parsed.kind == "module"


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(LAYER_KINDS), layer=st.integers(-5, 5))
def test_canonical_names_parse_and_bind_with_range_checks(kind, layer):
    name = f"{kind}.{layer}"
    parsed = parse_site(name)
    assert (parsed.kind, parsed.layer, parsed.module, parsed.io) == (kind, layer, None, None)
    if kind not in KINDS:
        return
    if -HM.n_layers <= layer < HM.n_layers:
        assert HM.binding(name).name == f"{kind}.{layer % HM.n_layers}"
    else:
        try:
            HM.binding(name)
        except SiteError as error:
            assert f"layer {layer} of site {name!r} is out of range" in str(error)
        else:
            raise AssertionError(f"{name} bound on a {HM.n_layers}-layer model")


def misspell(kind: str, layer: int | None, data) -> str:
    text = kind if layer is None else data.draw(st.sampled_from([f"{kind}{layer}", f"{kind} {layer}",
                                                                 f"{kind}-{layer}", f"{kind}:{layer}"]))
    text = data.draw(st.sampled_from([text, text.upper(), text.title(), text.replace("_", "-"),
                                      text.replace("_", " ")]))
    return text


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(LAYER_KINDS + GLOBAL_KINDS_BEFORE + GLOBAL_KINDS_AFTER), layer=st.integers(0, 40),
       data=st.data())
def test_a_mistyped_canonical_name_suggests_itself(kind, layer, data):
    layer = None if kind in GLOBAL_KINDS_BEFORE + GLOBAL_KINDS_AFTER else layer
    wanted = kind if layer is None else f"{kind}.{layer}"
    typed = misspell(kind, layer, data)
    if typed == wanted:
        return
    try:
        parse_site(typed)
    except SiteError as error:
        assert f"did you mean {wanted!r}?" in str(error), str(error)
    else:
        raise AssertionError(f"{typed!r} parsed")


# ------------------------------------------------------------------------------ positions
def batch_of(lengths: list[int], extra: int, side: str) -> Batch:
    width = max(lengths) + extra
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        if side == "left":
            mask[row, width - n:] = 1
        else:
            mask[row, :n] = 1
    return Batch(torch.zeros(len(lengths), width, dtype=torch.long), mask)


SCALARS = st.integers(-12, 12) | st.floats(-3, 3) | st.booleans() | st.none() | st.sampled_from(
    ["last", "all", "first", "", "-1"])
SPECS = st.recursive(SCALARS | st.builds(slice, st.integers(-6, 6) | st.none(), st.integers(-6, 6) | st.none(),
                                         st.sampled_from([None, 1, 2, -1])),
                     lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner), max_leaves=8)


@settings(max_examples=600, deadline=None)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), extra=st.integers(0, 2),
       side=st.sampled_from(["left", "right"]), spec=SPECS, as_tensor=st.booleans())
def test_any_position_spec_resolves_to_real_tokens_or_is_an_input_error(lengths, extra, side, spec, as_tensor):
    batch = batch_of(lengths, extra, side)
    if as_tensor:
        try:
            spec = torch.tensor(spec)
        except (TypeError, ValueError, RuntimeError):
            pass
    try:
        idx = resolve_positions(spec, batch)
    except InputError as error:
        assert str(error)
        return
    assert idx.ndim == 2 and idx.shape[0] == len(lengths) and idx.dtype == torch.long
    assert batch.attention_mask.gather(1, idx).eq(1).all(), "a position landed on padding"


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 8), copies=st.integers(1, 3), extra=st.integers(0, 2), side=st.sampled_from(["left", "right"]),
       start=st.integers(-9, 9) | st.none(), stop=st.integers(-9, 9) | st.none(),
       step=st.sampled_from([None, 1, 2, 3, -1]))
def test_slices_select_like_python_over_real_tokens(n, copies, extra, side, start, stop, step):
    batch = batch_of([n] * copies, extra, side)
    expected = list(range(n))[start:stop:step]
    try:
        idx = resolve_positions(slice(start, stop, step), batch)
    except InputError:
        assert not expected  # only an empty selection may fail (nothing to select)
        return
    assert (idx - batch.offsets[:, None]).tolist() == [expected] * copies
