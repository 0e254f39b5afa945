"""Your own text, trained on end to end: a language model on a corpus file writes text from
its run and from its exported file alike, and a classifier of a CSV's texts learns labels
that only words tell, then predicts from raw text. The tokenizer travels with the run
(tokenizer.json, checkpoints) and the exported file (metadata)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from text_specs import language_model

from dlspec import api
from dlspec.errors import GenerateError

LM = language_model(16, 16, "{text: corpus.txt, length: 16, batch_size: 16}",
                    "optimizer: {op: adam, lr: 0.05}\ntrain: {epochs: 4, seed: 0}\n")
CLASSIFIER = """\
dlspec: 1
name: reviews
inputs:
  ids: {shape: [seq], dtype: int64, dims: {seq: {max: 16}}}
model:
  - {op: embedding, name: embed, num_embeddings: "${data.vocab_size}", embedding_dim: 16,
     padding_idx: 0}
  - {op: mean, dims: 1}
  - {op: linear, name: head, out_features: "${data.classes}"}
loss: {op: cross_entropy}
optimizer: {op: adamw, lr: 0.02}
data: {text: reviews.csv, text_column: review, target: label, tokenizer: bpe, vocab: 300,
       length: 16, batch_size: 32}
train: {epochs: 4, seed: 0}
"""
FILLER = ["the", "a", "movie", "film", "plot", "actor", "scene", "story", "was", "is", "it",
          "this", "and", "very"]
WORDS = {"pos": ["good", "great", "fun"], "neg": ["bad", "dull", "awful"]}


def reviews(count: int, seed: int) -> list[tuple[str, str]]:
    """Texts of filler words and one word that tells the label."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(sorted(WORDS))
        words = [*rng.choices(FILLER, k=7), rng.choice(WORDS[label])]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lm")
    (folder / "corpus.txt").write_text("abcdefghijklmnopqrstuvwxyz\n" * 100, encoding="utf-8")
    (folder / "lm.yaml").write_text(LM, encoding="utf-8")
    api.train_spec(folder / "lm.yaml", out_root=folder / "runs", run_name="lm", quiet=True)
    return folder / "runs" / "lm"


@pytest.fixture(scope="module")
def lm_onnx(lm_run, tmp_path_factory) -> Path:
    onnx = tmp_path_factory.mktemp("lm-onnx") / "lm.onnx"
    api.export_spec(lm_run, onnx)
    return onnx


def generate(source: Path, prompt: str, tokens: int) -> str:
    request = api.request_generate(source, prompt=prompt)
    return api.generate(request, max_tokens=tokens, temperature=0).text


def test_a_char_language_model_writes_raw_text_from_its_run_and_its_onnx(lm_run, lm_onnx):
    assert generate(lm_run, "abc", 12) == "defghijklmno"
    assert generate(lm_run, "xy", 6) == "z\nabcd"
    assert generate(lm_onnx, "abc", 12) == "defghijklmno"
    with pytest.raises(GenerateError, match=r"outside the model's vocabulary: 'Z'"):
        api.request_generate(lm_onnx, prompt="abZ")


def test_the_tokenizer_is_saved_with_the_run_and_in_the_onnx_file(lm_run, lm_onnx):
    from tokenizers import Tokenizer

    from dlspec.backends.onnx_runtime import read_metadata
    from dlspec.train.run_folder.checkpoint import load_checkpoint

    saved = (lm_run / "tokenizer.json").read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_file(str(lm_run / "tokenizer.json"))  # tokenizers' own JSON
    assert tokenizer.encode("abc\n").ids == [3, 4, 5, 2]  # <pad>, <unk>, "\n", "a", ...
    best = load_checkpoint(lm_run / "checkpoints" / "best.safetensors")
    assert best.metadata["tokenizer"] == saved
    assert read_metadata(lm_onnx)["tokenizer"] == saved
    corpus = lm_run.parent.parent / "corpus.txt"  # the run's tokenizer stands for its text
    corpus.rename(corpus.with_name("moved.txt"))
    try:
        assert generate(lm_run, "abc", 3) == "def"
    finally:
        corpus.with_name("moved.txt").rename(corpus)
    (lm_run / "tokenizer.json").unlink()
    try:
        with pytest.raises(GenerateError, match="holds no tokenizer"):
            api.request_generate(lm_run, prompt="abc")
    finally:
        (lm_run / "tokenizer.json").write_text(saved, encoding="utf-8")


@pytest.mark.slow
def test_a_text_classifier_learns_what_words_tell_and_predicts_raw_text(tmp_path):
    from dlspec.backends.onnx_runtime import predict_file

    def write(path: Path, rows, header=("id", "review", "label")):
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows((i, *row)[:len(header)] for i, row in enumerate(rows))

    write(tmp_path / "reviews.csv", reviews(400, seed=0))
    (tmp_path / "reviews.yaml").write_text(CLASSIFIER, encoding="utf-8")
    result = api.train_spec(tmp_path / "reviews.yaml", out_root=tmp_path / "runs",
                            run_name="run", quiet=True)
    # the label is one word among eight: a model that does not read the words is at 0.5
    assert result.test_metrics["test_accuracy"] >= 0.9
    run = Path(result.run_dir)
    assert json.loads((run / "tokenizer.json").read_text())["model"]["type"] == "BPE"
    api.export_spec(run, tmp_path / "reviews.onnx")
    fresh = reviews(100, seed=1)
    write(tmp_path / "new.csv", [(text,) for text, _ in fresh], header=("id", "review"))
    predict_file(tmp_path / "reviews.onnx", tmp_path / "new.csv", tmp_path / "out.csv")
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        predicted = [row["prediction"] for row in csv.DictReader(handle)]
    right = sum(p == label for p, (_, label) in zip(predicted, fresh, strict=True))
    assert right >= 90
