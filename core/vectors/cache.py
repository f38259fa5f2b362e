"""Loaded index generations, kept in memory and shared by every search in the process.

A generation loads on first use (its checksums verified) and stays until the memory
budget needs the room; the least recently used goes first. Evicting never changes
an answer, only the time of the next search. The key includes meta.json's mtime, so
a generation rebuilt by another process is reloaded, not served stale.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class Loaded:
    index: str
    gen: int
    meta: dict
    row_keys: Any  # pyarrow StringArray, one per label
    chunk_ids: Any
    texts: Any
    vectors: Any  # (n, dim) float32, normalised, memory-mapped
    ann: Any  # HnswIndex | ExactIndex
    exact: Any  # ExactIndex over `vectors` (for filtered exact scans)
    nbytes: int
    load_ms: float
    hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class VectorCache:
    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self._items: OrderedDict[tuple, Loaded] = OrderedDict()
        self._lock = threading.RLock()
        self.hits = self.misses = self.evictions = 0

    def get(self, index: str, gen: int, directory: Path, loader: Callable[[], Loaded]) -> Loaded:
        try:
            stamp = (directory / "meta.json").stat().st_mtime_ns
        except OSError:
            stamp = 0
        key = (index, gen, stamp)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                item.hits += 1
                return item
            self.misses += 1
            for old in [k for k in self._items if k[:2] == (index, gen)]:
                del self._items[old]  # a stale copy of a rebuilt generation
            item = loader()
            self._items[key] = item
            self._shrink(keep=key)
            return item

    def _shrink(self, keep: tuple) -> None:
        while len(self._items) > 1 and sum(i.nbytes for i in self._items.values()) > self.budget:
            oldest = next(k for k in self._items if k != keep)
            del self._items[oldest]
            self.evictions += 1

    def evict(self, index: str, gen: int | None = None) -> None:
        with self._lock:
            for k in [k for k in self._items if k[0] == index and (gen is None or k[1] == gen)]:
                del self._items[k]

    def loaded(self, index: str, gen: int) -> bool:
        with self._lock:
            return any(k[:2] == (index, gen) for k in self._items)

    def stats(self) -> dict:
        with self._lock:
            entries = [{"index": i.index, "gen": i.gen, "kind": i.ann.kind, "chunks": len(i.row_keys),
                        "bytes": i.nbytes, "load_ms": round(i.load_ms, 1), "hits": i.hits}
                       for i in self._items.values()]
            return {"entries": entries, "bytes": sum(e["bytes"] for e in entries), "budget": self.budget,
                    "hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                    "at": time.time()}
