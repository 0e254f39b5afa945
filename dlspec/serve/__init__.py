"""`dlspec serve`: an exported ONNX file behind an HTTP API (FastAPI over ONNX Runtime, run
by uvicorn).

- config.py: the server's settings (`ServeConfig`), checked before anything starts;
- model.py: the served model: the session, its inputs, request rows -> feeds -> the columns
  `dlspec predict` writes (the same functions of dlspec/backends/onnx_tables.py);
- schemas.py: the JSON request and response bodies, and errors that name the field;
- batching.py: concurrent requests gathered into one ONNX Runtime call (micro-batching);
- limits.py: the body size limit, enforced before a body is parsed;
- app.py: the FastAPI application (/predict, /health, /metadata, /docs);
- server.py: binding the port and running uvicorn (one or several worker processes).
"""
