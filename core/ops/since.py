"""`--since` values: a span back from now ('30m', '2h', '7d') or an ISO date/time."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from core.errors import LakehouseError


def parse_since(since: str) -> str:
    """'30m', '2h', '7d' or an ISO date/time -> an ISO timestamp (UTC) to compare with."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", since)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"s": timedelta(seconds=n), "m": timedelta(minutes=n), "h": timedelta(hours=n),
                 "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        return (datetime.now(timezone.utc) - delta).isoformat(timespec="milliseconds")
    try:
        dt = datetime.fromisoformat(since.strip())
    except ValueError:
        raise LakehouseError(f"--since {since!r} is not a time — use e.g. 30m, 2h, 7d or "
                             "2026-01-31T12:00") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time as the user meant it
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")
