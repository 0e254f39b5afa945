"""Run folders, checkpoints and exact resume."""
