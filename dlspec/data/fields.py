"""Named data fields and the model inputs they feed, checked without numpy.

A dataset supplies named per-sample arrays, its fields (`DatasetInfo.fields`): a built-in
dataset its one field (`pixels` for the digits, `features` for the others), a synthetic one
`tokens` (`values` for sine), an npz file one field per array but the target (named by its
key), a CSV file its feature columns (`features`) or the column groups of `data.inputs`.

Every model input is fed from the field of its name. A model with one input is fed from the
dataset's one field whatever the two are named (so an npz file's `x` feeds it), unless the
field is a CSV column group, whose name the spec chose. A field the spec's data declares
(an npz array, a CSV column group) that no input reads is an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dlspec.data.builtin import DatasetInfo, FieldInfo
from dlspec.data.config import DataConfig
from dlspec.errors import DataError, Diagnostic, did_you_mean, one_of

Dim = int | str
DataKey = tuple[str | int, ...]  # a place in the spec, e.g. ("data", "inputs", "image")
AT_DATASET: DataKey = ("data", "dataset")


@dataclass(frozen=True)
class InputIO:
    """One model input as the data sees it, per sample; `vocabulary` is the row count of
    the smallest embedding reading it, if any."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"
    vocabulary: int | None = None


class FieldError(DataError):
    """DLS401/DLS402 diagnostics, each with the key of the `data:` section it belongs at."""

    def __init__(self, located: Sequence[tuple[DataKey, Diagnostic]]):
        super().__init__([diagnostic for _, diagnostic in located])
        self.keys: list[DataKey] = [key for key, _ in located]


def keys_of(err: DataError) -> list[DataKey]:
    """Where each diagnostic of a data error belongs (the dataset key unless it says)."""
    return getattr(err, "keys", None) or [AT_DATASET] * len(err.diagnostics)


def misfit(message: str, hint: str | None = None) -> Diagnostic:
    """A DLS402: the model and the data do not fit together."""
    return Diagnostic("DLS402", message, hint=hint)


def declared_fields(config: DataConfig, info: DatasetInfo) -> dict[str, DataKey]:
    """The fields the spec's data declares, each with where: an npz file's arrays (at
    `data.path`) and the CSV column groups (at `data.inputs.<name>`)."""
    if config.inputs is not None:
        return {name: ("data", "inputs", name) for name in config.inputs}
    if config.dataset == "npz":
        return dict.fromkeys(info.fields, ("data", "path"))
    return {}


def feeds(fields: Mapping[str, FieldInfo], inputs: Sequence[str], *,
          by_name: bool = False) -> dict[str, str]:
    """The field feeding each input that has one, by input name, in the inputs' order.

    One input and one field go together whatever their names, unless `by_name` (the field
    names were chosen in the spec); else an input is fed from the field of its name.
    """
    if len(inputs) == 1 and len(fields) == 1 and not by_name:
        return {inputs[0]: next(iter(fields))}
    return {name: name for name in inputs if name in fields}


def feed_problems(info: DatasetInfo, inputs: Sequence[InputIO], declared: Mapping[str, DataKey],
                  *, by_name: bool = False, dataset: str = "") -> list[tuple[DataKey, Diagnostic]]:
    """Inputs without a field and declared fields that feed no input (`dataset`: the
    spec's data.dataset, for the advice)."""
    names = [i.name for i in inputs]
    fed = feeds(info.fields, names, by_name=by_name)
    problems = []
    for name in names:
        if name in fed:
            continue
        unread = [f for f in info.fields if f not in fed.values()]
        close = did_you_mean(name, unread)
        hint = (f"{close} (a model input is fed from the data field of its name)" if close
                else f"name the input after a field ({one_of(info.fields)}), or "
                     f"{_add_field(info, name, dataset)}")
        where = ("data", "inputs") if by_name else AT_DATASET
        problems.append((where, misfit(
            f"the model's input '{name}' has no field in {info.name} to be fed from (its "
            f"fields: {', '.join(info.fields)})", hint=hint)))
    for field, key in declared.items():
        if field in fed.values():
            continue
        close = did_you_mean(field, [n for n in names if n not in fed])
        what = "column group" if by_name else "array"
        problems.append((key, misfit(
            f"{info.name} has the {what} '{field}', which no model input reads (the model's "
            f"inputs: {', '.join(names)})",
            hint=f"{close} (name the {what} after the input it feeds)" if close else
            f"remove the {what} '{field}', or give the model an input named '{field}'")))
    return problems


def _add_field(info: DatasetInfo, name: str, dataset: str) -> str:
    if dataset == "npz":
        return f"add an array '{name}' to {info.name}"
    if dataset == "csv":
        return f"give it columns in data.inputs ({name}: [column, ...])"
    return "use a dataset with a field for it (csv or npz)"


def input_problems(info: DatasetInfo, inputs: Sequence[InputIO],
                   dims: Mapping[str, tuple[int, int | None]], declared: Mapping[str, DataKey],
                   *, by_name: bool = False) -> list[tuple[DataKey, Diagnostic]]:
    """Every way a fed input disagrees with its field (dtype, shape, dim bounds, vocabulary),
    and symbolic dims that two fields would give two sizes."""
    fed = feeds(info.fields, [i.name for i in inputs], by_name=by_name)
    several = len(inputs) > 1
    problems, sizes = [], {}
    for model_input in inputs:
        if model_input.name not in fed:
            continue
        name = fed[model_input.name]
        field = info.fields[name]
        key = declared.get(name, AT_DATASET)
        found = _fit(info, name if several else None, field, model_input, several)
        problems += [(key, problem) for problem in found]
        if (field.tabular and model_input.dtype == "float32") or \
                len(model_input.shape) != len(field.shape):
            continue  # reshaped, or reported above
        for d, size in zip(model_input.shape, field.shape, strict=True):
            if isinstance(d, str):
                sizes.setdefault(d, []).append((size, name))
    for d, seen in sizes.items():
        (size, name), (low, high) = seen[0], dims.get(d, (1, None))
        if size < low or (high is not None and size > high):
            data = f"field '{name}' of {info.name}" if several else info.name
            problems.append((declared.get(name, AT_DATASET), misfit(
                f"the input dim '{d}' is bounded to {low}..{high or 'any'}, but the sequences "
                f"of {data} have {size} positions", hint=f"let '{d}' take {size} (inputs.*.dims)")))
        elif len({size for size, _ in seen}) > 1:
            (a, first), (b, second) = seen[0], next(s for s in seen if s[0] != seen[0][0])
            problems.append((AT_DATASET, misfit(
                f"the input dim '{d}' would be {a} (field '{first}') and {b} (field "
                f"'{second}') of {info.name} at once", hint=f"give the inputs' dims their "
                f"own names where they differ, or make the fields agree on '{d}'")))
    return problems


def _fit(info: DatasetInfo, field_name: str | None, field: FieldInfo, model_input: InputIO,
         several: bool) -> list[Diagnostic]:
    """How one input disagrees with the field feeding it; the messages name the field and
    the input when the model has several."""
    data = f"field '{field_name}' of {info.name}" if field_name else info.name
    the_input = f"the model's input '{model_input.name}'" if several else "the model's input"
    if field.tabular and model_input.dtype == "float32":
        return _tabular(data, field, model_input, the_input)
    if field.tabular and field.dtype == "float32":
        return [misfit(f"{data} has float features, but {the_input} is {model_input.dtype}",
                       hint="declare the input with dtype: float32")]
    return _shaped(data, field, model_input, the_input)


def _input_shape(the_input: str, shape: tuple[Dim, ...]) -> str:
    """'the model's input shape [..]', or 'the shape [..] of the model's input 'x''."""
    if the_input == "the model's input":
        return f"the model's input shape {list(shape)}"
    return f"the shape {list(shape)} of {the_input}"


def _tabular(data: str, field: FieldInfo, model_input: InputIO, the_input: str
             ) -> list[Diagnostic]:
    n = math.prod(field.shape)
    if not all(isinstance(d, int) for d in model_input.shape):
        return [misfit(f"{data} has {n} features per sample, but "
                       f"{_input_shape(the_input, model_input.shape)} has symbolic dims",
                       hint=f"use a fixed input shape, e.g. [{n}]")]
    per_sample = math.prod(model_input.shape)
    if per_sample == n:
        return []
    return [misfit(
        f"{_input_shape(the_input, model_input.shape)} takes {per_sample} values per "
        f"sample, but {data} has {n} features",
        hint=f"use an input shape whose sizes multiply to {n}, e.g. [{n}]")]


def _shaped(data: str, field: FieldInfo, model_input: InputIO, the_input: str
            ) -> list[Diagnostic]:
    shape = field.shape
    if model_input.dtype != field.dtype:
        what = "token ids" if field.dtype == "int64" else "float values"
        return [misfit(f"{data} holds {what} ({field.dtype}), but {the_input} is "
                       f"{model_input.dtype}", hint=f"declare the input with dtype: {field.dtype}")]
    if len(model_input.shape) != len(shape) or any(
            isinstance(d, int) and d != size
            for d, size in zip(model_input.shape, shape, strict=False)):
        second = f", {shape[1]}" if len(shape) > 1 else ""
        return [misfit(f"{_input_shape(the_input, model_input.shape)} does not fit the "
                       f"samples of {data}, of shape {list(shape)}",
                       hint=f"use shape: {list(shape)}, or name the sequence dim "
                            f"(e.g. [seq{second}])")]
    problems = []
    if field.vocab_size and model_input.vocabulary is not None and \
            model_input.vocabulary < field.vocab_size:
        read = the_input.replace("the model's input", "the input")
        problems.append(misfit(
            f"the embedding reading {read} has {model_input.vocabulary} rows, but {data} has "
            f"token ids 0..{field.vocab_size - 1}",
            hint=f"set the embedding's num_embeddings to {field.vocab_size}"))
    return problems
