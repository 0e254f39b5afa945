"""Weight initialization schemes, as the spec states them (torch-free).

Per op as a default (`init: {conv2d: {weight: kaiming_normal}}` at the top level) and per
layer (`init: {weight: {scheme: normal, std: 0.02}, bias: zeros}` on a layer); keys are globs
over the layer's parameter names (`weight`, `bias`, `weight_ih_*`). A layer's own entries
override the defaults for its op, and must match at least one of its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from dlspec.errors import Diagnostic
from dlspec.spec.diagnose import diagnose
from dlspec.spec.expressions import contains_failed
from dlspec.spec.yaml_source import Path_, SourceMap

Nonlinearity = Literal["linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu"]


class _Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Xavier(_Scheme):
    """Glorot & Bengio: variance 2 / (fan_in + fan_out), times gain squared."""

    scheme: Literal["xavier_uniform", "xavier_normal"] = Field(description="Glorot init.")
    gain: float = Field(1.0, gt=0, description="Scale factor (e.g. 5/3 before tanh).")


class Kaiming(_Scheme):
    """He et al.: variance 2 / fan for ReLU networks."""

    scheme: Literal["kaiming_uniform", "kaiming_normal"] = Field(description="He init.")
    mode: Literal["fan_in", "fan_out"] = Field(
        "fan_in", description="Preserve the variance of activations (fan_in) or of "
                              "gradients (fan_out).")
    nonlinearity: Nonlinearity = Field("relu", description="The activation that follows.")
    a: float = Field(0.0, ge=0, description="Negative slope, for leaky_relu.")


class Orthogonal(_Scheme):
    """Saxe et al.: a (semi-)orthogonal matrix, times gain."""

    scheme: Literal["orthogonal"] = Field(description="Orthogonal init.")
    gain: float = Field(1.0, gt=0, description="Scale factor.")


class Normal(_Scheme):
    """Samples from N(mean, std^2); truncated to [mean - 2 std, mean + 2 std] when asked."""

    scheme: Literal["normal", "trunc_normal"] = Field(description="Gaussian init.")
    mean: float = Field(0.0, description="Mean.")
    std: float = Field(1.0, gt=0, description="Standard deviation (e.g. 0.02 for GPT-2).")


class Uniform(_Scheme):
    """Samples from U(low, high)."""

    scheme: Literal["uniform"] = Field(description="Uniform init.")
    low: float = Field(-0.1, description="Lower bound.")
    high: float = Field(0.1, description="Upper bound.")


class Constant(_Scheme):
    """Every element the same value."""

    scheme: Literal["constant", "zeros", "ones"] = Field(description="A fixed value.")
    value: float = Field(0.0, description="The value, for `constant`.")


InitScheme = Annotated[Xavier | Kaiming | Orthogonal | Normal | Uniform | Constant,
                       Field(discriminator="scheme")]
LayerInit = dict[str, InitScheme]
_LAYER_INIT = TypeAdapter(LayerInit)


def _scheme_names() -> list[str]:
    names: list[str] = []
    for cls in (Xavier, Kaiming, Orthogonal, Normal, Uniform, Constant):
        names += list(cls.model_fields["scheme"].annotation.__args__)
    return names


SCHEMES = tuple(_scheme_names())


def _expanded(value: Any) -> Any:
    """Shorthand strings (`bias: zeros`) as mappings, so the discriminator sees `scheme`."""
    if isinstance(value, Mapping):
        return {k: {"scheme": v} if isinstance(v, str) else v for k, v in value.items()}
    return value


def layer_init(defaults: Mapping[str, Any], given: Any, source: SourceMap, path: Path_,
               problems: list[Diagnostic]) -> tuple[dict[str, Any], frozenset[str]]:
    """The layer's schemes (its op's defaults, overridden by its own) and the globs it gave."""
    if given is None or contains_failed(given):
        return dict(defaults), frozenset()
    try:
        own = _LAYER_INIT.validate_python(_expanded(given))
    except ValidationError as exc:
        problems += diagnose(exc, given, source, base=path)
        return dict(defaults), frozenset()
    return {**defaults, **own}, frozenset(own)


def expand_defaults(value: Any) -> Any:
    """The top-level `init:` section (op name -> its layers' schemes) with shorthands
    expanded; unknown op names are refused with a suggestion."""
    if not isinstance(value, Mapping):
        return value
    from dlspec.errors import suggest
    from dlspec.ops.registry import op_registry

    for op in value:
        if op not in op_registry():
            raise ValueError(f"unknown op '{op}': {suggest(str(op), op_registry())}")
    return {op: _expanded(schemes) for op, schemes in value.items()}
