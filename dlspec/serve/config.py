"""The prediction server's settings, checked before the model is opened or a port bound.

Worker processes (`--workers N`) are started by uvicorn from an import string, so they cannot
be handed a Python object: the settings travel to them as JSON in an environment variable
(`to_env` / `from_env`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from dlspec.errors import Diagnostic, DlspecError

ENV_KEY = "DLSPEC_SERVE_CONFIG"
MAX_ROWS_PER_BATCH = 65536


@dataclass(frozen=True)
class ServeConfig:
    """What `dlspec serve` was asked for."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 64  # rows per ONNX Runtime call; 1 turns micro-batching off
    max_wait_ms: float = 5.0  # how long a batch waits for more requests once one arrived
    max_body_bytes: int = 4 * 1024 * 1024
    max_queue: int = 1024  # requests waiting for the model; more are refused with 503
    threads: int | None = None  # ONNX Runtime intra-op threads (default: its own choice)

    def check(self) -> ServeConfig:
        """Self, or DLS520 naming the first option out of range."""
        limits = [("--port", self.port, 0, 65535), ("--workers", self.workers, 1, 64),
                  ("--max-batch", self.max_batch, 1, MAX_ROWS_PER_BATCH),
                  ("--max-wait-ms", self.max_wait_ms, 0, 10_000),
                  ("--max-body-bytes", self.max_body_bytes, 64, 1 << 31),
                  ("--max-queue", self.max_queue, 1, 1 << 20)]
        if self.threads is not None:
            limits.append(("--threads", self.threads, 1, 1024))
        for option, value, low, high in limits:
            if not low <= value <= high:
                raise DlspecError(Diagnostic(
                    "DLS520", f"{option} must be between {low} and {high}, got {value}"))
        return self

    def to_env(self) -> dict[str, str]:
        """The environment entry that hands these settings to worker processes."""
        return {ENV_KEY: json.dumps(asdict(self))}


def from_env() -> ServeConfig:
    """The settings the parent process put in the environment (see `to_env`)."""
    text = os.environ.get(ENV_KEY)
    if text is None:
        raise DlspecError(Diagnostic(
            "DLS520", f"{ENV_KEY} is not set: start the server with `dlspec serve MODEL`"))
    values = json.loads(text)
    known = {field.name for field in fields(ServeConfig)}
    return ServeConfig(**{k: v for k, v in values.items() if k in known}).check()
