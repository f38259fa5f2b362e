"""``generate``: writes the workload's Parquet tables and documents into a folder."""

from __future__ import annotations

import contextlib
import os
import pathlib

from core.demo.copies import copy_sql
from core.demo.documents import write_documents
from core.demo.macros import macros
from core.demo.tables import table_sql
from core.demo.workload import TABLES, doc_count, row_counts


def generate(out_dir: pathlib.Path, scale: float = 1.0, job=None) -> list[pathlib.Path]:
    """Write the reference workload into ``out_dir`` and return its paths.

    Returns the seven Parquet files in the order of ``TABLES`` followed by the
    ``documents`` folder.  The output is a pure function of ``scale``.
    With a ``job`` (core.ops.jobs.Job), a cancel interrupts the statement in flight,
    raises Cancelled and leaves no temporary file behind.
    """
    out_dir = pathlib.Path(out_dir)
    counts = row_counts(scale)
    ndocs = doc_count(scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(out_dir)
    paths = {t: out_dir / f"{t}.parquet" for t in TABLES}
    # per-process temporary names: two demos started at once must not trip over each other
    tmp = {t: out_dir / f".{t}.{os.getpid()}.parquet.tmp" for t in TABLES}
    _run(macros() + table_sql(counts) + copy_sql(counts, tmp), tmp.values(), job)
    for t in TABLES:
        tmp[t].replace(paths[t])

    docs_dir = out_dir / "documents"
    write_documents(docs_dir, ndocs)
    return [paths[t] for t in TABLES] + [docs_dir]


def _run(stmts: list[str], outputs, job) -> None:
    """Run the statements in a fresh in-memory DuckDB; on any failure remove ``outputs``."""
    import duckdb  # here, not at module level: importing core.demo stays cheap

    con = duckdb.connect(":memory:")
    watch = contextlib.ExitStack()
    if job is not None:
        watch.enter_context(job.watching(con.interrupt))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = true")
        for i, stmt in enumerate(stmts):
            if job is not None:
                job.progress(i, len(stmts), "steps", "generating the demo workload")
                job.pause_point("generate")
            try:
                con.execute(stmt)
            except duckdb.InterruptException:
                if job is not None:
                    job.check_cancel()  # the watch interrupted it: a cancel
                raise
    except BaseException:
        for f in outputs:
            f.unlink(missing_ok=True)
        raise
    finally:
        watch.close()
        con.close()


def _remove_stale_tmp(out_dir: pathlib.Path) -> None:
    """Temporary files of a generation whose process was killed before it could clean up."""
    from core.ops.jobs import _alive

    for f in list(out_dir.glob(".*.parquet.tmp")) + list(out_dir.glob("documents/.*.tmp")):
        pid = f.name.rsplit(".", 3)[-3] if f.name.endswith(".parquet.tmp") else f.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            f.unlink(missing_ok=True)
