"""`dlspec predict` on growing inputs: rows per second and peak memory (RSS) of the process.

A digits-sized classifier (64 features -> 10 classes, one MatMul + Add, class metadata as an
export writes it) predicts on CSV files of 1e4, 1e5 and 1e6 rows of pixel values 0..16 (about
160 bytes a row, as specs/data/digits-sample.csv) and on the same rows as float32 .npy files.
Each prediction runs as its own `python -m dlspec predict` process (OMP_NUM_THREADS=1); its
peak RSS is the kernel's ru_maxrss for that child (os.wait4). Streaming keeps memory flat in the
number of rows: the RSS column should stay near the first row's as rows grow 100-fold.

Run: python benchmarks/predict_stream.py [--rows 10000,100000,1000000] [--formats csv,npy]
(run it with PYTHONPATH pointing at another checkout to measure that one).

Measured (2 shared, busy cores; onnxruntime 1.32, numpy 2.4; rows/s include ~1.5 s start):

    input      rows   streamed: rows/s  peak RSS     before (1592a00): rows/s  peak RSS
    csv      10,000              4,608    101 MB                        3,311    141 MB
    csv     100,000             13,425    101 MB                        8,815    620 MB
    csv   1,000,000             15,752    101 MB                       11,614  5,392 MB
    npy      10,000              3,944     98 MB                        3,968     99 MB
    npy     100,000             19,063     98 MB                       16,785    200 MB
    npy   1,000,000             24,226    107 MB                       21,438  1,213 MB

The 1e6-row CSV (154 MB) took 36.6 bytes of memory per input byte before, 0.69 now.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

FEATURES, CLASSES = 64, 10
CHUNK = 100_000  # rows generated at a time


def write_model(path: Path) -> None:
    """A linear classifier on 64 features with the metadata dlspec export writes."""
    from onnx import TensorProto, helper, numpy_helper, save_model

    rng = np.random.default_rng(0)
    weight = rng.normal(scale=0.1, size=(FEATURES, CLASSES)).astype(np.float32)
    bias = rng.normal(size=CLASSES).astype(np.float32)
    x = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", FEATURES])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])
    nodes = [helper.make_node("MatMul", ["pixels", "w"], ["z"]),
             helper.make_node("Add", ["z", "b"], ["logits"])]
    graph = helper.make_graph(nodes, "digits", [x], [y], initializer=[
        numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    helper.set_model_props(model, {
        "task": "classification", "output_space": "logits",
        "class_names": json.dumps([str(i) for i in range(CLASSES)]),
        "scored_output": json.dumps("logits")})
    save_model(model, path)


def write_inputs(folder: Path, rows: int, formats: list[str]) -> dict[str, Path]:
    """CSV (with a header row) and/or .npy files of `rows` rows of pixel values 0..16."""
    rng = np.random.default_rng(rows)
    paths = {fmt: folder / f"rows{rows}.{fmt}" for fmt in formats}
    npy = None
    if "npy" in formats:
        npy = np.lib.format.open_memmap(paths["npy"], mode="w+", dtype=np.float32,
                                        shape=(rows, FEATURES))
    handle = open(paths["csv"], "w") if "csv" in formats else None  # noqa: SIM115
    try:
        if handle:
            handle.write(",".join(f"px{i}" for i in range(FEATURES)) + "\n")
        for start in range(0, rows, CHUNK):
            block = rng.integers(0, 17, size=(min(CHUNK, rows - start), FEATURES))
            if handle:
                np.savetxt(handle, block, fmt="%d", delimiter=",")
            if npy is not None:
                npy[start:start + len(block)] = block
    finally:
        if handle:
            handle.close()
        if npy is not None:
            npy.flush()
            del npy
    return paths


# Runs one command and prints its seconds, exit status and ru_maxrss. Linux carries a process's
# peak RSS across exec (and a vfork/posix_spawn child shares its parent's memory until then), so
# a child started from this process would report this process's peak; started from this small
# launcher, it reports its own.
LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(json.dumps([time.perf_counter() - start, os.waitstatus_to_exitcode(status),
                  usage.ru_maxrss * 1024]))
"""


def measure(model: Path, source: Path, output: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, output tail) of one `dlspec predict` child process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "dlspec", "predict", str(model), "-i", str(source),
               "-o", str(output)]
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *command], env=env,
                          capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        seconds, status, peak = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"the launcher failed:\n{done.stdout}{done.stderr}") from None
    if status != 0 or done.returncode != 0:
        raise SystemExit(f"predict failed ({status}):\n{done.stdout}{done.stderr}")
    return seconds, peak, lines[-2] if len(lines) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--formats", default="csv,npy")
    parser.add_argument("--keep", type=Path, help="a folder to keep the files in")
    args = parser.parse_args()
    sizes = [int(float(value)) for value in args.rows.split(",")]
    formats = [value.strip() for value in args.formats.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        model = folder / "digits.onnx"
        write_model(model)
        print(f"{'input':>6} {'rows':>9} {'input MB':>9} {'seconds':>8} {'rows/s':>9} "
              f"{'peak RSS MB':>12} {'RSS/input':>10}")
        for rows in sizes:
            paths = write_inputs(folder, rows, formats)
            for fmt in formats:
                source = paths[fmt]
                seconds, peak, _ = measure(model, source, folder / f"out{rows}.{fmt}.csv")
                size = source.stat().st_size
                print(f"{fmt:>6} {rows:>9,} {size / 1e6:>9.1f} {seconds:>8.2f} "
                      f"{rows / seconds:>9,.0f} {peak / 2**20:>12.0f} {peak / size:>10.2f}",
                      flush=True)
                (folder / f"out{rows}.{fmt}.csv").unlink()
                source.unlink()


if __name__ == "__main__":
    main()
