"""Trials: eval sets (`eval create`, `eval list`), one measured HNSW configuration
(`trial INDEX`), the trials of an index (`trials INDEX`), promoting one (`trial promote ID`)
and the autotune that runs trials and promotes the winner (`autotune INDEX`)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from app.cli.options import INDEX, LIST_FORMAT, ListFormat
from app.cli.progress import run_job
from app.cli.session import open_lh, with_lh
from app.output import say as print  # noqa: A001 — every message prints inert

group = typer.Typer(help="Eval sets: fixed queries with their exact top-k, the yardstick of trials.",
                    rich_markup_mode=None)


@group.command("create")
def eval_create(
    index: str = INDEX,
    queries: Optional[int] = typer.Option(None, "--queries", help="How many of the index's vectors to hold out as "
                                          "queries (default 200; at most a tenth of them)."),
    from_file: Optional[Path] = typer.Option(None, "--from", help="A text file of questions, one per line, "
                                             "embedded with the index's embedder (instead of sampling)."),
    k: int = typer.Option(10, "--k", "-k", help="Neighbours per query in the truth (recall@k)."),
    name: Optional[str] = typer.Option(None, "--name", help="Its name (default e1, e2, ...)."),
    format: ListFormat = LIST_FORMAT,
):
    """Make an eval set for an index: queries and their exact top-k over its stored vectors."""
    from app.output import dumps

    path = str(from_file.resolve()) if from_file is not None else None  # as the daemon sees it
    row = with_lh(lambda lh: lh.eval_create(index, queries, path, k, name))
    if format == ListFormat.json:
        print(dumps(row))
        return
    print(f"{index}: eval set {row['name']} — {row['queries']:,} {row['source']} queries, truth top-{row['k']} "
          f"by exact search over g{row['generation']} (dataset version {row['dataset_version']}, "
          f"{row['embedder']} {row['model']})")


@group.command("list")
def eval_list(index: str = INDEX, format: ListFormat = LIST_FORMAT):
    """The eval sets of an index; `usable` says why a trial would refuse one."""
    from app.output import print_records

    rows = with_lh(lambda lh: lh.evals(index))
    for r in rows:
        r["usable"] = "yes" if r["refused"] is None else r["refused"]
        r["created"] = (r["created_at"] or "")[:19].replace("T", " ")
    print_records(rows, ["name", "queries", "source", "k", "generation", "dataset_version", "embedder", "model",
                         "created", "usable"], format.value)


def _ef_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        print(f"error: --ef-search takes whole numbers separated by commas, e.g. 30,50,64,100 (got {text!r})",
              file=sys.stderr)
        raise typer.Exit(2)
    return values


def trial(
    args: List[str] = typer.Argument(..., help="INDEX to run a trial on, or: promote TRIAL_ID."),
    m: int = typer.Option(16, "--m", help="HNSW links per node (2-128)."),
    ef_construction: int = typer.Option(80, "--ef-construction", help="HNSW build beam (M-2000)."),
    ef_search: Optional[str] = typer.Option(None, "--ef-search", help="Search beams to measure, comma-separated "
                                            "(k-5000; default 30,50,64,100). With promote: the generation's "
                                            "(default: the trial's smallest with its best recall)."),
    eval_name: Optional[str] = typer.Option(None, "--eval", help="Eval set (default: the newest usable one)."),
    format: ListFormat = LIST_FORMAT,
):
    """Build an HNSW graph from an index's stored vectors and measure recall@k and latency per
    ef_search (`trial promote TRIAL_ID` makes a trial's graph the active generation)."""
    from app.output import dumps

    if len(args) == 2 and args[0] == "promote":
        ef = _ef_list(ef_search)[0] if ef_search else None
        info = with_lh(lambda lh: lh.trial_promote(args[1], ef))
        print(dumps(info.to_dict()) if format == ListFormat.json else
              f"{info.name}: g{info.active_gen} is active (made from trial {args[1]}) — "
              f"`lakehouse index rollback {info.name}` returns to the one before")
        return
    if len(args) != 1:
        print(f"error: trial takes INDEX, or promote TRIAL_ID (got {len(args)} arguments)", file=sys.stderr)
        raise typer.Exit(2)
    with open_lh() as lh:
        t = run_job(lh.trial, args[0], m, ef_construction, _ef_list(ef_search or "30,50,64,100"), eval_name)
    if format == ListFormat.json:
        print(dumps(t.to_dict()))
        return
    print_trials([t])


def trials(
    index: str = INDEX,
    best: bool = typer.Option(False, "--best", help="Only the trial with the highest recall (ties: lowest p50)."),
    pareto: bool = typer.Option(False, "--pareto", help="Only the points on the Pareto front of recall "
                                "against p50 latency."),
    format: ListFormat = LIST_FORMAT,
):
    """The trials of an index this profile ran: settings, eval set and figures per ef_search."""
    from app.output import dumps

    out = with_lh(lambda lh: lh.trials(index, best=best, pareto=pareto))
    if format == ListFormat.json:
        print(dumps([t.to_dict() for t in out]))
        return
    if not out:
        print(f"no trials of {index} yet — run one with `lakehouse trial {index}`", file=sys.stderr)
        return
    print_trials(out)


def print_trials(out: list) -> None:
    """One line per measured point (a failed or cancelled trial: one line with its status)."""
    from app.output import human_bytes, print_rows

    rows = []
    for t in out:
        common = [t.id, t.origin, f"g{t.generation}", t.eval_set, t.m, t.ef_construction]
        status = t.status + (f" → g{t.promoted_generation}" if t.promoted_generation is not None else "") + \
            (" · graph removed" if t.graph_removed else "")
        figures = [t.build_s, human_bytes(t.index_bytes) if t.index_bytes is not None else "-",
                   human_bytes(t.peak_mem_bytes) if t.peak_mem_bytes is not None else "-", status]
        if not t.points:
            rows.append(common + ["-", "-", "-", "-", "-"] + figures)
        for p in t.points:
            rows.append(common + [p["ef_search"], f"{p['recall']:.4f}", p["p50_us"], p["p95_us"], p["p99_us"]]
                        + figures)
    print_rows(["trial", "by", "gen", "eval", "M", "ef_c", "ef_s", f"recall@{out[0].k}", "p50_us", "p95_us", "p99_us",
                "build_s", "index", "peak_mem", "status"], rows)


class Objective(str, Enum):
    p50 = "p50"
    p95 = "p95"
    build = "build"
    memory = "memory"


def autotune(
    index: str = INDEX,
    budget: str = typer.Option("10m", "--budget", help="How long to explore, e.g. 10m, 90s, 1h."),
    min_recall: Optional[float] = typer.Option(None, "--min-recall", help="Never promote a configuration under "
                                               "this recall@k (default: the profile's, else [trials] min_recall)."),
    objective: Optional[Objective] = typer.Option(None, "--objective", help="What the promoted configuration lowers: "
                                                  "p50, p95, build or memory (default: the profile's, else [trials])."),
    eval_name: Optional[str] = typer.Option(None, "--eval", help="Eval set (default: the newest usable one)."),
    format: ListFormat = LIST_FORMAT,
):
    """Explore HNSW settings within a budget (a job) and promote the Pareto winner when it
    beats the active generation measured in the same run."""
    from app.output import dumps, human_bytes, print_rows

    out = with_lh(lambda lh: run_job(lh.autotune, index, budget, min_recall, objective and objective.value, eval_name))
    if format == ListFormat.json:
        print(dumps(out))
        return
    if out["front"]:
        print_rows(["trial", "M", "ef_c", "ef_s", "recall", "p50_us", "p95_us", "build_s", "index"],
                   [[p.get("trial_id", "-"), p["m"], p["ef_construction"], p["ef_search"], f"{p['recall']:.4f}",
                     p["p50_us"], p["p95_us"], p["build_s"], human_bytes(p["index_bytes"])] for p in out["front"]],
                   title=f"Pareto front: recall against {out['objective']}")
    failed = f", {len(out['failed'])} failed" if out["failed"] else ""
    print(f"{index}: {out['trials']} trials in {out['seconds']:.0f} s{failed}; {out['reason']}")
    if out["generation"] is not None:
        print(f"{index} g{out['generation']} is active — `lakehouse index rollback {index}` returns to the one before")
