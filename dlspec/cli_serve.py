"""`dlspec serve`: an exported ONNX file behind an HTTP API (dlspec/serve/).

The options and the model file are checked before uvicorn starts (a bad option, an unsafe or
unreadable file, a port in use: a DLS error and exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlspec.cli import app, reports_errors


@app.command()
@reports_errors
def serve(model: Annotated[Path, typer.Argument(
              exists=True, dir_okay=False, help="An .onnx file from dlspec export.",
              show_default=False)],
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port (0: any free one).")] = 8000,
          workers: Annotated[int, typer.Option(
              help="Processes, each with its own ONNX Runtime session.")] = 1,
          max_batch: Annotated[int, typer.Option(
              help="Rows per ONNX Runtime call: concurrent requests are gathered up to "
                   "this (1: no micro-batching).")] = 64,
          max_wait_ms: Annotated[float, typer.Option(
              help="How long a batch waits for more requests, in milliseconds.")] = 5.0,
          max_body_bytes: Annotated[int, typer.Option(
              help="Largest request body; a larger one is refused (413) unread.")
          ] = 4 * 1024 * 1024,
          max_queue: Annotated[int, typer.Option(
              help="Requests that may wait for the model; more are refused (503).")] = 1024,
          threads: Annotated[int | None, typer.Option(
              help="ONNX Runtime threads per worker (default: its own choice).")] = None):
    """Serve an exported model over HTTP: POST /predict, GET /health, GET /metadata, /docs."""
    from dlspec.serve.config import ServeConfig

    config = ServeConfig(str(model), host=host, port=port, workers=workers,
                         max_batch=max_batch, max_wait_ms=max_wait_ms,
                         max_body_bytes=max_body_bytes, max_queue=max_queue,
                         threads=threads).check()
    from dlspec.serve.server import serve as run_server

    run_server(config)
