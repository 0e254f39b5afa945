"""`dlspec validate` checks the `search:` section against the spec, without torch: unknown
paths with "did you mean", malformed ranges, and values that break the spec, each located at
its place in the section; `train` ignores the section."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_run import run_cli
from test_space import MLP

from dlspec.api import check
from dlspec.errors import DlspecError
from dlspec.search.check import probes
from dlspec.search.space import Dimension

ROOT = Path(__file__).resolve().parents[2]
CNN = (ROOT / "specs" / "cnn-digits.yaml").read_text()
TRANSFORMER = (ROOT / "specs" / "reverse-transformer.yaml").read_text()


def problems(tmp_path: Path, search: str, base: str = MLP, overrides=()) -> list:
    """(code, line, col, message, hint) of each problem `validate` finds in the search."""
    path = tmp_path / "s.yaml"
    path.write_text(base + textwrap.dedent(search))
    try:
        check(path, overrides, search=True)
    except DlspecError as error:
        return [(d.code, d.span.line, d.span.col, d.message, d.hint or "")
                for d in error.diagnostics]
    return []


def test_train_ignores_the_search(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(MLP + "search: {space: {optimizer.lrr: {float: [0.2, 0.1]}}}\n")
    assert check(path).spec.optimizer.lr == 0.003  # what train checks: the spec's own values
    with pytest.raises(DlspecError, match="DLS703"):
        check(path, search=True)


def test_a_search_over_existing_paths_and_good_values_passes(tmp_path):
    assert problems(tmp_path, """\
        search:
          space:
            optimizer.lr: {float: [1.0e-4, 1.0e-1], log: true}
            optimizer.weight_decay: {float: [0.0, 0.1]}
            hidden: {int: [8, 64], step: 8}
            model.0.bias: {choice: [true, false]}
            train.epochs: {int: [1, 3]}
            data.batch_size: {choice: [16, 32]}
        """) == []  # weight_decay and bias are defaults the document does not write


def test_unknown_paths_say_the_close_existing_ones(tmp_path):
    found = problems(tmp_path, """\
        search:
          space:
            optimizer.lrr: {float: [1.0e-4, 1.0e-1], log: true}
            params.hiden: {choice: [32, 64]}
            train.epoch: {int: [1, 4]}
            model.9.out_features: {int: [1, 4]}
            hiddden: {choice: [1, 2]}
            search.trials: {int: [1, 2]}
        """)
    assert [(code, line, col) for code, line, col, *_ in found] == [
        ("DLS702", 15, 5), ("DLS702", 16, 5), ("DLS702", 17, 5), ("DLS702", 18, 5),
        ("DLS702", 19, 5), ("DLS702", 20, 5)]
    hints = [hint for *_, hint in found]
    assert hints[:3] == ["did you mean 'optimizer.lr'?", "did you mean 'params.hidden'?",
                         "did you mean 'train.epochs'?"]
    assert hints[3] == "the list has 4 items; did you mean 'model.3.out_features' or " \
                       "'model.0.out_features'?"
    assert hints[4] == "did you mean 'hidden'?"
    assert "the search cannot change 'search.trials'" in found[5][3]
    assert "'optimizer.lrr', which is not a path of this spec (unknown key 'lrr'" in found[0][3]


def test_a_path_must_be_written_as_one(tmp_path):
    found = problems(tmp_path, """\
        search:
          space:
            "": {choice: [1]}
            optimizer..lr: {choice: [0.1]}
            "optimizer.lr ": {choice: [0.1]}
            model.-1.out_features: {choice: [3]}
            model.0.out_features.x: {choice: [3]}
            params: {choice: [1]}
        """)
    assert [f[:3] for f in found] == [("DLS702", 15, 5), ("DLS702", 16, 5), ("DLS702", 17, 5),
                                      ("DLS702", 18, 5), ("DLS702", 19, 5), ("DLS704", 20, 23)]
    assert found[1][3] == ("'optimizer..lr' is not a path: keys and list indexes joined by "
                           "dots, without spaces")
    assert "'model.0.out_features' is not a section" in found[4][3]
    assert found[5][3] == ("the searched value params=1 gives an invalid spec: 'params': "
                           "Input should be a valid dictionary (got 1)")
    assert found[5][4] == ""  # nothing to add


def test_block_params_are_paths(tmp_path):
    assert problems(tmp_path, """\
        search:
          space:
            residual.channels: {choice: [32]}
            width: {int: [8, 32], step: 8}
        """, CNN) == []
    found = problems(tmp_path, """\
        search:
          space:
            residual.chanels: {choice: [32]}
        """, CNN)
    assert found[0][:3] == ("DLS702", 43, 5)
    assert found[0][4] == "did you mean 'residual.channels'?"


RANGES = [  # entry, the text it is reported at, message, hint
    ("optimizer.lr: {float: [1.0e-1, 1.0e-4]}", "[1.0e-1",
     "[0.1, 0.0001] is empty or reversed", "write [0.0001, 0.1]"),
    ("optimizer.lr: {float: [0.0, 1.0e-1], log: true}", "0.0", "a log scale needs low > 0",
     "start the range at a small positive value"),
    ("optimizer.lr: {float: [1.0e-4, .inf]}", ".inf", "must be finite numbers, not inf", ""),
    ("optimizer.lr: {float: [1.0e-4, 0.1], log: true, step: 0.01}", "0.01",
     "a log scale and a step cannot be combined", "drop `step`, or `log: true`"),
    ("optimizer.lr: {float: [0.1, 0.2], step: 0.5}", "0.5",
     "the step 0.5 is larger than the range [0.1, 0.2]", "a step of at most 0.1"),
    ("optimizer.lr: {float: [0.1, 0.2], step: -0.5}", "-0.5", "the step must be positive", ""),
    ("optimizer.lr: {float: [0.0, 1.0e+300], step: 1.0e-300}", "1.0e-300",
     "the step 1e-300 is too small for the range [0.0, 1e+300]", ""),
    ("params.dropout: {float: [-1.0e+308, 1.0e+308]}", "[", "is too wide", ""),
    ("train.epochs: {int: [0, 9], log: true}", "0,", "a log scale needs low >= 1, not 0", ""),
    ("train.epochs: {int: [1, 9], log: true, step: 2}", "2}",
     "a log scale and a step cannot be combined", ""),
    ("hidden: {choice: [8, 16, 8.0, 8]}", "8]", "the choice 8 is listed twice",
     "list each value once"),  # 8.0 is a float: another value
]


@pytest.mark.parametrize(("entry", "at", "message", "hint"), RANGES)
def test_a_malformed_range_is_located(tmp_path, entry, at, message, hint):
    ((code, line, col, text, help_),) = problems(
        tmp_path, "search:\n  space:\n    " + entry + "\n")
    assert (code, line, col) == ("DLS703", 15, 5 + entry.rindex(at))
    assert message in text and text.startswith(f"search space '{entry.split(':')[0]}': ")
    assert hint in help_


def test_the_grid_needs_discrete_dimensions_it_can_enumerate(tmp_path):
    found = problems(tmp_path, """\
        search:
          sampler: grid
          space:
            optimizer.lr: {float: [1.0e-4, 1.0e-1]}
            hidden: {choice: [8, 16]}
        """)
    assert found == [("DLS703", 16, 19, "the grid sampler needs every dimension discrete, and "
                      "'optimizer.lr' is a continuous float range",
                      "give it a step (e.g. step: 0.02), make it a choice, or use sampler: "
                      "random or tpe")]
    found = problems(tmp_path, """\
        search:
          sampler: grid
          space:
            optimizer.lr: {float: [1.0e-4, 1.0e-1], step: 1.0e-5}
            train.epochs: {int: [1, 100]}
        """)
    assert found[0][:4] == ("DLS703", 14, 12,
                            "the grid has 999,100 combinations, more than 100,000")
    found = problems(tmp_path, """\
        search:
          sampler: grid
          space:
            params.dropout: {float: [0.5, 0.1]}
        """)
    assert [f[4] for f in found] == ["write [0.1, 0.5]", "give it a step (e.g. step: 0.1), "
                                     "make it a choice, or use sampler: random or tpe"]


def test_values_that_break_the_spec_are_reported_at_the_value(tmp_path):
    found = problems(tmp_path, """\
        search:
          space:
            params.dropout: {float: [0.0, 1.5]}
            hidden: {choice: [32, -4, 16]}
            optimizer.op: {choice: [adam, sgdd]}
            train.epochs: {int: [0, 3]}
        """)
    assert [f[:3] for f in found] == [("DLS704", 15, 35), ("DLS704", 16, 27),
                                      ("DLS704", 17, 35), ("DLS704", 18, 26)]
    assert found[0][3] == ("the searched value params.dropout=1.5 gives an invalid spec: in "
                           "layer 'dropout': 'p': Input should be less than 1 (got 1.5)")
    assert found[0][4] == f"DLS102 at {tmp_path / 's.yaml'}:8:22"  # the layer it reaches
    assert "hidden=-4" in found[1][3] and "greater than or equal to 1" in found[1][3]
    assert 'optimizer.op="sgdd"' in found[2][3] and "unknown op 'sgdd'" in found[2][3]
    assert "did you mean 'sgd'?" in found[2][4]
    assert "train.epochs=0" in found[3][3]


def test_a_value_that_breaks_the_shapes_says_where_and_how(tmp_path):
    ((code, line, col, message, hint),) = problems(tmp_path, """\
        search:
          space:
            model.3.channels: {choice: [32, 64]}
        """, CNN)
    assert (code, line, col) == ("DLS704", 43, 37)  # at the 64
    assert message == ("the searched value model.3.channels=64 gives an invalid spec: in "
                       "layer 'res1.add': inputs have shapes (N, 32, 8, 8) and (N, 64, 8, 8); "
                       "they must be equal")
    assert hint.startswith("DLS201 at ") and ":20:9: project the (N, 32, 8, 8) input" in hint


def test_the_values_checked_are_where_a_range_can_break():
    assert probes(Dimension("a", "int", 1, 10, step=4)) == [
        (1, ("int", 0)), (5, ("int",)), (9, ("int", 1))]  # 9: the last value reached
    assert [v for v, _ in probes(Dimension("a", "int", 0, 100))] == [0, 50, 100]
    assert [v for v, _ in probes(Dimension("a", "int", 0, 2**62))] == [0, 2**61, 2**62]
    assert probes(Dimension("a", "float", 8.0, 64.0)) == [
        (8.0, ("float", 0)), (25.8254, ("float",)), (64.0, ("float", 1))]
    assert probes(Dimension("a", "float", 1e-4, 1.0, log=True))[1] == (0.00187603, ("float",))
    assert probes(Dimension("a", "choice", choices=(None, "x"))) == [
        (None, ("choice", 0)), ("x", ("choice", 1))]


def test_values_inside_a_range_are_checked(tmp_path):
    found = problems(tmp_path, """\
        search:
          space:
            heads: {int: [1, 8]}
            d: {float: [32, 64]}
        """, TRANSFORMER)
    assert [f[:3] for f in found] == [("DLS704", 42, 18), ("DLS704", 43, 16)]  # the ranges
    assert found[0][3] == ("the searched values heads=3, 5, 6, 7 (inside the range) give an "
                           "invalid spec: in layer 'encoder.0.layer': d_model 64 is not "
                           "divisible by heads=3")
    assert found[0][4].endswith(":19:9: pick heads that divide the input's features")
    assert "d=42.1859 (inside the range) gives an invalid spec" in found[1][3]
    assert "fractional part" in found[1][3]
    assert found[1][4].endswith("search an integer with {int: [32, 64]}")


def test_two_paths_of_one_value_and_a_seed_too_large(tmp_path):
    found = problems(tmp_path, """\
        search:
          space:
            params.hidden: {choice: [8, 16]}
            hidden: {choice: [8, 32]}
        """)
    assert found == [("DLS702", 16, 5, "'hidden' and 'params.hidden' set the same value "
                      "(params.hidden)", "keep one of them")]
    big_seed = MLP.replace("seed: 7", "seed: 5000000000")
    found = problems(tmp_path, "search: {space: {hidden: {choice: [8]}}}\n", big_seed)
    assert found[0][:3] == ("DLS102", 12, 26) and "give search.seed" in found[0][4]
    assert problems(tmp_path, "search: {seed: 1, space: {hidden: {choice: [8]}}}\n",
                    big_seed) == []
    found = problems(tmp_path, "search: {seed: -1, space: {hidden: {choice: [8]}}}\n")
    assert found[0][:3] == ("DLS102", 13, 16)


def test_values_are_checked_with_the_overrides(tmp_path):
    search = """\
        search:
          space:
            model.3.channels: {choice: [64]}
        """
    assert problems(tmp_path, search, CNN)[0][0] == "DLS704"
    assert problems(tmp_path, search, CNN, overrides=["width=64"]) == []


def test_the_metric_must_be_logged(tmp_path):
    found = problems(tmp_path, """\
        search:
          metric: val_acuracy
          space:
            hidden: {choice: [8, 16]}
        """)
    assert found == [("DLS705", 14, 11, "the search optimizes 'val_acuracy', which this run "
                      "does not log", "did you mean 'val_accuracy'? (the run logs one of: "
                      "train_loss, val_accuracy, val_loss)")]
    no_val = MLP.replace("split: [0.8, 0.1, 0.1]", "split: [0.9, 0.0, 0.1]")
    found = problems(tmp_path, """\
        search:
          metric: val_accuracy
          space:
            hidden: {choice: [8, 16]}
        """, no_val)
    assert found[0][0] == "DLS705" and "val split is empty" in found[0][4]
    assert problems(tmp_path, """\
        search:
          space:
            hidden: {choice: [8, 16]}
        """, no_val) == []  # the default metric is then train_loss


def test_a_malformed_entry_is_a_structure_error(tmp_path):
    found = problems(tmp_path, """\
        search:
          sampler: bayes
          space:
            params.hidden: {range: [1, 2]}
            optimizer.lr: {float: [1.0e-4]}
            train.epochs: {int: [1, 4.5]}
            hidden: {choice: [[8, 16]]}
            dropout: {float: [0.1, true]}
            model.0.out_features: {int: [1, 2], lg: true}
            optimizer.weight_decay: {float: [0.1, 0.2], log: 1}
        """)
    assert [(code, line, col) for code, line, col, *_ in found] == [
        ("DLS102", 14, 12), ("DLS102", 16, 20), ("DLS102", 17, 27), ("DLS102", 18, 25),
        ("DLS102", 19, 22), ("DLS102", 20, 22), ("DLS101", 21, 41), ("DLS102", 22, 54)]
    messages = [message for _, _, _, message, _ in found]
    assert "'grid', 'random' or 'tpe' (got 'bayes')" in messages[0]
    assert messages[1] == ("'params.hidden': a space entry is one of {float: [low, high]}, "
                           "{int: [low, high]} or {choice: [a, b, ...]}")
    assert messages[2] == "'float': write the range as [low, high], two numbers; got [0.0001]"
    assert messages[3] == ("'int': the bounds are two integers, not 4.5 (a range of floats is "
                           "{float: [low, high]})")
    assert messages[4].startswith("'choice': a choice is a number, a string, a boolean or "
                                  "null, not a list ([8, 16])")
    assert messages[5] == "'float': the bounds are two numbers, not True"
    assert found[6][4] == "did you mean 'log'?"
    assert messages[7] == "'log': Input should be a valid boolean (got 1)"


def test_validate_reports_the_search_and_imports_no_torch(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MLP + "search: {space: {optimizer.lrr: {float: [0.1, 0.2]}}}\n")
    code, out, err = run_cli(monkeypatch, capsys, "validate", str(bad))
    assert code == 1 and f"{bad}:13:18: error DLS702" in err and "'optimizer.lr'?" in err
    code, out, _ = run_cli(monkeypatch, capsys, "validate", str(bad), "--set",
                           "optimizer.lrr=0.1")  # the override makes no path
    assert code == 1
    good = tmp_path / "good.yaml"
    good.write_text(MLP + "search: {space: {optimizer.lr: {float: [0.1, 0.2]}}}\n")
    script = ("import sys\nfrom dlspec.cli import main\n"
              f"sys.argv = ['dlspec', 'validate', {str(good)!r}]\n"
              "try:\n    main()\nexcept SystemExit as exc:\n    print('exit', exc.code)\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'optuna'}))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                            timeout=120)
    assert result.stdout.splitlines()[-2:] == ["exit 0", "[]"], result.stderr
    assert f"{good}: ok: 4 layers" in result.stdout
    assert f"{good}: search ok: val_loss (minimize) over 1 dimension, tpe sampler, 20 " \
           "trials\n" in result.stdout
    grid = tmp_path / "grid.yaml"
    grid.write_text(MLP + "regularization: {early_stopping: {monitor: val_accuracy}}\n"
                    "search: {sampler: grid, timeout: 90, pruner: median, space: "
                    "{hidden: {choice: [8, 16]}, train.epochs: {int: [1, 3]}}}\n")
    code, out, _ = run_cli(monkeypatch, capsys, "validate", str(grid))
    assert code == 0 and out.endswith(
        "search ok: val_accuracy (maximize) over 2 dimensions, grid sampler, 6 trials, 90 s, "
        "median pruner\n")
