"""The `search --where` gate: a condition on one dataset's columns, checked on DuckDB's
own parse tree, becomes SQL selecting the row keys that pass it.
"""

from __future__ import annotations

import threading

from core.errors import VectorError
from core.names import quote_ident

_EXAMPLE = "write a SQL condition such as \"state = 'IL' AND years_experience > 5\""


def filter_sql(dataset: str, where: str, key_sql: str) -> str:
    """SQL selecting the keys of the rows that pass `where`. The filter may use the
    dataset's columns and functions, nothing else: no subquery, no other table."""
    ds = quote_ident(dataset)
    if not _self_contained(where):  # e.g. "x) WINDOW w AS (…" would close our bracket
        raise VectorError(f"--where must be one condition whose brackets pair up on their own — {_EXAMPLE}")
    probe = f"SELECT 1 FROM {ds} WHERE ({where}\n)"
    ast = _serialize(probe)
    if ast.get("error"):
        raise VectorError(f"--where does not parse: {ast.get('error_message', 'syntax error')} — {_EXAMPLE}")
    stmts = ast["statements"]
    node = stmts[0]["node"] if len(stmts) == 1 else {}
    ok = (len(stmts) == 1 and node.get("type") == "SELECT_NODE" and not node.get("modifiers")
          and not node.get("group_expressions") and node.get("having") is None
          and node.get("from_table", {}).get("type") == "BASE_TABLE"
          and node["from_table"].get("table_name") == dataset
          and len(node.get("select_list", [])) == 1)
    if not ok or _has_subquery(node.get("where_clause")):
        raise VectorError(f"--where must be a condition on the columns of {dataset!r} alone — "
                          "no subqueries, other datasets or extra clauses")
    return f"SELECT DISTINCT {key_sql} FROM {ds} WHERE ({where}\n)"


_parser = None
_parser_lock = threading.Lock()


def _serialize(sql: str) -> dict:
    """DuckDB's own parse tree of `sql` (json_serialize_sql), from a private
    in-memory connection that never touches data."""
    import json

    import duckdb

    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect()
        return json.loads(_parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])


def _self_contained(where: str) -> bool:
    """Whether the condition's brackets pair up within it, read with DuckDB's tokenizer."""
    import duckdb

    try:
        every = duckdb.tokenize(where)
    except Exception:
        return False
    ends = [p for p, _ in every[1:]] + [len(where)]
    depth = 0
    for (p, kind), e in zip(every, ends):
        if kind.name != "operator":  # brackets in strings, quoted names and comments do not count
            continue
        for ch in where[p:e]:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth < 0:
                return False
    return depth == 0


def _has_subquery(node) -> bool:
    if isinstance(node, dict):
        if node.get("class") == "SUBQUERY" or node.get("type") in ("SUBQUERY", "TABLE_FUNCTION", "BASE_TABLE"):
            return True
        return any(_has_subquery(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_subquery(v) for v in node)
    return False
