"""PostgreSQL column types -> Arrow types, and fetched rows -> Arrow arrays.

Each column of the source is selected in the form that is cheapest to load exactly
(the server does the casting): integers, floats, booleans, text and bytea as they are;
dates and timestamps as their binary integers (days / microseconds since 2000-01-01,
loaded by psycopg's C integer loaders, shifted to the Unix epoch by pyarrow); numeric,
json/jsonb, uuid, time, interval and enums as text, numeric then cast to decimal128 by
pyarrow. The mapping (README "Postgres types"):

  smallint/integer/bigint -> int16/int32/int64   real/double -> float32/float64
  numeric(p,s) -> decimal128(p,s) (p <= 38)      numeric -> decimal128(38, s) with s the
  largest scale in the rows fetched (checked on the server first; NaN/Infinity refused)
  boolean -> bool   text/varchar/char/name/enum/citext -> string   bytea -> binary
  date -> date32    timestamp -> timestamp[us]   timestamptz -> timestamp[us, UTC]
  time -> string ('HH:MM:SS[.ffffff]': Delta has no time type)
  interval -> string (ISO 8601, 'P1Y2M3DT4H5M6S': Delta has no interval type)
  json/jsonb -> string (the JSON text)           uuid -> string (its text form)
  one-dimensional arrays of the above -> list<…> (NULL elements kept)
Anything else (geometric types, ranges, composites, money, inet, multi-dimensional
arrays, infinite dates and timestamps) is refused naming the column, with the cast
that makes it ingestible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import IngestError

_EPOCH_DAYS = 10957  # 1970-01-01 -> 2000-01-01 (PostgreSQL's epoch)
_EPOCH_US = _EPOCH_DAYS * 86_400_000_000
_I32 = (-(2**31), 2**31 - 1)  # a date's -infinity / infinity
_I64 = (-(2**63), 2**63 - 1)  # a timestamp's -infinity / infinity

_DIRECT = {"int2": "int16", "int4": "int32", "int8": "int64", "float4": "float32",
           "float8": "float64", "bool": "bool_", "text": "string", "varchar": "string",
           "bpchar": "string", "name": "string", "bytea": "binary"}
_AS_TEXT = {"json", "jsonb", "uuid", "time", "interval", "citext", "xid", "cid", "regclass", "regtype"}
_OTHER_INTS = {"oid": "int64"}
_TIMES = {"date", "timestamp", "timestamptz"}
_HINT = {"money": "{c}::numeric", "timetz": "{c}::text", "inet": "{c}::text", "cidr": "{c}::text",
         "macaddr": "{c}::text", "xml": "{c}::text", "bit": "{c}::text", "varbit": "{c}::text"}


@dataclass
class PgColumn:
    name: str  # as the source names it
    pg: str  # its type as PostgreSQL writes it, e.g. numeric(12,2)
    kind: str  # plain | decimal | decimal_int | date | ts | list | list_decimal | list_date | list_ts
    arrow: object  # pyarrow DataType
    cast: str = ""  # a server-side cast (e.g. 'text', 'text[]'), '' for none
    typename: str = ""  # base type name (pg_type.typname; the element's for arrays)
    unconstrained: bool = False  # numeric without precision: its scale comes from the data

    def select(self):
        from psycopg import sql

        c = sql.Identifier(self.name)
        if self.kind == "decimal_int":  # the unscaled integer: exact, and loaded without text
            return sql.SQL("({} * {})::int8").format(c, sql.Literal(10 ** self.arrow.scale))
        return sql.SQL("{}::{}").format(c, sql.SQL(self.cast)) if self.cast else c

    def fit(self) -> None:
        """A decimal of up to 18 digits travels as its unscaled bigint (text costs ~0.5 µs a value)."""
        if self.kind == "decimal" and self.arrow.precision <= 18:
            self.kind = "decimal_int"


def _numeric(fmod: int) -> tuple[int, int] | None:
    if fmod < 4:
        return None
    p, s = ((fmod - 4) >> 16) & 0xFFFF, (fmod - 4) & 0x7FF
    return p, (s - 0x800 if s & 0x400 else s)


_LOOKUP = ("SELECT u.i, format_type(u.o, u.m), t.typname, t.typtype, t.typcategory, e.typname, "
           "e.typtype, t.typbasetype, t.typtypmod, format_type(t.typbasetype, t.typtypmod) "
           "FROM unnest(%s::oid[], %s::int4[]) WITH ORDINALITY AS u(o, m, i) "
           "JOIN pg_type t ON t.oid = u.o LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A' "
           "ORDER BY u.i")


def plan(conn, description, source: str) -> list[PgColumn]:
    """The PgColumns of a query's result (psycopg's cursor.description), or one sentence
    naming every column that cannot be mapped faithfully."""
    names = [d.name for d in description]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise IngestError(f"{source}: the query returns more than one column named "
                          f"{', '.join(map(repr, dup))} — give each a name of its own with AS in --query")
    infos = _types(conn, [d.type_code for d in description], [d._fmod for d in description])
    cols, bad = [], []
    for d, info in zip(description, infos):
        try:
            cols.append(_column(d.name, info))
        except _Unmappable as u:
            bad.append((d.name, info[0], u.hint))
    if bad:
        what = "; ".join(f"column {n!r} has type {t}" for n, t, _ in bad)
        fix = ", ".join(h.format(c=_q(n)) for n, _, h in bad)
        raise IngestError(f"{source}: {what}, which lakehouse cannot store faithfully — cast "
                          f"{'it' if len(bad) == 1 else 'them'} in --query, e.g. SELECT {fix}, …")
    return cols


class _Unmappable(Exception):
    def __init__(self, hint: str = "{c}::text"):
        self.hint = hint


def _types(conn, oids: list[int], fmods: list[int]) -> list[tuple]:
    """Per column: (type as written, typname, typtype, typcategory, element typname,
    element typtype, fmod) with domains resolved to their base types."""
    rows = conn.execute(_LOOKUP, (oids, fmods)).fetchall()
    by_i = {r[0]: r for r in rows}
    out = []
    for i, (oid, fmod) in enumerate(zip(oids, fmods), start=1):
        r = by_i.get(i)
        if r is None:
            out.append((f"oid {oid}", "", "", "", None, None, fmod))
            continue
        shown = r[1]
        depth = 0
        while r[3] == "d" and depth < 10:  # a domain: what it is a domain over
            fmod = r[8]
            r = conn.execute(_LOOKUP, ([r[7]], [fmod])).fetchall()[0]
            depth += 1
        out.append((shown, r[2], r[3], r[4], r[5], r[6], fmod))
    return out


def _column(name: str, info: tuple) -> PgColumn:
    import pyarrow as pa

    shown, typname, typtype, category, elem, elemtype, fmod = info
    if category == "A":
        if elem is None:
            raise _Unmappable()
        inner = _column(name, (shown, elem, elemtype, "", None, None, fmod))
        if inner.kind in ("list", "list_decimal") or inner.unconstrained:
            raise _Unmappable("{c}::numeric(38,10)[]" if inner.unconstrained else "{c}::text")
        if inner.kind in ("decimal", "decimal_int"):
            return PgColumn(name, shown, "list_decimal", pa.list_(inner.arrow), "text[]", elem)
        if inner.kind in ("date", "ts"):  # elements arrive as integers, like the plain columns
            return PgColumn(name, shown, "list_" + inner.kind, pa.list_(inner.arrow), "", elem)
        return PgColumn(name, shown, "list", pa.list_(inner.arrow), f"{inner.cast}[]" if inner.cast else "", elem)
    if typname in _DIRECT:
        return PgColumn(name, shown, "plain", getattr(pa, _DIRECT[typname])(), "", typname)
    if typname in _OTHER_INTS:
        return PgColumn(name, shown, "plain", pa.int64(), "int8", typname)
    if typname in _AS_TEXT or typtype == "e" or (category == "S" and typtype == "b"):
        return PgColumn(name, shown, "plain", pa.string(), "text", typname)
    if typname == "numeric":
        ps = _numeric(fmod)
        if ps is None:  # its scale is found from the data (decimal_scale)
            return PgColumn(name, shown, "decimal", pa.decimal128(38, 0), "text", typname, unconstrained=True)
        p, s = ps
        if p > 38 or s < 0 or s > p:
            raise _Unmappable("{c}::numeric(38,10)" if p > 38 else "{c}::numeric(%d,0)" % min(p - s, 38))
        col = PgColumn(name, shown, "decimal", pa.decimal128(p, s), "text", typname)
        col.fit()
        return col
    if typname == "date":
        return PgColumn(name, shown, "date", pa.date32(), "", typname)
    if typname in ("timestamp", "timestamptz"):
        return PgColumn(name, shown, "ts", pa.timestamp("us", tz="UTC" if typname == "timestamptz" else None),
                        "", typname)
    raise _Unmappable(_HINT.get(typname, "{c}::text"))


def register_loaders(conn) -> None:
    """Dates and timestamps as their integers (C loaders; no Python date objects)."""
    from psycopg.types.numeric import Int4BinaryLoader, Int8BinaryLoader

    for name, loader in (("date", Int4BinaryLoader), ("timestamp", Int8BinaryLoader),
                         ("timestamptz", Int8BinaryLoader)):
        conn.adapters.register_loader(conn.adapters.types[name].oid, loader)


def decimal_scale(conn, inner, cols: list[PgColumn], source: str) -> None:
    """Give each unconstrained numeric column the scale its values need (the largest,
    asked of the server), refusing values beyond 38 digits."""
    from psycopg import sql

    todo = [c for c in cols if c.unconstrained]
    if not todo:
        return
    parts = []
    for c in todo:
        q = sql.Identifier(c.name)
        parts.append(sql.SQL("max(scale({q})), max(length(trunc(abs({q}))::text)) FILTER (WHERE {q} "
                             "NOT IN ('NaN', 'Infinity', '-Infinity'))").format(q=q))
    row = conn.execute(sql.SQL("SELECT {} FROM ({}) AS lh_src").format(sql.SQL(", ").join(parts), inner)).fetchone()
    import pyarrow as pa

    for i, c in enumerate(todo):
        scale, digits = row[2 * i] or 0, row[2 * i + 1] or 1
        if scale + digits > 38:
            raise IngestError(f"{source}: column {c.name!r} (numeric) holds values of {digits} digits "
                              f"before the point and {scale} after, more than the 38 a decimal "
                              f"holds — cast it in --query, e.g. SELECT {_q(c.name)}::float8 or "
                              f"{_q(c.name)}::text")
        c.arrow = pa.decimal128(38, scale)
        c.pg = f"numeric (stored as decimal(38,{scale}))"
        if scale + digits <= 18:
            c.arrow = pa.decimal128(18, scale)
            c.fit()
            c.pg = f"numeric (stored as decimal(18,{scale}))"


def arrays(cols: list[PgColumn], rows: list[tuple], source: str) -> list:
    """Fetched rows -> one Arrow array per column: the rows go into a struct array in one
    pass over the tuples (2-4x cheaper than transposing them and converting each column),
    then each column is finished vectorised. A value that does not convert sends the batch
    down the per-column path, which names the column."""
    import pyarrow as pa

    raw = pa.struct([pa.field(f"c{i}", _raw(c)) for i, c in enumerate(cols)])
    try:
        children = pa.array(rows, type=raw).flatten() if rows else [pa.array([], type=_raw(c)) for c in cols]
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        children = None
    out = []
    values = list(zip(*rows)) if children is None else [None] * len(cols)
    for i, c in enumerate(cols):
        try:
            a = children[i] if children is not None else pa.array(values[i], type=_raw(c))
            out.append(_finish(c, a))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
            v = values[i] if children is None else [r[i] for r in rows]
            raise IngestError(_refusal(c, v, e, source)) from None
    return out


def _raw(c: PgColumn):
    """The Arrow type a column's fetched Python values convert to."""
    import pyarrow as pa

    return {"plain": c.arrow, "list": c.arrow, "decimal": pa.string(), "decimal_int": pa.int64(),
            "list_decimal": pa.list_(pa.string()), "date": pa.int32(), "ts": pa.int64(),
            "list_date": pa.list_(pa.int32()), "list_ts": pa.list_(pa.int64())}[c.kind]


def _finish(c: PgColumn, a):
    """A column's raw Arrow array -> the array stored."""
    import pyarrow as pa

    if c.kind in ("plain", "list"):
        return a
    if c.kind in ("decimal", "list_decimal"):
        return a.cast(c.arrow)
    if c.kind == "decimal_int":
        return _unscaled(a, c.arrow)
    if c.kind in ("list_date", "list_ts"):
        inner = _shift(c, a.values, c.kind == "list_date", c.arrow.value_type)
        return pa.ListArray.from_arrays(a.offsets, inner, type=c.arrow, mask=a.is_null())
    return _shift(c, a, c.kind == "date", c.arrow)


def _unscaled(a, to):
    """int64 unscaled values -> decimal128 (16-byte little-endian two's complement), no copy per value."""
    import numpy as np
    import pyarrow as pa

    if a.offset:  # a slice: its validity bits start mid-byte, so copy it to offset 0
        a = pa.concat_arrays([a])
    v = np.frombuffer(a.buffers()[1], dtype=np.int64, count=len(a))
    wide = np.empty((len(a), 2), dtype=np.int64)
    wide[:, 0] = v
    wide[:, 1] = v >> 63
    return pa.Array.from_buffers(to, len(a), [a.buffers()[0], pa.py_buffer(wide)], null_count=a.null_count)


def _shift(c: PgColumn, a, days: bool, to):
    """PostgreSQL's day / microsecond counts from 2000-01-01 as Arrow dates / timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    _finite(c, a, _I32 if days else _I64)
    if days:
        return pc.add_checked(a, pa.scalar(_EPOCH_DAYS, pa.int32())).cast(to)
    return pc.add_checked(a, _EPOCH_US).cast(to)


class _Infinite(ValueError):
    pass


def _finite(c: PgColumn, a, bounds: tuple[int, int]) -> None:
    import pyarrow.compute as pc

    if a.null_count == len(a):
        return
    mm = pc.min_max(a)
    if mm["min"].as_py() == bounds[0] or mm["max"].as_py() == bounds[1]:
        raise _Infinite("infinity")


def _refusal(c: PgColumn, v, e: BaseException, source: str) -> str:
    col = f"column {c.name!r} ({c.pg})"
    if isinstance(e, _Infinite):
        return (f"{source}: {col} holds infinity or -infinity, which a date or timestamp here cannot "
                f"hold — filter or cast it in --query, e.g. SELECT CASE WHEN isfinite({_q(c.name)}) "
                f"THEN {_q(c.name)} END AS {_q(c.name)}, …, or {_q(c.name)}::text")
    if isinstance(e, OverflowError) or "overflow" in str(e).lower():
        return (f"{source}: {col} holds a value outside the range Arrow and Delta can store — "
                f"cast it in --query, e.g. SELECT {_q(c.name)}::text")
    if c.kind in ("decimal", "list_decimal"):
        flat = [x for x in v if x is not None]
        if c.kind == "list_decimal":
            flat = [y for x in flat for y in x if y is not None]
        odd = next((x for x in flat if x in ("NaN", "Infinity", "-Infinity")), None)
        if odd is not None:
            return (f"{source}: {col} holds {odd}, which a decimal cannot hold — filter it or cast the "
                    f"column in --query, e.g. SELECT {_q(c.name)}::float8 or {_q(c.name)}::text")
    if c.kind.startswith("list") and any(isinstance(y, list) for x in v if x for y in x):
        return (f"{source}: {col} holds multi-dimensional arrays, which lakehouse cannot store — "
                f"cast it in --query, e.g. SELECT {_q(c.name)}::text")
    return (f"{source}: {col}: a value cannot be stored as {c.arrow} ({_first(e)}) — cast it in "
            f"--query, e.g. SELECT {_q(c.name)}::text")


def _q(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def _first(e: BaseException) -> str:
    s = str(e).strip()
    return s.splitlines()[0][:200] if s else type(e).__name__
