#!/usr/bin/env python
"""Watched-folder benchmark (issue 18): how long after a file is complete its rows can be
queried, and how long until an index over its text serves them.

    .venv/bin/python bench/watch.py [--files 20] [--rows 500] [--settle 2.0] [--daemon]

A storage root in a temp dir with `[watch] settle_s = --settle`; a watch on an empty
folder (dataset `drops`, upsert on `id`); one seed file ingested through it and an index
over its `body` column built with the hashing embedder (auto-refresh on, the default).
Then --files files of --rows rows are dropped one after another (written and closed; the
clock starts at the close), each waited for before the next: "rows" is the time until
`SELECT count(*)` over the new ids sees them all (through a second facade, as a reader
would), "index" the time until the index's active generation covers the dataset's version
(`stale` false). The runner is a LiveRunner in this process, or with --daemon a
`lakehouse serve` child (the reader polls through its own in-process facade either way).
Prints a markdown report and writes the figures to bench/results-watch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results-watch.json"
sys.path[:0] = [str(ROOT), str(BENCH)]

from vectors import PLACES, ROLES, SKILLS, machine, md_table  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def body(i: int) -> str:
    return (f"{ROLES[i % len(ROLES)]} in {PLACES[i % len(PLACES)]} with {SKILLS[i % len(SKILLS)]} and "
            f"{SKILLS[(i * 7) % len(SKILLS)]}, entry {i}")


def write(path: Path, start: int, n: int) -> float:
    """Write a CSV of ids start..start+n and close it; the monotonic time of the close."""
    with open(path, "w") as f:
        f.write("id,body\n")
        f.writelines(f"{i},\"{body(i)}\"\n" for i in range(start, start + n))
    return time.monotonic()


def wait(cond, timeout: float = 300.0, poll: float = 0.01) -> float:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit("timed out: the watch did not get there")
        time.sleep(poll)
    return time.monotonic()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--daemon", action="store_true", help="run the watches in a `lakehouse serve` child")
    args = ap.parse_args()
    from core import Lakehouse
    from core.live.runner import LiveRunner

    tmp = Path(tempfile.mkdtemp(prefix="lh-bench-watch-"))
    home, inbox = tmp / "home", tmp / "inbox"
    home.mkdir()
    inbox.mkdir()
    (home / "lakehouse.toml").write_text(f"[watch]\nsettle_s = {args.settle}\nrefresh_s = 5.0\n")
    lh = Lakehouse.open(home=home)
    lh.watch_add(str(inbox), name="drops", mode="upsert", key="id")
    runner, daemon = None, None
    if args.daemon:
        env = {**os.environ, "LAKEHOUSE_HOME": str(home)}
        daemon = subprocess.Popen([str(Path(sys.executable).parent / "lakehouse"), "serve", "--socket",
                                   str(tmp / "d.sock")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait(lambda: (lh.watch_runner()["pid"] or 0) == daemon.pid, 60)
    else:
        runner = LiveRunner(lh.config)
        assert runner.start()
    try:
        count = lambda lo, hi: lh.sql(f"SELECT count(*) AS n FROM drops WHERE id >= {lo} AND id < {hi}"
                                      ).column("n")[0].as_py()
        has = lambda: any(d.name == "drops" for d in lh.datasets())
        write(inbox / "seed.csv", 0, args.rows)
        wait(lambda: has() and count(0, args.rows) == args.rows)
        t = time.monotonic()
        lh.embed("drops", "body", index="drops_body", key="id", embedder="hashing")
        log(f"seed: {args.rows} rows, index built in {time.monotonic() - t:.2f} s")
        to_rows, to_index = [], []
        for k in range(1, args.files + 1):
            lo = k * args.rows
            closed = write(inbox / f"drop_{k:02d}.csv", lo, args.rows)
            seen = wait(lambda: count(lo, lo + args.rows) == args.rows)
            live = wait(lambda: not lh.index("drops_body").stale)
            to_rows.append(seen - closed)
            to_index.append(live - closed)
            log(f"file {k:2d}: rows {to_rows[-1]:.3f} s, index {to_index[-1]:.3f} s")
        hits = lh.search("drops_body", body(args.files * args.rows + 3), 1).hits
        assert hits and hits[0].row_key == str(args.files * args.rows + 3), "the last file's rows are not searchable"
        gens = len(lh.index("drops_body").generations)
    finally:
        if runner is not None:
            runner.stop()
        if daemon is not None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
        lh.close()
        shutil.rmtree(tmp, ignore_errors=True)
    p50 = lambda xs: round(statistics.median(xs), 3)
    fig = {"files": args.files, "rows_per_file": args.rows, "settle_s": args.settle,
           "runner": "daemon" if args.daemon else "in-process",
           "rows_p50_s": p50(to_rows), "rows_max_s": round(max(to_rows), 3),
           "index_p50_s": p50(to_index), "index_max_s": round(max(to_index), 3),
           "rows_minus_settle_p50_s": round(p50(to_rows) - args.settle, 3), "generations_kept": gens,
           "to_rows_s": [round(x, 3) for x in to_rows], "to_index_s": [round(x, 3) for x in to_index],
           "machine": machine(), "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "load": os.getloadavg()}
    runs = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    runs.append(fig)
    RESULTS.write_text(json.dumps(runs, indent=1) + "\n")
    print(f"### Watched folder: {args.files} files × {args.rows} rows, settle {args.settle:g} s, runner "
          f"{fig['runner']}\n")
    print(md_table(["from the file's close to", "p50 s", "max s"],
                   [["rows queryable", fig["rows_p50_s"], fig["rows_max_s"]],
                    ["index generation live", fig["index_p50_s"], fig["index_max_s"]]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
