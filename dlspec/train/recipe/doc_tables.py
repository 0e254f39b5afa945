"""The tables of loss, optimizer and schedule ops in docs/spec.md, generated from their models
so that every op, attribute and default there is the one the code has.

`python -m dlspec.train.recipe.doc_tables [docs/spec.md]` rewrites the tables between the markers
`<!-- table: NAME -->` and `<!-- end table: NAME -->`; a test checks the doc is current.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from pydantic.fields import FieldInfo

from dlspec.files import atomic_write_text
from dlspec.train.config_base import StrictConfig, op_names
from dlspec.train.recipe.loss_config import LOSS_CLASSES
from dlspec.train.recipe.optim_config import OPTIMIZER_CLASSES
from dlspec.train.recipe.schedule_config import SCHEDULE_CLASSES

# name: (the op models, the fields every op shares that the doc explains once in prose)
TABLES: dict[str, tuple[tuple[type[StrictConfig], ...], set[str]]] = {
    "losses": (LOSS_CLASSES, {"output", "target", "weight"}),
    "optimizers": (OPTIMIZER_CLASSES, {"no_decay", "groups"}),
    "schedules": (SCHEDULE_CLASSES, set()),
}
DOC = Path(__file__).resolve().parents[3] / "docs" / "spec.md"


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return value if isinstance(value, str) else json.dumps(
        list(value) if isinstance(value, tuple) else value)


def _summary(cls: type[StrictConfig]) -> str:
    paragraph = (cls.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines()).replace("|", "\\|")


def table(name: str) -> str:
    """The markdown table of one kind of op: op, attributes with defaults, what it does."""
    classes, shared = TABLES[name]
    reads = name == "losses"  # the space of the output each loss reads (output_space.py)
    lines = ["| op | attributes (default) |" + (" reads |" if reads else "") + " what it does |",
             "|---|---|" + ("---|" if reads else "") + "---|"]
    for cls in classes:
        ops = ", ".join(f"`{op}`" for op in op_names(cls))
        attributes = ", ".join(
            f"`{key}`: {_default(field)}"
            for key, field in sorted(cls.model_fields.items(), key=lambda kv: kv[0] != "lr")
            if key != "op" and key not in shared) or "none"
        space = f" {cls.reads} |" if reads else ""  # type: ignore[attr-defined]
        lines.append(f"| {ops} | {attributes} |{space} {_summary(cls)} |")
    return "\n".join(lines)


def render(doc: str) -> str:
    """`doc` with every generated table brought up to date (ValueError if a marker is gone)."""
    for name in TABLES:
        pattern = re.compile(
            rf"(<!-- table: {name} -->\n)(?:.*?\n)?(<!-- end table: {name} -->)", re.DOTALL)
        if not pattern.search(doc):
            raise ValueError(f"the doc has no <!-- table: {name} --> ... <!-- end table: "
                             f"{name} --> markers")
        doc = pattern.sub(lambda match, n=name: match[1] + table(n) + "\n" + match[2], doc)
    return doc


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DOC
    atomic_write_text(path, render(path.read_text(encoding="utf-8")))
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
