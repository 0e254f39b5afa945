"""What a user might type where a spec wants a value: plausible edits and slips, per kind of
value, for spec_mutations.py."""

from __future__ import annotations

from typing import Any, Literal, Union, get_args, get_origin

# (what an edit may plausibly set, what a slip may set)
SIZES = ([1, 2, 3, 4, 5, 8, 12, 16, "${2 * 3}"],
         [0, -1, -3, 2.5, 1.0, 0.5, "3", "three", "", None, True, False, [], [3], [2, 3], {},
          "${1 +}", "${nope}", 100_000, 10**9])
GEOMETRY = ([1, 2, 3, 5, 7, [1, 2], [3, 1], "same", "valid", 2.0, True],
            [0, -1, [0, 1], [1, 2, 3], "full", None, 40, 2.5, "2"])
DTYPES = (["float32", "int64"], ["float64", "int32", "bool", "float16", "int", "float", None,
                                  64])
REPEATS = ([1, 2, 3, "${1 + 1}", [1, 2]], [0, -1, 1.5, "2", True, None, 1000, []])
DIMS = ([1, 2, 3, 7, "seq", "n", "${2 * 2}"], [0, -1, 2.5, None, [4], "N", "", "a b"])
WEIRD = ([None, [], {}], ["", 0, [None], {"a": 1}, "null", "~"])


def pick_value(pool: tuple[list[Any], list[Any]], chooser: Any) -> Any:
    """A plausible value half the time, a slip the other half."""
    return chooser.pick(pool[chooser.index(2)])


def typo(key: str, chooser: Any) -> str:
    """`key` misspelt: a letter dropped, doubled or swapped, a case or separator changed."""
    if len(key) < 2:
        return key + key
    i = chooser.index(len(key) - 1)
    variants = [key[:i] + key[i + 1:], key[:i] + key[i] + key[i:],
                key[:i] + key[i + 1] + key[i] + key[i + 2:], key.upper(), key + "s",
                key.replace("_", "-") if "_" in key else key.capitalize(),
                key.replace("_", "") if "_" in key else key[:-1]]
    return chooser.pick(variants)


def field_values(annotation: Any) -> list[Any]:
    """Values an op attribute of this type could plausibly take."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return list(args)
    if origin is Union or (origin is not None and origin.__name__ == "UnionType"):
        return [v for a in args for v in field_values(a)]
    if args and origin is not None and origin.__name__ == "Annotated":
        return field_values(args[0])
    if annotation is bool:
        return [True, False]
    if annotation is int:
        return [1, 2, 3, -1]
    if annotation is float:
        return [0.1, 0.5, 1e-5]
    if origin in (tuple, list):
        return [[1, 2], [2, 2], [0, 2, 1], [-1], [2, -1]]
    if annotation is type(None):
        return [None]
    return []


SECTION_OPS = {
    "loss": ["mse", "mae", "huber", "smooth_l1", "bce", "bce_with_logits", "cross_entropy",
             "nll", "focal", "kl_div", "gaussian_kl", "triplet", "info_nce",
             "cosine_embedding"],
    "optimizer": ["sgd", "adagrad", "rmsprop", "adam", "adamw"],
    "schedule": ["constant", "step", "multi_step", "exponential", "cosine", "linear",
                 "one_cycle", "cyclic", "reduce_on_plateau", "linear_warmup"],
}
DATASETS = ["digits", "digits_multilabel", "iris", "wine", "breast_cancer", "diabetes", "copy",
            "reverse", "brackets", "parity", "sine", "chars"]
RECIPE_VALUES: dict[tuple[str, str], list[Any]] = {
    ("data", "task"): ["classification", "binary", "multilabel", "regression", "tagging",
                       "language_model", "ranking"],
    ("data", "split"): [[0.8, 0.2, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5], [0.9, 0.1, 0.1],
                        [0.0, 0.5, 0.5]],
    ("data", "batch_size"): [1, 2, 3, 100_000],
    ("data", "samples"): [1, 2, 10, 500],
    ("data", "length"): [2, 3, 5, 17],
    ("train", "metrics"): [["accuracy"], ["perplexity"], ["f1", "auroc"], ["mae"], ["r2"], []],
    ("train", "epochs"): [0, 1, 2],
    ("train", "accumulate"): [1, 2, 64],
    ("train", "precision"): ["bf16", "fp32", "fp8"],  # fp16 needs a GPU: not a static fact
}
