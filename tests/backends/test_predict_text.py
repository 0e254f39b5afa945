"""Raw text read for `dlspec predict`: every data row of the text column is one sample, in
order, so that the predictions line up with the rows they were made for."""

from __future__ import annotations

from dlspec.backends.predict_text import TextSource
from dlspec.data.text_tokens import build_tokenizer, fixed_length


def source(tmp_path, text: str) -> TextSource:
    tokenizer = fixed_length(build_tokenizer("char", "abc", [], 0), 4)
    path = tmp_path / "texts.csv"
    path.write_text(text, encoding="utf-8")
    return TextSource(path, tokenizer.to_str(), "review")


def test_an_empty_text_is_a_sample_and_a_blank_line_is_not(tmp_path):
    texts = source(tmp_path, 'review\nab\n""\n\nc\n   \n')
    (chunk,) = texts.chunks(10)
    assert chunk.lines == (2, 3, 5, 6)  # the blank line 4 is skipped
    assert chunk.values.tolist() == [[2, 3, 0, 0], [0, 0, 0, 0], [4, 0, 0, 0], [1, 1, 1, 0]]
    texts.close()
    with_ids = source(tmp_path, "id,review\n1,ab\n2,\n,\n\n3,c\n")
    (chunk,) = with_ids.chunks(10)
    assert chunk.lines == (2, 3, 4, 6)
    assert chunk.values[:, 0].tolist() == [2, 0, 0, 4]
    with_ids.close()
