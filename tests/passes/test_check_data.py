"""Which task a spec trains for, and the model-vs-data facts validate reads from the graph."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlspec.api import check
from dlspec.compiler import check_spec
from dlspec.errors import DataError, SpecError
from dlspec.passes.check_data import model_io, task_of

SPECS = Path(__file__).resolve().parents[2] / "specs"

TOKENS = """dlspec: 1
name: t
inputs: {ids: {shape: [seq], dtype: int64, dims: {seq: {min: 2, max: 40}}}}
model:
  - {op: embedding, num_embeddings: 12, embedding_dim: 8}
  - {op: linear, out_features: 10}
"""
TABLE = """dlspec: 1
name: t
inputs: {x: {shape: [64]}}
model:
  - {op: linear, out_features: 3}
"""


def checked(tmp_path, body, extra):
    path = tmp_path / "spec.yaml"
    path.write_text(body + extra)
    return check_spec(path)


@pytest.mark.parametrize("body, extra, task", [
    (TOKENS, "data: {dataset: copy}\n", "tagging"),
    (TOKENS, "data: {dataset: copy}\nloss: {op: cross_entropy}\n", "tagging"),
    (TOKENS, "data: {dataset: copy}\nloss: {op: mse}\n", "regression"),  # then a misfit
    (TOKENS, "data: {dataset: chars}\n", "language_model"),
    (TOKENS, "data: {dataset: brackets}\nloss: {op: bce_with_logits}\n", "binary"),
    (TOKENS, "data: {dataset: brackets}\n", "classification"),
    (TABLE, "data: {dataset: digits_multilabel}\n", "multilabel"),
    (TABLE, "data: {dataset: digits_multilabel}\nloss: {op: bce_with_logits}\n", "multilabel"),
    (TABLE, "data: {dataset: diabetes}\n", "regression"),
    (TABLE, "data: {dataset: breast_cancer}\n", "classification"),
    (TABLE, "data: {dataset: breast_cancer, task: binary}\n", "binary"),
    (TABLE, "data: {dataset: csv, path: d.csv}\nloss: {op: bce_with_logits}\n", "binary"),
])
def test_the_task_comes_from_data_task_the_dataset_or_the_loss(tmp_path, body, extra, task):
    assert task_of(checked(tmp_path, body, extra).spec) == task


def test_model_io_reads_shapes_dtype_vocabulary_and_bounds(tmp_path):
    io = model_io(checked(tmp_path, TOKENS, "data: {dataset: copy}\n"))
    assert (io.input_shape, io.output_shape, io.input_dtype) == (("seq",), ("seq", 10), "int64")
    assert io.vocabulary == 12 and io.dims == {"seq": (2, 40)}
    assert model_io(checked(tmp_path, TABLE, "")) is None  # no data section: nothing to fit


# Every input of the model is checked against the data field of its name (npz arrays, CSV
# column groups, a built-in dataset's one field), located in the `data:` section.
TWO_INPUTS = """dlspec: 1
name: t
inputs:
  image: {shape: [1, 8, 8]}
  shift: {shape: [1]}
model:
  - {op: flatten, name: flat, inputs: image}
  - {op: concat, inputs: [flat, shift]}
  - {op: linear, out_features: 10}
loss: {op: cross_entropy}
data:
  dataset: npz
  path: d.npz
"""  # data.dataset's value is at 12:12, data.path's at 13:9


def npz_spec(tmp_path, body=TWO_INPUTS, **arrays) -> Path:
    rng = np.random.default_rng(0)
    arrays.setdefault("y", rng.integers(0, 10, 40))
    np.savez(tmp_path / "d.npz", **arrays)
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    return path


def located(path) -> list:
    with pytest.raises(DataError) as caught:
        check(path)
    return [(d.code, d.span.line, d.span.col, d.message, d.hint)
            for d in caught.value.diagnostics]


def images(n=40, dtype=np.uint8):
    return np.arange(n * 64).reshape(n, 1, 8, 8).astype(dtype) % 17


def test_each_npz_array_feeds_the_input_of_its_name(tmp_path):
    shipped = check(SPECS / "two-input-digits-shift.yaml")
    assert [i.name for i in model_io(shipped).all_inputs()] == ["image", "shift"]
    path = npz_spec(tmp_path, image=images(), shift=np.zeros((40, 1)))
    assert check(path).graph.inputs == ["image", "shift"]


def test_checking_inputs_against_npz_fields_imports_no_torch():
    code = ("import sys\nfrom dlspec.api import check\n"
            f"check({str(SPECS / 'two-input-digits-shift.yaml')!r})\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_missing_field_and_an_unread_array_are_located_with_did_you_mean(tmp_path):
    path = npz_spec(tmp_path, image=images(), shfit=np.zeros((40, 1)))
    assert located(path) == [
        ("DLS402", 12, 12, f"the model's input 'shift' has no field in {tmp_path / 'd.npz'} to "
         "be fed from (its fields: image, shfit)",
         "did you mean 'shfit'? (a model input is fed from the data field of its name)"),
        ("DLS402", 13, 9, f"{tmp_path / 'd.npz'} has the array 'shfit', which no model input "
         "reads (the model's inputs: image, shift)",
         "did you mean 'shift'? (name the array after the input it feeds)")]


def test_an_array_no_input_reads_is_an_error(tmp_path):
    path = npz_spec(tmp_path, image=images(), shift=np.zeros((40, 1)), extra=np.zeros(40))
    [(code, line, col, message, hint)] = located(path)
    assert (code, line, col) == ("DLS402", 13, 9)
    assert message.endswith("has the array 'extra', which no model input reads (the model's "
                            "inputs: image, shift)")
    assert hint == "remove the array 'extra', or give the model an input named 'extra'"


def test_each_input_is_checked_against_its_field(tmp_path):
    npz = tmp_path / "d.npz"
    body = TWO_INPUTS.replace("image: {shape: [1, 8, 8]}", "image: {shape: [1, 8, 7]}")
    [(code, line, col, message, hint)] = located(
        npz_spec(tmp_path, body, image=images(), shift=np.zeros((40, 1))))
    assert (code, line, col, message, hint) == (
        "DLS402", 13, 9, f"the shape [1, 8, 7] of the model's input 'image' takes 56 values "
        f"per sample, but field 'image' of {npz} has 64 features",
        "use an input shape whose sizes multiply to 64, e.g. [64]")
    body = TWO_INPUTS.replace("shift: {shape: [1]}", "shift: {shape: [1], dtype: int64}").replace(
        "  - {op: concat, inputs: [flat, shift]}\n",
        "  - {op: embedding, name: shift_ids, inputs: shift, num_embeddings: 6, embedding_dim: 2}\n"
        "  - {op: flatten, name: flat_code}\n  - {op: concat, inputs: [flat, flat_code]}\n")
    [(code, line, col, message, hint)] = located(
        npz_spec(tmp_path, body, image=images(), shift=np.zeros((40, 1))))
    assert (code, line, col, message, hint) == (
        "DLS402", 15, 9, f"field 'shift' of {npz} has float features, but the model's input "
        "'shift' is int64", "declare the input with dtype: float32")
    # whole numbers feed an int64 input as they are: the shape must be the field's own
    assert check(npz_spec(tmp_path, body, image=images(), shift=np.ones((40, 1), np.int8)))
    [(_, _, _, message, _)] = located(npz_spec(tmp_path, body, image=images(),
                                               shift=np.ones((40, 2), np.int8)))
    assert message == (f"the shape [1] of the model's input 'shift' does not fit the samples "
                       f"of field 'shift' of {npz}, of shape [2]")


SEQUENCES = """dlspec: 1
name: t
inputs:
  a: {shape: [seq], dtype: int64, dims: {seq: {min: 1, max: 8}}}
  b: {shape: [seq], dtype: int64}
model:
  - {op: embedding, name: ea, inputs: a, num_embeddings: 5, embedding_dim: 4}
  - {op: embedding, name: eb, inputs: b, num_embeddings: 9, embedding_dim: 4}
  - {op: add, inputs: [ea, eb]}
  - {op: mean, dims: 1}
  - {op: linear, out_features: 3}
loss: {op: cross_entropy}
data:
  dataset: npz
  path: d.npz
"""  # data.dataset's value at 14:12, data.path's at 15:9


def test_token_fields_check_symbolic_dims_their_bounds_and_the_vocabulary(tmp_path):
    ids = np.arange(40 * 6).reshape(40, 6) % 7
    assert located(npz_spec(tmp_path, SEQUENCES, a=ids, b=ids[:, :5], y=ids[:, 0] % 3)) == [
        ("DLS402", 15, 9, f"the embedding reading the input 'a' has 5 rows, but field 'a' "
         f"of {tmp_path / 'd.npz'} has token ids 0..6",
         "set the embedding's num_embeddings to 7"),
        ("DLS402", 14, 12, f"the input dim 'seq' would be 6 (field 'a') and 5 (field 'b') "
         f"of {tmp_path / 'd.npz'} at once", "give the inputs' dims their own names where "
         "they differ, or make the fields agree on 'seq'")]
    long = np.ones((40, 9), np.int64)
    [(_, line, _, message, hint)] = located(npz_spec(tmp_path, SEQUENCES, a=long, b=long,
                                                             y=np.arange(40) % 3))
    assert (line, message, hint) == (15, f"the input dim 'seq' is bounded to 1..8, but the "
                                     f"sequences of field 'a' of {tmp_path / 'd.npz'} have 9 "
                                     "positions", "let 'seq' take 9 (inputs.*.dims)")


def test_a_one_input_model_is_fed_the_files_one_array_whatever_its_name(tmp_path):
    """npz files saved as np.savez(path, x=..., y=...) keep feeding a model of any input name."""
    body = TWO_INPUTS.replace("  shift: {shape: [1]}\n", "").replace(
        "  - {op: concat, inputs: [flat, shift]}\n", "")
    assert check(npz_spec(tmp_path, body, x=images())).graph.inputs == ["image"]
    [(_, line, col, message, _)] = located(npz_spec(tmp_path, body, x=images(),
                                                    image=images()))
    assert (line, col, message) == (11, 9, f"{tmp_path / 'd.npz'} has the array 'x', which "
                                    "no model input reads (the model's inputs: image)")


def test_a_built_in_dataset_names_its_one_field(tmp_path):
    body = TWO_INPUTS.replace("image: {shape: [1, 8, 8]}", "pixels: {shape: [1, 8, 8]}").replace(
        "inputs: image}", "inputs: pixels}").replace(
        "data:\n  dataset: npz\n  path: d.npz\n", "data:\n  dataset: digits\n")
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    assert located(path) == [
        ("DLS402", 12, 12, "the model's input 'shift' has no field in digits to be fed from "
         "(its fields: pixels)", "name the input after a field (one of: pixels), or use a "
         "dataset with a field for it (csv or npz)")]


GROUPS = """dlspec: 1
name: t
inputs:
  image: {shape: [2]}
  meta: {shape: [1]}
model:
  - {op: concat, inputs: [image, meta]}
  - {op: linear, out_features: 2}
loss: {op: cross_entropy}
data:
  dataset: csv
  path: d.csv
  inputs:
    image: [p0, p1]
    meta: [age]
"""
CSV = "p0,p1,age,label\n" + "".join(f"{i % 5},{i % 3},{20 + i},{i % 2}\n" for i in range(30))


def csv_spec(tmp_path, body=GROUPS) -> Path:
    (tmp_path / "d.csv").write_text(CSV)
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    return path


def test_csv_column_groups_feed_the_inputs_of_their_names(tmp_path):
    assert check(csv_spec(tmp_path)).graph.inputs == ["image", "meta"]


@pytest.mark.parametrize("old, new, expected", [
    ("[p0, p1]", "[p0, p11]", [("DLS401", 14, 17, "{csv} has no column 'p11' (in data.inputs."
                               "image)", "did you mean 'p1'?")]),
    ("[p0, p1]", "[p0, label]", [("DLS401", 14, 17, "{csv}: column 'label' is both the target "
                                  "and in data.inputs.image", "remove it from data.inputs."
                                  "image, or name another target column in data.target")]),
    ("    meta: [age]\n", "    meta: [age]\n    extra: [p1x]\n", [
        ("DLS401", 16, 13, "{csv} has no column 'p1x' (in data.inputs.extra)",
         "did you mean 'p1'?")]),
    ("    meta: [age]\n", "    mta: [age]\n", [
        ("DLS402", 14, 5, "the model's input 'meta' has no field in {csv} to be fed from (its "
         "fields: image, mta)", "did you mean 'mta'? (a model input is fed from the data "
         "field of its name)"),
        ("DLS402", 15, 10, "{csv} has the column group 'mta', which no model input reads (the "
         "model's inputs: image, meta)", "did you mean 'meta'? (name the column group after "
         "the input it feeds)")]),
    ("image: {shape: [2]}", "image: {shape: [3]}", [
        ("DLS402", 14, 12, "the shape [3] of the model's input 'image' takes 3 values per "
         "sample, but field 'image' of {csv} has 2 features",
         "use an input shape whose sizes multiply to 2, e.g. [2]")]),
])
def test_csv_column_group_errors_are_located_at_their_group(tmp_path, old, new, expected):
    path = csv_spec(tmp_path, GROUPS.replace(old, new))
    csv = tmp_path / "d.csv"
    assert located(path) == [(code, line, col, message.format(csv=csv), hint)
                             for code, line, col, message, hint in expected]


def test_a_group_named_for_no_input_is_refused_even_for_one_input(tmp_path):
    body = GROUPS.replace("  meta: {shape: [1]}\n", "").replace(
        "  - {op: concat, inputs: [image, meta]}\n", "").replace("    meta: [age]\n", "")
    assert check(csv_spec(tmp_path, body)).graph.inputs == ["image"]
    problems = located(csv_spec(tmp_path, body.replace("    image: [p0, p1]", "    img: [p0, p1]")))
    assert [(code, line, col, hint) for code, line, col, _, hint in problems] == [
        ("DLS402", 12, 5, "did you mean 'img'? (a model input is fed from the data field of its "
         "name)"),
        ("DLS402", 12, 10, "did you mean 'image'? (name the column group after the input it "
         "feeds)")]


@pytest.mark.parametrize("old, new, line, col, message", [
    ("    meta: [age]\n", "    meta: [age, p1]\n", 14, 5,
     "column 'p1' is in groups 'image' and 'meta'; a column feeds one input once"),
    ("    meta: [age]\n", "    meta: [age, age]\n", 14, 5,
     "column 'age' is twice in the same group; a column feeds one input once"),
    ("    meta: [age]\n", "    meta: []\n", 14, 5,
     "inputs.meta lists no columns; list the columns that feed input 'meta'"),
    ("  path: d.csv\n", "  path: d.csv\n  features: [p0]\n", 11, 3,
     "give either `features` (the columns of a model with one input) or `inputs` (columns "
     "by input), not both"),
    ("  dataset: csv\n  path: d.csv\n", "  dataset: npz\n  path: d.npz\n", 11, 3,
     "`inputs` groups CSV columns; the arrays of an npz file feed the model inputs named by "
     "their keys"),
    ("  dataset: csv\n  path: d.csv\n", "  dataset: digits\n", 11, 3,
     "`inputs` is only for csv files; the built-in dataset 'digits' has fixed features and "
     "targets (remove `inputs`)"),
])
def test_column_groups_that_cannot_be_are_refused_where_they_are_given(tmp_path, old, new,
                                                                       line, col, message):
    with pytest.raises(SpecError) as caught:
        check(csv_spec(tmp_path, GROUPS.replace(old, new)))
    [d] = caught.value.diagnostics
    key = "inputs" if line == 14 else "data"
    assert (d.code, d.span.line, d.span.col, d.message) == ("DLS102", line, col,
                                                            f"'{key}': {message}")


def test_mixup_is_refused_for_a_model_with_several_inputs(tmp_path):
    """Augmentations change the first input only: mixup would blend the targets and one
    input, but not the others."""
    body = (SPECS / "two-input-digits-shift.yaml").read_text().replace(
        "batch_size: 64, seed: 0}", "batch_size: 64, seed: 0, augment: {mixup: 0.2}}")
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    [(code, line, col, message, hint)] = located(path)
    assert (code, line, col, hint) == ("DLS402", 29, 97, "remove data.augment.mixup")
    assert message == ("data.augment.mixup: mixup blends the model's first input and the "
                       "targets, but this model has 2 inputs (image, shift): the others would "
                       "not be blended with them")
    assert check(SPECS / "two-input-digits-shift.yaml")  # noise on the image alone is fine
    path.write_text(body.replace("mixup: 0.2", "noise: 0.1"))
    assert check(path)


def test_a_csv_file_without_column_groups_has_one_field_for_one_input(tmp_path):
    body = GROUPS.replace("  inputs:\n    image: [p0, p1]\n    meta: [age]\n", "")
    problems = located(csv_spec(tmp_path, body))
    assert problems == [
        ("DLS402", 11, 12, f"the model's input '{name}' has no field in {tmp_path / 'd.csv'} "
         "to be fed from (its fields: features)", "name the input after a field (one of: "
         f"features), or give it columns in data.inputs ({name}: [column, ...])")
        for name in ("image", "meta")]


TABLE_SPEC = """dlspec: 1
name: cities
inputs: {features: {shape: [WIDTH]}}
model:
  - {op: linear, name: logits, out_features: 3}
loss: {op: cross_entropy}
data:
  dataset: csv
  path: t.csv
  target: [p_a, p_b, p_c]
  missing_columns: {city: most_frequent}
  categorical: {city: one_hot}
  sampling: SAMPLING
"""


def table_spec(tmp_path, width=4, sampling="none", last="0.2,0.3,0.5"):
    rows = [f"{i},{['oslo', 'rome', 'paris', ''][i % 4]},1,0,0" for i in range(20)]
    (tmp_path / "t.csv").write_text("v,city,p_a,p_b,p_c\n" + "\n".join(rows) +
                                    f"\n7,rome,{last}\n")
    path = tmp_path / "spec.yaml"
    path.write_text(TABLE_SPEC.replace("WIDTH", str(width)).replace("SAMPLING", sampling))
    return path


def test_tables_are_validated_without_torch_each_mistake_at_its_key(tmp_path):
    code = ("import sys\nfrom dlspec.api import check\n"
            f"check({str(table_spec(tmp_path))!r})\n"
            "assert not {'torch', 'sklearn'} & set(sys.modules), 'torch imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # 1 number + 3 one-hot cities: width 4
    [(_, line, _, message, _)] = located(table_spec(tmp_path, width=5))
    assert line == 8 and message.endswith("t.csv has 4 features")  # at data.dataset
    [(code, line, col, message, hint)] = located(table_spec(tmp_path, sampling="weighted"))
    assert (code, line) == ("DLS402", 13) and message == (
        "sampling: weighted balances the classes of the train split, but the targets are "
        "class probabilities, not one class per sample")
    [(code, line, col, message, _)] = located(table_spec(tmp_path, last="0.2,0.3,0.6"))
    assert (code, line, col) == ("DLS401", 10, 11)
    assert message.endswith("t.csv:22 (data row 21): the target columns p_a, p_b, p_c sum "
                            "to 1.1; class probabilities must sum to 1 (within 0.001)")
    table_spec(tmp_path)
    path = tmp_path / "spec.yaml"
    path.write_text(path.read_text().replace("op: cross_entropy", "op: focal"))
    [(code, line, col, message, _)] = located(path)
    assert (code, line, col) == ("DLS402", 10, 11) and message == (
        "the targets are class probabilities (a column per class), but focal takes class "
        "indices")
