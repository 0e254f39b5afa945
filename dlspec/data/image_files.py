"""Finding your own images: a folder of class folders (the ImageFolder convention) or a CSV
file of image paths and labels; every image checked from its header before anything trains.

The check opens each file with Pillow, which reads the header only (format, size, mode) and
decodes no pixel, so that `dlspec validate` stays fast on big folders; a file whose pixels
are damaged past its header is reported when training decodes it (the train split's are all
decoded first, for the normalization). No torch, and Pillow only when images are checked.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dlspec.data.fields import DataKey, FieldError
from dlspec.data.image_config import IMAGE_SUFFIXES
from dlspec.errors import Diagnostic

AT_IMAGES: DataKey = ("data", "images")
PATH_COLUMN = "path"  # the CSV column of image paths (else the first column)
FORMATS = ("PNG", "JPEG")
_SHOWN = 5  # problems of one kind reported one by one; the rest are counted


@dataclass(frozen=True)
class ImageList:
    """Every image of a dataset with its class: `paths` (str), `labels` (indices into
    `class_names`, sorted), and where they were found (`source`: the folder or CSV file)."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    source: str

    def counts(self) -> list[int]:
        """Images per class, in class order."""
        found = Counter(self.labels)
        return [found[k] for k in range(len(self.class_names))]

    def summary(self) -> str:
        """'3 classes, 30 images: cat 10, dog 12, fox 8' (long lists cut)."""
        pairs = [f"{name} ({count})" for name, count in zip(self.class_names, self.counts(),
                                                          strict=True)]
        more = f", ... ({len(pairs) - 20} more)" if len(pairs) > 20 else ""
        return (f"{len(self.class_names)} classes, {len(self.paths)} images in "
                f"{self.source}: {', '.join(pairs[:20])}{more}")


def _fail(problems: list[Diagnostic]) -> FieldError:
    return FieldError([(AT_IMAGES, problem) for problem in problems])


def _problems(messages: list[str], hint: str) -> list[Diagnostic]:
    """DLS401 diagnostics of one kind, the first few one by one and the rest counted."""
    if len(messages) > _SHOWN:
        messages = [*messages[:_SHOWN], f"... and {len(messages) - _SHOWN} more like these"]
    return [Diagnostic("DLS401", message, hint=hint) for message in messages]


def _is_image(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def _images_under(folder: Path) -> list[str]:
    """The image files in `folder` and its sub-folders, sorted (hidden ones left out)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if _is_image(f)]
    return found


def list_images(images: str, base_dir: Path, target: str | None = None,
                headers: bool = False) -> ImageList:
    """The images that `data.images` names (a folder of class folders, or a CSV file whose
    labels are in the column `target`, default the last); with `headers`, every file's
    header read (`header_problems`). FieldError DLS401 at `data.images` with every problem
    found: a missing folder, a folder without class folders, an image outside them, a class
    folder without images, a CSV row naming no image, a class of one image, an unreadable
    file."""
    where = Path(base_dir) / images
    if where.is_file() and where.suffix.lower() == ".csv":
        found, problems = _from_csv(where, target)
    elif where.is_dir():
        found, problems = _from_folder(where)
    else:
        what = ("is a file, neither a folder nor a .csv file" if where.exists()
                else "does not exist")
        raise _fail(_problems([f"image folder {where} {what}"], hint=(
            "give a folder with one sub-folder of images per class, or a CSV file of image "
            "paths and labels, relative to the spec file's folder")))
    problems += _class_problems(found)
    if headers:
        problems += header_problems(found.paths)
    if problems:
        raise _fail(problems)
    return found


def _from_folder(folder: Path) -> tuple[ImageList, list[Diagnostic]]:
    classes = sorted(e.name for e in os.scandir(folder)
                     if e.is_dir() and not e.name.startswith("."))
    loose = sorted(e.name for e in os.scandir(folder) if e.is_file() and _is_image(e.name))
    problems = _problems([f"{folder / loose[0]} is not in a class folder ({len(loose)} "
                          f"image(s) directly in {folder}); each image goes in the folder of "
                          "its class"] if loose else [], hint="move it into its class folder")
    if not classes:
        raise _fail([*problems, *_problems([f"image folder {folder} has no class folders"],
                    hint="put each class's images in a sub-folder named after the class")])
    paths: list[str] = []
    labels: list[int] = []
    empty = []
    for k, name in enumerate(classes):
        files = _images_under(folder / name)
        if not files:
            empty.append(f"class folder {folder / name} has no images "
                         f"({', '.join(IMAGE_SUFFIXES)})")
        paths += files
        labels += [k] * len(files)
    problems += _problems(empty, hint="remove empty class folders, or add their images")
    return ImageList(tuple(paths), tuple(labels), tuple(classes), str(folder)), problems


def _from_csv(path: Path, target: str | None) -> tuple[ImageList, list[Diagnostic]]:
    from dlspec.data.files import _column_index, _encode_labels, _read_table

    header, rows = _read_table(path)
    at = header.index(PATH_COLUMN) if PATH_COLUMN in header else 0
    label_at = len(header) - 1 if target is None else _column_index(header, target, path,
                                                                     "target")
    if label_at == at:
        raise _fail(_problems([f"{path} needs two columns: the image paths "
                               f"('{PATH_COLUMN}', else the first) and their labels (the "
                               "last, or data.target)"], hint="add a column of labels"))
    paths, labels, missing, unlabelled = [], [], [], []
    for line, row in rows:
        image = path.parent / row[at].strip()
        if not _is_image(image.name) or not image.is_file():
            what = "is not a PNG or JPEG file" if image.is_file() else "does not exist"
            missing.append(f"{path}:{line}: image {image} {what}")
        elif not row[label_at].strip():
            unlabelled.append(f"{path}:{line}: the label of {image} is empty")
        else:
            paths.append(str(image))
            labels.append(row[label_at].strip())
    problems = _problems(missing, hint="image paths are relative to the CSV file's folder")
    problems += _problems(unlabelled, hint="label every image, or remove its row")
    if not paths:
        raise _fail(problems or _problems([f"{path} lists no images"], hint="add rows"))
    indices, names = _encode_labels(labels)
    found = ImageList(tuple(paths), tuple(int(k) for k in indices), tuple(names), str(path))
    return found, problems


def _class_problems(found: ImageList) -> list[Diagnostic]:
    """At least two classes, each of two images or more (one image cannot be in both the
    train split and another; a stratified split needs two)."""
    if len(found.class_names) < 2:
        return _problems([f"{found.source} has one class ({found.class_names[0]}); a "
                          "classifier needs two or more"],
                         hint="add a folder (or labels) for another class")
    single = [k for k, n in enumerate(found.counts()) if n == 1]
    return _problems([f"class '{found.class_names[k]}' has one image, "
                      f"{found.paths[found.labels.index(k)]}; a class needs two or more"
                      for k in single], hint="add images of that class, or remove it")


def header_problems(paths: tuple[str, ...]) -> list[Diagnostic]:
    """Each image's header opened with Pillow (no pixel is decoded): a DLS401 naming each
    file that is not a readable PNG or JPEG image."""
    from PIL import Image, UnidentifiedImageError

    problems = []
    for path in paths:
        try:
            with Image.open(path) as image:
                if image.format not in FORMATS:
                    problems.append(f"image {path} is {image.format}, not PNG or JPEG")
                elif min(image.size) < 1:
                    problems.append(f"image {path} has no pixels ({image.size})")
        except (UnidentifiedImageError, OSError, ValueError) as error:
            problems.append(f"image {path} cannot be read: {_reason(error)}")
    return _problems(problems, hint="replace or remove the file(s)")


def _reason(error: Exception) -> str:
    text = str(error).split(" '")[0] if "cannot identify" in str(error) else str(error)
    return text or type(error).__name__
