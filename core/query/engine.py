"""Sandboxed SQL: DuckDB in-process, every dataset a view by its name.

One long-lived in-memory connection per engine: external access off except for
exactly the data files of the datasets the profile sees (and the profile's own spill
directory), configuration locked. That is the second layer behind the statement check
(core/query/gate.py):
even a statement that slipped past the check could not reach a Delta log, the catalog
or another profile's files (docs/threat-model.md). A new data file (after a write)
therefore means a new connection: allowed paths cannot change once locked. Views follow the catalog: when its generation moves on, the views of the
datasets that changed are replaced (and their cached copies dropped). Only
read-only statements run; each query uses its own cursor, so the connection is
never shared by two threads.

Time travel: `"name@v3"` or `"name@2026-11-21T10:00"` in a query, or `as_of=` for a
whole query, read a dataset as of a version or a timestamp through delta-rs.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core import access
from core.query.cache import HotCache
from core.query.shaping import Shaping
from core.query.gate import check_query
from core.query.messages import clean_error
from core.datasets.rows import ViewSpec
from core.storage.catalog import Catalog
from core.errors import Hint, SqlError
from core.names import quote_ident, sql_str

SYSTEM_TABLES = ("_datasets", "_jobs", "_errors", "_journal", "_indexes", "_index_events", "_asks", "_audit",
                 "_trials", "_columns")
_AT = re.compile(r'"([a-z][a-z0-9_]{0,62})@([^"]+)"')


@dataclass(frozen=True)
class Limits:
    """What one query may cost: checked before planning (size, blocks) and while it
    runs (time; memory is DuckDB's memory_limit on the connection)."""
    timeout_s: float = 300.0  # 0: no limit
    max_statement_bytes: int = 1 << 20
    max_query_blocks: int = 2000


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join(sql_str(s) for s in items) + "]"


class SqlEngine(Shaping):
    def __init__(self, catalog: Catalog, root: Path, threads: int = 0, memory_limit: str = "",
                 cache_limit: int = 0, profile=None, limits: Limits = Limits(), guard=None):
        self.catalog, self.root = catalog, root
        # the policies binding the profile (core/governance/policies.py): datasets they
        # shape are read masked and filtered, and statements may name nothing else
        self.guard = guard
        self._shapes: dict[str, tuple] = {}  # dataset -> its shape's key, as its view was made
        self._copied: set[str] = set()  # filtered datasets whose copy of this version exists
        self._shape_memo: dict = {}  # what the guard does to each dataset, until the catalog moves on
        # the reader's profile: only its datasets become views, only their files are
        # readable, and system tables show only its rows (None: everything)
        self.profile = profile if profile is not None and not profile.sees_all else None
        # each profile spills to a directory of its own (no profile reads another's spill)
        self.tmp = root / "tmp" / "duckdb" / (profile.id if profile is not None else "default")
        self._readable: set[str] = set()  # the data files this connection may open
        self.threads, self.memory_limit, self.limits = threads, memory_limit, limits
        self._con = None
        self._gen = -1
        self._views: dict[str, ViewSpec] = {}
        self._arrow_views: dict = {}  # datasets read through delta-rs, not file lists
        self._lock = threading.RLock()
        self._running: dict = {}  # cursor with a query in flight -> the thread that started it, for interrupt()
        self.cache = HotCache(cache_limit, self._restore_view)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    # -- the connection and its views ---------------------------------------------
    def _connect(self):
        import duckdb

        tmp = self.tmp
        tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        con.execute(f"SET temp_directory = {sql_str(str(tmp))}")
        # exactly the data files, never a directory: no _delta_log/, no catalog
        con.execute(f"SET allowed_paths = {_sql_list(sorted(self._readable))}")
        con.execute(f"SET allowed_directories = {_sql_list([str(tmp) + '/'])}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        con.execute("CREATE SCHEMA _cache")
        if self.guard is not None:
            self.guard.install(con)
            con.execute("CREATE SCHEMA _policy")
        return con

    def cache_stats(self) -> dict:
        """The hot cache's pins, memory and hits, its pins first brought in line with the catalog."""
        self._connection()
        return self.cache.stats()

    def _connection(self):
        gen = self.catalog.meta.generation()
        with self._lock:
            if gen != self._gen or self._con is None:
                self._sync()
            return self._con

    def _sync(self) -> None:
        """Bring the views in line with the catalog: replace what changed, drop what went."""
        gen, specs = self.catalog.datasets.snapshot()
        self._shape_memo = {}
        if self.profile is not None:
            specs = [s for s in specs if access.sees_dataset(self.profile, s.name)]
        files = {str(self.root / "tables" / s.name / f) for s in specs if s.reader != "delta" for f in s.files}
        if self._con is not None and not files <= self._readable:
            # a file this connection may not open (a write made it): the configuration is
            # locked, so start a fresh connection (cached copies reload on next use)
            self._con.close()
            self._con, self._views, self._arrow_views, self._shapes = None, {}, {}, {}
            self._copied.clear()
            self.cache.entries.clear()
        if self._con is None:
            # also the older versions' data files still beside them (time travel reads
            # those with read_parquet too); only *.parquet at the table's top level
            self._readable = files | {str(f) for s in specs if s.reader != "delta"
                                      for f in _data_files(self.root / "tables" / s.name)}
            self._con = self._connect()
        con, tables = self._con, self.root / "tables"
        wanted = {s.name: s for s in specs}
        for name in list(self._views):
            if name not in wanted:
                self.cache.drop(con, name)
                con.execute(f"DROP VIEW IF EXISTS {quote_ident(name)}")
                con.execute(f"DROP TABLE IF EXISTS _policy.{quote_ident(name)}") if self.guard else None
                self._arrow_views.pop(name, None)
                self._shapes.pop(name, None)
                del self._views[name]
        for name, spec in wanted.items():
            shape = self._shape(spec)
            if self._views.get(name) == spec and self._shapes.get(name) == shape.key():
                continue
            self.cache.drop(con, name)  # a cached copy of an older version is stale
            self._arrow_views.pop(name, None)
            self._shapes[name] = shape.key()
            q = quote_ident(name)
            self._copied.discard(name)
            if self._materialized(name, shape, spec):  # copied at first use (_cursor), a barrier
                con.execute(f"DROP VIEW IF EXISTS {q}")
                con.execute(f"DROP TABLE IF EXISTS _policy.{q}")
                self._views[name] = spec
                continue
            elif spec.reader == "delta":  # registered on each cursor (registrations are per connection)
                from core.storage.tables import open_at

                con.execute(f"DROP VIEW IF EXISTS {q}")
                self._arrow_views[name] = open_at(tables / name, name, spec.version).to_pyarrow_dataset()
            else:
                con.execute(f"CREATE OR REPLACE VIEW {q} AS {self.view_sql(name, spec, con)}")
            self._views[name] = spec
        # only the pins of datasets this profile sees (the rest are none of its business)
        self.cache.pinned = {n for n in self.catalog.datasets.pinned() if access.sees_dataset(self.profile, n)}
        for name in [n for n in self.cache.entries if n not in self.cache.pinned]:  # unpinned
            self.cache.drop(con, name)
            self._restore_view(con, name)
        self._gen = gen

    def _restore_view(self, con, name: str) -> None:
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {self.view_sql(name, self._views[name])}")

    def source_sql(self, spec: ViewSpec) -> str:
        """The SELECT that reads a dataset's current files."""
        if not spec.files:  # an empty table: keep its columns
            sel = ", ".join(f"CAST(NULL AS {c.type}) AS {quote_ident(c.name)}" for c in spec.columns)
            return f"SELECT {sel or 'NULL AS empty'} WHERE false"
        files = [str(self.root / "tables" / spec.name / f) for f in spec.files]
        # union_by_name reads every file's schema at bind: only when columns differ
        by_name = ", union_by_name = true" if spec.mixed_schema else ""
        return f"SELECT * FROM read_parquet({_sql_list(files)}{by_name})"

    # -- per query -----------------------------------------------------------------
    def _check(self, text: str) -> None:
        """The gate's read-only check, within this engine's size and complexity limits."""
        found = check_query(text, self.limits.max_statement_bytes, self.limits.max_query_blocks)
        if self.guard is not None:
            self.check_guarded(text, set(SYSTEM_TABLES) | {f"{n}@{w}".lower() for n, w in _AT.findall(text)}, found)

    def _deadline(self, cur) -> "_Deadline":
        return _Deadline(cur, self.limits.timeout_s)

    def mentioned(self, text: str) -> list[str]:
        """The datasets (this profile's views) a query names."""
        # a view is mentioned when it is a whole word (not part of "name@v3"): one scan of
        # the text, not one regex per view (thousands of datasets would cost ~0.3 s a query)
        words = set(re.findall(r"[\w@]+", text.lower()))
        return [n for n in self._views if n in words]

    def touched(self, text: str) -> list[str]:
        """The datasets a query reads, "name@v3" included (the audit's targets)."""
        return list(dict.fromkeys([*self.mentioned(text), *(n for n, _ in _AT.findall(text) if n in self._views)]))

    def _cursor(self, text: str, as_of: str | int | None = None):
        con = self._connection()
        self._check(text)
        mentioned = self.mentioned(text)
        with self._lock:  # loading a pinned dataset is DDL on the shared connection
            for name in mentioned:
                spec = self._views[name]
                if self._materialized(name, self._shape(spec), spec):
                    if name not in self._copied:
                        self._copy_current(con, name)
                        self._copied.add(name)
                elif as_of is None and name in self.cache.pinned and name not in self._arrow_views:
                    self.cache.use(con, name, self.view_sql(name, spec, con))
        cur = con.cursor()
        for name, dataset in self._arrow_views.items():
            cur.register(name, dataset)
        self._time_travel(cur, text, as_of, mentioned)
        self._system_tables(cur, text)
        return cur

    def _time_travel(self, cur, text: str, as_of, mentioned: list[str]) -> None:
        """Temporary views on this cursor for "name@v3" and for a whole-query as_of."""
        targets: list[tuple[str, str, int | str]] = []
        for name, when in set(_AT.findall(text)):
            if name not in self._views:
                if self.profile is not None and self.catalog.datasets.get(name) is not None:
                    raise SqlError(f"no such dataset in profile {self.profile.id}: {name}", refused=True)
                raise SqlError(f'no dataset named {name!r} (in "{name}@{when}")', refused=True,
                               hint=Hint("{the dataset list} lists them", "datasets"))
            targets.append((f"{name}@{when}", name, parse_as_of(when)))
        if as_of is not None:
            if isinstance(as_of, int) and len(mentioned) != 1:
                raise SqlError("--as-of VERSION needs a query over exactly one dataset (versions are "
                               f"per dataset; this query reads {', '.join(mentioned) or 'none'}) — use "
                               '"name@vN" in SQL for each, or --as-of TIMESTAMP')
            targets += [(name, name, as_of) for name in mentioned]
        for view, name, when in targets:
            self._view_at(cur, view, name, when)

    def _view_at(self, cur, view: str, name: str, when: int | str) -> None:
        from core.storage.tables import open_at, read_plan

        # never past the catalog's version: a newer commit recovery did not accept is not the dataset's
        dt = open_at(self.root / "tables" / name, name, when, upto=self._views[name].version)
        files, exact = read_plan(dt)
        exact = exact and files and set(files) <= self._readable
        if self.guard is not None:  # a masked, filtered copy for this statement only
            self._materialize(cur, name, self._views[name], f"TEMP TABLE {quote_ident(view)}",
                              files=files if exact else None, dataset=None if exact else dt.to_pyarrow_dataset())
        elif exact:  # plain Parquet over that version's files (inside the allowed root)
            cur.execute(f"CREATE TEMP VIEW {quote_ident(view)} AS SELECT * FROM "
                        f"read_parquet({_sql_list(files)}, union_by_name = true)")
        else:
            cur.register(view, dt.to_pyarrow_dataset())

    def _system_tables(self, cur, text: str) -> None:
        """Register the system tables the query names, fresh from the catalog (a
        profile's reader sees only the rows about its own datasets and indexes)."""
        lowered = text.lower()
        for t in SYSTEM_TABLES:
            if t in lowered:
                table = access.system_rows(self.profile, self.catalog, t, self.catalog.system_table(t))
                if t in ("_journal", "_errors") and self.guard is not None:  # masked values, filtered records
                    from core.governance.shown import errors_table, journal_table

                    table = (journal_table if t == "_journal" else errors_table)(self, self.catalog, table)
                cur.register(t, table)

    def _out_of_scope(self, e: SqlError) -> SqlError:
        """DuckDB's 'no such table' for a dataset that exists outside the profile."""
        m = re.search(r"Table with name ([^\s!]+) does not exist", str(e))
        if self.profile is not None and m and self.catalog.datasets.get(m.group(1).strip('"')) is not None:
            name = m.group(1).strip('"')
            seen = ", ".join(sorted(self._views)) or "none"
            return SqlError(f"no such dataset in profile {self.profile.id}: {name} — its datasets: {seen}",
                            refused=True)
        return e

    def run(self, text: str, as_of: str | int | None = None):
        """Run one read-only query; return a pyarrow.Table."""
        try:
            cur = self._cursor(text, as_of)
        except SqlError as e:
            raise self._out_of_scope(e) from None
        self._running[cur] = threading.get_ident()
        deadline = self._deadline(cur)
        try:
            return cur.sql(text).to_arrow_table()
        except Exception as e:
            raise deadline.explain(self._out_of_scope(clean_error(e))) from None
        finally:
            deadline.cancel()
            self._running.pop(cur, None)
            cur.close()

    def stream(self, text: str, batch_rows: int = 65536, as_of: str | int | None = None):
        """Run one read-only query; return a pyarrow.RecordBatchReader that streams rows."""
        import pyarrow as pa

        try:
            cur = self._cursor(text, as_of)
        except SqlError as e:
            raise self._out_of_scope(e) from None
        self._running[cur] = threading.get_ident()
        deadline = self._deadline(cur)  # covers the whole stream: a slow reader holds the query too
        try:
            rdr = cur.sql(text).to_arrow_reader(batch_rows)
        except Exception as e:
            deadline.cancel()
            self._running.pop(cur, None)
            cur.close()
            raise deadline.explain(self._out_of_scope(clean_error(e))) from None

        def batches():
            try:
                for b in rdr:
                    yield b
            except Exception as e:
                raise deadline.explain(clean_error(e)) from None
            finally:
                deadline.cancel()
                self._running.pop(cur, None)
                cur.close()
        return pa.RecordBatchReader.from_batches(rdr.schema, batches())

    def interrupt(self, thread: int | None = None) -> bool:
        """Stop the queries in flight (each raises 'interrupted') — all, or those one
        thread started (the daemon cancels one request this way); False if none ran."""
        running = [c for c, t in list(self._running.items()) if thread is None or t == thread]
        for cur in running:
            self._stop(cur)
        return bool(running)

    def _stop(self, cur) -> None:
        """Interrupt `cur` until its query has ended. DuckDB's interrupt stops only a query
        already executing: one asked for just before its cursor starts (a busy machine widens
        that gap) would run on, so the interrupt repeats while the cursor is in flight."""
        def again() -> None:
            end = time.monotonic() + 60
            while cur in self._running and time.monotonic() < end:
                time.sleep(0.05)
                try:
                    cur.interrupt()
                except Exception:  # closed meanwhile
                    return
        try:
            cur.interrupt()
        except Exception:  # finished meanwhile
            return
        if cur in self._running:
            threading.Thread(target=again, name="lh-interrupt", daemon=True).start()


class _Deadline:
    """A query's time limit: when it passes, the watchdog interrupts the cursor."""

    def __init__(self, cur, seconds: float):
        self.cur, self.seconds, self.fired = cur, seconds, False
        if seconds and seconds > 0:
            _WATCHDOG.arm(self, time.monotonic() + seconds)

    def cancel(self) -> None:
        _WATCHDOG.disarm(self)

    def fire(self) -> None:
        self.fired = True
        try:
            self.cur.interrupt()
        except Exception:  # finished meanwhile
            pass

    def explain(self, e: BaseException) -> BaseException:
        if not self.fired:
            return e
        return SqlError(f"the query ran past its time limit of {self.seconds:g} s and was stopped ([sql] "
                        "timeout_s, or the profile's sql_timeout_s) — narrow it, or raise the limit")


class _Watchdog:
    """One thread for the process that fires deadlines (a thread per query cost ~1 ms)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._due: dict[_Deadline, float] = {}
        self._thread = None

    def arm(self, d: _Deadline, at: float) -> None:
        with self._cond:
            self._due[d] = at
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sql-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self, d: _Deadline) -> None:
        with self._cond:
            self._due.pop(d, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                expired = [d for d, at in self._due.items() if at <= now]
                for d in expired:
                    del self._due[d]
                if not expired:
                    self._cond.wait(min(self._due.values(), default=now + 60) - now)
            for d in expired:
                d.fire()


_WATCHDOG = _Watchdog()


def _data_files(table_dir: Path) -> list[Path]:
    try:
        return [f for f in table_dir.iterdir() if f.name.endswith(".parquet") and f.is_file()
                and not f.is_symlink()]
    except OSError:
        return []


def parse_as_of(value: str | int) -> int | str:
    """'v3' / '3' -> version 3; anything else is a timestamp (checked by open_at)."""
    if isinstance(value, int):
        return value
    v = value.strip()
    m = re.fullmatch(r"[vV]?(\d+)", v)
    return int(m.group(1)) if m else v
