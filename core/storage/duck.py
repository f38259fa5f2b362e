"""DuckDB helpers shared by ingest and the catalog (not the sandboxed query engine)."""

from __future__ import annotations

import threading

from core.models import Column

# DuckDB types Delta Lake cannot store, and what they become.
_DELTA_CASTS = {
    "UTINYINT": "SMALLINT", "USMALLINT": "INTEGER", "UINTEGER": "BIGINT",
    "UBIGINT": "DECIMAL(38,0)", "HUGEINT": "DECIMAL(38,0)", "UHUGEINT": "DECIMAL(38,0)",
    "TIMESTAMP_NS": "TIMESTAMP", "TIMESTAMP_MS": "TIMESTAMP", "TIMESTAMP_S": "TIMESTAMP",
}
_TO_TEXT = ("TIME", "INTERVAL", "UUID", "JSON", "BIT", "ENUM", "UNION", "MAP", "VARINT", "BIGNUM")


def delta_cast(typ: str) -> str | None:
    """The type a column must be cast to before Delta can store it, or None."""
    t = typ.upper()
    if t in _DELTA_CASTS:
        return _DELTA_CASTS[t]
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t.startswith("TIMESTAMP "):
        return None
    if any(t == x or t.startswith(x + "(") or t.startswith(x + " ") for x in _TO_TEXT):
        return "VARCHAR"
    if any(tok in t for tok in ("TIME", "INTERVAL", "UUID", "JSON", "UTINYINT", "UBIGINT",
                                "UINTEGER", "USMALLINT", "HUGEINT", "ENUM", "UNION", "MAP(")) \
            and ("[]" in t or t.startswith(("STRUCT", "LIST"))):
        return "VARCHAR"  # a nested type holding something Delta cannot store
    return None


def connect(memory_limit: str = "", threads: int = 0, temp_directory: str = ""):
    """An unsandboxed in-memory DuckDB connection for ingest work. `memory_limit` bounds
    what DuckDB holds (operators that need more spill to `temp_directory`, else fail);
    a value DuckDB does not take raises ValueError."""
    import duckdb

    con = duckdb.connect(config={"threads": threads} if threads else {})
    if memory_limit:
        try:
            con.execute(f"SET memory_limit = '{memory_limit.replace(chr(39), chr(39) * 2)}'")
        except duckdb.Error:
            con.close()
            raise ValueError(memory_limit) from None
    if temp_directory:  # never DuckDB's default, '.tmp' in whatever the current directory is
        con.execute(f"SET temp_directory = '{temp_directory.replace(chr(39), chr(39) * 2)}'")
    # A plain scan streams in order without buffering the file; kept so rows land in file order.
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")  # progress is ours to report, not DuckDB's
    return con


def memory_limit_bytes(con) -> int:
    """The connection's memory limit in bytes, as DuckDB resolved it (e.g. '953.6 MiB')."""
    from core.query.cache import parse_size

    try:
        return parse_size(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    except (ValueError, TypeError):
        return 0


_types_con = None
_types_lock = threading.Lock()


def columns_of_arrow(schema) -> list[Column]:
    """DuckDB's view of an Arrow schema: [Column(name, DuckDB type, nullable)]."""
    import duckdb

    global _types_con
    with _types_lock:  # one small connection for the process: a new one costs ~15 ms
        if _types_con is None:
            _types_con = duckdb.connect()
        rel = _types_con.from_arrow(schema.empty_table())
        return [Column(n, str(t), schema.field(n).nullable if n in schema.names else True)
                for n, t in zip(rel.columns, rel.types)]
