"""Masking and row-policy overhead on the 8 staffing queries (bench/run.py's QUERIES).

Three profiles over one demo root, each query run in turn by each (interleaved), medians:
- `plain`: no policy;
- `masked`: candidates' email hashed, phone last4, last_name redacted, every pii-tagged
  column redacted (views with the masks in their SELECT);
- `filtered`: the same masks plus row filters on candidates and placements that keep
  every row (so the answers match `plain` and the cost is the policy's alone) — those
  two datasets are then read from the filtered copy made at first use.
Also the first query's cost under `filtered` (making the copies). Target: <= 10% over plain.

    .venv/bin/python bench/policies.py [--scale 1.0] [--runs 15] [--home DIR]
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
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

CONFIG = """
[profiles.plain]
description = "no policy"
[profiles.masked]
description = "masks"
[profiles.filtered]
description = "masks and row filters"

[policies.masks]
profiles = ["masked", "filtered"]
masks = { "candidates.email" = "hash", "candidates.phone" = "last4", "candidates.last_name" = "redact", "tag:pii" = "redact" }

[policies.rows]
profiles = ["filtered"]
rows = { candidates = "candidate_id IS NOT NULL", placements = "placement_id IS NOT NULL" }
"""


def _check_cost(lakes: dict, statements: list[str], n: int = 50) -> dict:
    """Median ms of the statement checks before a query runs, for a statement the engine has
    not seen (the policy's gate remembers statements that passed): plain against masked."""
    out = {}
    for p in ("plain", "masked"):
        engine = lakes[p].engine
        times = []
        for _ in range(n):
            for sql in statements:
                engine.__dict__.pop("_passed", None)
                t0 = time.perf_counter()
                engine._check(sql)
                times.append((time.perf_counter() - t0) * 1000)
        out[p] = round(statistics.median(times), 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--home", default="", help="a root holding the demo (else a temporary one, removed after)")
    args = ap.parse_args()
    from run import QUERIES

    from core import Lakehouse

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="lh-policies-"))
    try:
        (home / "lakehouse.toml").parent.mkdir(parents=True, exist_ok=True)
        (home / "lakehouse.toml").write_text(CONFIG)
        with Lakehouse.open(home=home, profile="plain") as lh:
            if not lh.datasets():
                t0 = time.perf_counter()
                lh.demo(scale=args.scale)
                print(f"demo at scale {args.scale}: {time.perf_counter() - t0:.1f} s", flush=True)
        lakes = {p: Lakehouse.open(home=home, profile=p) for p in ("plain", "masked", "filtered")}
        out: dict = {"scale": args.scale, "runs": args.runs, "queries": {}}
        try:
            t0 = time.perf_counter()
            lakes["filtered"].sql(QUERIES["q2"][1])  # makes the filtered copies of candidates and placements
            out["first_query_filtered_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            t0 = time.perf_counter()
            lakes["plain"].sql(QUERIES["q2"][1])
            out["first_query_plain_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            for qid, (_title, sql) in QUERIES.items():
                got = {p: lh.sql(sql).num_rows for p, lh in lakes.items()}
                assert len(set(got.values())) == 1, (qid, got)  # the same answers' sizes
                times: dict[str, list[float]] = {p: [] for p in lakes}
                for _ in range(args.runs + 2):
                    for p, lh in lakes.items():
                        t0 = time.perf_counter()
                        lh.sql(sql)
                        times[p].append((time.perf_counter() - t0) * 1000)
                out["queries"][qid] = {p: round(statistics.median(v[2:]), 2) for p, v in times.items()}
                print(qid, out["queries"][qid], flush=True)
            out["new_statement_check_ms"] = _check_cost(lakes, [sql for _t, sql in QUERIES.values()])
        finally:
            for lh in lakes.values():
                lh.close()
        sums = {p: round(sum(q[p] for q in out["queries"].values()), 2) for p in ("plain", "masked", "filtered")}
        out["sum_ms"] = sums
        out["overhead_pct"] = {p: round((sums[p] / sums["plain"] - 1) * 100, 1) for p in ("masked", "filtered")}
        print("| query | plain ms | masked ms | masked + filtered ms |\n|---|---|---|---|")
        for qid, q in out["queries"].items():
            print(f"| {qid} | {q['plain']} | {q['masked']} | {q['filtered']} |")
        print(f"| sum | {sums['plain']} | {sums['masked']} ({out['overhead_pct']['masked']:+}%) | "
              f"{sums['filtered']} ({out['overhead_pct']['filtered']:+}%) |")
        print(f"statement checks for a statement not seen before: plain {out['new_statement_check_ms']['plain']} ms, "
              f"under a policy {out['new_statement_check_ms']['masked']} ms")
        print(f"first query (q2) making the filtered copies: {out['first_query_filtered_ms']} ms "
              f"(plain first q2: {out['first_query_plain_ms']} ms)")
        (BENCH / "results-policies.json").write_text(json.dumps(out, indent=2))
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
