"""The SQL an ingest reads a source with: the full SELECT over DuckDB's reader
(flattened, cast to Delta-storable types, conformed to the dataset on append), a cap on
a row's width, and the check that key columns identify one row each."""

from __future__ import annotations

import dataclasses

from core.errors import IngestError
from core.ingest.evolve import apply_map
from core.ingest.paths import has_magic
from core.ingest.sources import TabularSource, flatten_select, literal_path
from core.names import quote_ident
from core.storage.duck import delta_cast

WIDE_ROW = "lakehouse: row too wide"  # the error() a row over the cap raises inside DuckDB


def select_sql(con, src: TabularSource, conform: dict[str, str], dataset: str,
               column_map: dict[str, str] | None = None) -> str:
    """The full SELECT: flattened, cast to Delta-storable types, columns renamed by the
    user's map (source column -> dataset column), conformed on append."""
    read = src.read_path or src.path
    if has_magic(str(read)):  # DuckDB globs its paths: make sure it reads this one file
        hits = [r[0] for r in con.execute("SELECT file FROM glob(?)", [literal_path(read)]).fetchall()]
        if hits != [str(read)]:
            raise IngestError(f"{src.path}: DuckDB cannot read a file of this name literally "
                              "(glob characters) — rename it and ingest it again")
    if src.types:
        bare = dataclasses.replace(src, types={}, text_columns=set())
        have = con.sql(f"SELECT * FROM {bare.from_sql()}").columns
        unknown = [c for c in src.types if c not in have]
        if unknown:
            raise IngestError(f"--types names column(s) {', '.join(map(repr, unknown))} that "
                              f"{src.path.name} does not have — its columns are: {', '.join(have)}")
    rel = con.sql(f"SELECT * FROM {src.from_sql()}")
    cols, types = rel.columns, rel.types
    if src.fmt == "json":
        items = flatten_select(cols, types, src.path)
        if src.types:
            items = [_cast_item(it, src.types) for it in items]
        flat = con.sql(f"SELECT {', '.join(items)} FROM {src.from_sql()}")
        base, cols, types = f"SELECT {', '.join(items)} FROM {src.from_sql()}", flat.columns, flat.types
    elif src.fmt == "parquet" and src.types:
        base = (f"SELECT {', '.join(_cast_item(f'{quote_ident(c)} AS {quote_ident(c)}', src.types) for c in cols)} "
                f"FROM {src.from_sql()}")
        r = con.sql(base)
        cols, types = r.columns, r.types
    else:
        base = f"SELECT * FROM {src.from_sql()}"
    names = apply_map(column_map or {}, list(cols), src.path)
    if conform and not set(names) & set(conform):
        raise IngestError(
            f"{src.path}: none of its columns ({', '.join(cols[:6])}{', …' if len(cols) > 6 else ''}) "
            f"are in dataset {dataset} ({', '.join(list(conform)[:6])}{', …' if len(conform) > 6 else ''}) "
            "— it looks like different data; ingest it under another --name")
    out = []
    for c, n, t in zip(cols, names, types):
        q, alias = quote_ident(c), quote_ident(n)
        target = conform.get(n) or delta_cast(str(t))
        out.append(f"CAST({q} AS {target}) AS {alias}" if target and target != str(t) else
                   (q if c == n else f"{q} AS {alias}"))
    return f"SELECT {', '.join(out)} FROM ({base})"


def _cast_item(item: str, types: dict[str, str]) -> str:
    expr, _, alias = item.rpartition(" AS ")
    name = alias.strip('"').replace('""', '"')
    return f"CAST({expr} AS {types[name]}) AS {alias}" if name in types else item


def cap_rows(con, sql: str, cap: int) -> str:
    """`sql` refusing (inside DuckDB, before a batch of such rows is built in memory)
    any row whose text and binary values hold more than `cap` bytes: a compressed file's
    values are expanded only once they leave DuckDB."""
    rel = con.sql(f"SELECT * FROM ({sql}) LIMIT 0")
    widths = [f"coalesce(strlen({quote_ident(c)}), 0)" if str(t) == "VARCHAR" else
              f"coalesce(octet_length({quote_ident(c)}), 0)"
              for c, t in zip(rel.columns, rel.types) if str(t) in ("VARCHAR", "BLOB")]
    if not widths:
        return sql
    return (f"SELECT * FROM ({sql}) WHERE CASE WHEN {_sum(widths)} > {int(cap)} "
            f"THEN error('{WIDE_ROW}') ELSE true END")


def _sum(terms: list[str]) -> str:
    """`a + b + ...` as a balanced tree: a flat chain over a 2,000-column file nests deeper
    than DuckDB's parser allows (max_expression_depth 1000)."""
    if len(terms) <= 8:
        return " + ".join(terms)
    half = len(terms) // 2
    return f"({_sum(terms[:half])}) + ({_sum(terms[half:])})"


def check_key(con, sql: str, key: list[str], src: TabularSource) -> None:
    """Key columns exist, are never NULL and identify one row each in the source."""
    cols = con.sql(f"SELECT * FROM ({sql}) LIMIT 0").columns
    missing = [k for k in key if k not in cols]
    if missing:
        raise IngestError(f"{src.path}: key column(s) {', '.join(missing)} not found — its "
                          f"columns are: {', '.join(cols)}")
    ks = ", ".join(quote_ident(k) for k in key)
    nulls = " OR ".join(f"{quote_ident(k)} IS NULL" for k in key)
    row = con.sql(f"SELECT count(*) FROM ({sql}) WHERE {nulls}").fetchall()[0][0]
    if row:
        raise IngestError(f"{src.path}: {row} row(s) have no value for key {', '.join(key)} — "
                          "every row needs a key")
    dup = con.sql(f"SELECT {ks}, count(*) AS n FROM ({sql}) GROUP BY ALL HAVING count(*) > 1 "
                  f"ORDER BY n DESC LIMIT 1").fetchall()
    if dup:
        shown = ", ".join(f"{k} = {v!r}" for k, v in zip(key, dup[0][:-1]))
        raise IngestError(f"{src.path}: key {shown} appears {dup[0][-1]} times — each key may "
                          "appear once; fix the duplicates (nothing was written)")
