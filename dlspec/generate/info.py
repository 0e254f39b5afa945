"""What a model generates, and how: its `generation` record, torch-free.

A record is a JSON-able dict whose "kind" says which sampler serves the model:

- "diffusion": a denoiser trained with the diffusion objective (dlspec/generate/diffusion.py);
- "latent": a model whose one input is a code from N(0, I): a GAN's generator, a VAE's
  decoder exported on its own (dlspec/generate/latent.py);
- "vae": a model with a `reparameterize` layer, sampled through the layers after it;
- "causal_lm": a language model predicting every next token (dlspec/generate/text.py);
- "seq2seq": a model of a source and a teacher-forced target (dlspec/generate/seq2seq.py).

`generation_info` finds the record of a spec's chosen model from its objective, its data and
its layers; `dlspec export` writes it into the ONNX file's metadata (key "generation"), with
the data's scaling, so that an exported file samples as its run does.
"""

from __future__ import annotations

import json
from typing import Any

METADATA_KEY = "generation"
SAMPLED = ("diffusion", "latent", "vae")  # what `dlspec sample` draws
DECODED = ("causal_lm", "seq2seq")  # what `dlspec generate` writes


def generation_info(checked: Any) -> dict[str, Any] | None:
    """The generation record of `checked`'s chosen model, or None when it generates
    nothing (a classifier, a GAN's discriminator)."""
    from dlspec.passes.check_objective import objective_of

    info = _record(checked, objective_of(checked.spec))
    data = checked.spec.data
    if info is not None and info["kind"] in SAMPLED and data is not None and data.rescale:
        info.setdefault("range", list(data.rescale))  # the model's space has these bounds
    return info


def _record(checked: Any, config: Any) -> dict[str, Any] | None:
    spec = checked.spec
    if config.op == "diffusion":
        from dlspec.generate.diffusion import diffusion_info

        info = diffusion_info(config, spec)
        return info if info["model"] == checked.model else None
    if config.op == "gan":
        from dlspec.generate.latent import latent_info

        return latent_info(config, spec) if checked.model == config.generator else None
    if config.op != "supervised":
        return None
    from dlspec.generate.latent import vae_info
    from dlspec.generate.seq2seq import seq2seq_info
    from dlspec.generate.text import causal_lm_info

    return vae_info(checked) or seq2seq_info(checked) or causal_lm_info(checked)


def generating_model(spec: Any) -> str:
    """The model of `spec` that `dlspec sample` and `generate` use unless told: a GAN's
    generator, a diffusion objective's denoiser, else the (first) model."""
    from dlspec.passes.check_objective import objective_of

    config = objective_of(spec)
    if config.op == "gan":
        return config.generator
    name = getattr(config, "model", None)
    return name or spec.sections()[0].name


def to_metadata(info: dict[str, Any]) -> str:
    return json.dumps(info, sort_keys=False)


def from_metadata(metadata: dict[str, str]) -> dict[str, Any] | None:
    """The record an ONNX file or checkpoint carries, or None."""
    text = metadata.get(METADATA_KEY)
    return json.loads(text) if text else None
