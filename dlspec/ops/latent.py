"""Latent-variable ops: sampling a latent code from the distribution an encoder predicts."""

from __future__ import annotations

from typing import ClassVar, Literal

from dlspec.errors import RuleError
from dlspec.ir.types import TensorType
from dlspec.ops.base import Build, Op, expect_float


class Reparameterize(Op):
    """VAE sampling z = mean + exp(log_var / 2) * eps: [(N, *), (N, *)] -> (N, *).

    The reparameterization trick (Kingma & Welling 2013): the inputs are the mean and the
    log-variance of a diagonal Gaussian q(z|x), of one shape. While training, eps ~ N(0, I) is
    drawn with torch's global generator (`torch.randn_like`), so a seeded run draws the same
    samples, and gradients flow to both inputs (dz/dmean = 1, dz/dlog_var = exp(log_var / 2) *
    eps / 2). In eval mode the layer returns the mean, deterministically: an exported ONNX
    model computes z = mean (its log-variance input is unused). To draw new samples, feed a
    decoder codes from the prior N(0, I) instead.
    """

    op: Literal["reparameterize"] = "reparameterize"
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 2

    def infer(self, mean: TensorType, log_var: TensorType) -> TensorType:
        for x in (mean, log_var):
            expect_float(x)
        if mean.dtype != log_var.dtype:
            raise RuleError(f"mean is {mean.dtype} but log_var is {log_var.dtype}",
                            code="DLS202", hint="give both inputs one float dtype")
        if mean.rank < 2:
            raise RuleError(f"expects inputs of shape (N, *) with at least one dim per sample, "
                            f"got {mean}")
        if mean.shape != log_var.shape:
            raise RuleError(f"mean has shape {mean} but log_var has shape {log_var}; they must "
                            "be equal",
                            hint="predict both with layers of one size, e.g. two linear "
                            "layers with out_features = the latent size, from one hidden layer")
        return mean

    def build(self, mean: TensorType, log_var: TensorType) -> Build:
        return Build("dlspec.backends.torch_layers.latent.Reparameterize")
