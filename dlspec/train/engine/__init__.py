"""The training loop, objective-agnostic: run setup, the step runner over named batches, guards, monitors, progress and Ctrl-C."""
