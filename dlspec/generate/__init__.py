"""Getting samples out of generative models: diffusion samplers, latent samplers (GAN
generators, VAE decoders), text and sequence-to-sequence decoding.

Every sampling loop runs over a `Network` (network.py): numpy arrays in, numpy arrays out,
so that one loop serves a trained run (torch) and an exported ONNX file (ONNX Runtime) alike.
What a model generates, and how, is its `generation` record (info.py): a JSON-able dict that a
run's spec yields and that `dlspec export` writes into the ONNX file's metadata.
"""
