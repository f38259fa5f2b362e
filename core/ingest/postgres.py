"""Ingest from a PostgreSQL server: a table or a query, streamed into one Delta commit.

Inside one READ ONLY, REPEATABLE READ transaction (so a query cannot write, and the key
checks, the high-water mark and the rows all see one snapshot): the query's columns are
mapped to Arrow types (core/ingest/pgtypes.py), then a server-side (named) cursor is
fetched in bounded batches, each turned column-wise into an Arrow RecordBatch and fed
straight to the Delta writer — memory stays bounded whatever the table's size. A
dropped connection, a cancel or a refused value leaves nothing written (the new files
are discarded), and the job, recorded with the redacted URL, can be retried.

Incremental (`--incremental-by COL`): the largest COL in the snapshot is asked first and
the rows past the previous run's mark up to it are fetched; the mark is written in the
commit's `sources` entry (the Delta commit meta, then the catalog lineage), so it is
atomic with the rows and survives crash recovery. A non-incremental source whose rows
hash (sha256 over the Arrow buffers) the same as its last ingest into the dataset
writes nothing.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass

from core.datasets.register import register
from core.errors import Cancelled, IngestError, LakehouseError
from core.ingest import pgtypes
from core.ingest.secrets import (Target, redact, scrub, secrets_password, target, url_password,
                                 without_password)
from core.models import IngestResult
from core.names import check_dataset_name, dataset_name_from_stem
from core.ops.jobs import Job, narrowed
from core.storage import faults
from core.storage.locks import write_lock
from core.storage.recovery import recover_dataset
from core.text import count

_ORDERABLE = {"int2", "int4", "int8", "numeric", "float4", "float8", "date", "timestamp",
              "timestamptz", "text", "varchar", "bpchar", "uuid", "oid"}
_TYPE_TEXT = re.compile(r"^[A-Za-z0-9_ ().,\"]+$")  # a stored high-water mark's type, as format_type wrote it


@dataclass
class PgSource:
    url: str  # as given: may hold a password, so it is never stored or shown
    shown: str  # the redacted URL: what lineage, jobs, errors and results hold
    table: str | None
    query: str | None
    by: str | None
    dataset: str

    @property
    def label(self) -> str:
        return f"table {self.table}" if self.table else "query"

    def descriptor(self) -> dict:
        """What makes two runs the same source (with the URL)."""
        return {"table": self.table, "query": self.query, "incremental_by": self.by}

    def inner(self):
        from psycopg import sql

        if self.table:
            return sql.SQL("SELECT * FROM {}").format(sql.Identifier(*self.table.split(".")))
        return sql.SQL(self.query)


_NOT_QUERIES = {"INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "COPY", "GRANT",
                "REVOKE", "CALL", "DO", "SET", "BEGIN", "COMMIT", "VACUUM", "ANALYZE", "REFRESH", "LOCK"}


def source_of(url: str, *, name: str | None, query: str | None, table: str | None,
              incremental_by: str | None, types: dict) -> PgSource:
    """The arguments checked (one sentence for each mistake) before anything connects."""
    shown = redact(url, safe=True)
    url_password(url)  # a URL that does not parse is refused here, redacted
    if types:
        raise IngestError("--types is for files — for a database source cast in --query instead, "
                          "e.g. SELECT price::numeric(10,2) AS price")
    if (query is None) == (table is None):
        raise IngestError(f"{shown}: give --table schema.name or --query \"SELECT …\" (one of them) "
                          "to say which rows to ingest")
    if table is not None:
        parts = table.split(".")
        if not 1 <= len(parts) <= 2 or not all(p.strip() for p in parts):
            raise IngestError(f"--table {table!r} is not a table name — write schema.name or name")
    if query is not None:
        query = query.strip()
        while query.endswith(";"):
            query = query[:-1].rstrip()
        if not query:
            raise IngestError("--query is empty — give one SELECT statement")
    if incremental_by is not None and not incremental_by.strip():
        raise IngestError("--incremental-by needs a column name")
    if name is None:
        if table is None:
            raise IngestError(f"{shown}: a --query needs a dataset name — give --name")
        name = dataset_name_from_stem(table.split(".")[-1])
    check_dataset_name(name)
    return PgSource(url, shown, table, query, incremental_by, name)


def ingest_postgres(ing, url: str, *, name: str | None, query: str | None, table: str | None,
                    incremental_by: str | None, mode: str | None, types: dict,
                    listener=None, cancel: threading.Event | None = None) -> list[IngestResult]:
    """Ingestor.ingest for a postgresql:// URL: one IngestResult."""
    src = source_of(url, name=name, query=query, table=table, incremental_by=incremental_by, types=types)
    if incremental_by and mode == "replace":
        raise IngestError("--incremental-by adds the rows past the last run — use --mode append "
                          "(its default) or --mode upsert --key COL, not replace")
    mode = mode or ("append" if incremental_by else "create")
    result = IngestResult(src.shown, src.dataset, "failed")
    # the job's recorded call (what `jobs retry` makes again) holds the redacted URL only
    with narrowed(paths=[src.shown]):
        try:
            with ing.jobs.run("ingest", src.dataset, listener, cancel) as job:
                _Run(ing, src, job, mode, result).run()
        except Cancelled:
            raise
        except LakehouseError as e:
            result.status, result.message = "failed", str(e)
            result.violations = getattr(e, "violations", [])  # a contract's rules, for JSON output
    return [result]


class _Unchanged(Exception):
    """The rows are those of the source's last ingest: abort the write, nothing committed."""


class _Run:
    """One ingest of one source (connection, checks, stream, commit)."""

    def __init__(self, ing, src: PgSource, job: Job, mode: str, result: IngestResult):
        self.ing, self.src, self.job, self.mode, self.result = ing, src, job, mode, result
        self.where: Target = target(src.url)
        self.password: str | None = None
        self.conn = None
        self.cols: list[pgtypes.PgColumn] = []
        self.filter = None  # the incremental WHERE (psycopg sql), or None
        self.mark: dict | None = None  # the high-water mark this run writes

    def run(self) -> None:
        job = self.job
        job.progress(0, None, "rows", f"connecting to {self.where}", force=True)
        self.conn = self._connect()
        try:
            with job.watching(self._cancel_query):
                self._prepare()
                if self.result.status == "unchanged":
                    return
                from core.ingest.pgwrite import PgWrite

                PgWrite(self).run()
            self.conn.commit()  # a read-only transaction: nothing on the server changes
        except psycopg_error() as e:
            job.check_cancel()
            raise IngestError(self.explain(e)) from None
        finally:
            self.conn.close()

    def _cancel_query(self) -> None:
        try:
            self.conn.cancel_safe()
        except Exception:  # the connection is gone already: the fetch in flight fails anyway
            pass

    # -- connecting ------------------------------------------------------------------
    def _connect(self):
        try:
            import psycopg
        except ImportError:
            raise IngestError("postgresql:// sources need psycopg 3 — install it with "
                              "pip install 'psycopg[binary]' (a dependency of lakehouse)") from None
        self.password = url_password(self.src.url) or secrets_password(
            self.ing.config.get("postgres.secrets_file"), self.where)
        kw = {"connect_timeout": max(1, int(self.ing.config.get("postgres.connect_timeout_s"))),
              "application_name": "lakehouse ingest"}
        if self.password:
            kw["password"] = self.password
        try:
            conn = psycopg.connect(without_password(self.src.url), autocommit=False, **kw)
        except psycopg.Error as e:
            raise IngestError(self._connect_error(e)) from None
        try:
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            # UTC and ISO text for the values read as text (high-water marks, intervals)
            conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
                         "SET statement_timeout = 0")
            pgtypes.register_loaders(conn)
        except psycopg.Error as e:
            conn.close()
            raise IngestError(self._connect_error(e)) from None
        return conn

    def _connect_error(self, e) -> str:
        msg, w = _msg(e, self), self.where
        low = msg.lower()
        if "password authentication failed" in low:
            return (f"PostgreSQL at {w} refused the password for user {w.user} — check PGPASSWORD, "
                    "~/.pgpass or the [postgres] secrets_file entry (nothing was written)")
        if "no password supplied" in low or "password is required" in low:
            return (f"PostgreSQL at {w} wants a password for user {w.user} and none was given — set "
                    f"PGPASSWORD, add {w.host}:{w.port}:{w.db}:{w.user}:PASSWORD to ~/.pgpass, or an entry "
                    f"\"{w.key()}\" to the [postgres] secrets_file — of the process that connects: a "
                    "daemon's own environment and home, not the client's (nothing was written)")
        if any(s in low for s in ("connection refused", "could not translate", "timeout expired",
                                  "no route to host", "name or service not known", "network is unreachable")):
            return (f"cannot reach a PostgreSQL server at {w.host}:{w.port} ({msg}) — is it running, "
                    "and are the host and port in the URL right? (nothing was written)")
        return f"cannot connect to PostgreSQL at {w}: {msg} (nothing was written)"

    def explain(self, e) -> str:
        """A server or connection error in one sentence, without the password."""
        import psycopg

        msg = _msg(e, self)
        if isinstance(e, psycopg.errors.QueryCanceled) and not (self.conn is None or self.conn.broken):
            return (f"{self.src.shown}: the server cancelled the {self.src.label} ({msg}) — nothing was "
                    f"written; retry job {self.job.id} to run it again")
        if isinstance(e, psycopg.OperationalError) or self.conn is None or self.conn.broken:
            return (f"the connection to PostgreSQL at {self.where} was lost ({msg}) — nothing was "
                    f"written; retry job {self.job.id} to run it again")
        if isinstance(e, psycopg.errors.SyntaxError) and self.src.query is not None:
            if re.search(r'at or near ";"', msg):
                return "--query holds more than one statement — give one SELECT (nothing was written)"
            first = (self.src.query.split() or [""])[0].upper()
            if first in _NOT_QUERIES:  # read as a subquery, another statement fails to parse
                return (f"{self.src.shown}: --query must be one SELECT (or WITH … SELECT), not "
                        f"{first[:20] or 'empty'} — nothing was run or written")
            return f"{self.src.shown}: --query does not parse: {msg} (nothing was written)"
        odd = re.search(r"cannot convert (NaN|infinity|-infinity) to bigint", msg, re.I)
        scaled = [c.name for c in self.cols if c.kind == "decimal_int"]
        if odd and scaled:
            return (f"{self.src.shown}: {'column ' + repr(scaled[0]) if len(scaled) == 1 else 'one of the columns ' + ', '.join(map(repr, scaled))} "
                    f"(numeric) holds {odd.group(1)}, which a decimal cannot hold — filter it or cast the "
                    f"column in --query, e.g. SELECT {scaled[0]}::float8 or {scaled[0]}::text (nothing was written)")
        if isinstance(e, psycopg.errors.ReadOnlySqlTransaction):
            return (f"{self.src.shown}: --query tried to change data ({msg}) — a query here only reads; "
                    "give a SELECT (nothing was written)")
        return f"{self.src.shown}: {self.src.label}: {msg} (nothing was written)"

    # -- what to fetch -----------------------------------------------------------------
    def _prepare(self) -> None:
        from psycopg import sql

        src, conn = self.src, self.conn
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM ({}) AS lh_src LIMIT 0").format(src.inner()))
            desc = cur.description
        if not desc:
            raise IngestError(f"{src.shown}: the {src.label} has no columns to ingest — give a SELECT "
                              "that names some")
        self.cols = pgtypes.plan(conn, desc, f"{src.shown} ({src.label})")
        if src.by is not None:
            self._incremental()
            if self.result.status == "unchanged":
                return
        pgtypes.decimal_scale(conn, self._filtered(), self.cols, f"{src.shown} ({src.label})")
        existing = self.ing.catalog.datasets.get(src.dataset)
        key = self.ing.key or (existing.primary_key if existing is not None else [])
        if key:
            self._check_key(key)

    def estimate(self) -> int | None:
        """The table's row count as the planner last counted it (for the progress bar), or None."""
        if not self.src.table or self.filter is not None:
            return None
        from psycopg import sql

        name = sql.Identifier(*self.src.table.split(".")).as_string(self.conn)
        row = self.conn.execute("SELECT reltuples::int8 FROM pg_class WHERE oid = to_regclass(%s)", (name,)).fetchone()
        return row[0] if row and row[0] and row[0] > 0 else None

    def _filtered(self):
        from psycopg import sql

        if self.filter is None:
            return self.src.inner()
        return sql.SQL("SELECT * FROM ({}) AS lh_in WHERE {}").format(self.src.inner(), self.filter)

    def select(self):
        """The statement the named cursor streams."""
        from psycopg import sql

        q = sql.SQL("SELECT {} FROM ({}) AS lh_src").format(
            sql.SQL(", ").join(c.select() for c in self.cols), self._filtered())
        if self.src.by is not None:
            q = sql.SQL("{} ORDER BY {}").format(q, sql.Identifier(self.src.by))
        return q

    def _incremental(self) -> None:
        from psycopg import sql

        src = self.src
        col = next((c for c in self.cols if c.name == src.by), None)
        if col is None:
            raise IngestError(f"{src.shown}: --incremental-by {src.by!r} is not a column of the "
                              f"{src.label} — its columns are: {', '.join(c.name for c in self.cols)}")
        if col.typename not in _ORDERABLE or col.kind.startswith("list"):
            raise IngestError(f"{src.shown}: --incremental-by {src.by!r} is a {col.pg} column — give a "
                              "number, date, timestamp or text column that grows with new rows")
        by = sql.Identifier(src.by)
        entry = last_source(self.ing, src) or {}
        prev = entry.get("high_water")
        if entry.get("log_gone"):
            value = mark_from_rows(self.ing, src)
            prev = {"value": value, "type": col.pg} if value is not None else None
        cond = None
        if prev is not None and _TYPE_TEXT.match(prev["type"]):
            cond = sql.SQL("{} > {}::{}").format(by, sql.Literal(prev["value"]), sql.SQL(prev["type"]))
        low = sql.SQL("SELECT * FROM ({}) AS lh_in WHERE {}").format(src.inner(), cond) if cond else src.inner()
        top = self.conn.execute(sql.SQL("SELECT max({})::text FROM ({}) AS lh_src").format(by, low)).fetchone()[0]
        if top is None and prev is not None:
            self.result.status = "unchanged"
            self.result.message = (f"{src.shown} ({src.label}): no rows past {src.by} = {prev['value']} "
                                   f"— nothing written to {src.dataset}")
            self.job.progress(message=self.result.message, force=True)
            return
        if top is not None:
            upto = sql.SQL("{} <= {}::{}").format(by, sql.Literal(top), sql.SQL(col.pg))
            # the first run also takes the rows without a value (later runs cannot tell them apart)
            upto = sql.SQL("({} OR {} IS NULL)").format(upto, by) if cond is None else upto
            cond = sql.SQL("{} AND {}").format(cond, upto) if cond is not None else upto
            self.mark = {"value": top, "type": col.pg}
        self.filter = cond

    def _check_key(self, key: list[str]) -> None:
        """On the server, before a row is streamed: the key columns exist, hold no NULL and
        no value twice."""
        from psycopg import sql

        src = self.src
        back = {self.ing.schema.rename(c.name): c.name for c in self.cols}
        missing = [k for k in key if k not in back]
        if missing:
            raise IngestError(f"{src.shown}: key column {', '.join(missing)} is not a column of the {src.label} "
                              f"— its columns are: {', '.join(c.name for c in self.cols)}")
        ids = [sql.Identifier(back[k]) for k in key]
        nulls = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(i) for i in ids)
        rows = sql.SQL("({}) AS lh_src").format(self._filtered())
        if self.conn.execute(sql.SQL("SELECT 1 FROM {} WHERE {} LIMIT 1").format(rows, nulls)).fetchone():
            raise IngestError(f"{src.shown}: key column {', '.join(key)} is NULL in some rows — "
                              "a key must identify every row (nothing was written)")
        dup = self.conn.execute(sql.SQL("SELECT {}::text FROM {} GROUP BY {} HAVING count(*) > 1 LIMIT 1").format(
            sql.SQL(" || ', ' || ").join(sql.SQL("{}::text").format(i) for i in ids), rows,
            sql.SQL(", ").join(ids))).fetchone()
        if dup:
            raise IngestError(f"{src.shown}: key {', '.join(key)} = {dup[0]} appears in more than one row "
                              "— a key must identify every row (nothing was written)")


def previous_mark(ing, src: PgSource) -> dict | None:
    """The high-water mark of this source's last incremental run into its dataset."""
    entry = last_source(ing, src)
    return (entry or {}).get("high_water")


def last_source(ing, src: PgSource) -> dict | None:
    """This source's entry in the commit of its last active ingest into the dataset (the
    Delta commit meta's `sources`, which crash recovery registers too)."""
    import json

    from core.storage.tables import META_KEY, _log_commit_info

    if ing.catalog.datasets.get(src.dataset) is None:
        return None
    want, gone = src.descriptor(), False
    for entry in reversed(ing.catalog.datasets.lineage(src.dataset)):
        if not entry.active or entry.source_uri != src.shown or entry.format != "postgres":
            continue
        info = _log_commit_info(ing.tables.path(src.dataset), entry.table_version)
        if info is None:  # the log file is gone (Delta's log retention): its entry is unknown
            gone = True
            continue
        try:
            meta = json.loads(info.get(META_KEY) or "{}")
        except ValueError:
            continue
        for s in meta.get("sources", []):
            if s.get("uri") == src.shown and all(s.get(k) == v for k, v in want.items()):
                return {**s, "sha256": s.get("sha256") or entry.content_hash}
    return {"log_gone": True} if gone else None


def mark_from_rows(ing, src: PgSource) -> str | None:
    """When the commit holding the last mark has left the Delta log: the largest value of
    the column in the dataset's rows, as PostgreSQL text (the rows hold what was fetched)."""
    from datetime import date, datetime
    from decimal import Decimal

    import pyarrow.compute as pc

    from core.storage.tables import open_at

    ds = ing.catalog.datasets.get(src.dataset)
    col = ing.schema.rename(src.by)
    if ds is None or col not in {c.name for c in ds.columns}:
        return None
    data = open_at(ing.tables.path(src.dataset), src.dataset, upto=ds.table_version).to_pyarrow_dataset()
    v = pc.max(data.to_table(columns=[col]).column(0)).as_py()
    if v is None:
        return None
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return format(v, "f") if isinstance(v, Decimal) else str(v)


def psycopg_error():
    import psycopg

    return psycopg.Error


def _msg(e, run) -> str:
    """An error's own first line (its primary message), scrubbed of the URL and password."""
    diag = getattr(e, "diag", None)
    text = (getattr(diag, "message_primary", None) or str(e)).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    text = lines[0] if lines else type(e).__name__
    text = re.sub(r'^connection to server at "[^"]*"(, port \d+)? failed: ', "", text)
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    return scrub(text, run.src.url, run.password)[:300]


def label_count(rows: int) -> str:
    return count(rows, "row")
