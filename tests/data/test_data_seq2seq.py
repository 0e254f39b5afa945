"""copy and reverse in the seq2seq form: src, tgt (BOS + target, for teacher forcing), the
padding masks and the targets (target + EOS), checked against their definition, and the
static facts validate reads, checked against what is generated."""

import numpy as np
import pytest

from dlspec.data.generate import copy_or_reverse_seq2seq, generate
from dlspec.data.synthetic import (
    describe_synthetic,
    seq2seq_fields,
    seq2seq_specials,
    synthetic_form,
    synthetic_params,
)
from dlspec.data.tasks import PAD_TARGET

LENGTH, VOCAB = 10, 7
BOS, EOS = VOCAB, VOCAB + 1


def fields_and_targets(reverse: bool, samples: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    return copy_or_reverse_seq2seq(rng, samples, LENGTH, VOCAB, reverse)


def test_specials_follow_the_token_ids():
    assert seq2seq_specials(VOCAB) == (BOS, EOS) == (7, 8)


@pytest.mark.parametrize("reverse", [False, True])
def test_tgt_is_bos_then_the_target_and_y_the_target_then_eos(reverse):
    fields, y = fields_and_targets(reverse)
    src, tgt = fields["src"], fields["tgt"]
    for source, decoder_input, targets in zip(src, tgt, y, strict=True):
        n = int((source != 0).sum())
        assert source[:n].min() >= 1 and np.all(source[n:] == 0)  # tokens, then padding
        target = source[:n][::-1] if reverse else source[:n]
        assert decoder_input.tolist() == [BOS, *target, *[0] * (LENGTH - n - 1)]
        assert targets.tolist() == [*target, EOS, *[PAD_TARGET] * (LENGTH - n - 1)]


def test_sources_leave_room_for_bos_and_eos():
    fields, _ = fields_and_targets(reverse=True)
    lengths = (fields["src"] != 0).sum(axis=1)
    assert lengths.min() == (LENGTH - 1) // 2 and lengths.max() == LENGTH - 1


def test_teacher_forcing_shift_and_masks():
    """The decoder input is the targets shifted right by one (BOS first): position i of tgt
    is the target of position i - 1; the masks are 1 exactly where a field has a token."""
    fields, y = fields_and_targets(reverse=True)
    tgt, real = fields["tgt"], y != PAD_TARGET
    assert np.array_equal(tgt[:, 1:][real[:, 1:]], y[:, :-1][real[:, 1:]])
    assert np.array_equal(fields["src_mask"], (fields["src"] != 0).astype(np.int64))
    assert np.array_equal(fields["tgt_mask"].astype(bool), real)  # BOS..last token = target..EOS
    assert all(a.dtype == np.int64 for a in (*fields.values(), y))


def test_static_field_facts_match_the_generated_fields():
    fields, y = fields_and_targets(reverse=False)
    facts = seq2seq_fields(LENGTH, VOCAB)
    assert list(facts) == list(fields) == ["src", "tgt", "src_mask", "tgt_mask"]
    for name, fact in facts.items():
        assert fields[name].shape[1:] == fact.shape and fields[name].dtype == fact.dtype
        assert fields[name].min() >= 0 and fields[name].max() == fact.vocab_size - 1
        assert not fact.tabular
    params = synthetic_params("reverse", {"length": LENGTH, "vocab": VOCAB})
    info = describe_synthetic("reverse", params, "seq2seq")
    assert info.fields == facts
    assert info.class_names == ("0", "1", "2", "3", "4", "5", "6", "<bos>", "<eos>")
    assert y.max() == info.num_classes - 1 == EOS and info.task == "tagging"
    assert describe_synthetic("reverse", params).num_classes == VOCAB  # the tagging form


@pytest.mark.parametrize(("name", "inputs", "form"), [
    ("reverse", ["src", "tgt"], "seq2seq"), ("copy", ["tgt", "src_mask", "src"], "seq2seq"),
    ("reverse", ["tokens"], "tagging"), ("reverse", ["tgt"], "tagging"),
    ("reverse", ["src", "target"], "seq2seq"),
    ("parity", ["src", "tgt"], "tagging"),
])
def test_the_form_follows_the_models_inputs(name, inputs, form):
    assert synthetic_form(name, inputs) == form


def test_generate_in_the_seq2seq_form():
    params = synthetic_params("reverse", {"samples": 50, "length": LENGTH, "vocab": VOCAB})
    raw = generate("reverse", params, 3, (0.8, 0.1, 0.1), "seq2seq")
    again = generate("reverse", params, 3, (0.8, 0.1, 0.1), "seq2seq")
    fields, y = copy_or_reverse_seq2seq(np.random.default_rng([3, 1]), 50, LENGTH, VOCAB, True)
    assert list(raw.fields) == list(fields) and np.array_equal(raw.y, y)
    assert all(np.array_equal(raw.fields[name], fields[name]) for name in fields)
    assert raw.x.shape == (50, 4 * LENGTH) and raw.feature_names[LENGTH] == "tgt_t0"
    assert np.array_equal(raw.y, again.y)
    assert raw.class_names == list(describe_synthetic("reverse", params, "seq2seq").class_names)


SPEC = """\
dlspec: 1
name: reverse-fields
inputs:
  tgt: {shape: [tgt_len], dtype: int64}
  src_mask: {shape: [src_len], dtype: int64}
  src: {shape: [src_len], dtype: int64}
model:
  - {op: embedding, name: src_embed, inputs: src, num_embeddings: 7, embedding_dim: 4}
  - {op: embedding, name: tgt_embed, inputs: tgt, num_embeddings: 8, embedding_dim: 4}
  - {op: multihead_attention, inputs: [tgt_embed, src_embed, src_mask], heads: 1}
  - {op: linear, out_features: 9}
loss: {op: cross_entropy}
data: {dataset: reverse, length: 10, vocab: 7, samples: 60, split: [0.5, 0.25, 0.25]}
"""


def test_a_model_with_several_inputs_is_fed_each_field_by_its_name(tmp_path):
    from dlspec.api import check, load_data

    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    data = load_data(check(path))
    assert list(data.train.inputs) == ["tgt", "src_mask", "src"]  # the model's order
    assert data.class_names[-2:] == ["<bos>", "<eos>"] and data.task == "tagging"
    fields, y = copy_or_reverse_seq2seq(np.random.default_rng([0, 1]), 60, LENGTH, VOCAB, True)
    seen = np.concatenate([data.train.y, data.val.y, data.test.y])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, y))  # every sample, split
    for split in (data.train, data.val, data.test):
        assert np.array_equal(split.inputs["src_mask"], (split.inputs["src"] != 0))
        assert np.all(split.inputs["tgt"][:, 0] == BOS)
        rows = [next(i for i in range(60) if np.array_equal(fields["src"][i], s))
                for s in split.inputs["src"]]
        assert np.array_equal(split.inputs["tgt"], fields["tgt"][rows])
        assert np.array_equal(split.y, y[rows])
