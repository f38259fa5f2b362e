"""core.Lakehouse: the one facade every frontend calls (TUI, CLI, daemon).

Methods return dataclasses and Arrow tables and never print. Long operations take
an optional progress listener and a cancel Event and run as jobs.
"""

from __future__ import annotations

import threading
from functools import cached_property
from importlib import import_module
from pathlib import Path

from core import config as config_mod
from core import access
from core.access import require_admin
from core.api import operation
from core.errors import LakehouseError
from core.datasets.restore_preview import RestorePreviewOps
from core.governance.contract_ops import ContractOps
from core.governance.policy_ops import PolicyOps
from core.governance.tag_ops import TagOps
from core.ingest.preview_ops import PreviewOps
from core.live.schedule_ops import ScheduleOps
from core.live.watch_ops import WatchOps
from core.memory.boost import boost_counts
from core.memory.facade import MemoryOps
from core.models import Description, Dataset, ErrorEvent, IngestResult, JobInfo
from core.names import quote_ident
from core.ops.desk import OpsDesk
from core.ops.jobs import Jobs, Listener
from core.profiles import admin, scoped
from core.profiles.scoped import Reader
from core.query.column_profile import ColumnProfileOps
from core.storage import root as storage_root
from core.storage.catalog import Catalog
from core.storage.tables import Tables
from core.trials.facade import TrialsOps
from core.vectors.freshness import FreshnessOps


class Lakehouse(TrialsOps, MemoryOps, FreshnessOps, ScheduleOps, WatchOps, ContractOps, TagOps,
                PolicyOps, ColumnProfileOps, PreviewOps, RestorePreviewOps):
    def __init__(self, cfg: config_mod.Config):
        self.config = cfg
        self.root: Path = cfg.root
        storage_root.prepare(self.root)
        self.catalog = Catalog(self.root / "catalog.sqlite")
        from core.ops.audit import AuditLog
        from core.profiles.store import resolve
        from core.storage.recovery import recover_at_open

        # the reader: --profile / LAKEHOUSE_PROFILE, else the activated one, else default
        self.profile = resolve(cfg.profiles, cfg.profile or self.catalog.meta.get("active_profile"))
        self.profile.bound = any(self.profile.id in p.profiles for p in cfg.policies.values())
        # who holds this facade: the profile it was opened as. Switching (activate) may
        # change the reader but never what the holder may do (core.access)
        self.principal = self.profile
        self.audit_log = AuditLog(self.catalog, self.profile.id, cfg.get("audit.flush_s"))
        self.audit_log.policy_note = self._audit_policy if cfg.policies else None
        self._jobs = Jobs(self.catalog, cfg.get("jobs.keep"), owner=lambda: self.profile.id)
        self._desk = OpsDesk(self._jobs, self.catalog, self.audit_log, lambda: self.profile, self.principal)
        self._reader = Reader(self.root, cfg, self.catalog, self._jobs, self.profile)
        self._tables = Tables(self.root, cfg.get("ingest.row_group_rows"), cfg.get("ingest.target_file_mb"),
                              catalog=self.catalog)
        self._asker = None
        self.recovery_notes: list[str] = recover_at_open(self.root, self.catalog, self._tables,
                                                         sees=self.profile.sees)
        # a binding that points at nothing is reported now, not at first use
        self.profile_problems: list[str] = scoped.binding_problems(self.profile, self.catalog)

    @classmethod
    @operation("open (creating if needed) a storage root as a profile", remote=False, scope="none")
    def open(cls, home: str | Path | None = None, config_file: str | Path | None = None,
             config: config_mod.Config | None = None, profile: str | None = None) -> "Lakehouse":
        """Open (creating if needed) the storage root. `home` relocates all state;
        `profile` is the reader whose data, models and settings apply."""
        return cls(config or config_mod.load(home=home, config_file=config_file, profile=profile))

    @operation("flush the audit log and close the engine and the catalog", remote=False, scope="none")
    def close(self) -> None:
        self._close_memory()
        self.audit_log.close()
        self._reader.close()
        self.catalog.close()

    def __enter__(self) -> "Lakehouse":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------
    @property
    @operation("the Delta tables under the root (in-process)", remote=False, scope="none")
    def tables(self):
        return self._tables

    @property
    @operation("this facade's SQL engine, scoped to its profile (in-process)", remote=False, scope="query")
    def engine(self):
        return self._reader.engine

    # -- datasets -----------------------------------------------------------------
    @operation("ingest files, directories or globs — **paths as the daemon sees them** (the CLI makes them absolute)",
               remote=True, scope="datasets", mutates=True, retryable=True)
    def ingest(self, paths, *, name: str | None = None, format: str | None = None,
               types: str | dict | None = None, mode: str | None = None,
               key: str | list[str] | None = None, actor: str | None = None, reason: str = "",
               query: str | None = None, table: str | None = None, incremental_by: str | None = None,
               schema_change: str = "refuse", column_map: str | dict | None = None,
               progress: Listener | None = None, cancel: threading.Event | None = None) -> list[IngestResult]:
        """Ingest files, directories, globs or a PostgreSQL URL (with `query` or `table`;
        `incremental_by` fetches only rows past the last high-water mark). Mode
        create|append|replace|upsert; `key` declares the primary key. A schema that differs
        from the dataset's is refused with its diff unless `schema_change` is "additive"
        (added columns only) or "accept"; `column_map` maps incoming columns onto the
        dataset's ("full_name=first_name"). Per-source outcomes are in the results; bad
        arguments raise IngestError. Failures are recorded in `_errors`."""
        from core.datasets.intake import ingest

        self._policy_write_check(name, "ingest into")
        return ingest(self.profile, self.root, self.config, self.catalog, self.tables, self._jobs, paths,
                      name=name, fmt=format, types=types, mode=mode, key=key, actor=actor, reason=reason,
                      query=query, table=table, incremental_by=incremental_by,
                      schema_change=schema_change, column_map=column_map,
                      listener=progress, cancel=cancel)

    @operation("the datasets this profile sees", remote=True, scope="datasets")
    def datasets(self) -> list[Dataset]:
        return access.datasets(self.profile, self.catalog.datasets.all())

    @operation("one Dataset", remote=True, scope="datasets")
    def dataset(self, name: str) -> Dataset:
        return access.dataset(self.catalog, self.profile, name)

    @operation("schema, lineage, schema versions and a sample (a Description)",
               remote=True, scope="datasets", audited=True)
    def describe(self, name: str, sample_rows: int = 5) -> Description:
        ds = self.dataset(name)
        sample = self.sql(f"SELECT * FROM {quote_ident(name)} LIMIT {int(sample_rows)}")
        return Description(ds, self.catalog.datasets.lineage(name), self.catalog.datasets.schema_versions(name), sample,
                           **self._governance_facts(name), **self._policy_facts(name))

    @operation("rebuild catalog facts from the tables", remote=True, scope="datasets", mutates=True)
    def resync(self, name: str | None = None) -> list[str]:
        from core.datasets.resync import resync

        # a commit lakehouse did not write is adopted only when its dataset is named
        names = [self.dataset(name).name] if name else [d.name for d in self.datasets()]
        return resync(self.root, self.catalog, self.tables, names, adopting=name is not None)

    # -- mutations, history, time travel -------------------------------------------------
    @cached_property
    def _mutator(self):
        from core.datasets.mutate import Mutator

        return Mutator(self.root, self.config, self.catalog, self.tables)

    def _guard(self, operation: str, dataset: str, fn, statement: str = ""):
        from core.datasets.intake import guarded

        def check(name: str) -> None:
            self.dataset(name)
            self._policy_write_check(name, operation)
        return guarded(self.audit_log, self.catalog, self.profile, check, operation, dataset, fn, statement)

    @operation("set fields of one record (journaled per field)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def update(self, name: str, key, values: dict[str, str], *, actor: str | None = None,
               reason: str = ""):
        return self._guard("update", name, lambda: self._mutator.update(
            name, key, values, actor or _user(), reason), f"key {key}: {values}")

    @operation("delete one record by primary key (journaled)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def delete(self, name: str, key, *, actor: str | None = None, reason: str = ""):
        return self._guard("delete", name, lambda: self._mutator.delete(name, key, actor or _user(), reason),
                           f"key {key}")

    @operation("make an old state current again as a new version",
               remote=True, scope="datasets", audited=True, mutates=True)
    def restore(self, name: str, *, version: int | None = None, as_of: str | None = None,
                actor: str | None = None, reason: str = ""):
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
        from core.governance.shown import journal

        self.dataset(name)
        return journal(self.engine, self.catalog, name, self.catalog.datasets.journal(name, key))

    @operation("compact a dataset's small files (and vacuum old ones)",
               remote=True, scope="datasets", audited=True, mutates=True)
    def compact(self, name: str, *, vacuum: bool = False, retain_hours: int | None = None) -> dict:
        return self._guard("compact", name, lambda: self._mutator.compact(name, vacuum, retain_hours))

    # -- hot cache ------------------------------------------------------------------------
    @operation("keep a dataset in DuckDB memory", remote=True, scope="datasets", mutates=True)
    def pin(self, name: str) -> None:
        self.dataset(name)
        self.catalog.datasets.set_pinned(name, True)

    @operation("stop keeping a dataset in DuckDB memory", remote=True, scope="datasets", mutates=True)
    def unpin(self, name: str) -> None:
        self.dataset(name)
        self.catalog.datasets.set_pinned(name, False)

    @operation("pinned datasets, memory held, hits and misses", remote=True, scope="none")
    def cache(self) -> dict:
        return self.engine.cache_stats()

    # -- SQL --------------------------------------------------------------------
    @operation("one read-only query — **Arrow frames**", remote=True, scope="query", audited=True)
    def sql(self, text: str, as_of: int | str | None = None):
        """Run one read-only query over the datasets; return a pyarrow.Table.
        `as_of`: a version (one dataset) or a timestamp (every dataset in the query)."""
        return self.audit_log.timed("sql", lambda: self._touched(text), text,
                                    lambda: self.engine.run(text, _as_of(as_of)), rows=lambda t: t.num_rows)

    @operation("one read-only query, streamed — **Arrow frames**, one per batch",
               remote=True, scope="query", audited=True, streams=True)
    def sql_stream(self, text: str, batch_rows: int = 65536, as_of: int | str | None = None):
        """Like sql(), as a pyarrow.RecordBatchReader: rows stream, memory stays bounded.
        The audit entry is written when the stream ends, with the rows it carried."""
        return self.audit_log.streamed("sql", lambda: self._touched(text), text,
                                       lambda: self.engine.stream(text, batch_rows, _as_of(as_of)))

    @operation("one read-only query as JSON: `columns`, `types`, the first `limit` (100) `rows`, "
               "and the true `row_count`",
               remote=True, scope="query", audited=True)
    def sql_rows(self, text: str, limit: int = 100, as_of: int | str | None = None) -> dict:
        """Like sql(), as plain JSON-ready values: the first `limit` rows, and the true
        count of all of them (the rest are counted, never fetched into memory). Dates
        are ISO strings, decimals strings, bytes hex — the same in-process and over the
        daemon's socket, where this is how small results travel without Arrow."""
        from core.query.preview import preview

        return preview(self.sql_stream(text, as_of=as_of), limit)

    @operation("stop this facade's running queries from another thread (clients send `cancel`)",
               remote=False, scope="none")
    def interrupt_sql(self, thread: int | None = None) -> bool:
        return self._reader.interrupt(thread)

    def _touched(self, text: str) -> list[str]:
        """Datasets a query names (the views the engine knows are this profile's), as of now or in time."""
        return self.engine.touched(text) if isinstance(text, str) else []

    # -- vectors: embedding, index generations, semantic and hybrid search --------------
    @property
    def _vectors(self):
        return self._reader.vectors

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
        chosen = scoped.embed_options(self.profile, embedder, model, m, ef_construction, ef_search)
        retrial = import_module("core.trials.retrial")  # a data refresh re-trials the active settings
        return retrial.after_embed(self._vectors, self._guard("embed", dataset, lambda: self._vectors.embed(
            dataset, column, index=index, key=key, chunk_size=chunk_size, overlap=overlap, kind=kind,
            promote=promote, actor=actor or _user(), listener=progress, cancel=cancel, **chosen),
            f"{dataset}.{column} -> {index or ''}"), progress, cancel)

    @operation("semantic search, optionally filtered by a SQL condition; a SearchResult",
               remote=True, scope="index", audited=True)
    def search(self, index: str, text: str, k: int = 10, *, where: str | None = None,
               ef: int | None = None, embedder: str | None = None, memory: bool | None = None):
        """Semantic search of `index` (or `index@gN`); `where` is a SQL condition on the
        source dataset — only rows passing it are ranked; `memory` re-ranks with playbook
        memory (None: the profile's or [memory] search). Returns a SearchResult."""
        ef, name = ef or self.profile.hnsw.get("ef_search"), index.split("@")[0]
        boosted = self._uses_memory(memory, "search")
        res = self.audit_log.timed("search", [name], text + (f" WHERE {where}" if where else ""),
                                   lambda: self._boosted(index, text, k, where, ef, embedder) if boosted else
                                   self._vectors.search(index, text, k, where, ef, embedder), rows=lambda r: len(r.hits))
        if res.memory is not None:  # a silent zero shows in _audit as a zero
            self.audit_log.record("memory_boost", [name], boost_counts(res.memory), res.memory["hits_boosted"])
        return res

    @operation("one search on two generations with overlap@k", remote=True, scope="index", audited=True)
    def compare(self, a: str, b: str, text: str, k: int = 10, *, where: str | None = None) -> dict:
        ra = self.search(a, text, k, where=where)
        rb = self.search(b, text, k, where=where)
        keys_a, keys_b = {h.row_key for h in ra.hits}, {h.row_key for h in rb.hits}
        overlap = len(keys_a & keys_b) / max(len(keys_a), len(keys_b), 1)
        return {"a": ra, "b": rb, "overlap": round(overlap, 4), "k": k}

    @operation("every index", remote=True, scope="index")
    def indexes(self):
        return self._vectors.list()

    @operation("one IndexInfo with its generations", remote=True, scope="index")
    def index(self, name: str):
        return self._vectors.info(name)

    @operation("make a generation the active one", remote=True, scope="index", mutates=True)
    def promote(self, index: str, gen: int, actor: str | None = None):
        return self._vectors.promote(index, gen, actor or _user())

    @operation("return to the previously active generation", remote=True, scope="index", mutates=True)
    def rollback(self, index: str, actor: str | None = None):
        return self._vectors.rollback(index, actor or _user())

    @operation("drop an index or one generation", remote=True, scope="index", mutates=True)
    def drop_index(self, index: str, gen: int | None = None, actor: str | None = None) -> str:
        said = self._vectors.drop(index, gen, actor or _user())
        if gen is None:
            self._forget_memories(index)
        return said

    @operation("rebuild a generation's sidecar files from its Parquet",
               remote=True, scope="index", mutates=True, retryable=True)
    def rebuild_index(self, index: str, gen: int, progress: Listener | None = None,
                      cancel: threading.Event | None = None):
        return self._vectors.rebuild(index, gen, progress, cancel)

    @operation("check a generation's files against its checksums", remote=True, scope="index")
    def verify_index(self, index: str, gen: int | None = None) -> list[str]:
        return self._vectors.verify(index, gen)

    @operation("index generations loaded in the daemon", remote=True, scope="none")
    def vector_cache(self) -> dict:
        return access.cache_entries(self.profile, self.catalog, self._vectors.cache.stats())

    # -- ask: grounded answers from a local model ---------------------------------------
    @operation("answer from the data: NL→SQL, RAG with citations, or hybrid; an AskResult",
               remote=True, scope="query", audited=True)
    def ask(self, question: str, *, mode: str = "auto", index: str | None = None,
            model: str | None = None, on_token=None):
        """Answer a question from the data: NL->SQL, RAG with citations, or both (auto
        routes, and says why). `on_token` receives the answer as it streams. Every ask
        is recorded in `_asks`. Returns an AskResult."""
        from core.ask import service

        self._asker = service.asker_for(self, self._asker, model)
        return service.answer(self._asker, self.audit_log, self._touched, question, mode, index, on_token)

    @operation("mark an ask's question→SQL pair as a good example for later prompts",
               remote=True, scope="none", mutates=True)
    def accept(self, ask_id: str) -> dict:
        from core.ask import service

        return service.accept(self.catalog, self.principal, ask_id)

    @operation("Ollama's installed and loaded models", remote=True, scope="none")
    def models(self) -> dict:
        from core.ask import service

        return service.models(self.config)

    @operation("Ollama's URL and whether it answers", remote=True, scope="none")
    def ollama_status(self) -> dict:
        from core.ask import service

        return service.ollama_status(self.config)

    @operation("the SELECT that opens search hits' source rows", remote=True, scope="datasets")
    def rows_query(self, dataset: str, row_keys: list[str]) -> str:
        """A SELECT of a dataset's rows by their row keys (as search hits and citations
        name them): the way to open a hit's source row."""
        from core.datasets.intake import rows_query

        return rows_query(self.dataset(dataset), row_keys)

    @operation("bytes under the storage root by component", remote=True, scope="none")
    def disk_usage(self) -> dict[str, int]:
        from core.ops.disk import by_component

        return by_component(self.root)

    # -- profiles -----------------------------------------------------------------------
    @operation("every profile", remote=True, scope="none")
    def profiles(self) -> list[dict]:
        """Every profile (the built-in default too) with its bindings' problems and
        whether it is the active one."""
        return admin.listing(self.config, self.catalog, self.principal, self.profile.id)

    @operation("one profile with its problems", remote=True, scope="none")
    def profile_show(self, pid: str) -> dict:
        return admin.show(self.config, self.profiles(), self.principal, pid)

    @operation("create or edit a profile", remote=True, scope="profile-admin", mutates=True)
    def profile_save(self, pid: str, changes: dict, *, create: bool) -> dict:
        """Create a profile, or edit one (only the keys given change). Writes
        [profiles.<pid>] into the config file; the rest of the file is kept as it was."""
        admin.save(self.config, self.principal, pid, changes, create)
        return self.profile_show(pid)

    @operation("remove a profile from lakehouse.toml", remote=True, scope="profile-admin", mutates=True)
    def profile_delete(self, pid: str) -> str:
        return admin.delete(self.config, self.catalog, self.principal, pid)

    @operation("make a profile the active one (a job); the daemon's default facade rescopes",
               remote=True, scope="profile-admin", audited=True, mutates=True, retryable=True)
    def activate(self, pid: str, progress: Listener | None = None, cancel: threading.Event | None = None,
                 job_id: str | None = None) -> dict:
        """Make `pid` the active profile (a job of named steps; see core.profiles.activation) and
        the reader of this facade. Its indexes stay loaded here for the next search."""
        from core.profiles.activation import Services, activate

        self.check_activate(pid)
        svc = Services(self.root, self.config, self.catalog, self._jobs, self.audit_log, self._reader, self._use)
        return activate(svc, pid, progress, cancel, job_id)

    @operation("refuse, in one sentence, an activation this connection's profile may not make "
               "(the CLI asks before it starts a background activation); `null` when allowed",
               remote=True, scope="profile-admin")
    def check_activate(self, pid: str) -> None:
        if pid != self.principal.id:
            require_admin(self.principal, "activating other profiles")

    @operation("a SQL engine scoped to a given profile (activation warms one)", remote=False, scope="none")
    def new_engine(self, profile):
        return self._reader.new_engine(profile)

    def _use(self, profile, engine=None, vectors=None) -> None:
        """Switch this facade's reader: new scoping; loaded indexes stay loaded."""
        self._reader.switch(profile, engine, vectors)
        self.audit_log.flush()
        self.profile = profile
        self.audit_log.profile = profile.id
        self._asker = None

    @operation("audit entries, newest first", remote=True, scope="own-audit")
    def audit(self, profile: str | None = None, since: str | None = None, limit: int = 200) -> list[dict]:
        return self._desk.audit(profile, since, limit)

    # -- jobs and errors -------------------------------------------------------------
    @operation("running and recent jobs", remote=True, scope="jobs")
    def jobs(self, limit: int = 50) -> list[JobInfo]:
        return self._desk.list(limit)

    @operation("ask a running job to stop", remote=True, scope="jobs", mutates=True)
    def cancel_job(self, job_id: str) -> bool:
        return self._desk.cancel(job_id)

    @operation("one job", remote=True, scope="jobs")
    def job(self, job_id: str) -> JobInfo:
        return self._desk.get(job_id)

    @operation("make a failed, cancelled or interrupted job's call again",
               remote=True, scope="jobs", mutates=True)
    def retry_job(self, job_id: str, progress: Listener | None = None, cancel: threading.Event | None = None):
        """Make the call that started a failed, cancelled or interrupted job again, through
        the same public method (so the same profile checks apply), as a new job; return
        what that call returns."""
        call = self._desk.retry_call(job_id)
        return getattr(self, call["method"])(**call["kwargs"], progress=progress, cancel=cancel)

    @operation("the errors journal", remote=True, scope="datasets")
    def errors(self, since: str | None = None, limit: int | None = None) -> list[ErrorEvent]:
        from core.governance.shown import errors

        return errors(self.engine, self._desk.errors(since, limit))

    # -- demo ---------------------------------------------------------------------
    @operation("generate and ingest the demo workload",
               remote=True, scope="datasets", audited=True, mutates=True, retryable=True)
    def demo(self, scale: float = 1.0, progress: Listener | None = None,
             cancel: threading.Event | None = None) -> list[IngestResult]:
        from core.demo.start import start

        return start(self.root, self._jobs, self.ingest, self.embed, scale, progress, cancel, self.sql, self.memory_add)


def _as_of(value):
    from core.query.engine import parse_as_of

    return None if value is None else parse_as_of(value)


def _user() -> str:
    from core.ingest.run import current_user

    return current_user()
