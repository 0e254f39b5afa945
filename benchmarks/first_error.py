"""How long a `dlspec` command takes to report a mistake in its arguments or its spec.

Each command is run as a user runs it (a fresh `python` process, the `dlspec` entry point)
on its mistakes: a file that does not exist, an unknown flag, and two specs with an error:
an unknown key in a layer (found while the model is lowered, so with the op declarations
loaded; networkx is not: the graph needs it only for its algorithms) and `epochs: 0` (found
as the spec is read). `python -c pass` runs in the same session as the floor. For each
case it prints the median wall-clock seconds, the median CPU seconds of the process (user +
system: steadier than wall time on a shared machine) and both as ratios to `python -c pass`.
Target: under 0.5 s wall for every case; no case may import torch (a case that does is
marked `torch!`).

Measured (2 cores shared with other jobs, load ~2.4; medians of 5): `python -c pass` 0.035 s;
a missing file or a bad flag 0.25-0.34 s (CPU 0.26-0.34 s); a spec error found as the spec
is read 0.39-0.54 s (CPU 0.38-0.51 s); one found while lowering a layer 0.48-0.64 s (CPU
0.47-0.62 s; 0.92-1.03 s before the graph stopped importing networkx up front). What is left
is typer with pydantic (~0.25 s, every case), the spec's pydantic models (~0.15 s) and, for
a layer, the op declarations (~0.09 s).

Run: python benchmarks/first_error.py [--repeats 5] [--commands train compile ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPECS = Path(__file__).resolve().parents[1] / "specs"
# The `dlspec` console script, plus a report on stderr of whether torch got imported.
ENTRY = ("import atexit, sys\n"
         "atexit.register(lambda: sys.stderr.write("
         "'\\n[torch imported]\\n' if 'torch' in sys.modules else ''))\n"
         "from dlspec.cli import main\n"
         "sys.argv[0] = 'dlspec'\n"
         "main()\n")

# command -> the arguments it needs besides the spec (or run folder / model file)
COMMANDS: dict[str, tuple[str, ...]] = {
    "validate": (), "compile": (), "summary": (), "graph": (), "schedule": (),
    "train": (), "lr-find": (), "export": ("-o", "never.onnx"),
    "evaluate": ("--weights", str(SPECS / "mlp-digits.yaml")),  # exists: passes the option
}
# commands that take something other than a spec: what to give for the three cases
OTHER: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "predict": (("nope.onnx", "-i", "nope.csv"), ("nope.onnx", "-i", "nope.csv", "--bogus")),
    "plot": (("nope-run",), ("nope-run", "--bogus")),
}


def specs_with_errors(folder: Path) -> tuple[Path, Path]:
    """specs/mlp-digits.yaml with a misspelt key in its first layer, and with `epochs: 0`."""
    text = (SPECS / "mlp-digits.yaml").read_text()
    layer, train = folder / "mlp-typo.yaml", folder / "mlp-no-epochs.yaml"
    layer.write_text(text.replace('out_features: "${hidden}"}', 'out_feature: "${hidden}"}', 1))
    train.write_text(text.replace("train: {epochs: 30,", "train: {epochs: 0,"))
    return layer, train


def cases(commands: list[str], bad_specs: tuple[Path, Path]) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for command in commands:
        if command in OTHER:
            missing, flag = OTHER[command]
            found += [(f"{command} missing file", [command, *missing]),
                      (f"{command} bad flag", [command, *flag])]
            continue
        extra = list(COMMANDS[command])
        found += [(f"{command} missing file", [command, "nope.yaml", *extra]),
                  (f"{command} bad flag", [command, str(SPECS / "mlp-digits.yaml"), *extra,
                                           "--bogus"]),
                  (f"{command} spec error (layer)", [command, str(bad_specs[0]), *extra]),
                  (f"{command} spec error (train)", [command, str(bad_specs[1]), *extra])]
    return found


def run_once(argv: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall s, CPU s, exit code, stderr) of one process."""
    start = time.perf_counter()
    before = os.times()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "100"})
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user
           + after.children_system - before.children_system)
    return wall, cpu, done.returncode, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--commands", nargs="+", default=[*COMMANDS, *OTHER],
                        choices=[*COMMANDS, *OTHER])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        todo = [("python -c pass", [sys.executable, "-c", "pass"])]
        todo += [(f"dlspec {name}", [sys.executable, "-c", ENTRY, *argv])
                 for name, argv in cases(args.commands, specs_with_errors(folder))]
        walls: dict[str, list[float]] = {name: [] for name, _ in todo}
        cpus: dict[str, list[float]] = {name: [] for name, _ in todo}
        notes: dict[str, str] = {}
        for _ in range(args.repeats):  # interleaved, so a busy moment hits every case alike
            for name, argv in todo:
                wall, cpu, code, err = run_once(argv, folder)
                walls[name].append(wall)
                cpus[name].append(cpu)
                if name != "python -c pass":
                    notes[name] = (f"exit {code}" + (" torch!" if "[torch imported]" in err
                                                     else ""))
    floor_wall = statistics.median(walls["python -c pass"])
    floor_cpu = statistics.median(cpus["python -c pass"])
    print(f"{'case':36} {'wall s':>7} {'x pass':>7} {'cpu s':>7} {'x pass':>7}  result")
    for name, _ in todo:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:36} {wall:7.3f} {wall / floor_wall:7.1f} {cpu:7.3f} "
              f"{cpu / floor_cpu:7.1f}  {notes.get(name, '')}")
    worst = max((statistics.median(walls[n]), n) for n, _ in todo[1:])
    print(f"slowest: {worst[1]} {worst[0]:.3f} s wall (median of {args.repeats}); "
          f"target < 0.5 s")


if __name__ == "__main__":
    main()
