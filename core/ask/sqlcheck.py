"""The gate between a model's SQL and the data: one read-only SELECT over known
datasets, or a refusal that says why. The SQL sandbox would stop most of this too;
checking first gives a clear reason and keeps a bad statement from running at all."""

from __future__ import annotations

import threading

from core.errors import LakehouseError

# Functions that read or list files or the environment; external access is off in the
# sandbox anyway, but a model's SQL that calls them is refused outright.
_FILE_FUNCTIONS = {
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
    "read_ndjson", "read_ndjson_auto", "read_json_objects", "read_text", "read_blob", "glob",
    "sniff_csv", "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
    "delta_scan", "iceberg_scan", "sqlite_scan", "postgres_scan", "mysql_scan", "getenv",
    "read_xlsx", "query_table", "query",
}

_lock = threading.Lock()
_con = None


class UnsafeSql(LakehouseError):
    refused = True


def _tree(sql: str) -> dict:
    import json

    import duckdb

    global _con
    with _lock:
        if _con is None:
            _con = duckdb.connect()
        statements = _con.extract_statements(sql)
        if len(statements) != 1:
            raise UnsafeSql(f"the SQL has {len(statements)} statements — only one SELECT is run")
        kind = statements[0].type.name
        if kind != "SELECT":
            word = sql.split()[0].upper() if sql.split() and sql.split()[0].isalpha() else kind
            raise UnsafeSql(f"the SQL is {'an' if word[0] in 'AEIOU' else 'a'} {word} statement — only a "
                            "read-only SELECT is run")
        return json.loads(_con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])


def check_select(sql: str, tables: set[str]) -> str:
    """Return `sql` (trimmed) if it is one SELECT reading only `tables`; else raise UnsafeSql."""
    sql = sql.strip().rstrip(";").strip()
    if not sql:
        raise UnsafeSql("the SQL is empty")
    try:
        tree = _tree(sql)
    except UnsafeSql:
        raise
    except Exception as e:  # the parser's own message
        raise UnsafeSql(f"the SQL does not parse: {str(e).splitlines()[0]}") from None
    if tree.get("error"):
        raise UnsafeSql(f"the SQL does not parse: {tree.get('error_message', 'syntax error')}")
    ctes: set[str] = set()
    problems: list[str] = []
    unknown: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for entry in (node.get("cte_map") or {}).get("map", []) if isinstance(node.get("cte_map"), dict) else []:
                ctes.add(str(entry.get("key", "")).lower())
            t = node.get("type")
            if t == "TABLE_FUNCTION":
                fn = (node.get("function") or {}).get("function_name", "?")
                problems.append(f"it calls the table function {fn}(), which reads outside the datasets")
            elif t == "BASE_TABLE":
                name = str(node.get("table_name", "")).lower()
                if node.get("schema_name") or node.get("catalog_name"):
                    problems.append(f"it names {node.get('schema_name') or node.get('catalog_name')}.{name}, "
                                    "outside the datasets")
                elif name not in tables and name not in ctes:
                    unknown.append(name)
            if node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() in _FILE_FUNCTIONS:
                problems.append(f"it calls {node['function_name']}(), which touches files or the environment")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(tree["statements"])
    if problems:
        raise UnsafeSql("the SQL was refused: " + problems[0])
    unknown = [n for n in unknown if n not in ctes]
    if unknown:  # a wrong name, not a danger: the model may correct it
        raise LakehouseError(f"there is no dataset named {unknown[0]!r} (datasets: "
                             f"{', '.join(sorted(t for t in tables if not t.startswith('_')))})")
    return sql
