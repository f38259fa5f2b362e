"""The file system under the storage root: how full it is (the System pane's health line).

What the root itself holds, by component, is `Lakehouse.disk_usage()`.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def filesystem(root: Path) -> dict[str, int]:
    """Bytes used and in all on the file system that holds `root`."""
    usage = shutil.disk_usage(root)
    return {"used": usage.used, "total": usage.total, "free": usage.free}
