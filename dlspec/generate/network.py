"""A model as the sampling loops see it: named numpy arrays in, named numpy arrays out.

`TorchNetwork` runs a compiled module (eval mode, no gradients) on a device; `OnnxNetwork`
runs an exported file on ONNX Runtime. Both take every input by name, with the batch first,
and give every output by name, as float32 or int64 numpy arrays, so that a sampling loop is
written once and gives the same numbers on both (within the export tolerance).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np


class Network(ABC):
    """A model with named inputs and outputs, called on numpy arrays."""

    def __init__(self, inputs: Mapping[str, tuple[tuple[int | str, ...], str]],
                 outputs: tuple[str, ...], metadata: Mapping[str, str]):
        self.inputs = dict(inputs)  # name -> (one sample's shape, a str for a free dim; dtype)
        self.outputs = tuple(outputs)
        self.metadata = dict(metadata)  # the checkpoint's or the ONNX file's metadata

    @abstractmethod
    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output, by name, of the model on `feeds` (every input, by name)."""

    def output(self, feeds: Mapping[str, np.ndarray], name: str | None = None) -> np.ndarray:
        """One output (the first when `name` is None)."""
        return self(feeds)[name or self.outputs[0]]

    def _checked(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [name for name in self.inputs if name not in feeds]
        if missing:
            raise ValueError(f"no value for the input(s) {', '.join(missing)}")
        return {name: np.ascontiguousarray(feeds[name],
                                           dtype=np.int64 if dtype == "int64" else np.float32)
                for name, (_, dtype) in self.inputs.items()}


class TorchNetwork(Network):
    """A compiled torch module (its inputs positional, in `inputs` order), run in eval mode
    without gradients on `device`. `graph` is the model's IR graph when known (what decoding
    with a KV cache reads)."""

    def __init__(self, module: Any, inputs: Mapping[str, tuple[tuple[int | str, ...], str]],
                 outputs: tuple[str, ...], metadata: Mapping[str, str] | None = None,
                 device: str = "cpu", graph: Any = None):
        super().__init__(inputs, outputs, metadata or {})
        self.module = module.to(device).eval()
        self.device, self.graph = device, graph

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = [torch.from_numpy(value).to(self.device)
                for value in self._checked(feeds).values()]
        with torch.no_grad():
            result = self.module(*args)
        values = result if isinstance(result, tuple) else (result,)
        return {name: value.detach().float().cpu().numpy() if value.is_floating_point()
                else value.detach().cpu().numpy()
                for name, value in zip(self.outputs, values, strict=True)}


class OnnxNetwork(Network):
    """An exported ONNX file on ONNX Runtime (CPU), its inputs, outputs and metadata read
    from the file."""

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None):
        import json

        from dlspec.backends.onnx_runtime import open_session, read_metadata

        self.session = open_session(path, intra_op_threads=threads)
        metadata = read_metadata(path)
        declared = json.loads(metadata.get("inputs", "{}"))
        inputs = {}
        for arg in self.session.get_inputs():
            dtype = "int64" if "int64" in arg.type else "float32"
            shape = tuple(declared.get(arg.name, {}).get("shape", arg.shape)[1:])
            inputs[arg.name] = (shape, dtype)
        super().__init__(inputs, tuple(o.name for o in self.session.get_outputs()), metadata)

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(list(self.outputs), self._checked(feeds))
        return dict(zip(self.outputs, values, strict=True))
