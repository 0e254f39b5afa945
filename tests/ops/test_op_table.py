"""Every op against real torch: its shape rule must declare exactly what the module it builds
computes, its builder must make the parameters a hand formula predicts, its config must survive
the YAML round trip, and its rule must refuse what cannot work. The cases are in op_cases.py.
"""

from __future__ import annotations

import pytest
import torch
import yaml
from op_cases import (
    FLOAT_ONLY,
    SIZES,
    TABLE,
    TensorType,
    all_cases,
    all_rejects,
    concretize,
)

from dlspec.backends.torch_module import instantiate
from dlspec.errors import RuleError
from dlspec.ops.registry import op_registry

DTYPES = {torch.float32: "float32", torch.int64: "int64"}


def _param(name: str, index: int, item):
    marks: list = []
    return pytest.param(name, item, id=f"{name}-{index}", marks=marks)


CASES = [_param(name, i, case) for name, i, case in all_cases()]
REJECTS = [_param(name, i, reject) for name, i, reject in all_rejects()]


def _tensor(t: TensorType, generator: torch.Generator, int_high: int) -> torch.Tensor:
    shape = [concretize(d) for d in t.shape]
    if t.dtype == "int64":
        return torch.randint(0, int_high, shape, generator=generator)
    return torch.randn(shape, generator=generator)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("name", "case"), CASES)
def test_rule_and_builder_agree_with_torch(name, case):
    cls = op_registry()[name]
    op = cls.model_validate(case.config)
    assert cls.model_validate(op.model_dump()) == op
    assert cls.model_validate(yaml.safe_load(yaml.safe_dump(op.model_dump(mode="json")))) == op

    declared = op.infer(*case.inputs)
    module = instantiate(op.build(*case.inputs)).eval()
    generator = torch.Generator().manual_seed(0)
    tensors = [_tensor(t, generator, case.int_high) for t in case.inputs]
    with torch.no_grad():
        out = module(*tensors)

    expected = tuple(concretize(d) for d in declared.shape)
    assert tuple(out.shape) == expected, (
        f"{case.config} on {[str(t) for t in case.inputs]}: the rule declares {declared} "
        f"= {expected} at {SIZES}, torch gives {tuple(out.shape)}")
    assert DTYPES[out.dtype] == declared.dtype
    assert {name: tuple(p.shape) for name, p in module.named_parameters()} == \
        op.param_shapes(*case.inputs)
    assert sum(p.numel() for p in module.parameters()) == op.param_count(*case.inputs)
    assert sum(b.numel() for b in module.buffers()) == op.buffer_count(*case.inputs)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("name", "case"), CASES)
def test_declared_macs_match_torch_flop_counter(name, case):
    """`macs` counts what torch's FlopCounterMode counts (matmuls, convolutions, attention),
    halved: one multiply-accumulate is two flops."""
    from torch.utils.flop_counter import FlopCounterMode

    op = op_registry()[name].model_validate(case.config)
    module = instantiate(op.build(*case.inputs)).eval()
    tensors = [_tensor(t, torch.Generator().manual_seed(0), case.int_high) for t in case.inputs]
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(*tensors)
    concrete = [TensorType(tuple(concretize(d) for d in t.shape), t.dtype) for t in case.inputs]
    assert 2 * op.macs(*concrete) == counter.get_total_flops()


@pytest.mark.parametrize(("name", "reject"), REJECTS)
def test_rule_rejects_bad_input(name, reject):
    op = op_registry()[name].model_validate(reject.config)
    with pytest.raises(RuleError) as info:
        op.infer(*reject.inputs)
    assert info.value.code == reject.code, f"{reject.why}: {info.value.message}"


# --- the table itself -------------------------------------------------------------------


def test_every_registered_op_has_a_row():
    assert sorted(TABLE) == sorted(op_registry())


@pytest.mark.parametrize("name", sorted(TABLE))
def test_row_is_complete(name):
    cls = op_registry()[name]
    configs = [case.config for op, _, case in all_cases() if op == name]
    attributes = set(cls.model_fields) - {"op"}
    assert len(configs) >= (3 if attributes else 1)
    assert all(config.get("op") == name for config in configs)
    untried = attributes - {key for config in configs for key in config}
    assert not untried, f"no case of '{name}' sets {sorted(untried)}"
    row = TABLE[name]
    assert row.rejects or row.total, f"'{name}' has no input its rule must reject"


def test_cases_are_seeded():
    assert repr(all_cases()) == repr(all_cases())


@pytest.mark.parametrize(("dim", "value"), [
    (7, 7), ("N", 3), ("seq", 5), ("64*seq", 320), ("2*H*W", 198), ("seq+4", 9),
    ("(H-3)//2+1", 5), ("H-2+1", 10),
])
def test_concretize(dim, value):
    assert concretize(dim) == value


FLOAT_ONLY_REJECTS = [pytest.param(name, reject, id=f"{name}-{i}")
                      for name, i, reject in all_rejects() if reject.why == FLOAT_ONLY]


@pytest.mark.parametrize(("name", "reject"), FLOAT_ONLY_REJECTS)
def test_int64_inputs_refused_by_the_rule_really_fail_in_torch(name, reject):
    """The DLS202 refusals are not overcautious: the module built for the same shape in
    float32 fails on int64 input, or silently returns float32 where ids went in."""
    as_float = tuple(TensorType(t.shape, "float32") for t in reject.inputs)
    op = op_registry()[name].model_validate(reject.config)
    module = instantiate(op.build(*as_float)).eval()
    tensor = _tensor(reject.inputs[0], torch.Generator().manual_seed(0), 10)
    try:
        with torch.no_grad():
            out = module(tensor)
    except RuntimeError:
        return
    assert DTYPES[out.dtype] != "int64"
