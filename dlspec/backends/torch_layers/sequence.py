"""Layers over batch-first sequences (N, seq, F): recurrent layers that return the whole output
sequence or the last state, learned tables added to a sequence (positions, token types), and
additive (Bahdanau) attention.

Imports only torch, so its source can be copied into standalone Python."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# true while torch.export traces; a torch without the flag (before 2.6 or so) runs eagerly
is_exporting = getattr(torch.compiler, "is_exporting", lambda: False)


class _Recurrent:
    """Batch-first torch RNN that returns one tensor: the top layer's output at every step
    (`returns="sequence"`, (N, seq, dirs*H)) or its final state (`returns="last"`, (N, dirs*H):
    h_n of the top layer, forward direction first, then backward)."""

    def __init__(self, *args, returns: str = "sequence", **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.returns = returns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, state = self.run(x)
        if self.returns == "sequence":
            return output
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        directions = 2 if self.bidirectional else 1
        return torch.cat([h_n[i] for i in range(-directions, 0)], dim=-1)

    def run(self, x: torch.Tensor):
        return super().forward(x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, returns={self.returns}"


class RNN(_Recurrent, nn.RNN):
    """nn.RNN, batch first, returning the output sequence or the last state.

    torch's ONNX exporter turns LSTM and GRU into ONNX LSTM/GRU ops but unrolls nn.RNN, which
    fixes the sequence length; while exporting, the recurrence runs as a `while_loop` instead
    (an ONNX Loop), on the same parameters, so the length stays dynamic."""

    def run(self, x: torch.Tensor):
        if not is_exporting():
            return super().run(x)
        act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
        layer_input, finals = x.transpose(0, 1), []  # (seq, N, F)
        for layer in range(self.num_layers):
            outputs = []
            for reverse in ([False, True] if self.bidirectional else [False]):
                suffix = f"_l{layer}" + ("_reverse" if reverse else "")
                weights = [getattr(self, f"{name}{suffix}", None)
                           for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                output, final = _looped_layer(layer_input, *weights, act, reverse)
                outputs.append(output)
                finals.append(final)
            layer_input = torch.cat(outputs, dim=-1)
        return layer_input.transpose(0, 1), torch.stack(finals)


def _looped_layer(inputs, w_ih, w_hh, b_ih, b_hh, act, reverse: bool):
    """One direction of one Elman layer over (seq, N, F) as a while_loop: (outputs, final)."""
    from torch._higher_order_ops.while_loop import while_loop

    projected = F.linear(inputs, w_ih, b_ih)
    if reverse:
        projected = projected.flip(0)
    steps, batch = projected.shape[0], projected.shape[1]
    start = projected.new_zeros(batch, w_hh.shape[1])
    outputs = projected.new_zeros(steps, batch, w_hh.shape[1])

    def more(i, outputs, h):
        return i < projected.size(0)

    def step(i, outputs, h):
        t = i.item()
        torch._check(t >= 0)
        torch._check(t < projected.size(0))
        h = act(projected[t] + F.linear(h, w_hh, b_hh))
        outputs = outputs.clone()
        outputs[t] = h
        return i + 1, outputs, h

    _, outputs, final = while_loop(more, step, [torch.tensor(0), outputs, start])
    return (outputs.flip(0) if reverse else outputs), final


class LSTM(_Recurrent, nn.LSTM):
    """nn.LSTM, batch first, returning the output sequence or the last hidden state."""


class GRU(_Recurrent, nn.GRU):
    """nn.GRU, batch first, returning the output sequence or the last state."""


class LearnedPosition(nn.Embedding):
    """Adds the first seq rows of a learned (max_len, D) table: (N, seq, D) -> (N, seq, D).
    The table is an nn.Embedding's `weight` (initialized like one, N(0, 1))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight[: x.shape[1]]


class TokenTypeEmbedding(nn.Embedding):
    """Adds a learned vector per token type (BERT's segment embedding): x + table[types], or
    x + table[0] when no type ids are given (every token of type 0)."""

    def forward(self, x: torch.Tensor, token_types: torch.Tensor | None = None) -> torch.Tensor:
        if token_types is None:
            return x + self.weight[0]
        return x + super().forward(token_types)


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score(q, k_j) = v^T tanh(W_q q + W_k k_j), softmax over j, context
    = sum_j weight_j k_j. Query (N, Dq) or (N, T, Dq), keys (N, S, Dk), optional mask (N, S)
    with 1 for real keys and 0 for padding -> context (N, Dk) or (N, T, Dk)."""

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int, bias: bool = True):
        super().__init__()
        self.query = nn.Linear(query_dim, attention_dim, bias=bias)
        self.key = nn.Linear(key_dim, attention_dim, bias=bias)
        self.score = nn.Linear(attention_dim, 1, bias=bias)

    def forward(self, query: torch.Tensor, keys: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        single = query.dim() == 2
        queries = query.unsqueeze(1) if single else query  # (N, T, Dq)
        energy = torch.tanh(self.query(queries).unsqueeze(2) + self.key(keys).unsqueeze(1))
        scores = self.score(energy).squeeze(-1)  # (N, T, S)
        if mask is not None:
            padding = (mask == 0).unsqueeze(1)
            scores = scores.masked_fill(padding, torch.finfo(scores.dtype).min)
        context = torch.bmm(torch.softmax(scores, dim=-1), keys)  # (N, T, Dk)
        return context.squeeze(1) if single else context
