"""Recurrent ops against torch's own RNN classes: `returns: last` is h_n of the top layer
(forward state after the last step, then backward state after the first), `returns: sequence`
is torch's output, parameters keep torch's names, and the RNN's export-time loop computes what
the fused kernel does."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from dlspec.backends.torch_module import instantiate
from dlspec.ir.types import TensorType
from dlspec.ops.registry import op_registry

TORCH_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
FEATURES, HIDDEN = 3, 4


def _pair(name: str, returns: str, **config):
    """The op's module and a plain torch module holding the same weights."""
    op = op_registry()[name](hidden_size=HIDDEN, num_layers=2, bidirectional=True,
                             returns=returns, **config)
    module = instantiate(op.build(TensorType(("N", "seq", FEATURES)))).eval()
    reference = TORCH_CLASSES[name](FEATURES, HIDDEN, num_layers=2, bidirectional=True,
                                    batch_first=True, **config).eval()
    reference.load_state_dict(module.state_dict())  # same parameter names
    return module, reference


@pytest.mark.parametrize("name", sorted(TORCH_CLASSES))
def test_last_is_the_top_layers_h_n_forward_then_backward(name):
    module, reference = _pair(name, "last")
    x = torch.randn(2, 6, FEATURES)
    with torch.no_grad():
        last = module(x)
        output, state = reference(x)
    h_n = state[0] if name == "lstm" else state  # (layers * 2, N, H)
    torch.testing.assert_close(last, torch.cat([h_n[-2], h_n[-1]], dim=-1))
    # the forward direction ends at the last step, the backward one at the first
    torch.testing.assert_close(last[:, :HIDDEN], output[:, -1, :HIDDEN])
    torch.testing.assert_close(last[:, HIDDEN:], output[:, 0, HIDDEN:])


@pytest.mark.parametrize("name", sorted(TORCH_CLASSES))
def test_sequence_is_torchs_output(name):
    module, reference = _pair(name, "sequence")
    x = torch.randn(2, 5, FEATURES)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x)[0])
    assert module(x).shape == (2, 5, 2 * HIDDEN)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_export_loop_equals_the_fused_kernel(monkeypatch, nonlinearity, bias):
    module, _ = _pair("rnn", "sequence", nonlinearity=nonlinearity, bias=bias)
    x = torch.randn(2, 5, FEATURES)
    with torch.no_grad():
        fused, final = module.run(x)
        monkeypatch.setattr(torch.compiler, "is_exporting", lambda: True)
        looped, looped_final = module.run(x)
    torch.testing.assert_close(looped, fused)
    torch.testing.assert_close(looped_final, final)


def test_dropout_needs_stacked_layers():
    with pytest.raises(ValidationError, match="needs num_layers > 1"):
        op_registry()["lstm"](hidden_size=4, dropout=0.2)


def test_dropout_acts_between_layers_in_training_only():
    op = op_registry()["gru"](hidden_size=HIDDEN, num_layers=2, dropout=0.5)
    module = instantiate(op.build(TensorType(("N", "seq", FEATURES))))
    x = torch.randn(2, 5, FEATURES)
    assert not torch.equal(module.train()(x), module(x))
    torch.testing.assert_close(module.eval()(x), module(x))
