"""The next-token scores of a model, one step at a time, for the decoding loops (text.py,
seq2seq.py): from the KV cache (kv_cache.py) where the model has one, else by running the
whole sequence again (any Network, an ONNX file included). Both give the same numbers
(within float rounding); `Decoding` says which one runs, and why not the cache.

Rows are a batch (several sources, or the beams of a beam search): `reorder` keeps rows by
index, so a beam search continues each beam from its parent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlspec.generate.network import Network, TorchNetwork

KV_CACHE = "KV cache"
FULL_RECOMPUTE = "full recompute"


@dataclass(frozen=True)
class Decoding:
    """How a model is decoded: with the KV cache, or by full recompute (and why)."""

    cached: bool
    reason: str = ""  # why not cached

    def __str__(self) -> str:
        return KV_CACHE if self.cached else f"{FULL_RECOMPUTE} ({self.reason})"


def decoding_of(network: Network, step_input: str, output: str, cache: bool = True
                ) -> Decoding:
    """Whether `network` decodes along `step_input` with a KV cache, and why not."""
    if not cache:
        return Decoding(False, "the cache is turned off")
    if not isinstance(network, TorchNetwork):
        return Decoding(False, "an ONNX file runs as a whole")
    if network.graph is None:
        return Decoding(False, "the model's IR graph is not known")
    from dlspec.generate.kv_cache import cache_blocker

    reason = cache_blocker(network.graph, step_input, output)
    if reason is None and not _named_after_graph(network):
        reason = "the module's layers are not named after the spec's"
    return Decoding(reason is None, reason or "")


def _named_after_graph(network: TorchNetwork) -> bool:
    names = {name for name, _ in network.module.named_modules()}
    return all(node.name in names for node in network.graph.layers())


class Stepper(ABC):
    """Runs a model along its step input: `start` with the other inputs and the first
    positions, then `feed` one token per row; each returns the output's scores at the last
    position, (rows, classes), float32."""

    def __init__(self, step_input: str, output: str, context: int | None, decoding: Decoding):
        self.step_input, self.output, self.context = step_input, output, context
        self.decoding = decoding
        self.static: dict[str, np.ndarray] = {}
        self.ids = np.zeros((0, 0), np.int64)  # every row's sequence so far

    def start(self, static: Mapping[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
        self.static = {k: np.asarray(v) for k, v in static.items()}
        self.ids = np.asarray(ids, np.int64)
        return self._restart()

    def feed(self, tokens: np.ndarray) -> np.ndarray:
        self.ids = np.concatenate((self.ids, np.asarray(tokens, np.int64)[:, None]), axis=1)
        if self.context is not None and self.ids.shape[1] > self.context:
            return self._restart()  # every position moves: start again on the window
        return self._next(self.ids[:, -1:])

    def reorder(self, index: np.ndarray) -> None:
        self.static = {k: v[index] for k, v in self.static.items()}
        self.ids = self.ids[index]

    def window(self) -> np.ndarray:
        """The positions the model sees: the last `context` (a model of learned positions
        cannot see more), or all of them."""
        return self.ids if self.context is None else self.ids[:, -self.context:]

    @abstractmethod
    def _restart(self) -> np.ndarray:
        """The scores after running the whole window afresh."""

    @abstractmethod
    def _next(self, ids: np.ndarray) -> np.ndarray:
        """The scores after the newest position `ids` (rows, 1)."""


class Recompute(Stepper):
    """Runs the whole window through the Network at every step."""

    def __init__(self, network: Network, step_input: str, output: str,
                 context: int | None, decoding: Decoding):
        super().__init__(step_input, output, context, decoding)
        self.network = network

    def _restart(self) -> np.ndarray:
        out = self.network.output({**self.static, self.step_input: self.window()}, self.output)
        return out[:, -1]

    def _next(self, ids: np.ndarray) -> np.ndarray:
        return self._restart()


class Cached(Stepper):
    """Runs only the newest position, on the cached keys and values (kv_cache.py)."""

    def __init__(self, network: TorchNetwork, step_input: str, output: str,
                 context: int | None):
        super().__init__(step_input, output, context, Decoding(True))
        from dlspec.generate.kv_cache import IncrementalDecoder

        self.network = network
        self.decoder = IncrementalDecoder(network.module, network.graph, step_input, output)

    def _tensor(self, value: np.ndarray):
        import torch

        dtype = np.int64 if value.dtype.kind in "iub" else np.float32
        return torch.from_numpy(np.ascontiguousarray(value, dtype)).to(self.network.device)

    def _restart(self) -> np.ndarray:
        feeds = {k: self._tensor(v) for k, v in self.static.items()}
        out = self.decoder.start({**feeds, self.step_input: self._tensor(self.window())})
        return out[:, -1].float().cpu().numpy()

    def _next(self, ids: np.ndarray) -> np.ndarray:
        return self.decoder.feed(self._tensor(ids))[:, -1].float().cpu().numpy()

    def reorder(self, index: np.ndarray) -> None:
        import torch

        super().reorder(index)
        self.decoder.reorder(torch.as_tensor(index, device=self.network.device))


def open_stepper(network: Network, step_input: str, output: str, *,
                 context: int | None = None, cache: bool = True) -> Stepper:
    """A Stepper over `network`: cached when `cache` and the model allows it."""
    decoding = decoding_of(network, step_input, output, cache)
    if decoding.cached:
        return Cached(network, step_input, output, context)  # type: ignore[arg-type]
    return Recompute(network, step_input, output, context, decoding)
