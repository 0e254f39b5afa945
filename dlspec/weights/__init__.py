"""Weight mappings: a reference model's state dict (torchvision, timm, Hugging Face) onto a
spec's parameters. `load_mapping` and `shipped_mapping` import no torch; `map_weights` does."""

from dlspec.lazy import lazy_exports
from dlspec.weights.mapping import Rule, WeightMapping, load_mapping, shipped_mapping

__all__ = ["MappedWeights", "Rule", "WeightMapping", "load_mapping", "map_weights",
           "shipped_mapping"]
__getattr__ = lazy_exports(__name__, {"MappedWeights": "dlspec.weights.apply",
                                      "map_weights": "dlspec.weights.apply"})
