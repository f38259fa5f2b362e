#!/usr/bin/env python
"""Postgres streaming ingest benchmark (issue 18): PostgreSQL -> Delta rows/s through
`lakehouse ingest`, beside the reference `COPY (SELECT …) TO STDOUT` piped into a Parquet
writer, and the ingest's peak memory as the table grows.

    .venv/bin/python bench/postgres.py [--rows 1000000] [--big 5000000] [--runs 3]

A private PostgreSQL cluster (tests/pgserver.py) holds a 10-column table of --rows rows
(bigint, int, bigint, numeric(12,2), double, text, text, timestamptz, boolean, jsonb).
"ingest": the console script `lakehouse ingest postgresql://… --table public.big` into a
fresh storage root each run (PGPASSWORD for the password). "reference": a Python process
that runs psycopg's `COPY (SELECT …) TO STDOUT (FORMAT csv)` into pyarrow's streaming CSV
reader (the ten columns' types given) and a ParquetWriter — the same rows to a Parquet
file with nothing else. Both are timed as whole processes (start-up included); medians
of --runs, the ratio ingest / reference (goal <= 1.5). Then the ingest's peak RSS
(ru_maxrss of the child) at --rows and at --big rows (goal: flat). Prints a markdown
report and writes bench/results-postgres.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results-postgres.json"
sys.path[:0] = [str(ROOT), str(BENCH), str(ROOT / "tests")]

from pgserver import PASSWORD, PgServer  # noqa: E402
from vectors import machine, md_table  # noqa: E402

COLUMNS = "id, grp, val, amount, score, name, category, created, flag, attrs"
TABLE = """CREATE TABLE {name} AS SELECT g::int8 AS id, (g % 1000)::int4 AS grp, (g::int8 * 7919 % 1000003) AS val,
  round((g % 100000) / 7.0, 2)::numeric(12,2) AS amount, (g * 0.37)::float8 / 3 AS score, 'name ' || g AS name,
  'category_' || (g % 50) AS category, timestamptz '2020-01-01' + g * interval '1001 milliseconds' AS created,
  (g % 3 = 0) AS flag, jsonb_build_object('k', g % 10, 'tag', 'x' || (g % 7)) AS attrs
  FROM generate_series(1, {rows}) g"""

REFERENCE = r'''
import os, sys, threading
import psycopg, pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq
dsn, sql, out = sys.argv[1:4]
types = {"id": pa.int64(), "grp": pa.int32(), "val": pa.int64(), "amount": pa.decimal128(12, 2),
         "score": pa.float64(), "name": pa.string(), "category": pa.string(),
         "created": pa.timestamp("us", tz="UTC"), "flag": pa.bool_(), "attrs": pa.string()}
r, w = os.pipe()
def pump():
    with psycopg.connect(dsn) as con, con.cursor().copy(sql) as cp, os.fdopen(w, "wb") as f:
        for chunk in cp:
            f.write(chunk)
t = threading.Thread(target=pump); t.start()
reader = csv.open_csv(os.fdopen(r, "rb"), read_options=csv.ReadOptions(column_names=list(types), block_size=1 << 22),
                      convert_options=csv.ConvertOptions(column_types=types, true_values=["t"], false_values=["f"]))
with pq.ParquetWriter(out, reader.schema, compression="snappy") as pw:
    n = 0
    for b in reader:
        pw.write_batch(b); n += b.num_rows
t.join()
print(n)
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(argv: list[str], env: dict) -> tuple[float, str]:
    """(wall seconds, stdout) of one child process."""
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {p.stderr.strip()[-2000:]}")
    return wall, p.stdout


def ingest(pg: PgServer, table: str, tmp: Path, run: int) -> tuple[float, str]:
    home = tmp / f"home-{table}-{run}"
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "PGPASSWORD": PASSWORD}
    return timed([str(Path(sys.executable).parent / "lakehouse"), "ingest", pg.url(), "--table",
                  f"public.{table}", "--name", "big"], env)


def reference(pg: PgServer, table: str, tmp: Path, run: int) -> tuple[float, str]:
    out = tmp / f"ref-{table}-{run}.parquet"
    dsn = pg.url(password=True)
    sql = f"COPY (SELECT {COLUMNS} FROM {table}) TO STDOUT (FORMAT csv)"
    try:
        return timed([sys.executable, "-c", REFERENCE, dsn, sql, str(out)], dict(os.environ))
    finally:
        out.unlink(missing_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=5_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    m = machine()
    r: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": m,
               "rows": args.rows, "big": args.big, "runs": args.runs}
    tmp = Path(tempfile.mkdtemp(prefix="lh-bench-pg-"))
    try:
        _measure(args, r, tmp)
    finally:  # the ingested homes are hundreds of MB: nothing is left behind
        shutil.rmtree(tmp, ignore_errors=True)
    r["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.write_text(json.dumps(r, indent=2) + "\n")
    print(report(r))
    return 0


def _measure(args, r: dict, tmp: Path) -> None:
    with PgServer() as pg:
        t = time.perf_counter()
        pg.sql(TABLE.format(name="big", rows=args.rows), "VACUUM ANALYZE big")
        log(f"loaded {args.rows:,} rows in {time.perf_counter() - t:.1f} s")
        ing, ref = [], []
        for i in range(args.runs):  # interleaved, so a burst of load hits both alike
            w, out = ingest(pg, "big", tmp, i)
            ing.append(w)
            log(f"ingest {i}: {w:.2f} s ({out.strip()})")
            w, out = reference(pg, "big", tmp, i)
            ref.append(w)
            log(f"reference {i}: {w:.2f} s ({out.strip()} rows)")
        r["ingest_s"], r["reference_s"] = ing, ref
        r["ingest_median_s"], r["reference_median_s"] = statistics.median(ing), statistics.median(ref)
        r["ratio"] = r["ingest_median_s"] / r["reference_median_s"]
        r["ingest_rows_per_s"] = args.rows / r["ingest_median_s"]
        r["reference_rows_per_s"] = args.rows / r["reference_median_s"]
        # peak memory, each in a fresh child (RUSAGE_CHILDREN keeps a process's largest child)
        r["rss_mib"] = {}
        for name, rows in (("small", args.rows), ("big", args.big)):
            if name == "big":
                t = time.perf_counter()
                pg.sql(TABLE.format(name="bigger", rows=rows), "VACUUM ANALYZE bigger")
                log(f"loaded {rows:,} rows in {time.perf_counter() - t:.1f} s")
            r["rss_mib"][str(rows)] = peak_rss(pg, "big" if name == "small" else "bigger", tmp)
            log(f"peak RSS at {rows:,} rows: {r['rss_mib'][str(rows)]:.0f} MiB")


def peak_rss(pg: PgServer, table: str, tmp: Path) -> float:
    """The ingest's peak RSS (MiB) in a child of a fresh Python (its RUSAGE_CHILDREN sees it alone)."""
    code = ("import os, resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
            "assert p.returncode == 0, p.stderr; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    home = tmp / f"home-rss-{table}"
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "PGPASSWORD": PASSWORD}
    p = subprocess.run([sys.executable, "-c", code, str(Path(sys.executable).parent / "lakehouse"), "ingest",
                        pg.url(), "--table", f"public.{table}", "--name", "big"], env=env,
                       capture_output=True, text=True, check=True)
    return int(p.stdout.strip()) / 1024


def report(r: dict) -> str:
    m = r["machine"]
    rows = [("`lakehouse ingest postgresql://… --table`", f"{r['ingest_median_s']:.2f}",
             ", ".join(f"{x:.2f}" for x in r["ingest_s"]), f"{r['ingest_rows_per_s']:,.0f}"),
            ("`COPY … TO STDOUT` → pyarrow CSV → Parquet", f"{r['reference_median_s']:.2f}",
             ", ".join(f"{x:.2f}" for x in r["reference_s"]), f"{r['reference_rows_per_s']:,.0f}")]
    rss = r["rss_mib"]
    lines = [f"## Postgres streaming ingest — {m['cpu']}, {m['cores']} cores, {r['when']} "
             f"(load {m['loadavg']} → {r['loadavg_end']})", "",
             md_table(["path", "median s", "runs s", "rows/s"], rows), "",
             f"ratio ingest / reference: **{r['ratio']:.2f}×** (goal ≤ 1.5×: "
             f"{'met' if r['ratio'] <= 1.5 else 'missed'})", "",
             md_table(["rows", "ingest peak RSS (MiB)"], [(f"{int(k):,}", f"{v:.0f}") for k, v in rss.items()])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
