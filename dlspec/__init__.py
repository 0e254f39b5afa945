"""dlspec: a compiler for declarative deep-learning specs."""

__version__ = "0.1.0"
