"""The Pareto front of trial points, and the one point worth promoting.

A point is one measured configuration: a graph (m, ef_construction) searched at one
ef_search, with its figures — recall (@k, against an eval set's exact truth), p50_us /
p95_us / p99_us (per-query search latency), build_s and index_bytes (the graph's, shared
by every ef_search of one build). Points are mappings (a trial's per-ef figures joined
with its build figures), so the functions here take what `_trials` rows and the autotune
loop hold alike. Pure and fast: no I/O, O(n log n).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

# what each objective minimises; the figure is a cost (lower is better)
OBJECTIVES: dict[str, str] = {
    "p50": "p50_us",  # median search latency
    "p95": "p95_us",  # tail search latency
    "build": "build_s",  # seconds to build the graph
    "memory": "index_bytes",  # the graph's size on disk, which is what a search holds in memory
}

SETTINGS = ("m", "ef_construction", "ef_search")

Point = Mapping[str, object]


def cost_of(objective: str) -> str:
    """The figure an objective minimises ("p50" -> "p50_us")."""
    try:
        return OBJECTIVES[objective]
    except KeyError:
        raise ValueError(f"unknown objective {objective!r} — one of {', '.join(OBJECTIVES)}") from None


def settings(p: Point) -> tuple:
    """A point's configuration, (m, ef_construction, ef_search): the last tie-break, so an
    order never depends on the order the points came in."""
    return tuple(p.get(k) or 0 for k in SETTINGS)


def dominates(a: Point, b: Point, latency: str = "p50_us") -> bool:
    """a is at least as good as b on recall and on the cost, and better on one."""
    ra, rb, ca, cb = a["recall"], b["recall"], a[latency], b[latency]
    return ra >= rb and ca <= cb and (ra > rb or ca < cb)


def pareto_front(points: Iterable[Point], latency: str = "p50_us") -> list[Point]:
    """The points no other point dominates (highest recall, lowest `latency` — any cost
    figure), cheapest first.

    Ties: points equal on both recall and the cost dominate none of each other, so all of
    them are on the front; the order — cost, then recall (highest first), then the
    settings — is the same whatever order the points came in.
    """
    ordered = sorted(points, key=lambda p: (p[latency], -p["recall"], settings(p)))
    front: list[Point] = []
    best_recall = float("-inf")  # the highest recall among strictly cheaper points
    i = 0
    while i < len(ordered):
        cost, top = ordered[i][latency], ordered[i]["recall"]  # the group's highest recall
        j = i
        while j < len(ordered) and ordered[j][latency] == cost:
            j += 1
        # a cheaper point with the same recall dominates the whole group
        if top > best_recall:
            front.extend(p for p in ordered[i:j] if p["recall"] == top)
            best_recall = top
        i = j
    return front


def best(points: Sequence[Point], objective: str, min_recall: float) -> Point | None:
    """The point to promote: the lowest cost by `objective` among the points at or above
    `min_recall` (never one below it), or None when no point reaches it.

    Ties on the cost go to the higher recall (so the point is on the front), then the lower
    p50 latency (many points of one build share its build_s and index_bytes), then the
    settings.
    """
    figure = cost_of(objective)
    eligible = [p for p in points if p["recall"] >= min_recall]
    if not eligible:
        return None
    return min(eligible, key=lambda p: (p[figure], -p["recall"], p["p50_us"], settings(p)))
