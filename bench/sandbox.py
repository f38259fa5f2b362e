"""What the read-only sandbox's second layer and query limits cost (issue 14).

The query connection may open exactly the data files it reads (DuckDB allowed_paths,
configuration locked), so a write that adds data files makes the next query open a
fresh connection. Timed, in one fresh root with `--datasets` small datasets and one of
`--rows` rows:

- query_ms: `SELECT count(*), avg(v) FROM big WHERE v % 7 = 3` on a warm connection.
- point_ms: `SELECT * FROM big WHERE id = 123456` on a warm connection.
- after_write_ms: the same point query right after another dataset got one new row
  (reconnect + every view re-created, then the query).
- check_us: the statement check alone (size, block count, DuckDB's parse) for a typical
  query.

Each figure is the median of --runs runs. Run it against another checkout with
`--code PATH` to compare before and after.

    .venv/bin/python bench/sandbox.py [--runs 15] [--datasets 50] [--rows 1000000] [--code PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--datasets", type=int, default=50)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--code", default=str(BENCH.parent))
    args = ap.parse_args()
    sys.path.insert(0, args.code)
    from core import Lakehouse

    root = Path(tempfile.mkdtemp(prefix="lh-bench-sandbox-"))
    try:
        data = root / "data"
        data.mkdir()
        big = data / "big.csv"
        with big.open("w") as f:
            f.write("id,v\n")
            for i in range(args.rows):
                f.write(f"{i},{i * 13 % 1000}\n")
        with Lakehouse.open(home=root / "home") as lh:
            lh.ingest(big, key="id")
            for i in range(args.datasets):
                p = data / f"small_{i}.csv"
                p.write_text("id,note\n1,a\n2,b\n")
                lh.ingest(p, key="id")
            agg = "SELECT count(*), avg(v) FROM big WHERE v % 7 = 3"
            point = "SELECT * FROM big WHERE id = 123456"
            lh.sql(agg)
            query, pt, after, check = [], [], [], []
            for r in range(args.runs):
                t = time.perf_counter(); lh.sql(agg); query.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter(); lh.sql(point); pt.append((time.perf_counter() - t) * 1000)
                lh.update("small_0", "1", {"note": f"n{r}"}, reason="bench")
                t = time.perf_counter(); lh.sql(point); after.append((time.perf_counter() - t) * 1000)
                eng = lh.engine
                con = eng._connection()
                t = time.perf_counter()
                for _ in range(100):
                    eng._check(agg)
                check.append((time.perf_counter() - t) * 1e6 / 100)
        out = {"runs": args.runs, "datasets": args.datasets + 1, "rows": args.rows, "code": args.code,
               "query_ms": round(statistics.median(query), 2), "point_ms": round(statistics.median(pt), 2),
               "after_write_ms": round(statistics.median(after), 2), "check_us": round(statistics.median(check), 1)}
        print(json.dumps(out))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
