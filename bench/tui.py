"""The workstation's start: time to the first frame, with the import cost broken down.

A headless run of the real app that exits as soon as its first frame is drawn:
`first_frame_ms` is process start (interpreter start-up included, measured as the
wall time of the whole process minus nothing) to that frame. The facade and the
heavy libraries load in a worker after it. Target: <= 600 ms. Then a 1M-row result
in the SQL pane, and Explore over 3,000 datasets (`explore_many`; the storage root
is built once into bench/data/explore-3000-home, ~90 s, and reused).

    .venv/bin/python bench/tui.py [--runs 10] [--home bench/data/home] [--explore-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

PROBE = """
import time, sys
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from app.tui import LakehouseApp
t_import = time.perf_counter()

class Probe(LakehouseApp):
    def on_mount(self):
        super().on_mount()
        self.call_after_refresh(lambda: self.exit((t_import - t0, time.perf_counter() - t0)))

print(Probe(home={home!r}).run(headless=True, size=(120, 40)))
"""


def million_rows(home: str, runs: int = 3) -> dict:
    """A 1M-row result in the SQL pane: time from the rows arriving (the worker hands
    them over) to the first screen of the table drawn."""
    import asyncio

    sys.path.insert(0, str(ROOT))
    from app.tui import LakehouseApp
    from panes.sql import SqlPane

    marks: dict = {}
    original = SqlPane._show

    async def timed_show(self, sql, table, total, elapsed):
        marks["arrived"] = time.perf_counter()
        marks["query_ms"] = elapsed * 1000
        await original(self, sql, table, total, elapsed)
        self.app.call_after_refresh(lambda: marks.setdefault("drawn", time.perf_counter()))
        marks["shown"], marks["total"] = table.num_rows, total

    SqlPane._show = timed_show
    first, query = [], []

    async def go():
        app = LakehouseApp(home=home, profile="default")
        async with app.run_test(size=(160, 50)) as pilot:
            while app.lh is None:
                await pilot.pause(0.05)
            await pilot.press("f3")
            for _ in range(runs):
                marks.clear()
                app.query_one("#sql-editor").text = "SELECT * FROM timesheets"
                await pilot.press("ctrl+j")
                while "drawn" not in marks:
                    await pilot.pause(0.01)
                first.append((marks["drawn"] - marks["arrived"]) * 1000)
                query.append(marks["query_ms"])
    asyncio.run(go())
    SqlPane._show = original
    return {"first_screen_ms": round(statistics.median(first), 1), "query_ms": round(statistics.median(query), 1),
            "rows_shown": marks["shown"], "rows_total": marks["total"], "runs": runs}


MANY = 3000  # datasets in the Explore case


def many_home(n: int = MANY) -> Path:
    """A storage root with `n` tiny datasets, ingested the normal way (Lakehouse.ingest of
    one directory of CSVs). Slow to build (minutes), so it is kept in bench/data/ and
    rebuilt only when it is missing or incomplete."""
    home = BENCH / "data" / f"explore-{n}-home"
    done = home / ".complete"
    if done.exists():
        return home
    import shutil

    sys.path.insert(0, str(ROOT))
    from core import Lakehouse

    shutil.rmtree(home, ignore_errors=True)
    src = BENCH / "data" / f"explore-{n}-csv"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for i in range(n):
        (src / f"ds_{i:05d}.csv").write_text(
            "id,name,amount\n" + "".join(f"{j},item {i}-{j},{(i * 7 + j) % 100}\n" for j in range(3)))
    t = time.perf_counter()
    with Lakehouse.open(home=home, profile="default") as lh:
        results = lh.ingest([str(src)], reason="bench: many datasets")
        assert sum(r.status == "ingested" for r in results) == n, [r.message for r in results if r.status != "ingested"][:3]
    print(f"built {n:,} datasets in {time.perf_counter() - t:.0f} s into {home}", file=sys.stderr)
    done.write_text(str(n))
    return home


def explore_many(runs: int = 5, n: int = MANY) -> dict:
    """Explore over `n` datasets. `fill_ms`: from rescope (a reload) to the tree filled
    with every dataset and drawn. `move_50_ms`: the cursor moved 50 rows down, one key
    at a time, each sent as soon as the tree has handled the previous one (a held-down
    key, as fast as the app takes it), until the detail (schema, versions, sample) of
    the row it stops on is shown; `settle_ms` is the part after the last key, and
    `max_lag_ms` the longest the event loop was busy meanwhile (what makes keys stutter).
    `wrong_detail`: runs where, 10 s after the last key, the detail still showed another
    row than the one under the cursor (a late answer for a row passed on the way)."""
    import asyncio

    sys.path.insert(0, str(ROOT))
    from textual import events

    from app.tui import LakehouseApp
    from panes.explore import ExplorePane

    home = str(many_home(n))
    fills, moves, settles, lags = [], [], [], []
    wrong = 0

    async def go():
        nonlocal wrong
        app = LakehouseApp(home=home, profile="default")
        async with app.run_test(size=(160, 50)) as pilot:
            while app.lh is None:
                await pilot.pause(0.05)
            await pilot.press("f2")
            pane = app.query_one(ExplorePane)
            tree = app.query_one("#explore-tree")
            info = app.query_one("#explore-info")

            def filled() -> bool:
                kids = tree.root.children
                return bool(kids) and str(kids[0].label) == f"datasets ({n})"

            def shows(name: str) -> bool:
                text = str(info.render())
                return text.startswith(name) and "columns:" in text

            while not filled():
                await pilot.pause(0.05)
            for _ in range(runs):
                tree.clear()
                await pilot.pause(0.3)
                drawn: dict = {}
                t = time.perf_counter()
                pane.rescope()
                while not filled():
                    await asyncio.sleep(0.002)
                app.call_after_refresh(_mark, drawn)
                while "t" not in drawn:
                    await asyncio.sleep(0.002)
                fills.append((drawn["t"] - t) * 1000)
                await pilot.pause(0.5)
                tree.focus()
                tree.move_cursor(tree.root.children[0].children[0])
                while not shows("ds_00000"):
                    await pilot.pause(0.01)
                await pilot.pause(0.5)
                lag = {"max": 0.0, "on": True}
                tick = asyncio.create_task(_ticker(lag))
                t = time.perf_counter()
                for _ in range(50):
                    line = tree.cursor_line
                    app._driver.send_message(events.Key("down", None))
                    while tree.cursor_line == line:
                        await asyncio.sleep(0.001)
                last = time.perf_counter()
                while not shows(f"ds_{50:05d}") and time.perf_counter() - last < 10:
                    await asyncio.sleep(0.002)
                done = time.perf_counter()
                lag["on"] = False
                await tick
                lags.append(lag["max"] * 1000)
                if not shows(f"ds_{50:05d}"):
                    wrong += 1
                    continue
                moves.append((done - t) * 1000)
                settles.append((done - last) * 1000)
                await pilot.pause(0.5)
    asyncio.run(go())
    def med(xs):
        return round(statistics.median(xs), 1) if xs else None
    return {"datasets": n, "runs": runs, "fill_ms": med(fills), "move_50_ms": med(moves),
            "settle_ms": med(settles), "max_lag_ms": med(lags), "wrong_detail": wrong}


def _mark(marks: dict) -> None:
    marks.setdefault("t", time.perf_counter())


async def _ticker(lag: dict) -> None:
    """How late a 5 ms sleep wakes while lag['on']: the event loop's longest stall."""
    import asyncio

    while lag["on"]:
        t0 = time.perf_counter()
        await asyncio.sleep(0.005)
        lag["max"] = max(lag["max"], time.perf_counter() - t0 - 0.005)


def _print_explore(e: dict) -> None:
    print(f"Explore with {e['datasets']:,} datasets: tree filled {e['fill_ms']} ms after rescope; 50 rows down "
          f"with the detail shown {e['move_50_ms']} ms ({e['settle_ms']} ms after the last key; event loop "
          f"busy at most {e['max_lag_ms']} ms at a time); wrong detail in {e['wrong_detail']} of {e['runs']} runs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--home", default=str(BENCH / "data" / "home"))
    ap.add_argument("--explore-only", action="store_true",
                    help="only the Explore case; its figures replace those in results-tui.json")
    args = ap.parse_args()
    if args.explore_only:
        out = BENCH / "results-tui.json"
        res = json.loads(out.read_text()) if out.exists() else {}
        res["explore_many"] = e = explore_many()
        _print_explore(e)
        out.write_text(json.dumps(res, indent=2))
        return 0
    code = PROBE.format(root=str(ROOT), home=args.home)
    walls, imports, frames, bare = [], [], [], []
    for i in range(args.runs + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        wall = (time.perf_counter() - t) * 1000
        imp, frame = eval(out.stdout.strip().splitlines()[-1])
        if i:  # the first run warms the OS caches
            walls.append(wall)
            imports.append(imp * 1000)
            frames.append(frame * 1000)
    interp = statistics.median(bare)
    res = {"runs": args.runs, "python_startup_ms": round(interp, 1),
           "import_app_tui_ms": round(statistics.median(imports), 1),
           "first_frame_in_process_ms": round(statistics.median(frames), 1),
           "first_frame_ms": round(interp + statistics.median(frames), 1),
           "process_wall_ms": round(statistics.median(walls), 1)}
    top = subprocess.run([sys.executable, "-X", "importtime", "-c", "import app.tui"], capture_output=True,
                         text=True, cwd=ROOT).stderr.splitlines()
    rows = []
    for ln in top[1:]:  # the modules app.tui imports directly (one level of indentation under it)
        parts = ln.split("|")
        if len(parts) == 3 and parts[2].startswith("   ") and not parts[2].startswith("     "):
            rows.append((int(parts[1]), parts[2].strip()))
    res["import_top"] = [{"module": m, "cumulative_ms": round(us / 1000, 1)} for us, m in sorted(rows, reverse=True)[:8]]
    heavy = [m for m in ("duckdb", "pyarrow", "hnswlib", "ollama", "deltalake") if any(
        ln.split("|")[-1].strip() == m for ln in top[1:])]
    res["heavy_imported_before_first_frame"] = heavy
    print(f"python start-up {res['python_startup_ms']} ms; import app.tui {res['import_app_tui_ms']} ms; "
          f"first frame {res['first_frame_ms']} ms after process start (target <= 600 ms; "
          f"in-process {res['first_frame_in_process_ms']} ms); whole process incl. exit {res['process_wall_ms']} ms")
    print("heavy libraries imported before the first frame:", ", ".join(heavy) or "none")
    print("| imported by app.tui | cumulative ms |\n|---|---|")
    for r in res["import_top"]:
        print(f"| {r['module']} | {r['cumulative_ms']} |")
    res["million_rows"] = million_rows(args.home)
    m = res["million_rows"]
    print(f"1M-row result (SELECT * FROM timesheets): query {m['query_ms']} ms; first screen "
          f"{m['first_screen_ms']} ms after the rows arrived (target <= 200 ms); {m['rows_shown']:,} rows held "
          f"of {m['rows_total']:,}")
    res["explore_many"] = explore_many()
    _print_explore(res["explore_many"])
    (BENCH / "results-tui.json").write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
