"""The synthetic sequence datasets: what each sample holds, checked against the definition,
and the static facts validate uses, checked against what is generated."""

import subprocess
import sys

import numpy as np
import pytest

from dlspec.data.builtin import FieldInfo
from dlspec.data.generate import generate
from dlspec.data.synthetic import (
    SYNTHETIC,
    corpus_text,
    corpus_vocabulary,
    describe_synthetic,
    synthetic_params,
)
from dlspec.data.tasks import PAD_TARGET
from dlspec.errors import DataError

SPLIT = (0.8, 0.1, 0.1)


def make(name, seed=0, **given):
    return generate(name, synthetic_params(name, given), seed, SPLIT)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_static_facts_match_the_generated_data(name):
    params = synthetic_params(name, {"samples": 50})
    info = describe_synthetic(name, params)
    x, y, features, classes, _ = generate(name, params, 3, SPLIT)
    assert len(x) == len(y) == info.n_samples == 50
    assert x.shape[1:] == info.sample_shape and len(features) == info.n_features
    assert x.dtype == (np.int64 if info.vocab_size else np.float32)
    if info.vocab_size:
        assert x.min() >= 0 and x.max() < info.vocab_size
    assert tuple(classes) == info.class_names


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_the_seed_decides_the_data(name):
    a, b, c = make(name, seed=1), make(name, seed=1), make(name, seed=2)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_copy_targets_are_the_tokens_and_padding_is_skipped():
    x, y, _, classes, _ = make("copy", length=10, vocab=6)
    lengths = (x != 0).sum(axis=1)
    assert lengths.min() == 5 and lengths.max() == 10  # T//2..T, every length drawn
    real = np.arange(10) < lengths[:, None]
    assert np.array_equal(x != 0, real)  # content first, then padding
    assert np.array_equal(y[real], x[real]) and np.all(y[~real] == PAD_TARGET)
    assert set(np.unique(x[real])) == {1, 2, 3, 4, 5} and classes == list("012345")


def test_reverse_targets_are_the_sequence_backwards():
    x, y, _, _, _ = make("reverse", samples=100)
    for ids, targets in zip(x, y, strict=True):
        n = int((ids != 0).sum())
        assert targets[:n].tolist() == ids[:n][::-1].tolist()
        assert np.all(targets[n:] == PAD_TARGET)


def balanced(word) -> bool:
    depth = 0
    for token in word:
        depth += 1 if token == 1 else -1
        if depth < 0:
            return False
    return depth == 0


def test_brackets_labels_say_whether_the_word_is_balanced():
    x, y, _, classes, _ = make("brackets", samples=400, length=12)
    assert classes == ["unbalanced", "balanced"] and set(np.unique(x)) == {1, 2}
    assert [int(balanced(w)) for w in x] == y.tolist()
    assert y.sum() == 200  # half each
    negatives = x[y == 0]
    same_counts = (negatives == 1).sum(axis=1) == 6
    assert 0.3 < same_counts.mean() < 0.7  # near misses of both kinds: order and counts


def test_parity_labels_count_the_ones():
    x, y, _, classes, _ = make("parity", samples=300, length=9)
    assert classes == ["even", "odd"] and set(np.unique(x)) == {1, 2}
    assert np.array_equal(y, (x == 2).sum(axis=1) % 2)


def test_sine_without_noise_is_a_sine_and_the_target_its_next_value():
    x, y, _, classes, _ = make("sine", samples=64, length=20, noise=0.0)
    s = np.concatenate([x[:, :, 0], y], axis=1).astype(np.float64)
    # a sampled sine obeys s[t+1] = 2 cos(w) s[t] - s[t-1] with one w per sample
    two_cos = (s[:, 2:] + s[:, :-2])[:, [0]] / s[:, [1]]
    assert np.allclose(s[:, 2:], two_cos * s[:, 1:-1] - s[:, :-2], atol=1e-4)
    assert np.all(np.abs(s) <= 1.5) and classes == []


def test_sine_noise_has_the_stated_std():
    clean, noisy = make("sine", noise=0.0), make("sine", noise=0.2)
    residual = noisy.x - clean.x  # the same waves: noise is drawn after them
    assert residual.std() == pytest.approx(0.2, rel=0.02) and abs(residual.mean()) < 0.005


def test_chars_windows_predict_the_next_character():
    vocabulary = corpus_vocabulary()
    x, y, _, classes, _ = make("chars", samples=100, length=30)
    assert classes == list(vocabulary) and classes[0] == "<pad>"
    assert np.array_equal(x[:, 1:], y[:, :-1]) and x.min() >= 1
    text = corpus_text()
    val_start, val_stop = round(0.8 * len(text)), round(0.9 * len(text))
    for k, (ids, targets) in enumerate(zip(x, y, strict=True)):
        window = "".join(vocabulary[i] for i in [*ids, targets[-1]])
        assert text.find(window) >= 0
        if 80 <= k < 90:  # val windows lie in the val part of the text
            assert val_start <= text.find(window, val_start) <= val_stop - 31


def test_chars_refuses_windows_longer_than_a_split_part():
    with pytest.raises(DataError) as caught:
        make("chars", length=len(corpus_text()) // 10)
    assert caught.value.codes == ["DLS401"] and "too few for windows" in str(caught.value)


def test_the_corpus_is_a_few_kb_of_plain_text():
    text = corpus_text()
    assert 4000 < len(text) < 20000 and text.isascii()
    assert len(corpus_vocabulary()) == len(set(text)) + 1


def test_describing_synthetic_data_imports_no_numpy():
    code = (
        "import sys; from pathlib import Path\n"
        "from dlspec.data import DataConfig, describe_data\n"
        "info = describe_data(DataConfig(dataset='chars', length=32), Path('.'))\n"
        "assert info.sample_shape == (32,) and info.vocab_size > 30\n"
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules, 'imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_synthetic_datasets_name_their_fields():
    described = {name: describe_synthetic(name, synthetic_params(name, {}))
                 for name in SYNTHETIC}
    assert {name: list(info.fields) for name, info in described.items()} == {
        "copy": ["tokens"], "reverse": ["tokens"], "brackets": ["tokens"],
        "parity": ["tokens"], "sine": ["values"], "chars": ["tokens"],
        "sbm": ["x", "adjacency"]}
    assert described["copy"].fields["tokens"] == FieldInfo((12,), "int64", 10)
    assert described["sine"].fields["values"] == FieldInfo((32, 1), "float32")
