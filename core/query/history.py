"""The SQL history: each query that ran, one JSON line, in <root>/history/sql.jsonl.

A line: {"ts", "sql", "rows", "ms", "profile"}. Appended by the SQL pane after a query
shows its result; read back newest first, each query once.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path


def history_file(root: Path) -> Path:
    return Path(root) / "history" / "sql.jsonl"


def remember(root: Path, sql: str, rows: int, elapsed: float, profile: str) -> None:
    """Append a query that ran (elapsed in seconds)."""
    path = history_file(root)
    path.parent.mkdir(exist_ok=True)
    entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"), "sql": sql, "rows": rows,
             "ms": round(elapsed * 1000, 1), "profile": profile}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def recall(root: Path) -> list[dict]:
    """Past queries, newest first, each once."""
    path = history_file(root)
    if not path.exists():
        return []
    seen, out = set(), []
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if e["sql"] not in seen:
            seen.add(e["sql"])
            out.append(e)
    return out
