"""Starting the server: check the settings and the model, bind the port, run uvicorn.

Everything that can be wrong with the command (an option out of range, a file that is not a
safe ONNX model, a port in use) is reported as a located DLS error before uvicorn starts.
With `workers > 1` uvicorn starts that many processes from an import string
(dlspec.serve.app:app_from_env); each opens its own session, and all accept on the one
socket bound here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from dlspec.errors import Diagnostic, DlspecError
from dlspec.serve.config import ServeConfig
from dlspec.serve.model import ServedModel


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port, or DLS520 naming the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it a response sent in two writes waits ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DlspecError(Diagnostic(
            "DLS520", f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port (0 picks a free one) or --host")) from None
    sock.set_inheritable(True)
    return sock


def uvicorn_config(config: ServeConfig, app: object, log_level: str = "info") -> object:
    """uvicorn's settings for `app` (an application, or an import string of its factory)."""
    import uvicorn

    return uvicorn.Config(app, host=config.host, port=config.port, workers=config.workers,
                          factory=isinstance(app, str), access_log=False, log_level=log_level,
                          timeout_graceful_shutdown=10,
                          # a worker answers the supervisor's ping only once it has imported
                          # dlspec: on a busy machine that takes longer than uvicorn's 5 s
                          timeout_worker_healthcheck=60)


def _print(line: str) -> None:
    print(line, flush=True)  # at once, also into a pipe: the line has the port


def serve(config: ServeConfig, *, announce: Callable[[str], None] = _print) -> None:
    """Run the server until it is stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    config.check()
    model = ServedModel(config.model, threads=config.threads)  # refuses a bad file first
    sock = bind(config.host, config.port)
    host, port = sock.getsockname()[:2]
    announce(f"serving {config.model} (spec {model.metadata.get('spec_name', '?')}, "
             f"{model.metadata.get('precision', 'fp32')}) on http://{_url_host(host)}:{port} "
             f"with {config.workers} worker{'s' if config.workers > 1 else ''}; "
             "docs at /docs")
    if config.workers == 1:
        from dlspec.serve.app import create_app

        uvicorn.Server(uvicorn_config(config, create_app(config, model))).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    del model  # each worker opens its own
    os.environ.update(config.to_env())
    Multiprocess(uvicorn_config(config, "dlspec.serve.app:app_from_env"),
                 sockets=[sock]).run()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
