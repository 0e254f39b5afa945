"""`${...}` expressions: safe arithmetic over named values, never arbitrary code.

A string that is exactly one `${expr}` takes the expression's value and type (`"${4 * d}"` is
the int 3072); `${...}` inside longer text is interpolated as text (`"block_${i}"`). The
evaluator walks Python's AST and accepts only an allowlist: numbers, strings, booleans, names
from the scope, + - * / // % **, comparisons, and/or/not, `a if c else b`, `a ?? b`
(the first that is not null), attribute reads on values the scope provides (`x.channels`),
indexing and slicing lists (`x.shape[1]`, `sizes[-1]`, `x.shape[1:]`), and a few pure
functions. The work is bounded (dlspec/spec/limits.py): `9 ** 9 ** 9`,
`round(1, -10**8)` and a string doubled by interpolation level after level are errors, not
hangs; a result that is an integer fits in 64 bits.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from dlspec.errors import RuleError, did_you_mean
from dlspec.ir.types import SampleShape
from dlspec.spec.limits import (
    MAX_EXPONENT,
    MAX_EXPR_LEN,
    MAX_INT_BITS,
    MAX_TEXT,
    int_in_range,
    out_of_range,
)

_WHOLE = re.compile(r"^\$\{(.*)\}$", re.S)
_PART = re.compile(r"\$\{(.*?)\}", re.S)
_COALESCE = "__dlspec_coalesce__"
_COALESCE_OR_STRING = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|\?\?""", re.S)
# `in.channels` reads the layer's own input; `in` is a Python keyword, so it is renamed
INPUT_NAME = "__input__"
_INPUT_OR_STRING = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?<![\w.])in(?=\s*\.)""", re.S)



def _round(number: Any, digits: Any = None) -> Any:
    if isinstance(digits, int) and abs(digits) > MAX_EXPONENT:  # 10 ** |digits| is computed
        raise ValueError(f"rounds to at most {MAX_EXPONENT} digits, got {digits}")
    return round(number, digits)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "round": _round, "int": int, "float": float,
    "ceil": math.ceil, "floor": math.floor, "sqrt": math.sqrt, "log2": math.log2,
}
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


class Failed:
    """Stands for a value whose `${...}` failed to evaluate; the failure was reported where
    it happened. An expression that reads it fails with DependsOnFailure, which callers do
    not report again: one mistake gives one error."""

    def __repr__(self) -> str:
        return "<failed expression>"


FAILED = Failed()


class DependsOnFailure(RuleError):
    """An expression read a value that had already failed (see Failed)."""


def contains_failed(value: Any) -> bool:
    if isinstance(value, dict):
        return any(contains_failed(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_failed(v) for v in value)
    return value is FAILED


def has_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def evaluate_text(text: str, scope: Mapping[str, Any]) -> Any:
    """Resolve every `${...}` in `text`. Raises RuleError (code DLS110/111/112)."""
    whole = _WHOLE.match(text)
    if whole and "${" not in whole.group(1):
        return _in_range(evaluate(whole.group(1), scope), whole.group(1).strip())
    unclosed = _PART.sub("", text).find("${")
    if unclosed >= 0:
        start = _PART.sub("", text)[unclosed:]
        shown = start if len(start) <= 40 else start[:37] + "..."
        raise RuleError(f"expression '{shown}' is not closed", code="DLS110",
                        hint="end it with `}`, e.g. \"${hidden}\"")
    size = 0

    def part(match: re.Match) -> str:
        nonlocal size
        value = str(evaluate(match.group(1), scope))
        size += len(match.group(0)) + len(value)  # (so many empty results are bounded too)
        if size > MAX_TEXT:
            raise RuleError(f"the `${{...}}` of this text and what they give pass "
                            f"{MAX_TEXT:_} characters",
                            code="DLS112", hint="does a param repeat another one, level "
                            "after level (\"${s}${s}\")?")
        return value

    return _PART.sub(part, text)


def _in_range(value: Any, source: str) -> Any:
    """An expression's result: its integers fit in 64 bits, like every integer of a spec."""
    if isinstance(value, list):
        for item in value:
            _in_range(item, source)
    elif isinstance(value, int) and not int_in_range(value):
        raise RuleError(f"'${{{source}}}' = {out_of_range(value)}", code="DLS112")
    return value


def evaluate(source: str, scope: Mapping[str, Any]) -> Any:
    """Evaluate one expression (the text between `${` and `}`)."""
    source = source.strip()
    if not source:
        raise RuleError("empty expression '${}'", code="DLS110")
    if len(source) > MAX_EXPR_LEN:
        raise RuleError(f"expression longer than {MAX_EXPR_LEN} characters", code="DLS110")
    renamed = _INPUT_OR_STRING.sub(lambda m: m.group(1) or INPUT_NAME, source)
    try:
        tree = ast.parse(_COALESCE_OR_STRING.sub(  # `??` outside string literals
            lambda m: m.group(1) or f" |{_COALESCE}| ", renamed), mode="eval")
    except SyntaxError as exc:
        raise RuleError(f"cannot parse '${{{source}}}': {exc.msg}", code="DLS110",
                        hint="use numbers, names, + - * / // % **, comparisons, "
                             "and/or/not, `a if cond else b`") from None
    try:
        return _Evaluator(scope).visit(tree.body)
    except RuleError as err:
        err.message = err.message.replace(INPUT_NAME, "in")
        raise
    except RecursionError:  # e.g. `- - - ... 1`, short enough but nested too deeply
        raise RuleError("expression is nested too deeply", code="DLS110") from None


class _Evaluator:
    def __init__(self, scope: Mapping[str, Any]):
        self.scope = scope

    def visit(self, node: ast.AST) -> Any:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            raise RuleError(f"'{ast.unparse(node)}' is not allowed in an expression",
                            code="DLS110", hint="expressions are arithmetic over params only")
        return method(node)

    def visit_Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return _bounded(node.value, node)
        raise RuleError(f"constant {node.value!r} is not allowed", code="DLS110")

    def visit_Name(self, node: ast.Name) -> Any:
        name = node.id
        if name in ("true", "True"):
            return True
        if name in ("false", "False"):
            return False
        if name in ("null", "None"):
            return None
        if self.scope.get(name) is FAILED:
            raise DependsOnFailure(f"'{name}' failed to evaluate", code="DLS112")
        if name not in self.scope:
            hint = did_you_mean(name, self.scope) or (
                f"known names: {', '.join(sorted(self.scope)) or 'none'}")
            raise RuleError(f"unknown name '{name}' in expression", hint=hint, code="DLS111")
        return self.scope[name]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        base = self.visit(node.value)
        if base is None:
            shown = ast.unparse(node.value)
            raise RuleError(f"'{shown}' is null: it has no field '{node.attr}'", code="DLS112",
                            hint=f"a block input that the call leaves out is null; test it "
                                 f"first: `{shown}.{node.attr} if {shown} != null else ...`")
        fields = getattr(base, "expression_fields", None)
        if fields is None or node.attr not in fields:
            known = sorted(fields) if fields else []
            raise RuleError(f"'{ast.unparse(node)}' has no field '{node.attr}'", code="DLS111",
                            hint=did_you_mean(node.attr, known) or
                            (f"fields: {', '.join(known)}" if known else None))
        return fields[node.attr]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        if _is_coalesce(node):  # `a ?? b` was parsed as `(a | COALESCE) | b`
            first = self.visit(node.left.left)
            return first if first is not None else self.visit(node.right)
        left, right = self.visit(node.left), self.visit(node.right)
        op = _BINARY.get(type(node.op))
        if op is None:
            raise RuleError(f"operator in '{ast.unparse(node)}' is not allowed", code="DLS110")
        if not (_is_number(left) and _is_number(right)) and not (
                op is operator.add and isinstance(left, str) and isinstance(right, str)):
            raise RuleError(f"'{ast.unparse(node)}' needs numbers, got "
                            f"{type(left).__name__} and {type(right).__name__}", code="DLS112")
        if op is operator.pow and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise RuleError(f"exponent {right} is too large (at most {MAX_EXPONENT})",
                            code="DLS112")
        try:
            result = op(left, right)
        except ZeroDivisionError:
            raise RuleError(f"division by zero in '{ast.unparse(node)}'", code="DLS112") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise RuleError(f"cannot compute '{ast.unparse(node)}': {exc}",
                            code="DLS112") from None
        return _bounded(result, node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        op = _UNARY.get(type(node.op))
        if op is None:
            raise RuleError(f"operator in '{ast.unparse(node)}' is not allowed", code="DLS110")
        try:
            return op(self.visit(node.operand))
        except TypeError as exc:
            raise RuleError(f"cannot compute '{ast.unparse(node)}': {exc}",
                            code="DLS112") from None

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        value = None
        for operand in node.values:
            value = self.visit(operand)
            if isinstance(node.op, ast.And) and not value:
                return value
            if isinstance(node.op, ast.Or) and value:
                return value
        return value

    def visit_Compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op_node, right_node in zip(node.ops, node.comparators, strict=True):
            op = _COMPARE.get(type(op_node))
            if op is None:
                raise RuleError(f"comparison in '{ast.unparse(node)}' is not allowed",
                                code="DLS110")
            right = self.visit(right_node)
            try:
                if not op(left, right):
                    return False
            except TypeError as exc:
                raise RuleError(f"cannot compare in '{ast.unparse(node)}': {exc}",
                                code="DLS112") from None
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Call(self, node: ast.Call) -> Any:
        if node.keywords and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            raise RuleError(f"keyword arguments are not allowed in '{ast.unparse(node)}'",
                            code="DLS110", hint="pass the arguments by position")
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = ast.unparse(node.func)
            raise RuleError(f"function '{name}' is not allowed", code="DLS110",
                            hint=did_you_mean(name, FUNCTIONS) or
                            f"functions: {', '.join(sorted(FUNCTIONS))}")
        args = [self.visit(arg) for arg in node.args]
        try:
            return _bounded(FUNCTIONS[node.func.id](*args), node)
        except (TypeError, ValueError, OverflowError) as exc:
            raise RuleError(f"cannot compute '{ast.unparse(node)}': {exc}",
                            code="DLS112") from None

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        """`a[i]`, `a[i:j:k]` on a list; a tensor's per-sample shape refuses to give a
        symbolic dim (a size known only at run time) as a number."""
        base = self.visit(node.value)
        shown = ast.unparse(node.value)
        if not isinstance(base, list):
            raise RuleError(f"'{shown}' is {_described(base)}, not a list: it has no "
                            f"items to read in '{ast.unparse(node)}'", code="DLS112")
        if isinstance(node.slice, ast.Slice):
            bounds = [None if part is None else self._index(part, node)
                      for part in (node.slice.lower, node.slice.upper, node.slice.step)]
            if bounds[2] == 0:
                raise RuleError(f"the step of '{ast.unparse(node)}' is 0", code="DLS112")
            return type(base)(base[slice(*bounds)])
        index = self._index(node.slice, node)
        per_sample = isinstance(base, SampleShape)
        if not -len(base) <= index < len(base):
            raise RuleError(
                f"'{ast.unparse(node)}': index {index} is out of range; '{shown}' is "
                f"{_listed(base)} ({len(base)} items)", code="DLS112",
                hint=f"`{shown}` leaves out the batch dim: `{shown}[0]` is dim 1 of the "
                     f"tensor, `{shown}[-1]` its last" if per_sample else
                     f"indices go from 0 to {len(base) - 1} (or -1 for the last)")
        value = base[index]
        if per_sample and isinstance(value, str):
            raise RuleError(
                f"'{ast.unparse(node)}' is the symbolic dim '{value}', whose size is known "
                "only at run time; an expression needs a number", code="DLS112",
                hint="give that dim a fixed size in the input's `shape`, or use an op that "
                     "adapts to it (adaptive pooling, reshape with -1)")
        return value

    def _index(self, node: ast.AST, whole: ast.AST) -> int:
        value = self.visit(node)
        if not isinstance(value, int) or isinstance(value, bool):
            raise RuleError(f"an index in '{ast.unparse(whole)}' must be a whole number, got "
                            f"{value!r}", code="DLS112")
        return value

    def visit_List(self, node: ast.List) -> list[Any]:
        return [self.visit(item) for item in node.elts]


def _listed(values: list) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def _described(value: Any) -> str:
    if value is None:
        return "null"
    if getattr(value, "expression_fields", None) is not None:
        return "a tensor (read its sizes with `.shape`)"
    return f"the {type(value).__name__} {value!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_coalesce(node: ast.BinOp) -> bool:
    inner = node.left
    return (isinstance(node.op, ast.BitOr) and isinstance(inner, ast.BinOp)
            and isinstance(inner.op, ast.BitOr) and isinstance(inner.right, ast.Name)
            and inner.right.id == _COALESCE)


def _bounded(value: Any, node: ast.AST) -> Any:
    too_big = (isinstance(value, int) and value.bit_length() > MAX_INT_BITS) or (
        isinstance(value, str) and len(value) > MAX_TEXT)
    if too_big:
        raise RuleError(f"'{ast.unparse(node)}' is too large", code="DLS112")
    return value
