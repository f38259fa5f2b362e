"""The catalog: SQLite (WAL), the sole metadata authority. Pointers only, never data.

A dataset row points at a Delta table version and the data files that make it up,
so readers build their views without touching the Delta log. Every change to
datasets bumps the generation, which readers compare to know when to rebuild.

The connection and the migration runner live here; each area owns its tables, their
migrations and its row access (`catalog.datasets`, `catalog.jobs`, `catalog.indexes`
...) in its own rows module.
"""

from __future__ import annotations

from pathlib import Path

from core.ask.rows import AskRows, migrations as ask_migrations
from core.datasets.rows import DatasetRows, migrations as dataset_migrations
from core.governance.rows import TagRows, migrations as governance_migrations
from core.ops.rows import AuditRows, ErrorRows, JobRows, migrations as ops_migrations
from core.storage.db import Db
from core.storage.migrations import migrate
from core.storage.rows import IntentRows, MetaRows, migrations as storage_migrations
from core.trials.rows import TrialRows, migrations as trial_migrations
from core.vectors.rows import IndexRows, migrations as vector_migrations

# every area's migrations, applied in this order (storage first: the others' rows bump its generation)
AREAS = [storage_migrations, dataset_migrations, ops_migrations, vector_migrations, ask_migrations,
         trial_migrations, governance_migrations]


class Catalog:
    def __init__(self, path: Path):
        self.path = path
        self.db = Db(path)
        with self.db.lock:
            migrate(self.db.conn, AREAS)
        self.meta = MetaRows(self.db)
        self.intents = IntentRows(self.db)
        self.datasets = DatasetRows(self.db, self.meta, self.intents)
        self.jobs = JobRows(self.db)
        self.errors = ErrorRows(self.db)
        self.audit = AuditRows(self.db)
        self.indexes = IndexRows(self.db)
        self.asks = AskRows(self.db)
        self.trials = TrialRows(self.db)
        self.tags = TagRows(self.db)

    def close(self) -> None:
        self.db.close()

    # -- system tables: read-only views over several areas' rows, for SQL --------------
    _SYSTEM = {"_errors": "errors", "_jobs": "jobs", "_journal": "journal", "_index_events": "index_events",
               "_asks": "asks", "_audit": "audit", "_trials": "trials"}
    _TIMESTAMPS = ("ts", "started_at", "finished_at", "created_at", "updated_at")

    def system_table(self, name: str):
        """A system table (_datasets, _jobs, _errors, _journal ...) as a pyarrow.Table."""
        import pyarrow as pa

        if name == "_columns":  # each column's sensitivity tag and evidence (core/governance)
            from core.governance.tag_ops import columns_table

            return columns_table(self)
        if name == "_indexes":
            sql = ("SELECT g.index_name AS index_name, g.gen, g.status, COALESCE(i.active_gen = g.gen, false) "
                   "AS active, i.dataset, i.column_name, g.kind, g.provider, g.model, g.digest, g.dim, "
                   "g.chunk_size, g.overlap, g.m, g.ef_construction, g.ef_search, g.dataset_version, "
                   "g.rows, g.chunks, g.embedded, g.reused, g.build_seconds, g.bytes, g.created_at, "
                   "g.finished_at FROM index_generations g JOIN indexes i ON i.name = g.index_name "
                   "ORDER BY g.index_name, g.gen")
        elif name == "_datasets":
            sql = ("SELECT name, kind, format, source_uri, content_hash, row_count, bytes, table_version, "
                   "primary_key, pinned, description, owner, tags_json AS tags, created_at, updated_at "
                   "FROM datasets ORDER BY name")
        else:
            sql = f"SELECT * FROM {self._SYSTEM[name]} ORDER BY rowid"
        with self.db.lock:
            cur = self.db.conn.execute(sql)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        ts = pa.timestamp("ms", tz="UTC")
        arrays = []
        for i, n in enumerate(names):
            values = [r[i] for r in rows]
            if n in self._TIMESTAMPS:
                arrays.append(pa.array(values, pa.string()).cast(ts))
            elif n in ("pinned", "active"):
                arrays.append(pa.array([bool(v) for v in values], pa.bool_()))
            else:
                arrays.append(pa.array(values) if rows else pa.array([], pa.string()))
        return pa.table(arrays, names=names)
