"""Small wording helpers shared by every frontend's messages."""

from __future__ import annotations

import re

# What a terminal would act on instead of showing: C0 controls (ESC, BEL, BS, a bare CR, …)
# except the line break, DEL and C1 (0x80-0x9f: CSI, OSC, DCS as single code points), and the
# invisible characters that reorder or break what follows them (bidi embeddings, overrides and
# isolates, the Arabic letter mark, the line and paragraph separators).
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_CONTROL_KEEP_TAB = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 row`, `2,000 rows`: a number with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def inert(text: str, *, tabs: bool = False) -> str:
    """Untrusted text made safe to show on a terminal: control characters (ESC, OSC, BEL,
    C1, DEL, a bare CR, tab) become visible escapes like \\x1b and never reach the terminal,
    and so do the invisible bidi controls that would reorder what follows (\\u202e);
    line breaks are kept, and tabs too with `tabs=True` (a multi-line text shown whole).
    The result holds no escape sequence whatever the input, so it can be shown as is."""
    return (_CONTROL_KEEP_TAB if tabs else _CONTROL).sub(_visible, text)


def _picture(m: re.Match) -> str:
    c = ord(m.group())
    return chr(0x2400 + c) if c < 0x20 else "\u2421" if c == 0x7f else "\ufffd"


def inert_in_place(line: str) -> str:
    """`inert` for a line of an editor, where every character must keep its place (the
    cursor and selections count characters): each control character becomes one visible
    character instead of an escape — C0 its Unicode control picture (ESC is ␛, CR ␍), DEL
    ␡, C1 and bidi controls �. Tabs are kept (the editor lays them out)."""
    return _CONTROL_KEEP_TAB.sub(_picture, line)
