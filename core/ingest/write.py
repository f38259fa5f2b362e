"""Ingest's table write: one source's rows into one Delta commit, registered in the catalog.

Under the write lock: recover the dataset, recheck the plan against what another process
may have written meanwhile, then stream the rows through DuckDB's reader into the Delta
writer. A failed attempt leaves no files behind and is then either tried again (a byte
past the sample contradicted its encoding, or a column mixes types and is widened to
text) or said in one sentence. A cancel interrupts the statement in flight.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections import deque
from contextlib import ExitStack

from core.datasets.register import register
from core.errors import IngestError, LakehouseError
from core.governance.contract_check import gate as contract_gate
from core.ingest.detect import BackgroundHash, changed, changed_error, scan
from core.ingest.evolve import SAMPLE_ROWS, gate
from core.ingest.select import WIDE_ROW, cap_rows, check_key, select_sql
from core.ingest.sources import TabularSource
from core.ops.jobs import Job
from core.storage import faults
from core.storage.duck import connect, memory_limit_bytes
from core.storage.locks import write_lock
from core.storage.recovery import recover_dataset

_MAX_WIDEN = 64  # mixed-type columns widened to text before giving up on inference
_READ_ROWS = 512  # most rows per Arrow batch from DuckDB: with the row cap, bounds a batch's bytes
# delta-rs gathers rows into batches of 8,192 (DataFusion's batch size) and holds about four
# copies of one while writing: the rows in memory at once, whatever the file's compression.
_WRITER_ROWS = 8192
WRITER_COPIES = 4


class AlreadyIngested(Exception):
    """Raised under the write lock when another process ingested the same bytes first."""


class TableWrite:
    """One tabular source into `dataset`: `run()` returns (the Delta snapshot, rows written).
    `ing` is the Ingestor: its root, config, catalog, tables and who (actor, reason)."""

    def __init__(self, ing, dataset: str, src: TabularSource, conform: dict[str, str], mode: str,
                 source_meta: dict, job: Job, hasher: BackgroundHash | None, key: list[str]):
        self.ing, self.dataset, self.src, self.conform, self.mode = ing, dataset, src, conform, mode
        self.source_meta, self.job, self.hasher, self.key = source_meta, job, hasher, key
        self.batch_rows = ing.config.get("ingest.batch_rows")

    def run(self):
        ing, job, dataset = self.ing, self.job, self.dataset
        with write_lock(ing.root, on_wait=lambda: job.progress(message="waiting for another writer")):
            recover_dataset(ing.catalog, ing.tables, dataset)
            self._recheck()
            self.existed = ing.tables.exists(dataset)
            self.before = ing.tables.data_files(dataset)
            self.limit = ing.config.get("ingest.memory_limit")
            spill = ing.root / "tmp" / "ingest" / f"duckdb-{os.getpid()}-{threading.get_ident()}"
            try:
                con = connect(self.limit, temp_directory=str(spill))
            except ValueError:
                raise IngestError(f"ingest.memory_limit {self.limit!r} is not a size — set it to e.g. "
                                  "'1GB' or '512MB' in lakehouse.toml") from None
            # Rows held by the writer at once (see _WRITER_ROWS) may take this many bytes.
            self.window_budget = memory_limit_bytes(con) // WRITER_COPIES
            watch = ExitStack()  # a cancel interrupts the statement in flight (binding, key checks, reads)
            watch.enter_context(job.watching(con.interrupt))
            try:
                snap, meta, rows = self._attempts(con)
            finally:
                watch.close()
                con.close()
                shutil.rmtree(spill, ignore_errors=True)
            register(ing.catalog, dataset, snap, meta, sources=[{**self.source_meta, "rows": rows}],
                     primary_key=self.key)
        return snap, rows

    def _recheck(self) -> None:
        """Under the write lock: another process may have written this dataset since the
        plan was made (two ingests of the same file started together)."""
        catalog, dataset, source_meta, hasher = self.ing.catalog, self.dataset, self.source_meta, self.hasher
        if catalog.datasets.has_source_size(dataset, source_meta["bytes"]):
            sha = source_meta["sha256"] or (hasher.result() if hasher else None)
            if sha and catalog.datasets.has_source(dataset, sha):
                raise AlreadyIngested()
        existing = catalog.datasets.get(dataset)
        if self.mode == "create" and existing is not None:
            raise IngestError(f"dataset {dataset} was just created by another process (from "
                              f"{existing.source_uri}) — use --mode append to add these rows or "
                              "--mode replace to overwrite it")

    def _attempts(self, con):
        """Read and write until an attempt commits: (snapshot, commit meta, rows)."""
        import pyarrow as pa

        src, mode, key = self.src, self.mode, self.key
        for _attempt in range(_MAX_WIDEN + 1):
            failure: list[BaseException] = []
            counted = [0]
            rdr = self._reader(con, failure)
            if rdr is not None:
                meta = {"job": self.job.id, "mode": mode, "kind": "table", "format": src.fmt,
                        "source": "upsert" if mode == "upsert" else "ingest", **self.ing.who,
                        "primary_key": key, "sources": [{**self.source_meta, "rows": None}]}
                stream = pa.RecordBatchReader.from_batches(rdr.schema, self._batches(rdr, failure, counted))
                try:
                    snap = self._commit(stream, meta)
                except Exception as e:
                    if not failure:
                        failure.append(e)
            if not failure:
                return snap, meta, counted[0]
            # The write did not commit: remove what it left, then decide.
            discard(self.ing.tables, self.dataset, self.existed, self.before)
            self.job.check_cancel()  # an interrupted statement is a cancel, not bad data
            self._retry_or_raise(failure[0])
        raise IngestError(f"{src.path}: too many columns mix types to infer a schema — "
                          "give --types for them")

    def _reader(self, con, failure: list):
        """DuckDB's Arrow reader over the full SELECT, or None with the bind error in `failure`."""
        try:
            self._check_schema(con)
            sql = select_sql(con, self.src, self.conform, self.dataset, self.ing.schema.column_map)
            if self.window_budget:
                sql = cap_rows(con, sql, self.window_budget // _READ_ROWS)
            if self.key:
                check_key(con, sql, self.key, self.src)
            return con.sql(sql).to_arrow_reader(min(self.batch_rows, _READ_ROWS))
        except LakehouseError:
            raise
        except Exception as e:  # the reader refused at bind time
            failure.append(e)
            return None

    def _check_schema(self, con) -> None:
        """Before a row is written: the source's columns against the dataset's, refused or
        taken by the ingest's schema-change policy (core/ingest/evolve.py)."""
        existing = self.ing.catalog.datasets.get(self.dataset)
        if existing is None:
            return
        raw = con.sql(select_sql(con, self.src, {}, self.dataset, self.ing.schema.column_map))
        incoming = [(c, str(t)) for c, t in zip(raw.columns, raw.types)]
        have = {c.name for c in existing.columns}
        sample = None
        if any(c not in have for c, _ in incoming) and have - set(raw.columns):
            sample = raw.limit(SAMPLE_ROWS).to_arrow_table().to_pydict()  # evidence of renames
        diff = gate(self.ing, self.dataset, existing, self.mode, incoming, sample, str(self.src.path))
        if diff is not None and not any(n.startswith("schema changed") for n in self.src.notes):
            self.src.notes.append(f"schema changed: {diff.describe()}")

    def _batches(self, rdr, failure: list, counted: list):
        """The batches on their way to the writer: the writer's window of rows kept within
        memory, progress and cancel checked; the file's checks all pass before it ends."""
        src, job, budget = self.src, self.job, self.window_budget
        window: deque = deque()  # (rows, bytes) of the latest batches
        rows_in, bytes_in = 0, 0
        try:
            for b in rdr:
                counted[0] += b.num_rows
                window.append((b.num_rows, b.nbytes))
                rows_in, bytes_in = rows_in + b.num_rows, bytes_in + b.nbytes
                while rows_in - window[0][0] >= _WRITER_ROWS:
                    r, n = window.popleft()
                    rows_in, bytes_in = rows_in - r, bytes_in - n
                if budget and bytes_in > budget:
                    raise _too_wide(src.path, bytes_in, rows_in, self.limit)
                job.progress(counted[0])
                job.pause_point("write")
                faults.hook("ingest:batch")
                yield b
            if src.json_check is not None:  # invalid JSON never commits
                src.json_check.result()
            # The rows read, the hash and the checks must all be of one file.
            if self.hasher is not None:
                self.source_meta["sha256"] = self.hasher.result()
            if src.stat is not None and changed(src.path, src.stat):
                raise changed_error(src.path)
        except BaseException as e:  # surfaced to us after the writer aborts
            failure.append(e)
            raise

    def _commit(self, stream, meta: dict):
        tables, keyed_mb = self.ing.tables, self.ing.config.get("tables.keyed_file_mb")
        # a dataset with a contract: its rows are staged and checked before delta-rs sees one
        with contract_gate(self.ing, self.dataset, stream, self.mode, self.key, self.src.path.name, self.job) as stream:
            if self.mode == "upsert" and self.existed:
                return tables.merge(self.dataset, stream, self.key, meta, keyed_mb)
            return tables.write(self.dataset, stream, replace=(self.mode == "replace"), meta=meta,
                                target_file_mb=keyed_mb if self.key else None)

    def _retry_or_raise(self, err: BaseException) -> None:
        """After a failed attempt: return to try again (the whole file scanned for its
        encoding, or a mixed-type column read as text), else raise one sentence."""
        src, dataset, limit = self.src, self.dataset, self.limit
        if isinstance(err, LakehouseError):
            raise err
        if src.json_check is not None:
            src.json_check.result()  # DuckDB failed: the file's own fault, if any, first
        if ("Invalid unicode" in str(err) or "not latin-1 encoded" in str(err)) \
                and not src.fully_scanned and src.read_path is None:
            # A byte past the sample contradicts its encoding: look at every byte.
            src.encoding = scan(src.path, src.fmt).encoding
            src.fully_scanned = True
            return
        if WIDE_ROW in str(err):
            raise IngestError(
                f"{src.path}: a row holds more than {self.window_budget // _READ_ROWS / 1024:,.0f} KiB "
                f"of text (very long values, e.g. a highly compressed file), more than "
                f"ingest.memory_limit ({limit}) allows while writing — raise "
                "ingest.memory_limit in lakehouse.toml, or split the long values "
                "(nothing was written)") from None
        if "Out of Memory" in str(err):
            raise IngestError(
                f"{src.path}: reading it needs more memory than ingest.memory_limit "
                f"({limit}) allows — raise ingest.memory_limit in lakehouse.toml, or "
                "split the file (nothing was written)") from None
        explained = src.explain(err)
        if isinstance(explained, str):
            src.text_columns.add(explained)
            src.notes.append(f"column {explained!r} mixes types; stored as text")
            return
        if self.conform and "Conversion Error" in str(err):
            raise IngestError(
                f"{src.path}: {first_line(str(err))} — a value does not fit the type the "
                f"column already has in dataset {dataset}; fix the file or use "
                "--mode replace to start the dataset over") from None
        if "Schema" in str(err) and "merge" in str(err).lower() or "Cannot cast" in str(err):
            raise IngestError(f"{src.path}: its columns do not fit dataset {dataset} "
                              f"({first_line(str(err))}) — use --mode replace or another --name") from None
        raise explained from None


def discard(tables, dataset: str, existed: bool, before: set[str]) -> None:
    """Remove what a write that did not commit left behind."""
    if existed:
        tables.remove_new_files(dataset, before)
    else:
        tables.drop_dir(dataset)


def _too_wide(path, nbytes: int, rows: int, limit: str) -> IngestError:
    return IngestError(
        f"{path}: {rows:,} of its rows expand to {nbytes / 2**20:,.0f} MiB in memory (very long "
        f"values, e.g. a highly compressed file), more than ingest.memory_limit ({limit or 'the default'}) "
        "allows while writing — raise ingest.memory_limit in lakehouse.toml, or split the long values "
        "(nothing was written)")


def first_line(msg: str) -> str:
    """An error's first line without its "SomethingError: " prefix."""
    msg = re.sub(r"^[A-Za-z ]+Error: ", "", msg.strip())
    return msg.splitlines()[0] if msg else "unknown error"
