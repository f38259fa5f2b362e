"""Disk use: what the storage root holds, by component, and how full the file system
under it is (the System pane's health line)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def filesystem(root: Path) -> dict[str, int]:
    """Bytes used and in all on the file system that holds `root`."""
    usage = shutil.disk_usage(root)
    return {"used": usage.used, "total": usage.total, "free": usage.free}


def by_component(root: Path) -> dict[str, int]:
    """Bytes under the storage root, by what holds them."""

    def size(path: Path) -> int:
        total = 0
        for dirpath, _, files in os.walk(path):
            for f in files:
                try:
                    total += os.path.getsize(os.path.join(dirpath, f))
                except OSError:
                    pass  # removed meanwhile
        return total
    out = {name: size(root / name) for name in ("tables", "vectors", "demo", "tmp")}
    out["catalog"] = sum(p.stat().st_size for p in root.glob("catalog.sqlite*"))
    return out
