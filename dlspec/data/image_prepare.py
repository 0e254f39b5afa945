"""`data: {images: ...}` from the spec to `PreparedData`: the images listed and checked,
split, and the per-channel standardization fitted on the train split's pixels.

`describe_images` is what `dlspec validate` sees (listing and image headers, no pixels
decoded, no torch); `prepare_images` what training gets: `ImageSplit`s that decode while
training. The model's input must be (channels, height, width), 1 (grayscale) or 3 (RGB)
channels of fixed size: each image is resized and cropped to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlspec.data.builtin import DatasetInfo, FieldInfo
from dlspec.data.config import DataConfig
from dlspec.data.fields import AT_DATASET, DataKey, FieldError, InputIO, feeds, misfit
from dlspec.data.image_decode import MODES, ImageReadError, ImageShape, default_workers
from dlspec.data.image_files import AT_IMAGES, ImageList, list_images
from dlspec.data.image_split import ImageReader, ImageSplit
from dlspec.data.rescale import rescaling
from dlspec.data.split import split_indices
from dlspec.data.tasks import Task
from dlspec.data.types import PreparedData
from dlspec.errors import DataError, Diagnostic

IMAGE_FIELD = "image"  # the one field of an image dataset (feeds a model's one input)


def find_images(config: DataConfig, base_dir: Path, headers: bool = True) -> ImageList:
    """The dataset's images and classes; with `headers`, every file's header checked.
    DataError DLS401 located at `data.images`, with every problem found."""
    try:
        return list_images(str(config.images), base_dir, config.target, headers)
    except DataError as error:  # a CSV file's own errors (dlspec/data/files.py)
        raise located(error) from None


def info_of(found: ImageList) -> DatasetInfo:
    """The dataset as a model is checked against it: one field of images, class labels."""
    return DatasetInfo(name=found.source, n_features=0, task="classification",
                       class_names=found.class_names, n_samples=len(found.paths),
                       fields={IMAGE_FIELD: FieldInfo((), tabular=False)})


def describe_images(config: DataConfig, base_dir: Path) -> DatasetInfo:
    """What `dlspec validate` checks a model against (headers read, no pixel decoded)."""
    return info_of(find_images(config, base_dir))


def image_summary(checked) -> str:
    """The classes found and their image counts (what `dlspec validate` prints)."""
    return find_images(checked.spec.data, checked.loaded.base_dir, headers=False).summary()


def image_input_problems(info: DatasetInfo, inputs: Sequence[InputIO]
                         ) -> list[tuple[DataKey, Diagnostic]]:
    """The fed input must take images: float32 (C, H, W) of fixed size, C 1 or 3."""
    fed = feeds(info.fields, [i.name for i in inputs])
    problems = []
    for model_input in inputs:
        if model_input.name not in fed:
            continue  # feed_problems reports it
        shape = model_input.shape
        if model_input.dtype != "float32":
            problems.append(misfit(f"{info.name} holds images (float pixels), but the model's "
                                   f"input is {model_input.dtype}",
                                   hint="declare the input with dtype: float32"))
        elif len(shape) != 3 or not all(isinstance(d, int) for d in shape) or \
                shape[0] not in MODES:
            problems.append(misfit(
                f"images are fed as (channels, height, width) of a fixed size, with 1 "
                f"(grayscale) or 3 (RGB) channels, but the model's input shape is "
                f"{list(shape)}", hint="declare the input with shape: [3, height, width] "
                "(or [1, height, width] for grayscale); images are resized to it"))
    return [(AT_DATASET, p) for p in problems]


def _image_shape(inputs: Sequence[InputIO]) -> tuple[str, ImageShape]:
    first = inputs[0]
    channels, height, width = (int(d) for d in first.shape)
    return first.name, ImageShape(channels, height, width)


def prepare_images(config: DataConfig, base_dir: Path, model, task: Task) -> PreparedData:
    """Images found, checked (headers; the train split's pixels while fitting the
    normalization) and against the model and its augmentations, split like any dataset
    (stratified by class unless data.stratify is false) and read by one `ImageReader`."""
    from dlspec.data.describe import augment_diagnostics, fit_problems

    found = find_images(config, base_dir)
    problems = fit_problems(info_of(found), model, task, config)
    problems += [(("data", "augment", name), problem) for name, problem in
                 augment_diagnostics(config.augment, model, task).items()]
    if problems:
        raise FieldError(problems)
    labels = np.asarray(found.labels, dtype=np.int64)
    y = labels if task == "classification" else labels.astype(np.float32).reshape(-1, 1)
    splits = split_indices(len(y), config.split, config.seed,
                           None if config.stratify is False else labels)
    name, image = _image_shape(model.all_inputs())
    paths = np.asarray(found.paths, dtype=object)
    workers = default_workers() if config.workers is None else config.workers
    mean, std = _scaling(config, image, list(paths[splits[0]]), workers)
    reader = ImageReader(name, image, mean.astype(np.float32), std.astype(np.float32), workers)
    train, val, test = (ImageSplit(paths[rows], y[rows], reader) for rows in splits)
    full = [np.broadcast_to(v.astype(np.float32).reshape(-1, 1, 1), image.shape).copy()
            for v in (mean, std)]
    scaled = config.standardize is not False or config.rescale is not None
    return PreparedData(
        train=train, val=val, test=test, task=task, feature_names=[],
        class_names=list(found.class_names), source=found.source,
        mean=full[0] if scaled else None, std=full[1] if scaled else None,
        augment=config.augment, scaling={name: tuple(full)} if scaled else {},
        sampling=config.sampling)


def _scaling(config: DataConfig, image: ImageShape, train: list[str], workers: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (mean, std) that the inputs are fed as (x - mean) / std with: the train
    pixels' statistics; with data.rescale, their range onto [low, high] (one range for
    every channel, as for tabular data); (0, 1) with standardize: false."""
    if config.standardize is False and config.rescale is None:
        return np.zeros(image.channels), np.ones(image.channels)
    try:
        stats = image.channel_stats(train, workers)
    except ImageReadError as error:
        raise DataError(Diagnostic("DLS401", str(error), hint="replace or remove the "
                                   "file")) from None
    if config.rescale is None:
        return stats.mean, stats.std
    mean, std = rescaling(np.array([[stats.low], [stats.high]], dtype=np.float64),
                          config.rescale)
    return np.repeat(mean, image.channels), np.repeat(std, image.channels)


def located(error: DataError) -> DataError:
    """An image error located at `data.images` unless it says where."""
    if isinstance(error, FieldError):
        return error
    return FieldError([(AT_IMAGES, d) for d in error.diagnostics])
