"""Plain dataclasses the facade returns. Frontends render them; nothing here prints."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


def plain(v: Any) -> Any:
    """A value as JSON carries it: dates ISO strings, decimals strings, bytes hex,
    NaN/inf strings. Query rows (Lakehouse.sql_rows) and the daemon's wire use it, so a
    value looks the same in-process and over the socket."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [plain(x) for x in v]
    return str(v)


@dataclass
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass
class Dataset:
    name: str
    kind: str  # 'table' | 'documents'
    format: str
    source_uri: str
    content_hash: str
    columns: list[Column]
    row_count: int
    bytes: int
    created_at: str
    updated_at: str
    table_version: int
    description: str = ""
    owner: str = ""
    tags: list[str] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    pinned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LineageEntry:
    source_uri: str
    content_hash: str
    source_bytes: int
    format: str
    mode: str
    job_id: str
    table_version: int
    rows: int
    created_at: str
    active: bool


@dataclass
class SchemaVersion:
    schema_version: int
    table_version: int
    columns: list[Column]
    created_at: str
    change: str = ""  # what changed from the version before: "+city VARCHAR; -age; qty BIGINT → DOUBLE"


@dataclass
class Description:
    dataset: Dataset
    lineage: list[LineageEntry]
    schema_versions: list[SchemaVersion]
    sample: Any  # pyarrow.Table with the first rows
    column_tags: list = field(default_factory=list)  # a ColumnTag per column (core/governance/tag_ops.py)
    description_drafted: bool = False  # the description is the chat model's draft, not yet a person's
    policy: str = ""  # what the policies binding the reader do to it ('' when nothing)
    masked: dict = field(default_factory=dict)  # column -> the mask the reader sees it through

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dict(),
            "lineage": [asdict(x) for x in self.lineage],
            "schema_versions": [asdict(x) for x in self.schema_versions],
            "sample": self.sample.to_pylist(),
            "column_tags": [t.to_dict() for t in self.column_tags],
            "description_drafted": self.description_drafted,
            "policy": self.policy,
            "masked": dict(self.masked),
        }


@dataclass
class IngestResult:
    """What one source file did: ingested, skipped as identical, or refused."""

    source: str
    dataset: str
    status: str  # 'ingested' | 'unchanged' | 'failed'
    rows: int = 0
    table_version: int | None = None
    message: str = ""
    notes: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)  # contract rules its rows broke (rule, count, rows, keys)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobInfo:
    id: str
    kind: str
    target: str
    status: str  # running | succeeded | failed | cancelled | interrupted
    started_at: str
    finished_at: str | None
    done: float
    total: float | None
    unit: str
    message: str
    pid: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProgressEvent:
    job_id: str
    kind: str
    target: str
    done: float
    total: float | None
    unit: str
    message: str = ""


@dataclass
class ErrorEvent:
    id: int
    ts: str
    operation: str
    dataset: str
    message: str
    detail: str
    job_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- vectors ---------------------------------------------------------------------------
@dataclass
class Generation:
    """One build of an index: its embedder, chunking, HNSW settings and figures."""

    index: str
    gen: int
    status: str  # building | ready
    active: bool
    kind: str  # hnsw | exact
    provider: str
    model: str
    digest: str
    dim: int
    chunk_size: int
    overlap: int
    m: int
    ef_construction: int
    ef_search: int
    dataset_version: int
    rows: int
    chunks: int
    embedded: int
    reused: int
    split_inputs: int
    build_seconds: float
    bytes: int
    base_gen: int | None
    job_id: str
    created_at: str
    finished_at: str | None

    @property
    def embedder(self) -> str:
        digest = self.digest.removeprefix("sha256:")[:12]
        if self.provider == "hashing":
            return f"hashing ({self.model}, built-in and offline, {self.dim}-dim)"
        return f"{self.provider} {self.model} ({digest}, {self.dim}-dim)"

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), embedder=self.embedder)


@dataclass
class IndexInfo:
    name: str
    dataset: str
    column: str
    key: list[str]
    active_gen: int | None
    generations: list[Generation]
    dataset_version: int | None  # the dataset's current version (None: dataset gone)
    auto_refresh: bool = True  # a change to the dataset re-embeds into a new live generation

    @property
    def active(self) -> Generation | None:
        return next((g for g in self.generations if g.gen == self.active_gen), None)

    @property
    def stale(self) -> bool:
        """The dataset changed after the active generation was embedded."""
        a = self.active
        return a is not None and self.dataset_version is not None and self.dataset_version > a.dataset_version

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dataset": self.dataset, "column": self.column, "key": self.key,
                "active_gen": self.active_gen, "stale": self.stale, "dataset_version": self.dataset_version,
                "auto_refresh": self.auto_refresh,
                "generations": [g.to_dict() for g in self.generations]}


@dataclass
class RefreshOutcome:
    """What refreshing one index did: a new live generation, nothing to do, or why not."""

    index: str
    dataset: str
    status: str  # refreshed | up-to-date | not-live | failed
    gen: int | None = None  # the generation now active
    embedded: int = 0  # chunks embedded by this refresh (the rest were reused)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EmbedResult:
    index: str
    gen: int
    dataset: str
    column: str
    embedder: str
    note: str  # e.g. why the hashing embedder was used
    rows: int
    chunks: int
    embedded: int  # chunks embedded by this run
    reused: int  # chunks carried over from an earlier generation (or an interrupted run)
    removed: int  # chunks of the base generation whose rows changed or went away
    split_inputs: int
    promoted: bool
    active_gen: int | None
    seconds: float
    up_to_date: bool
    job_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchHit:
    rank: int
    score: float
    dataset: str
    row_key: str
    chunk_id: str
    text: str
    row: dict[str, Any] | None  # the source row now (None if it no longer exists)
    boost: float = 0.0  # added by playbook memory (search --memory)
    memories: list[int] = field(default_factory=list)  # the memories whose endorsement gave it
    was_rank: int | None = None  # its rank before the boost (None: no memory boost asked)


@dataclass
class SearchResult:
    index: str
    gen: int
    embedder: str
    strategy: str  # hnsw | exact | exact-filtered | hnsw-filtered
    k: int
    hits: list[SearchHit]
    chunks: int  # chunks in the generation
    passed_filter: int | None  # chunks whose rows passed --where (None: no filter)
    timings_ms: dict[str, float]
    column: str = ""  # the embedded column of the source dataset
    key: list[str] = field(default_factory=list)  # the columns that make row_key
    memory: dict[str, Any] | None = None  # what the memory boost did (counts), when asked for

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MemoryEntry:
    """A playbook memory: an operation that worked on an index, the row keys it endorses,
    the scope it applies in, and its validity, version and retirement (core/memory)."""
    id: int
    index: str
    operation: str
    approach: str
    keys: list[str]
    scope: dict[str, str]
    actor: str
    profile: str
    created_at: str
    updated_at: str
    valid_from: str
    valid_until: str | None
    fingerprint: str
    version: int
    parent_id: int | None
    superseded_at: str | None
    superseded_by: int | None
    retired_at: str | None
    retired_reason: str | None
    embedder: str
    status: str = "live"  # live | retired | superseded | expired | pending (valid_from ahead)
    action: str = ""  # what an add did: ADD | UPDATE | NOOP
    similarity: float | None = None  # in a memory search

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- ask ----------------------------------------------------------------------------------
@dataclass
class Citation:
    n: int
    dataset: str
    row_key: str
    chunk_id: str
    score: float
    text: str


@dataclass
class AskResult:
    id: str
    question: str
    mode: str  # sql | rag | hybrid
    reason: str  # why this mode
    outcome: str  # answered | not_in_data | failed
    answer: str
    model: str
    sql: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    row_count: int | None = None  # the true count; `rows` holds at most ask.row_limit
    where: str = ""  # hybrid: the filter the model wrote for the search
    citations: list[Citation] = field(default_factory=list)
    continuations: int = 0
    attempts: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str = ""
    index: str = ""  # rag/hybrid: the index the passages came from
    memory: dict[str, Any] | None = None  # rag/hybrid: what the playbook-memory boost did (None: not used)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrialResult:
    """One trial: an HNSW graph built with (m, ef_construction) from a generation's stored
    vectors, measured on an eval set at each ef_search (`points`: ef_search, recall,
    p50_us, p95_us, p99_us)."""
    id: str
    index: str
    generation: int
    eval_set: str
    m: int
    ef_construction: int
    build_s: float | None
    index_bytes: int | None
    peak_mem_bytes: int | None
    points: list[dict[str, Any]]
    dataset_version: int
    embedder: str
    model: str
    machine: str
    profile: str
    status: str  # ok | failed | cancelled
    created_at: str
    promoted_generation: int | None = None
    k: int = 10
    job_id: str = ""
    origin: str = "trial"  # what ran it: trial | autotune | retrial
    graph_removed: bool = False  # pruned (core/trials/graphs.py): its figures stay, it cannot be promoted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
