"""Debugging aids: lr-find, overfit, anomaly detection, gradient norms, plots."""
