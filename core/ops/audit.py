"""The audit log: every data access appended to `_audit`, without slowing the access.

Entries collect in memory and are written in one transaction every `interval`
seconds by a background thread, and on close. A clean exit loses nothing; a crash
loses at most the last interval's entries.
"""

from __future__ import annotations

import threading

from core.storage.catalog import Catalog, now


class AuditLog:
    def __init__(self, catalog: Catalog, profile: str, interval: float = 1.0):
        self.catalog, self.profile, self.interval = catalog, profile, interval
        self._buf: list[tuple] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, action: str, targets, statement: str = "", rows: int | None = None,
               ms: float | None = None, outcome: str = "ok", error: str = "") -> None:
        entry = (now(), self.profile, action, ",".join(sorted(set(targets or ()))), (statement or "")[:4000],
                 rows, None if ms is None else round(ms, 3), outcome, (error or "")[:1000])
        with self._lock:
            self._buf.append(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-flush", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._buf = self._buf, []
        if batch:
            try:
                self.catalog.add_audit(batch)
            except Exception:  # the catalog is busy or closing: keep the entries for the next flush
                with self._lock:
                    self._buf[:0] = batch

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
