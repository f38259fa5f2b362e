"""The storage root: created private to its user, and refused in one sentence when it
cannot be created or written."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import LakehouseError


def prepare(root: Path) -> None:
    try:
        # private by default: a new root and its tables are the user's alone (an existing
        # root keeps the modes its owner gave it)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / "tables").mkdir(exist_ok=True, mode=0o700)
    except OSError as e:
        raise LakehouseError(f"storage root {root} cannot be created ({e.strerror}) — "
                             "choose another with --home or LAKEHOUSE_HOME") from None
    if not os.access(root, os.W_OK):
        raise LakehouseError(f"storage root {root} is not writable — "
                             "choose another with --home or LAKEHOUSE_HOME")

