"""Where samples come from: a run folder (its spec, best weights and data scaling) or an
exported ONNX file (its generation record and scaling in the metadata).

`plan_run` is torch-free: it reads a run's spec and says what its model generates (or why it
generates nothing) before anything heavy is imported. `open_run` and `open_onnx` then build the
`Network` the sampling loops run, and the map from the model's space (where the network
works, e.g. pixels rescaled to [-1, 1]) back to the data's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, GenerateError
from dlspec.generate.info import DECODED, SAMPLED, from_metadata, generating_model, generation_info
from dlspec.generate.network import Network
from dlspec.generate.text_tokens import METADATA_KEY as TOKENIZER_KEY
from dlspec.generate.text_tokens import with_tokenizer

WHAT = {"sample": ("GAN generators, VAEs and diffusion denoisers", SAMPLED),
        "generate": ("language models and sequence-to-sequence models", DECODED)}
OTHER = {"sample": "generate", "generate": "sample"}


@dataclass
class Plan:
    """A run's spec narrowed to the model that generates, and its generation record."""

    checked: Any
    info: dict[str, Any]
    run_dir: Path


@dataclass
class Source:
    """A network to sample from, its generation record, and the data's scaling."""

    network: Network
    info: dict[str, Any]
    scale: tuple[np.ndarray, np.ndarray] | None  # (mean, std): data = model * std + mean
    origin: str  # "run <dir>" or "<file>.onnx", for messages
    whole: Network | None = None  # a VAE's whole model (image -> reconstruction), from a run

    def to_data(self, samples: np.ndarray) -> np.ndarray:
        """Samples in the model's space mapped back to the data's units."""
        if self.scale is None:
            return samples
        mean, std = self.scale
        return samples * std.reshape(samples.shape[1:]) + mean.reshape(samples.shape[1:])

    def value_range(self) -> tuple[float, float] | None:
        """The data's range, in the data's units, when the model's space has fixed bounds."""
        bounds = self.info.get("range")
        if bounds is None or self.scale is None:
            return None if bounds is None else (float(bounds[0]), float(bounds[1]))
        mean, std = (float(np.mean(a)) for a in self.scale)
        return bounds[0] * std + mean, bounds[1] * std + mean


def refuse(message: str, hint: str) -> GenerateError:
    return GenerateError(Diagnostic("DLS601", message, hint=hint))


def plan_run(run_dir: Path, command: str, model: str | None = None) -> Plan:
    """The model of the run in `run_dir` that `command` ("sample" or "generate") uses, with
    its generation record; GenerateError when it cannot (torch-free)."""
    from dlspec.passes.lower import check_model_names
    from dlspec.train.run_folder.run_dir import RunFiles
    from dlspec.train.run_folder.run_spec import load_run_spec

    checked = load_run_spec(Path(run_dir))
    spec = checked.spec
    if model is not None:
        check_model_names(checked.loaded, [model])
    checked = replace(checked, model=model or generating_model(spec))
    info = generation_info(checked)
    what = f"the run {run_dir} (model '{checked.model}' of {spec.name})"
    check_kind(info, command, what)
    tokenizer = RunFiles(Path(run_dir)).tokenizer  # text data: how the model reads text
    info = with_tokenizer(info, tokenizer.read_text(encoding="utf-8")
                          if tokenizer.is_file() else None, what)
    return Plan(checked, info, Path(run_dir))


def check_kind(info: dict[str, Any] | None, command: str, what: str) -> None:
    """GenerateError unless `info` is a kind that `command` serves."""
    serves, kinds = WHAT[command]
    if info is not None and info["kind"] in kinds:
        return
    if info is None:
        raise refuse(f"{what} does not generate: `dlspec {command}` works on {serves}",
                     hint="pass the run folder of a generative model; `dlspec predict` runs "
                          "an exported model on inputs")
    other = OTHER[command]
    raise refuse(f"{what} is a {info['kind'].replace('_', ' ')} model: `dlspec {command}` "
                 f"works on {serves}", hint=f"use `dlspec {other}` for it")


def onnx_info(path: Path, command: str, metadata: dict[str, str] | None = None
              ) -> dict[str, Any]:
    """The generation record of an ONNX file (from its `metadata` when already read),
    checked to serve `command`."""
    if metadata is None:
        from dlspec.backends.onnx_runtime import read_metadata

        metadata = read_metadata(path)
    info = from_metadata(metadata)
    if info is not None:  # text data: the tokenizer is the file's metadata too
        info = with_tokenizer(info, metadata.get(TOKENIZER_KEY), str(path))
    if info is None:
        raise refuse(f"{path} holds no generation record, so dlspec cannot tell how to "
                     "sample from it",
                     hint="export it with `dlspec export RUN_DIR -o FILE.onnx` from the run "
                          "of a generative model")
    check_kind(info, command, str(path))
    return info


def open_onnx(path: Path, command: str) -> Source:
    from dlspec.generate.network import OnnxNetwork

    network = OnnxNetwork(path)
    info = onnx_info(path, command, network.metadata)
    scale = info.get("scale")
    return Source(network, info, None if scale is None else
                  (np.asarray(scale["mean"], np.float32), np.asarray(scale["std"], np.float32)),
                  str(path))


def open_run(plan: Plan, device: str = "cpu") -> Source:
    from dlspec.api import compile_module
    from dlspec.generate.network import TorchNetwork
    from dlspec.train.engine.model_set import one_model
    from dlspec.train.run_folder.checkpoint import apply_checkpoint
    from dlspec.train.scoring.evaluate import choose_weights

    checked, info = plan.checked, plan.info
    chosen = choose_weights(plan.run_dir)  # best, else last, saying so
    checkpoint = chosen.checkpoint
    if checked.spec.models is not None:
        checkpoint = one_model(checkpoint, checked.model)
    module = compile_module(checked)
    apply_checkpoint(module, checkpoint)
    graph = checked.graph
    inputs = {name: (graph.node(name).type.sample_shape, graph.node(name).type.dtype)
              for name in graph.inputs}
    network = TorchNetwork(module, inputs, tuple(graph.outputs), checkpoint.metadata, device,
                           graph)
    whole = None
    if info["kind"] == "vae":
        from dlspec.generate.latent import decoder_network

        whole, network = network, decoder_network(checked, module, info)
    weights = f"{chosen.path.name}, epoch {chosen.epoch}" if chosen.epoch else chosen.path.name
    origin = f"run {plan.run_dir}, {weights}"
    if chosen.warning:
        origin += f"; warning: {chosen.warning}"
    return Source(network, info, run_scale(checkpoint.extras, info), origin, whole)


def run_scale(extras: dict[str, Any], info: dict[str, Any]
              ) -> tuple[np.ndarray, np.ndarray] | None:
    """The data scaling a run trained with, for the samples' input: (mean, std)."""
    sample = info.get("sample") or info.get("input")
    for prefix in ("preprocess", f"preprocess.{sample}"):
        mean, std = extras.get(f"{prefix}.mean"), extras.get(f"{prefix}.std")
        if mean is not None and std is not None:
            return mean.numpy().astype(np.float32), std.numpy().astype(np.float32)
    return None


def scale_record(scale: tuple[np.ndarray, np.ndarray] | None) -> dict[str, list] | None:
    """The scaling as the ONNX metadata's generation record keeps it."""
    if scale is None:
        return None
    return {"mean": scale[0].tolist(), "std": scale[1].tolist()}
