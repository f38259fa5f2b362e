"""The preview of a PostgreSQL source (a part of `ingest_preview`): the dataset a table or
a query would become, its columns with the types ingest writes and its first rows —
nothing written.

It connects exactly as an ingest does (core/ingest/postgres.py `_Run`: the password from
the URL, the [postgres] secrets_file or libpq's own sources; a READ ONLY, REPEATABLE READ
transaction), maps the columns with core/ingest/pgtypes.py (an unmappable type refused in
ingest's sentence), and fetches the first rows from a server-side cursor over the same
SELECT ingest streams, with a LIMIT. An unconstrained numeric column gets its scale from
the whole source, as ingest does, so its type is the one a dataset would have.
"""

from __future__ import annotations

from types import SimpleNamespace

from core.errors import IngestError
from core.ingest import pgtypes
from core.ingest.postgres import _msg, _Run, psycopg_error, source_of
from core.models import IngestResult, plain


class _Look(_Run):
    """A _Run that only looks: no job, no catalog, nothing written."""

    def __init__(self, config, src):
        super().__init__(SimpleNamespace(config=config), src, None, "create",
                         IngestResult(src.shown, src.dataset, "failed"))

    def explain(self, e) -> str:
        import psycopg

        if isinstance(e, psycopg.OperationalError) or self.conn is None or self.conn.broken:
            # _Run's sentence names the job to retry; a preview has none: preview again
            return (f"the connection to PostgreSQL at {self.where} was lost or the server cancelled the "
                    f"{self.src.label} ({_msg(e, self)}) — preview it again")
        return super().explain(e)

    def look(self, limit: int) -> dict:
        from psycopg import sql

        src, conn = self.src, self.conn
        where = f"{src.shown} ({src.label})"
        with conn.cursor() as cur:  # as _Run._prepare: the columns, without a row
            cur.execute(sql.SQL("SELECT * FROM ({}) AS lh_src LIMIT 0").format(src.inner()))
            desc = cur.description
        if not desc:
            raise IngestError(f"{src.shown}: the {src.label} has no columns to ingest — give a SELECT "
                              "that names some")
        self.cols = pgtypes.plan(conn, desc, where)
        pgtypes.decimal_scale(conn, self._filtered(), self.cols, where)
        est = self.estimate()
        with conn.cursor(name="lakehouse_preview", binary=True) as cur:
            cur.execute(sql.SQL("{} LIMIT {}").format(self.select(), sql.Literal(limit + 1)))
            fetched = cur.fetchmany(limit + 1)
        conn.rollback()  # read only: nothing to keep
        return {"columns": self._columns(), "rows": self._rows(fetched[:limit], where),
                "sampled": len(fetched) > limit, "est_rows": est, "notes": self._notes()}

    def _columns(self) -> list[dict]:
        import pyarrow as pa

        from core.storage.duck import columns_of_arrow

        schema = pa.schema([pa.field(c.name, c.arrow) for c in self.cols])
        return [{"name": c.name, "type": c.type} for c in columns_of_arrow(schema)]

    def _rows(self, fetched: list[tuple], where: str) -> list[list]:
        """The rows as ingest converts them (a value ingest refuses is refused here too)."""
        arrays = pgtypes.arrays(self.cols, fetched, where)
        columns = [a.to_pylist() for a in arrays]
        return [[plain(v) for v in row] for row in zip(*columns)] if columns else []

    def _notes(self) -> list[str]:
        notes = []  # as the ingest's result notes them (core/ingest/pgwrite.py)
        for c in self.cols:
            if c.typename in ("time", "interval") and c.kind == "plain":
                notes.append(f"column {c.name!r} ({c.pg}) stored as text")
            elif c.unconstrained:
                notes.append(f"column {c.name!r}: {c.pg}")
        return notes


def preview_postgres(config, url: str, *, name: str | None, query: str | None, table: str | None,
                     types, limit: int) -> dict:
    """The preview dict of a postgresql:// source (the shape of a file's: see preview_ops)."""
    from core.ingest.run import parse_types

    src = source_of(url, name=name, query=query, table=table, incremental_by=None, types=parse_types(types))
    run = _Look(config, src)
    out = {"path": src.shown, "format": "postgresql", "size": None, "dataset": src.dataset, "kind": "table",
           "encoding": None, "dialect": None, "columns": [], "rows": [], "est_rows": None, "sampled": True,
           "bytes_read": None, "notes": []}
    run.conn = run._connect()
    try:
        out.update(run.look(limit))
    except psycopg_error() as e:
        raise IngestError(run.explain(e)) from None
    finally:
        run.conn.close()
    return out
