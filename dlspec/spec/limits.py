"""How much work a spec may ask of `dlspec validate`, in one place.

A spec is data from anywhere (a fuzzer, a typo, a hostile file), so reading, evaluating and
expanding it is bounded in total: past a limit the user gets a located error, never a hang or
an out-of-memory crash. docs/spec.md ("Limits") lists these figures; a test keeps it current.
"""

from __future__ import annotations

MAX_BYTES = 16 * 1024 * 1024  # a spec file, and a --set value
MAX_DEPTH = 64  # nesting of YAML mappings and lists
MAX_VALUES = 100_000  # YAML nodes of a spec: mappings, lists, scalars and keys
INT_BITS = 64  # every integer of a spec, written or computed: -2**63 <= n < 2**63
INT_MIN, INT_MAX = -(2 ** (INT_BITS - 1)), 2 ** (INT_BITS - 1) - 1
MAX_EXPR_LEN = 1000  # characters of one `${...}` expression
MAX_INT_BITS = 256  # an integer an expression computes on the way to its result
MAX_EXPONENT = 64  # |b| in `a ** b`, and |digits| in `round(x, digits)`
MAX_TEXT = 10_000  # characters of a string an expression builds (`+`, `"${a}${b}"`)
MAX_BLOCK_DEPTH = 32  # blocks that use blocks
MAX_LAYERS = 10_000  # layers of all the models of a spec, blocks and repeats expanded


def int_in_range(value: int) -> bool:
    return INT_MIN <= value <= INT_MAX


def out_of_range(value: int | str) -> str:
    """'N is out of range: ...' for an integer outside 64 bits; `value` may be the literal's text (a
    literal of thousands of digits is never converted, so it is shown shortened)."""
    text = str(value) if isinstance(value, str) or value.bit_length() < 1000 else "(huge)"
    digits = sum(c.isdigit() for c in text)
    if len(text) > 30:
        text = f"{text[:12]}...{text[-6:]} ({digits} digits)"
    return (f"{text} is out of range: a spec's integers fit in {INT_BITS} bits "
            f"(magnitude below 2**{INT_BITS - 1}, about 9.2e18)")
