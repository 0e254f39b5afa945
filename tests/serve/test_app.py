"""The real server (uvicorn on a loopback port) over HTTP: predictions equal `dlspec predict`,
concurrent requests are micro-batched and all answered right, bad requests get a 4xx that
names the field, and the server goes on answering."""

from __future__ import annotations

import asyncio
import csv
import json
import socket

import httpx
import numpy as np
import onnx
import pytest
from cli_run import run_cli
from serve_harness import CLASSES, classifier, running, two_inputs

from dlspec.serve.config import ServeConfig
from dlspec.serve.model import ServedModel

LIMIT = 100_000


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return classifier(tmp_path_factory.mktemp("serve") / "linear.onnx")


@pytest.fixture(scope="module")
def url(model_file):
    config = ServeConfig(str(model_file), max_batch=32, max_wait_ms=20, max_body_bytes=LIMIT)
    with running(config) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    with httpx.Client(base_url=url, timeout=30) as session:
        yield session


def _rows(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=3.0, size=(n, 64))


def _good(client: httpx.Client) -> None:
    response = client.post("/predict", json={"rows": _rows(2).tolist()})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2


def test_predictions_equal_dlspec_predict(client, model_file, tmp_path, monkeypatch, capsys):
    rows = _rows(23)
    samples = tmp_path / "samples.csv"
    with open(samples, "w", newline="") as handle:
        csv.writer(handle).writerows([repr(float(v)) for v in row] for row in rows)
    code, _, err = run_cli(monkeypatch, capsys, "predict", str(model_file), "--input",
                           str(samples), "-o", str(tmp_path / "p.csv"))
    assert code == 0, err
    with open(tmp_path / "p.csv", newline="") as handle:
        header, *written = list(csv.reader(handle))

    response = client.post("/predict", json={"rows": rows.tolist()})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == header == ["prediction", *(f"p_{c}" for c in CLASSES)]
    served = [[record[column] for column in header] for record in body["predictions"]]
    assert [row[0] for row in served] == [row[0] for row in written]
    assert len({row[0] for row in written}) > 3  # several classes, not one answer for all
    np.testing.assert_array_equal(np.array([row[1:] for row in served], dtype=float),
                                  np.array([row[1:] for row in written], dtype=float))


def test_200_concurrent_requests_are_batched_and_all_match(client, url, model_file):
    pool = _rows(200, seed=2)
    sizes = [1 + i % 3 for i in range(200)]
    starts = np.cumsum([0, *sizes])[:-1] % 190
    served = ServedModel(model_file)
    expected = served.table(served.run({"pixels": pool.astype(np.float32)}))[1]
    before = client.get("/health").json()

    async def load() -> list[httpx.Response]:
        gate = asyncio.Semaphore(32)  # bounded: 32 requests in flight at most
        async with httpx.AsyncClient(base_url=url, timeout=60) as session:
            async def one(start: int, size: int) -> httpx.Response:
                async with gate:
                    rows = pool[start:start + size].tolist()
                    return await session.post("/predict", json={"rows": rows})
            return await asyncio.gather(*(one(s, n) for s, n in zip(starts, sizes, strict=True)))

    responses = asyncio.run(load())

    assert [r.status_code for r in responses] == [200] * 200
    for response, start, size in zip(responses, starts, sizes, strict=True):
        got = response.json()["predictions"]
        want = expected[start:start + size]
        assert [g["prediction"] for g in got] == [w["prediction"] for w in want]
        np.testing.assert_allclose([[g[f"p_{c}"] for c in CLASSES] for g in got],
                                   [[w[f"p_{c}"] for c in CLASSES] for w in want], atol=1e-6)
    after = client.get("/health").json()
    requests = after["requests"] - before["requests"]
    batches = after["batches"] - before["batches"]
    assert requests == 200 and after["rows"] - before["rows"] == sum(sizes)
    assert batches < 200  # gathered: fewer ONNX Runtime calls than requests
    assert after["largest_batch_rows"] <= 32


def _nested(depth: int) -> bytes:
    return b'{"rows": ' + b"[" * depth + b"]" * depth + b"}"


def _row(values: str, width: int = 64) -> bytes:
    cells = [values] + ["0.5"] * (width - 1)
    return ('{"rows": [[' + ", ".join(cells) + "]]}").encode()


BAD = [  # body, status, field, words the message must have
    (_row("0.5", 63), 422, "rows", ["63 values", "[64]"]),
    (b'{"rows": [' + _row("1")[10:-2] + b", [1, 2]]}", 422, "rows[1]",
     ["2 values where rows[0] has 64"]),
    (_row("NaN"), 422, "rows[0][0]", ["finite"]),
    (_row("-Infinity"), 422, "rows[0][0]", ["finite"]),
    (_row("-1e39"), 422, "rows", ["rows[0][0]: -1e+39 overflows float32 (becomes -inf)"]),
    (_row('"1.5"'), 422, "rows[0][0]", ["must be a number", "'1.5'"]),
    (_row("true"), 422, "rows[0][0]", ["must be a number"]),
    (_row("null"), 422, "rows[0][0]", ["must be a number"]),
    (b'{"rows": [[1, 2, ', 400, "body", ["not valid JSON", "line 1"]),
    (b"", 400, "body", ["no body"]),
    (_nested(5000), 400, "body", ["recursion limit"]),
    (b'{"rows": []}', 422, "rows", ["empty"]),
    (b'{"rows": [1, 2]}', 422, "rows[0]", ["must be a list"]),
    (b"[1, 2]", 422, "body", ["JSON object"]),
    (b'{"rowz": [[1]]}', 422, "rowz", ["not a field"]),
    (b'{"rows": [[1]], "inputs": {}}', 422, "body", ["exactly one"]),
    (b'{"inputs": {"image": [[1]]}}', 422, "inputs.image", ["no input 'image'", "pixels"]),
    (b'{"inputs": {"pixels": [[1, 2], [3]]}}', 422, "inputs.pixels", ["ragged"]),
]


@pytest.mark.parametrize(("body", "status", "field", "words"), BAD,
                         ids=[f"{i}-{case[2]}" for i, case in enumerate(BAD)])
def test_a_bad_request_gets_a_4xx_naming_the_field_and_the_next_one_works(
        client, body, status, field, words):
    response = client.post("/predict", content=body,
                           headers={"content-type": "application/json"})

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    for word in words:
        assert word in error["message"] + (error["hint"] or ""), error
    _good(client)


def test_the_wrong_width_names_the_shape_it_expects(client):
    error = client.post("/predict", content=_row("1", 10)).json()["error"]
    assert error["code"] == "DLS504"
    assert error["message"] == "rows: rows of 10 values do not fit the model's sample shape [64]"
    assert error["hint"] == "each row needs 64 values"


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    declared = client.post("/predict", content=b"[" * (LIMIT + 1))
    assert declared.status_code == 413
    assert declared.json()["error"]["message"] == (
        f"the body has {LIMIT + 1} bytes; this server takes at most {LIMIT} bytes")
    _good(client)


def test_a_streamed_body_is_cut_off_at_the_limit(url, client):
    """A chunked body (no Content-Length) that passes the limit is refused while it is still
    being sent: the answer comes although the body never ended."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json"
                    b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(LIMIT // 8192 + 2):
            raw.sendall(b"2000\r\n" + b" " * 8192 + b"\r\n")  # and never the last chunk
        answer = b""
        while b"}}" not in answer:
            piece = raw.recv(65536)
            assert piece, answer
            answer += piece
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert f"more than {LIMIT} bytes".encode() in answer
    _good(client)


def test_metadata_health_and_docs(client):
    metadata = client.get("/metadata").json()
    assert metadata["spec_name"] == "linear-digits"
    assert metadata["spec_sha256"] == "ab" * 32
    assert metadata["classes"] == CLASSES
    assert metadata["precision"] == "fp32"  # no `precision` in the file's metadata
    assert metadata["inputs"] == [{"name": "pixels", "shape": ["N", 64],
                                   "type": "tensor(float)"}]
    assert metadata["outputs"][0]["name"] == "logits"
    assert metadata["batching"] == {"max_batch": 32, "max_wait_ms": 20}
    assert client.get("/health").json()["status"] == "ok"
    assert "swagger" in client.get("/docs").text.lower()
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PredictRequest"}
    assert set(schema["components"]["schemas"]["PredictRequest"]["properties"]) == {
        "rows", "inputs"}
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Not Found"


def test_metadata_reports_the_precision_the_file_records(tmp_path):
    described = ServedModel(classifier(tmp_path / "q.onnx", precision="int8")).describe()
    assert described["precision"] == "int8"


def test_named_inputs_feed_a_model_with_two_inputs(tmp_path):
    image = np.arange(12, dtype=float).reshape(2, 2, 3)
    shift = [[10.0], [-1.0]]
    config = ServeConfig(str(two_inputs(tmp_path / "two.onnx")))
    with running(config) as url, httpx.Client(base_url=url, timeout=30) as client:
        nested = client.post("/predict", json={"inputs": {"image": image.tolist(),
                                                          "shift": shift}})
        flat = client.post("/predict", json={"inputs": {"image": image.reshape(2, 6).tolist(),
                                                        "shift": shift}})
        rows = client.post("/predict", json={"rows": [[1.0] * 6]})
        missing = client.post("/predict", json={"inputs": {"image": image.tolist()}})
        uneven = client.post("/predict", json={"inputs": {"image": image.tolist(),
                                                          "shift": [[1.0]]}})
        after = client.post("/predict", json={"inputs": {"image": image[:1].tolist(),
                                                         "shift": [[0.0]]}})

    assert nested.status_code == 200, nested.text
    assert nested.json()["columns"] == [f"y{i}" for i in range(6)]
    values = [[record[f"y{i}"] for i in range(6)] for record in nested.json()["predictions"]]
    assert values == (image.reshape(2, 6) + np.array(shift)).tolist()
    assert flat.json() == nested.json()
    assert rows.status_code == 422 and rows.json()["error"]["field"] == "rows"
    assert "2 inputs" in rows.json()["error"]["message"]
    assert "image (N, 2, 3) float" in rows.json()["error"]["hint"]
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "inputs.shift"
    assert uneven.status_code == 422 and "different numbers of samples" in json.dumps(
        uneven.json())
    assert after.status_code == 200


def test_a_model_whose_metadata_is_unusable_answers_500_naming_it_and_stays_up(tmp_path):
    path = classifier(tmp_path / "bad.onnx")
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "class_names":
            prop.value = "[not json"
    onnx.save(model, str(path))
    with running(ServeConfig(str(path))) as url, httpx.Client(base_url=url) as client:
        first = client.post("/predict", json={"rows": _rows(1).tolist()})
        health = client.get("/health")
    assert first.status_code == 500
    assert first.json()["error"]["code"] == "DLS503"
    assert first.json()["error"]["message"].startswith("metadata class_names is not JSON")
    assert health.json()["status"] == "ok"
