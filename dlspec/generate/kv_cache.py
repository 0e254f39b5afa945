"""Incremental decoding of a compiled dlspec model with a key/value cache (torch only).

A sequence is generated one token at a time; recomputing the whole model on the whole
sequence at every step costs O(T^2) layer calls. Decoding here reads the model's IR graph
(the compiled module's submodules are named after its layers) and splits it in two:

- layers that do not depend on the generated input (the `step input`: a language model's
  tokens, a seq2seq model's decoder input) are computed ONCE, when decoding starts: a seq2seq
  encoder, the source's padding mask;
- layers that depend on it run on the NEW position(s) only, in the graph's order:
  * per-position layers (embedding, linear, activations, dropout, layer/RMS norm over the
    features, add/multiply/concat of generated tensors, padding masks) as they are;
  * position encodings (learned, sinusoidal, rotary) and positions (arange) offset by the
    length decoded so far;
  * causal self-attention (multihead_attention, the transformer blocks,
    scaled_dot_product_attention) keeps each layer's keys and values and attends from the
    new queries to all of them; cross-attention (the decoder block's, or a multihead or
    additive attention whose memory does not depend on the generated input) projects the
    memory once and keeps it.

Any other layer on the generated path mixes along the sequence with no cached form (an RNN,
a convolution over time, pooling, a reshape, bidirectional self-attention): such a model is
decoded by full recompute, and `cache_blocker` says which layer and why. Every cached tensor
has the batch first, so beam search reorders the cache with `reorder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dlspec.backends.torch_layers.attention import fused_attention
from dlspec.ir.graph import Graph, Node
from dlspec.ops.activations import _Elementwise  # the shape-preserving, per-element ops
from dlspec.ops.base import normalize_dim

# Layers that act on each position of (N, T, ...) on its own.
PER_POSITION = frozenset({"embedding", "linear", "padding_mask", "identity"})
MERGES = frozenset({"add", "subtract", "multiply", "concat"})
POSITIONS = frozenset({"learned_position", "sinusoidal_position", "rotary_position", "arange"})
NORMS = frozenset({"layernorm", "rmsnorm"})


def dynamic_nodes(graph: Graph, step_input: str) -> set[str]:
    """The step input and every layer that depends on it."""
    import networkx

    return {step_input, *networkx.descendants(graph.nx, step_input)}


def _is_mask(graph: Graph, name: str) -> bool:
    return graph.node(name).type.dtype == "int64"


def _blocker(graph: Graph, node: Node, dynamic: set[str]) -> str | None:
    """Why `node` (on the generated path) has no cached form, or None when it has one."""
    op, name = node.op, node.op_name
    moving = [source in dynamic for source in node.inputs]
    rank = node.type.rank
    if name in PER_POSITION or name in NORMS or isinstance(op, _Elementwise):
        if name in NORMS and op.dims > rank - 2:
            return "normalizes over the sequence"
        if hasattr(op, "dim") and normalize_dim(op.dim, rank) == 1 or \
                getattr(op, "per_channel", False):
            return "acts along the sequence (its dim 1)"
        return None
    if name in MERGES:
        if not all(moving):
            return "combines the generated sequence with a tensor that does not depend on it"
        if name == "concat" and normalize_dim(op.dim, rank) == 1:
            return "joins along the sequence"
        return None
    if name == "token_type_embedding":
        return None if len(node.inputs) == 1 else "reads token types along the sequence"
    if name == "arange" and op.dim not in (1, 1 - graph.node(node.inputs[0]).type.rank):
        return "counts positions along another dim than the sequence"
    if name in POSITIONS:
        return "runs on (N, heads, seq, d)" if rank == 4 else None
    if name in ("multihead_attention", "transformer_encoder_block",
                "transformer_decoder_block", "scaled_dot_product_attention"):
        return _attention_blocker(graph, node, dynamic)
    if name == "additive_attention":
        return None if moving == [True] + [False] * (len(moving) - 1) else \
            "attends over keys that depend on the generated sequence"
    return "mixes along the sequence (or reshapes it) and has no cached form"


def _attention_blocker(graph: Graph, node: Node, dynamic: set[str]) -> str | None:
    op, name = node.op, node.op_name
    sdpa = name == "scaled_dot_product_attention"
    if any(not _is_mask(graph, s) and (sdpa or graph.node(s).type.rank == 4)
           for s in node.inputs[3 if sdpa else 1:]):
        return "adds an attention bias, which has no cached form"
    floats = [s for s in node.inputs if not _is_mask(graph, s)]
    masks = [s for s in node.inputs if _is_mask(graph, s)]
    if name == "scaled_dot_product_attention":
        if node.type.rank != 3:
            return "runs on (N, heads, seq, d)"
        q, k, v = floats
        if k not in dynamic and v not in dynamic:  # attends to a fixed memory
            return None if (op.window is None and not op.causal
                            and not any(m in dynamic for m in masks)) else \
                "masks a fixed memory by position"
        if not (q in dynamic and k in dynamic and v in dynamic):
            return "mixes generated and fixed queries, keys and values"
        self_keys, memory = True, None
    else:
        self_keys = True
        memory = floats[1] if len(floats) > 1 else None
        if name == "multihead_attention" and memory is not None:  # cross-attention only
            self_keys = False
    if memory is not None and memory in dynamic:
        return "attends over a memory that depends on the generated sequence"
    if self_keys and not op.causal:
        return "attends both ways along the sequence (not causal): every step changes " \
               "the earlier positions"
    if not self_keys and floats[0] not in dynamic:
        return "attends from queries that do not depend on the generated sequence"
    # a mask hides keys: of the memory (fixed) when there is one, else of the sequence
    if any((m in dynamic) != (memory is None) for m in masks):
        return "masks its keys with a mask that does not follow them"
    return None


def cache_blocker(graph: Graph, step_input: str, output: str) -> str | None:
    """None when the model decodes with a cache along `step_input`; else why not, naming the
    first layer on the generated path without a cached form."""
    if step_input not in graph.inputs:
        return f"the model has no input '{step_input}'"
    dynamic = dynamic_nodes(graph, step_input)
    if output not in dynamic:
        return f"the output '{output}' does not depend on the input '{step_input}'"
    for node in graph.layers():
        if node.name in dynamic:
            reason = _blocker(graph, node, dynamic)
            if reason is not None:
                return f"layer '{node.name}' ({node.op_name}) {reason}"
    return None


@dataclass
class _Keys:
    """One attention's cache: keys and values (N, heads, S, d), their padding mask."""

    k: torch.Tensor | None = None
    v: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def extend(self, k, v, mask=None):
        self.k = k if self.k is None else torch.cat((self.k, k), dim=-2)
        self.v = v if self.v is None else torch.cat((self.v, v), dim=-2)
        if mask is not None:
            self.mask = mask if self.mask is None else torch.cat((self.mask, mask), dim=1)
        return self.k, self.v, self.mask


@dataclass
class IncrementalDecoder:
    """Runs `module` (compiled from `graph`) along `step_input`, a few positions per call,
    keeping what earlier calls computed. `start` takes every other input (and the first
    positions); `feed` the next positions; both return `output` at the new positions."""

    module: Any
    graph: Graph
    step_input: str
    output: str
    length: int = 0  # positions decoded so far
    _static: dict[str, torch.Tensor] = field(default_factory=dict)
    _state: dict[str, dict[str, _Keys]] = field(default_factory=dict)

    def __post_init__(self):
        reason = cache_blocker(self.graph, self.step_input, self.output)
        if reason is not None:
            raise ValueError(f"no cached decoding: {reason}")
        self._dynamic = dynamic_nodes(self.graph, self.step_input)
        self._order = self.graph.layers()
        self._layers = {node.name: self.module.get_submodule(node.name)
                        for node in self._order}
        # the generated path, in order; dropout (an identity in eval mode) left out
        self._path = [node for node in self._order if node.name in self._dynamic
                      and not _is_identity(self._layers[node.name])]
        self._skip = {node.name: node.inputs[0] for node in self._order
                      if node.name in self._dynamic and _is_identity(self._layers[node.name])}

    @torch.no_grad()
    def start(self, feeds: dict[str, torch.Tensor]) -> torch.Tensor:
        """Forgets any earlier decoding, computes the layers that do not depend on the step
        input from `feeds`, then runs `feeds[step_input]` (N, t) as the first positions."""
        self.length, self._state = 0, {}
        self._static = {name: value for name, value in feeds.items()
                        if name != self.step_input}
        for node in self._order:
            if node.name not in self._dynamic:
                self._static[node.name] = self._layer(node)(
                    *(self._static[s] for s in node.inputs))
        return self.feed(feeds[self.step_input])

    @torch.no_grad()
    def feed(self, ids: torch.Tensor) -> torch.Tensor:
        """The output at the next positions, given the step input's values there (N, t)."""
        values = {self.step_input: ids}
        for node in self._path:
            args = [self._value(s, values) for s in node.inputs]
            values[node.name] = self._step(node, args)
        self.length += ids.shape[1]
        return self._value(self.output, values)

    def _value(self, name: str, values: dict[str, torch.Tensor]) -> torch.Tensor:
        while name in self._skip:
            name = self._skip[name]
        return values[name] if name in values else self._static[name]

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows `index` (beam search: each beam's parent), in that order."""
        self._static = {k: v.index_select(0, index) for k, v in self._static.items()}
        for states in self._state.values():
            for keys in states.values():
                for name in ("k", "v", "mask"):
                    value = getattr(keys, name)
                    if value is not None:
                        setattr(keys, name, value.index_select(0, index))

    def _layer(self, node: Node):
        return self._layers[node.name]

    def _keys(self, node: Node, part: str) -> _Keys:
        return self._state.setdefault(node.name, {}).setdefault(part, _Keys())

    def _step(self, node: Node, args: list[torch.Tensor]) -> torch.Tensor:
        layer, name = self._layer(node), node.op_name
        if name in POSITIONS:
            return at_offset(layer, args[0], self.length)
        if name == "multihead_attention":
            return self._multihead(node, layer, args)
        if name == "transformer_encoder_block":
            x, mask = args[0], (args[1] if len(args) > 1 else None)
            x = layer.residual(x, 1, lambda h: self._self_attend(node, layer.self_attn, h, mask))
            return layer.residual(x, 2, layer.feed_forward)
        if name == "transformer_decoder_block":
            x, memory, mask = args[0], args[1], (args[2] if len(args) > 2 else None)
            x = layer.residual(x, 1, lambda h: self._self_attend(node, layer.self_attn, h))
            x = layer.residual(x, 2, lambda h: self._cross_attend(
                node, layer.multihead_attn, h, memory, mask))
            return layer.residual(x, 3, layer.feed_forward)
        if name == "scaled_dot_product_attention" and node.inputs[1] in self._dynamic:
            q, k, v, *mask = args
            keys, values, mask = self._keys(node, "qkv").extend(k, v, *mask[:1])
            return attend(q, keys, values, self.length, layer.causal, layer.window, mask,
                          layer.scale)
        return layer(*args)  # per position, or attending to a fixed memory

    def _multihead(self, node: Node, layer, args) -> torch.Tensor:
        floats = [a for a in args if a.is_floating_point()]
        mask = args[-1] if not args[-1].is_floating_point() else None
        if layer.cross:
            return self._cross_attend(node, layer, floats[0], floats[1], mask)
        return self._self_attend(node, layer, floats[0], mask)

    def _self_attend(self, node: Node, layer, x, mask=None) -> torch.Tensor:
        q, k, v = layer.project_heads(x, x)
        if layer.rotary:
            q = at_offset(lambda t: rotate_heads(t, layer.rotary_base), q, self.length, dim=2)
            k = at_offset(lambda t: rotate_heads(t, layer.rotary_base), k, self.length, dim=2)
        k, v, mask = self._keys(node, "self").extend(k, v, mask)
        out = attend(q, k, v, self.length, layer.causal, layer.window, mask, layer.scale)
        return layer.out_proj(out.transpose(1, 2).flatten(2))

    def _cross_attend(self, node: Node, layer, x, memory, mask=None) -> torch.Tensor:
        cached = self._keys(node, "cross")
        if cached.k is None:  # the memory's keys and values, projected once
            _, k, v = layer.project_heads(x[:, :0], memory)
            cached.extend(k, v, mask)
        q = layer.project_heads(x, x[:, :0])[0]
        out = attend(q, cached.k, cached.v, 0, False, None, cached.mask, layer.scale)
        return layer.out_proj(out.transpose(1, 2).flatten(2))


def _is_identity(layer) -> bool:
    """Dropout in eval mode."""
    return isinstance(layer, torch.nn.modules.dropout._DropoutNd) and not layer.training


def rotate_heads(x: torch.Tensor, base: float) -> torch.Tensor:
    from dlspec.backends.torch_layers.attention import rotate

    return rotate(x, base)


def at_offset(layer, x: torch.Tensor, offset: int, dim: int = 1) -> torch.Tensor:
    """A position-wise layer whose output depends on the absolute position (a position
    encoding), applied to `x` as positions offset.. of a longer sequence: run on `x` after
    `offset` zero positions, and keep x's positions (exact: each position is computed on
    its own)."""
    if offset == 0:
        return layer(x)
    shape = list(x.shape)
    shape[dim] = offset
    padded = torch.cat((x.new_zeros(shape), x), dim=dim)
    return layer(padded).narrow(dim, offset, x.shape[dim])


def attend(q, k, v, offset: int, causal: bool, window: int | None, mask=None, scale=None):
    """Attention of queries at positions offset.. (q: (..., t, d)) on keys at positions
    0..S-1, with the masks of `fused_attention` (causal, window, padding (N, S))."""
    if mask is None and window is None and q.shape[-2] == 1:
        causal = False  # a single newest query sees every key
    return fused_attention(q, k, v, mask, causal, window, scale, offset=offset)
