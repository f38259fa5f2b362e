"""Profile switch time and audit overhead on the demo.

- Switch: `Lakehouse.activate(P)` followed by the first search against one of P's
  indexes, in one process (as the TUI and the daemon do), for two profiles in turn;
  next to the first search of a process that did not activate (which loads the index).
- Audit overhead: `Lakehouse.sql("select 1")` p50 with the audit log recording, and
  with recording switched off, interleaved (target: <= 5% more).

    .venv/bin/python bench/profiles.py [--home bench/data/home] [--runs 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

PROFILES = """
[profiles.staffing-recruiter]
datasets = ["candidates", "placements", "timesheets"]
indexes = ["resumes"]

[profiles.docs-assistant]
datasets = ["documents"]
indexes = ["docs"]
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default=str(BENCH / "data" / "home"))
    ap.add_argument("--runs", type=int, default=300)
    args = ap.parse_args()
    from core import Lakehouse

    cfg = Path(tempfile.mkdtemp()) / "lakehouse.toml"
    cfg.write_text(PROFILES)
    with Lakehouse.open(home=args.home, config_file=cfg, profile="default") as lh:
        if not lh.datasets():
            lh.demo()
        names = {i.name for i in lh.indexes()}
        if "resumes" not in names:
            lh.embed("candidates", "resume_text", index="resumes")
        if "docs" not in names:
            lh.embed("documents", "text", index="docs", embedder="hashing")
    out: dict = {}
    with Lakehouse.open(home=args.home, config_file=cfg, profile="default") as lh:
        t0 = time.perf_counter()
        r = lh.search("resumes", "someone who could handle our Kubernetes migration")
        out["cold_first_search_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        out["cold_load_ms"] = r.timings_ms.get("load_ms")
    with Lakehouse.open(home=args.home, config_file=cfg, profile="default") as lh:
        for pid, index, q in [("staffing-recruiter", "resumes", "Kubernetes migration"),
                              ("docs-assistant", "docs", "timesheet policy"),
                              ("staffing-recruiter", "resumes", "forklift operator")]:
            t0 = time.perf_counter()
            act = lh.activate(pid)
            t1 = time.perf_counter()
            res = lh.search(index, q)
            t2 = time.perf_counter()
            out.setdefault("switches", []).append({
                "profile": pid, "activate_ms": round((t1 - t0) * 1000, 2),
                "first_search_ms": round((t2 - t1) * 1000, 2), "first_search_loaded": "load_ms" in res.timings_ms,
                "switch_to_first_result_ms": round((t2 - t0) * 1000, 2), "steps": act["steps"]})
        lh.activate("default")
        on, off = [], []
        record = lh.audit_log.record
        for i in range(args.runs + 20):
            for mode in ("on", "off"):
                lh.audit_log.record = record if mode == "on" else (lambda *a, **k: None)
                t0 = time.perf_counter()
                lh.sql("select 1")
                dt = (time.perf_counter() - t0) * 1000
                if i >= 20:
                    (on if mode == "on" else off).append(dt)
        lh.audit_log.record = record
        out["select1_audit_on_p50_ms"] = round(statistics.median(on), 4)
        out["select1_audit_off_p50_ms"] = round(statistics.median(off), 4)
        out["audit_overhead_pct"] = round((statistics.median(on) / statistics.median(off) - 1) * 100, 2)
    print(f"cold first search (no activation): {out['cold_first_search_ms']} ms, of which loading the index "
          f"{out['cold_load_ms']} ms")
    print("| switch to | activate ms | first search ms | loaded at first search? | switch → first result ms |")
    print("|---|---|---|---|---|")
    for s in out["switches"]:
        print(f"| {s['profile']} | {s['activate_ms']} | {s['first_search_ms']} | {s['first_search_loaded']} | "
              f"{s['switch_to_first_result_ms']} |")
    print(f"\nselect 1 p50: audit on {out['select1_audit_on_p50_ms']} ms, off {out['select1_audit_off_p50_ms']} ms "
          f"-> {out['audit_overhead_pct']}% (target <= 5%)")
    (BENCH / "results-profiles.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
