"""Plain dataclasses the facade returns. Frontends render them; nothing here prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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


@dataclass
class Description:
    dataset: Dataset
    lineage: list[LineageEntry]
    schema_versions: list[SchemaVersion]
    sample: Any  # pyarrow.Table with the first rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dict(),
            "lineage": [asdict(x) for x in self.lineage],
            "schema_versions": [asdict(x) for x in self.schema_versions],
            "sample": self.sample.to_pylist(),
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
