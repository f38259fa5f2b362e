"""What the demo workload is made of: its tables, their primary keys and sizes at a scale."""

from __future__ import annotations

import math

TABLES: tuple[str, ...] = (
    "candidates",
    "clients",
    "job_orders",
    "placements",
    "timesheets",
    "call_log",
    "email_log",
)

BASE_ROWS: dict[str, int] = {
    "candidates": 100_000,
    "clients": 2_000,
    "job_orders": 15_000,
    "placements": 50_000,
    "timesheets": 1_000_000,
    "call_log": 800_000,
    "email_log": 500_000,
}
# Primary keys declared when the demo is ingested: the master-data tables people edit
# record by record. Keyed tables are kept in small files so an update rewrites little;
# the big append-mostly logs (timesheets, call_log, email_log) keep large files, which
# scan faster — an upsert with --key declares theirs when needed.
KEYS: dict[str, str] = {
    "candidates": "candidate_id", "clients": "client_id", "job_orders": "job_id",
    "placements": "placement_id",
}

# Floors that keep the foreign keys meaningful at tiny scales.
MIN_ROWS: dict[str, int] = {"candidates": 50, "clients": 20}

BASE_DOCS = 300
MIN_DOCS = 40

REFERENCE_DATE = "2025-06-29"  # a Sunday: the "today" of the workload


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def row_counts(scale: float = 1.0) -> dict[str, int]:
    """Row count of every table at ``scale`` (scale 1 = 2.47M rows)."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    return {t: max(MIN_ROWS.get(t, 1), _round(n * scale)) for t, n in BASE_ROWS.items()}


def doc_count(scale: float = 1.0) -> int:
    """Number of markdown documents at ``scale``."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    return BASE_DOCS if scale >= 1 else max(MIN_DOCS, _round(BASE_DOCS * scale))
