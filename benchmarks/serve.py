"""`dlspec serve` under load: requests per second and p50/p99 latency, with and without
micro-batching.

The served model is specs/mlp-digits.yaml exported untrained (the graph decides the speed,
not the weights), or --model FILE. For each configuration a fresh `python -m dlspec serve`
process (one worker, ONNX Runtime on --threads threads) is started on a free port; the load
comes from this process: --concurrency keep-alive connections, each sending one-row
POST /predict requests back to back (a lean asyncio HTTP/1.1 client, so that the client costs
little next to the server). A warm-up is sent first and not counted. The server's own counts
(GET /health) give the mean rows per ONNX Runtime call.

Run: python benchmarks/serve.py [--requests 2000] [--concurrency 1,64] [--model FILE]

Measured: see the table printed; figures depend on the machine and its load (the
numbers in docs/deploy.md were measured on 2 shared cores, client and server on the same
machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"no batching (--max-batch 1)": ["--max-batch", "1"],
           "batching, no wait (--max-wait-ms 0)": ["--max-batch", "64", "--max-wait-ms", "0"],
           "batching (--max-batch 64 --max-wait-ms 5, default)": ["--max-batch", "64",
                                                                   "--max-wait-ms", "5"]}
ROW = [float(i % 17) for i in range(64)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an .onnx file (default: mlp-digits)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as folder:
        model = args.model or _export(Path(folder) / "mlp-digits.onnx", env)
        print(f"model {model}; {args.requests} one-row requests per run, "
              f"{args.threads} ONNX Runtime thread(s), {os.cpu_count()} CPUs")
        print(f"{'configuration':<50} {'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'rows/call':>9} {'server CPU ms/req':>17}")
        for name, options in CONFIGS.items():
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                row = _measure(model, options, concurrency, args, env)
                print(f"{name:<50} {concurrency:>5} {row['rps']:>8.0f} {row['p50']:>8.2f} "
                      f"{row['p99']:>8.2f} {row['rows_per_call']:>9.2f} {row['cpu_ms']:>17.3f}",
                      flush=True)


def _export(path: Path, env: dict[str, str]) -> Path:
    subprocess.run([sys.executable, "-m", "dlspec", "export", str(ROOT / "specs/mlp-digits.yaml"),
                    "--untrained", "-o", str(path)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return path


def _measure(model: Path, options: list[str], concurrency: int, args, env) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, "-m", "dlspec", "serve", str(model), "--port", "0",
         "--threads", str(args.threads), *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        found = re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline())
        if found is None:  # it did not start: say why
            server.wait(timeout=60)
            raise SystemExit(f"dlspec serve {model} did not start:\n{server.stderr.read()}")
        server.stderr.close()  # nothing reads it from here on: never let it fill up
        port = int(found.group(1))
        return asyncio.run(_load(port, concurrency, args.requests, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=60)


async def _load(port: int, concurrency: int, requests: int, pid: int) -> dict[str, float]:
    await _wait_ready(port)
    body = json.dumps({"rows": [ROW]}).encode()
    await _run_clients(port, body, concurrency, max(concurrency * 5, 100))  # warm-up
    before = await _health(port)
    cpu_before = _cpu_seconds(pid)
    start = time.perf_counter()
    latencies = await _run_clients(port, body, concurrency, requests)
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds(pid) - cpu_before
    after = await _health(port)
    latencies.sort()
    calls = after["batches"] - before["batches"]
    return {"rps": len(latencies) / elapsed,
            "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "rows_per_call": (after["rows"] - before["rows"]) / calls if calls else 0.0,
            "cpu_ms": cpu / len(latencies) * 1000}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; NaN elsewhere): the
    server's cost per request, which the machine's other load does not inflate as it
    inflates wall-clock latency."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run_clients(port: int, body: bytes, concurrency: int, requests: int) -> list[float]:
    left = [requests]
    latencies: list[float] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        while left[0] > 0:
            left[0] -= 1
            sent = time.perf_counter()
            writer.write(head + body)
            status, _ = await _response(reader)
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                raise RuntimeError(f"status {status}")
        writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readuntil(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length: (\d+)", header).group(1))
    return status, await reader.readexactly(length)


async def _health(port: int) -> dict[str, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    _, body = await _response(reader)
    writer.close()
    return json.loads(body)


async def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            await _health(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


if __name__ == "__main__":
    main()
