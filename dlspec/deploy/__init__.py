"""Deployment: reduced-precision exports and their accuracy cost, and benchmarks."""
