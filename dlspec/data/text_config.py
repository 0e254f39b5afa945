"""The `data:` keys of your own text: `text:` (a text file for a language model, or a CSV file
of texts and labels for text classification), `text_column:` and `tokenizer:`.

`text:` stands for `dataset: text`. The synthetic datasets' `length`, `samples` and `vocab`
keep their meaning: tokens per sequence, language-model windows, and (BPE) the vocabulary's
size. No numpy, no torch: `dlspec validate` imports this.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

TEXT = "text"  # the dataset name `text:` stands for
Tokenizer = Literal["char", "byte", "bpe"]
SPECIALS = {"char": ("<pad>", "<unk>"), "byte": ("<pad>",), "bpe": ("<pad>",)}
BYTES = 256  # byte-level tokenizers start from every byte
DEFAULT_BPE_VOCAB = 1000
DEFAULT_LENGTH = {"corpus": 64, "csv": 128}
DEFAULT_TEXT_COLUMN = "text"
_NOT_FOR_TEXT = ("path", "features", "inputs", "rescale", "standardize")


class TextFields(BaseModel):
    """The text keys of DataConfig (one block, see CONTRACT: each data source its own)."""

    text: str | None = Field(
        default=None,
        description="Your own text, relative to the spec file's folder: a UTF-8 text file "
        "(a corpus, for a language model: windows of `length` tokens, each predicting the "
        "next token at every position; its first, middle and last parts in data.split's "
        "proportions are the train, val and test text), or a .csv file with a header whose "
        "`text_column` holds a text per row and whose `target` column (default: the last "
        "other one) its class label (text classification; each text cut or padded with "
        "<pad>, id 0, to `length` tokens). The model's embedding and output sizes can "
        "follow the data with `${data.vocab_size}`.",
    )
    text_column: str | None = Field(
        default=None,
        description="text (a .csv file): the column holding the texts (default 'text').",
    )
    tokenizer: Tokenizer | None = Field(
        default=None,
        description="text: how text becomes token ids: 'char' (default; <pad>, <unk>, then "
        "every character of the file, sorted), 'byte' (<pad>, then the 256 bytes of its "
        "UTF-8), or 'bpe' (byte-level byte-pair encoding with `vocab` tokens, trained by "
        "the tokenizers library on the train split only). The tokenizer is saved in the run "
        "folder (tokenizer.json) and in the exported ONNX file, so `dlspec generate` and "
        "`dlspec predict` read raw text.",
    )


def is_table(text: str) -> bool:
    """Whether `text:` names a CSV file of texts and labels (else a corpus)."""
    return text.lower().endswith(".csv")


def tokenizer_of(config: Any) -> Tokenizer:
    return config.tokenizer or "char"


def text_length(config: Any) -> int:
    """Tokens per sequence: data.length, else 64 for a corpus and 128 for a CSV."""
    return config.length or DEFAULT_LENGTH["csv" if is_table(config.text) else "corpus"]


def bpe_vocab(config: Any) -> int:
    return config.vocab or DEFAULT_BPE_VOCAB


def check_text(config: Any) -> None:
    """The keys a DataConfig with `text:` may not have (ValueError), and the text keys
    without it."""
    if config.dataset != TEXT:
        given = [k for k in ("text_column", "tokenizer") if getattr(config, k) is not None]
        if given:
            raise ValueError(f"`{given[0]}` is for `text:` data; '{config.dataset}' has no "
                             f"text to tokenize (remove `{given[0]}`)")
        return
    if config.text is None:
        raise ValueError("dataset 'text' needs `text:`: a text file (a language model's "
                         "corpus) or a CSV file of texts and labels")
    given = [key for key in _NOT_FOR_TEXT if getattr(config, key) is not None]
    if given:
        raise ValueError(f"`{given[0]}` is not for text (`text:` names the file; remove "
                         f"`{given[0]}`)")
    table = is_table(config.text)
    if not table and (config.text_column is not None or config.target is not None):
        key = "text_column" if config.text_column is not None else "target"
        raise ValueError(f"`{key}` names a column of a CSV file; {config.text} is a "
                         f"corpus for a language model (remove `{key}`, or give a .csv)")
    if config.missing not in ("error", "drop") or (config.missing == "drop" and not table):
        raise ValueError(f"missing: {config.missing} fills numbers; text data takes 'error' "
                         "or, for a CSV, 'drop' (rows without a label)")
    if table and config.samples is not None:
        raise ValueError("`samples` counts the windows cut from a corpus; a CSV file has "
                         "one sample per row (remove `samples`)")
    if config.vocab is not None and tokenizer_of(config) != "bpe":
        raise ValueError(f"`vocab` is the size of a trained BPE vocabulary; the "
                         f"{tokenizer_of(config)} tokenizer's follows from the data (set "
                         "tokenizer: bpe, or remove `vocab`)")
    if tokenizer_of(config) == "bpe" and bpe_vocab(config) < BYTES + 1:
        raise ValueError(f"a byte-level BPE vocabulary holds <pad> and the {BYTES} bytes "
                         f"before any merge: vocab must be at least {BYTES + 1}, got "
                         f"{config.vocab}")
    given = [k for k, v in config.synthetic_params().items()
             if v is not None and k not in ("samples", "length", "vocab")]
    if given:
        raise ValueError(f"`{given[0]}` is a parameter of the synthetic datasets, not of "
                         "text")
    wanted = ("classification", "binary") if table else ("language_model",)
    if config.task not in (None, *wanted):
        what = "texts labelled by class" if table else "a corpus (next-token prediction)"
        raise ValueError(f"{config.text} holds {what}; the task {config.task} needs other "
                         f"targets (use {' or '.join(wanted)})")
    if config.stratify and not table:
        raise ValueError("stratify needs one class label per sample; a corpus is split "
                         "in order (set stratify: false)")
