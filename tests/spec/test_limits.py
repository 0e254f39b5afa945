"""dlspec.spec.limits: the work a spec may ask of `dlspec validate` is bounded in total.

Each spec here used to hang, run for tens of seconds or exhaust memory, so `dlspec validate`
runs in a subprocess with a timeout (and an address-space cap): a regression fails the test
instead of hanging the suite. The tests assert the located error, never the time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import dlspec
from dlspec.spec import limits

ROOT = Path(__file__).resolve().parents[2]
CODE = Path(dlspec.__file__).resolve().parents[1]  # the subprocess runs the same dlspec
SPEC_DOC = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
TIMEOUT_S = 30
MEMORY_CAP = 2 << 30  # validate imports no torch: a few hundred MB at most


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def validate(path: Path | str) -> tuple[int, list[str]]:
    """`dlspec validate path` in a subprocess -> (exit code, lines of stderr)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(CODE), *filter(None, [os.environ.get("PYTHONPATH")])])}
    try:
        done = subprocess.run([sys.executable, "-m", "dlspec", "validate", str(path)],
                              capture_output=True, text=True, timeout=TIMEOUT_S, cwd=CODE,
                              env=env, preexec_fn=_cap_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"dlspec validate {path} gave no answer in {TIMEOUT_S} s")
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr.splitlines()


def only_error(path: Path | str) -> tuple[str, str]:
    """The one error line of `dlspec validate` and its help line ('' if none)."""
    code, lines = validate(path)
    assert code == 1 and lines[-1] == "1 error", lines
    return lines[0], (lines[1] if lines[1].startswith("  help: ") else "")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "dlspec: 1\nname: limits\ninputs: {x: {shape: [8]}}\n"


def test_rounding_to_a_hundred_million_digits_is_refused(tmp_path):
    spec = write(tmp_path, HEAD + 'params: {a: "${round(1, -10**8)}"}\n'
                 "model:\n  - {op: linear, out_features: 2}\n")
    error, _ = only_error(spec)  # (it never returned: 10 ** 10**8 was being computed)
    assert error == (f"{spec}:4:13: error DLS112: cannot compute 'round(1, -10 ** 8)': "
                     "rounds to at most 64 digits, got -100000000")


def test_a_string_doubled_by_interpolation_is_refused_at_the_param_that_crosses(tmp_path):
    params = ['  s0: "ab"'] + [f'  s{i}: "${{s{i - 1}}}${{s{i - 1}}}"' for i in range(1, 29)]
    spec = write(tmp_path, HEAD + "params:\n" + "\n".join(params) +
                 "\nmodel:\n  - {op: linear, out_features: 2}\n")
    error, hint = only_error(spec)  # (2 ** 29 characters: a MemoryError, or 1 GB)
    # s13 is the first over 10_000 characters (2 * 2 ** 13 = 16_384); it is on line 18
    assert error == (f"{spec}:18:8: error DLS112: the `${{...}}` of this text and what they "
                     "give pass 10_000 characters")
    assert hint == '  help: does a param repeat another one, level after level ("${s}${s}")?'


BLOCK = "blocks:\n  b: {layers: [{op: relu}]}\n"


def test_a_repeat_larger_than_a_model_may_be_is_refused_before_expanding(tmp_path):
    spec = write(tmp_path, HEAD + BLOCK + "model:\n  - {block: b, repeat: 100000}\n")
    error, _ = only_error(spec)  # (37 s and 855 MB before)
    assert error == (f"{spec}:7:24: error DLS102: in layer 'b': repeat must be a whole number "
                     "from 1 to 10_000, got 100000")


def test_nested_repeats_are_refused_after_one_instance_of_the_outer_one(tmp_path):
    spec = write(tmp_path, HEAD + "blocks:\n  inner: {layers: [{op: relu}]}\n"
                 "  outer: {layers: [{block: inner, repeat: 1000}]}\n"
                 "model:\n  - {block: outer, repeat: 1000}\n")
    error, hint = only_error(spec)  # (a million layers, growing without bound)
    assert error == (f"{spec}:8:28: error DLS102: in layer 'outer': `repeat: 1000` of block "
                     "'outer' (1001 layers each) would make the model about 1_001_001 "
                     "layers; a model has at most 10_000")
    assert hint == "  help: lower `repeat` (or the repeats inside the block)"


def test_blocks_that_double_at_each_level_stop_at_the_layer_limit(tmp_path):
    blocks = "".join(f"  b{i}: {{layers: [{{block: b{i + 1}}}, {{block: b{i + 1}}}]}}\n"
                     for i in range(24)) + "  b24: {layers: [{op: relu}]}\n"
    spec = write(tmp_path, HEAD + "blocks:\n" + blocks + "model:\n  - {block: b0}\n")
    code, lines = validate(spec)  # 2 ** 24 layers, no repeat anywhere
    assert code == 1 and lines[-1] == "1 error", lines
    assert lines[0].startswith(f"{spec}:")
    assert "error DLS102: in layer 'b0." in lines[0]
    assert lines[0].endswith("the model expands to more than 10_000 layers (blocks, repeats "
                             "and groups expanded)")


def test_a_repeat_within_the_limit_still_expands(tmp_path):
    spec = write(tmp_path, HEAD + BLOCK + "model:\n  - {block: b, repeat: 2000}\n")
    code, lines = validate(spec)
    assert code == 0, lines


def test_a_file_of_a_million_layers_stops_at_the_value_limit(tmp_path):
    spec = write(tmp_path, HEAD + "model:\n" + "  - {op: relu}\n" * 1_000_000)
    error, _ = only_error(spec)  # (15 MB: under the size limit; parsing took minutes, 2 GB)
    assert error == (f"{spec}:33333:10: error DLS007: the spec holds more than 100_000 values "
                     "(keys, items, scalars); this is where it passes that")


def test_dev_zero_is_refused_before_reading():
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    error, hint = only_error("/dev/zero")  # (it read until memory ran out)
    assert error == ("/dev/zero:1:1: error DLS007: cannot read spec: '/dev/zero' is a device "
                     "or socket, not a file")
    assert hint == "  help: give the path of a .yaml file"


# --- the documented figures -----------------------------------------------------------------


@pytest.mark.parametrize("figure", [
    f"{limits.MAX_BYTES >> 20} MiB", f"{limits.MAX_DEPTH} levels",
    f"{limits.INT_BITS} bits: magnitude below 2\\*\\*{limits.INT_BITS - 1}",
    f"{limits.MAX_EXPR_LEN} characters", f"{limits.MAX_INT_BITS} bits",
    f"at most {limits.MAX_EXPONENT}", f"{limits.MAX_TEXT:,} characters",
    f"{limits.MAX_BLOCK_DEPTH} levels", f"{limits.MAX_LAYERS:,} layers",
    f"| {limits.MAX_VALUES:,} |",
])
def test_every_limit_is_documented(figure):
    section = SPEC_DOC.split("## Limits", 1)[1].split("\n## ", 1)[0]
    assert figure in section


def test_the_integer_bounds_are_those_of_int64():
    assert (limits.INT_MIN, limits.INT_MAX) == (-9223372036854775808, 9223372036854775807)
    assert limits.int_in_range(limits.INT_MAX) and not limits.int_in_range(limits.INT_MAX + 1)
    assert limits.int_in_range(limits.INT_MIN) and not limits.int_in_range(limits.INT_MIN - 1)
