"""How the `dlspec` commands present themselves: `--version`, one naming of the values in
every command's `--help` and usage line, and the count line that ends a failure.

Typer names a value by its Python type (`<path>`, `<list[str]>`, `{spec}`); here each
value gets an upper-case name that says what to give, the same in every command: an
argument its own name (SPEC, MODEL, RUN_DIR), an option the name in `OPTION_NAMES`
or, failing that, its type's (FILE, INT, FLOAT, TEXT). Flags and choices keep typer's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup

# option -> what its value is called, where the type's name (FILE, INT, ...) says too little
OPTION_NAMES = {
    "--set": "KEY=VALUE", "--dim": "NAME=SIZE", "--model": "NAME", "--name": "NAME",
    "--device": "DEVICE", "--out": "DIR", "--resume": "RUN_DIR", "--weights": "FILE|RUN_DIR",
    "--run": "RUN_DIR",
}
ARGUMENT_NAMES = {"specs": "SPEC"}  # argument -> its name, where not its parameter's
TYPE_NAMES = {Path: "FILE", int: "INT", float: "FLOAT", str: "TEXT"}


def metavar(param: Any) -> str | None:
    """The name of a parameter's value in help and usage (None: typer's own)."""
    if isinstance(param, TyperArgument):
        return ARGUMENT_NAMES.get(param.name, param.name.rstrip("_").upper())
    if getattr(param, "is_flag", False):
        return None
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or descriptor.is_choice:
        return None
    named = next((OPTION_NAMES[o] for o in param.opts if o in OPTION_NAMES), None)
    annotation = descriptor.annotation
    if getattr(annotation, "__origin__", None) is list:
        annotation = annotation.__args__[0]
    return named or TYPE_NAMES.get(annotation)


def count_line(diagnostics: list) -> str:
    """The last line of a failure: '2 errors'. Warnings that made the command fail
    (validate --strict) are counted as such: '1 error, 2 warnings treated as errors'."""
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    counts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors or not warnings else []
    if warnings:
        counts.append(f"{warnings} warning{'s' if warnings != 1 else ''} treated as "
                      f"{'an error' if warnings == 1 else 'errors'}")
    return ", ".join(counts)


class _Argument(TyperArgument):
    """An argument whose help row shows its name (SPEC) only, not also its type (<path>)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class Commands(TyperGroup):
    """The `dlspec` group: gives every parameter of every command its `metavar`, unless
    the command set one itself. A usage error (an unknown flag, a missing argument) is
    printed as plain text, like dlspec's own errors: typer's rich error box costs a third
    of such a run in imports. `--help` stays rich."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.help_markup, self.rich_markup_mode = self.rich_markup_mode, None
        for command in self.commands.values():
            for param in command.params:
                if param.metavar is None:
                    param.metavar = metavar(param)
                if type(param) is TyperArgument:
                    param.__class__ = _Argument

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.rich_markup_mode = self.help_markup
        try:
            super().format_help(ctx, formatter)
        finally:
            self.rich_markup_mode = None


def _print_version(value: bool) -> None:
    if value:
        from dlspec import __version__

        print(f"dlspec {__version__}")
        raise typer.Exit()


def root(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the version of dlspec and exit.")] = False) -> None:
    """Options of `dlspec` itself (before the command)."""
