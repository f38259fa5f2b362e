#!/usr/bin/env python
"""Lakehouse playbook-memory benchmark (issue 17): the boost's cost on a hybrid search with
100K live memories, sqlite-vec KNN beside a NumPy exact scan, and `memory add` throughput —
through the Lakehouse facade and the store it uses (core/memory).

    .venv/bin/python bench/memory.py [--rows 100000] [--memories 100000] [--searches 200] [--quick]

Data: bench/vectors.py's hybrid text (N rows, key "doc-<i>", `bucket` = i % 100), ingested
and embedded with the offline hashing embedder (384 dims). Memories: operations and
approaches in the same vocabulary, each endorsing 3 real row keys of its own bucket, scoped
`bucket = <b>` (100 scopes, so `where bucket = 7` considers ~1% of them).

Measured: (3) `Lakehouse.memory_add` throughput on --adds entries (keys checked, text
embedded, one transaction each, audited); the bulk to --memories live entries, through the
facade when that projects to ≤ --facade-budget seconds, else `MemoryRows.insert` with vectors
from the index's own embedder in batches (the report says which); (1) hybrid searches with
memory=False vs True, interleaved (order alternating), after warm-ups, medians and p99 —
filtered at 1% and 10% and unfiltered — with the boost's own `memory_ms` and its parts, and
a cProfile of boosted searches; (2) `MemoryRows.knn` (k 10) unscoped and scoped to 1% of
scopes against `vectors @ q` + argpartition over the same vectors read back from the store.
--quick = --rows 20000 --memories 10000 --adds 500 --searches 50. Prints a markdown report
and writes the figures to bench/results-memory.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results-memory.json"
sys.path[:0] = [str(ROOT), str(BENCH)]

import numpy as np

from vectors import PLACES, ROLES, SEED, SKILLS, VERBS, machine, md_table, pct

INDEX, K, BUCKETS, KEYS_PER = "docs", 10, 100, 3
GATE_MS = 5.0
ROWS = [0]  # the dataset's row count, for memory_text's keys
WHERES = {"where bucket = 7 (1%)": "bucket = 7", "where bucket < 10 (10%)": "bucket < 10", "unfiltered": None}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def med(xs) -> float:
    return round(float(statistics.median(xs)), 3)


# -- data -----------------------------------------------------------------------------------

def load(lh, n: int, tmp: Path, rng) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pick = lambda xs: xs[rng.integers(len(xs))]
    texts = [" ".join(f"The {pick(ROLES)} in {pick(PLACES)} {pick(VERBS)} {pick(SKILLS)} and {pick(SKILLS)} systems, "
                      f"{rng.integers(1, 20)} years with {pick(SKILLS)}." for _ in range(rng.integers(3, 6)))
             for _ in range(n)]
    src = tmp / "docs.parquet"
    pq.write_table(pa.table({"id": [f"doc-{i:07d}" for i in range(n)], "bucket": np.arange(n) % BUCKETS,
                             "text": texts}), src)
    t0 = time.perf_counter()
    ds = lh.ingest(src, key="id")[0].dataset
    res = lh.embed(ds, "text", index=INDEX, embedder="hashing")
    log(f"{n:,} rows ingested and embedded in {time.perf_counter() - t0:.0f} s")
    return {"rows": n, "ingest_embed_s": round(time.perf_counter() - t0, 1), "chunks": res.chunks}


def memory_text(i: int, rng) -> tuple[str, str, list[str], dict]:
    """Entry i: (operation, approach, keys of its bucket, scope). The serial number keeps
    each operation distinct, so every add is an ADD (not an upsert of an earlier one)."""
    pick = lambda xs: xs[rng.integers(len(xs))]
    b = i % BUCKETS
    op = f"placed a {pick(ROLES)} in {pick(PLACES)} who {pick(VERBS)} {pick(SKILLS)} (#{i})"
    approach = f"searched for {pick(SKILLS)} and {pick(SKILLS)} experience"
    keys = [f"doc-{b + BUCKETS * int(j):07d}" for j in rng.integers(0, ROWS[0] // BUCKETS, KEYS_PER)]
    return op, approach, keys, {"bucket": str(b)}


def facade_adds(lh, start: int, count: int, rng) -> dict:
    """`count` entries through Lakehouse.memory_add, one at a time (figure 3)."""
    actions, t0 = {}, time.perf_counter()
    for i in range(start, start + count):
        op, approach, keys, scope = memory_text(i, rng)
        e = lh.memory_add(INDEX, op, keys, approach=approach, scope=scope)
        actions[e.action] = actions.get(e.action, 0) + 1
    s = time.perf_counter() - t0
    return {"entries": count, "seconds": round(s, 2), "entries_per_s": round(count / s, 1),
            "ms_per_entry": round(s / count * 1000, 3), "actions": actions}


def rows_inserts(lh, start: int, count: int, rng, batch: int = 2048) -> dict:
    """`count` entries straight into MemoryRows.insert (one transaction each, as the facade
    does), their vectors from the index's embedder in batches: what add does minus the key
    check, the upsert lookup and the audit."""
    from core.memory.service import fingerprint, identity, natural_key
    from core.storage.db import now
    from core.vectors.ann import normalise

    svc = lh._memory
    idx, gen, ds = svc._index(INDEX)
    emb, fp, ident, user = lh._vectors.searcher.embedder(gen), fingerprint(ds), identity(gen), "bench"
    t_embed = t_insert = 0.0
    for s in range(start, start + count, batch):
        items = [memory_text(i, rng) for i in range(s, min(s + batch, start + count))]
        t0 = time.perf_counter()
        vecs = normalise(np.asarray(emb.embed([op + "\n" + ap for op, ap, _, _ in items]), np.float32))
        t1 = time.perf_counter()
        for (op, ap, keys, scope), v in zip(items, vecs):
            t = now()
            svc.rows.insert(dict(index_name=idx["name"], operation=op, approach=ap, keys=keys, scope=scope,
                                 natural_key=natural_key(idx["name"], op, t, scope), actor=user, profile="default",
                                 created_at=t, updated_at=t, valid_from=t, valid_until=None, fingerprint=fp,
                                 version=1, parent_id=None, superseded_at=None, superseded_by=None, retired_at=None,
                                 retired_reason=None, embedder=ident, dim=gen["dim"]), v, "add", user)
        t_insert += time.perf_counter() - t1
        t_embed += t1 - t0
        if (s - start) // batch % 10 == 0:
            log(f"bulk: {s + len(items) - start:,} / {count:,}")
    return {"entries": count, "embed_s": round(t_embed, 2), "insert_s": round(t_insert, 2),
            "entries_per_s": round(count / (t_embed + t_insert), 1), "embed_eps": round(count / t_embed),
            "insert_eps": round(count / t_insert, 1)}


# -- 1. the boost's cost on a hybrid search -------------------------------------------------

def queries(rng, count: int) -> list[str]:
    pick = lambda xs: xs[rng.integers(len(xs))]
    return [f"{pick(SKILLS)} {pick(ROLES)} in {pick(PLACES)} who {pick(VERBS)} {pick(SKILLS)}" for _ in range(count)]


def boost_cost(lh, texts: list[str], warm: int) -> dict:
    """Per filter: wall ms of search(memory=False) and (memory=True), interleaved."""
    out = {}
    for name, where in WHERES.items():
        walls = {False: [], True: []}
        timings, stats = [], []
        for j, text in enumerate(texts):
            for mem in ((False, True) if j % 2 else (True, False)):  # the order alternates
                t0 = time.perf_counter()
                res = lh.search(INDEX, text, k=K, where=where, memory=mem)
                ms = (time.perf_counter() - t0) * 1000
                if j >= warm:
                    walls[mem].append(ms)
                    if mem:
                        timings.append(res.timings_ms)
                        stats.append(res.memory)
        off, on = walls[False], walls[True]
        out[name] = {
            "searches": len(on), "off_p50_ms": pct(off, 50), "off_p99_ms": pct(off, 99),
            "on_p50_ms": pct(on, 50), "on_p99_ms": pct(on, 99),
            "added_p50_ms": round(pct(on, 50) - pct(off, 50), 2), "added_p99_ms": round(pct(on, 99) - pct(off, 99), 2),
            "added_pairwise_median_ms": med([a - b for a, b in zip(on, off)]),
            "memory_ms_p50": med([t["memory_ms"] for t in timings]),
            "memory_ms_p99": pct([t["memory_ms"] for t in timings], 99),
            "total_ms_p50": med([t["total_ms"] for t in timings]),
            "boost_stats_median": {key: med([s[key] for s in stats])
                                   for key in ("considered", "matched", "keys_endorsed", "hits_boosted", "moved")}}
        log(f"{name}: off {out[name]['off_p50_ms']} ms, on {out[name]['on_p50_ms']} ms p50, "
            f"memory_ms {out[name]['memory_ms_p50']}")
    return out


def boost_parts(lh, texts: list[str]) -> dict:
    """The boost's steps as _boosted runs them (core/memory/facade.py), each timed alone:
    medians in ms, for the 1% filter and unfiltered."""
    from core.memory import boost
    from core.memory.service import identity
    from core.storage.db import now

    mem, cfg = lh._memory, lh.config
    idx, gen = lh._vectors.registry.resolve(INDEX)
    ds = lh.catalog.datasets.get(idx["dataset"])
    out = {}
    for name in ("where bucket = 7 (1%)", "unfiltered"):
        where, parts = WHERES[name], {}
        add = lambda key, t0: parts.setdefault(key, []).append((time.perf_counter() - t0) * 1000)
        for text in texts:
            q, at = lh._vectors.searcher.query_vector(gen, text), now()
            t0 = time.perf_counter()
            sids = boost.scopes_passing(mem.rows, idx["name"], ds, where, lh._scope_cache) if where else None
            add("scopes_passing", t0)
            t0 = time.perf_counter()
            near = mem.rows.knn(gen["dim"], q[0], cfg.get("memory.top"), idx["name"], identity(gen), at, sids)
            add("knn", t0)
            t0 = time.perf_counter()
            mem.rows.by_ids(i for i, _ in near)
            add("by_ids", t0)
            t0 = time.perf_counter()
            mem.rows.live_count(idx["name"], at, identity(gen), sids)
            add("live_count", t0)
        out[name] = {k: med(v) for k, v in parts.items()}
    return out


def profile_boosted(lh, texts: list[str], where: str | None, top: int = 14) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for text in texts:
        lh.search(INDEX, text, k=K, where=where, memory=True)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return "\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip())


# -- 2. sqlite-vec KNN beside a NumPy exact scan --------------------------------------------

def knn_vs_numpy(lh, texts: list[str]) -> dict:
    from core.memory.service import identity
    from core.storage.db import now

    rows = lh._memory.rows
    idx, gen = lh._vectors.registry.resolve(INDEX)
    dim, ident, at = gen["dim"], identity(gen), now()
    got = rows.db.query(f"SELECT entry_id, embedding, scope_id FROM vec_d{int(dim)} WHERE index_name = ?",
                        (idx["name"],))
    ids = np.array([r[0] for r in got])
    vecs = np.vstack([np.frombuffer(r[1], np.float32) for r in got])
    scope_of = np.array([r[2] for r in got])
    one = sorted(set(scope_of.tolist()))[7:8]  # 1 of 100 scopes: ~1% of the entries
    mask = np.isin(scope_of, one)
    sub, sub_ids = vecs[mask], ids[mask]
    qs = [lh._vectors.searcher.query_vector(gen, t)[0] for t in texts]

    def exact(m, q):
        s = m @ q
        top = np.argpartition(-s, K - 1)[:K]
        return top[np.argsort(-s[top])]

    t = {"sqlite-vec knn": [], "numpy exact": [], "sqlite-vec knn, 1% of scopes": [], "numpy exact, 1% subset": []}
    agree, agree_scoped = [], []
    for q in qs:
        for name, fn in (("sqlite-vec knn", lambda: rows.knn(dim, q, K, idx["name"], ident, at)),
                         ("numpy exact", lambda: exact(vecs, q)),
                         ("sqlite-vec knn, 1% of scopes", lambda: rows.knn(dim, q, K, idx["name"], ident, at, one)),
                         ("numpy exact, 1% subset", lambda: exact(sub, q))):
            t0 = time.perf_counter()
            res = fn()  # noqa: B023
            t[name].append((time.perf_counter() - t0) * 1000)
            if name == "sqlite-vec knn":
                kn = {i for i, _ in res}
            elif name == "numpy exact":
                agree.append(len(kn & set(ids[res].tolist())) / K)
            elif name.startswith("sqlite-vec knn,"):
                kn = {i for i, _ in res}
            else:
                agree_scoped.append(len(kn & set(sub_ids[res].tolist())) / K)
    return {"entries": len(ids), "dim": dim, "scoped_entries": int(mask.sum()), "queries": len(qs),
            "overlap_at_10": round(float(np.mean(agree)), 4), "overlap_at_10_scoped": round(float(np.mean(agree_scoped)), 4),
            "ms": {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in t.items()}}


# -- report ---------------------------------------------------------------------------------

def report(r: dict) -> str:
    a, m, b, kn = r["args"], r["machine"], r["boost"], r["knn"]
    f, bulk = r["adds"], r["bulk"]
    gate = b["where bucket = 7 (1%)"]["added_p50_ms"]
    ok = lambda c: "✅ met" if c else "❌ missed"
    rows = [[name, x["searches"], x["off_p50_ms"], x["on_p50_ms"], f"**{x['added_p50_ms']:+}**",
             x["added_pairwise_median_ms"], x["off_p99_ms"], x["on_p99_ms"], x["memory_ms_p50"], x["memory_ms_p99"],
             " / ".join(str(x["boost_stats_median"][k]) for k in ("considered", "matched", "hits_boosted", "moved"))]
            for name, x in b.items()]
    L = [f"## Playbook memory — {m['cpu']}, {m['cores']} cores, {r['when']} (load {m['loadavg']} → {r['loadavg_end']})",
         f"\n{r['data']['rows']:,} rows (bench/vectors.py's hybrid text, `bucket` = i % {BUCKETS}), hashing embedder "
         f"({kn['dim']} dims), ingested and embedded in {r['data']['ingest_embed_s']} s; {r['live']:,} live memories "
         f"on the index, {BUCKETS} scopes (`bucket`), {KEYS_PER} real row keys each.",
         f"\n**Memory add (`Lakehouse.memory_add`, hashing embedder)**: {f['entries']:,} adds in {f['seconds']} s — "
         f"**{f['entries_per_s']} entries/s** ({f['ms_per_entry']} ms each; {f['actions']}).",
         f"\nBulk to {r['live']:,}: **{bulk['path']}** — {bulk['entries']:,} entries at {bulk['entries_per_s']} "
         f"entries/s" + (f" (embedding {bulk['embed_s']} s in batches, inserts {bulk['insert_s']} s at "
                         f"{bulk['insert_eps']}/s)" if "insert_s" in bulk else "") + ".",
         f"\n**Boost overhead** ({a['searches']} searches each after {a['warm']} warm-ups, memory off/on interleaved; "
         f"wall ms through `Lakehouse.search`, k {K}):\n",
         md_table(["search", "n", "off p50", "on p50", "added p50", "added (paired median)", "off p99", "on p99",
                   "memory_ms p50", "memory_ms p99", "considered / matched / boosted / moved"], rows),
         f"\n- Gate: boost adds ≤ {GATE_MS} ms p50 to a hybrid search (1% filter) with {r['live']:,} live memories: "
         f"{gate:+} ms — {ok(gate <= GATE_MS)}",
         "\nThe boost's steps alone (median ms):\n",
         md_table(["search", *next(iter(r["parts"].values()))], [[n, *p.values()] for n, p in r["parts"].items()]),
         f"\n**sqlite-vec KNN vs NumPy exact** ({kn['entries']:,} × {kn['dim']}, k {K}, {kn['queries']} single "
         f"queries; overlap of their top {K}: {kn['overlap_at_10']} unscoped, {kn['overlap_at_10_scoped']} scoped):\n",
         md_table(["", "p50 ms", "p99 ms"], [[k, v["p50"], v["p99"]] for k, v in kn["ms"].items()]),
         f"\ncProfile of {a['profiled']} boosted searches (where bucket = 7), by own time:\n```\n{r['profile']}\n```"]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--memories", type=int, default=100_000)
    ap.add_argument("--adds", type=int, default=2000, help="entries timed through memory_add (figure 3)")
    ap.add_argument("--searches", type=int, default=200)
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--knn-queries", type=int, default=200)
    ap.add_argument("--profiled", type=int, default=50)
    ap.add_argument("--facade-budget", type=float, default=240, help="bulk through the facade if it projects to ≤ s")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.rows, a.memories, a.adds, a.searches, a.knn_queries, a.profiled = 20_000, 10_000, 500, 50, 50, 20
    ROWS[0] = a.rows
    from core import Lakehouse

    rng = np.random.default_rng(SEED + 17)
    r = {"args": vars(a), "machine": machine(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="lh-bench-memory-") as d, Lakehouse.open(home=Path(d) / "home") as lh:
        r["data"] = load(lh, a.rows, Path(d), rng)
        r["adds"] = facade_adds(lh, 0, a.adds, rng)
        log(f"memory_add: {r['adds']['entries_per_s']} entries/s")
        rest = a.memories - a.adds
        if rest / r["adds"]["entries_per_s"] <= a.facade_budget:
            r["bulk"] = {"path": "Lakehouse.memory_add in a loop", **facade_adds(lh, a.adds, rest, rng)}
        else:
            r["bulk"] = {"path": "MemoryRows.insert, vectors from the index's HashingEmbedder in batches",
                         **rows_inserts(lh, a.adds, rest, rng)}
        r["live"] = lh._memory.rows.counts()["live"]
        log(f"{r['live']:,} live memories")
        texts = queries(rng, a.searches + a.warm)
        r["boost"] = boost_cost(lh, texts, a.warm)
        r["parts"] = boost_parts(lh, texts[:100])
        r["knn"] = knn_vs_numpy(lh, queries(rng, a.knn_queries))
        r["profile"] = profile_boosted(lh, queries(rng, a.profiled), "bucket = 7")
    r["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.write_text(json.dumps(r, indent=1, default=str))
    print(report(r))


if __name__ == "__main__":
    main()
