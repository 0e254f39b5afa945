"""The FastAPI application of `dlspec serve`.

- POST /predict: JSON rows in, the columns `dlspec predict` writes out (micro-batched);
- GET /health: liveness and batching counts;
- GET /metadata: the model's spec name and hash, inputs, outputs, classes and precision;
- GET /docs: the OpenAPI page (GET /openapi.json: the schema).

The body of /predict is read by the app itself (already held to the size limit by
limits.BodyLimit) and validated by pydantic-core in one pass (schemas.parse_request), so that
every refusal names the field at fault and deep or malformed JSON is a 400, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from dlspec import __version__
from dlspec.errors import DlspecError
from dlspec.serve.batching import MicroBatcher
from dlspec.serve.config import ServeConfig, from_env
from dlspec.serve.limits import BodyLimit
from dlspec.serve.model import ServedModel
from dlspec.serve.schemas import (
    REQUEST,
    ErrorResponse,
    PredictResponse,
    RequestError,
    parse_request,
)

log = logging.getLogger("dlspec.serve")
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": what} for status, what in [
        (400, "the body is not JSON"), (413, "the body is over the size limit"),
        (422, "a field does not fit the model (the error names it)"),
        (503, "the server is busy or shutting down")]}


def create_app(config: ServeConfig, model: ServedModel | None = None) -> FastAPI:
    """The application serving `config.model` (opened here unless `model` is given)."""
    model = model or ServedModel(config.model, threads=config.threads)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher = MicroBatcher(model.run, max_batch=config.max_batch,
                               max_wait_s=config.max_wait_ms / 1000, max_queue=config.max_queue)
        batcher.start()
        app.state.batcher = batcher
        yield
        await batcher.stop()

    name = model.metadata.get("spec_name", model.path)
    app = FastAPI(title=f"dlspec serve: {name}", version=__version__, lifespan=lifespan,
                  description=f"Predictions of `{model.path}` with ONNX Runtime. POST rows "
                              "to /predict; GET /metadata says what the model takes.")
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    _add_error_handlers(app)
    _add_request_schema(app)

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS,
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {
                      "$ref": "#/components/schemas/PredictRequest"}}}}})
    async def predict(request: Request) -> JSONResponse:
        """Predict: `{"rows": [[...], ...]}` or `{"inputs": {"name": [...]}}`; returns the
        columns `dlspec predict` writes, one record per sample."""
        parsed = parse_request(await request.body())
        feeds = model.feeds(parsed)
        outputs = await request.app.state.batcher.submit(feeds)
        columns, records = model.table(outputs)
        return JSONResponse({"columns": columns, "predictions": records})

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        """`ok` while the model runner is up, with the counts of what it ran."""
        batcher: MicroBatcher = request.app.state.batcher
        if not batcher.running:
            raise RequestError(503, "the model runner has stopped", code=None)
        return {"status": "ok", "waiting": batcher.waiting, **batcher.stats.as_dict()}

    @app.get("/metadata")
    async def metadata() -> dict[str, Any]:
        """The served model: spec name and sha256, inputs, outputs, classes, precision."""
        return {**model.describe(), "model_file": model.path,
                "batching": {"max_batch": config.max_batch, "max_wait_ms": config.max_wait_ms}}

    return app


def app_from_env() -> FastAPI:
    """The application of a worker process (`--workers N`): settings from the environment."""
    return create_app(from_env())


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as `{"error": {code, field, message, hint}}`; an unexpected one is a 500
    for that request only (logged), the server goes on."""

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(DlspecError)
    async def unusable(request: Request, exc: DlspecError) -> JSONResponse:
        diagnostic = exc.diagnostics[0]  # the model's metadata or outputs cannot be read
        body = RequestError(500, diagnostic.message, code=diagnostic.code,
                            hint=diagnostic.hint).body()
        return JSONResponse(body, status_code=500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        body = RequestError(exc.status_code, str(exc.detail), code=None).body()
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("dlspec serve: %s %s failed", request.method, request.url.path)
        body = RequestError(500, f"internal error: {type(exc).__name__}: {exc}"[:500],
                            code=None).body()
        return JSONResponse(body, status_code=500)


def _add_request_schema(app: FastAPI) -> None:
    """Put PredictRequest (read by the route itself, not by FastAPI) in the OpenAPI schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            request = REQUEST.json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(request.pop("$defs", {}))
            components["PredictRequest"] = request
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
