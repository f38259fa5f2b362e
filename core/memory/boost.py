"""The memory boost: after a search ranks its hits, the live memories most like the query —
within the search's own filter — add a bounded boost to the rows they endorse, and the hits
are ranked again, each saying why it moved.

1. The pool: the search asks for more hits than k (POOL x k, at least k + 20, within
   vectors.max_k), so an endorsed row just below the cut can rise into it.
2. The memories: the `[memory] top` live, valid entries of the index nearest to the query
   (cosine, sqlite-vec), made with the generation's embedder, at similarity
   `[memory] min_similarity` or more. With a filter (`--where`), only memories whose scope
   passes that same condition: the condition is evaluated on each distinct scope as if it
   were a row of the dataset (a scope lacking a column the condition uses has NULL there,
   so it does not pass) — a search filtered to Nashville uses Nashville's memories.
3. The boost: each matched memory gives each row it endorses weight x similarity (x 0.5 per
   `[memory] half_life_days` of age, when set); a row's boost is the sum, capped at
   `[memory] cap`, so a row endorsed by a hundred memories gains the cap and no more.
4. Every search reports what it did: memories considered (live in scope), matched, keys
   endorsed, hits boosted — a silent zero shows as a zero.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from core.names import quote_ident
from core.storage.db import now

POOL = 3  # hits ranked before the boost, per hit returned
_ID = "__lakehouse_memory_id"  # the id column beside a scope's (or entry's) values


def pool_size(k: int, max_k: int) -> int:
    return min(max_k, max(k * POOL, k + 20))


def scopes_passing(rows, index: str, ds, where: str, cache: dict) -> list[int]:
    """Ids of the index's scopes that pass `where` as rows of `ds` (cached per condition
    and scope count: scopes are only ever added)."""
    scopes = rows.scopes(index)
    key = (index, ds.name, ds.table_version, where, len(scopes))
    if key not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[key] = sorted(_passing(ds.name, {c.name: c.type for c in ds.columns}, where,
                                     [sid for sid, _ in scopes], [s for _, s in scopes]))
    return cache[key]


_FIELDS = {"id": "BIGINT", "operation": "VARCHAR", "approach": "VARCHAR", "actor": "VARCHAR", "profile": "VARCHAR",
           "created_at": "TIMESTAMPTZ", "valid_from": "TIMESTAMPTZ", "valid_until": "TIMESTAMPTZ", "version": "BIGINT"}


def entries_passing(entries: list[dict], ds, where: str) -> list[dict]:
    """The entries that pass `where`, a condition over their fields (see _FIELDS) and their
    scope's columns (typed as the dataset's; a field of the same name wins)."""
    types = {**{c.name: c.type for c in ds.columns}, **_FIELDS}
    values = [{**e["scope"], **{f: e[f] for f in _FIELDS}} for e in entries]
    ok = _passing("memories", types, where, [e["id"] for e in entries], values)
    return [e for e in entries if e["id"] in ok]


def _passing(table: str, types: dict[str, str], where: str, ids: list[int], values: list[dict]) -> set[int]:
    """Which ids' values pass `where`, checked by the SQL gate as a condition on `table`
    and evaluated by DuckDB on those values alone (no file, no dataset is read)."""
    import duckdb
    import pyarrow as pa

    from core.query.gate import filter_sql

    sql = filter_sql(table, where, f'"{_ID}"')  # one condition on the table's columns, or a refusal
    if not ids:
        return set()
    raw = pa.table({_ID: pa.array(ids, pa.int64()),
                    **{f"c{i}": pa.array([None if v.get(name) is None else str(v[name]) for v in values], pa.string())
                       for i, name in enumerate(types)}})
    con = duckdb.connect(config={"enable_external_access": False})
    try:
        con.register("__raw", raw)
        cols = ", ".join(f"TRY_CAST(c{i} AS {t}) AS {quote_ident(name)}" for i, (name, t) in enumerate(types.items()))
        con.execute(f'CREATE TEMP VIEW {quote_ident(table)} AS SELECT "{_ID}", {cols} FROM __raw')
        return {r[0] for r in con.execute(sql).fetchall()}
    except duckdb.Error as e:  # a function it may not use, a type mismatch: one sentence
        from core.errors import VectorError
        from core.query.messages import clean_error

        raise VectorError(f"--where cannot be applied to the {'memories' if table == 'memories' else 'memory scopes'}"
                          f": {str(clean_error(e)).splitlines()[0]}") from None
    finally:
        con.close()


_CASTS: dict = {}  # one DuckDB connection for the type checks of adds (opening one costs ~13 ms)
_CASTS_LOCK = threading.Lock()


def uncastable(types: dict[str, str], scope: dict[str, str]) -> list[str]:
    """The scope's columns whose value is not a value of the column's type (e.g. years=abc)."""
    import duckdb

    if not scope:
        return []
    with _CASTS_LOCK:
        if "con" not in _CASTS:
            _CASTS["con"] = duckdb.connect(config={"enable_external_access": False})
        row = _CASTS["con"].execute("SELECT " + ", ".join(f"TRY_CAST(? AS {types[c]}) IS NULL" for c in scope),
                                    list(scope.values())).fetchone()
    return [c for c, bad in zip(scope, row) if bad]


def apply(hits: list, near: list[tuple[int, float]], entries: dict[int, dict], *, k: int, weight: float,
          cap: float, min_similarity: float, half_life_days: float, at: str | None = None) -> tuple[list, dict]:
    """Re-rank `hits` (the pool, best first) with the boost of the `near` memories
    ((entry id, similarity), nearest first); return the top k and what was done."""
    at_t = datetime.fromisoformat(at or now())
    matched = [(i, s) for i, s in near if s >= min_similarity and i in entries]
    gain: dict[str, float] = defaultdict(float)
    sources: dict[str, list[int]] = defaultdict(list)
    for eid, sim in matched:
        e = entries[eid]
        decay = 1.0
        if half_life_days and half_life_days > 0:
            age = max(0.0, (at_t - datetime.fromisoformat(e["valid_from"])).total_seconds() / 86400)
            decay = math.pow(0.5, age / half_life_days)
        for key in e["keys"]:
            gain[key] += weight * sim * decay
            sources[key].append(eid)
    boosted = []
    for h in hits:
        b = round(min(cap, gain.get(h.row_key, 0.0)), 6)
        boosted.append(replace(h, score=round(h.score + b, 6), boost=b, memories=sources.get(h.row_key, []) if b else [],
                               was_rank=h.rank))
    boosted.sort(key=lambda h: (-h.score, h.was_rank))  # stable: ties keep their order
    out = [replace(h, rank=r + 1) for r, h in enumerate(boosted[:k])]
    stats = {"matched": len(matched), "nearest": len(near), "keys_endorsed": len(gain),
             "hits_boosted": sum(1 for h in out if h.boost), "moved": sum(1 for h in out if h.rank != h.was_rank),
             "weight": weight, "cap": cap, "min_similarity": min_similarity}
    return out, stats


def why(hit) -> str:
    """"+0.08 from memories #12, #40" (empty when it was not boosted)."""
    if not hit.boost:
        return ""
    ids = ", ".join(f"#{i}" for i in hit.memories[:5]) + (f" and {len(hit.memories) - 5} more"
                                                           if len(hit.memories) > 5 else "")
    return f"+{hit.boost:.2f} from {'memory' if len(hit.memories) == 1 else 'memories'} {ids}"


def boost_counts(stats: dict) -> str:
    """What a memory boost did, in words (its audit entry, the CLI's caption)."""
    return (f"memories considered {stats['considered']}, matched {stats['matched']}, keys endorsed "
            f"{stats['keys_endorsed']}, hits boosted {stats['hits_boosted']}, moved {stats['moved']}"
            + (" (within the filter)" if stats.get("scoped") else "")
            + (f"; {stats['other_embedder']} made with another embedder are not used — re-add them"
               if stats.get("other_embedder") else ""))
