"""The catalog's SQLite connection: one lock around one WAL connection, autocommit
statements and all-or-nothing transactions. Every area's rows go through it."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

Statement = tuple[str, tuple]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Db:
    def __init__(self, path: Path, conn=None):
        """`conn`: an open autocommit DB-API connection to use instead (memory.sqlite's, which
        has sqlite-vec loaded)."""
        self.path = path
        self.lock = threading.RLock()
        self.conn = conn or sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, tuple(args)).fetchall()

    def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        """One statement; the number of rows it changed."""
        with self.lock:
            return self.conn.execute(sql, tuple(args)).rowcount

    def dicts(self, sql: str, args: Iterable[Any] = ()) -> list[dict]:
        with self.lock:
            cur = self.conn.execute(sql, tuple(args))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def transaction(self, statements: list[Statement]) -> None:
        """Run statements in one transaction: all or nothing."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.conn.execute(sql, args)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    @contextmanager
    def reading(self) -> Iterator["Db"]:
        """Several reads that see one consistent state (one read transaction)."""
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                yield self
            finally:
                self.conn.execute("COMMIT")
