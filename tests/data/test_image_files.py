"""Image folders and CSV files of images as `dlspec validate` sees them: the classes and
their counts, and every bad input (a missing folder, an empty class folder, a class of one
image, an unreadable image, a missing file in a CSV) located at the spec's `data:` line."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from cli_run import run_cli
from image_folders import digit_folder, write_spec
from PIL import Image

from dlspec.api import check
from dlspec.data.image_files import list_images
from dlspec.errors import DataError

PER_CLASS = 3
DATA_LINE = 17  # `data:` in image_folders.CNN_SPEC; `images:` its value at column 16


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    digit_folder(root / "digits", per_class=PER_CLASS)
    return root


@pytest.fixture
def folder(tmp_path, digits):
    shutil.copytree(digits / "digits", tmp_path / "digits")
    return tmp_path


def errors(folder, data: str = "{images: digits}") -> list[str]:
    spec = write_spec(folder, data)
    with pytest.raises(DataError) as caught:
        check(spec)
    return [d.format() for d in caught.value.diagnostics]


def test_a_folder_lists_its_classes_and_images_in_order(digits):
    found = list_images("digits", digits)
    assert found.class_names == tuple(str(d) for d in range(10))
    assert found.counts() == [PER_CLASS] * 10
    assert found.labels == tuple(np.repeat(np.arange(10), PER_CLASS))
    assert found.paths[0].endswith("digits/0/00000.png")
    assert found.summary().startswith(f"10 classes, 30 images in {digits / 'digits'}: 0 (3), "
                                      "1 (3), 2 (3)")


def test_validate_names_the_classes_and_their_counts(folder, monkeypatch, capsys):
    (folder / "digits" / "7" / "notes.txt").write_text("not an image: left out")
    spec = write_spec(folder, "{images: digits}")
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(spec))
    assert code == 0, err
    assert out.splitlines()[1] == (
        f"{spec}: images ok: 10 classes, 30 images in {folder / 'digits'}: "
        + ", ".join(f"{d} (3)" for d in range(10)))


def test_a_missing_folder_is_located_at_the_data_line(tmp_path):
    assert errors(tmp_path, "{images: photos}") == [
        f"{tmp_path / 'spec.yaml'}:{DATA_LINE}:16: error DLS401: image folder "
        f"{tmp_path / 'photos'} does not exist\n  help: give a folder with one sub-folder of "
        "images per class, or a CSV file of image paths and labels, relative to the spec "
        "file's folder"]


def test_every_problem_of_a_folder_is_reported_at_once(folder):
    (folder / "digits" / "cats").mkdir()
    for extra in sorted((folder / "digits" / "4").iterdir())[1:]:
        extra.unlink()
    (folder / "digits" / "2" / "broken.png").write_bytes(b"\x89PNG not really")
    at = f"{folder / 'spec.yaml'}:{DATA_LINE}:16: error DLS401: "
    assert errors(folder) == [
        f"{at}class folder {folder / 'digits' / 'cats'} has no images (.png, .jpg, .jpeg)\n"
        "  help: remove empty class folders, or add their images",
        f"{at}class '4' has one image, {folder / 'digits' / '4' / '00004.png'}; a class needs "
        "two or more\n  help: add images of that class, or remove it",
        f"{at}image {folder / 'digits' / '2' / 'broken.png'} cannot be read: cannot identify "
        "image file\n  help: replace or remove the file(s)"]


def test_unreadable_and_foreign_images_are_named(folder):
    (folder / "digits" / "2" / "broken.png").write_bytes(b"\x89PNG not really")
    Image.new("RGB", (4, 4)).save(folder / "digits" / "3" / "gif.png", format="GIF")
    found = errors(folder)
    assert found == [
        f"{folder / 'spec.yaml'}:{DATA_LINE}:16: error DLS401: image "
        f"{folder / 'digits' / '2' / 'broken.png'} cannot be read: cannot identify image file\n"
        "  help: replace or remove the file(s)",
        f"{folder / 'spec.yaml'}:{DATA_LINE}:16: error DLS401: image "
        f"{folder / 'digits' / '3' / 'gif.png'} is GIF, not PNG or JPEG\n"
        "  help: replace or remove the file(s)"]


def test_the_input_must_take_images(folder):
    spec = write_spec(folder, "{images: digits}")
    spec.write_text(spec.read_text().replace("shape: [3, 32, 32]", "shape: [2, 32, 32]"))
    with pytest.raises(DataError) as caught:
        check(spec)
    assert caught.value.diagnostics[0].message == (
        "images are fed as (channels, height, width) of a fixed size, with 1 (grayscale) or "
        "3 (RGB) channels, but the model's input shape is [2, 32, 32]")


def test_a_csv_of_paths_and_labels(folder):
    lines = ["path,kind"] + [f"digits/{d}/{p.name},{'even' if d % 2 == 0 else 'odd'}"
                             for d in range(10)
                             for p in sorted((folder / "digits" / str(d)).iterdir())]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    found = list_images("labels.csv", folder)
    assert found.class_names == ("even", "odd") and found.counts() == [15, 15]
    spec = write_spec(folder, "{images: labels.csv}")
    spec.write_text(spec.read_text().replace("out_features: 10", "out_features: 2"))
    check(spec)
    (folder / "labels.csv").write_text("\n".join([*lines, "digits/9/missing.png,odd"]) + "\n")
    assert errors(folder, "{images: labels.csv}") == [
        f"{folder / 'spec.yaml'}:{DATA_LINE}:16: error DLS401: {folder / 'labels.csv'}:32: "
        f"image {folder / 'digits' / '9' / 'missing.png'} does not exist\n"
        "  help: image paths are relative to the CSV file's folder"]


@pytest.mark.parametrize(("data", "message"), [
    ("{images: digits, path: x.csv}", "`path` is not for images"),
    ("{images: digits, dataset: csv}", "give either `dataset: csv` or `images:`, not both"),
    ("{dataset: digits, workers: 2}", "`workers` sets the processes that decode `images:`"),
    ("{split: [0.8, 0.1, 0.1]}", "missing required key 'dataset'"),
    ("{datset: digits}", "unknown key 'datset'"),
])
def test_image_keys_are_checked(tmp_path, data, message):
    from dlspec.errors import SpecError

    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[")):
        check(write_spec(tmp_path, data))


def test_validate_reads_headers_without_torch(folder):
    import subprocess
    import sys

    spec = write_spec(folder, "{images: digits}")
    script = ("import sys\nfrom dlspec.api import check\n"
              f"check({str(spec)!r})\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sklearn')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_train_refuses_a_bad_folder_before_writing_anything(folder, monkeypatch, capsys):
    shutil.copy(folder / "digits" / "0" / "00000.png", folder / "digits" / "loose.png")
    spec = write_spec(folder, "{images: digits}")
    code, out, err = run_cli(monkeypatch, capsys, "train", str(spec), "--out",
                             str(folder / "runs"))
    assert code == 1 and "Traceback" not in err
    assert err.splitlines()[0] == (
        f"{spec}:{DATA_LINE}:16: error DLS401: {folder / 'digits' / 'loose.png'} is not in a "
        f"class folder (1 image(s) directly in {folder / 'digits'}); each image goes in the "
        "folder of its class")
    assert not (folder / "runs").exists()


def test_a_csv_names_its_label_column(folder):
    lines = ["file,digit,parity"] + [f"digits/{d}/{p.name},{d},{d % 2}" for d in range(10)
                                     for p in sorted((folder / "digits" / str(d)).iterdir())]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    from dlspec.data.config import DataConfig
    from dlspec.data.image_prepare import find_images

    by_digit = find_images(DataConfig(images="labels.csv", target="digit"), folder)
    assert by_digit.class_names == tuple(str(d) for d in range(10))
    assert by_digit.paths[3].endswith("digits/1/00001.png")  # `file`: the first column
    assert find_images(DataConfig(images="labels.csv"), folder).counts() == [15, 15]
