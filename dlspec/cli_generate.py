"""`dlspec sample` and `dlspec generate`: samples and text from a run folder or an ONNX file.

Each checks its request torch-free first (dlspec.api_generate), so that a run that cannot
serve it, a prompt outside the vocabulary or an option the model has no use for is refused
in a fraction of a second, and nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from dlspec.cli import app, reports_errors

SourceArg = Annotated[Path, typer.Argument(
    exists=True, help="A run folder from dlspec train, or an .onnx file from dlspec export.",
    show_default=False)]
ModelOption = Annotated[str | None, typer.Option(
    help="Which model of a run's spec (default: the one that generates: a GAN's generator, "
         "the denoiser).")]
SeedOption = Annotated[int, typer.Option(help="Random seed: the same seed, the same samples.")]
DeviceOption = Annotated[str, typer.Option(help="cpu or cuda (runs only).")]


@app.command()
@reports_errors
def sample(source: SourceArg,
           output: Annotated[Path, typer.Option(
               "-o", "--output", help="Where to write: .png (a grid of images) or .npz "
                                      "(the samples, in the data's units).")],
           n: Annotated[int, typer.Option("-n", min=1, help="How many samples.")] = 64,
           seed: SeedOption = 0,
           steps: Annotated[int | None, typer.Option(
               help="Diffusion: denoising steps (fewer: faster, DDIM).")] = None,
           sampler: Annotated[Literal["ddpm", "ddim"] | None, typer.Option(
               help="Diffusion: ancestral DDPM or DDIM.")] = None,
           eta: Annotated[float | None, typer.Option(
               min=0.0, help="Diffusion, DDIM: 0 deterministic, 1 as noisy as DDPM.")] = None,
           reconstruct: Annotated[bool, typer.Option(
               help="VAE: show n test samples beside their reconstructions.")] = False,
           model: ModelOption = None, device: DeviceOption = "cpu"):
    """Draw samples from a GAN, a VAE or a diffusion model into a PNG grid or an .npz."""
    from dlspec.api_generate import request_sample

    request = request_sample(source, output, model=model, steps=steps, sampler=sampler,
                             eta=eta, reconstruct=reconstruct)
    from dlspec.api_generate import sample as draw
    from dlspec.api_generate import write_samples

    samples = draw(request, n, seed, steps=steps, sampler=sampler, eta=eta,
                   reconstruct=reconstruct, device=device)
    write_samples(samples, output)
    what = f"{n} test samples and their reconstructions" if reconstruct else \
        f"{len(samples.values)} samples"
    print(f"wrote {what} of the {samples.kind} model ({samples.origin}) to {output}")


@app.command()
@reports_errors
def generate(source: SourceArg,
             prompt: Annotated[str | None, typer.Option(
                 help="Language models: the text to continue.")] = None,
             input_: Annotated[str | None, typer.Option(
                 "--input", help="Sequence-to-sequence models: the source sequence, e.g. "
                                 "\"3 1 4 1 5\".")] = None,
             max_tokens: Annotated[int, typer.Option(
                 min=1, help="Language models: how many tokens to add.")] = 200,
             temperature: Annotated[float, typer.Option(
                 min=0.0, help="Language models: sampling temperature (0: greedy).")] = 1.0,
             top_k: Annotated[int | None, typer.Option(
                 min=1, help="Language models: sample among the k likeliest tokens.")] = None,
             top_p: Annotated[float | None, typer.Option(
                 min=0.0, max=1.0, help="Language models: sample in the smallest set of tokens of this total "
                      "probability (nucleus).")] = None,
             beam: Annotated[int, typer.Option(
                 min=1, help="Sequence-to-sequence: beam width (1: greedy).")] = 1,
             seed: SeedOption = 0,
             cache: Annotated[bool, typer.Option(
                 help="Decode with a KV cache where the model allows it.")] = True,
             model: ModelOption = None, device: DeviceOption = "cpu"):
    """Write text with a language model, or decode an input with a seq2seq model."""
    from dlspec.api_generate import request_generate
    from dlspec.generate.text import check_sampling

    check_sampling(temperature, top_k, top_p, max_tokens)
    request = request_generate(source, model=model, prompt=prompt, source_text=input_,
                               beam=beam)
    from dlspec.api_generate import generate as decode

    result = decode(request, max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                    top_p=top_p, beam=beam, seed=seed, cache=cache, device=device)
    print((prompt or "") + result.text if prompt is not None else result.text)
    print(f"decoding: {result.decoding}", file=sys.stderr)  # the text alone on stdout
