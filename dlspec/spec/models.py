"""The spec's top-level structure as pydantic models: this IS the schema (unknown keys are errors).

Layer items under `model:` and `blocks.*.layers` stay plain mappings here: each one's
attributes may hold `${...}` expressions that only a block instance can resolve, so the
lowering pass validates them against their op's declaration (see dlspec/ops/).
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from dlspec.data.config import DataConfig
from dlspec.spec.init import SCHEMES, LayerInit, expand_defaults
from dlspec.spec.search_config import SearchConfig
from dlspec.train.objectives import ObjectiveSpec
from dlspec.train.recipe.config import (
    LossSpec,
    OptimizerConfig,
    RegularizationConfig,
    ScheduleSpec,
    TrainConfig,
)

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
FRAME_KEYS = ("op", "block", "name", "inputs", "repeat", "when", "tie", "init", "layers")
GROUP_KEYS = ("layers", "name", "inputs", "when")
# Layer names become attributes of the compiled torch module (a torch.fx GraphModule), so
# they must not be Python keywords nor shadow what the module already has. Kept in step
# with torch by tests/backends/test_torch_module.py.
TORCH_MODULE_ATTRIBUTES = (
    "T_destination", "add_module", "add_submodule", "apply", "bfloat16", "buffers",
    "call_super_init", "children", "code", "compile", "cpu", "cuda",
    "delete_all_unused_submodules", "delete_submodule", "double", "dump_patches", "eval",
    "extra_repr", "float", "forward", "get_buffer", "get_extra_state", "get_parameter",
    "get_submodule", "graph", "half", "ipu", "load_state_dict", "meta", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "print_readable", "recompile", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "shape_env", "share_memory", "state_dict", "to",
    "to_empty", "to_folder", "train", "training", "type", "xpu", "zero_grad")


# What several models trained together (train/model_set.py) hold besides the models
MODEL_SET_ATTRIBUTES = ("ema", "names", "models", "averages", "input_types", "output_names",
                        "keep_average")


def _one_or_per_model(value: Any) -> str:
    """A section given once (`{op: adam}`, a schedule list) or per model by name (a mapping
    of sections: `{generator: {op: adam}}`; `{lr: 0.1}` is one section that lacks its op)."""
    per_model = isinstance(value, dict) and "op" not in value and value and all(
        isinstance(section, dict | list | BaseModel) for section in value.values())
    return "per_model" if per_model else "one"


OptimizerSection = Annotated[
    Annotated[OptimizerConfig, Tag("one")]
    | Annotated[dict[Name, OptimizerConfig], Field(min_length=1), Tag("per_model")],
    Discriminator(_one_or_per_model),
]
ScheduleSection = Annotated[
    Annotated[ScheduleSpec, Tag("one")]
    | Annotated[dict[Name, ScheduleSpec], Field(min_length=1), Tag("per_model")],
    Discriminator(_one_or_per_model),
]


def reserved_name(name: str) -> bool:
    """A layer name torch cannot take: a Python keyword or an attribute of the module."""
    return keyword.iskeyword(name) or name in TORCH_MODULE_ATTRIBUTES


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DimConfig(StrictModel):
    """Bounds of a named symbolic dim, e.g. a sequence length."""

    min: int = Field(1, ge=1, description="Smallest size the dim may take.")
    max: int | None = Field(None, ge=1, description="Largest size the dim may take.")


class InputConfig(StrictModel):
    """One model input, described per sample (the batch dim is implicit and dynamic)."""

    shape: list[Annotated[int, Field(ge=1)] | Name] = Field(
        description="Per-sample shape; names (like `seq`) are symbolic dims that stay "
                    "dynamic through shape checking and in ONNX.")
    dtype: Literal["float32", "int64"] = Field(
        "float32", description="Element type: float32 features or int64 token ids.")
    dims: dict[Name, DimConfig] = Field(
        default_factory=dict, description="Bounds for the symbolic dims named in `shape`.")
    description: str = Field("", description="What this input holds.")


class BlockConfig(StrictModel):
    """A reusable, parameterized sub-graph; use it in `model` with `block: <name>`."""

    description: str = Field("", description="What the block computes.")
    params: dict[Name, Any] = Field(
        default_factory=dict,
        description="Block parameters: a default value, or a type name (int, float, bool, "
                    "str, list) for a parameter every use must give.")
    inputs: list[Name | dict[Name, Name | None]] = Field(
        default_factory=lambda: ["x"], description=(
            "Names the block's layers use for its inputs, in the order a call gives them "
            "(default: x). One written {name: default} is optional: a call may leave it out "
            "(the optional ones come last), and it then stands for its default, an earlier "
            "input of the block ({skip: x}), or for nothing ({skip: null}: a reference "
            "`skip ?? x` falls back, and `${skip}` is null)."))
    layers: list[dict[str, Any]] = Field(
        min_length=1, description="The block's layers; the last one is its output.")

    @field_validator("inputs", mode="before")
    @classmethod
    def _optional_inputs_last(cls, inputs: Any) -> Any:
        if not isinstance(inputs, list):
            return inputs  # (the type check says what it must be)
        seen: list[str] = []
        optional = False
        for item in inputs:
            if not isinstance(item, str) and not (isinstance(item, dict) and len(item) == 1):
                raise ValueError(f"an input is a name (x), or {{name: default}} for an "
                                 f"optional one, got {item!r}"[:160])
            name, default = (item, None) if isinstance(item, str) else next(iter(item.items()))
            if name in seen:
                raise ValueError(f"input '{name}' is named twice")
            optional = optional or isinstance(item, dict)
            if isinstance(item, str) and optional:
                raise ValueError(f"input '{name}' is required but follows an optional one "
                                 "(a call gives its inputs in order: list the optional ones last)")
            if default is not None and default not in seen:
                raise ValueError(f"the default of input '{name}' must be an earlier input of "
                                 f"this block ({', '.join(seen) or 'none'}), or null for none")
            seen.append(name)
        return inputs

    @property
    def input_names(self) -> list[str]:
        return [i if isinstance(i, str) else next(iter(i)) for i in self.inputs]

    @property
    def required_inputs(self) -> int:
        """How many inputs every call must give (the optional ones come after them)."""
        return sum(isinstance(i, str) for i in self.inputs)

    def input_default(self, name: str) -> str | None:
        """The default of an optional input: an earlier input's name, or None (nothing)."""
        return next(i[name] for i in self.inputs if isinstance(i, dict) and name in i)


class ModelConfig(StrictModel):
    """One of several named models in a spec (an encoder and a decoder; a generator and a
    discriminator); blocks and params are shared by all of them."""

    description: str = Field("", description="What this model computes.")
    inputs: dict[Name, InputConfig] = Field(min_length=1, description="The model's inputs.")
    layers: list[dict[str, Any]] = Field(
        min_length=1, description="The layers, in order, as under `model`.")
    outputs: list[str] | None = Field(
        None, description="Layers whose outputs the model returns (default: the last layer).")

    @field_validator("outputs", mode="before")
    @classmethod
    def _single_output(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


@dataclass(frozen=True)
class ModelSection:
    """Where one model's parts are in the document: the single `inputs`/`model`/`outputs`
    form, or one entry of `models`."""

    name: str
    inputs: dict[str, InputConfig]
    outputs: list[str] | None
    path: tuple  # () for the single form, ("models", name) otherwise

    def at(self, *keys: Any) -> tuple:
        """A document path: `at("inputs", "x")`; the single form's layers are at `model`."""
        if not self.path and keys and keys[0] == "layers":
            return ("model", *keys[1:])
        return (*self.path, *keys)


class ExportConfig(StrictModel):
    """How `dlspec export` writes and verifies ONNX."""

    opset: int = Field(20, ge=18, le=23, description="ONNX opset version.")
    tolerance: float = Field(1e-5, gt=0, description=(
        "Absolute tolerance of the ONNX Runtime check for a shallow model with outputs of "
        "order 1: each output element must be within tolerance * max(1, sqrt(depth / 4)) * "
        "max(1, output scale) + rtol * |PyTorch's value| (docs/spec.md, Export)."))
    rtol: float = Field(1.3e-6, ge=0, description=(
        "Relative tolerance of the ONNX Runtime check (torch.testing's float32 default)."))
    check_batch: int = Field(3, ge=1, description="Batch size of the ONNX Runtime check "
                                                  "(differs from the export batch of 2).")
    precision: Literal["fp32", "fp16", "int8"] = Field("fp32", description=(
        "Precision of the exported file: fp32, fp16 (float16 weights and arithmetic) or int8 "
        "(quantized). A reduced file is measured against the fp32 export on the test split "
        "and written only within max_metric_drop (docs/deploy.md, Precision)."))
    quantization: Literal["dynamic", "static"] = Field("dynamic", description=(
        "int8 only: dynamic (weights int8, activations quantized at run time) or static "
        "(activation ranges calibrated on training samples, QDQ format)."))
    calibration_samples: int = Field(256, ge=1, description=(
        "int8 static only: how many training samples calibrate the activation ranges."))
    max_metric_drop: Annotated[float, Field(ge=0)] | dict[str, Annotated[float, Field(ge=0)]] \
        = Field(0.01, description=(
            "How much worse a reduced-precision file may score than the fp32 one on the test "
            "split: a number bounds every metric but the loss (the loss only when there is no "
            "other), a mapping bounds the metrics it names, e.g. {accuracy: 0.005, loss: 0.05}."))
    float32_io: bool = Field(True, description=(
        "fp16 only: keep the file's inputs and outputs float32 (casts inside the graph); "
        "false makes them float16."))


class Spec(StrictModel):
    """A dlspec file: model, training recipe, data and export settings."""

    dlspec: Literal[1] = Field(description="Spec format version; this is version 1.")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                      description="Name of the model, used for run folders and metadata.")
    description: str = Field("", description="What the spec is for.")
    params: dict[Name, Any] = Field(
        default_factory=dict,
        description="Named constants; other values use them as ${name} (safe arithmetic).")
    inputs: dict[Name, InputConfig] | None = Field(
        None, min_length=1, description="The model's inputs.")
    blocks: dict[Name, BlockConfig] = Field(default_factory=dict,
                                            description="Reusable parameterized sub-graphs.")
    init: dict[str, LayerInit] = Field(
        default_factory=dict,
        description="Default weight initialization per op, e.g. {conv2d: {weight: "
                    "kaiming_normal}, linear: {bias: zeros}}; a layer's own `init` overrides "
                    "it. Schemes: " + ", ".join(SCHEMES) + ".")
    model: list[dict[str, Any]] | None = Field(
        None, min_length=1, description="The layers, in order. Each takes the previous "
                                        "layer's output unless it names its `inputs`.")
    outputs: list[str] | None = Field(
        None, description="Layers whose outputs the model returns (default: the last layer).")
    models: dict[Name, ModelConfig] | None = Field(
        None, min_length=1, description="Several named models instead of `inputs`/`model`/"
                                        "`outputs`, e.g. a generator and a discriminator.")
    loss: LossSpec | None = Field(
        None, description="What the supervised objective minimizes: one loss, or a list of "
                          "weighted loss terms that are summed.")
    objective: ObjectiveSpec | None = Field(
        None, description="What training optimizes (default: supervised, the model's "
        "outputs against the data's targets through `loss:`); objectives such as gan train "
        "several `models` together, each with its own optimizer.")
    optimizer: OptimizerSection | None = Field(
        None, description="The optimizer; with several trained models, one per model by "
        "name ({generator: {op: adam, ...}, discriminator: {...}}).")
    schedule: ScheduleSection | None = Field(
        None, description="Learning-rate schedule: one entry, or a warmup then one entry; "
        "with several trained models, one per model by name.")
    regularization: RegularizationConfig | None = Field(
        None, description="Gradient clipping and early stopping.")
    data: DataConfig | None = Field(None, description="The data to train and evaluate on.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training settings.")
    export: ExportConfig = Field(default_factory=ExportConfig, description="Export settings.")
    search: SearchConfig | None = Field(
        None, description="Hyperparameter search over spec values (`dlspec search`); "
                          "`dlspec train` ignores it.")

    @model_validator(mode="after")
    def _one_model_form(self) -> Spec:
        single = {k for k in ("inputs", "model") if getattr(self, k) is not None}
        if self.models is not None and (single or self.outputs is not None):
            raise ValueError("give either `models` or `inputs`/`model`/`outputs`, not both")
        if self.models is None and len(single) < 2:
            missing = " and ".join(f"`{k}`" for k in ("inputs", "model") if k not in single)
            raise ValueError(f"a spec needs {missing} (or `models`)")
        taken = [name for name in self.models or () if reserved_name(name)
                 or name in MODEL_SET_ATTRIBUTES]
        if taken:
            raise ValueError(f"a model cannot be named '{taken[0]}' (a Python keyword or a "
                             "name torch or dlspec uses for the models it trains); rename it")
        return self

    def sections(self) -> list[ModelSection]:
        """Every model of the spec, in order (one for the single form, named after the spec)."""
        if self.models is None:
            return [ModelSection(self.name, self.inputs or {}, self.outputs, ())]
        return [ModelSection(name, m.inputs, m.outputs, ("models", name))
                for name, m in self.models.items()]

    @field_validator("init", mode="before")
    @classmethod
    def _init_shorthands(cls, value: Any) -> Any:
        return expand_defaults(value)

    @field_validator("outputs", mode="before")
    @classmethod
    def _single_output(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
