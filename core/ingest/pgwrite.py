"""The write half of a PostgreSQL ingest (core/ingest/postgres.py): the named cursor's
batches into one Delta commit, registered in the catalog.

The first batch is fetched before the write lock is taken (a slow or failing query
holds no lock); under it the dataset is recovered, the plan rechecked, the schema gate
asked (core/ingest/evolve.py), then the batches stream to delta-rs. A failure of any
kind — the connection dropped, a cancel, a value that does not fit — discards the new
files, so no half dataset is ever committed.
"""

from __future__ import annotations

import hashlib
import sys
import queue
import threading

from core.datasets.register import register
from core.errors import IngestError, LakehouseError
from core.governance.contract_check import gate as contract_gate
from core.ingest import pgtypes
from core.ingest.evolve import SAMPLE_ROWS, gate
from core.ingest.postgres import _Unchanged, last_source, psycopg_error
from core.ingest.write import discard, first_line
from core.storage import faults
from core.storage.duck import columns_of_arrow
from core.storage.locks import write_lock
from core.storage.recovery import recover_dataset
from core.text import count

_MIN_ROWS, _START_ROWS = 16, 1024  # a first fetch small enough for very wide rows
_AHEAD = 2  # batches fetched ahead of the writer
# The rows of one fetch, as Python objects (sized from the first fetch): a few of them are
# alive at once (being fetched, queued, converted), so this bounds the stream's memory.
_FETCH_BYTES = 8 * 1024 * 1024


class _Prefetch:
    """Fetches the rows after the first batch on a thread of its own, at most _AHEAD
    fetches ahead of the writer (memory stays bounded), so the server computes the next
    rows while this process converts and writes the last ones. The cursor is used by this
    thread alone until `stop()` returns."""

    def __init__(self, w: "PgWrite", schema):
        self.w, self.schema = w, schema
        self.q: queue.Queue = queue.Queue(_AHEAD)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._work, name="postgres-fetch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _work(self) -> None:
        try:
            while not self.stopping.is_set():
                rows = self.w._fetch()
                self._put(("rows", rows))
                if not rows:
                    return
        except BaseException as e:  # handed to the writer's thread, which raises it
            self._put(("error", e))

    def _put(self, item) -> None:
        while not self.stopping.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self):
        """The next batch (None at the end): converted and hashed here, on the writer's
        thread, while the fetching thread already waits for the server's next rows."""
        kind, value = self.q.get()
        if kind == "error":
            raise value
        if not value:
            return None
        batch = self.w._batch(value, self.schema)
        self.w._hash(batch)
        return batch

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


class PgWrite:
    def __init__(self, run):
        self.run_, self.ing, self.src, self.job = run, run.ing, run.src, run.job
        self.mode, self.result, self.cols = run.mode, run.result, run.cols
        self.max_rows = max(_MIN_ROWS, int(self.ing.config.get("ingest.batch_rows")))
        self.n = min(_START_ROWS, self.max_rows)
        self.sized = False
        self.rows = self.nbytes = 0
        self.sha = hashlib.sha256()
        self.hashed_schema = False
        self.casts: dict[int, object] = {}  # column position -> the dataset's Arrow type

    def run(self) -> None:
        ing, src, job = self.ing, self.src, self.job
        self.cur = self.run_.conn.cursor(name=f"lakehouse_{job.id}", binary=True)
        self.cur.execute(self.run_.select())
        job.progress(0, self.run_.estimate(), "rows", f"reading {src.label} from {self.run_.where}", force=True)
        first = self._fetch()
        with write_lock(ing.root, on_wait=lambda: job.progress(message="waiting for another writer")):
            recover_dataset(ing.catalog, ing.tables, src.dataset)
            existing = ing.catalog.datasets.get(src.dataset)
            prev = None if src.by else last_source(ing, src)
            if self.mode == "create" and existing is not None and prev is not None:
                self._same_or_refuse(first, prev, existing)  # a re-run: identical rows are no change
                return
            mode, key = ing._target(src.dataset, self.mode, existing)
            schema, first_batch = self._schema(first, existing, mode)
            self._write(schema, first_batch, mode, key, prev)
        self.cur.close()

    # -- fetching --------------------------------------------------------------------
    def _fetch(self) -> list[tuple]:
        return self.cur.fetchmany(self.n)

    def _batch(self, rows: list[tuple], schema=None):
        """Fetched rows -> a RecordBatch (renamed and cast to the dataset's types), and the
        fetch size set from the first rows (_FETCH_BYTES of Python objects per fetch)."""
        import pyarrow as pa

        arrays = pgtypes.arrays(self.cols, rows, f"{self.src.shown} ({self.src.label})")
        for i, t in self.casts.items():
            try:
                arrays[i] = arrays[i].cast(t)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise IngestError(
                    f"{self.src.shown}: column {self.cols[i].name!r} ({self.cols[i].pg}): a value does not fit "
                    f"the type {t} it has in dataset {self.src.dataset} ({first_line(str(e))}) — cast it in "
                    "--query, or use --mode replace to start the dataset over (nothing was written)") from None
        batch = pa.RecordBatch.from_arrays(arrays, schema=schema) if schema is not None else \
            pa.RecordBatch.from_arrays(arrays, names=[self.ing.schema.rename(c.name) for c in self.cols])
        if rows and not self.sized:  # fetched rows are Python objects: ~5-10x their Arrow size
            self.sized = True
            sample = rows[:: max(1, len(rows) // 64)]
            per_row = sum(sys.getsizeof(r) + sum(map(sys.getsizeof, r)) for r in sample) / len(sample)
            self.n = int(min(self.max_rows, max(_MIN_ROWS, _FETCH_BYTES // max(per_row, 1))))
        return batch

    def _batches(self, first_batch, schema, failure: list):
        """The batches on their way to the writer, counted; progress and cancel checked
        between them. The next ones are fetched, converted and hashed on another thread
        meanwhile (the server, psycopg and the Parquet encoder work at once)."""
        job = self.job
        ahead = _Prefetch(self, schema) if first_batch is not None and first_batch.num_rows else None
        try:
            if ahead is not None:
                self._hash(first_batch)
                ahead.start()
            batch = first_batch
            while batch is not None and batch.num_rows:
                self.rows += batch.num_rows
                self.nbytes += batch.nbytes
                job.progress(self.rows)
                job.pause_point("write")
                faults.hook("postgres:batch")
                yield batch
                batch = ahead.next()
        except BaseException as e:  # surfaced to us after the writer aborts
            failure.append(e)
            raise
        finally:
            if ahead is not None:
                ahead.stop()

    def _hash(self, batch) -> None:
        """sha256 over the Arrow buffers (no copy), after the column names and types: equal
        rows written the same way, equal digest."""
        if not self.hashed_schema:
            self.hashed_schema = True
            self.sha.update(str(batch.schema).encode())
        for col in batch.columns:
            for buf in col.buffers():
                if buf is not None:
                    self.sha.update(buf)
        self.sha.update(batch.num_rows.to_bytes(8, "little"))

    # -- the schema ------------------------------------------------------------------
    def _schema(self, first: list[tuple], existing, mode: str):
        """The Arrow schema written (the user's column map applied, columns cast to the
        dataset's types on append/upsert), after the schema gate took the change."""
        import pyarrow as pa

        src, ing = self.src, self.ing
        opts = ing.schema
        names = [c.name for c in self.cols]
        unknown = [c for c in opts.column_map if c not in names]
        if unknown:
            raise IngestError(f"{src.shown}: --map names {', '.join(map(repr, unknown))}, which the "
                              f"{src.label} does not have — its columns are: {', '.join(names)}")
        out = [opts.rename(n) for n in names]
        clash = sorted({n for n in out if out.count(n) > 1})
        if clash:
            raise IngestError(f"{src.shown}: --map writes into {', '.join(map(repr, clash))}, which the "
                              f"{src.label} already has — map the other column too, or drop one of them")
        schema = pa.schema([pa.field(n, c.arrow) for n, c in zip(out, self.cols)])
        batch = self._batch(first) if first else None
        incoming = [(c.name, c.type) for c in columns_of_arrow(schema)]
        sample = {n: batch.column(i).to_pylist()[:SAMPLE_ROWS] for i, n in enumerate(out)} if batch else {}
        diff = gate(ing, src.dataset, existing, mode, incoming, sample, src.shown)
        if diff is not None:
            self.result.notes.append(f"schema changed: {diff.describe()}")
        if existing is not None and mode in ("append", "upsert"):
            have = {c.name: c.type for c in existing.columns}
            theirs = ing.tables.snapshot(src.dataset).arrow_schema
            for i, (n, t) in enumerate(incoming):
                if n in have and have[n].upper() != t.upper() and n in theirs.names:
                    self.casts[i] = theirs.field(n).type
            if self.casts:
                schema = pa.schema([pa.field(n, self.casts.get(i, f.type)) for i, (n, f) in
                                    enumerate(zip(out, schema))])
                batch = self._batch(first, schema) if first else None
        return schema, batch

    # -- writing ---------------------------------------------------------------------
    def _write(self, schema, first_batch, mode: str, key: list[str], prev: dict | None) -> None:
        import pyarrow as pa

        ing, src, job = self.ing, self.src, self.job
        existed, before = ing.tables.exists(src.dataset), ing.tables.data_files(src.dataset)
        source = {"uri": src.shown, "format": "postgres", **src.descriptor(),
                  "high_water": self.run_.mark, "sha256": None, "bytes": 0}
        meta = {"job": job.id, "mode": mode, "kind": "table", "format": "postgres",
                "source": "upsert" if mode == "upsert" else "ingest", **ing.who,
                "primary_key": key, "sources": [{**source, "rows": None}]}
        failure: list[BaseException] = []
        gen = self._batches(first_batch, schema, failure)
        if prev is not None and prev.get("sha256"):
            gen = self._unless_same(gen, prev["sha256"], failure)
        stream = pa.RecordBatchReader.from_batches(schema, gen)
        try:
            snap = self._commit(stream, mode, key, meta, existed)
        except Exception as e:
            failure.append(e)
        finally:
            gen.close()  # a write that stopped early leaves the fetching thread stopped too
        if failure:
            discard(ing.tables, src.dataset, existed, before)
            self._raise(failure[0], prev)
            return
        sha = self.sha.hexdigest()
        register(ing.catalog, src.dataset, snap, meta,
                 sources=[{**source, "rows": self.rows, "sha256": sha, "bytes": self.nbytes}], primary_key=key)
        r = self.result
        r.status, r.rows, r.table_version = "ingested", self.rows, snap.version
        what = src.table or "query"
        r.message = f"{what} -> {src.dataset}: {count(self.rows, 'row')} (version {snap.version})"
        if self.run_.mark:
            r.message += f", up to {src.by} = {self.run_.mark['value']}"
        r.notes.extend(self._type_notes())
        job.progress(self.rows, self.rows, "rows", r.message, force=True)

    def _unless_same(self, gen, sha: str, failure: list):
        """Pass the batches on; at the end, abort the commit when they hash like the last run's."""
        yield from gen
        if self.sha.hexdigest() == sha:
            failure.append(_Unchanged())
            raise _Unchanged()

    def _commit(self, stream, mode: str, key: list[str], meta: dict, existed: bool):
        tables, keyed_mb = self.ing.tables, self.ing.config.get("tables.keyed_file_mb")
        # a dataset with a contract: its rows are staged and checked before delta-rs sees one
        with contract_gate(self.ing, self.src.dataset, stream, mode, key, self.src.shown, self.job) as stream:
            if mode == "upsert" and existed:
                return tables.merge(self.src.dataset, stream, key, meta, keyed_mb)
            return tables.write(self.src.dataset, stream, replace=(mode == "replace"), meta=meta,
                                target_file_mb=keyed_mb if key else None)

    def _raise(self, err: BaseException, prev) -> None:
        """After a write that did not commit: unchanged, cancelled, or one sentence."""
        if isinstance(err, _Unchanged):
            self._unchanged()
            return
        self.job.check_cancel()
        if isinstance(err, LakehouseError):
            raise err
        if isinstance(err, psycopg_error()):
            raise IngestError(self.run_.explain(err)) from None
        raise IngestError(f"{self.src.shown}: writing dataset {self.src.dataset} failed "
                          f"({first_line(str(err))}) — nothing was written") from None

    def _unchanged(self) -> None:
        r, src = self.result, self.src
        r.status, r.rows = "unchanged", 0
        r.message = (f"{src.shown} ({src.label}): the same {count(self.rows, 'row')} as its last ingest "
                     f"into {src.dataset} — nothing written")
        self.job.progress(message=r.message, force=True)

    def _same_or_refuse(self, first: list[tuple], prev: dict, existing) -> None:
        """A create over a dataset this same source made: read the rows (writing nothing);
        the same rows are "unchanged", others are refused as an existing dataset."""
        failure: list[BaseException] = []
        batch = self._batch(first) if first else None
        for _ in self._batches(batch, None, failure):
            pass
        if self.sha.hexdigest() == prev.get("sha256"):
            self._unchanged()
            return
        self.ing._target(self.src.dataset, "create", existing)  # raises: it exists

    def _type_notes(self) -> list[str]:
        notes = []
        for c in self.cols:
            if c.typename in ("time", "interval") and c.kind == "plain":
                notes.append(f"column {c.name!r} ({c.pg}) stored as text")
            elif c.unconstrained:
                notes.append(f"column {c.name!r}: {c.pg}")
        return notes
