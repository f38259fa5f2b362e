"""What the parts of the vector layer share: where they work, for whom, and a few helpers.

The registry, builder and searcher each hold one VectorContext rather than each other,
so swapping the reader (`profile`) or the loaded-generation cache reaches all of them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from core import access
from core.errors import Hint, VectorError
from core.storage.locks import try_lock
from core.names import check_index_name, quote_ident
from core.vectors import store
from core.vectors.cache import VectorCache

# the settings that make two generations' vectors interchangeable
SETTINGS = ("provider", "model", "digest", "dim", "chunk_size", "overlap")


class VectorContext:
    def __init__(self, root: Path, cfg, catalog, engine_fn, jobs, profile=None):
        self.root, self.cfg, self.catalog, self.engine_fn, self.jobs = root, cfg, catalog, engine_fn, jobs
        self.profile = profile  # the reader: only its indexes over its datasets exist for it
        self.cache = VectorCache(cfg.get("vectors.cache_mb") * 1024 * 1024)

    @property
    def engine(self):
        return self.engine_fn()  # late: the facade may swap its engine (profile activation)

    def visible(self, idx: dict) -> bool:
        return access.sees_index(self.profile, idx)

    @contextmanager
    def index_lock(self, name: str):
        """One writer per index (build, rebuild, drop), across processes."""
        d = store.index_dir(self.root, name)
        d.mkdir(parents=True, exist_ok=True)
        fd = try_lock(d / ".lock", 0o644)
        if fd is None:
            raise VectorError(f"index {name!r} is being built or changed by another job",
                              hint=Hint("wait for it, or cancel it", "cancel_job", {"job_id": "ID"}))
        try:
            yield
        finally:
            os.close(fd)


def key_expr(columns: list[str], text_columns: set[str] = frozenset()) -> str:
    """SQL for a row's key as text: one column as is, several joined by '/'. A text
    key is used bare, so DuckDB can prune row groups by its min/max statistics."""
    if len(columns) == 1 and columns[0] in text_columns:
        return quote_ident(columns[0])
    parts = [f"CAST({quote_ident(c)} AS VARCHAR)" for c in columns]
    return parts[0] if len(parts) == 1 else "concat_ws('/', " + ", ".join(parts) + ")"


def parse_selector(selector: str) -> tuple[str, int | None]:
    """'resumes' -> (resumes, None); 'resumes@g2' or 'resumes@2' -> (resumes, 2)."""
    name, sep, gen = selector.partition("@")
    check_index_name(name)
    if not sep:
        return name, None
    g = gen.strip().lower().removeprefix("g")
    if not g.isdigit():
        raise VectorError(f"{selector!r} does not name a generation — write INDEX@gN, e.g. {name}@g2")
    return name, int(g)


def figures(meta: dict) -> dict:
    """The catalog fields a finished generation records, from its meta."""
    out = {k: meta[k] for k in ("rows", "chunks", "embedded", "reused", "split_inputs", "build_seconds")
           if k in meta}
    out["bytes"] = sum(f["bytes"] for f in meta.get("files", {}).values())
    return out
