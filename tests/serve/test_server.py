"""`dlspec serve` from the command line: options, the model file and the port are checked
before uvicorn starts; the real command serves with several worker processes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from cli_run import run_cli
from serve_harness import CLASSES, classifier

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return classifier(tmp_path_factory.mktemp("serve-cli") / "linear.onnx")


@pytest.mark.parametrize(("options", "message"), [
    (["--max-batch", "0"], "--max-batch must be between 1 and 65536, got 0"),
    (["--workers", "0"], "--workers must be between 1 and 64, got 0"),
    (["--port", "70000"], "--port must be between 0 and 65535, got 70000"),
    (["--max-body-bytes", "10"], "--max-body-bytes must be between 64 and 2147483648, got 10"),
])
def test_an_option_out_of_range_is_a_located_error(model_file, monkeypatch, capsys, options,
                                                   message):
    code, out, err = run_cli(monkeypatch, capsys, "serve", str(model_file), *options)
    assert code == 1
    assert err.splitlines()[0] == f"error DLS520: {message}"
    assert "Traceback" not in err and out == ""


def test_a_port_in_use_is_refused_naming_the_address(model_file, monkeypatch, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(monkeypatch, capsys, "serve", str(model_file), "--port",
                               str(port))
    assert code == 1
    assert f"error DLS520: cannot listen on 127.0.0.1:{port}: Address already in use" in err
    assert "--port" in err  # the hint


def test_a_file_that_is_not_a_model_is_refused_before_the_port_is_bound(tmp_path, monkeypatch,
                                                                       capsys):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\x08\x07not a model at all" * 10)
    code, _, err = run_cli(monkeypatch, capsys, "serve", str(fake), "--port", "0")
    assert code == 1
    assert "error DLS503" in err and "fake.onnx" in err and "Traceback" not in err


@pytest.mark.slow
def test_the_command_serves_with_two_workers_and_stops_on_ctrl_c(model_file):
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dlspec", "serve", str(model_file), "--port", "0",
         "--workers", "2", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = process.stdout.readline()
        url = re.search(r"on (http://127\.0\.0\.1:\d+) with 2 workers", first).group(1)
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, first
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=30) as client:
            answers = [client.post("/predict", json={"rows": [[0.1 * i] * 64]})
                       for i in range(20)]
            metadata = client.get("/metadata").json()
        assert [a.status_code for a in answers] == [200] * 20
        assert all(a.json()["predictions"][0]["prediction"] in CLASSES for a in answers)
        assert metadata["spec_name"] == "linear-digits"
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_serving_never_imports_torch(model_file):
    script = (
        "import sys\n"
        "from dlspec.cli import main\n"
        "from dlspec.serve.app import create_app\n"
        "from dlspec.serve.config import ServeConfig\n"
        f"create_app(ServeConfig({str(model_file)!r}))\n"
        f"sys.argv = ['dlspec', 'serve', {str(model_file)!r}, '--max-batch', '0']\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    print(stop.code)\n"
        "print('torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert done.stdout.split() == ["1", "False"], done.stderr
    assert "error DLS520: --max-batch must be between 1 and 65536, got 0" in done.stderr


def test_a_model_with_external_data_is_refused(tmp_path, monkeypatch, capsys):
    import onnx

    model = onnx.load(str(classifier(tmp_path / "inline.onnx")))
    outside = tmp_path / "model"
    outside.mkdir()
    onnx.save(model, str(outside / "split.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    code, _, err = run_cli(monkeypatch, capsys, "serve", str(outside / "split.onnx"),
                           "--port", "0")
    assert code == 1
    assert "error DLS503" in err and "external data" in err
