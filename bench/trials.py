#!/usr/bin/env python
"""Lakehouse trials benchmark (issue 16): a fresh eval set, one trial against a bare build,
and a timed autotune on the 100K x 768 clustered set of bench/vectors.py — all through the
Lakehouse facade, as `lakehouse eval create`, `trial` and `autotune` run them.

    .venv/bin/python bench/trials.py [--n 100000] [--queries 1000] [--budget 10m] [--quick]

The vectors reach the index the way a user's do: a Parquet dataset of N rows (text "v<row>")
is ingested and embedded with the official `ollama` client, against the tests' Ollama
stand-in (tests/ollama_stub.py) told to answer "v<row>" with that row's clustered vector
(float32 values survive JSON exactly). The default settings (M 16, ef_construction 80,
ef_search 64) build generation 1.

Measured: the eval set's making; a trial of M16/efc80 at ef_search 30,50,64,100 against a
bare hnswlib build of the same vectors (same M, efc, threads), alternated, medians; the
autotune at --min-recall 0.99, objective p50 (the issue's gate) — what it explored, what it
promoted and the same-run baseline; then `_trials` and `_audit` queried in SQL.
--quick = --n 20000 --queries 200 --budget 2m. Prints a markdown report and writes the
figures to bench/results-trials.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results-trials.json"
sys.path[:0] = [str(ROOT), str(BENCH), str(ROOT / "tests")]

import numpy as np

from vectors import REFERENCE, machine, make_data, md_table

INDEX, EVAL, K = "clustered", "fresh", 10
TRIAL = {"m": 16, "ef_construction": 80, "ef_search": [30, 50, 64, 100]}
GATE = {"recall": 0.99, "p50_ratio": 0.85, "trial_overhead": 0.10}
MODEL = "nomic-embed-text"  # the stand-in's 768-dim embedding model


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def serve_vectors(base: np.ndarray):
    """The Ollama stand-in, answering exactly "v<row>" with base[row]."""
    from ollama_stub import OllamaStub

    stub = OllamaStub()
    pattern = re.compile(r"v(\d+)")
    own = stub.vector  # for anything else, e.g. the embedder's probe when it connects
    stub.vector = lambda text, dim: base[int(m[1])].tolist() if (m := pattern.fullmatch(text)) else own(text, dim)
    return stub


def bare_build(vectors: np.ndarray) -> float:
    """Seconds hnswlib alone takes to build the trial's graph (all cores, like a trial)."""
    import os

    import hnswlib

    t0 = time.perf_counter()
    index = hnswlib.Index(space="cosine", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), ef_construction=TRIAL["ef_construction"], M=TRIAL["m"])
    index.add_items(vectors, np.arange(len(vectors)), num_threads=os.cpu_count() or 1)
    return time.perf_counter() - t0


def load(lh, base: np.ndarray, tmp: Path) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(base)
    src = tmp / "clustered.parquet"
    pq.write_table(pa.table({"id": np.arange(n), "body": [f"v{i}" for i in range(n)]}), src)
    t0 = time.perf_counter()
    lh.ingest(src, name="clustered", key="id")
    res = lh.embed("clustered", "body", index=INDEX, embedder="ollama", model=MODEL)
    gen = lh.index(INDEX).generations[-1]
    log(f"embedded {res.chunks} vectors in {time.perf_counter() - t0:.0f} s")
    return {"embed_s": round(time.perf_counter() - t0, 1),
            "default": {"m": gen.m, "ef_construction": gen.ef_construction, "ef_search": gen.ef_search}}


def trial_cost(lh, base: np.ndarray, rounds: int) -> dict:
    """Trial (one build + 4 ef_search values through the product) against a bare build."""
    bare, trial, points = [], [], None
    for r in range(rounds):  # alternated, so the machine's drift falls on both
        bare.append(bare_build(base))
        t0 = time.perf_counter()
        t = lh.trial(INDEX, TRIAL["m"], TRIAL["ef_construction"], TRIAL["ef_search"], eval_name=EVAL)
        trial.append(time.perf_counter() - t0)
        points = points or [{k: p[k] for k in ("ef_search", "recall", "p50_us", "p95_us", "p99_us")} for p in t.points]
        log(f"round {r + 1}: bare build {bare[-1]:.1f} s, trial {trial[-1]:.1f} s (its build {t.build_s:.1f} s)")
    b, tr = statistics.median(bare), statistics.median(trial)
    return {"bare_build_s": round(b, 2), "trial_s": round(tr, 2), "overhead": round(tr / b - 1, 4),
            "bare_runs": [round(x, 2) for x in bare], "trial_runs": [round(x, 2) for x in trial], "points": points}


def autotune(lh, budget: str) -> dict:
    last = [0.0]

    def listen(ev) -> None:
        if ev.message and time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            log(f"autotune: {ev.message}")
    t0 = time.perf_counter()
    out = lh.autotune(INDEX, budget=budget, min_recall=GATE["recall"], objective="p50", eval_name=EVAL,
                      progress=listen)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    trials = lh.sql(f"SELECT count(DISTINCT trial_id) AS builds, count(*) AS points, "
                    f"count(*) FILTER (WHERE recall >= {GATE['recall']}) AS over_gate "
                    f"FROM _trials WHERE index_name = '{INDEX}'").to_pylist()[0]
    lh.audit_log.flush()  # entries are written every second; read them now
    audit = lh.sql("SELECT ts, statement, outcome FROM _audit WHERE action = 'trial_promote' ORDER BY ts").to_pylist()
    info = lh.index(INDEX)
    active = info.active
    out["sql"] = {"trials": trials, "promotions_in_audit": audit,
                  "active": {"gen": active.gen, "m": active.m, "ef_construction": active.ef_construction,
                             "ef_search": active.ef_search}}
    return out


def report(r: dict) -> str:
    a, t, c = r["args"], r["autotune"], r["trial"]
    base, won = t["baseline"], t["promote"]
    ratio = won["p50_us"] / base["p50_us"] if won else None
    ok = lambda cond: "✅" if cond else "❌"
    rows = [["default (baseline, same run)", f"M {base['m']} · efc {base['ef_construction']} · ef {base['ef_search']}",
             f"{base['recall']:.4f}", base["p50_us"], base["p99_us"], "1.00"]]
    if won:
        rows.append(["promoted", f"M {won['m']} · efc {won['ef_construction']} · ef {won['ef_search']}",
                     f"{won['recall']:.4f}", won["p50_us"], won["p99_us"], f"{ratio:.2f}"])
    L = [f"## Trials and autotune — {r['machine']['cpu']}, {r['when']}",
         f"\n{a['n']:,} × {a['dim']} clustered vectors (bench/vectors.py's set), ingested and embedded through the "
         f"ollama client in {r['load']['embed_s']} s; eval set of {a['queries']} held-out queries, exact top-{K}, "
         f"made in {r['eval_s']} s.",
         f"\nAutotune `--budget {a['budget']} --min-recall {GATE['recall']} --objective p50`: {t['trials']} builds "
         f"in {t['wall_s']} s (stopped: {t['stopped']}), {len(t['front'])} points on the front, "
         f"{len(t['failed'])} failed. {t['reason']}\n",
         md_table(["", "settings", "recall@10", "p50 µs", "p99 µs", "p50 ÷ default"], rows),
         f"\n- Gate recall ≥ {GATE['recall']} at p50 ≤ {GATE['p50_ratio']}× default: "
         f"{ok(won and won['recall'] >= GATE['recall'] and ratio <= GATE['p50_ratio'])}",
         f"- In SQL afterwards: `_trials` holds {t['sql']['trials']['builds']} builds / "
         f"{t['sql']['trials']['points']} points ({t['sql']['trials']['over_gate']} at recall ≥ {GATE['recall']}); "
         f"`_audit` holds {len(t['sql']['promotions_in_audit'])} trial_promote entries; the active generation is "
         f"{t['sql']['active']}",
         f"\nTrial M16/efc80 at ef_search {TRIAL['ef_search']} ({a['queries']} queries): median {c['trial_s']} s "
         f"against a bare hnswlib build of {c['bare_build_s']} s — overhead {c['overhead']:+.1%} "
         f"(gate ≤ +{GATE['trial_overhead']:.0%}: {ok(c['overhead'] <= GATE['trial_overhead'])}); runs: bare "
         f"{c['bare_runs']}, trial {c['trial_runs']}.\n",
         md_table(["ef_search", "recall@10", "p50 µs", "p95 µs", "p99 µs"],
                  [[p["ef_search"], f"{p['recall']:.4f}", p["p50_us"], p["p95_us"], p["p99_us"]] for p in c["points"]]),
         f"\nReference: {REFERENCE}"]
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--budget", default="10m")
    ap.add_argument("--rounds", type=int, default=3, help="trial-vs-bare rounds (medians)")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.n, a.queries, a.budget, a.rounds = 20_000, 200, "2m", 2
    from core import Lakehouse

    with tempfile.TemporaryDirectory(prefix="lh-bench-trials-") as d:
        tmp = Path(d)
        base, _ = make_data(a.n, a.dim, 1)
        with serve_vectors(base) as stub:
            (tmp / "home").mkdir()
            (tmp / "home" / "lakehouse.toml").write_text(f'[ollama]\nhost = "{stub.url}"\nembed_batch = 256\n')
            with Lakehouse.open(home=tmp / "home") as lh:
                r = {"args": vars(a), "machine": machine(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
                r["load"] = load(lh, base, tmp)
                t0 = time.perf_counter()
                lh.eval_create(INDEX, queries=a.queries, k=K, name=EVAL)
                r["eval_s"] = round(time.perf_counter() - t0, 2)
                r["trial"] = trial_cost(lh, base, a.rounds)
                r["autotune"] = autotune(lh, a.budget)
    RESULTS.write_text(json.dumps(r, indent=1, default=str))
    print(report(r))


if __name__ == "__main__":
    main()
