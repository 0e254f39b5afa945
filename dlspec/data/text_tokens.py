"""The tokenizers of `data: {text: ...}`, built with the `tokenizers` library so that one JSON
file (tokenizers' own format, never a pickle) holds each of them:

- char: a word-level model over single characters (<pad> 0, <unk> 1, then the characters of
  the file, sorted), pieces of one character each, fused back into text;
- byte: a byte-level BPE without merges (<pad> 0, then byte b as id b + 1 of the UTF-8);
- bpe: a byte-level BPE with `vocab` tokens at most, trained on the train split's text only.

Byte-level tokenizers give back exactly the text they read. A tokenizer of classification
texts pads and cuts every text to `length` ids (its JSON says so), as the model was trained.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from dlspec.data.text_config import SPECIALS, Tokenizer
from dlspec.errors import DataError, Diagnostic

if TYPE_CHECKING:
    import tokenizers

PAD_ID = 0
UNUSED = "<unused>"  # the names of the ids a BPE vocabulary left free (never generated)


def build_tokenizer(kind: Tokenizer, characters: Iterable[str], train_texts: Iterable[str],
                    vocab: int) -> tokenizers.Tokenizer:
    """The tokenizer of `kind`: char over `characters`, byte, or a BPE of at most `vocab`
    tokens trained on `train_texts`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = list(SPECIALS[kind])
    if kind == "char":
        ids = {token: i for i, token in enumerate([*specials, *sorted(set(characters))])}
        tokenizer = Tokenizer(models.WordLevel(ids, unk_token=specials[1]))
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("(?m)."), behavior="isolated")
        tokenizer.decoder = decoders.Fuse()
    else:
        alphabet = byte_alphabet()
        if kind == "byte":
            ids = {token: i for i, token in enumerate([*specials, *alphabet])}
            tokenizer = Tokenizer(models.BPE(ids, []))
        else:
            tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False,
                                                           use_regex=kind == "bpe")
        tokenizer.decoder = decoders.ByteLevel()
        if kind == "bpe":
            trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials,
                                          initial_alphabet=alphabet, show_progress=False)
            tokenizer.train_from_iterator(train_texts, trainer=trainer)
    tokenizer.add_special_tokens(specials)
    return tokenizer


def byte_alphabet() -> list[str]:
    """The characters byte-level tokenizers write each byte 0..255 as (GPT-2's table), in
    byte order: printable ones as themselves, the others from chr(256) on."""
    kept = {*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1),
            *range(ord("\xae"), ord("\xff") + 1)}
    shifted = iter(range(256, 512))
    return [chr(b) if b in kept else chr(next(shifted)) for b in range(256)]


def fixed_length(tokenizer: tokenizers.Tokenizer, length: int) -> tokenizers.Tokenizer:
    """The tokenizer padding (with <pad>, at the end) and cutting every text to `length`."""
    tokenizer.enable_padding(pad_id=PAD_ID, pad_token=SPECIALS["char"][0], length=length)
    tokenizer.enable_truncation(max_length=length)
    return tokenizer


def token_names(tokenizer: tokenizers.Tokenizer, size: int) -> list[str]:
    """The token of every id 0..size-1; ids the vocabulary left free are UNUSED."""
    names = [UNUSED] * size
    for token, i in tokenizer.get_vocab(with_added_tokens=True).items():
        if i < size:
            names[i] = token
    return names


def encode(tokenizer: tokenizers.Tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """The ids of each text."""
    return [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]


def load_tokenizer(text: str, origin: str) -> tokenizers.Tokenizer:
    """A tokenizer from its JSON (a run's tokenizer.json, an ONNX file's metadata); DLS401
    naming `origin` when it is not one."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_str(text)
    except Exception as error:  # tokenizers raises plain Exceptions for bad JSON
        raise DataError(Diagnostic(
            "DLS401", f"the tokenizer of {origin} cannot be read: {error}",
            hint="it is tokenizers' JSON as dlspec train wrote it; train the run again")
        ) from None
