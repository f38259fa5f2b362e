"""Small wording helpers shared by every frontend's messages."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 row`, `2,000 rows`: a number with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def inert(text: str) -> str:
    """Untrusted text made safe to show on a terminal: control characters (ESC, OSC, BEL,
    C1, a bare CR, tab) become visible escapes like \\x1b and never reach the terminal;
    line breaks are kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
