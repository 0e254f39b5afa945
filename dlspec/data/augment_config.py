"""The spec's `data.augment:` section: random changes to each training batch (no torch here;
augment.py applies them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dlspec.data.tasks import Task, shape_text

IMAGE_FIELDS = ("hflip", "vflip", "crop_padding", "rotate", "brightness", "contrast")
MIXUP_TASKS: tuple[Task, ...] = ("classification", "binary", "multilabel", "regression")


class AugmentConfig(BaseModel):
    """Random changes to the training batches only (never validation or test), drawn per
    sample on the training device from the run's seed. 0 turns an augmentation off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hflip: float = Field(0.0, ge=0.0, le=1.0, description=(
        "Images (C, H, W): probability of mirroring a sample left to right."))
    vflip: float = Field(0.0, ge=0.0, le=1.0, description=(
        "Images: probability of flipping a sample upside down."))
    crop_padding: int = Field(0, ge=0, strict=True, description=(
        "Images: random crop. Pad each side with this many zeros, then cut a window of the "
        "original size at a random place: a shift by up to this many pixels."))
    rotate: float = Field(0.0, ge=0.0, le=180.0, description=(
        "Images: rotate each sample by a random angle in [-rotate, rotate] degrees about "
        "its centre (bilinear, zeros outside the image)."))
    brightness: float = Field(0.0, ge=0.0, description=(
        "Images: add one random offset in [-brightness, brightness] to every value of a "
        "sample (the values the model sees, i.e. after standardization)."))
    contrast: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "Images: scale each sample's deviations from its mean by a random factor in "
        "[1 - contrast, 1 + contrast]."))
    noise: float = Field(0.0, ge=0.0, description=(
        "Float inputs (images, features, series): add gaussian noise of this standard "
        "deviation to every value."))
    mask: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "Token inputs (int64): probability of replacing each token (not padding, id 0) "
        "with `mask_token`."))
    mask_token: int = Field(0, ge=0, strict=True, description=(
        "The id that masked tokens become (default 0, the padding id: the token is dropped)."))
    mixup: float = Field(0.0, ge=0.0, description=(
        "Mixup alpha: blend each batch with a shuffled copy of itself, inputs and targets, "
        "with a weight drawn from Beta(alpha, alpha) per batch (0.2 is common). For "
        "classification, binary, multilabel and regression on float inputs."))

    def active(self) -> tuple[str, ...]:
        """The augmentations that are on, in the order they are applied."""
        return tuple(name for name, value in self if name != "mask_token" and value)


def target_losses(loss) -> tuple[str, ...]:
    """The ops of a `loss:` section's terms (one loss or a list) that compare with the data's
    targets (not with a model input)."""
    terms = loss if isinstance(loss, list | tuple) else ([] if loss is None else [loss])
    return tuple(term.op for term in terms
                 if getattr(term, "takes_target", True) and getattr(term, "target", None) is None)


def mixup_problem(config: AugmentConfig, task: Task, loss_ops: tuple[str, ...]) -> str | None:
    """Why mixup cannot train with these losses (the ops of the terms reading the targets),
    or None: for classification it makes soft one-hot targets, which cross_entropy alone
    takes."""
    others = [op for op in loss_ops if op != "cross_entropy"]
    if config.mixup and task == "classification" and others:
        return (f"mixup turns class indices into soft (one-hot) targets, which only "
                f"cross_entropy takes, not {others[0]}")
    return None


def augment_problems(config: AugmentConfig, input_shape: tuple, input_dtype: str,
                     task: Task, vocabulary: int | None,
                     loss_ops: tuple[str, ...] = ()) -> dict[str, str]:
    """What the configured augmentations cannot do to this input, task or loss: field ->
    reason.

    `input_shape` is one sample's shape, `vocabulary` the rows of the embedding reading the
    input (None when unknown), `loss_ops` the losses comparing with the targets.
    """
    problems = {}
    tokens = input_dtype == "int64"
    for name in config.active():
        if name in IMAGE_FIELDS and (tokens or len(input_shape) != 3):
            problems[name] = (f"{name} works on images (C, H, W) of float values, but the "
                              f"input is {input_dtype} {shape_text(input_shape)}")
        elif name in ("noise", "mixup") and tokens:
            problems[name] = (f"{name} works on float values, but the input holds int64 "
                              "token ids (mask them instead: data.augment.mask)")
        elif name == "mask" and not tokens:
            problems[name] = (f"mask replaces token ids, but the input is {input_dtype} "
                              "(use noise for float inputs)")
        elif name == "mixup" and task not in MIXUP_TASKS:
            problems[name] = f"mixup needs one target per sample, but the task is {task}"
        elif name == "mixup" and mixup_problem(config, task, loss_ops):
            problems[name] = mixup_problem(config, task, loss_ops)
    if "mask" in config.active() and vocabulary is not None and config.mask_token >= vocabulary:
        problems["mask_token"] = (f"mask_token {config.mask_token} is not an id of the "
                                  f"embedding reading the input (0..{vocabulary - 1})")
    return problems
