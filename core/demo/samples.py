"""The demo's sample data: the files in core/demo/data, one per kind, each read once.

They ship as package data (pyproject.toml), so an installed wheel finds them too.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources


@functools.cache
def load(kind: str) -> dict:
    """The parsed ``data/<kind>.toml``; shared by every caller, so never modified."""
    text = (resources.files(__package__) / "data" / f"{kind}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@functools.cache
def recruiters() -> tuple[str, ...]:
    """The 60 distinct recruiter names: 20 first names, each with 3 rotating surnames."""
    names = load("names")
    first, last = names["recruiter_first_names"], names["recruiter_last_names"]
    return tuple(f"{first[k % 20]} {last[(k + 3 * (k // 20)) % len(last)]}" for k in range(60))


def count(kind: str, *keys: str) -> int:
    """How many entries the list at ``keys`` in ``kind`` has: the modulus the SQL picks one with."""
    value = load(kind)
    for key in keys:
        value = value[key]
    return len(value)
