"""The paths a user takes on day one, timed: many small files, strict JSON, a refused
Ollama port, and the demo itself.

- many_files_s: one `Lakehouse.ingest` of a folder of 200 two-line CSVs (per-file costs:
  job, cancel watcher, DuckDB read, Delta commit, catalog).
- json_ndjson_s / json_array_s: a 600K-record (~64 MB) NDJSON file and the same records
  as one JSON array, through `Lakehouse.ingest` (strict validation included).
- models_refused_ms: process wall time of `lakehouse models` with OLLAMA_HOST on a port
  where nothing listens (how long a user waits to learn Ollama is not running).
- demo_s (with --demo): process wall time of `lakehouse demo` at scale 1 in a fresh root.

Each figure is the median of --runs runs (default 3) in fresh storage roots.

    .venv/bin/python bench/front_door.py [--runs 3] [--demo]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
EXE = str(Path(sys.executable).parent / "lakehouse")


def _fresh_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="lh-bench-"))


def _timed_ingest(path: Path) -> float:
    from core import Lakehouse

    root = _fresh_root()
    try:
        t0 = time.perf_counter()
        with Lakehouse.open(home=root) as lh:
            results = lh.ingest(path)
        took = time.perf_counter() - t0
        assert all(r.status == "ingested" for r in results), [r.message for r in results]
        return took
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--demo", action="store_true", help="also time `lakehouse demo` at scale 1 (about a minute)")
    args = ap.parse_args()
    import duckdb

    work = Path(tempfile.mkdtemp(prefix="lh-bench-data-"))
    out: dict[str, float] = {}
    try:
        files = work / "many"
        files.mkdir()
        for i in range(200):
            (files / f"ds_{i:03d}.csv").write_text(f"id,v\n1,{i}\n")
        out["many_files_s"] = statistics.median(_timed_ingest(files) for _ in range(args.runs))

        rows = ("SELECT i AS id, 'name ' || i AS name, i * 1.5 AS score, [i, i + 1] AS tags, "
                "{'a': i, 'b': 'x' || i} AS obj FROM range(600000) t(i)")
        duckdb.sql(f"COPY ({rows}) TO '{work / 'big.ndjson'}' (FORMAT json)")
        duckdb.sql(f"COPY ({rows}) TO '{work / 'big.json'}' (FORMAT json, ARRAY true)")
        out["json_mb"] = round((work / "big.ndjson").stat().st_size / 2**20, 1)
        out["json_ndjson_s"] = statistics.median(_timed_ingest(work / "big.ndjson") for _ in range(args.runs))
        out["json_array_s"] = statistics.median(_timed_ingest(work / "big.json") for _ in range(args.runs))

        env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{_closed_port()}", "LAKEHOUSE_HOME": str(work / "m")}
        walls = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            p = subprocess.run([EXE, "models"], env=env, capture_output=True, text=True)
            walls.append((time.perf_counter() - t0) * 1000)
            assert p.returncode == 1 and "not reachable" in p.stderr, p.stderr
        out["models_refused_ms"] = statistics.median(walls)

        if args.demo:
            root = _fresh_root()
            try:
                t0 = time.perf_counter()
                p = subprocess.run([EXE, "demo"], env={**os.environ, "LAKEHOUSE_HOME": str(root)},
                                   capture_output=True, text=True)
                out["demo_s"] = time.perf_counter() - t0
                assert p.returncode == 0, p.stderr
            finally:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {k: round(v, 3) for k, v in out.items()}
    print(json.dumps(out, indent=2))
    (BENCH / "results-front-door.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
