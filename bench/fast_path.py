"""The remote fast path (issue 15): `lakehouse --remote S sql "select 1"` as a thin client.

Starts a real daemon (`lakehouse serve --socket S`) on a small root (one 3-row CSV),
then times, as process wall time (median of N after 3 warm-ups):

- `lakehouse --remote S sql "select 1"` with --format table, json and csv — the fast
  entry (app/fast.py), and the same with LAKEHOUSE_NO_FAST=1 (the full CLI: "before");
  and a table rich has to draw (a non-ASCII cell);
- `python -c pass` (the interpreter's floor) and `sqlite3 :memory: "select 1"` (a C CLI);
  `psql -c 'select 1'` too when a local PostgreSQL answers;
- the top `-X importtime` offenders of the fast json and table paths.

Bytecode is cached (PYTHONDONTWRITEBYTECODE is dropped, so the warm-ups write it).

Writes bench/results-fast-path.json. Goal: <= 80 ms median for the fast path.

    .venv/bin/python bench/fast_path.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
EXE = str(Path(sys.executable).parent / "lakehouse")


def answers(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def wall(argv: list[str], env: dict, runs: int, warm: int = 3) -> dict:
    times = []
    for i in range(warm + runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = (time.perf_counter() - t0) * 1000
        if p.returncode != 0:
            raise SystemExit(f"{argv} failed ({p.returncode}): {p.stderr.decode()}")
        if i >= warm:
            times.append(dt)
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1), "runs": runs}


def importtime(argv: list[str], env: dict, top: int = 8) -> list[dict]:
    """The slowest top-level imports (cumulative µs) of one run."""
    p = subprocess.run(argv, env={**env, "PYTHONPROFILEIMPORTTIME": "1"}, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    rows = []
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cum_us, name = line[len("import time:"):].split("|", 2)
        if name.startswith("  "):  # nested: counted in its parent's cumulative time
            continue
        rows.append({"module": name.strip(), "cumulative_ms": round(int(cum_us) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:top]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lh-fast-"))
    home, sock = tmp / "home", str(tmp / "d.sock")
    # PYTHONDONTWRITEBYTECODE off: the warm-up runs cache bytecode, as any installed package has it
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"LAKEHOUSE_HOME": str(home), "COLUMNS": "120"})
    (tmp / "people.csv").write_text("id,name,city\n1,Ann,Chicago\n2,Bob,Paris\n3,Cem,Oslo\n")
    subprocess.run([EXE, "ingest", str(tmp / "people.csv"), "--name", "people"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon = subprocess.Popen([EXE, "serve", "--socket", sock], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    out: dict = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}", "runs": args.runs,
                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        deadline = time.monotonic() + 60
        while not answers(sock):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the daemon did not start")
            time.sleep(0.05)
        slow = {**env, "LAKEHOUSE_NO_FAST": "1"}
        for fmt in ("table", "json", "csv"):
            argv = [EXE, "--remote", sock, "sql", "select 1", "--format", fmt]
            out[f"fast_{fmt}"] = wall(argv, env, args.runs)
            out[f"full_cli_{fmt}"] = wall(argv, slow, args.runs)
            print(fmt, "fast", out[f"fast_{fmt}"]["median_ms"], "full", out[f"full_cli_{fmt}"]["median_ms"],
                  flush=True)
        argv = [EXE, "--remote", sock, "sql", "select 'café' AS x"]  # not ASCII: rich draws the table
        out["fast_table_rich"] = wall(argv, env, args.runs)
        out["full_cli_table_rich"] = wall(argv, slow, args.runs)
        print("table (rich)", "fast", out["fast_table_rich"]["median_ms"], "full", out["full_cli_table_rich"]["median_ms"],
              flush=True)
        out["python_c_pass"] = wall([sys.executable, "-c", "pass"], env, args.runs)
        out["python_I_S_c_pass"] = wall([sys.executable, "-I", "-S", "-c", "pass"], env, args.runs)
        if shutil.which("sqlite3"):
            out["sqlite3_select_1"] = wall(["sqlite3", ":memory:", "select 1"], env, args.runs)
        if shutil.which("duckdb"):
            out["duckdb_cli_select_1"] = wall(["duckdb", "-c", "select 1"], env, args.runs)
        if shutil.which("psql") and subprocess.run(["psql", "-c", "select 1"], capture_output=True).returncode == 0:
            out["psql_select_1"] = wall(["psql", "-c", "select 1"], env, args.runs)
        out["importtime_fast_json"] = importtime([EXE, "--remote", sock, "sql", "select 1", "--format", "json"], env)
        out["importtime_fast_table"] = importtime([EXE, "--remote", sock, "sql", "select 1"], env)
        out["importtime_full_cli_json"] = importtime([EXE, "--remote", sock, "sql", "select 1", "--format", "json"],
                                                     slow)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        shutil.rmtree(tmp, ignore_errors=True)
    (BENCH / "results-fast-path.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
