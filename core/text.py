"""Small wording helpers shared by every frontend's messages."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`1 row`, `2,000 rows`: a number with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"
