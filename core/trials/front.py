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

    Ties: of points equal on both recall and the cost (none dominates another) the front
    keeps one, the cheapest on the other figures (`tie_break`), so each trade-off appears
    once and the result is the same whatever order the points came in.
    """
    ordered = sorted(points, key=lambda p: (p[latency], -p["recall"], tie_break(p)))
    front: list[Point] = []
    for p in ordered:  # cheapest first, the highest recall first within a cost
        if not front or p["recall"] > front[-1]["recall"]:  # more recall than every cheaper point
            front.append(p)
    return front


def tie_break(p: Point) -> tuple:
    """Among points equal on recall and cost: the lower latency, build time and size, then
    the settings (missing figures count as 0)."""
    return tuple(p.get(k) or 0 for k in ("p50_us", "p95_us", "build_s", "index_bytes")) + settings(p)


def best(points: Sequence[Point], objective: str, min_recall: float) -> Point | None:
    """The point to promote: the lowest cost by `objective` among the points at or above
    `min_recall` (never one below it), or None when no point reaches it.

    Ties on the cost go to the higher recall (so the point is on the front), then
    `tie_break` (many points of one build share its build_s and index_bytes).
    """
    figure = cost_of(objective)
    eligible = [p for p in points if p["recall"] >= min_recall]
    if not eligible:
        return None
    return min(eligible, key=lambda p: (p[figure], -p["recall"], tie_break(p)))
