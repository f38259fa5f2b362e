"""Ingest: source files -> Delta table -> one catalog commit.

Order of work for each source: hash (and detect encoding) -> skip if these exact
bytes are already in the dataset -> stream rows through DuckDB's reader into one
Delta commit -> register that commit in the catalog. A failure at any step leaves
neither data files nor catalog rows behind; a crash between the Delta commit and
the catalog commit is rolled forward by recovery (the commit names its sources).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import threading
from collections import deque
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from core.text import count
from core.query.cache import parse_size
from core.storage.catalog import Catalog
from core.config import Config
from core.storage import faults
from core.storage.duck import connect, delta_cast, memory_limit_bytes
from core.errors import Cancelled, IngestError, LakehouseError
from core.ops.jobs import Job, Jobs, Listener, narrowed
from core.storage.locks import write_lock
from core.models import IngestResult
from core.names import check_dataset_name, dataset_name_from_stem, quote_ident
from core.storage.recovery import recover_dataset
from core.datasets.register import register
from core.storage.tables import Tables
from core.ingest.detect import (DOCUMENT_FORMATS, BackgroundHash, detect_format, encoding_label, hash_file,
                     needs_transcoding, sample_encoding, scan, transcode, declared_encoding)
from core.ingest.documents import read_document
from core.ingest.jsoncheck import BackgroundJsonCheck, check_json
from core.ingest.paths import expand, has_magic
from core.ingest.sources import TabularSource, flatten_select, literal_path, prepare_csv

MODES = ("create", "append", "replace", "upsert")
_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])*$")
_MAX_WIDEN = 64  # mixed-type columns widened to text before giving up on inference
_HASH_INLINE = 64 * 1024 * 1024  # files up to this size are hashed before anything else
_READ_ROWS = 512  # most rows per Arrow batch from DuckDB: with the row cap, bounds a batch's bytes
_WIDE_ROW = "lakehouse: row too wide"  # the error() a row over the cap raises inside DuckDB
# delta-rs gathers rows into batches of 8,192 (DataFusion's batch size) and holds about four
# copies of one while writing: the rows in memory at once, whatever the file's compression.
_WRITER_ROWS = 8192
_WRITER_COPIES = 4


def changed(path: Path, before: os.stat_result) -> bool:
    """Whether the file at `path` is no longer the one `before` described (replaced,
    grown, truncated or rewritten)."""
    try:
        now = path.stat()
    except OSError:
        return True
    return (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
        before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)


def changed_error(path: Path) -> IngestError:
    return IngestError(f"{path} changed while it was being ingested — try again when it is no "
                       "longer being written")


def parse_types(spec: str | dict | None) -> dict[str, str]:
    """'id=BIGINT,price=DECIMAL(10,2)' -> {'id': 'BIGINT', 'price': 'DECIMAL(10,2)'}."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        parts, depth, cur = [], 0, ""
        for ch in spec:
            depth += ch == "("
            depth -= ch == ")"
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        items = []
        for p in parts:
            col, eq, typ = p.partition("=")
            if not eq or not col.strip() or not typ.strip():
                raise IngestError(f"--types: {p.strip()!r} is not col=TYPE — write e.g. "
                                  "--types id=BIGINT,price=DECIMAL(10,2)")
            items.append((col.strip(), typ.strip()))
    out = {}
    for col, typ in items:
        if not _TYPE_RE.match(typ):
            raise IngestError(f"--types: {typ!r} (for column {col!r}) is not a type — use a DuckDB "
                              "type such as BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP, BOOLEAN, DECIMAL(10,2)")
        out[col] = typ.upper()
    return out


def parse_key(key: str | list[str] | None) -> list[str]:
    """'id' / 'region,id' / ['region', 'id'] -> key columns."""
    if not key:
        return []
    cols = [k.strip() for k in (key.split(",") if isinstance(key, str) else key)]
    if not all(cols) or len(set(cols)) != len(cols):
        raise IngestError(f"--key {key!r} is not a list of distinct columns — write e.g. --key id "
                          "or --key region,id")
    return cols


def current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return ""


@dataclass
class _Plan:
    path: Path
    fmt: str
    dataset: str


class _AlreadyIngested(Exception):
    """Raised under the write lock when another process ingested the same bytes first."""


class Ingestor:
    def __init__(self, root: Path, config: Config, catalog: Catalog, tables: Tables, jobs: Jobs):
        self.root, self.config, self.catalog, self.tables, self.jobs = root, config, catalog, tables, jobs

    def ingest(self, paths: list[str | Path], *, name: str | None = None, fmt: str | None = None,
               types: str | dict | None = None, mode: str | None = None,
               key: str | list[str] | None = None, actor: str | None = None, reason: str = "",
               listener: Listener | None = None,
               cancel: threading.Event | None = None) -> list[IngestResult]:
        if mode is not None and mode not in MODES:
            raise IngestError(f"unknown mode {mode!r} — use one of: {', '.join(MODES)}")
        if name is not None:
            check_dataset_name(name)
        self.key = parse_key(key)
        self.who = {"actor": actor or current_user(), "reason": reason or ""}
        overrides = parse_types(types)
        if not paths:
            raise IngestError("nothing to ingest — give one or more files, directories or globs")
        found = expand(paths)
        files = found.files

        # entries a walk skipped (a symlink out of its folder, a symlink loop): one line each
        results: list[IngestResult] = [IngestResult(str(p), "", "skipped", message=note)
                                       for p, note in found.notes]
        plans: list[_Plan] = []
        for path, explicit in files:
            try:
                f = detect_format(path, fmt)
            except IngestError as e:
                if explicit:
                    self.catalog.add_error("ingest", str(e))
                    results.append(IngestResult(str(path), name or "", "failed", message=str(e)))
                else:  # a stray file in a walked directory is not worth failing for
                    results.append(IngestResult(str(path), "", "skipped",
                                                message=f"{path}: unknown file type; skipped"))
                continue
            if f in DOCUMENT_FORMATS:
                ds = name or "documents"
            else:
                ds = name or dataset_name_from_stem(path.stem)
            plans.append(_Plan(path, f, ds))
        if not plans and not any(r.status == "failed" for r in results):
            skipped = "".join(f"; {note}" for _, note in found.notes[:3])
            raise IngestError("no files of a known type in " + ", ".join(map(str, paths)) +
                              " — supported: csv, tsv, json/ndjson/jsonl, parquet, pdf, txt, md" + skipped)

        docs = [p for p in plans if p.fmt in DOCUMENT_FORMATS]
        tabular = [p for p in plans if p.fmt not in DOCUMENT_FORMATS]
        # Several files into one named dataset: the first creates, the rest append.
        first_for: dict[str, bool] = {}
        for plan in tabular:
            m = mode
            if plan.dataset in first_for and mode in (None, "create", "replace"):
                m = "append"
            first_for[plan.dataset] = True
            with narrowed(paths=[str(plan.path)], mode=m):  # a retry of its job redoes this file only
                results.append(self._table(plan, m, overrides, listener, cancel))
        by_ds: dict[str, list[_Plan]] = {}
        for plan in docs:
            by_ds.setdefault(plan.dataset, []).append(plan)
        for ds, group in by_ds.items():
            with narrowed(paths=[str(p.path) for p in group]):
                results.extend(self._documents(ds, group, mode, listener, cancel))
        return results

    # -- tables -----------------------------------------------------------------
    def _table(self, plan: _Plan, mode: str | None, overrides: dict[str, str],
               listener: Listener | None, cancel: threading.Event | None) -> IngestResult:
        result = IngestResult(str(plan.path), plan.dataset, "failed")
        src = None
        try:
            with self.jobs.run("ingest", plan.dataset, listener, cancel) as job:
                job.progress(0, None, "rows", f"reading {plan.path.name}", force=True)
                try:
                    stat = plan.path.stat()
                except OSError as e:
                    raise IngestError(f"{plan.path}: cannot be read ({e.strerror})") from None
                # Identical bytes mean an identical size: hash up front only when a source of
                # this size is already in the dataset (or hashing is cheap); otherwise hash
                # on the other core while the rows stream.
                sha, hasher = None, None
                if stat.st_size <= _HASH_INLINE or self.catalog.has_source_size(plan.dataset, stat.st_size):
                    sha = self._hash(plan.path)
                    if changed(plan.path, stat):
                        raise changed_error(plan.path)
                    if self.catalog.has_source(plan.dataset, sha):
                        result.status = "unchanged"
                        result.message = (f"{plan.path} is already ingested in {plan.dataset} "
                                          "(identical bytes) — nothing written")
                        job.progress(message=result.message, force=True)
                        return result
                existing = self.catalog.get(plan.dataset)
                mode = mode or "create"
                if mode == "create" and existing is not None:
                    raise IngestError(
                        f"dataset {plan.dataset} already exists (from {existing.source_uri}) — "
                        "use --mode append to add these rows or --mode replace to overwrite it")
                if existing is not None and existing.kind != "table":
                    raise IngestError(f"dataset {plan.dataset} holds documents, not table rows — "
                                      "ingest into another --name")
                key = self.key or (existing.primary_key if existing is not None else [])
                if existing is not None and self.key and existing.primary_key \
                        and self.key != existing.primary_key and mode != "replace":
                    raise IngestError(f"dataset {plan.dataset} is keyed by {', '.join(existing.primary_key)}, "
                                      f"not {', '.join(self.key)} — use its key, or --mode replace")
                if mode == "upsert" and not key:
                    raise IngestError(f"an upsert needs a key: pass --key COL[,COL] (dataset "
                                      f"{plan.dataset} declares none)")
                src = TabularSource(plan.path, plan.fmt, None, stat.st_size, types=dict(overrides))
                self._prepare(src, stat.st_size)
                if sha is None:
                    hasher = BackgroundHash(plan.path)
                job.progress(0, src.est_rows, "rows", f"ingesting {plan.path.name}", force=True)
                conform = {c.name: c.type for c in existing.columns} if (
                    existing is not None and mode in ("append", "upsert")) else {}
                source_meta = {"uri": str(plan.path), "sha256": sha, "bytes": stat.st_size,
                               "mtime_ns": stat.st_mtime_ns, "format": plan.fmt}
                src.stat = stat  # the file the hash is of: the rows must come from it too
                faults.hook("ingest:before-read")
                try:
                    snap, rows = self._write_table(plan.dataset, src, conform, mode, source_meta, job,
                                                   hasher, key)
                except _AlreadyIngested:
                    result.status = "unchanged"
                    result.message = (f"{plan.path} was just ingested in {plan.dataset} by another "
                                      "process (identical bytes) — nothing written")
                    job.progress(message=result.message, force=True)
                    return result
                result.status, result.rows, result.table_version = "ingested", rows, snap.version
                result.notes = src.notes
                result.message = (f"{plan.path.name} -> {plan.dataset}: {count(rows, 'row')} "
                                  f"(version {snap.version})")
                job.progress(rows, rows, "rows", result.message, force=True)
        except Cancelled:
            raise
        except LakehouseError as e:
            result.message = str(e)
        finally:
            if src is not None and src.read_path is not None:
                src.read_path.unlink(missing_ok=True)
        return result

    @staticmethod
    def _hash(path: Path) -> str:
        try:
            return hash_file(path)
        except OSError as e:
            raise IngestError(f"{path}: cannot be read ({e.strerror or e})") from None

    def _prepare(self, src: TabularSource, size: int) -> None:
        if size == 0:
            raise IngestError(f"{src.path} is empty — there are no rows to ingest")
        n = self.config.get("ingest.sample_bytes")
        if src.fmt in ("csv", "tsv", "json"):
            with open(src.path, "rb") as f:
                head = f.read(n)
            src.encoding = sample_encoding(src.path, head, at_eof=len(head) >= size)
            if needs_transcoding(src.encoding):
                # DuckDB reads UTF-8 and Latin-1 only: hand it a UTF-8 copy of a UTF-16/32 file.
                tmp = self.root / "tmp" / "ingest"
                tmp.mkdir(parents=True, exist_ok=True)
                src.read_path = tmp / f"{os.getpid()}-{threading.get_ident()}-{src.path.name}"
                transcode(src.path, src.encoding, src.read_path)
                src.notes.append(f"read as {encoding_label(src.encoding)} ({declared_encoding(head)[1]})")
                src.encoding = "utf-8"
                size = src.read_path.stat().st_size
                with open(src.read_path, "rb") as f:
                    head = f.read(n)
        if src.fmt in ("csv", "tsv"):
            prepare_csv(src, head, at_eof=len(head) >= size)
        elif src.fmt == "json":
            if not head.strip():
                raise IngestError(f"{src.path} is empty — there are no records to ingest")
            if src.encoding != "utf-8":
                raise IngestError(f"{src.path}: JSON must be UTF-8 and this file is not — "
                                  "re-save it as UTF-8 and ingest it again")
            src.whole_file_sample = size <= n
            src.json_array = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"["
            if size <= _HASH_INLINE:  # small: refuse before any work is done
                src.est_rows = check_json(src.path, src.read_path).records
            else:  # big: validated on the other core while the rows stream (see _write_table)
                src.json_check = BackgroundJsonCheck(src.path, src.read_path)
                src.est_rows = max(head.count(b"\n"), 1) * max(size // max(len(head), 1), 1)
        elif src.fmt == "parquet":
            try:
                import pyarrow.parquet as pq

                src.est_rows = pq.read_metadata(src.path).num_rows
            except Exception:
                src.est_rows = None  # the reader below names the problem

    def _recheck(self, dataset: str, mode: str, source_meta: dict, hasher: BackgroundHash | None) -> None:
        """Under the write lock: another process may have written this dataset since the
        plan was made (two ingests of the same file started together)."""
        if self.catalog.has_source_size(dataset, source_meta["bytes"]):
            sha = source_meta["sha256"] or (hasher.result() if hasher else None)
            if sha and self.catalog.has_source(dataset, sha):
                raise _AlreadyIngested()
        existing = self.catalog.get(dataset)
        if mode == "create" and existing is not None:
            raise IngestError(f"dataset {dataset} was just created by another process (from "
                              f"{existing.source_uri}) — use --mode append to add these rows or "
                              "--mode replace to overwrite it")

    def _select(self, con, src: TabularSource, conform: dict[str, str], dataset: str) -> str:
        """The full SELECT: flattened, cast to Delta-storable types, conformed on append."""
        read = src.read_path or src.path
        if has_magic(str(read)):  # DuckDB globs its paths: make sure it reads this one file
            hits = [r[0] for r in con.execute("SELECT file FROM glob(?)", [literal_path(read)]).fetchall()]
            if hits != [str(read)]:
                raise IngestError(f"{src.path}: DuckDB cannot read a file of this name literally "
                                  "(glob characters) — rename it and ingest it again")
        if src.types:
            bare = dataclasses.replace(src, types={}, text_columns=set())
            have = con.sql(f"SELECT * FROM {bare.from_sql()}").columns
            unknown = [c for c in src.types if c not in have]
            if unknown:
                raise IngestError(f"--types names column(s) {', '.join(map(repr, unknown))} that "
                                  f"{src.path.name} does not have — its columns are: {', '.join(have)}")
        rel = con.sql(f"SELECT * FROM {src.from_sql()}")
        cols, types = rel.columns, rel.types
        if src.fmt == "json":
            items = flatten_select(cols, types, src.path)
            if src.types:
                items = [self._cast_item(it, src.types) for it in items]
            flat = con.sql(f"SELECT {', '.join(items)} FROM {src.from_sql()}")
            base, cols, types = f"SELECT {', '.join(items)} FROM {src.from_sql()}", flat.columns, flat.types
        elif src.fmt == "parquet" and src.types:
            base = (f"SELECT {', '.join(self._cast_item(f'{quote_ident(c)} AS {quote_ident(c)}', src.types) for c in cols)} "
                    f"FROM {src.from_sql()}")
            r = con.sql(base)
            cols, types = r.columns, r.types
        else:
            base = f"SELECT * FROM {src.from_sql()}"
        if conform and not set(cols) & set(conform):
            raise IngestError(
                f"{src.path}: none of its columns ({', '.join(cols[:6])}{', …' if len(cols) > 6 else ''}) "
                f"are in dataset {dataset} ({', '.join(list(conform)[:6])}{', …' if len(conform) > 6 else ''}) "
                "— it looks like different data; ingest it under another --name")
        out = []
        for c, t in zip(cols, types):
            q = quote_ident(c)
            target = conform.get(c) or delta_cast(str(t))
            out.append(f"CAST({q} AS {target}) AS {q}" if target and target != str(t) else q)
        return f"SELECT {', '.join(out)} FROM ({base})"

    @staticmethod
    def _cast_item(item: str, types: dict[str, str]) -> str:
        expr, _, alias = item.rpartition(" AS ")
        name = alias.strip('"').replace('""', '"')
        return f"CAST({expr} AS {types[name]}) AS {alias}" if name in types else item

    def _write_table(self, dataset: str, src: TabularSource, conform: dict[str, str], mode: str,
                     source_meta: dict, job: Job, hasher: BackgroundHash | None, key: list[str]):
        import pyarrow as pa

        batch_rows = self.config.get("ingest.batch_rows")
        with write_lock(self.root, on_wait=lambda: job.progress(message="waiting for another writer")):
            recover_dataset(self.catalog, self.tables, dataset)
            self._recheck(dataset, mode, source_meta, hasher)
            existed = self.tables.exists(dataset)
            before = self.tables.data_files(dataset)
            limit = self.config.get("ingest.memory_limit")
            spill = self.root / "tmp" / "ingest" / f"duckdb-{os.getpid()}-{threading.get_ident()}"
            try:
                con = connect(limit, temp_directory=str(spill))
            except ValueError:
                raise IngestError(f"ingest.memory_limit {limit!r} is not a size — set it to e.g. "
                                  "'1GB' or '512MB' in lakehouse.toml") from None
            # Rows held by the writer at once (see _WRITER_ROWS) may take this many bytes.
            window_budget = memory_limit_bytes(con) // _WRITER_COPIES
            watch = ExitStack()  # a cancel interrupts the statement in flight (binding, key checks, reads)
            watch.enter_context(job.watching(con.interrupt))
            try:
                for _attempt in range(_MAX_WIDEN + 1):
                    failure: list[BaseException] = []
                    counted = [0]
                    try:
                        sql = self._select(con, src, conform, dataset)
                        if window_budget:
                            sql = self._cap_rows(con, sql, window_budget // _READ_ROWS)
                        if key:
                            self._check_key(con, sql, key, src)
                        rdr = con.sql(sql).to_arrow_reader(min(batch_rows, _READ_ROWS))
                    except LakehouseError:
                        raise
                    except Exception as e:  # the reader refused at bind time
                        failure.append(e)
                        rdr = None
                    if rdr is not None:
                        def batches(rdr=rdr, failure=failure, counted=counted):
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
                                    if window_budget and bytes_in > window_budget:
                                        raise _too_wide(src.path, bytes_in, rows_in, limit)
                                    job.progress(counted[0])
                                    job.pause_point("write")
                                    faults.hook("ingest:batch")
                                    yield b
                                if src.json_check is not None:  # invalid JSON never commits
                                    src.json_check.result()
                                # The rows read, the hash and the checks must all be of one file.
                                if hasher is not None:
                                    source_meta["sha256"] = hasher.result()
                                if src.stat is not None and changed(src.path, src.stat):
                                    raise changed_error(src.path)
                            except BaseException as e:  # surfaced to us after the writer aborts
                                failure.append(e)
                                raise
                        meta = {"job": job.id, "mode": mode, "kind": "table", "format": src.fmt,
                                "source": "upsert" if mode == "upsert" else "ingest", **self.who,
                                "primary_key": key, "sources": [{**source_meta, "rows": None}]}
                        stream = pa.RecordBatchReader.from_batches(rdr.schema, batches())
                        try:
                            if mode == "upsert" and existed:
                                snap = self.tables.merge(dataset, stream, key, meta,
                                                         self.config.get("tables.keyed_file_mb"))
                            else:
                                snap = self.tables.write(
                                    dataset, stream, replace=(mode == "replace"), meta=meta,
                                    target_file_mb=self.config.get("tables.keyed_file_mb") if key else None)
                        except Exception as e:
                            if not failure:
                                failure.append(e)
                    if not failure:
                        break
                    # The write did not commit: remove what it left, then decide.
                    self._discard(dataset, existed, before)
                    job.check_cancel()  # an interrupted statement is a cancel, not bad data
                    err = failure[0]
                    if isinstance(err, LakehouseError):
                        raise err
                    if src.json_check is not None:
                        src.json_check.result()  # DuckDB failed: the file's own fault, if any, first
                    if ("Invalid unicode" in str(err) or "not latin-1 encoded" in str(err)) \
                            and not src.fully_scanned and src.read_path is None:
                        # A byte past the sample contradicts its encoding: look at every byte.
                        src.encoding = scan(src.path, src.fmt).encoding
                        src.fully_scanned = True
                        continue
                    if _WIDE_ROW in str(err):
                        raise IngestError(
                            f"{src.path}: a row holds more than {window_budget // _READ_ROWS / 1024:,.0f} KiB "
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
                        continue
                    if conform and "Conversion Error" in str(err):
                        raise IngestError(
                            f"{src.path}: {_first(str(err))} — a value does not fit the type the "
                            f"column already has in dataset {dataset}; fix the file or use "
                            "--mode replace to start the dataset over") from None
                    if "Schema" in str(err) and "merge" in str(err).lower() or "Cannot cast" in str(err):
                        raise IngestError(f"{src.path}: its columns do not fit dataset {dataset} "
                                          f"({_first(str(err))}) — use --mode replace or another --name") from None
                    raise explained from None
                else:
                    raise IngestError(f"{src.path}: too many columns mix types to infer a schema — "
                                      "give --types for them")
            finally:
                watch.close()
                con.close()
                shutil.rmtree(spill, ignore_errors=True)
            rows = counted[0]
            register(self.catalog, dataset, snap, meta, sources=[{**source_meta, "rows": rows}],
                     primary_key=key)
        return snap, rows

    @staticmethod
    def _cap_rows(con, sql: str, cap: int) -> str:
        """`sql` refusing (inside DuckDB, before a batch of such rows is built in memory)
        any row whose text and binary values hold more than `cap` bytes: a compressed file's
        values are expanded only once they leave DuckDB."""
        rel = con.sql(f"SELECT * FROM ({sql}) LIMIT 0")
        widths = [f"coalesce(strlen({quote_ident(c)}), 0)" if str(t) == "VARCHAR" else
                  f"coalesce(octet_length({quote_ident(c)}), 0)"
                  for c, t in zip(rel.columns, rel.types) if str(t) in ("VARCHAR", "BLOB")]
        if not widths:
            return sql
        return (f"SELECT * FROM ({sql}) WHERE CASE WHEN {' + '.join(widths)} > {int(cap)} "
                f"THEN error('{_WIDE_ROW}') ELSE true END")

    @staticmethod
    def _check_key(con, sql: str, key: list[str], src: TabularSource) -> None:
        """Key columns exist, are never NULL and identify one row each in the source."""
        cols = con.sql(f"SELECT * FROM ({sql}) LIMIT 0").columns
        missing = [k for k in key if k not in cols]
        if missing:
            raise IngestError(f"{src.path}: key column(s) {', '.join(missing)} not found — its "
                              f"columns are: {', '.join(cols)}")
        ks = ", ".join(quote_ident(k) for k in key)
        nulls = " OR ".join(f"{quote_ident(k)} IS NULL" for k in key)
        row = con.sql(f"SELECT count(*) FROM ({sql}) WHERE {nulls}").fetchall()[0][0]
        if row:
            raise IngestError(f"{src.path}: {row} row(s) have no value for key {', '.join(key)} — "
                              "every row needs a key")
        dup = con.sql(f"SELECT {ks}, count(*) AS n FROM ({sql}) GROUP BY ALL HAVING count(*) > 1 "
                      f"ORDER BY n DESC LIMIT 1").fetchall()
        if dup:
            shown = ", ".join(f"{k} = {v!r}" for k, v in zip(key, dup[0][:-1]))
            raise IngestError(f"{src.path}: key {shown} appears {dup[0][-1]} times — each key may "
                              "appear once; fix the duplicates (nothing was written)")

    def _discard(self, dataset: str, existed: bool, before: set[str]) -> None:
        if existed:
            self.tables.remove_new_files(dataset, before)
        else:
            self.tables.drop_dir(dataset)

    # -- documents -------------------------------------------------------------
    def _documents(self, dataset: str, plans: list[_Plan], mode: str | None,
                   listener: Listener | None, cancel: threading.Event | None) -> list[IngestResult]:
        import pyarrow as pa

        results: list[IngestResult] = []
        try:
            with self.jobs.run("ingest", dataset, listener, cancel) as job:
                existing = self.catalog.get(dataset)
                if existing is not None and existing.kind != "documents":
                    raise IngestError(f"dataset {dataset} holds table rows, not documents — "
                                      "ingest documents with another --name")
                if mode == "create" and existing is not None:
                    raise IngestError(f"dataset {dataset} already exists — use --mode append "
                                      "or --mode replace")
                rows: list[dict] = []
                sources: list[dict] = []
                pending: list[IngestResult] = []
                limit = self.config.get("ingest.memory_limit")
                try:  # one document's text may take the share of memory a table's rows may
                    max_text = parse_size(limit) // _WRITER_COPIES if limit else 0
                except ValueError:
                    raise IngestError(f"ingest.memory_limit {limit!r} is not a size — set it to e.g. "
                                      "'1GB' or '512MB' in lakehouse.toml") from None
                job.progress(0, len(plans), "files", f"reading {len(plans)} document(s)", force=True)
                for i, plan in enumerate(plans):
                    res = IngestResult(str(plan.path), dataset, "failed")
                    results.append(res)
                    try:
                        try:
                            before = plan.path.stat()
                        except OSError as e:
                            raise IngestError(f"{plan.path}: cannot be read ({e.strerror})") from None
                        sc = scan(plan.path, plan.fmt)
                        if mode != "replace" and self.catalog.has_source(dataset, sc.sha256):
                            res.status = "unchanged"
                            res.message = (f"{plan.path} is already ingested in {dataset} "
                                           "(identical bytes) — nothing written")
                            continue
                        doc_rows, notes = read_document(plan.path, plan.fmt, sc.sha256, sc.encoding,
                                                        max_text, limit)
                        faults.hook("ingest:document-read")
                        if changed(plan.path, before):  # the text must be of the bytes hashed
                            raise changed_error(plan.path)
                    except IngestError as e:
                        res.message = str(e)
                        self.catalog.add_error("ingest", str(e), dataset=dataset, job_id=job.id)
                        continue
                    rows.extend(doc_rows)
                    sources.append({"uri": str(plan.path), "sha256": sc.sha256, "bytes": sc.bytes,
                                    "format": plan.fmt, "rows": len(doc_rows)})
                    res.rows, res.notes = len(doc_rows), notes
                    pending.append(res)
                    job.progress(i + 1)
                if not rows:
                    return results
                schema = pa.schema([("doc_id", pa.string()), ("path", pa.string()),
                                    ("page", pa.int32()), ("text", pa.string())])
                table = pa.Table.from_pylist(rows, schema=schema)
                m = "replace" if mode == "replace" else "append"
                meta = {"job": job.id, "mode": m, "kind": "documents", "format": "documents",
                        "source": "ingest", **self.who, "sources": sources}
                with write_lock(self.root, on_wait=lambda: job.progress(message="waiting for another writer")):
                    recover_dataset(self.catalog, self.tables, dataset)
                    existed, before = self.tables.exists(dataset), self.tables.data_files(dataset)
                    try:
                        snap = self.tables.write(dataset, table, replace=(m == "replace"), meta=meta)
                    except Exception as e:
                        self._discard(dataset, existed, before)
                        raise IngestError(f"writing documents to {dataset} failed: {_first(str(e))}") from None
                    register(self.catalog, dataset, snap, meta, sources=sources)
                for res in pending:
                    res.status, res.table_version = "ingested", snap.version
                    res.message = f"{Path(res.source).name} -> {dataset}: {res.rows} page(s)"
                job.progress(len(plans), len(plans), "files",
                             f"{len(pending)} document(s) -> {dataset} (version {snap.version})",
                             force=True)
        except Cancelled:
            raise
        except LakehouseError as e:
            for res in results:
                if res.status != "unchanged" and (res.status == "ingested" or not res.message):
                    res.status, res.message = "failed", str(e)
            if not results:
                results.append(IngestResult("", dataset, "failed", message=str(e)))
        return results


def _too_wide(path: Path, nbytes: int, rows: int, limit: str) -> IngestError:
    return IngestError(
        f"{path}: {rows:,} of its rows expand to {nbytes / 2**20:,.0f} MiB in memory (very long "
        f"values, e.g. a highly compressed file), more than ingest.memory_limit ({limit or 'the default'}) "
        "allows while writing — raise ingest.memory_limit in lakehouse.toml, or split the long values "
        "(nothing was written)")


def _first(msg: str) -> str:
    msg = re.sub(r"^[A-Za-z ]+Error: ", "", msg.strip())
    return msg.splitlines()[0] if msg else "unknown error"
