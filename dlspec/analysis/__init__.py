"""Static analyses of a checked graph: parameter and MAC counts, memory estimates. Torch-free:
everything is computed from the op declarations and the graph's (symbolic) types."""
