"""Ask pipeline overhead, excluding model time, on the demo data.

The Ollama API stand-in from tests/ answers instantly with scripted replies, so what
is left is ours: routing, the schema prompt, the SQL gate, running the query,
retrieval, prompt building and recording the ask. `pipeline_ms` is each AskResult's
total minus the time spent inside model calls (HTTP round trips to the stand-in
included in the latter). Target: <= 50 ms p50.

    .venv/bin/python bench/ask.py [--home bench/data/home] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default=str(BENCH / "data" / "home"))
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    from ollama_stub import OllamaStub

    from core import Lakehouse

    with OllamaStub() as stub:
        os.environ["OLLAMA_HOST"] = stub.url
        lh = Lakehouse.open(home=args.home)
        if not lh.datasets():
            print("loading the demo (scale 1) …", file=sys.stderr)
            lh.demo()
        if "resumes" not in {i.name for i in lh.indexes()}:
            print("building the resumes index …", file=sys.stderr)
            lh.embed("candidates", "resume_text", index="resumes")
        sql = "SELECT state, count(*) AS n FROM candidates GROUP BY state ORDER BY n DESC LIMIT 5"
        cases = {
            "sql": ("How many candidates are there per state?", "sql",
                    [json.dumps({"sql": sql, "reason": "count"}), "Texas leads."]),
            "rag": ("who could handle our Kubernetes migration?", "rag",
                    ["A site reliability engineer in Chicago [1]."]),
            "hybrid": ("which candidates by state have experience with Kubernetes?", "auto",
                       [json.dumps({"where": "state = 'IL'"}), "An Illinois SRE [1]."]),
        }
        results = {}
        for name, (question, mode, replies) in cases.items():
            pipeline, total = [], []
            for i in range(args.runs + 3):
                stub.chat_replies = list(replies)
                r = lh.ask(question, mode=mode)
                if i >= 3:  # warm: the schema prompt is cached per catalog generation, the index loaded
                    pipeline.append(r.timings_ms["pipeline_ms"])
                    total.append(r.timings_ms["total_ms"])
            results[name] = {"mode": r.mode, "outcome": r.outcome, "runs": args.runs,
                             "pipeline_p50_ms": round(statistics.median(pipeline), 2),
                             "pipeline_p99_ms": round(pct(pipeline, 99), 2),
                             "total_p50_ms": round(statistics.median(total), 2),
                             "phases_last": r.timings_ms}
        lh.close()
    print("| ask | mode | pipeline p50 ms | p99 ms | total p50 ms (with stand-in round trips) | target |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        ok = "met" if r["pipeline_p50_ms"] <= 50 else "**missed**"
        print(f"| {name} | {r['mode']} ({r['outcome']}) | {r['pipeline_p50_ms']} | {r['pipeline_p99_ms']} | "
              f"{r['total_p50_ms']} | ≤ 50 ms p50: {ok} |")
    out = BENCH / "results-ask.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures written to {out.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
