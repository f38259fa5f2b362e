"""The SQL gate: what a statement must be before it runs, checked on DuckDB's own parse.

Three callers, one parser: the SQL engine (exactly one read-only statement: SELECT, or
EXPLAIN of a SELECT), `search --where` (one condition on one dataset's columns whose
brackets close within it) and Ask (one SELECT over known datasets, no file functions).
The parser is one private in-memory connection, locked down like the engine's and
shared under a lock (a DuckDB connection is not for two threads at once); it never
touches data. The engine's sandbox stays the second layer behind this check
(docs/threat-model.md).
"""

from __future__ import annotations

import json
import threading

from core.errors import Hint, LakehouseError, SqlError, VectorError
from core.names import quote_ident
from core.query.messages import clean_error

READ_ONLY = {"SELECT", "EXPLAIN"}
# keywords that each open a query block: what makes a statement expensive to plan
_BLOCKS = {"SELECT", "JOIN", "UNION", "INTERSECT", "EXCEPT"}

_lock = threading.Lock()
_con = None


def _parser():
    """The shared parser connection (call under _lock)."""
    import duckdb

    global _con
    if _con is None:
        _con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                  "autoload_known_extensions": False})
        _con.execute("SET enable_external_access = false")
        _con.execute("SET lock_configuration = true")
    return _con


def statements(sql: str) -> list:
    """DuckDB's statements in `sql` (raises DuckDB's parser error)."""
    with _lock:
        return _parser().extract_statements(sql)


def parse_tree(sql: str) -> dict:
    """DuckDB's own parse tree of `sql` (json_serialize_sql; a parse error is in the tree)."""
    with _lock:
        return json.loads(_parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])


def _tokens(text: str) -> list[tuple[int, int, object]]:
    """(start, end, kind) of each token, by DuckDB's tokenizer."""
    import duckdb

    every = duckdb.tokenize(text)
    ends = [p for p, _ in every[1:]] + [len(text)]
    return [(p, e, k) for (p, k), e in zip(every, ends)]


# -- sql: one read-only statement --------------------------------------------------
def check_query(text: str, max_bytes: int = 0, max_blocks: int = 0) -> list:
    """Refuse anything but exactly one read-only statement (SELECT, WITH, FROM, DESCRIBE,
    SHOW, SUMMARIZE, or EXPLAIN of a SELECT), and one too big or complex to plan; return
    DuckDB's parsed statement (a list of one)."""
    if not text or not text.strip():
        raise SqlError("the query is empty — write a SELECT, e.g. SELECT * FROM <dataset> LIMIT 10", refused=True)
    _bounded(text, max_bytes, max_blocks)
    try:
        found = statements(text)
    except Exception as e:
        raise clean_error(e) from None
    if not found:
        raise SqlError("the query holds only comments — write a statement after them, "
                       "e.g. SELECT * FROM <dataset> LIMIT 10", refused=True)
    if len(found) != 1:
        raise SqlError(f"the query has {len(found)} statements — run one at a time", refused=True)
    kind = statement_kind(found[0])
    if kind == "EXPLAIN":  # EXPLAIN ANALYZE runs what it explains: that must be a SELECT too
        inner = explained(found[0].query)
        try:
            wrapped = statements(inner) if inner else []
        except Exception as e:
            raise clean_error(e) from None
        if len(wrapped) != 1 or statement_kind(wrapped[0]) != "SELECT":
            what = inner.split()[0].upper() if inner.split() else "that"
            raise SqlError(f"EXPLAIN of a {what} statement is refused: SQL here is read-only, and EXPLAIN "
                           "ANALYZE would run it — EXPLAIN a SELECT instead", refused=True)
    if kind not in READ_ONLY:
        words = found[0].query.split()
        if words and words[0].isalpha():  # the user's own word: INSTALL, not LOAD
            kind = words[0].upper()
        raise SqlError(
            f"{kind} statements are refused: SQL here is read-only (SELECT, WITH, FROM, DESCRIBE, "
            "SHOW, SUMMARIZE, EXPLAIN)", refused=True,
            hint=Hint("change data by ingesting, updating, deleting or restoring records, and bring files in "
                      "by ingesting them", "ingest", {"paths": "PATH"}))
    return found


def _bounded(text: str, max_bytes: int, max_blocks: int) -> None:
    """Refuse a statement too big or too complex to plan within bounds: DuckDB's
    planner ignores memory_limit (10,000 UNION ALLs cost gigabytes before a row runs)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if max_bytes and size > max_bytes:
        raise SqlError(f"the query is {size:,} bytes, over the {max_bytes:,}-byte limit ([sql] "
                       "max_statement_bytes) — query a dataset instead of inlining values, or raise the limit",
                       refused=True)
    if max_blocks:
        blocks = sum(1 for p, e, k in _tokens(text)
                     if k.name == "keyword" and text[p:e].strip().upper() in _BLOCKS)
        if blocks > max_blocks:
            raise SqlError(f"the query has {blocks:,} SELECT/JOIN/UNION blocks, over the limit of "
                           f"{max_blocks:,} ([sql] max_query_blocks) — split it, or raise the limit", refused=True)


def statement_kind(statement) -> str:
    """DuckDB's statement type by name; one this Python binding cannot name (UPDATE
    EXTENSIONS is type 29 to DuckDB 2.0.1's enum) is simply not a read."""
    try:
        return statement.type.name
    except ValueError:
        return "UNKNOWN"


def explained(query: str) -> str:
    """The statement an EXPLAIN wraps: the text after EXPLAIN, an optional ANALYZE and an
    optional (option, …) list, found with DuckDB's own tokenizer (so comments between the
    words cannot hide it)."""
    tokens = [(p, e) for p, e, k in _tokens(query) if k.name != "comment"]
    words = [query[p:e].strip() for p, e in tokens]
    i = 1 if words and words[0].upper() == "EXPLAIN" else 0
    if i < len(words) and words[i].upper() in ("ANALYZE", "ANALYSE"):
        i += 1
    if i < len(words) and words[i].startswith("("):
        depth = 0
        while i < len(words):
            depth += words[i].count("(") - words[i].count(")")
            i += 1
            if depth <= 0:
                break
    return query[tokens[i][0]:] if i < len(tokens) else ""


# -- search --where: one condition on one dataset's columns -------------------------
_EXAMPLE = "write a SQL condition such as \"state = 'IL' AND years_experience > 5\""


def filter_sql(dataset: str, where: str, key_sql: str) -> str:
    """SQL selecting the keys of the rows that pass `where`. The filter may use the
    dataset's columns and functions, nothing else: no subquery, no other table."""
    problem = condition_problem(dataset, where)
    if problem:
        raise VectorError(f"--where {problem} — {_EXAMPLE}")
    return f"SELECT DISTINCT {key_sql} FROM {quote_ident(dataset)} WHERE ({where}\n)"


def condition_problem(dataset: str, where: str) -> str | None:
    """Why `where` is not one condition on the columns of `dataset` alone (no subquery,
    no other table, brackets that pair up within it), or None. Used by `search --where`
    and by policies' row conditions."""
    ds = quote_ident(dataset)
    if not _self_contained(where):  # e.g. "x) WINDOW w AS (…" would close our bracket
        return "must be one condition whose brackets pair up on their own"
    ast = parse_tree(f"SELECT 1 FROM {ds} WHERE ({where}\n)")
    if ast.get("error"):
        return f"does not parse: {ast.get('error_message', 'syntax error')}"
    stmts = ast["statements"]
    node = stmts[0]["node"] if len(stmts) == 1 else {}
    ok = (len(stmts) == 1 and node.get("type") == "SELECT_NODE" and not node.get("modifiers")
          and not node.get("group_expressions") and node.get("having") is None
          and node.get("from_table", {}).get("type") == "BASE_TABLE"
          and node["from_table"].get("table_name") == dataset
          and len(node.get("select_list", [])) == 1)
    if not ok or _has_subquery(node.get("where_clause")):
        return f"must be a condition on the columns of {dataset!r} alone — no subqueries, other datasets or " \
               "extra clauses"
    return None


def _self_contained(where: str) -> bool:
    """Whether the condition's brackets pair up within it, read with DuckDB's tokenizer."""
    try:
        tokens = _tokens(where)
    except Exception:
        return False
    depth = 0
    for p, e, kind in tokens:
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


# -- Ask: the chat model's SELECT over known datasets --------------------------------
# Functions that read or list files or the environment; external access is off in the
# sandbox anyway, but a model's SQL that calls them is refused outright.
_FILE_FUNCTIONS = {
    "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
    "read_ndjson", "read_ndjson_auto", "read_json_objects", "read_text", "read_blob", "glob",
    "sniff_csv", "parquet_metadata", "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata",
    "delta_scan", "iceberg_scan", "sqlite_scan", "postgres_scan", "mysql_scan", "getenv",
    "read_xlsx", "query_table", "query",
}


class UnsafeSql(LakehouseError):
    refused = True


def _select_tree(sql: str) -> dict:
    found = statements(sql)
    if len(found) != 1:
        raise UnsafeSql(f"the SQL has {len(found)} statements — only one SELECT is run")
    kind = found[0].type.name  # a type the binding cannot name fails as "does not parse"
    if kind != "SELECT":
        word = sql.split()[0].upper() if sql.split() and sql.split()[0].isalpha() else kind
        raise UnsafeSql(f"the SQL is {'an' if word[0] in 'AEIOU' else 'a'} {word} statement — only a "
                        "read-only SELECT is run")
    return parse_tree(sql)


def check_select(sql: str, tables: set[str]) -> str:
    """Return `sql` (trimmed) if it is one SELECT reading only `tables`; else raise UnsafeSql
    (or a plain LakehouseError for a dataset name that does not exist)."""
    sql = sql.strip().rstrip(";").strip()
    if not sql:
        raise UnsafeSql("the SQL is empty")
    try:
        tree = _select_tree(sql)
    except UnsafeSql:
        raise
    except Exception as e:  # the parser's own message
        raise UnsafeSql(f"the SQL does not parse: {str(e).splitlines()[0]}") from None
    if tree.get("error"):
        raise UnsafeSql(f"the SQL does not parse: {tree.get('error_message', 'syntax error')}")
    problems, unknown = _model_reads(tree["statements"], tables)
    if problems:
        raise UnsafeSql("the SQL was refused: " + problems[0])
    if unknown:  # a wrong name, not a danger: the model may correct it
        raise LakehouseError(f"there is no dataset named {unknown[0]!r} (datasets: "
                             f"{', '.join(sorted(t for t in tables if not t.startswith('_')))})")
    return sql


# -- a profile under a policy: its datasets only -------------------------------------------
_GENERATORS = {"range", "generate_series", "unnest"}  # table functions that read nothing


def check_guarded(text: str, known: set[str], who: str, forbidden: set[str], found: list | None = None) -> None:
    """Refuse a statement (already one read, see check_query) that names anything but
    `known` (the datasets a policy shapes, system tables, its own CTEs), calls a table
    function that reads (read_parquet over a dataset's raw files), or calls a function in
    `forbidden` (the keyed mask hash: it would hash a guess). `who` says which policies."""
    found = found or statements(text)
    sql = explained(found[0].query) if statement_kind(found[0]) == "EXPLAIN" else text
    tree = parse_tree(sql)
    if tree.get("error"):
        raise SqlError(f"this statement cannot be checked against {who} ({tree.get('error_message', '')[:120]}) — "
                       "write it as a SELECT (PIVOT as GROUP BY, for instance)", refused=True)
    problems, unknown = _model_reads(tree["statements"], known, _GENERATORS, forbidden)
    if problems or unknown:
        what = problems[0] if problems else f"it names {unknown[0]}, which is not one of its datasets"
        raise SqlError(f"refused under {who}, which lets this profile read only its datasets through the "
                       f"policy: {what}", refused=True)


def _model_reads(tree, tables: set[str], generators: set[str] = frozenset(),
                 forbidden: set[str] = frozenset()) -> tuple[list[str], list[str]]:
    """(what reaches outside the datasets, names that are neither a dataset nor a CTE)."""
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
                if str(fn).lower() not in generators:
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
            if node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() in forbidden:
                problems.append(f"it calls {node['function_name']}(), which is the policy's own")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(tree)
    return problems, [n for n in unknown if n not in ctes]
