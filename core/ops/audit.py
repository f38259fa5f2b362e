"""The audit log: every data access appended to `_audit`, without slowing the access.

Entries collect in memory and are written in one transaction every `interval`
seconds by a background thread, and on close. A clean exit loses nothing; a crash
loses at most the last interval's entries.
"""

from __future__ import annotations

import threading
import time

from core.errors import LakehouseError
from core.storage.catalog import Catalog
from core.storage.db import now


class AuditLog:
    def __init__(self, catalog: Catalog, profile: str, interval: float = 1.0):
        self.catalog, self.profile, self.interval = catalog, profile, interval
        self._buf: list[tuple] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # targets -> what a policy did to them ('' when nothing): set by a facade whose
        # profile a policy binds, so each masked access says so (outcome "masked")
        self.policy_note = None

    def record(self, action: str, targets, statement: str = "", rows: int | None = None,
               ms: float | None = None, outcome: str = "ok", error: str = "") -> None:
        note = ""
        if self.policy_note is not None and targets and outcome == "ok":
            try:
                note = self.policy_note(targets)
            except LakehouseError as e:  # the access went through; say why its note could not be made
                note = f"(policy not described: {e})"
            outcome = "masked" if note else outcome
        entry = (now(), self.profile, action, ",".join(sorted(set(targets or ()))), (statement or "")[:4000],
                 rows, None if ms is None else round(ms, 3), outcome, (error or "")[:1000], note[:1000])
        with self._lock:
            self._buf.append(entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="audit-flush", daemon=True)
                self._thread.start()

    def timed(self, action: str, targets, statement: str, fn, rows=None):
        """Run a data access and record it (ok, refused or failed). `targets` may be a
        callable, asked after the access; `rows` counts what it returned."""
        t0 = time.perf_counter()
        try:
            out = fn()
        except LakehouseError as e:
            targets = targets() if callable(targets) else targets
            self.record(action, targets, statement, None, (time.perf_counter() - t0) * 1000,
                        "refused" if e.refused else "failed", str(e))
            raise
        n = rows(out) if rows else None
        targets = targets() if callable(targets) else targets
        self.record(action, targets, statement, n, (time.perf_counter() - t0) * 1000)
        return out

    def streamed(self, action: str, targets, statement: str, open_reader):
        """Like `timed` for a pyarrow.RecordBatchReader: the entry is recorded when the
        stream ends (also when the reader stopped early), with the rows it carried."""
        import pyarrow as pa

        t0 = time.perf_counter()
        try:
            rdr = open_reader()
        except LakehouseError as e:
            self.record(action, targets(), statement, None, (time.perf_counter() - t0) * 1000,
                        "refused" if e.refused else "failed", str(e))
            raise
        touched = targets()

        def counted():
            n, outcome, error = 0, "ok", None
            try:
                for b in rdr:
                    n += b.num_rows
                    yield b
            except LakehouseError as e:  # failed while rows streamed (a cast, an interrupt)
                outcome, error = "failed", str(e)
                raise
            finally:  # also when the reader stopped early (`| head`)
                self.record(action, touched, statement, n, (time.perf_counter() - t0) * 1000, outcome, error)
        return pa.RecordBatchReader.from_batches(rdr.schema, counted())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._buf = self._buf, []
        if batch:
            try:
                self.catalog.audit.add(batch)
            except Exception:  # the catalog is busy or closing: keep the entries for the next flush
                with self._lock:
                    self._buf[:0] = batch

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
