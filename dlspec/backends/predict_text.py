"""Raw text for `dlspec predict`: a CSV whose text column (named as in training, recorded in
the exported file's metadata with the tokenizer) is read a chunk of rows at a time and turned
into the model's token ids by the tokenizer it was trained with."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from dlspec.backends.onnx_file import open_regular
from dlspec.backends.predict_sources import Chunk, SampleSource, _misfit
from dlspec.backends.predict_tables import open_table_or_samples


def open_model_samples(path: str | os.PathLike[str], metadata: Mapping[str, str]
                       ) -> SampleSource:
    """The sample source for a model: raw text for one trained on a CSV of texts (its
    metadata has `tokenizer` and `text_column`), raw table columns for one that records its
    columns' encoding, else numbers (open_table_or_samples)."""
    if "tokenizer" in metadata and "text_column" in metadata:
        return TextSource(path, metadata["tokenizer"], metadata["text_column"])
    return open_table_or_samples(path, metadata)


class TextSource(SampleSource):
    """A CSV with a header row and a column of texts, tokenized a chunk of rows at a time."""

    had_header = True

    def __init__(self, path: str | os.PathLike[str], tokenizer: str, column: str) -> None:
        from dlspec.data.text_tokens import load_tokenizer

        self.path = str(path)
        if not self.path.lower().endswith(".csv"):
            raise _misfit(f"{path}: this model reads text, from the column '{column}' of a "
                          ".csv file", hint=f"give a CSV with a header and a '{column}' column")
        self._tokenizer = load_tokenizer(tokenizer, self.path)
        self._handle = io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._handle)
        try:
            header = [name.strip() for name in next(self._reader, [])]
        except (UnicodeDecodeError, csv.Error) as exc:
            self.close()
            raise _misfit(f"cannot read {path} as UTF-8 CSV: {exc}") from exc
        if column not in header:
            self.close()
            shown = ", ".join(header) if header else "none: the file is empty"
            raise _misfit(f"{path} has no column '{column}', the text column the model was "
                          f"trained on (its columns: {shown})",
                          hint=f"name the column of texts '{column}' in the header row")
        self._column = header.index(column)
        self.header = header

    def chunks(self, rows: int) -> Iterator[Chunk]:
        texts: list[str] = []
        lines: list[int] = []
        start = 0
        try:
            for row in self._reader:
                if len(row) != len(self.header) and not any(cell.strip() for cell in row):
                    continue  # a blank line; a row of empty cells is an empty text
                if len(row) != len(self.header):
                    raise _misfit(f"{self.path}:{self._reader.line_num}: {len(row)} cells, "
                                  f"but the header names {len(self.header)} columns")
                texts.append(row[self._column])
                lines.append(self._reader.line_num)
                if len(texts) == rows:
                    yield self._chunk(texts, lines, start)
                    start, texts, lines = start + len(texts), [], []
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _misfit(f"cannot read {self.path} as CSV (line "
                          f"{self._reader.line_num + 1}): {exc}") from exc
        if texts:
            yield self._chunk(texts, lines, start)
        elif start == 0:
            raise _misfit(f"{self.path} has a header row but no texts")

    def _chunk(self, texts: list[str], lines: list[int], start: int) -> Chunk:
        ids = [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]
        return Chunk(np.asarray(ids, dtype=np.int64), start, tuple(lines))

    def where(self, chunk: Chunk, index: Sequence[int]) -> str:
        line = chunk.lines[index[0]] if chunk.lines else chunk.start + index[0]
        return f"{self.path}:{line}: column {self._column + 1} ({self.header[self._column]!r})"

    def close(self) -> None:
        self._handle.close()
