"""Mutations of a spec that look like a user's mistakes and edits, for test_generated_specs.py.

A spec is mutated as the plain tree `yaml.safe_load` gives (dicts, lists, scalars), then
dumped again; a few mutations work on the dumped text (a duplicated or dropped line, a bad
indent). Every choice goes through a `Chooser`, so the same mutations run from a seeded
`random.Random` or from a hypothesis draw (which then shrinks a failure to its simplest case).
Each mutation returns a one-line description of what it did, or None where it found nothing
to act on.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import yaml
from spec_values import (
    DATASETS,
    DIMS,
    DTYPES,
    GEOMETRY,
    RECIPE_VALUES,
    REPEATS,
    SECTION_OPS,
    SIZES,
    WEIRD,
    field_values,
    pick_value,
    typo,
)

from dlspec.ops.registry import op_registry

T = TypeVar("T")
Path = tuple[Any, ...]
FRAME_KEYS = ("op", "block", "name", "inputs", "repeat", "when", "tie", "init", "layers")


class Chooser:
    """Seeded choices (the hypothesis adapter in the test overrides `index`)."""

    def __init__(self, seed: int):
        self.random = random.Random(seed)

    def index(self, n: int) -> int:
        return self.random.randrange(n)

    def pick(self, options: Sequence[T]) -> T:
        return options[self.index(len(options))]


# --- the tree --------------------------------------------------------------------------

def walk(tree: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every node of the tree with its path, the root excepted, parents first."""
    items = tree.items() if isinstance(tree, dict) else (
        enumerate(tree) if isinstance(tree, list) else ())
    for key, value in items:
        yield (*path, key), value
        yield from walk(value, (*path, key))


def get(tree: Any, path: Path) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def put(tree: Any, path: Path, value: Any) -> None:
    get(tree, path[:-1])[path[-1]] = value


def dotted(path: Path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def layer_paths(tree: Any) -> list[Path]:
    """Every layer item (a dict in a `model` or `layers` list, blocks' and groups' included)."""
    return [path for path, value in walk(tree)
            if isinstance(value, dict) and len(path) >= 2 and isinstance(path[-1], int)
            and path[-2] in ("model", "layers")]


def layer_lists(tree: Any) -> list[Path]:
    return [path for path, value in walk(tree)
            if isinstance(value, list) and path[-1] in ("model", "layers")]


def names(tree: Any) -> list[str]:
    """Layer names, input names and the block parameter `x`: what references may name."""
    found = [get(tree, p).get("name") for p in layer_paths(tree)]
    for path, value in walk(tree):
        if path[-1] == "inputs" and isinstance(value, dict):
            found += list(value)
    return sorted({n for n in found if isinstance(n, str)}) + ["x"]


# --- the mutations ------------------------------------------------------------------------

Mutation = Callable[[Any, Chooser], "str | None"]


def _choose(tree: Any, chooser: Chooser, test: Callable[[Path, Any], bool]
            ) -> tuple[Path, Any] | None:
    found = [(p, v) for p, v in walk(tree) if test(p, v)]
    return chooser.pick(found) if found else None


def _set(tree: Any, path: Path, value: Any) -> str:
    """Set the value at `path` (a key is added where it is missing)."""
    parent = get(tree, path[:-1])
    old = parent.get(path[-1], "<absent>") if isinstance(parent, dict) else parent[path[-1]]
    parent[path[-1]] = value
    return f"{dotted(path)}: {old!r} -> {value!r}"


def change_number(tree: Any, chooser: Chooser) -> str | None:
    """A size or number edited to 0, a negative, a float, a string, a list, a huge one."""
    def numeric(path: Path, value: Any) -> bool:
        return (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.startswith("${"))
    found = _choose(tree, chooser, numeric)
    return _set(tree, found[0], pick_value(SIZES, chooser)) if found else None


def change_param(tree: Any, chooser: Chooser) -> str | None:
    """A value in `params:` changed: every layer that reads it changes too."""
    found = _choose(tree, chooser, lambda p, v: len(p) >= 2 and p[-2] == "params")
    return _set(tree, found[0], pick_value(SIZES, chooser)) if found else None


def change_geometry(tree: Any, chooser: Chooser) -> str | None:
    """A kernel size, stride, padding, dilation, group count, dim... changed, or given to a
    layer that did not state it."""
    keys = ("kernel_size", "stride", "padding", "dilation", "groups", "output_padding",
            "scale_factor", "ceil_mode", "dim", "heads", "num_groups")
    found = _choose(tree, chooser, lambda p, v: bool(p) and p[-1] in keys)
    if found is None or chooser.index(2):
        registry = op_registry()
        takes = [(p, k) for p in layer_paths(tree) for k in keys
                 if k in getattr(registry.get(str(get(tree, p).get("op"))), "model_fields", ())]
        if not takes:
            return None
        path, key = chooser.pick(takes)
        found = ((*path, key), None)
    return _set(tree, found[0], pick_value(GEOMETRY, chooser))


def change_repeat(tree: Any, chooser: Chooser) -> str | None:
    """A block's `repeat` changed (or given to a block, or, by mistake, to an op)."""
    found = _choose(tree, chooser, lambda p, v: bool(p) and p[-1] == "repeat")
    if found is None or chooser.index(2):
        blocks = [p for p in layer_paths(tree) if "block" in get(tree, p)]
        layers = blocks if blocks and chooser.index(4) else layer_paths(tree)
        if not layers:
            return None
        found = ((*chooser.pick(layers), "repeat"), None)
    return _set(tree, found[0], pick_value(REPEATS, chooser))


def change_dtype(tree: Any, chooser: Chooser) -> str | None:
    """An input's dtype changed (or given where it was left at its default)."""
    found = _choose(tree, chooser, lambda p, v: len(p) >= 2 and p[-2] == "inputs"
                    and isinstance(v, dict))
    if found is None:
        return None
    return _set(tree, (*found[0], "dtype"), pick_value(DTYPES, chooser))


def change_input_shape(tree: Any, chooser: Chooser) -> str | None:
    """An input's shape: a dim changed, added or dropped."""
    found = _choose(tree, chooser, lambda p, v: bool(p) and p[-1] == "shape"
                    and len(p) >= 3 and p[-3] == "inputs" and isinstance(v, list))
    if found is None:
        return None
    path, shape = found
    how = chooser.index(3)
    if how == 0 and shape:
        return _set(tree, (*path, chooser.index(len(shape))), pick_value(DIMS, chooser))
    new = list(shape)
    if how == 1 or not shape:
        new.insert(chooser.index(len(shape) + 1), chooser.pick([1, 3, 4, "seq"]))
    else:
        new.pop(chooser.index(len(shape)))
    return _set(tree, path, new)


def delete_key(tree: Any, chooser: Chooser) -> str | None:
    found = _choose(tree, chooser, lambda p, v: isinstance(p[-1], str))
    if found is None:
        return None
    path, value = found
    del get(tree, path[:-1])[path[-1]]
    return f"{dotted(path)} deleted (was {value!r})"


def rename_key(tree: Any, chooser: Chooser) -> str | None:
    found = _choose(tree, chooser, lambda p, v: isinstance(p[-1], str))
    if found is None:
        return None
    path, value = found
    parent, new = get(tree, path[:-1]), typo(path[-1], chooser)
    items = [(new if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
    return f"{dotted(path)} renamed to {new!r}"


def swap_op(tree: Any, chooser: Chooser) -> str | None:
    """One layer's op replaced by another (its attributes kept, or only those the new op
    takes, with small sizes for the ones it needs)."""
    found = _choose(tree, chooser, lambda p, v: bool(p) and p[-1] == "op"
                    and len(p) >= 3 and p[-3] in ("model", "layers"))
    if found is None:
        return None
    path, old = found
    registry = op_registry()
    new = chooser.pick(sorted(registry))
    layer = get(tree, path[:-1])
    layer["op"] = new
    if chooser.index(3):  # keep what fits
        fields = registry[new].model_fields
        for key in [k for k in layer if k not in fields and k not in FRAME_KEYS]:
            del layer[key]
        for key, info in fields.items():
            if info.is_required() and key not in layer:
                layer[key] = 4
    return f"{dotted(path)}: {old!r} -> {new!r} ({sorted(layer)})"


def change_reference(tree: Any, chooser: Chooser) -> str | None:
    """A reference (`inputs`, `tie`, `outputs`, a loss's `output`) pointed elsewhere."""
    keys = ("inputs", "tie", "outputs", "output", "from", "monitor", "target")
    found = _choose(tree, chooser, lambda p, v: (bool(p) and p[-1] in keys and isinstance(
        v, str | list)) or (len(p) >= 2 and p[-2] in keys and isinstance(v, str)))
    if found is None:
        layers = layer_paths(tree)
        if not layers:
            return None
        found = ((*chooser.pick(layers), "inputs"), None)
    options = [*names(tree), "nope", "x ?? y", ["x", "x"], []]
    return _set(tree, found[0], chooser.pick(options))


def drop_layer(tree: Any, chooser: Chooser) -> str | None:
    lists = [p for p in layer_lists(tree) if get(tree, p)]
    if not lists:
        return None
    path = chooser.pick(lists)
    layers = get(tree, path)
    i = chooser.index(len(layers))
    return f"{dotted(path)}.{i} dropped (was {layers.pop(i)!r})"


def duplicate_layer(tree: Any, chooser: Chooser) -> str | None:
    lists = [p for p in layer_lists(tree) if get(tree, p)]
    if not lists:
        return None
    path = chooser.pick(lists)
    layers = get(tree, path)
    i, j = chooser.index(len(layers)), chooser.index(len(layers) + 1)
    layer = copy.deepcopy(layers[i])
    if chooser.index(2) and isinstance(layer, dict) and "name" in layer:
        layer["name"] = f"{layer['name']}_copy"
    layers.insert(j, layer)
    return f"{dotted(path)}.{i} copied to position {j}: {layer!r}"


def move_layer(tree: Any, chooser: Chooser) -> str | None:
    lists = [p for p in layer_lists(tree) if len(get(tree, p)) >= 2]
    if not lists:
        return None
    path = chooser.pick(lists)
    layers = get(tree, path)
    i, j = chooser.index(len(layers)), chooser.index(len(layers))
    layers.insert(j, layers.pop(i))
    return f"{dotted(path)}: layer {i} moved to {j}"


def weird_value(tree: Any, chooser: Chooser) -> str | None:
    """Any node replaced by a null, an empty list or map, a list around a scalar..."""
    found = _choose(tree, chooser, lambda p, v: True)
    if found is None:
        return None
    path, old = found
    options = [*WEIRD[chooser.index(2)], [old], {"value": old}]
    return _set(tree, path, chooser.pick(options))


def _op_layer(op_name: str, chooser: Chooser) -> dict[str, Any]:
    """A layer of `op_name` with its required attributes and maybe one more, all plausible."""
    fields = op_registry()[op_name].model_fields
    layer: dict[str, Any] = {"op": op_name}
    optional = [k for k, f in fields.items() if not f.is_required() and k != "op"]
    wanted = [k for k, f in fields.items() if f.is_required()]
    if optional and chooser.index(2):
        wanted.append(chooser.pick(optional))
    for key in wanted:
        options = field_values(fields[key].annotation) or [2]
        layer[key] = chooser.pick(options)
    return layer


def insert_op(tree: Any, chooser: Chooser) -> str | None:
    """A layer of any op inserted (sizes small; several inputs taken from layers before)."""
    lists = layer_lists(tree)
    if not lists:
        return None
    path = chooser.pick(lists)
    layers = get(tree, path)
    op_name = chooser.pick(sorted(op_registry()))
    layer = _op_layer(op_name, chooser)
    position = chooser.index(len(layers) + 1)
    cls = op_registry()[op_name]
    if cls.min_inputs > 1 or chooser.index(4) == 0:
        before = [item["name"] for item in layers[:position]
                  if isinstance(item, dict) and isinstance(item.get("name"), str)]
        before += [n for n in names(tree) if n not in before]
        layer["inputs"] = [chooser.pick(before) for _ in range(max(cls.min_inputs, 1))]
    layers.insert(position, layer)
    return f"{dotted((*path, position))} inserted: {layer!r}"


def add_attribute(tree: Any, chooser: Chooser) -> str | None:
    """An attribute added to a layer: one its op takes, or (a slip) one of another op."""
    layers = layer_paths(tree)
    if not layers:
        return None
    path = chooser.pick(layers)
    registry = op_registry()
    own = registry.get(str(get(tree, path).get("op")))
    op = own if own is not None and chooser.index(2) else registry[chooser.pick(sorted(registry))]
    keys = [k for k in op.model_fields if k != "op"]
    if not keys:
        return None
    key = chooser.pick(keys)
    return _set(tree, (*path, key),
                chooser.pick(field_values(op.model_fields[key].annotation) or [2]))


def change_recipe(tree: Any, chooser: Chooser) -> str | None:
    """The loss, optimizer or schedule swapped for another of its kind, another dataset or
    task, an edited split, batch size or metric list, or data given to a spec that had none."""
    if "data" not in tree and chooser.index(2):
        tree["data"] = {"dataset": chooser.pick(DATASETS)}
        return f"data added: {tree['data']!r}"
    ops = [p for p, v in walk(tree) if p[-1] == "op" and p[0] in SECTION_OPS]
    how = chooser.index(3)
    if how == 0 and ops:
        path = chooser.pick(ops)
        return _set(tree, path, chooser.pick(SECTION_OPS[path[0]]))
    if how == 1 and isinstance(tree.get("data"), dict):
        return _set(tree, ("data", "dataset"), chooser.pick(DATASETS))
    path = chooser.pick(sorted(RECIPE_VALUES))
    if not isinstance(tree.get(path[0]), dict):
        tree[path[0]] = {}
    return _set(tree, path, chooser.pick(RECIPE_VALUES[path]))


TREE_MUTATIONS: dict[str, Mutation] = {
    "change_number": change_number, "change_param": change_param,
    "change_geometry": change_geometry, "change_repeat": change_repeat,
    "change_dtype": change_dtype, "change_input_shape": change_input_shape,
    "delete_key": delete_key, "rename_key": rename_key, "swap_op": swap_op,
    "change_reference": change_reference, "drop_layer": drop_layer,
    "duplicate_layer": duplicate_layer, "move_layer": move_layer,
    "weird_value": weird_value, "add_attribute": add_attribute, "insert_op": insert_op,
    "change_recipe": change_recipe,
}


def text_mutation(text: str, chooser: Chooser) -> tuple[str, str]:
    """A line of the dumped YAML duplicated (a duplicate key), dropped or re-indented."""
    lines = text.splitlines()
    i = chooser.index(len(lines))
    how = chooser.pick(["duplicate", "drop", "indent"])
    if how == "duplicate":
        lines.insert(i, lines[i])
    elif how == "drop":
        lines.pop(i)
    else:
        lines[i] = " " + lines[i]
    return "\n".join(lines) + "\n", f"line {i + 1} {how}d: {text.splitlines()[i]!r}"


def mutate(tree: Any, chooser: Chooser, count: int) -> tuple[str, list[str]]:
    """`count` mutations of a copy of `tree`; returns the YAML text and what was done."""
    tree = copy.deepcopy(tree)
    done: list[str] = []
    if "data" in tree and chooser.index(2):  # a model-only spec reaches the model sooner
        del tree["data"]
        done.append("data: deleted")
    text_edit = False
    for _ in range(count):
        name = chooser.pick([*TREE_MUTATIONS, "text"])
        if name == "text":
            text_edit = True
            continue
        what = TREE_MUTATIONS[name](tree, chooser)
        if what is not None:
            done.append(f"{name}: {what}")
    text = yaml.safe_dump(tree, sort_keys=False, default_flow_style=False, width=1000)
    if text_edit:
        text, what = text_mutation(text, chooser)
        done.append(f"text: {what}")
    return text, done
