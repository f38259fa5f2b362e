"""The daemon: what a warm shared process buys a script.

1. `lakehouse --remote sql "select 1"`: process wall time against a running daemon,
   and the same command in-process; the client's import cost broken down (target
   <= 60 ms warm; the client must import neither duckdb nor pyarrow).
2. The round trip of one JSON-RPC call from a standard-library client (target <= 5 ms).
3. Requests per second for a small query with 1, 8 and 32 concurrent clients on the
   Unix socket (target >= 1,000 req/s at 8 clients).
4. Memory (RSS) of an idle daemon serving the demo, before and after it has loaded the
   tables and the `resumes` index.

    .venv/bin/python bench/daemon.py [--home bench/data/home]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
EXE = str(Path(sys.executable).parent / "lakehouse")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.n = 0

    def call(self, method: str, params: dict):
        self.n += 1
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": self.n, "method": method, "params": params}).encode() + b"\n")
        while True:
            msg = json.loads(self.file.readline())
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(msg["error"]["message"])
                return msg["result"]


def wall(argv: list[str], env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def imports(env: dict, sock: str) -> dict:
    """What the --remote client process spends its time on (python -X importtime)."""
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "app", "--remote", sock, "sql", "select 1"],
                       env=env, capture_output=True, text=True)
    top = {}
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cum, name = line.split("|")
        if not name.startswith("  "):  # a top-level import
            top[name.strip()] = int(cum) / 1000
    code = (f"import sys; sys.argv=['lakehouse','--remote',{sock!r},'sql','select 1']\n"
            "from app.cli import main\ntry: main()\nexcept SystemExit: pass\n"
            "print([m for m in ('duckdb','pyarrow','numpy','hnswlib','deltalake') if m in sys.modules])")
    mods = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    biggest = dict(sorted(top.items(), key=lambda kv: -kv[1])[:6])
    return {"top_level_imports_ms": {k: round(v, 1) for k, v in biggest.items()}, "heavy_modules_loaded": mods}


def throughput(path: str, clients: int, seconds: float = 3.0) -> float:
    stop = time.perf_counter() + seconds
    counts = [0] * clients

    def run(i: int) -> None:
        c = Client(path)
        while time.perf_counter() < stop:
            c.call("sql_rows", {"text": "select 1"})
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default=str(BENCH / "data" / "home"))
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    sock = os.path.join(tempfile.mkdtemp(prefix="lhb"), "d.sock")
    env = {**os.environ, "LAKEHOUSE_HOME": args.home, "OLLAMA_HOST": "127.0.0.1:9"}
    daemon = subprocess.Popen([EXE, "serve", "--socket", sock], env=env, stderr=subprocess.DEVNULL)
    out: dict = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"}
    try:
        while not os.path.exists(sock):
            time.sleep(0.05)
        time.sleep(0.3)
        c = Client(sock)
        c.call("ping", {})
        out["idle_rss_mb_at_start"] = round(rss_mb(daemon.pid), 1)
        for q in ("select count(*) from candidates", "select count(*) from placements", "select count(*) from timesheets"):
            c.call("sql_rows", {"text": q})
        try:
            c.call("search", {"index": "resumes", "text": "kubernetes migration", "k": 10})
        except RuntimeError as e:
            out["search_note"] = str(e)
        time.sleep(1)
        out["idle_rss_mb_demo_loaded"] = round(rss_mb(daemon.pid), 1)

        remote = [EXE, "--remote", sock, "sql", "select 1"]
        wall(remote, env, 2)
        out["cli_remote_select1_ms"] = round(wall(remote, env, args.runs), 1)
        out["cli_in_process_select1_ms"] = round(wall([EXE, "sql", "select 1"], env, max(3, args.runs // 3)), 1)
        out["python_startup_ms"] = round(wall([sys.executable, "-c", "pass"], env, args.runs), 1)
        out["python_import_typer_ms"] = round(wall([sys.executable, "-c", "import typer"], env, args.runs), 1)
        out["python_import_typer_rich_table_ms"] = round(
            wall([sys.executable, "-c", "import typer, rich.console, rich.table"], env, args.runs), 1)
        out["client_imports"] = imports(env, sock)

        for method, params in (("ping", {}), ("sql_rows", {"text": "select 1"})):
            times = []
            for _ in range(2000):
                t = time.perf_counter()
                c.call(method, params)
                times.append((time.perf_counter() - t) * 1e6)
            out[f"rpc_{method}_us_p50"] = round(statistics.median(times), 1)
            out[f"rpc_{method}_us_p99"] = round(sorted(times)[int(len(times) * 0.99)], 1)
        for n in (1, 8, 32):
            out[f"req_per_s_{n}_clients"] = round(throughput(sock, n))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    print(json.dumps(out, indent=2))
    (BENCH / "results-daemon.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
