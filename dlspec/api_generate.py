"""Sampling and generating from a run folder or an exported ONNX file: `dlspec sample` and
`dlspec generate`. Served from `dlspec.api` too.

Each command first reads what the model generates (`request_sample`, `request_generate`:
torch-free, so that a run that cannot serve the request, a prompt with unknown characters
or an option the model has no use for is refused at once), then runs the sampling loop on
the run's torch module or on ONNX Runtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlspec.errors import Diagnostic, GenerateError
from dlspec.generate.source import Source, onnx_info, open_onnx, open_run, plan_run, refuse

SAMPLE_SUFFIXES = (".png", ".npz")


@dataclass(frozen=True)
class Request:
    """What a command will do, known before torch is imported."""

    path: Path
    command: str
    info: dict[str, Any]
    plan: Any = None  # a run's Plan (None for an ONNX file)
    ids: tuple[int, ...] = ()  # the encoded prompt or source

    def open(self, device: str = "cpu") -> Source:
        """The network to sample from: the run's module on `device`, or the ONNX file."""
        if self.plan is not None:
            return open_run(self.plan, device)
        return open_onnx(self.path, self.command)


@dataclass(frozen=True)
class Samples:
    """Samples in the data's units, with how to draw them as images."""

    values: np.ndarray  # (n, *sample shape); reconstructions: originals and reconstructions
    kind: str
    origin: str
    value_range: tuple[float, float] | None
    image_shape: tuple[int, ...] | None


def _info_of(path: Path, command: str, model: str | None) -> tuple[dict[str, Any], Any]:
    if Path(path).is_dir():
        plan = plan_run(Path(path), command, model)
        return plan.info, plan
    if model is not None:
        raise refuse(f"--model picks a model of a run's spec; {path} is one exported model",
                     hint="leave --model out")
    info = onnx_info(Path(path), command)
    return info, None


def request_sample(path: Path, output: Path, *, model: str | None = None,
                   steps: int | None = None, sampler: str | None = None,
                   eta: float | None = None, reconstruct: bool = False) -> Request:
    """Check a `dlspec sample` request torch-free (GenerateError naming the fix)."""
    if Path(output).suffix.lower() not in SAMPLE_SUFFIXES:
        raise GenerateError(Diagnostic(
            "DLS601", f"cannot write samples to '{output}': its suffix is neither .png (a "
                      "grid of images) nor .npz (the arrays)",
            hint=f"write to {Path(output).with_suffix('.png')} or "
                 f"{Path(output).with_suffix('.npz')}"))
    if steps is not None and steps < 1:
        raise GenerateError(Diagnostic("DLS601", f"--steps {steps}: a sampler needs at least "
                                                 "one step", hint="pass --steps 1 or more "
                                                                  "(e.g. --steps 50)"))
    info, plan = _info_of(path, "sample", model)
    kind = info["kind"]
    diffusion_only = [name for name, value in (("--steps", steps), ("--sampler", sampler),
                                               ("--eta", eta)) if value is not None]
    if diffusion_only and kind != "diffusion":
        raise refuse(f"{', '.join(diffusion_only)} set(s) a diffusion sampler, but {path} "
                     f"holds a {kind} model, sampled in one forward pass",
                     hint=f"leave {', '.join(diffusion_only)} out")
    if reconstruct and (kind != "vae" or plan is None):
        raise refuse(f"--reconstruct shows a VAE's reconstructions of its run's test samples; "
                     f"{path} is {'an exported file' if plan is None else f'a {kind} model'}",
                     hint="pass the run folder of a VAE, or leave --reconstruct out")
    if kind == "vae" and plan is None and not info.get("decoder"):
        raise refuse(f"{path} is a whole VAE (image -> reconstruction): sampling from the "
                     "prior needs its decoder",
                     hint="export the decoder alone with `dlspec export RUN_DIR --from "
                          f"{info.get('latent_layer', 'z')} -o decoder.onnx` and sample that")
    return Request(Path(path), "sample", info, plan)


def sample(request: Request, n: int = 64, seed: int = 0, *, steps: int | None = None,
           sampler: str | None = None, eta: float | None = None, reconstruct: bool = False,
           device: str = "cpu") -> Samples:
    """Draw `n` samples (with `reconstruct`: `n` test samples and their reconstructions)."""
    source = request.open(device)
    rng = np.random.default_rng(seed)
    kind, info = source.info["kind"], source.info
    if reconstruct:
        from dlspec.api import load_data
        from dlspec.generate.latent import reconstruct as rebuild

        images = load_data(request.plan.checked).test.inputs[info["input"]][:n]
        rebuilt = rebuild(source.whole, info, images).reshape(images.shape)
        pairs = np.stack((images, rebuilt), axis=1).reshape(-1, *images.shape[1:])
        values = source.to_data(pairs)
    elif kind == "diffusion":
        from dlspec.generate.diffusion import sample_diffusion

        options = {k: v for k, v in (("sampler", sampler), ("steps", steps), ("eta", eta))
                   if v is not None}
        values = source.to_data(sample_diffusion(source.network, info, n, rng, **options))
    else:
        from dlspec.generate.latent import sample_latent

        values = source.to_data(sample_latent(source.network, info, n, rng))
    return Samples(values, kind, source.origin, source.value_range(), image_shape(values))


def image_shape(values: np.ndarray) -> tuple[int, ...] | None:
    """How one sample is drawn: (C, H, W) as it is, a flat square number of values as one
    grey square, else None."""
    shape = values.shape[1:]
    if len(shape) == 3 and shape[0] in (1, 3):
        return tuple(shape)
    if len(shape) == 2:
        return (1, *shape)
    side = math.isqrt(int(np.prod(shape)))
    return (1, side, side) if len(shape) == 1 and side * side == shape[0] else None


def write_samples(samples: Samples, output: Path) -> None:
    from dlspec.generate.grid import write_samples as write

    write(samples.values, Path(output), samples.image_shape, samples.value_range)


@dataclass(frozen=True)
class Generated:
    text: str  # what was generated (without the prompt)
    tokens: int
    origin: str
    decoding: str  # how: with the KV cache, or by full recompute (and why)


def request_generate(path: Path, *, model: str | None = None, prompt: str | None = None,
                     source_text: str | None = None, beam: int = 1) -> Request:
    """Check a `dlspec generate` request torch-free: the model decodes, the options fit
    its kind, the prompt or input fits its vocabulary (GenerateError naming the fix)."""
    info, plan = _info_of(path, "generate", model)
    if info["kind"] == "causal_lm":
        if source_text is not None or beam != 1:
            raise refuse(f"{path} is a language model: it continues a --prompt"
                         + (", with sampling, not beam search" if beam != 1 else ""),
                         hint="pass --prompt TEXT and leave --input and --beam out")
        if not prompt:
            raise GenerateError(Diagnostic("DLS602", "a language model continues a prompt: "
                                           "no --prompt was given (or it is empty)",
                                           hint='pass --prompt "Once upon a time"'))
        from dlspec.generate.text import encode_prompt

        return Request(Path(path), "generate", info, plan, tuple(encode_prompt(info, prompt)))
    if prompt is not None or not source_text:
        raise GenerateError(Diagnostic(
            "DLS602", f"{path} is a sequence-to-sequence model: it decodes an --input "
                      "sequence" + (", not a --prompt" if prompt is not None else ""),
            hint='pass --input "3 1 4 1 5" (token ids or symbols of its vocabulary)'))
    from dlspec.generate.seq2seq import encode_source

    return Request(Path(path), "generate", info, plan, tuple(encode_source(info, source_text)))


def generate(request: Request, *, max_tokens: int = 200, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, beam: int = 1,
             seed: int = 0, cache: bool = True, device: str = "cpu") -> Generated:
    """Continue the prompt (a language model) or decode the input (seq2seq)."""
    source = request.open(device)
    info = source.info
    if info["kind"] == "causal_lm":
        from dlspec.generate.text import decode_ids, generate_tokens

        ids = generate_tokens(source.network, info, list(request.ids), max_tokens,
                              np.random.default_rng(seed), temperature=temperature,
                              top_k=top_k, top_p=top_p, cache=cache)
        return Generated(decode_ids(info, ids), len(ids), source.origin, str(ids.decoding))
    from dlspec.generate.seq2seq import decode_target, translate

    translations = translate(source.network, info, [list(request.ids)], beam=beam,
                             cache=cache)
    ids = translations[0]
    return Generated(decode_target(info, ids), len(ids), source.origin,
                     str(translations.decoding))
