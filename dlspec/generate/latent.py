"""Latent models: a GAN's generator or a VAE's decoder fed codes drawn from N(0, I).

Two generation records (see info.py):

- {"kind": "latent", "model", "input", "shape", "output"}: a GAN's generator, whose one
  input is the code (`latent_info`);
- {"kind": "vae", "latent_layer", "input", "output", "latent_shape"}: a single model with one
  `reparameterize` layer (`vae_info`). Its decoder, the part downstream of that layer
  (decoder_graph.py), samples from the prior; the whole model in eval mode (z = the mean)
  reconstructs.

Codes are drawn with the numpy generator passed in, never torch's, so that a run and its
exported file (`dlspec export RUN --from z` for a VAE's decoder) give the same samples.
Samples come back in model space: what the generator or decoder outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from dlspec.errors import Diagnostic, GenerateError

if TYPE_CHECKING:
    from dlspec.compiler import CheckedSpec
    from dlspec.generate.network import Network, TorchNetwork
    from dlspec.train.objectives.gan import GanConfig


def latent_info(config: GanConfig, spec: Any) -> dict[str, Any]:
    """The generation record of a GAN: its generator's one input (the code) and shape.
    `spec` is the Spec, or a CheckedSpec whose generator graph names the output when the
    spec does not declare the generator's outputs (else "output" is None: the first)."""
    checked = spec if hasattr(spec, "graphs") else None
    spec = checked.spec if checked is not None else spec
    model = spec.models[config.generator]
    ((name, declared),) = model.inputs.items()
    shape = list(declared.shape)
    if not all(isinstance(size, int) for size in shape) or declared.dtype != "float32":
        raise GenerateError(Diagnostic(
            "DLS601", f"the generator's input '{name}' is {declared.dtype} of shape {shape}: "
            f"codes from N(0, I) need a float32 input of a fixed shape",
            hint="give the generator's input a shape of numbers"))
    if model.outputs:
        output = model.outputs[0]
    elif checked is not None:
        output = checked.graphs[config.generator].outputs[0]
    else:
        output = None
    return {"kind": "latent", "model": config.generator, "input": name, "shape": shape,
            "output": output}


def vae_info(checked: CheckedSpec) -> dict[str, Any] | None:
    """The generation record of a VAE: a model of one input with exactly one
    `reparameterize` layer, whose decoder (what depends on it) runs on the code alone; else
    None."""
    from dlspec.generate.decoder_graph import downstream_graph

    graph = checked.graph
    latent = [node for node in graph.layers() if node.op_name == "reparameterize"]
    if len(latent) != 1 or len(graph.inputs) != 1:
        return None
    shape = list(latent[0].type.sample_shape)
    if not all(isinstance(size, int) for size in shape):
        return None
    try:
        decoder = downstream_graph(graph, latent[0].name)
    except GenerateError:  # a decoder that also reads the encoder's values: no prior sampling
        return None
    return {"kind": "vae", "latent_layer": latent[0].name, "input": graph.inputs[0],
            "output": decoder.outputs[0], "latent_shape": shape}


def sample_latent(network: Network, info: Mapping[str, Any], n: int,
                  rng: np.random.Generator, batch_size: int = 256) -> np.ndarray:
    """n samples (n, *sample shape) of a generator or a VAE's decoder: codes from N(0, I)
    drawn with `rng` (all at once, so `batch_size` does not change them), run in batches."""
    if n < 1:
        raise GenerateError(Diagnostic("DLS601", f"asked for {n} samples",
                                       hint="ask for 1 or more (-n 64)"))
    name, shape = _code(info)
    _expect_input(network, name, info, (
        f"export the VAE's decoder: `dlspec export RUN --from {info['latent_layer']}`, and "
        f"sample that" if info["kind"] == "vae" else "sample the generator"))
    codes = rng.standard_normal((n, *shape), dtype=np.float32)
    return _batched(network, name, codes, info.get("output"), batch_size)


def reconstruct(network: Network, info: Mapping[str, Any], images: np.ndarray,
                batch_size: int = 256) -> np.ndarray:
    """The reconstructions of `images` by a VAE (`network`: the whole model, which in eval
    mode encodes each image to the mean of q(z|x) and decodes that)."""
    if info.get("kind") != "vae":
        raise GenerateError(Diagnostic(
            "DLS601", "reconstructions need a VAE (a model with a `reparameterize` layer)",
            hint="sample from the prior instead"))
    _expect_input(network, info["input"], info, "reconstructions need the whole VAE: "
                  "export the run without --from")
    return _batched(network, info["input"], np.asarray(images), info["output"], batch_size)


def decoder_network(checked: CheckedSpec, module: Any, info: Mapping[str, Any]
                    ) -> TorchNetwork:
    """A VAE's decoder (the layers downstream of its latent layer) as a Network whose one
    input, named after that layer, takes the codes; it computes with the trained module's
    own weights (`module`: the whole model, or a wrapper of it such as load_weights gives)."""
    import torch

    from dlspec.generate.decoder_graph import downstream_graph, downstream_module
    from dlspec.generate.network import TorchNetwork

    part = downstream_graph(checked.graph, info["latent_layer"])
    part_module = downstream_module(part, module, f"{checked.model}-decoder")
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    code = part.node(part.inputs[0])
    return TorchNetwork(part_module, {code.name: (tuple(code.type.sample_shape),
                                                  code.type.dtype)},
                        tuple(part.outputs), device=str(device), graph=part)


def _code(info: Mapping[str, Any]) -> tuple[str, tuple[int, ...]]:
    """The network input fed the code, and the code's shape per sample."""
    if info.get("kind") == "latent":
        return info["input"], tuple(info["shape"])
    if info.get("kind") == "vae":
        from dlspec.generate.decoder_graph import code_input

        return code_input(info["latent_layer"]), tuple(info["latent_shape"])
    raise GenerateError(Diagnostic(
        "DLS601", f"this model does not sample from codes (its kind: "
        f"{info.get('kind', 'none')})", hint="sample a GAN's generator or a VAE"))


def _expect_input(network: Network, name: str, info: Mapping[str, Any], hint: str) -> None:
    if name not in network.inputs:
        raise GenerateError(Diagnostic(
            "DLS601", f"the network takes {', '.join(network.inputs) or 'no inputs'}, not the "
            f"'{name}' this {info.get('kind')} model is fed", hint=hint))


def _batched(network: Network, name: str, values: np.ndarray, output: str | None,
             batch_size: int) -> np.ndarray:
    parts = [network.output({name: values[start:start + batch_size]}, output)
             for start in range(0, len(values), max(1, batch_size))]
    return np.concatenate(parts, axis=0)
