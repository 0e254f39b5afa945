"""--detect-anomaly: find the op that first turns finite values into NaN or inf.

Under `detect_anomalies`, every aten op of the forward and backward passes goes through
`NonFiniteOpDetector`, which checks its outputs: the first op with finite inputs and a
NaN/inf output is named together with the layer it ran in (forward) or the autograd
function it belongs to (backward). `torch.autograd.detect_anomaly` is on as well; its
"returned nan values" errors (a NaN that came in with the data) are translated too.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from dlspec.errors import Diagnostic, TrainError

AUTOGRAD_NAN = re.compile(r"Function '(\w+)' returned nan values in its (\d+)\w* output")


class NonFiniteOpFound(Exception):
    """An op produced NaN/inf from finite inputs; `where` says in which layer or function."""

    def __init__(self, op: str, value: str, where: str):
        super().__init__(f"op {op} produced {value} from finite inputs {where}")
        self.op, self.value, self.where = op, value, where


def _non_finite(values: object) -> str | None:
    """'nan' or 'inf' when a floating tensor among `values` holds one, else None."""
    for value in tree_flatten(values)[0]:
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            if torch.isnan(value).any():
                return "nan"
            if torch.isinf(value).any():
                return "inf"
    return None


# Ops that allocate without writing: their output is whatever the memory held (NaN bits
# included) until an op such as dropout's bernoulli_ fills it.
UNINITIALIZED = frozenset({"empty", "empty_like", "empty_strided", "empty_permuted",
                           "new_empty", "new_empty_strided"})


def checks_output(func) -> bool:
    """Whether an op's output is checked for NaN/inf (not for ops that leave it unwritten)."""
    return func.overloadpacket.__name__ not in UNINITIALIZED


class NonFiniteOpDetector(TorchDispatchMode):
    """Raises NonFiniteOpFound at the first op whose output is NaN/inf while its inputs are
    finite. `layers` is the stack of model layers running now (kept by module hooks)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not checks_output(func):
            return out
        value = _non_finite(out)
        if value is not None and _non_finite((args, kwargs)) is None:
            raise NonFiniteOpFound(str(func.overloadpacket.__name__), value, self._where())
        return out

    def _where(self) -> str:
        node = torch._C._current_autograd_node()
        if node is not None:
            return f"in the backward pass ({node.name()})"
        if self.layers:
            return f"in layer '{self.layers[-1]}' (forward pass)"
        return "outside the model's layers (in the loss)"


@contextlib.contextmanager
def detect_anomalies(model: torch.nn.Module) -> Iterator[NonFiniteOpDetector]:
    """Turn on autograd's anomaly mode and track the running layer with hooks; yields the
    detector, to be entered around each forward and backward pass."""
    detector = NonFiniteOpDetector()

    def enter(name: str):
        def hook(_module, _args) -> None:
            detector.layers.append(name)
        return hook

    def leave(_module, _args, _output) -> None:
        detector.layers.pop()

    handles = []
    for name, module in model.named_modules():
        if name and not any(module.children()):
            handles.append(module.register_forward_pre_hook(enter(name)))
            handles.append(module.register_forward_hook(leave))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Anomaly Detection has been enabled")
            anomaly_mode = torch.autograd.detect_anomaly(check_nan=True)
        with anomaly_mode:
            yield detector
    finally:
        for handle in handles:
            handle.remove()


def anomaly_error(error: Exception, epoch: int, step: int,
                  data_is_finite: Callable[[], bool]) -> TrainError | None:
    """The TrainError for an anomaly found at `step`, or None when `error` is not one."""
    if isinstance(error, NonFiniteOpFound):
        message = f"{error} at epoch {epoch}, step {step}"
        hint = (f"'{error.op}' is where the first {error.value} appeared; check its inputs' "
                "range (e.g. log/sqrt of negatives, division by zero, overflow from a "
                "learning rate that is too high)")
    else:
        match = AUTOGRAD_NAN.search(str(error))
        if match is None:
            return None
        message = (f"autograd function {match[1]} returned NaN in its output {match[2]} at "
                   f"epoch {epoch}, step {step}")
        hint = ("the train data holds NaN or inf values (check the data file and "
                "data.missing)" if not data_is_finite() else
                "the NaN did not come from an op of this step: check the model's buffers "
                "and parameters (a earlier update may have broken them)")
    return TrainError(Diagnostic("DLS403", message, hint=hint))
