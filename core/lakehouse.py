"""core.Lakehouse: the one facade every frontend calls (TUI, CLI, daemon).

Methods return dataclasses and Arrow tables and never print. Long operations take
an optional progress listener and a cancel Event and run as jobs.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core import config as config_mod
from core.access import Refused, require_admin, restricted
from core.api import is_retryable, operation
from core.storage.catalog import Catalog
from core.errors import Cancelled, LakehouseError, NotFound
from core.ops.jobs import Jobs, Listener
from core.storage.locks import try_write_lock
from core.models import Description, Dataset, ErrorEvent, IngestResult, JobInfo, plain
from core.names import quote_ident, sql_str


class Lakehouse:
    def __init__(self, cfg: config_mod.Config):
        import os

        self.config = cfg
        self.root: Path = cfg.root
        try:
            # private by default: a new root and its tables are the user's alone (an existing
            # root keeps the modes its owner gave it)
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            (self.root / "tables").mkdir(exist_ok=True, mode=0o700)
        except OSError as e:
            raise LakehouseError(f"storage root {self.root} cannot be created ({e.strerror}) — "
                                 "choose another with --home or LAKEHOUSE_HOME") from None
        if not os.access(self.root, os.W_OK):
            raise LakehouseError(f"storage root {self.root} is not writable — "
                                 "choose another with --home or LAKEHOUSE_HOME")
        self.catalog = Catalog(self.root / "catalog.sqlite")
        from core.ops.audit import AuditLog
        from core.profiles.store import problems, resolve

        # the reader: --profile / LAKEHOUSE_PROFILE, else the activated one, else default
        self.profile = resolve(cfg.profiles, cfg.profile or self.catalog.meta("active_profile"))
        # who holds this facade: the profile it was opened as. Switching (activate) may
        # change the reader but never what the holder may do (core.access)
        self.principal = self.profile
        self.audit_log = AuditLog(self.catalog, self.profile.id, cfg.get("audit.flush_s"))
        self._jobs = Jobs(self.catalog, cfg.get("jobs.keep"), owner=lambda: self.profile.id)
        self._tables = None
        self._sql = None
        self._mutator_obj = None
        self._vectors_obj = None
        self._asker = None
        self.recovery_notes: list[str] = self._recover()
        # a binding that points at nothing is reported now, not at first use
        self.profile_problems: list[str] = problems(
            self.profile, [d.name for d in self.catalog.datasets()],
            [i["name"] for i in self.catalog.indexes()]) if self.profile.defined else []

    @classmethod
    @operation("open (creating if needed) a storage root as a profile", remote=False, scope="none")
    def open(cls, home: str | Path | None = None, config_file: str | Path | None = None,
             config: config_mod.Config | None = None, profile: str | None = None) -> "Lakehouse":
        """Open (creating if needed) the storage root. `home` relocates all state;
        `profile` is the reader whose data, models and settings apply."""
        return cls(config or config_mod.load(home=home, config_file=config_file, profile=profile))

    @operation("flush the audit log and close the engine and the catalog", remote=False, scope="none")
    def close(self) -> None:
        self.audit_log.close()
        if self._sql is not None:
            self._sql.close()
        self.catalog.close()

    def __enter__(self) -> "Lakehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------
    @property
    @operation("the Delta tables under the root (in-process)", remote=False, scope="none")
    def tables(self):
        if self._tables is None:
            from core.storage.tables import Tables

            self._tables = Tables(self.root, self.config.get("ingest.row_group_rows"),
                                  self.config.get("ingest.target_file_mb"), intents=self.catalog)
        return self._tables

    @property
    @operation("this facade's SQL engine, scoped to its profile (in-process)", remote=False, scope="query")
    def engine(self):
        if self._sql is None:
            self._sql = self.new_engine(self.profile)
        return self._sql

    def _cache_limit(self) -> int:
        from core.query.cache import parse_size
        from core.errors import ConfigError

        raw = self.config.get("cache.memory_limit")
        try:
            return parse_size(raw)
        except ValueError:
            raise ConfigError(f"{self.config.sources.get('cache.memory_limit', 'config')}: key "
                              f"'cache.memory_limit' must be a size such as 512MB or 2GB, got {raw!r}") from None

    def _recover(self) -> list[str]:
        """Roll crashed writes forward or away — only if the cheap check says so
        and no other process is writing right now."""
        from core.storage.recovery import needs_recovery

        if not needs_recovery(self.catalog, self.tables):
            return []
        fd = try_write_lock(self.root)
        if fd is None:
            return []
        try:
            from core.storage.recovery import recover_all

            return recover_all(self.catalog, self.tables, sees=self.profile.sees)
        finally:
            import os

            os.close(fd)

    # -- datasets -----------------------------------------------------------------
    @operation("ingest files, directories or globs — **paths as the daemon sees them** (the CLI makes them absolute)",
               remote=True, scope="datasets", mutates=True, retryable=True)
    def ingest(self, paths, *, name: str | None = None, format: str | None = None,
               types: str | dict | None = None, mode: str | None = None,
               key: str | list[str] | None = None, actor: str | None = None, reason: str = "",
               progress: Listener | None = None,
               cancel: threading.Event | None = None) -> list[IngestResult]:
        """Ingest files, directories or globs (mode create|append|replace|upsert; `key`
        declares the primary key). Per-file outcomes are in the results; bad arguments
        raise IngestError. Failures are recorded in `_errors`."""
        from core.ingest.run import Ingestor

        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not self.profile.sees_all:  # a profile writes only datasets its patterns name
            if not name or not self.profile.sees(name):
                raise LakehouseError(
                    f"profile {self.profile.id} may only ingest into its datasets "
                    f"({', '.join(self.profile.datasets)}) — give --name with one of them")
        ing = Ingestor(self.root, self.config, self.catalog, self.tables, self._jobs)
        try:
            return ing.ingest(list(paths), name=name, fmt=format, types=types, mode=mode, key=key,
                              actor=actor, reason=reason, listener=progress, cancel=cancel)
        except LakehouseError as e:
            if type(e).__name__ != "Cancelled":
                self.catalog.add_error("ingest", str(e), dataset=name or "")
            raise

    @operation("the datasets this profile sees", remote=True, scope="datasets")
    def datasets(self) -> list[Dataset]:
        """The datasets this profile sees."""
        return [d for d in self.catalog.datasets() if self.profile.sees(d.name)]

    @operation("one Dataset", remote=True, scope="datasets")
    def dataset(self, name: str) -> Dataset:
        if isinstance(name, str) and not self.profile.sees(name) and self.catalog.get(name) is not None:
            raise NotFound(f"no such dataset in profile {self.profile.id}: {name}")
        ds = self.catalog.get(name) if isinstance(name, str) else None
        if ds is None:  # name only what this profile may see
            known = ", ".join(d.name for d in self.datasets()) or "none yet"
            raise NotFound(f"no dataset named {name!r} — datasets: {known}")
        return ds

    def _audited(self, action: str, targets, statement: str, fn, rows=None):
        """Run a data access and append it to the audit log (ok, refused or failed)."""
        import time

        t0 = time.perf_counter()
        try:
            out = fn()
        except LakehouseError as e:
            targets = targets() if callable(targets) else targets
            self.audit_log.record(action, targets, statement, None, (time.perf_counter() - t0) * 1000,
                                  "refused" if e.refused else "failed", str(e))
            raise
        n = rows(out) if rows else None
        targets = targets() if callable(targets) else targets
        self.audit_log.record(action, targets, statement, n, (time.perf_counter() - t0) * 1000)
        return out

    @operation("schema, lineage, schema versions and a sample (a Description)",
               remote=True, scope="datasets", audited=True)
    def describe(self, name: str, sample_rows: int = 5) -> Description:
        ds = self.dataset(name)
        sample = self.sql(f"SELECT * FROM {quote_ident(name)} LIMIT {int(sample_rows)}")
        return Description(ds, self.catalog.lineage(name), self.catalog.schema_versions(name), sample)

    @operation("set a dataset's description, owner or tags", remote=True, scope="datasets", mutates=True)
    def annotate(self, name: str, *, description: str | None = None, owner: str | None = None,
                 tags: list[str] | None = None) -> Dataset:
        """Set a dataset's description, owner or tags (None leaves a field as it is)."""
        self.dataset(name)
        if tags is not None:
            tags = sorted({t.strip() for t in tags if t.strip()})
        self.catalog.annotate(name, description, owner, tags)
        return self.dataset(name)

    @operation("rebuild catalog facts from the tables", remote=True, scope="datasets", mutates=True)
    def resync(self, name: str | None = None) -> list[str]:
        """Rebuild row counts, sizes, columns and file lists from the tables themselves."""
        from core.storage.locks import write_lock
        from core.storage.duck import columns_of_arrow
        from core.storage.recovery import latest_log_version, recover_dataset

        names = [self.dataset(name).name] if name else [d.name for d in self.datasets()]
        notes: list[str] = []
        with write_lock(self.root):
            for n in names:
                # a commit lakehouse did not write is adopted only when its dataset is named
                notes.extend(recover_dataset(self.catalog, self.tables, n, adopting=name is not None))
                ds = self.catalog.get(n)
                if name is None and latest_log_version(self.tables.path(n)) > ds.table_version:
                    continue
                if not self.tables.exists(n):
                    notes.append(f"{n}: its table is missing at {self.tables.path(n)} — the data "
                                 "is gone; ingest the source again with --mode replace")
                    continue
                snap = self.tables.snapshot(n)
                cols = columns_of_arrow(snap.arrow_schema)
                changes = []
                if ds.row_count != snap.rows:
                    changes.append(f"rows {ds.row_count:,} -> {snap.rows:,}")
                if ds.bytes != snap.bytes:
                    changes.append(f"bytes {ds.bytes:,} -> {snap.bytes:,}")
                if [(c.name, c.type) for c in ds.columns] != [(c.name, c.type) for c in cols]:
                    changes.append("columns " + ", ".join(c.name for c in cols))
                if ds.table_version != snap.version:
                    changes.append(f"version {ds.table_version} -> {snap.version}")
                if [f["path"] for f in self.catalog.files(n)] != [f["path"] for f in snap.files]:
                    changes.append(f"{len(snap.files)} data file(s)")
                if changes:
                    self.catalog.update_stats(n, columns=cols, table_version=snap.version,
                                              files=snap.files, rows=snap.rows, nbytes=snap.bytes,
                                              reader=snap.reader)
                    notes.append(f"{n}: " + "; ".join(changes))
                else:
                    notes.append(f"{n}: in sync")
        return notes

    # -- mutations, history, time travel -------------------------------------------------
    @property
    def _mutator(self):
        if self._mutator_obj is None:
            from core.datasets.mutate import Mutator

            self._mutator_obj = Mutator(self.root, self.config, self.catalog, self.tables)
        return self._mutator_obj

    def _guard(self, operation: str, dataset: str, fn, statement: str = ""):
        """Run a change within the profile's datasets; audited, and a refused one lands
        in `_errors` like a refused ingest."""
        try:
            self.dataset(dataset)
            return self._audited(operation, [dataset], statement, fn)
        except LakehouseError as e:
            self.catalog.add_error(operation, str(e), dataset=dataset if self.profile.sees(dataset) else "")
            raise

    @operation("set fields of one record (journaled per field)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def update(self, name: str, key, values: dict[str, str], *, actor: str | None = None,
               reason: str = ""):
        """Set fields of the record with primary key `key`; journaled per field."""
        return self._guard("update", name, lambda: self._mutator.update(
            name, key, values, actor or _user(), reason), f"key {key}: {values}")

    @operation("delete one record by primary key (journaled)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def delete(self, name: str, key, *, actor: str | None = None, reason: str = ""):
        """Delete the record with primary key `key`; its last values are journaled."""
        return self._guard("delete", name, lambda: self._mutator.delete(name, key, actor or _user(), reason),
                           f"key {key}")

    @operation("make an old state current again as a new version",
               remote=True, scope="datasets", audited=True, mutates=True)
    def restore(self, name: str, *, version: int | None = None, as_of: str | None = None,
                actor: str | None = None, reason: str = ""):
        """Make an old state current again, as a new version (history is kept)."""
        if (version is None) == (as_of is None):
            raise LakehouseError("give exactly one of --version V or --as-of TIMESTAMP")
        return self._guard("restore", name, lambda: self._mutator.restore(
            name, version if version is not None else as_of, actor or _user(), reason))

    @operation("a dataset's versions", remote=True, scope="datasets")
    def versions(self, name: str) -> list[dict]:
        from core.datasets.mutate import versions

        # the versions up to the one the catalog registered (never a commit it refused)
        return versions(self.tables, name, upto=self.dataset(name).table_version)

    @operation("journal events of a dataset or one record", remote=True, scope="datasets")
    def history(self, name: str, key: str | None = None) -> list[dict]:
        """Journal events of a dataset, or of one record (its key as text)."""
        self.dataset(name)
        return self.catalog.journal(name, key)

    @operation("compact a dataset's small files (and vacuum old ones)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def compact(self, name: str, *, vacuum: bool = False, retain_hours: int | None = None) -> dict:
        return self._guard("compact", name, lambda: self._mutator.compact(name, vacuum, retain_hours))

    # -- hot cache ------------------------------------------------------------------------
    @operation("keep a dataset in DuckDB memory", remote=True, scope="datasets", mutates=True)
    def pin(self, name: str) -> None:
        """Keep a dataset in DuckDB memory (loaded on first use, LRU-evicted past the limit)."""
        self.dataset(name)
        self.catalog.set_pinned(name, True)

    @operation("stop keeping a dataset in DuckDB memory", remote=True, scope="datasets", mutates=True)
    def unpin(self, name: str) -> None:
        self.dataset(name)
        self.catalog.set_pinned(name, False)

    @operation("pinned datasets, memory held, hits and misses", remote=True, scope="none")
    def cache(self) -> dict:
        """Pins, what this process holds in memory, hits and misses."""
        self.engine._connection()  # sync pins with the catalog
        return self.engine.cache.stats()

    # -- SQL --------------------------------------------------------------------
    @operation("one read-only query — **Arrow frames**", remote=True, scope="query", audited=True)
    def sql(self, text: str, as_of: int | str | None = None):
        """Run one read-only query over the datasets; return a pyarrow.Table.
        `as_of`: a version (one dataset) or a timestamp (every dataset in the query)."""
        return self._audited("sql", lambda: self._touched(text), text,
                             lambda: self.engine.run(text, _as_of(as_of)), rows=lambda t: t.num_rows)

    @operation("one read-only query, streamed — **Arrow frames**, one per batch",
               remote=True, scope="query", audited=True, streams=True)
    def sql_stream(self, text: str, batch_rows: int = 65536, as_of: int | str | None = None):
        """Like sql(), as a pyarrow.RecordBatchReader: rows stream, memory stays bounded.
        The audit entry is written when the stream ends, with the rows it carried."""
        import time

        import pyarrow as pa

        t0 = time.perf_counter()
        try:
            rdr = self.engine.stream(text, batch_rows, _as_of(as_of))
        except LakehouseError as e:
            self.audit_log.record("sql", self._touched(text), text, None, (time.perf_counter() - t0) * 1000,
                                  "refused" if e.refused else "failed", str(e))
            raise
        audit, touched = self.audit_log, self._touched(text)

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
                audit.record("sql", touched, text, n, (time.perf_counter() - t0) * 1000, outcome, error)
        return pa.RecordBatchReader.from_batches(rdr.schema, counted())

    @operation("one read-only query as JSON: `columns`, `types`, the first `limit` (100) `rows`, "
               "and the true `row_count`",
               remote=True, scope="query", audited=True)
    def sql_rows(self, text: str, limit: int = 100, as_of: int | str | None = None) -> dict:
        """Like sql(), as plain JSON-ready values: the first `limit` rows, and the true
        count of all of them (the rest are counted, never fetched into memory). Dates
        are ISO strings, decimals strings, bytes hex — the same in-process and over the
        daemon's socket, where this is how small results travel without Arrow."""
        rdr = self.sql_stream(text, as_of=as_of)
        rows: list = []
        n = 0
        for b in rdr:
            if len(rows) < limit:
                part = b.slice(0, limit - len(rows))
                rows.extend(zip(*(c.to_pylist() for c in part.columns)) if part.num_columns else [])
            n += b.num_rows
        return {"columns": rdr.schema.names, "types": [str(t) for t in rdr.schema.types],
                "rows": [[plain(v) for v in r] for r in rows], "row_count": n}

    @operation("stop this facade's running queries from another thread (clients send `cancel`)",
               remote=False, scope="none")
    def interrupt_sql(self, thread: int | None = None) -> bool:
        """Stop the queries this facade is running (from another thread) — all, or the
        ones `thread` started; False if none."""
        return self._sql.interrupt(thread) if self._sql is not None else False

    def _touched(self, text: str) -> list[str]:
        """Datasets a query names (the views the engine knows are this profile's)."""
        return self.engine._mentioned(text) if isinstance(text, str) else []

    # -- vectors: embedding, index generations, semantic and hybrid search --------------
    @property
    def _vectors(self):
        if self._vectors_obj is None:
            from core.vectors.manager import Vectors

            self._vectors_obj = Vectors(self.root, self.config, self.catalog, lambda: self.engine, self._jobs,
                                        self.profile)
        return self._vectors_obj

    @operation("embed a text column into a new index generation (incremental, resumable); an EmbedResult",
               remote=True, scope="datasets", audited=True, mutates=True, retryable=True)
    def embed(self, dataset: str, column: str, *, index: str | None = None, key=None,
              chunk_size: int | None = None, overlap: int | None = None, embedder: str | None = None,
              model: str | None = None, kind: str | None = None, m: int | None = None,
              ef_construction: int | None = None, ef_search: int | None = None,
              promote: bool | None = None, actor: str | None = None,
              progress: Listener | None = None, cancel: threading.Event | None = None):
        """Embed a text column into a new generation of an index (default name
        DATASET_COLUMN). Only chunks not embedded before are sent to the embedder; an
        interrupted run continues where it stopped. The new generation becomes active
        when the index has none or it refreshes the active one with the same embedder
        and chunking (`promote` overrides). Returns an EmbedResult."""
        p, hnsw = self.profile, self.profile.hnsw  # the profile's models and index settings by default
        return self._guard("embed", dataset, lambda: self._vectors.embed(
            dataset, column, index=index, key=key, chunk_size=chunk_size, overlap=overlap,
            embedder=embedder or p.embedder or None, model=model or p.embed_model or None, kind=kind,
            m=m or hnsw.get("m"), ef_construction=ef_construction or hnsw.get("ef_construction"),
            ef_search=ef_search or hnsw.get("ef_search"), promote=promote, actor=actor or _user(),
            listener=progress, cancel=cancel), f"{dataset}.{column} -> {index or ''}")

    @operation("semantic search, optionally filtered by a SQL condition; a SearchResult",
               remote=True, scope="index", audited=True)
    def search(self, index: str, text: str, k: int = 10, *, where: str | None = None,
               ef: int | None = None, embedder: str | None = None):
        """Semantic search of `index` (or `index@gN`); `where` is a SQL condition on the
        source dataset — only rows passing it are ranked. Returns a SearchResult."""
        ef = ef or self.profile.hnsw.get("ef_search")
        return self._audited("search", [index.split("@")[0]], text + (f" WHERE {where}" if where else ""),
                             lambda: self._vectors.search(index, text, k, where, ef, embedder),
                             rows=lambda r: len(r.hits))

    @operation("one search on two generations with overlap@k", remote=True, scope="index", audited=True)
    def compare(self, a: str, b: str, text: str, k: int = 10, *, where: str | None = None) -> dict:
        """The same search on two generations side by side, with overlap@k of their rows."""
        ra = self.search(a, text, k, where=where)
        rb = self.search(b, text, k, where=where)
        keys_a, keys_b = {h.row_key for h in ra.hits}, {h.row_key for h in rb.hits}
        overlap = len(keys_a & keys_b) / max(len(keys_a), len(keys_b), 1)
        return {"a": ra, "b": rb, "overlap": round(overlap, 4), "k": k}

    @operation("every index", remote=True, scope="index")
    def indexes(self):
        """Every index with its generations (IndexInfo list)."""
        return self._vectors.list()

    @operation("one IndexInfo with its generations", remote=True, scope="index")
    def index(self, name: str):
        return self._vectors.info(name)

    @operation("make a generation the active one", remote=True, scope="index", mutates=True)
    def promote(self, index: str, gen: int, actor: str | None = None):
        """Make generation `gen` the one searches use: one atomic pointer swap."""
        return self._vectors.promote(index, gen, actor or _user())

    @operation("return to the previously active generation", remote=True, scope="index", mutates=True)
    def rollback(self, index: str, actor: str | None = None):
        """Return to the generation that was active before the current one."""
        return self._vectors.rollback(index, actor or _user())

    @operation("drop an index or one generation", remote=True, scope="index", mutates=True)
    def drop_index(self, index: str, gen: int | None = None, actor: str | None = None) -> str:
        return self._vectors.drop(index, gen, actor or _user())

    @operation("rebuild a generation's sidecar files from its Parquet",
               remote=True, scope="index", mutates=True, retryable=True)
    def rebuild_index(self, index: str, gen: int, progress: Listener | None = None,
                      cancel: threading.Event | None = None):
        """Rebuild a generation's sidecar files (vectors, HNSW graph) from its Parquet."""
        return self._vectors.rebuild(index, gen, progress, cancel)

    @operation("check a generation's files against its checksums", remote=True, scope="index")
    def verify_index(self, index: str, gen: int | None = None) -> list[str]:
        return self._vectors.verify(index, gen)

    @operation("index generations loaded in the daemon", remote=True, scope="none")
    def vector_cache(self) -> dict:
        """Generations loaded in this process: memory, load time, hits."""
        stats = self._vectors.cache.stats()
        if restricted(self.profile):  # only the indexes it searches over datasets it sees
            idx = {i["name"]: i["dataset"] for i in self.catalog.indexes()}
            stats["entries"] = [e for e in stats["entries"] if self.profile.searches(e["index"])
                                and self.profile.sees(idx.get(e["index"], ""))]
        return stats

    # -- ask: grounded answers from a local model ---------------------------------------
    @operation("answer from the data: NL→SQL, RAG with citations, or hybrid; an AskResult",
               remote=True, scope="query", audited=True)
    def ask(self, question: str, *, mode: str = "auto", index: str | None = None,
            model: str | None = None, on_token=None):
        """Answer a question from the data: NL->SQL, RAG with citations, or both (auto
        routes, and says why). `on_token` receives the answer as it streams. Every ask
        is recorded in `_asks`. Returns an AskResult."""
        from core.ask.asker import Asker
        from core.ask.chat import Chat

        key = model or self.profile.chat_model or self.config.get("ollama.chat_model")
        if getattr(self, "_asker", None) is None or self._asker.chat.model != key:
            chat = Chat.from_config(self.config, key)
            chat.keep_alive = self.profile.keep_alive or chat.keep_alive
            self._asker = Asker(self, self.config, chat)
        import time

        t0 = time.perf_counter()
        try:
            r = self._asker.ask(question, mode, index, on_token)
        except LakehouseError as e:
            self.audit_log.record("ask", [], question, None, (time.perf_counter() - t0) * 1000, "failed", str(e))
            raise
        touched = self._touched(r.sql) if r.sql else sorted({c.dataset for c in r.citations})
        self.audit_log.record("ask", touched, question, r.row_count, (time.perf_counter() - t0) * 1000,
                              "ok" if r.outcome != "failed" else "failed")
        return r

    @operation("mark an ask's question→SQL pair as a good example for later prompts",
               remote=True, scope="none", mutates=True)
    def accept(self, ask_id: str) -> dict:
        """Mark an ask's question->SQL pair as good: later prompts use it as an example."""
        row = self.catalog.ask(ask_id)
        if row is not None and restricted(self.principal) and row.get("profile") != self.principal.id:
            row = None  # another profile's ask: not this one's to see or to teach others with
        if row is None:
            raise NotFound(f"no ask with id {ask_id!r} — `lakehouse sql \"SELECT id, question FROM _asks\"` lists them")
        if not row["sql"] or row["outcome"] != "answered":
            raise LakehouseError(f"ask {ask_id} has no SQL that ran — only answered NL->SQL asks can be accepted")
        self.catalog.accept_ask(ask_id)
        return self.catalog.ask(ask_id)

    @operation("Ollama's installed and loaded models", remote=True, scope="none")
    def models(self) -> dict:
        """Ollama's installed models (with digests) and the ones loaded in memory."""
        from core.ollama import Ollama

        o = Ollama.from_config(self.config)
        return {"host": o.url, "version": o.version(), "installed": o.models(), "loaded": o.loaded()}

    @operation("Ollama's URL and whether it answers", remote=True, scope="none")
    def ollama_status(self) -> dict:
        """Where Ollama is expected and whether it answers (one quick request)."""
        from core.ollama import Ollama

        o = Ollama.from_config(self.config)
        return {"url": o.url, "reachable": o.ping()}

    @operation("the SELECT that opens search hits' source rows", remote=True, scope="datasets")
    def rows_query(self, dataset: str, row_keys: list[str]) -> str:
        """A SELECT of a dataset's rows by their row keys (as search hits and citations
        name them): the way to open a hit's source row."""
        from core.vectors.manager import key_expr

        ds = self.dataset(dataset)
        keys = ds.primary_key or (["doc_id", "page"] if ds.kind == "documents" else [])
        if not keys:
            raise LakehouseError(f"dataset {dataset!r} has no primary key to find rows by")
        text = {c.name for c in ds.columns if c.type.upper() == "VARCHAR"}
        wanted = ", ".join(sql_str(k) for k in row_keys)
        return f"SELECT * FROM {quote_ident(dataset)} WHERE {key_expr(keys, text)} IN ({wanted})"

    @operation("bytes under the storage root by component", remote=True, scope="none")
    def disk_usage(self) -> dict[str, int]:
        """Bytes under the storage root, by what holds them."""
        import os

        def size(path: Path) -> int:
            total = 0
            for dirpath, _, files in os.walk(path):
                for f in files:
                    try:
                        total += os.path.getsize(os.path.join(dirpath, f))
                    except OSError:
                        pass  # removed meanwhile
            return total
        out = {name: size(self.root / name) for name in ("tables", "vectors", "demo", "tmp")}
        out["catalog"] = sum(p.stat().st_size for p in self.root.glob("catalog.sqlite*"))
        return out


    # -- profiles -----------------------------------------------------------------------
    @operation("every profile", remote=True, scope="none")
    def profiles(self) -> list[dict]:
        """Every profile (the built-in default too) with its bindings' problems and
        whether it is the active one."""
        from core.profiles import store as prof
        # as the file has them now: another shell (`lakehouse profile create`) may have changed them
        path = self.config.writable_file
        if path.is_file():
            self.config.profiles = config_mod.read_file(path).get("profiles", {})
        active = self.catalog.meta("active_profile") or prof.DEFAULT
        names = [prof.DEFAULT] + sorted(p for p in self.config.profiles if p != prof.DEFAULT)
        datasets = [d.name for d in self.catalog.datasets()]
        indexes = [i["name"] for i in self.catalog.indexes()]
        out = []
        if restricted(self.principal):  # others' bindings would name datasets it may not see
            names = [self.principal.id]
        for pid in names:
            p = prof.resolve(self.config.profiles, pid)
            out.append({**p.to_dict(), "active": pid == active, "current": pid == self.profile.id,
                        "problems": prof.problems(p, datasets, indexes) if p.defined else []})
        return out

    @operation("one profile with its problems", remote=True, scope="none")
    def profile_show(self, pid: str) -> dict:
        from core.profiles import store as prof
        prof.resolve(self.config.profiles, pid)
        shown = next((p for p in self.profiles() if p["id"] == pid), None)
        if shown is None:  # another profile, to a restricted holder
            raise NotFound(f"no profile named {pid!r} that profile {self.principal.id} may see")
        return shown

    @operation("create or edit a profile", remote=True, scope="profile-admin", mutates=True)
    def profile_save(self, pid: str, changes: dict, *, create: bool) -> dict:
        """Create a profile, or edit one (only the keys given change). Writes
        [profiles.<pid>] into the config file; the rest of the file is kept as it was."""
        from core.profiles import store as prof
        require_admin(self.principal, "creating profiles" if create else "editing profiles")
        prof.check_id(pid)
        exists = pid in self.config.profiles
        if create and exists:
            raise LakehouseError(f"profile {pid!r} already exists — change it with `lakehouse profile edit {pid}`")
        if not create and not exists:
            prof.resolve(self.config.profiles, pid)  # the usual 'no profile named' sentence
            raise LakehouseError(f"profile {pid!r} is the built-in one — create it to change it: "
                                 f"`lakehouse profile create {pid} ...`")
        base = self.config.profiles[pid].toml_table() if exists else {}
        table = {**base, **{k: v for k, v in changes.items() if v is not None}}
        path = self.config.writable_file
        parsed = prof.parse({pid: table}, path)[pid]  # the same checks as loading the file
        prof.write(path, pid, parsed.toml_table())
        self.config.profiles[pid] = parsed
        return self.profile_show(pid)

    @operation("remove a profile from lakehouse.toml", remote=True, scope="profile-admin", mutates=True)
    def profile_delete(self, pid: str) -> str:
        from core.profiles import store as prof
        require_admin(self.principal, "deleting profiles")
        if pid not in self.config.profiles:
            prof.resolve(self.config.profiles, pid)
            raise LakehouseError("the built-in default profile cannot be deleted")
        prof.write(self.config.writable_file, pid, None)
        del self.config.profiles[pid]
        note = ""
        if self.catalog.meta("active_profile") == pid:
            self.catalog.set_meta("active_profile", prof.DEFAULT)
            note = "; default is the active profile now"
        return f"deleted profile {pid} from {self.config.writable_file}{note}"

    @operation("make a profile the active one (a job); the daemon's default facade rescopes",
               remote=True, scope="profile-admin", audited=True, mutates=True, retryable=True)
    def activate(self, pid: str, progress: Listener | None = None, cancel: threading.Event | None = None,
                 job_id: str | None = None) -> dict:
        """Make `pid` the active profile (a job of named steps; see core.profiles.activation) and
        the reader of this facade. Its indexes stay loaded here for the next search."""
        from core.profiles.activation import activate

        self.check_activate(pid)
        return activate(self, pid, progress, cancel, job_id)

    @operation("refuse, in one sentence, an activation this connection's profile may not make "
               "(the CLI asks before it starts a background activation); `null` when allowed",
               remote=True, scope="profile-admin")
    def check_activate(self, pid: str) -> None:
        """Refuse, in one sentence, an activation this holder may not make (a restricted
        holder may only stay itself); the CLI asks before it starts the background job."""
        if pid != self.principal.id:
            require_admin(self.principal, "activating other profiles")

    @operation("a SQL engine scoped to a given profile (activation warms one)", remote=False, scope="none")
    def new_engine(self, profile):
        """A SQL engine scoped to `profile` (activation warms one before switching)."""
        from core.query.engine import Limits, SqlEngine

        from core.query.cache import parse_size
        from core.errors import ConfigError

        c = self.config
        if c.get("sql.memory_limit"):
            try:
                parse_size(c.get("sql.memory_limit"))
            except ValueError:
                raise ConfigError(f"{c.sources.get('sql.memory_limit', 'config')}: key 'sql.memory_limit' must be "
                                  f"a size such as 512MB or 4GB, got {c.get('sql.memory_limit')!r}") from None
        timeout = profile.sql_timeout_s if profile.sql_timeout_s is not None else c.get("sql.timeout_s")
        limits = Limits(timeout, c.get("sql.max_statement_bytes"), c.get("sql.max_query_blocks"))
        return SqlEngine(self.catalog, self.root, c.get("sql.threads"),
                         profile.sql_memory_limit or c.get("sql.memory_limit"), self._cache_limit(), profile, limits)

    def _use(self, profile, engine=None, vectors=None) -> None:
        """Switch this facade's reader: new scoping; loaded indexes stay loaded."""
        if self._sql is not None and self._sql is not engine:
            self._sql.close()
        self._sql = engine
        self.audit_log.flush()
        self.profile = profile
        self.audit_log.profile = profile.id
        if vectors is not None:
            self._vectors_obj = vectors
        elif self._vectors_obj is not None:
            self._vectors_obj.profile = profile
        self._asker = None

    @operation("audit entries, newest first", remote=True, scope="own-audit")
    def audit(self, profile: str | None = None, since: str | None = None, limit: int = 200) -> list[dict]:
        """Audit entries, newest first (a profile other than default sees only its own)."""
        self.audit_log.flush()
        if not self.profile.sees_all:
            profile = self.profile.id
        return self.catalog.audit(profile, parse_since(since) if since else None, limit)

    # -- jobs and errors -------------------------------------------------------------
    @operation("running and recent jobs", remote=True, scope="jobs")
    def jobs(self, limit: int = 50) -> list[JobInfo]:
        return self._shows_jobs(self._jobs.list(limit))

    def _shows_jobs(self, jobs: list[JobInfo]) -> list[JobInfo]:
        """The jobs this profile may see: about its datasets, its indexes over them, or itself."""
        if self.profile.sees_all:
            return jobs
        idx = {i["name"]: i["dataset"] for i in self.catalog.indexes()}
        return [j for j in jobs if self.profile.shows(j.target.split()[0] if j.target else "", idx)]

    @operation("ask a running job to stop", remote=True, scope="jobs", mutates=True)
    def cancel_job(self, job_id: str) -> bool:
        self._own_job(job_id, "cancel")
        return self._jobs.cancel(job_id)

    def _own_job(self, job_id: str, verb: str) -> JobInfo:
        """A job this profile may act on: one it sees, and — for a restricted profile —
        one it started itself."""
        job = self.job(job_id)
        owner = self.catalog.job_profile(job_id)
        if restricted(self.principal) and owner != self.principal.id:
            raise Refused(f"job {job_id} was started by {'profile ' + owner if owner else 'another profile'}, "
                          f"and profile {self.principal.id} may {verb} only its own jobs")
        return job

    @operation("one job", remote=True, scope="jobs")
    def job(self, job_id: str) -> JobInfo:
        """One job this profile may see (a dead process's running job shows as interrupted)."""
        job = self._jobs.get(job_id)
        if job is None or not self._shows_jobs([job]):
            raise NotFound(f"no job with id {job_id!r} — `lakehouse jobs` lists them")
        return job

    @operation("make a failed, cancelled or interrupted job's call again",
               remote=True, scope="jobs", mutates=True)
    def retry_job(self, job_id: str, progress: Listener | None = None, cancel: threading.Event | None = None):
        """Make the call that started a failed, cancelled or interrupted job again, through
        the same public method (so the same profile checks apply), as a new job; return
        what that call returns."""
        import json

        job = self._own_job(job_id, "retry")
        if job.status == "running":
            raise LakehouseError(f"job {job_id} is still running — wait for it, or stop it with "
                                 f"`lakehouse jobs cancel {job_id}` and then retry it")
        if job.status == "succeeded":
            raise LakehouseError(f"job {job_id} ({job.kind} of {job.target}) succeeded — there is nothing to retry")
        params = self.catalog.job_params(job_id)
        call = json.loads(params) if params else None
        if not call or not is_retryable(call.get("method")):  # only operations declared retryable
            raise LakehouseError(f"job {job_id} ({job.kind} of {job.target}) has no recorded call to retry "
                                 "(it started before retries were recorded) — run its command again")
        return getattr(self, call["method"])(**call["kwargs"], progress=progress, cancel=cancel)

    @operation("the errors journal", remote=True, scope="datasets")
    def errors(self, since: str | None = None, limit: int | None = None) -> list[ErrorEvent]:
        errs = self.catalog.errors(parse_since(since) if since else None, limit)
        return errs if self.profile.sees_all else [e for e in errs if e.dataset and self.profile.sees(e.dataset)]

    # -- demo ---------------------------------------------------------------------
    @operation("generate and ingest the demo workload",
               remote=True, scope="datasets", audited=True, mutates=True, retryable=True)
    def demo(self, scale: float = 1.0, progress: Listener | None = None,
             cancel: threading.Event | None = None) -> list[IngestResult]:
        """Generate the reference staffing workload and ingest it the normal way."""
        from core import demo as demo_mod

        if not (0 < scale <= 100):
            raise LakehouseError(f"--scale must be between 0 and 100, got {scale}")
        out = self.root / "demo" / f"scale-{scale:g}"
        # one demo job spans it all, so a cancel anywhere records the demo cancelled; a re-run
        # skips what is done (identical bytes, embedded chunks) and continues
        with self._jobs.run("demo", f"scale {scale:g}", progress, cancel) as job:
            job.progress(0, None, "", "generating the demo workload", force=True)
            paths = demo_mod.generate(out, scale, job)
            job.progress(message=f"generated {len(paths)} sources in {out}", force=True)
            results: list[IngestResult] = []
            loaded = 0  # sources (a table, or the folder of documents) fully ingested
            try:
                for p in paths:  # each table with its primary key, so records can be updated by id
                    results += self.ingest([str(p)], key=demo_mod.KEYS.get(Path(p).stem),
                                           reason="demo workload", progress=progress, cancel=job.cancel_event)
                    loaded += 1
                # the candidates' resumes, searchable by meaning (`lakehouse search resumes "..."`)
                self.embed("candidates", "resume_text", index="resumes", actor="demo", progress=progress,
                           cancel=job.cancel_event)
            except Cancelled as e:
                where = (f"all {len(paths)} sources are loaded, the resumes index is not finished"
                         if loaded == len(paths) else f"{loaded} of {len(paths)} sources are loaded")
                raise Cancelled(f"the demo was cancelled ({e}); {where} — run `lakehouse demo` again "
                                "to continue from there") from None
            job.progress(message=f"demo loaded into {self.root}", force=True)
        return results


def _as_of(value):
    from core.query.engine import parse_as_of

    return None if value is None else parse_as_of(value)


def _user() -> str:
    from core.ingest.run import current_user

    return current_user()


def parse_since(since: str) -> str:
    """'30m', '2h', '7d' or an ISO date/time -> an ISO timestamp (UTC) to compare with."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", since)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"s": timedelta(seconds=n), "m": timedelta(minutes=n), "h": timedelta(hours=n),
                 "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        return (datetime.now(timezone.utc) - delta).isoformat(timespec="milliseconds")
    try:
        dt = datetime.fromisoformat(since.strip())
    except ValueError:
        raise LakehouseError(f"--since {since!r} is not a time — use e.g. 30m, 2h, 7d or "
                             "2026-01-31T12:00") from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time as the user meant it
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")
