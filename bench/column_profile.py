"""Column profile of a 10M-row numeric column, drawn in Explore (issue 20).

A temp root with one dataset `big` (10,000,000 rows; columns x and y, numeric), made with
DuckDB's range() into Parquet and ingested; removed afterwards. The real app runs
headless (Textual's run_test) on it; each run clears the profile cache and moves the
Explore cursor to the other column, so every run computes a profile afresh. Measured:
- query: the facade's column_profile call (the one DuckDB statement), for context;
- drawn after the query: from column_profile returning (in the worker) to the first
  frame with the chart's figure (built by plotext in the chart's own thread worker,
  chart_build_ms) — goal <= 500 ms;
- longest stall: the biggest gap between the ticks of a 10 ms Textual interval while the
  profile is computed and drawn (selection to drawn) — goal <= 50 ms.
Medians (and max) over the runs; a markdown table on stdout, bench/results-column-profile.json.

    .venv/bin/python bench/column_profile.py [--rows 10000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

TICK_S = 0.01


def make_root(tmp: Path, rows: int) -> Path:
    import duckdb

    from core import Lakehouse

    pq = tmp / "big.parquet"
    # x: 1M distinct integers, y: a skewed double (its histogram is not flat)
    duckdb.sql(f"COPY (SELECT (range * 7919) % 1000003 AS x, sqrt(range % 100000) * 3.5 AS y "
               f"FROM range({rows})) TO '{pq}' (FORMAT parquet)")
    home = tmp / "home"
    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(pq)])
    pq.unlink()
    return home


async def measure(home: Path, runs: int) -> list[dict]:
    from app.tui import LakehouseApp
    from panes.column_chart import ProfileChart

    marks: dict = {}
    render, build = ProfileChart.render, ProfileChart._build

    def timed_render(self):  # the first frame with the figure, after the query returned
        out = render(self)
        if "returned" in marks and "drawn" not in marks and self._drawn is not None and out is self._drawn[3]:
            marks["drawn"] = time.perf_counter()
        return out

    def timed_build(self, key):  # plotext's build, in the chart's worker
        t0 = time.perf_counter()
        build(self, key)
        marks.setdefault("build_ms", (time.perf_counter() - t0) * 1000)

    ProfileChart.render, ProfileChart._build = timed_render, timed_build
    app = LakehouseApp(home=home, profile="default")
    results = []
    async with app.run_test(size=(120, 36)) as pilot:
        while app.lh is None:
            await pilot.pause(0.05)
        lh = app.lh
        profile = lh.column_profile

        def wrapped(dataset, column):
            t0 = time.perf_counter()
            try:
                return profile(dataset, column)
            finally:
                marks["query_ms"] = (time.perf_counter() - t0) * 1000
                marks["returned"] = time.perf_counter()

        lh.column_profile = wrapped  # the pane calls the facade through this instance
        ticks: list[float] = []
        app.set_interval(TICK_S, lambda: ticks.append(time.perf_counter()))
        await pilot.press("f2")
        tree = app.query_one("#explore-tree")
        while not (tree.root.children and tree.root.children[0].children):
            await pilot.pause(0.05)
        node = tree.root.children[0].children[0]
        tree.focus()
        tree.move_cursor(node)
        await pilot.press("space")
        while not node.children:
            await pilot.pause(0.05)
        for run in range(runs + 1):  # the first run warms the engine and is not counted
            column = node.children[run % 2]
            lh.__dict__.get("_column_profile_cache", ({}, None))[0].clear()
            marks.clear()
            await pilot.pause(0.3)  # the previous frames settle
            start = time.perf_counter()
            tree.move_cursor(column)
            while "drawn" not in marks:
                await pilot.pause(0.005)
                if time.perf_counter() - start > 120:
                    raise SystemExit("the chart was not drawn within 120 s")
            end = marks["drawn"]
            seen = [t for t in ticks if start <= t <= end + TICK_S * 5]
            gaps = [b - a for a, b in zip(seen, seen[1:])]
            during = [b - a for a, b in zip(seen, seen[1:]) if b <= marks["returned"]]
            if run:
                results.append({"query_ms": marks["query_ms"], "drawn_after_query_ms": (end - marks["returned"]) * 1000,
                                "longest_stall_ms": max(gaps, default=0.0) * 1000,
                                "stall_while_querying_ms": max(during, default=0.0) * 1000,
                                "chart_build_ms": marks.get("build_ms", 0.0),
                                "select_to_drawn_ms": (end - start) * 1000})
    ProfileChart.render, ProfileChart._build = render, build
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lakehouse-bench-colprof-"))
    try:
        t0 = time.perf_counter()
        home = make_root(tmp, args.rows)
        setup_s = time.perf_counter() - t0
        runs = asyncio.run(measure(home, args.runs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    keys = ["query_ms", "drawn_after_query_ms", "chart_build_ms", "longest_stall_ms", "stall_while_querying_ms",
            "select_to_drawn_ms"]
    summary = {k: {"median": round(statistics.median(r[k] for r in runs), 1),
                   "max": round(max(r[k] for r in runs), 1)} for k in keys}
    goals = {"drawn_after_query_ms": 500, "longest_stall_ms": 50}
    out = {"rows": args.rows, "runs": args.runs, "setup_s": round(setup_s, 1), "summary": summary,
           "goals_ms": goals, "met": {k: summary[k]["median"] <= g for k, g in goals.items()},
           "each": [{k: round(v, 1) for k, v in r.items()} for r in runs]}
    print(f"Column profile of a {args.rows:,}-row numeric column, drawn in Explore ({args.runs} runs)\n")
    print("| measure | median ms | max ms | goal |")
    print("|---|---|---|---|")
    for k in keys:
        goal = f"≤ {goals[k]} ms" if k in goals else ""
        print(f"| {k} | {summary[k]['median']} | {summary[k]['max']} | {goal} |")
    (BENCH / "results-column-profile.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
