"""The `data:` keys of your own images: `images:` (a folder of class folders, or a CSV of
image paths and labels) and `workers:` (the processes that decode them while training)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

IMAGES = "images"  # the dataset name `images:` stands for
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_OTHER_KEYS = ("path", "features", "inputs")


class ImageFields(BaseModel):
    """The image keys of DataConfig (one block, see CONTRACT: each data source its own)."""

    images: str | None = Field(
        default=None,
        description="Your own images (PNG or JPEG), relative to the spec file's folder: a "
        "folder with one sub-folder of images per class (the class names are the "
        "sub-folders' names), or a CSV file whose `path` column (else its first) holds "
        "image paths, relative to the CSV's folder, and whose `target` column (default: the "
        "last) their labels. Each image is resized to cover the model input's height and "
        "width and cropped at its centre, converted to grayscale (1 channel) or RGB (3), "
        "and each channel is standardized with the train split's mean and std (or mapped "
        "by `rescale`; exported models include it, so they take pixel values 0..255). "
        "Images are decoded while "
        "training, never held in memory all at once.",
    )
    workers: int | None = Field(
        default=None, ge=0, strict=True,
        description="images: processes decoding images while training (a torch DataLoader; "
        "0 decodes in the training process). Default: the CPU count, at most 4.",
    )


def check_images(config: Any) -> None:
    """The keys a DataConfig with `images:` may not have (ValueError), and `workers`
    without it."""
    if config.dataset != IMAGES:
        if config.workers is not None:
            raise ValueError("`workers` sets the processes that decode `images:`; "
                             f"'{config.dataset}' is read into memory (remove `workers`)")
        return
    if config.images is None:
        raise ValueError("dataset 'images' needs `images:`: a folder of class folders, or a "
                         "CSV file of image paths and labels")
    given = [key for key in _OTHER_KEYS if getattr(config, key) is not None]
    if given:
        raise ValueError(f"`{given[0]}` is not for images (`images:` names the folder or "
                         f"CSV file; remove `{given[0]}`)")
    if config.target is not None and not config.images.lower().endswith(".csv"):
        raise ValueError("`target` names the label column of a CSV of images; the labels "
                         "of a folder are its class folders' names (remove `target`)")
    if config.task not in (None, "classification", "binary"):
        raise ValueError(f"images are labelled by class; the task {config.task} needs "
                         "other targets (use classification or binary)")
    given = [k for k, v in config.synthetic_params().items() if v is not None]
    if given:
        raise ValueError(f"`{given[0]}` is a parameter of the synthetic datasets, not of "
                         "images")
