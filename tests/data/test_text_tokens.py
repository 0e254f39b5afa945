"""The tokenizers of text data: each gives back the text it read, a BPE is trained on the
train split alone (and the same twice), and what a model trains on is what the saved JSON
reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from text_specs import language_model

from dlspec import api
from dlspec.data.text_tokens import build_tokenizer, byte_alphabet, fixed_length, load_tokenizer
from dlspec.errors import DataError

TEXT = "Héllo wörld ✓\r\nthe cat\tsat.\n"
LM = language_model(8, 4, "{text: corpus.txt, length: 8, tokenizer: bpe, vocab: 280, "
                    "split: [0.5, 0.25, 0.25]}")


@pytest.mark.parametrize("kind", ["char", "byte", "bpe"])
def test_a_tokenizer_saved_as_json_gives_back_the_text(kind):
    tokenizer = build_tokenizer(kind, set(TEXT), [TEXT * 3], 300)
    again = load_tokenizer(tokenizer.to_str(), "test")
    ids = again.encode(TEXT).ids
    assert ids == tokenizer.encode(TEXT).ids and 0 not in ids  # <pad> is never a text's
    assert again.decode(ids, skip_special_tokens=True) == TEXT
    expected = {"char": len(TEXT), "byte": len(TEXT.encode())}.get(kind)
    assert expected is None or len(ids) == expected
    if kind == "bpe":
        assert len(ids) < len(TEXT) and again.get_vocab_size() <= 300


def test_the_char_tokenizer_reads_unknown_characters_as_unk():
    tokenizer = build_tokenizer("char", set("abc"), [], 0)
    assert tokenizer.encode("abzc").ids == [2, 3, 1, 4]
    assert tokenizer.decode([2, 3, 1, 4], skip_special_tokens=True) == "abc"


def test_a_fixed_length_tokenizer_pads_and_cuts_as_its_json_says():
    tokenizer = load_tokenizer(fixed_length(build_tokenizer("byte", (), [], 0), 4).to_str(), "t")
    assert [e.ids for e in tokenizer.encode_batch(["ab", "abcdef"])] == [
        [98, 99, 0, 0], [98, 99, 100, 101]]  # byte b is id b + 1
    from tokenizers.pre_tokenizers import ByteLevel

    assert sorted(byte_alphabet()) == sorted(ByteLevel.alphabet())


def test_damaged_tokenizer_json_is_a_located_error():
    with pytest.raises(DataError, match="the tokenizer of run/tokenizer.json cannot be read"):
        load_tokenizer("{not json", "run/tokenizer.json")


def test_bpe_is_trained_on_the_train_split_only_and_the_same_twice(tmp_path: Path):
    # the train half repeats "catnap", the val and test halves "zebra": only the first merges
    corpus = "catnap " * 300 + "zebra " * 300
    (tmp_path / "corpus.txt").write_text(corpus, encoding="utf-8")
    (tmp_path / "lm.yaml").write_text(LM, encoding="utf-8")
    checked = api.check(tmp_path / "lm.yaml")
    data = api.load_data(checked)
    tokenizer = load_tokenizer(data.tokenizer, "run")
    vocab = tokenizer.get_vocab()
    assert "catnap" in vocab and not any("ebr" in token for token in vocab)
    assert len(data.class_names) == 280 and data.class_names[0] == "<pad>"
    assert tokenizer.decode(data.val.x[0].tolist()) in corpus
    assert set(tokenizer.decode(data.val.x[0].tolist())) <= set("zebra ")
    # the windows' targets are their inputs one token on
    np.testing.assert_array_equal(data.train.y[:, :-1], data.train.x[:, 1:])
    assert api.load_data(checked).tokenizer == data.tokenizer
