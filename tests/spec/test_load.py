"""dlspec.spec.load: params, `--set` overrides, section validation and error collection."""

from __future__ import annotations

import hashlib

import pytest

from dlspec.errors import SourceSpan, SpecError
from dlspec.spec.load import load_spec, load_text

BASE = """\
dlspec: 1
name: tiny
params:
  d: 768
  heads: 12
  d_head: "${d // heads}"
  hidden: "${2 * d_head}"
inputs:
  x: {shape: [64]}
model:
  - {op: linear, name: fc1, out_features: "${hidden}"}
  - {op: relu}
  - {op: linear, name: out, out_features: 10}
train: {epochs: 3, seed: 1}
"""


def load(*overrides: str, text: str = BASE):
    return load_text(text, "s.yaml", overrides)


def problems(*overrides: str, text: str = BASE) -> list[tuple[str, str, int, int]]:
    with pytest.raises(SpecError) as caught:
        load(*overrides, text=text)
    return [(d.code, d.span.file, d.span.line, d.span.col) for d in caught.value.diagnostics]


def only_problem(*overrides: str, text: str = BASE):
    with pytest.raises(SpecError) as caught:
        load(*overrides, text=text)
    (diagnostic,) = caught.value.diagnostics
    return diagnostic


# --- params -------------------------------------------------------------------------------


def test_params_use_the_params_before_them():
    loaded = load()
    assert loaded.params == {"d": 768, "heads": 12, "d_head": 64, "hidden": 128}
    assert isinstance(loaded.params["d_head"], int)


def test_a_param_cannot_use_a_later_one():
    text = BASE.replace('d_head: "${d // heads}"', 'd_head: "${d // later}"') \
        .replace("  hidden:", "  later: 2\n  hidden:")
    diagnostic = only_problem(text=text)
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS111", 6, 11)


def test_model_expressions_stay_for_the_lowering_pass():
    loaded = load()
    assert loaded.raw["model"][0]["out_features"] == "${hidden}"


def test_other_sections_are_resolved_with_the_params():
    text = BASE.replace("train: {epochs: 3, seed: 1}", 'train: {epochs: "${heads // 4}"}')
    assert load(text=text).spec.train.epochs == 3


def test_loaded_spec_facts(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(BASE)
    loaded = load_spec(path)
    assert loaded.path == path and loaded.base_dir == tmp_path
    assert loaded.sha256 == hashlib.sha256(BASE.encode()).hexdigest()
    assert loaded.spec.name == "tiny" and loaded.text == BASE


# --- overrides ----------------------------------------------------------------------------


def test_set_a_param_by_its_bare_name_recomputes_the_params_after_it():
    loaded = load("d=512")
    assert loaded.params == {"d": 512, "heads": 12, "d_head": 42, "hidden": 84}


def test_set_values_are_read_as_yaml():
    loaded = load("heads=8", "train.device=cpu", "regularization.grad_clip_norm=1e-1")
    assert loaded.params["heads"] == 8
    assert loaded.spec.train.device == "cpu"
    assert loaded.spec.regularization.grad_clip_norm == 0.1


def test_set_a_nested_section_value():
    loaded = load("train.epochs=5")
    assert (loaded.spec.train.epochs, loaded.spec.train.seed) == (5, 1)


def test_set_a_list_item_by_index():
    loaded = load("model.2.out_features=7", "inputs.x.shape.0=32")
    assert loaded.raw["model"][2] == {"op": "linear", "name": "out", "out_features": 7}
    assert loaded.spec.inputs["x"].shape == [32]


def test_set_creates_a_missing_section():
    loaded = load("export.opset=18", "data.dataset=digits", "data.batch_size=16")
    assert loaded.spec.export.opset == 18
    assert (loaded.spec.data.dataset, loaded.spec.data.batch_size) == ("digits", 16)


def test_a_section_name_wins_over_a_param_of_the_same_name():
    text = BASE.replace("  d: 768\n", "  d: 768\n  name: p\n")
    loaded = load("name=renamed", text=text)
    assert loaded.spec.name == "renamed" and loaded.params["name"] == "p"


def test_set_a_whole_mapping():
    assert load("train={epochs: 9}").spec.train.epochs == 9


def test_later_overrides_win():
    assert load("train.epochs=5", "train.epochs=6").spec.train.epochs == 6


def test_errors_in_overridden_values_point_at_the_override():
    diagnostic = only_problem("train.epochs=0")
    assert diagnostic.code == "DLS102"
    assert diagnostic.span == SourceSpan("--set train.epochs=0", 1, 1)


def test_errors_under_a_replaced_mapping_point_at_the_override():
    diagnostic = only_problem("train={epochs: 0}")
    assert diagnostic.span.file == "--set train={epochs: 0}"


def test_errors_in_a_created_section_point_at_the_override():
    diagnostic = only_problem("optimizer.lr=1e-2")
    assert diagnostic.code == "DLS103" and "'op'" in diagnostic.message
    assert diagnostic.span.file == "--set optimizer.lr=1e-2"


@pytest.mark.parametrize("override, message", [
    ("hidden", "'hidden' is not key=value"),
    ("=3", "'=3' is not key=value"),
    (" =3", "' =3' is not key=value"),
    ("epochs=5", "'epochs' is neither a section, a param nor a block param"),
    ("name.first=x", "cannot set 'name.first': 'name' is not a section"),
    ("train.epochs.x=1", "cannot set 'train.epochs.x': 'train.epochs' is not a section"),
    ("model.9.out_features=1", "cannot set 'model.9.out_features': index 9 is out of range"),
    ("model.3=1", "cannot set 'model.3': index 3 is out of range"),
    ("model.first=1", "cannot set 'model.first': index first is out of range"),
])
def test_bad_overrides(override, message):
    diagnostic = only_problem(override)
    assert diagnostic.code == "DLS120"
    assert diagnostic.message == message
    assert diagnostic.span == SourceSpan(f"--set {override}", 1, 1)
    assert diagnostic.format().startswith(f"--set {override}:1:1: error DLS120: ")


def test_a_misspelt_param_gets_a_suggestion():
    diagnostic = only_problem("hiden=3")
    assert diagnostic.hint == "did you mean 'hidden'?"


def test_every_bad_override_is_reported():
    assert [code for code, *_ in problems("a=1", "b", "train.epochs=2", "c=3")] == \
        ["DLS120", "DLS120", "DLS120"]


def test_override_values_are_strict_yaml():
    with pytest.raises(SpecError) as caught:
        load("train.device=on")
    assert caught.value.codes == ["DLS005"]
    with pytest.raises(SpecError) as caught:
        load("train.epochs=[1")
    assert caught.value.codes == ["DLS001"]


# --- validation -------------------------------------------------------------------------------


def test_unsupported_version_is_reported_alone():
    diagnostic = only_problem(text=BASE.replace("dlspec: 1", "dlspec: 2") + "bogus: 1\n")
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS106", 1, 9)


def test_version_1_is_required():
    diagnostic = only_problem(text=BASE.replace("dlspec: 1\n", ""))
    assert diagnostic.code == "DLS103" and "'dlspec'" in diagnostic.message


@pytest.mark.parametrize("text", ["[1, 2]\n", "just text\n", "", "12\n"])
def test_a_spec_is_a_mapping(text):
    diagnostic = only_problem(text=text)
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("DLS102", 1, 1)


def test_every_section_problem_is_reported_together():
    text = BASE.replace("train: {epochs: 3, seed: 1}",
                        "train: {epochs: 0, seed: 1, epoch: 3}\nexport: {opset: 5}\nloss: {op: l2}")
    found = sorted((code, line, col) for code, _, line, col in problems(text=text))
    assert found == [("DLS101", 14, 29), ("DLS102", 14, 17), ("DLS102", 15, 17),
                     ("DLS104", 16, 12)]


def test_an_expression_error_is_not_reported_twice():
    text = BASE.replace("train: {epochs: 3, seed: 1}", 'train: {epochs: "${heads +}"}')
    assert [(code, line, col) for code, _, line, col in problems(text=text)] == [
        ("DLS110", 14, 17)]


def test_a_failed_param_does_not_fail_its_uses_again():
    text = BASE.replace("  heads: 12", "  heads: 0").replace(
        "train: {epochs: 3, seed: 1}", 'train: {epochs: "${hidden}", seed: -1}')
    assert sorted((code, line, col) for code, _, line, col in problems(text=text)) == [
        ("DLS102", 14, 36), ("DLS112", 6, 11)]


def test_unreadable_file(tmp_path):
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "missing.yaml")
    assert caught.value.codes == ["DLS007"]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SpecError) as caught:
        load_spec(binary)
    assert caught.value.codes == ["DLS007"]


def test_a_byte_that_is_not_utf8_is_reported_at_its_line_and_column(tmp_path):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes(BASE.replace("name: tiny", "name: tiny\ndescription: caf\xe9 \xe9").encode(
        "latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS007" and diagnostic.span == SourceSpan(str(spec), 3, 17)
    assert diagnostic.message == "byte 0xe9 is not UTF-8 text"
    assert diagnostic.hint == "save the file as UTF-8 (specs are UTF-8 text)"


def test_the_column_of_a_bad_byte_counts_characters_not_bytes(tmp_path):
    spec = tmp_path / "mixed.yaml"
    spec.write_bytes("dlspec: 1\nname: \"\u00e9\u00e9".encode() + b"\xff\"\n")
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert caught.value.diagnostics[0].span == SourceSpan(str(spec), 2, 10)


def test_a_directory_is_refused_as_a_spec(tmp_path):
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS007" and diagnostic.span == SourceSpan(str(tmp_path), 1, 1)
    assert diagnostic.message == f"cannot read spec: '{tmp_path}' is a directory, not a file"


def test_a_file_over_the_limit_is_refused_by_its_size_before_reading(tmp_path):
    from dlspec.spec.limits import MAX_BYTES

    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: nothing is written, nothing need be read
    with pytest.raises(SpecError) as caught:
        load_spec(huge)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "DLS007" and diagnostic.span == SourceSpan(str(huge), 1, 1)
    assert diagnostic.message == f"the file is {MAX_BYTES + 1:_} bytes; a spec is at most 16 MiB"


def test_a_spec_may_come_through_a_pipe(tmp_path):
    import os
    import threading

    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text(BASE, encoding="utf-8"))
    writer.start()
    loaded = load_spec(fifo)
    writer.join()
    assert loaded.params["hidden"] == 128
