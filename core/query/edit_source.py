"""Whether a query's rows are records of one dataset, so a frontend may edit them in place.

DuckDB parses the statement (json_serialize_sql: no data is read, nothing runs): the rows
are records when it is one plain SELECT from one table — no join, set operation, WITH,
subquery, grouping or DISTINCT — and a result column is a column of that table when the
select list gives it as it is (`*`, `col`, `col AS name`). Anything else is refused in
one sentence that says how to edit instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from core.errors import LakehouseError

ONE_DATASET = "edit from a query on one keyed dataset"


class NotRecords(LakehouseError):
    """The rows are not records of one dataset (the sentence says why)."""


@dataclass
class Source:
    table: str
    star: bool = False  # `*` without EXCLUDE/REPLACE/RENAME: every column as it is
    excluded: set[str] = field(default_factory=set)
    refs: dict[str, str] = field(default_factory=dict)  # result column -> table column

    def column_of(self, result_column: str, table_columns: list[str]) -> str | None:
        """The table column a result column is (None: computed by the query)."""
        if result_column in self.refs:
            return self.refs[result_column]
        if self.star and result_column in table_columns and result_column not in self.excluded:
            return result_column
        return None


def edit_source(sql: str) -> Source:
    """The one table `sql` reads its rows from, and which result columns are its columns."""
    import duckdb

    con = duckdb.connect()
    try:
        parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except Exception:  # noqa: BLE001 - any parser trouble is the same answer
        parsed = {"error": True}
    finally:
        con.close()
    if parsed.get("error") or len(parsed.get("statements", [])) != 1:
        raise NotRecords(f"this result's statement could not be read as one SELECT; {ONE_DATASET}")
    node = parsed["statements"][0]["node"]
    if node.get("type") != "SELECT_NODE":
        raise NotRecords(f"this result combines queries (UNION, INTERSECT or EXCEPT); {ONE_DATASET}")
    if node.get("cte_map", {}).get("map"):
        raise NotRecords(f"this result comes through a WITH clause; {ONE_DATASET}, without WITH")
    frm = node.get("from_table") or {}
    if frm.get("type") == "JOIN":
        raise NotRecords(f"this result joins datasets; {ONE_DATASET}")
    if frm.get("type") != "BASE_TABLE" or frm.get("at_clause"):
        raise NotRecords(f"this result does not read one dataset directly (a subquery, a function or no "
                         f"table); {ONE_DATASET}")
    distinct = any(m.get("type") == "DISTINCT_MODIFIER" for m in node.get("modifiers", []))
    if node.get("group_expressions") or node.get("having") or distinct or node.get("aggregate_handling") not in (
            None, "STANDARD_HANDLING") or any(_aggregate(e) for e in node.get("select_list", [])):
        raise NotRecords(f"this result groups rows (GROUP BY, DISTINCT or an aggregate), so a row is not one "
                         f"record; {ONE_DATASET}, without grouping")
    src = Source(frm["table_name"])
    for e in node.get("select_list", []):
        if e.get("class") == "STAR" and not e.get("columns") and not e.get("replace_list") \
                and not e.get("rename_list") and e.get("expr") is None:
            src.star = True
            src.excluded |= set(e.get("exclude_list") or [])
        elif e.get("class") == "COLUMN_REF":
            column = e["column_names"][-1]
            src.refs[e.get("alias") or column] = column
    return src


_AGGREGATES = {"count_star", "count", "sum", "avg", "min", "max", "list", "string_agg", "group_concat",
               "first", "last", "any_value", "median", "mode", "arg_min", "arg_max", "bool_and", "bool_or"}


def _aggregate(expr: dict) -> bool:
    """Whether an expression of the select list aggregates (or numbers) rows."""
    if expr.get("class") == "WINDOW":
        return False
    if expr.get("class") in ("FUNCTION", "AGGREGATE") and expr.get("function_name", "").lower() in _AGGREGATES:
        return True
    return any(_aggregate(c) for c in expr.get("children", []) + expr.get("arguments", []) if isinstance(c, dict))
