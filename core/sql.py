"""Sandboxed SQL: DuckDB in-process, every dataset a view by its name.

The connection is built from one catalog snapshot: views over each dataset's exact
data files, external access off (only those files may be read), configuration
locked. When the catalog's generation moves on, the next query gets a fresh
connection. Only read-only statements run; each query uses its own cursor, so the
connection is never shared by two threads.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from .catalog import Catalog
from .errors import SqlError
from .names import quote_ident

READ_ONLY = {"SELECT", "EXPLAIN"}
SYSTEM_TABLES = ("_errors", "_jobs", "_datasets")


def _esc(s: str) -> str:
    return s.replace("'", "''")


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{_esc(s)}'" for s in items) + "]"


class SqlEngine:
    def __init__(self, catalog: Catalog, root: Path, threads: int = 0, memory_limit: str = ""):
        self.catalog, self.root = catalog, root
        self.threads, self.memory_limit = threads, memory_limit
        self._con = None
        self._gen = -1
        self._arrow_views: dict = {}  # datasets read through delta-rs, not file lists
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _connection(self):
        gen = self.catalog.generation()
        with self._lock:
            if self._con is None or gen != self._gen:
                old = self._con
                self._con, self._gen = self._build(), gen
                if old is not None:
                    old.close()
            return self._con

    def _build(self):
        import duckdb

        gen, views = self.catalog.snapshot()
        tables = self.root / "tables"
        tmp = self.root / "tmp" / "duckdb"
        tmp.mkdir(parents=True, exist_ok=True)
        files = {v.name: [str(tables / v.name / f) for f in v.files] for v in views if v.reader == "files"}
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        if self.threads:
            config["threads"] = self.threads
        if self.memory_limit:
            config["memory_limit"] = self.memory_limit
        con = duckdb.connect(":memory:", config=config)
        # Data files are immutable (a new Delta version writes new files), so caching
        # their Parquet footers can never change an answer.
        con.execute("SET parquet_metadata_cache = true")
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET temp_directory = '{_esc(str(tmp))}'")
        con.execute(f"SET allowed_directories = {_sql_list([str(tmp)])}")
        con.execute(f"SET allowed_paths = {_sql_list([f for fs in files.values() for f in fs])}")
        self._arrow_views = {}
        for v in views:
            q = quote_ident(v.name)
            if v.reader == "delta":  # registered on each cursor (registrations are per connection)
                from deltalake import DeltaTable

                self._arrow_views[v.name] = DeltaTable(str(tables / v.name), version=v.version).to_pyarrow_dataset()
            elif v.files:
                # union_by_name reads every file's schema at bind: only when columns differ
                by_name = ", union_by_name = true" if v.mixed_schema else ""
                con.execute(f"CREATE VIEW {q} AS SELECT * FROM read_parquet({_sql_list(files[v.name])}{by_name})")
            else:  # an empty table: keep its columns
                sel = ", ".join(f"CAST(NULL AS {c.type}) AS {quote_ident(c.name)}" for c in v.columns)
                con.execute(f"CREATE VIEW {q} AS SELECT {sel or 'NULL AS empty'} WHERE false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    def _system_tables(self, cur, text: str) -> None:
        """Register the system tables the query names, fresh from the catalog."""
        lowered = text.lower()
        for t in SYSTEM_TABLES:
            if t in lowered:
                cur.register(t, self._system_arrow(t))

    def _system_arrow(self, t: str):
        import pyarrow as pa

        if t == "_datasets":
            rows = [d.to_dict() for d in self.catalog.datasets()]
            for r in rows:
                r["columns"] = ", ".join(f"{c['name']} {c['type']}" for c in r["columns"])
                r["tags"] = ", ".join(r["tags"])
            cols = ["name", "kind", "format", "source_uri", "content_hash", "columns", "row_count",
                    "bytes", "created_at", "updated_at", "table_version", "description", "owner", "tags"]
            return pa.table({c: [r[c] for r in rows] for c in cols}) if rows else pa.table(
                {c: pa.array([], pa.string()) for c in cols})
        names, rows = self.catalog.rows("errors" if t == "_errors" else "jobs")
        ts = pa.timestamp("ms", tz="UTC")
        arrays = []
        for i, n in enumerate(names):
            values = [r[i] for r in rows]
            if n in ("ts", "started_at", "finished_at"):
                arrays.append(pa.array(values, pa.string()).cast(ts))
            else:
                arrays.append(pa.array(values) if rows else pa.array([], pa.string()))
        return pa.table(arrays, names=names)

    def _check(self, con, text: str) -> None:
        if not text or not text.strip():
            raise SqlError("the query is empty — write a SELECT, e.g. SELECT * FROM <dataset> LIMIT 10")
        try:
            statements = con.extract_statements(text)
        except Exception as e:
            raise SqlError(_clean(e)) from None
        if len(statements) != 1:
            raise SqlError(f"the query has {len(statements)} statements — run one at a time")
        kind = statements[0].type.name
        if kind not in READ_ONLY:
            words = statements[0].query.split()
            if words and words[0].isalpha():  # the user's own word: INSTALL, not LOAD
                kind = words[0].upper()
            raise SqlError(
                f"{kind} statements are refused: SQL here is read-only (SELECT, WITH, FROM, DESCRIBE, "
                "SHOW, SUMMARIZE, EXPLAIN) — change data with `lakehouse ingest`, and bring files "
                "in with `lakehouse ingest PATH`")

    def _cursor(self, text: str):
        con = self._connection()
        self._check(con, text)
        cur = con.cursor()
        for name, dataset in self._arrow_views.items():
            cur.register(name, dataset)
        self._system_tables(cur, text)
        return cur

    def run(self, text: str):
        """Run one read-only query; return a pyarrow.Table."""
        cur = self._cursor(text)
        try:
            return cur.sql(text).to_arrow_table()
        except Exception as e:
            raise SqlError(_clean(e)) from None
        finally:
            cur.close()

    def stream(self, text: str, batch_rows: int = 65536):
        """Run one read-only query; return a pyarrow.RecordBatchReader that streams rows."""
        import pyarrow as pa

        cur = self._cursor(text)
        try:
            rdr = cur.sql(text).to_arrow_reader(batch_rows)
        except Exception as e:
            cur.close()
            raise SqlError(_clean(e)) from None

        def batches():
            try:
                for b in rdr:
                    yield b
            except Exception as e:
                raise SqlError(_clean(e)) from None
            finally:
                cur.close()
        return pa.RecordBatchReader.from_batches(rdr.schema, batches())


def _clean(e: BaseException) -> str:
    """DuckDB's message, first line(s), with file-access refusals explained."""
    msg = str(e).strip()
    if "file system operations are disabled" in msg or "disabled through configuration" in msg \
            or "external access" in msg.lower():
        m = re.search(r'"([^"]+)"', msg)
        what = f" ({m.group(1)})" if m else ""
        return (f"file access is disabled in Lakehouse SQL{what}: query datasets by name "
                "(`lakehouse datasets` lists them); to bring a file in, use `lakehouse ingest PATH`")
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    head = lines[0] if lines else "query failed"
    # keep DuckDB's own hints: "Did you mean ...?" and the caret context "LINE 1: ..."
    extra = [ln for ln in lines[1:4] if ln.startswith(("Did you mean", "LINE "))]
    if "does not exist" in head and not extra:
        extra.append("(`lakehouse datasets` lists the datasets)")
    return " ".join([head] + extra)
