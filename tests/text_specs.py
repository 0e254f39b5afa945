"""Specs of tiny models on your own text, for the text tests: a language model whose
embedding and head follow `${data.vocab_size}`."""

from __future__ import annotations


def language_model(length: int, width: int, data: str, more: str = "") -> str:
    """A spec of an embedding and a head over `${data.vocab_size}` tokens, reading sequences
    of up to `length` tokens; `data` is the data section's flow mapping, `more` extra
    top-level lines."""
    return f"""\
dlspec: 1
name: lm
inputs:
  ids: {{shape: [seq], dtype: int64, dims: {{seq: {{max: {length}}}}}}}
model:
  - {{op: embedding, name: embed, num_embeddings: "${{data.vocab_size}}", embedding_dim: {width}}}
  - {{op: linear, name: head, out_features: "${{data.vocab_size}}"}}
loss: {{op: cross_entropy}}
data: {data}
{more}"""
