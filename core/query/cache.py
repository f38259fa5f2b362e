"""The hot cache: pinned datasets copied into DuckDB memory, least recently used
evicted past the limit. Only a speed layer: a dataset's view points at its cached
copy while that copy is of the current version; any change drops it (SqlEngine._sync),
and dropping or evicting never changes an answer, only the time it takes."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from core.names import quote_ident


def parse_size(text: str) -> int:
    """'2GB', '512 MB', '0' -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*", text or "0", re.IGNORECASE)
    if not m:
        raise ValueError(text)
    unit = (m.group(2) or "B").upper().replace("I", "").rstrip("B") or "B"
    return int(float(m.group(1)) * {"B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[unit])


@dataclass
class CacheEntry:
    name: str
    bytes: int
    rows: int
    loaded_at: float
    last_used: float
    load_ms: float


class HotCache:
    def __init__(self, limit: int, restore_view):
        """`restore_view(con, name)` points a dataset's view back at its files."""
        self.limit = limit
        self._restore_view = restore_view
        self.evictions = 0
        self.pinned: set[str] = set()
        self.entries: dict[str, CacheEntry] = {}
        self.hits = 0
        self.misses = 0
        self.too_big: set[str] = set()

    @staticmethod
    def _table(name: str) -> str:
        return f"_cache.{quote_ident(name)}"

    def use(self, con, name: str, source_sql: str) -> None:
        """A query reads pinned `name`: count a hit, or load it (a miss)."""
        entry = self.entries.get(name)
        if entry is not None:
            self.hits += 1
            entry.last_used = time.monotonic()
            return
        self.misses += 1
        if name in self.too_big or self.limit <= 0:
            return
        t0 = time.perf_counter()
        before = _table_memory(con)
        con.execute(f"CREATE OR REPLACE TABLE {self._table(name)} AS {source_sql}")
        size = max(_table_memory(con) - before, 0)
        rows = con.execute(f"SELECT count(*) FROM {self._table(name)}").fetchall()[0][0]
        if size > self.limit:  # never fits: keep reading it from its files
            con.execute(f"DROP TABLE {self._table(name)}")
            self.too_big.add(name)
            return
        now = time.monotonic()
        self.entries[name] = CacheEntry(name, size, rows, now, now, (time.perf_counter() - t0) * 1000)
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT * FROM {self._table(name)}")
        self._evict(con)

    def _evict(self, con) -> None:
        """Least recently used first, until the copies fit the limit again."""
        while sum(e.bytes for e in self.entries.values()) > self.limit and len(self.entries) > 1:
            victim = min(self.entries.values(), key=lambda e: e.last_used)
            self.drop(con, victim.name)
            self._restore_view(con, victim.name)
            self.evictions += 1

    def drop(self, con, name: str) -> bool:
        """Forget the cached copy (the caller re-points the view at the files)."""
        self.too_big.discard(name)
        if self.entries.pop(name, None) is None:
            return False
        con.execute(f"DROP TABLE IF EXISTS {self._table(name)}")
        return True

    def stats(self) -> dict:
        return {"limit_bytes": self.limit, "used_bytes": sum(e.bytes for e in self.entries.values()),
                "hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "pinned": sorted(self.pinned), "too_big": sorted(self.too_big),
                "cached": [e.__dict__ for e in sorted(self.entries.values(), key=lambda e: -e.last_used)]}


def _table_memory(con) -> int:
    row = con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                      "WHERE tag = 'IN_MEMORY_TABLE'").fetchall()[0]
    return int(row[0])
