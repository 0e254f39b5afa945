"""`data: {text: ...}` as `dlspec validate` sees it: the keys, the vocabulary's size known
without training (a scan, 257 bytes, the BPE size asked for), `${data.vocab_size}` and
`${data.classes}` in layers, and every bad input located at its key, naming the file."""

from __future__ import annotations

import ast
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from text_specs import language_model

from dlspec import api
from dlspec.data.config import DataConfig
from dlspec.data.text_files import describe_text
from dlspec.errors import DlspecError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = "the cat sat on the mat.\n" * 40  # 12 distinct characters

LM = language_model(16, 8, "{text: corpus.txt, length: 16, batch_size: 16}")
CLASSIFIER = """\
dlspec: 1
name: cls
inputs:
  ids: {shape: [seq], dtype: int64, dims: {seq: {max: 32}}}
model:
  - {op: embedding, name: embed, num_embeddings: "${data.vocab_size}", embedding_dim: 8}
  - {op: mean, dims: 1}
  - {op: linear, name: head, out_features: "${data.classes}"}
loss: {op: cross_entropy}
data:
  text: reviews.csv
  text_column: review
  target: label
  length: 32
"""


def write_reviews(path: Path, rows: list[tuple[str, str]], header=("id", "review", "label")):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows((i, text, label) for i, (text, label) in enumerate(rows))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    (tmp_path / "lm.yaml").write_text(LM, encoding="utf-8")
    (tmp_path / "cls.yaml").write_text(CLASSIFIER, encoding="utf-8")
    write_reviews(tmp_path / "reviews.csv", [("good film", "pos"), ("bad film ü", "neg"),
                                             ("great", "pos"), ("dull", "neg")] * 5)
    return tmp_path


def errors(spec: Path, *overrides: str) -> list[str]:
    with pytest.raises(DlspecError) as caught:
        api.check(spec, overrides)
    return [d.format() for d in caught.value.diagnostics]


@pytest.mark.parametrize(("data", "message"), [
    ({"text": "a.txt", "text_column": "t"}, "`text_column` names a column of a CSV file"),
    ({"text": "a.txt", "target": "y"}, "`target` names a column of a CSV file"),
    ({"text": "a.csv", "samples": 10}, "a CSV file has one sample per row"),
    ({"text": "a.csv", "missing": "mean"}, "missing: mean fills numbers"),
    ({"text": "a.txt", "vocab": 300}, "the char tokenizer's follows from the data"),
    ({"text": "a.txt", "tokenizer": "bpe", "vocab": 256}, "vocab must be at least 257"),
    ({"text": "a.txt", "path": "b.csv"}, "`path` is not for text"),
    ({"text": "a.txt", "task": "classification"}, "the task classification needs other"),
    ({"text": "a.csv", "task": "language_model"}, "the task language_model needs other"),
    ({"text": "a.txt", "dataset": "csv"}, "give either `dataset: csv` or `text:`"),
    ({"dataset": "digits", "tokenizer": "char"}, "`tokenizer` is for `text:` data"),
])
def test_text_keys_that_do_not_fit_are_refused(data, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DataConfig.model_validate(data)


def test_text_stands_for_dataset_text_with_the_defaults():
    config = DataConfig.model_validate({"text": "corpus.txt"})
    assert (config.dataset, config.tokenizer, config.length) == ("text", None, None)


def test_vocabulary_sizes_are_known_without_training(folder):
    def info(**keys):
        return describe_text(DataConfig.model_validate({"text": "corpus.txt", **keys}), folder)

    char = info()
    assert char.vocab_size == 2 + len(set(CORPUS)) == 14
    assert char.class_names[:3] == ("<pad>", "<unk>", "\n") and char.task == "language_model"
    assert char.fields["tokens"].shape == (64,)  # the default length of a corpus
    assert info(tokenizer="byte").vocab_size == 257
    assert info(tokenizer="bpe", vocab=300, length=8).vocab_size == 300
    table = describe_text(DataConfig.model_validate(
        {"text": "reviews.csv", "text_column": "review", "target": "label"}), folder)
    assert (table.task, table.class_names, table.n_samples) == ("classification",
                                                                ("neg", "pos"), 20)
    assert table.vocab_size == 2 + len(set("good filmbad film ügreatdull"))
    assert table.fields["tokens"].shape == (128,)  # the default length of a CSV


def test_data_vocab_size_and_classes_size_the_layers(folder):
    lm = api.check(folder / "lm.yaml")
    assert lm.graph.node("head").type.sample_shape == ("seq", 14)
    assert lm.graph.node("embed").op.num_embeddings == 14
    cls = api.check(folder / "cls.yaml")
    assert cls.graph.node("head").type.sample_shape == (2,)
    bpe = api.check(folder / "lm.yaml", ["data.tokenizer=bpe", "data.vocab=400"])
    assert bpe.graph.node("head").type.sample_shape == ("seq", 400)


def test_a_size_that_does_not_follow_the_data_is_reported_at_the_spec_line(folder):
    spec = folder / "lm.yaml"
    assert errors(spec, "model.1.out_features=20") == [
        f"{spec}:9:7: error DLS402: {folder / 'corpus.txt'} has a vocabulary of 14 tokens, "
        "but the model has 20 outputs\n  help: set the last layer's out_features to 14"]
    assert errors(spec, "model.0.num_embeddings=5") == [
        f"{spec}:9:7: error DLS402: the embedding reading the input has 5 rows, but "
        f"{folder / 'corpus.txt'} has token ids 0..13\n"
        "  help: set the embedding's num_embeddings to 14"]


def test_bad_input_is_one_located_error_naming_the_file(folder):
    spec, cls = folder / "lm.yaml", folder / "cls.yaml"
    (folder / "empty.txt").write_text(" \n\n", encoding="utf-8")
    empty = (f"{spec}:9:14: error DLS401: text file {folder / 'empty.txt'} is empty: a "
             "language model needs text to learn from\n  help: give a file with text in it")
    assert errors(spec, "data.text=empty.txt") == [empty.replace(
        f"{spec}:9:14", "--set data.text=empty.txt:1:1")]
    text = LM.replace("corpus.txt", "empty.txt")
    (folder / "empty.yaml").write_text(text, encoding="utf-8")
    assert errors(folder / "empty.yaml") == [empty.replace(str(spec), str(folder / "empty.yaml"))]
    # read where the data is checked, without ${data...}: the same error, at the same place
    (folder / "plain.yaml").write_text(text.replace("${data.vocab_size}", "14"), "utf-8")
    assert errors(folder / "plain.yaml") == [empty.replace(str(spec), str(folder / "plain.yaml"))]
    (folder / "missing.yaml").write_text(LM.replace("corpus.txt", "nowhere.txt"), "utf-8")
    assert errors(folder / "missing.yaml") == [
        f"{folder / 'missing.yaml'}:9:14: error DLS401: text file {folder / 'nowhere.txt'} "
        "does not exist\n  help: data paths are relative to the spec file's folder"]
    assert errors(cls, "data.text_column=comment") == [
        f"--set data.text_column=comment:1:1: error DLS401: {folder / 'reviews.csv'} has no "
        "column 'comment' (named as the text column)\n  help: one of: id, label, review"]
    (folder / "nolabel.csv").write_text("text\nhello\n", encoding="utf-8")
    assert errors(cls, "data.text=nolabel.csv", "data.text_column=text", "data.target=null") \
        == [f"--set data.text=nolabel.csv:1:1: error DLS401: {folder / 'nolabel.csv'} has only "
            "the text column 'text': no labels to learn\n  help: add a column of class "
            "labels and name it with data.target"]


def test_a_corpus_part_too_short_for_one_window_is_refused_by_validate(folder):
    # 60 characters, 120 bytes: cut 48/6/6 characters, so 96/12/12 bytes; one val and one
    # test window of 11 tokens fit the byte parts but not the char parts
    (folder / "short.txt").write_text("\u00e9" * 60, encoding="utf-8")
    spec, short = folder / "lm.yaml", folder / "short.txt"
    assert errors(spec, "data.text=short.txt", "data.length=10") == [
        f"--set data.text=short.txt:1:1: error DLS401: the {part} part of {short} has 6 "
        f"characters, too few for windows of 11\n  help: use a shorter data.length, or a "
        f"larger {part} fraction in data.split" for part in ("val", "test")]
    api.check(spec, ["data.text=short.txt", "data.length=10", "data.tokenizer=byte"])
    run = api.train_spec(spec, ["data.text=short.txt", "data.length=10",
                                "data.tokenizer=byte", "train.epochs=1"],
                         out_root=folder / "runs", run_name="byte", quiet=True)
    assert (run.run_dir / "tokenizer.json").is_file()  # what validate accepts trains
    (message,) = errors(spec, "data.text=short.txt", "data.length=12", "data.tokenizer=byte",
                        "data.split=[0.9, 0.1, 0]")
    assert "the val part of" in message and "has 12 bytes, too few for windows of 13" in message
    # a BPE's tokens are known once trained: refused here only when samples are set and a
    # part has no more bytes than a window
    bpe = ["data.text=short.txt", "data.length=12", "data.tokenizer=bpe", "data.vocab=300"]
    api.check(spec, bpe)
    assert "has 12 bytes, too few" in errors(spec, *bpe, "data.samples=20")[0]


def test_data_sampling_reaches_the_training_of_a_text_classifier(folder):
    from dlspec.api import load_data

    data = load_data(api.check(folder / "cls.yaml", ["data.sampling=undersample"]))
    assert data.sampling == "undersample"  # it was accepted, then left out: no class balance


def test_a_csv_without_the_default_text_column_says_how_to_name_it(folder):
    text = CLASSIFIER.replace("  text_column: review\n", "")
    (folder / "default.yaml").write_text(text, encoding="utf-8")
    assert errors(folder / "default.yaml") == [
        f"{folder / 'default.yaml'}:11:9: error DLS401: {folder / 'reviews.csv'} has no column "
        "'text' (named as the text column)\n  help: one of: id, label, review; name it with "
        "data.text_column"]


def test_training_on_bad_input_writes_nothing(folder):
    out = folder / "runs"
    with pytest.raises(DlspecError, match="has no column 'comment'"):
        api.train_spec(folder / "cls.yaml", ["data.text_column=comment"], out_root=out,
                       run_name="run", quiet=True)
    assert not out.exists()


def test_validate_reads_text_without_torch_or_tokenizers(folder):
    script = (
        "import sys\n"
        "from dlspec.api import check\n"
        f"check({str(folder / 'lm.yaml')!r}, ['data.tokenizer=bpe'])\n"
        f"check({str(folder / 'cls.yaml')!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tokenizers')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip().splitlines()[-1]) == []


def test_data_facts_of_built_in_data_and_where_there_are_none(folder):
    specs = ROOT / "specs"
    gpt = api.check(specs / "gpt-chars.yaml", ["model.0.num_embeddings=${data.vocab_size}"])
    assert gpt.graph.node("embed").op.num_embeddings == 49  # the chars corpus's vocabulary
    digits = api.check(specs / "mlp-digits.yaml", ["model.5.out_features=${data.classes}"])
    assert digits.graph.node("logits").type.sample_shape == (10,)
    assert errors(specs / "mlp-digits.yaml", "model.5.out_features=${data.vocab_size}") == [
        "--set model.5.out_features=${data.vocab_size}:1:1: error DLS111: 'data.vocab_size' "
        "has no field 'vocab_size'\n  help: fields: classes"]
    text = LM.replace("text: corpus.txt, length: 16", "dataset: csv, path: t.csv")
    (folder / "table.yaml").write_text(text, encoding="utf-8")
    (message,) = errors(folder / "table.yaml")
    assert "DLS111: `data.<fact>` is known for built-in, synthetic and text data; 'csv' is " \
           "read only when training" in message and message.startswith(f"{folder}/table.yaml:6:")


def test_a_row_without_a_label_is_an_error_at_its_line_or_dropped(folder):
    write_reviews(folder / "holes.csv", [("good", "pos"), ("bad", ""), ("fun", "pos"),
                                         ("dull", "neg"), ("grim", "neg")])
    config = {"text": "holes.csv", "text_column": "review", "target": "label"}
    with pytest.raises(DlspecError, match=r"holes.csv:3: the target column 'label' is empty"):
        describe_text(DataConfig.model_validate(config), folder)
    dropped = describe_text(DataConfig.model_validate({**config, "missing": "drop"}), folder)
    assert (dropped.n_samples, dropped.class_names) == (4, ("neg", "pos"))


def test_a_class_of_one_text_or_a_single_class_is_refused_naming_the_file(folder):
    cls, reviews = folder / "cls.yaml", folder / "reviews.csv"
    write_reviews(reviews, [("good", "pos"), ("fun", "pos"), ("meh", "mid"),
                            ("bad", "neg"), ("dull", "neg")])
    assert errors(cls) == [
        f"{cls}:11:9: error DLS401: {reviews}:4: class 'mid' has one text; a class needs two "
        "or more\n  help: add texts of that class, or remove the row"]
    write_reviews(reviews, [("good", "pos"), ("fun", "pos")])
    assert errors(cls) == [
        f"{cls}:11:9: error DLS401: {reviews} has one class (pos) in column 'label'; a "
        "classifier needs two or more\n  help: add texts of another class"]


def test_data_without_a_source_says_which_keys_give_one(tmp_path):
    spec = tmp_path / "none.yaml"
    spec.write_text("dlspec: 1\nname: x\ninputs:\n  x: {shape: [4]}\nmodel:\n"
                    "  - {op: linear, out_features: 2}\ndata: {batch_size: 8}\n")
    (message,) = errors(spec)
    assert "none.yaml:7:7: error DLS103: missing required key 'dataset' in 'data'" in message
    assert "`images:` (a folder of images) or `text:` (a text file" in message
