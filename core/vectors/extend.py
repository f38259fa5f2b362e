"""A refresh that only appends: the base generation's HNSW graph is extended, not rebuilt.

When every chunk of the base generation is still there (rows were only added) and the
graph settings are unchanged, the new generation lists the base's chunks first, in the
base's order, then the new ones — so the base graph's labels (its row numbers) still name
the same chunks, and only the new vectors are inserted. HNSW is built by insertion, so the
graph is one a full build could have made; a watched folder's small file then costs its
own vectors, not the whole index. Anything else (a chunk changed or removed, other
settings, a base graph that fails its checksum) builds the graph from scratch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from core.vectors import store


def append_order(base_ids: list[str], chunk_ids: list[str]) -> list[int] | None:
    """Positions into `chunk_ids` putting the base's chunks first (in the base's order)
    and the new ones after; None unless every base chunk is still there and some are new."""
    pos = {cid: i for i, cid in enumerate(chunk_ids)}
    if not base_ids or len(base_ids) >= len(chunk_ids) or any(c not in pos for c in base_ids):
        return None
    base = set(base_ids)
    return [pos[c] for c in base_ids] + [i for i, c in enumerate(chunk_ids) if c not in base]


def reorder(chunks: dict, order: list[int]) -> dict:
    return {k: [v[i] for i in order] for k, v in chunks.items()}


def extended_graph(base_dir: Path, label: str, n_base: int, normalised: np.ndarray, ef_search: int,
                   progress: Callable[[int, int], None]):
    """The base generation's graph with vectors[n_base:] inserted, or None when that graph
    cannot be used (missing, corrupt, not of n_base vectors)."""
    from core.vectors.ann import HnswIndex

    try:
        meta = store.read_meta(base_dir, label)
        if store.verify(base_dir, meta, label, names=(store.HNSW,)) or store.HNSW not in meta.get("files", {}):
            return None
        graph = HnswIndex.load(str(base_dir / store.HNSW), normalised.shape[1], ef_search)
    except Exception:  # the full build below is always possible
        return None
    if len(graph) != n_base or graph.index.get_max_elements() < n_base:
        return None
    graph.index.resize_index(len(normalised))
    graph.add(normalised, rows=np.arange(n_base, len(normalised)), progress=progress)
    return graph
