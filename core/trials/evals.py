"""Eval sets: fixed query vectors and their exact top-k, the yardstick trials measure by.

    vectors/<index>/evals/<name>/
        queries.parquet   query_no, text (the question, or the chunk a query was sampled
                          from), vector (fixed-size float32, L2-normalised)
        truth.parquet     query_no, rank, label (row of the generation's vectors.npy), score
        meta.json         what it was made against (generation, dataset version, embedder,
                          model digest, dim, vector count, k), how, and each file's size + CRC32

Queries are either sampled from the generation's own vectors or read from a text file
of questions (one per line) embedded with the embedder that built the generation.
Sampled queries are HELD OUT: the sampled vectors themselves are the queries, their rows
(`row` in queries.parquet) are left out of the truth, and a trial builds its graph
without them, measures it, and only then inserts them, so the graph it may promote holds
every vector. A held-out query is a real data point the graph has never seen, as a new
document or question is. (Perturbing stored vectors instead — the first method tried —
leaves each query next to its source, which any graph finds at once: on the bench's
clustered set it measured recall 1.000 at ef_search 17 with M 9 where held-out queries
need ef_search 30-50 for 0.99, so autotune promoted settings far worse than it believed.
Eval sets made that way are refused as stale.) At most a tenth of the vectors are held out, so the
graph measured is nearly the one promoted. The truth is exact search (ExactIndex) over
the same vectors, the held-out ones excepted.

An eval set is only used with a generation of the same embedder (provider, model,
digest, dim) and the same dataset version and vectors; anything else is refused as
another embedder's or stale, never silently used. Written beside, then renamed into
place: a crashed create leaves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import Hint, NotFound, VectorError
from core.names import check_eval_name
from core.storage.db import now
from core.vectors import store

QUERIES, TRUTH = "queries.parquet", "truth.parquet"
MAX_QUERIES, MAX_K = 100_000, 1000
DEFAULT_QUERIES, HELD_OUT_SHARE = 200, 0.1  # sampled queries: 200, or a tenth of the vectors if fewer
IDENTITY = ("provider", "model", "digest", "dim")


@dataclass
class EvalSet:
    name: str
    index: str
    queries: np.ndarray  # (n, dim) float32, L2-normalised
    truth: np.ndarray  # (n, k) int64: rows of the generation's vectors.npy, nearest first
    k: int
    meta: dict = field(default_factory=dict)
    held_out: np.ndarray | None = None  # sorted rows the queries are (None: a file's questions)


def evals_dir(root: Path, index: str) -> Path:
    return store.index_dir(root, index) / "evals"


def _new_eval_hint(index: str) -> Hint:
    return Hint("make a new one", "eval_create", {"index": index})


def source(vectors, index: str) -> tuple[dict, np.ndarray]:
    """The generation trials of `index` measure (the one this profile searches) and its
    stored vectors (memory-mapped); an index without vectors is refused."""
    _, gen = vectors.registry.resolve(index)
    vecs = np.load(store.gen_dir(vectors.root, index, gen["gen"]) / store.VECTORS, mmap_mode="r")
    if len(vecs) == 0:
        raise VectorError(f"index {index!r} is empty: g{gen['gen']} holds no vectors to measure")
    return gen, vecs


def create(vectors, index: str, queries: int | None = None, from_file: str | None = None, k: int = 10,
           name: str | None = None, seed: int = 0) -> dict:
    """Make an eval set for `index` (see the module docstring); return its catalog row."""
    from core.vectors.ann import ExactIndex

    catalog = vectors.catalog
    gen, vecs = source(vectors, index)
    if not 1 <= k <= MAX_K:
        raise VectorError(f"k must be between 1 and {MAX_K}, got {k}")
    if from_file is None:
        queries = _held_out_count(index, len(vecs), queries, k)
    name = check_eval_name(name) if name else _next_name(catalog, index)
    if catalog.trials.eval(index, name) is not None:
        raise VectorError(f"index {index!r} already has an eval set named {name!r}",
                          hint=Hint("give another --name", None, {"name": "NAME"}))
    rows = None
    if from_file is not None:
        texts = _questions(from_file)
        q = _normalise(vectors.searcher.embedder(gen).embed(texts))
        labels, scores = ExactIndex(vecs).search(q, k)
    else:
        texts, rows, q = _held_out(vectors.root, index, gen["gen"], vecs, queries, seed)
        labels, scores = ExactIndex(vecs).search(q, k, subset=np.setdiff1d(np.arange(len(vecs)), rows))
    meta = {"name": name, "index": index, "generation": gen["gen"], "dataset": vectors.require(index)["dataset"],
            "dataset_version": gen["dataset_version"], **{f: gen[f] for f in IDENTITY},
            "vectors": len(vecs), "k": int(labels.shape[1]), "queries": len(q),
            "source": "file" if from_file is not None else "held-out", "seed": seed, "from_file": str(from_file) if from_file is not None else None, "created_at": now()}
    _write(evals_dir(vectors.root, index), name, texts, rows, q, labels, scores, meta)
    row = dict(index_name=index, name=name, generation=gen["gen"], dataset_version=gen["dataset_version"],
               embedder=gen["provider"], model=gen["model"], k=meta["k"], queries=len(q),
               source=meta["source"], created_at=meta["created_at"], profile=_profile(vectors))
    catalog.trials.add_eval(row)
    return row


def _profile(vectors) -> str:
    return vectors.profile.id if vectors.profile is not None else "default"


def _next_name(catalog, index: str) -> str:
    taken = {r["name"] for r in catalog.trials.evals(index)}
    return next(f"e{n}" for n in range(1, len(taken) + 2) if f"e{n}" not in taken)


def _questions(path) -> list[str]:
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise NotFound(f"no file {str(p)!r} to read questions from") from None
    except (OSError, UnicodeDecodeError) as e:
        raise VectorError(f"cannot read questions from {str(p)!r} ({e})") from None
    texts = [t.strip() for t in lines if t.strip()]
    if not texts:
        raise VectorError(f"{str(p)!r} holds no questions (one per line)")
    if len(texts) > MAX_QUERIES:
        raise VectorError(f"{str(p)!r} holds {len(texts):,} questions, more than {MAX_QUERIES:,}")
    return texts


def _normalise(q: np.ndarray) -> np.ndarray:
    from core.vectors.ann import normalise

    return normalise(q)


def _held_out_count(index: str, n: int, asked: int | None, k: int) -> int:
    """How many vectors to hold out: `asked`, or by default 200 (fewer on a small index);
    never more than a tenth of them, and k must remain to find."""
    most = int(n * HELD_OUT_SHARE)
    if most < 1 and asked is None:
        raise VectorError(f"index {index!r} holds {n:,} vectors, too few to hold a tenth out as queries "
                          f"(it takes {int(1 / HELD_OUT_SHARE)} at least) — give a file of questions instead")
    if asked is None:
        asked = min(DEFAULT_QUERIES, most)
    if not 1 <= asked <= MAX_QUERIES:
        raise VectorError(f"an eval set takes between 1 and {MAX_QUERIES:,} queries, got {asked}")
    if asked > most or n - asked < k:
        raise VectorError(f"index {index!r} holds {n:,} vectors: an eval set may hold out at most a tenth of them "
                          f"({most:,}) and leave k ({k}) to find, not {asked:,} — ask for fewer queries, "
                          "or give a file of questions")
    return asked


def _held_out(root: Path, index: str, gen: int, vecs: np.ndarray, n: int, seed: int):
    """`n` distinct sampled rows (sorted), their chunk texts and their vectors as queries."""
    import pyarrow.parquet as pq

    rows = np.sort(np.random.default_rng(seed).choice(len(vecs), size=n, replace=False))
    text = pq.read_table(store.gen_dir(root, index, gen) / store.EMBEDDINGS, columns=["chunk_text"]).column(0)
    return text.take(rows).to_pylist(), rows, np.asarray(vecs[rows], np.float32)


def _write(parent: Path, name: str, texts, rows, q, labels, scores, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = parent / f".{name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        pq.write_table(pa.table({"query_no": pa.array(range(len(q)), pa.int32()),
                                 "text": pa.array(texts, pa.string()),
                                 "row": pa.array(rows if rows is not None else [None] * len(q), pa.int64()),
                                 "vector": store.vectors_array(q)}), tmp / QUERIES)
        n, k = labels.shape
        pq.write_table(pa.table({"query_no": pa.array(np.repeat(np.arange(n), k), pa.int32()),
                                 "rank": pa.array(np.tile(np.arange(1, k + 1), n), pa.int32()),
                                 "label": pa.array(labels.ravel(), pa.int64()),
                                 "score": pa.array(scores.ravel(), pa.float32())}), tmp / TRUTH)
        meta["files"] = {f: {"bytes": (tmp / f).stat().st_size, "crc32": store.crc32_file(tmp / f)}
                         for f in (QUERIES, TRUTH)}
        (tmp / store.META).write_text(json.dumps(meta, indent=2))
        final = parent / name
        if final.exists():  # left by a crash between the rename and the catalog row
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- reading ----------------------------------------------------------------------------
def listing(vectors, index: str) -> list[dict]:
    """The eval sets of `index`, each with `usable`: None when trials may use it with the
    generation they measure, else the sentence that refuses it."""
    vectors.require(index)
    gen, _ = source(vectors, index)
    out = []
    for row in vectors.catalog.trials.evals(index):
        try:
            _check(vectors, index, row["name"], gen)
            row["refused"] = None
        except VectorError as e:
            row["refused"] = str(e)
        out.append(row)
    return out


def load_eval(vectors, index: str, name: str | None = None, gen: dict | None = None) -> EvalSet:
    """The eval set `name` of `index` (None: the newest one trials may use), checked
    against generation `gen` (default: the one this profile searches): another
    embedder's, or one made for other data, is refused in one sentence."""
    if gen is None:
        gen, _ = source(vectors, index)
    if name is None:
        name = _newest_usable(vectors, index, gen)
    meta, d = _check(vectors, index, name, gen)
    import pyarrow.parquet as pq

    qt = pq.read_table(d / QUERIES)
    queries = store.vectors_numpy(qt.column("vector"), meta["dim"]).astype(np.float32)
    labels = pq.read_table(d / TRUTH, columns=["label"]).column(0).to_numpy()
    truth = labels.reshape(len(queries), meta["k"]).astype(np.int64)
    held = qt.column("row").to_numpy() if meta["source"] == "held-out" else None
    return EvalSet(name, index, queries, truth, meta["k"], meta, held)


def _newest_usable(vectors, index: str, gen: dict) -> str:
    rows = vectors.catalog.trials.evals(index)
    if not rows:
        raise NotFound(f"index {index!r} has no eval set yet", hint=Hint("make one", "eval_create", {"index": index}))
    for row in reversed(rows):
        try:
            _check(vectors, index, row["name"], gen)
            return row["name"]
        except VectorError:
            continue
    _check(vectors, index, rows[-1]["name"], gen)  # raises: the newest one's reason
    raise AssertionError("unreachable")


def _check(vectors, index: str, name: str, gen: dict) -> tuple[dict, Path]:
    """(meta, directory) of eval set `name`, or the sentence that refuses it for `gen`."""
    check_eval_name(name)
    row = vectors.catalog.trials.eval(index, name)
    if row is None:
        known = ", ".join(r["name"] for r in vectors.catalog.trials.evals(index)) or "none yet"
        raise NotFound(f"index {index!r} has no eval set named {name!r} — its eval sets: {known}")
    d = evals_dir(vectors.root, index) / name
    try:
        meta = json.loads((d / store.META).read_text())
    except (OSError, ValueError) as e:
        raise VectorError(f"eval set {name!r} of {index!r} is unreadable ({e})", hint=_new_eval_hint(index)) from None
    problems = store.verify(d, meta, f"eval set {name!r} of {index!r}")
    if problems:
        raise VectorError(problems[0], hint=_new_eval_hint(index))
    if meta.get("source") == "perturbed":  # see the module docstring
        raise VectorError(f"eval set {name!r} is stale: its queries are perturbed copies of stored vectors, "
                          "which overstate recall; sampled queries are now held out", hint=_new_eval_hint(index))
    if any(meta[f] != gen[f] for f in IDENTITY):
        raise VectorError(f"eval set {name!r} was made with {meta['provider']} {meta['model']} "
                          f"({meta['dim']}-dim), not the embedder of {index} g{gen['gen']} "
                          f"({gen['provider']} {gen['model']}, {gen['dim']}-dim)", hint=_new_eval_hint(index))
    if meta["dataset_version"] != gen["dataset_version"] or meta["vectors"] != gen["chunks"]:
        raise VectorError(f"eval set {name!r} is stale: it was made for version {meta['dataset_version']} of "
                          f"{meta['dataset']} ({meta['vectors']:,} vectors), and {index} g{gen['gen']} holds "
                          f"version {gen['dataset_version']} ({gen['chunks']:,} vectors)", hint=_new_eval_hint(index))
    return meta, d
