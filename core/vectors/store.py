"""Files of an index generation, and the resumable log of a build in progress.

    vectors/<index>/g<N>/             a finished generation (immutable)
        embeddings.parquet            the truth: dataset, row_key, chunk_id, chunk_no,
                                      chunk_text, vector (fixed-size float32), model
        vectors.npy                   the vectors, L2-normalised (memory-mapped by search)
        hnsw.bin                      the HNSW graph (hnsw generations)
        meta.json                     settings, figures, and each file's size + CRC32
    vectors/<index>/.g<N>.building/   a build in progress; parts/ holds every embedded
                                      batch as soon as it is done, so a cancelled or
                                      killed build continues where it stopped

A build becomes g<N> by one directory rename after every file is written and
synced; only then does the catalog mark it ready. A crashed build never appears.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from core.errors import Hint, VectorError

EMBEDDINGS = "embeddings.parquet"
VECTORS = "vectors.npy"
HNSW = "hnsw.bin"
META = "meta.json"
PART_SCHEMA_FIELDS = ["row_key", "chunk_id", "chunk_no", "chunk_text"]


def index_dir(root: Path, index: str) -> Path:
    return root / "vectors" / index


def gen_dir(root: Path, index: str, gen: int) -> Path:
    return index_dir(root, index) / f"g{gen}"


def building_dir(root: Path, index: str, gen: int) -> Path:
    return index_dir(root, index) / f".g{gen}.building"


def vector_type(dim: int) -> pa.DataType:
    return pa.list_(pa.float32(), dim)


def vectors_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(vectors, np.float32).ravel(), pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])


def vectors_numpy(column, dim: int) -> np.ndarray:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(arr) == 0:
        return np.zeros((0, dim), np.float32)
    return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), dim)


def crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartLog:
    """Append-only Arrow IPC stream of embedded batches for one build run.

    Each batch is flushed and synced as soon as it is written; a reader takes every
    complete batch and ignores a torn one at the end (a kill mid-write)."""

    def __init__(self, directory: Path, dim: int):
        directory.mkdir(parents=True, exist_ok=True)
        n = len(list(directory.glob("run-*.arrows")))
        self.path = directory / f"run-{n + 1:04d}.arrows"
        self.schema = pa.schema([("row_key", pa.string()), ("chunk_id", pa.string()),
                                 ("chunk_no", pa.int32()), ("chunk_text", pa.string()),
                                 ("vector", vector_type(dim))])
        self._f = open(self.path, "wb")
        self._w = pa.ipc.new_stream(self._f, self.schema)

    def write(self, row_keys, chunk_ids, chunk_nos, texts, vectors: np.ndarray) -> None:
        batch = pa.record_batch([pa.array(row_keys, pa.string()), pa.array(chunk_ids, pa.string()),
                                 pa.array(chunk_nos, pa.int32()), pa.array(texts, pa.string()),
                                 vectors_array(vectors)], schema=self.schema)
        self._w.write_batch(batch)
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        try:
            self._w.close()
        finally:
            self._f.close()


def read_parts(directory: Path, dim: int) -> pa.Table | None:
    """Every complete batch embedded by earlier runs of this build (None if none)."""
    batches = []
    for path in sorted(directory.glob("run-*.arrows")):
        try:
            with open(path, "rb") as f:
                reader = pa.ipc.open_stream(f)
                while True:
                    try:
                        batches.append(reader.read_next_batch())
                    except StopIteration:
                        break
        except (pa.ArrowInvalid, OSError, EOFError):
            continue  # a torn last batch (or an empty file): keep what came before
    batches = [b for b in batches if b.schema.field("vector").type == vector_type(dim)]
    return pa.Table.from_batches(batches) if batches else None


def write_files(directory: Path, table: pa.Table, normalised: np.ndarray, hnsw, meta: dict) -> dict:
    """Write embeddings.parquet, vectors.npy, hnsw.bin (if any) and meta.json into
    `directory`, synced; return the meta that was written (with file checksums)."""
    import pyarrow.parquet as pq

    files = {}
    pq.write_table(table, directory / EMBEDDINGS, compression="zstd", row_group_size=65536)
    files[EMBEDDINGS] = directory / EMBEDDINGS
    np.save(directory / VECTORS, np.ascontiguousarray(normalised, np.float32))
    files[VECTORS] = directory / VECTORS
    if hnsw is not None:
        hnsw.save(str(directory / HNSW))
        files[HNSW] = directory / HNSW
    meta = dict(meta, files={name: {"bytes": p.stat().st_size, "crc32": crc32_file(p)}
                             for name, p in files.items()})
    tmp = directory / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, directory / META)
    for p in list(files.values()) + [directory / META]:
        _fsync(p)
    return meta


def read_meta(directory: Path, label: str) -> dict:
    try:
        return json.loads((directory / META).read_text())
    except FileNotFoundError:
        raise VectorError(f"{label}: {directory / META} is missing — the generation is incomplete",
                          hint=_rebuild(label)) from None
    except (OSError, ValueError) as e:
        raise VectorError(f"{label}: {directory / META} is unreadable ({e})", hint=_rebuild(label)) from None


def _rebuild(label: str) -> Hint:
    """The hint to rebuild the generation `label` ("NAME gN") names."""
    index, _, gen = label.rpartition(" g")
    return Hint("rebuild it", "rebuild_index", {"index": index, "gen": gen})


def verify(directory: Path, meta: dict, label: str, names: tuple[str, ...] | None = None) -> list[str]:
    """Problems with the generation's files (missing, truncated, checksum mismatch)."""
    problems = []
    for name, want in meta.get("files", {}).items():
        if names is not None and name not in names:
            continue
        p = directory / name
        if not p.exists():
            problems.append(f"{label}: {name} is missing")
        elif p.stat().st_size != want["bytes"]:
            problems.append(f"{label}: {name} is truncated or overwritten "
                            f"({p.stat().st_size:,} bytes, expected {want['bytes']:,})")
        elif crc32_file(p) != want["crc32"]:
            problems.append(f"{label}: {name} is corrupt (checksum mismatch)")
    return problems
