"""Span/region to token alignment, for tokenizers with and without leading-space tokens and BOS."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.models import tiny_tokenizer
from interp.suites.alignment import context_ids, encode_spans, regions_to_spans
from interp.suites.pairs import Pair

CORPUS = ["The keys to the cabinet are on the table.", "No teacher has ever seen any student, ever!",
          "While the doctor visited the patient the nurse sang.", "Café naïve résumé — déjà vu."]


@functools.cache
def metaspace_tokenizer():
    """SentencePiece-style: spaces become '▁' at the start of tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>"],
                                                            show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>")


@functools.cache
def word_tokenizer():
    """No spaces in any token (BERT-like word splitting); no BOS, no EOS."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=150, special_tokens=["[UNK]"],
                                                                  show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


TOKENIZERS = {
    "byte-level": lambda: tiny_tokenizer(),
    "byte-level+bos": lambda: tiny_tokenizer(add_bos=True),
    "metaspace": metaspace_tokenizer,
    "words": word_tokenizer,
}


def test_context_token_choices():
    gpt2, llama, words = tiny_tokenizer(), tiny_tokenizer(add_bos=True), word_tokenizer()
    assert context_ids(gpt2) == [gpt2.convert_tokens_to_ids("<|endoftext|>")]
    assert context_ids(llama) == [llama.convert_tokens_to_ids("<s>")]       # what the tokenizer adds itself
    assert context_ids(words) == []                                          # no BOS, no EOS: nothing
    assert context_ids(gpt2, None) == [] and context_ids(gpt2, 7) == [7]
    assert context_ids(gpt2, "<s>") == [gpt2.convert_tokens_to_ids("<s>")]


def test_regions_join_with_single_spaces_and_the_space_opens_the_next_region():
    assert regions_to_spans(["", "The", "", "dog", "."]) == ["", "The", "", " dog", " ."]
    enc = encode_spans(tiny_tokenizer(), regions_to_spans(["The", "author", "", "laughs", "."]))
    pieces = [tiny_tokenizer().convert_ids_to_tokens([enc.ids[i] for i in tokens]) for tokens in enc.span_tokens]
    assert pieces == [["The"], ["Ġauthor"], [], ["Ġlaugh", "s"], ["Ġ", "."]]   # a lone space token goes right
    assert enc.text == "The author laughs ."


def test_base_and_source_sides_are_located_separately():
    pair = Pair(("The", " dog", " near", " the", " house"), ("The", " dogs", " near", " the", " house"),
                "singular", "plural", " is", " are", task="agr")
    base, src = pair.span_ends(tiny_tokenizer())
    assert base == [1, 2, 3, 4, 5]          # <|endoftext|> The Ġdog Ġnear Ġthe Ġhouse
    assert src == [1, 3, 4, 5, 6]           # <|endoftext|> The Ġdog s Ġnear Ġthe Ġhouse
    encoded = pair.encode(tiny_tokenizer())
    assert encoded.positions(2) == (3, 4)
    assert encoded.sites == [1, 2, 3, 4]


def test_empty_span_is_not_a_site_and_has_no_position():
    pair = Pair(("The", " key", "", " to", " the cabinet"), ("The", " key", ",", " to", " the cabinet"),
                "a", "b", " is", " are")
    encoded = pair.encode(tiny_tokenizer())
    assert pair.label_spans == (2,)
    assert encoded.sites == [3, 4]
    with pytest.raises(Exception, match="no tokens on the base side"):
        encoded.positions(2)


# ------------------------------------------------------------------------------ properties
WORDS = st.text(alphabet="abcdefgxyz.,!?'éü—", min_size=1, max_size=7)
REGIONS = st.lists(st.one_of(st.just(""), st.lists(WORDS, min_size=1, max_size=3).map(" ".join)),
                   min_size=1, max_size=6)


def _nonspace(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(TOKENIZERS)), contents=REGIONS)
def test_region_tokens_spell_exactly_their_region(name, contents):
    """With SyntaxGym joining, the characters of the tokens given to a region are that region."""
    tokenizer = TOKENIZERS[name]()
    spans = regions_to_spans(contents)
    enc = encode_spans(tokenizer, spans)
    encoded = tokenizer(enc.text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"]
    assert enc.ids[enc.prefix_length:] == encoded["input_ids"]
    owned = sorted(i for tokens in enc.span_tokens for i in tokens)
    assert owned == sorted(set(owned)) and all(i >= enc.prefix_length for i in owned)
    for content, tokens in zip(contents, enc.span_tokens):
        covered = sorted({c for i in tokens for c in range(*offsets[i - enc.prefix_length])})  # bytes of one
        chars = "".join(enc.text[c] for c in covered)                                         # char share it
        assert _nonspace(chars) == _nonspace(content)
        assert tokens == sorted(tokens)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(sorted(TOKENIZERS)), spans=st.lists(
    st.one_of(st.just(""), WORDS, WORDS.map(lambda w: " " + w)), min_size=1, max_size=6))
def test_span_ends_are_ordered_and_every_token_is_accounted_for(name, spans):
    """Any spans (CausalGym style): last indices increase with the span index; no token is lost."""
    tokenizer = TOKENIZERS[name]()
    enc = encode_spans(tokenizer, spans)
    ends = [enc.last_index(k) for k in range(len(spans))]
    present = [e for e in ends if e is not None]
    assert present == sorted(present) and len(set(present)) == len(present)
    for k, span in enumerate(spans):
        if not span:
            assert ends[k] is None
    total = sum(len(t) for t in enc.span_tokens)
    unowned = sum(owner is None for owner in enc.token_span[enc.prefix_length:])
    assert total + unowned == len(enc.ids) - enc.prefix_length
    assert unowned == 0 or not _nonspace(enc.text) or name == "words"


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(TOKENIZERS)), base=st.lists(WORDS, min_size=2, max_size=5),
       swap=st.data())
def test_pair_sides_match_encoding_each_side_alone(name, base, swap):
    tokenizer = TOKENIZERS[name]()
    k = swap.draw(st.integers(0, len(base) - 1))
    other = swap.draw(WORDS)
    base_spans = [base[0]] + [" " + w for w in base[1:]]
    src_spans = list(base_spans)
    src_spans[k] = (" " if k else "") + other
    pair = Pair(tuple(base_spans), tuple(src_spans), "x", "y", " a", " b")
    base_ends, src_ends = pair.span_ends(tokenizer)
    for spans, ends in ((base_spans, base_ends), (src_spans, src_ends)):
        alone = encode_spans(tokenizer, spans)
        assert ends == [alone.last_index(i) for i in range(len(spans))]
