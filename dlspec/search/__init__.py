"""Hyperparameter search over spec values: the `search:` section (space.py, check.py) and
`dlspec search`, which runs it on Optuna."""
