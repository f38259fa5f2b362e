"""The workstation's start: time to the first frame, with the import cost broken down.

A headless run of the real app that exits as soon as its first frame is drawn:
`first_frame_ms` is process start (interpreter start-up included, measured as the
wall time of the whole process minus nothing) to that frame. The facade and the
heavy libraries load in a worker after it. Target: <= 600 ms.

    .venv/bin/python bench/tui.py [--runs 10] [--home bench/data/home]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--home", default=str(BENCH / "data" / "home"))
    args = ap.parse_args()
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
    (BENCH / "results-tui.json").write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
