"""Nearest-neighbour indexes over L2-normalised float32 vectors (cosine similarity).

ExactIndex: NumPy brute force — exact, and close to the memory-bandwidth floor
because one matrix-vector product streams the vectors once.
HnswIndex: hnswlib's HNSW graph — approximate, sub-millisecond.

Labels are row positions in the generation's embeddings.parquet. Scores are cosine
similarities (1.0 = same direction), highest first.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

import numpy as np


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


_BLOCK = 64


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores per row, best first."""
    k = min(k, scores.shape[1])
    if k == 0:
        return np.zeros((scores.shape[0], 0), np.int64), np.zeros((scores.shape[0], 0), np.float32)
    if scores.shape[0] == 1 and scores.shape[1] >= 64 * _BLOCK * max(k, 1):
        return _top_k_blocks(scores[0], k)
    part = np.argpartition(scores, -k, axis=1)[:, -k:]  # no negated copy of all scores
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _top_k_blocks(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of one long row without a full selection: each of the k best scores sits in
    a block whose maximum is at least the k-th best, and at most k blocks can hold
    one, so the k blocks with the highest maxima contain them all."""
    n = len(row)
    whole = n - n % _BLOCK
    maxima = row[:whole].reshape(-1, _BLOCK).max(axis=1)
    best_blocks = np.argpartition(maxima, -k)[-k:]
    cand = (best_blocks[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
    if whole < n:
        cand = np.concatenate([cand, np.arange(whole, n)])
    vals = row[cand]
    pick = np.argpartition(vals, -k)[-k:]
    order = pick[np.argsort(-vals[pick], kind="stable")]
    return cand[order][None, :], vals[order][None, :]


class ExactIndex:
    kind = "exact"

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors  # (n, dim), normalised; may be a read-only memory map

    def __len__(self) -> int:
        return len(self.vectors)

    def _scores(self, queries: np.ndarray) -> np.ndarray:
        if len(queries) == 1:  # matrix-vector: one pass over the vectors, as fast as memory reads
            return (self.vectors @ queries[0])[None, :]
        return queries @ self.vectors.T

    def search(self, queries: np.ndarray, k: int, subset: np.ndarray | None = None):
        """Exact top-k of all vectors, or of the rows in `subset` (sorted labels)."""
        if subset is None:
            return top_k(self._scores(queries), k)
        if len(subset) == 0:
            return top_k(np.zeros((len(queries), 0), np.float32), k)
        if len(subset) * 8 > len(self.vectors):  # a big subset: scoring all beats gathering rows
            scores = self._scores(queries)[:, subset]
        else:
            scores = queries @ self.vectors[subset].T
        idx, vals = top_k(scores, k)
        return subset[idx], vals


SMALL_GRAPH = 20_000  # vectors below which a graph is built on one thread


class HnswIndex:
    kind = "hnsw"

    def __init__(self, index, ef_search: int):
        self.index = index
        self.ef_search = ef_search
        self._lock = threading.Lock()  # ef is index-wide state: set and query together

    def __len__(self) -> int:
        return self.index.get_current_count()

    @classmethod
    def build(cls, vectors: np.ndarray, m: int, ef_construction: int, ef_search: int,
              threads: int = 0, progress: Callable[[int, int], None] | None = None,
              seed: int = 100, rows: np.ndarray | None = None) -> "HnswIndex":
        """A graph of `vectors` labelled by row; `rows`: only those rows, with room left
        for the others (`add` them later — a trial holds its eval set's queries out)."""
        import hnswlib

        n, dim = vectors.shape
        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=max(n, 1), ef_construction=ef_construction, M=m, random_seed=seed)
        graph = cls(index, ef_search)
        graph.add(vectors, rows, threads, progress)
        return graph

    def add(self, vectors: np.ndarray, rows: np.ndarray | None = None, threads: int = 0,
            progress: Callable[[int, int], None] | None = None) -> None:
        """Insert vectors[rows] (every row: None), labelled by their row numbers."""
        n = len(vectors) if rows is None else len(rows)
        # a small graph builds in moments on one thread, and one thread makes it the same every
        # time (hnswlib's parallel inserts race): a trial's figures on it are then reproducible
        threads = threads or (1 if n < SMALL_GRAPH else os.cpu_count() or 1)
        # add_items is one native call: in slices of at most 50k vectors, so progress (and an
        # ETA) shows and a cancel raised by `progress` is noticed within seconds
        step = min(50_000, max(10_000, n // 50))
        for start in range(0, n, step):
            stop = min(start + step, n)
            labels = np.arange(start, stop) if rows is None else rows[start:stop]
            self.index.add_items(vectors[start:stop] if rows is None else vectors[labels], labels,
                                 num_threads=threads)
            if progress:
                progress(stop, n)

    @classmethod
    def load(cls, path: str, dim: int, ef_search: int) -> "HnswIndex":
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=dim)
        index.load_index(path)
        return cls(index, ef_search)

    def save(self, path: str) -> None:
        self.index.save_index(path)

    def search(self, queries: np.ndarray, k: int, ef: int | None = None,
               allowed: np.ndarray | None = None):
        """Approximate top-k; `allowed` (a bool mask over labels) restricts the result
        to those labels — the graph is walked as usual, only allowed ones are kept."""
        k = min(k, len(self))
        if k == 0:
            return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
        flt = None
        if allowed is not None:
            k = min(k, int(allowed.sum()))
            if k == 0:
                return np.zeros((len(queries), 0), np.int64), np.zeros((len(queries), 0), np.float32)
            mask = allowed

            def flt(label: int) -> bool:
                return bool(mask[label])
        with self._lock:
            self.index.set_ef(max(ef or self.ef_search, k))
            labels, dist = self.index.knn_query(queries, k=k, num_threads=1, filter=flt)
        return labels.astype(np.int64), (1.0 - dist).astype(np.float32)

    def vectors(self, labels: np.ndarray) -> np.ndarray:
        return np.asarray(self.index.get_items(labels, return_type="numpy"), np.float32)
