"""The gradient-norm helpers give torch's numbers with and without torch's newer functions."""

import pytest
import torch

from dlspec.train.engine import torch_compat


@pytest.fixture
def grads():
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=generator) for shape in ((3, 4), (5,), (2, 2, 2))]


@pytest.mark.parametrize("older_torch", [False, True])
def test_total_norm_is_the_norm_of_everything_as_one_vector(grads, older_torch, monkeypatch):
    if older_torch:
        monkeypatch.delattr(torch.nn.utils, "get_total_norm")
    expected = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads]))
    torch.testing.assert_close(torch_compat.total_norm(grads), expected)
    assert torch_compat.total_norm([]).item() == 0.0


@pytest.mark.parametrize("older_torch", [False, True])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clipping_with_a_measured_norm_matches_clip_grad_norm(grads, older_torch, max_norm,
                                                              monkeypatch):
    reference = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    clipped = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for params in (reference, clipped):
        for param, grad in zip(params, grads, strict=True):
            param.grad = grad.clone()
    torch.nn.utils.clip_grad_norm_(reference, max_norm)
    if older_torch:
        monkeypatch.delattr(torch.nn.utils, "clip_grads_with_norm_")
    norm = torch_compat.total_norm([p.grad for p in clipped])
    torch_compat.clip_grads_with_norm_(clipped, max_norm, norm)
    for a, b in zip(reference, clipped, strict=True):
        torch.testing.assert_close(b.grad, a.grad)
    assert (norm > max_norm) == (max_norm == 0.5)  # one case clips, the other does not
