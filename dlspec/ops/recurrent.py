"""Recurrent layers over batch-first sequences (N, seq, F): vanilla RNN, LSTM, GRU."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, PositiveInt, Probability, expect_float, expect_rank, known

LAYERS = "dlspec.backends.torch_layers.sequence"


class _Recurrent(Op):
    """What the three recurrent ops share (torch's arguments, always batch first)."""

    hidden_size: PositiveInt = Field(description="Features of the hidden state (per direction).")
    num_layers: PositiveInt = Field(1, description="Stacked recurrent layers.")
    bidirectional: bool = Field(
        False, description="Also run backwards; outputs concatenate forward then backward.")
    dropout: Probability = Field(
        0.0, description="Dropout on the outputs of every layer but the last (training only).")
    bias: bool = Field(True, description="Learn the input and hidden biases.")
    returns: Literal["sequence", "last"] = Field(
        "sequence", description="'sequence': the top layer's output at every step, (N, seq, "
        "hidden_size * directions); 'last': its final state, (N, hidden_size * directions), "
        "the forward direction's state after the last step then the backward one's after the "
        "first (torch's h_n).")

    gates: ClassVar[int] = 1
    module: ClassVar[str] = ""

    @model_validator(mode="after")
    def _dropout_needs_layers(self):
        if self.dropout and self.num_layers == 1:
            raise ValueError("dropout acts between stacked layers, so it needs num_layers > 1; "
                             "for dropout on the output add a dropout layer after this one")
        return self

    def infer(self, x: TensorType) -> TensorType:
        expect_rank(x, 3, "(N, seq, features)")
        expect_float(x)
        known(x.shape[2], "the input's features")
        width = self.hidden_size * self._directions()
        if self.returns == "last":
            return x.with_shape(x.shape[0], width)
        return x.with_shape(x.shape[0], x.shape[1], width)

    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def build(self, x: TensorType) -> Build:
        return Build(f"{LAYERS}.{self.module}", {
            "input_size": x.shape[2], "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "bias": self.bias, "dropout": self.dropout,
            "bidirectional": self.bidirectional, "returns": self.returns,
            **self._extra_kwargs()})

    def _extra_kwargs(self) -> dict:
        return {}

    def _layer_inputs(self, x: TensorType) -> list[int]:
        """Input features of each layer: the data, then the previous layer's output."""
        return [x.shape[2]] + [self.hidden_size * self._directions()] * (self.num_layers - 1)

    def param_shapes(self, x: TensorType) -> dict[str, tuple[int, ...]]:
        """Per layer l and direction: weight_ih_l{l}, weight_hh_l{l} (+ bias_ih, bias_hh),
        `_reverse` for the backward direction, as torch names them."""
        rows, hidden = self.gates * self.hidden_size, self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for layer, features in enumerate(self._layer_inputs(x)):
            for suffix in ("", "_reverse")[:self._directions()]:
                shapes[f"weight_ih_l{layer}{suffix}"] = (rows, features)
                shapes[f"weight_hh_l{layer}{suffix}"] = (rows, hidden)
                if self.bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (rows,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (rows,)
        return shapes

    def macs(self, x: TensorType) -> int:
        steps = x.shape[0] * x.shape[1]
        per_step = sum(self.gates * self.hidden_size * (features + self.hidden_size)
                       for features in self._layer_inputs(x))
        return steps * per_step * self._directions()


class RNN(_Recurrent):
    """Elman RNN, h_t = act(W_ih x_t + W_hh h_(t-1) + b): (N, seq, F) -> (N, seq, H*dirs) or
    (N, H*dirs)."""

    op: Literal["rnn"] = "rnn"
    nonlinearity: Literal["tanh", "relu"] = Field("tanh", description="The activation act.")
    module: ClassVar[str] = "RNN"

    def _extra_kwargs(self) -> dict:
        return {"nonlinearity": self.nonlinearity}


class LSTM(_Recurrent):
    """Long short-term memory: (N, seq, F) -> (N, seq, H*dirs) or (N, H*dirs)."""

    op: Literal["lstm"] = "lstm"
    gates: ClassVar[int] = 4
    module: ClassVar[str] = "LSTM"


class GRU(_Recurrent):
    """Gated recurrent unit: (N, seq, F) -> (N, seq, H*dirs) or (N, H*dirs)."""

    op: Literal["gru"] = "gru"
    gates: ClassVar[int] = 3
    module: ClassVar[str] = "GRU"
