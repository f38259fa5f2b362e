"""Deterministic generator of the reference staffing-company workload.

``generate(out_dir, scale)`` writes seven Parquet tables (candidates, clients,
job_orders, placements, timesheets, call_log, email_log) and a folder of
markdown documents.  Everything is a pure function of ``scale``: the tables
are built in DuckDB SQL from ``range()`` with pseudo-random values derived
from ``hash(row_number, salt)`` (no ``random()``), written in id order, so the
same scale yields byte-identical files on every run.  The documents come from
per-document seeded ``random.Random`` instances.

The package: workload.py (tables, keys, sizes), samples.py (the sample data in data/),
macros.py, tables.py and copies.py (the SQL), documents.py, generator.py (``generate``).
Importing it is deliberately cheap: duckdb is imported inside ``generate``.
"""

from core.demo.generator import generate
from core.demo.workload import KEYS, TABLES, doc_count, row_counts

__all__ = ["KEYS", "TABLES", "doc_count", "generate", "row_counts"]
