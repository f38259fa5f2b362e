"""Ingest: source files -> Delta table -> one catalog commit.

Order of work for each source: hash (and detect encoding) -> skip if these exact
bytes are already in the dataset -> stream rows through DuckDB's reader into one
Delta commit -> register that commit in the catalog. A failure at any step leaves
neither data files nor catalog rows behind; a crash between the Delta commit and
the catalog commit is rolled forward by recovery (the commit names its sources).
Here: the plan and each source's preparation; the write itself is
core/ingest/write.py (its SQL core/ingest/select.py), documents core/ingest/documents.py.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from core.text import count
from core.storage.catalog import Catalog
from core.config import Config
from core.storage import faults
from core.errors import Cancelled, IngestError, LakehouseError
from core.ops.jobs import Jobs, Listener, narrowed
from core.models import IngestResult
from core.names import check_dataset_name, dataset_name_from_stem
from core.storage.tables import Tables
from core.ingest.detect import (DOCUMENT_FORMATS, BackgroundHash, changed, changed_error, detect_format,
                                encoding_label, hash_file, needs_transcoding, sample_encoding, transcode,
                                declared_encoding)
from core.ingest.documents import ingest_documents
from core.ingest.jsoncheck import BackgroundJsonCheck, check_json
from core.ingest.paths import expand, fence
from core.ingest.sources import TabularSource, prepare_csv
from core.ingest.evolve import SchemaOptions
from core.ingest.write import AlreadyIngested, TableWrite

MODES = ("create", "append", "replace", "upsert")
_TYPE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?(\[\])*$")
_HASH_INLINE = 64 * 1024 * 1024  # files up to this size are hashed before anything else


def parse_types(spec: str | dict | None) -> dict[str, str]:
    """'id=BIGINT,price=DECIMAL(10,2)' -> {'id': 'BIGINT', 'price': 'DECIMAL(10,2)'}."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        parts, depth, cur = [], 0, ""
        for ch in spec:
            depth += ch == "("
            depth -= ch == ")"
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        items = []
        for p in parts:
            col, eq, typ = p.partition("=")
            if not eq or not col.strip() or not typ.strip():
                raise IngestError(f"--types: {p.strip()!r} is not col=TYPE — write e.g. "
                                  "--types id=BIGINT,price=DECIMAL(10,2)")
            items.append((col.strip(), typ.strip()))
    out = {}
    for col, typ in items:
        if not _TYPE_RE.match(typ):
            raise IngestError(f"--types: {typ!r} (for column {col!r}) is not a type — use a DuckDB "
                              "type such as BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP, BOOLEAN, DECIMAL(10,2)")
        out[col] = typ.upper()
    return out


def is_database_url(source: str) -> bool:
    """A PostgreSQL connection URL (the one database source) rather than a path."""
    return source.split("://", 1)[0].lower() in ("postgresql", "postgres") and "://" in source


def parse_key(key: str | list[str] | None) -> list[str]:
    """'id' / 'region,id' / ['region', 'id'] -> key columns."""
    if not key:
        return []
    cols = [k.strip() for k in (key.split(",") if isinstance(key, str) else key)]
    if not all(cols) or len(set(cols)) != len(cols):
        raise IngestError(f"--key {key!r} is not a list of distinct columns — write e.g. --key id "
                          "or --key region,id")
    return cols


def current_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return ""


@dataclass
class _Plan:
    path: Path
    fmt: str
    dataset: str


class Ingestor:
    def __init__(self, root: Path, config: Config, catalog: Catalog, tables: Tables, jobs: Jobs):
        self.root, self.config, self.catalog, self.tables, self.jobs = root, config, catalog, tables, jobs
        self.schema = SchemaOptions()  # what a re-ingest may do to a schema (set per ingest call)
        # subfolders of the storage root an ingest may read: none but the demo's sources, and
        # those only for a profile that sees every dataset (core/datasets/intake.py)
        self.readable_in_root: tuple[str, ...] = ()

    def ingest(self, paths: list[str | Path], *, name: str | None = None, fmt: str | None = None,
               types: str | dict | None = None, mode: str | None = None,
               key: str | list[str] | None = None, actor: str | None = None, reason: str = "",
               query: str | None = None, table: str | None = None, incremental_by: str | None = None,
               schema_change: str = "refuse", column_map: str | dict | None = None,
               listener: Listener | None = None,
               cancel: threading.Event | None = None) -> list[IngestResult]:
        if mode is not None and mode not in MODES:
            raise IngestError(f"unknown mode {mode!r} — use one of: {', '.join(MODES)}")
        if name is not None:
            check_dataset_name(name)
        self.key = parse_key(key)
        self.who = {"actor": actor or current_user(), "reason": reason or ""}
        self.schema = SchemaOptions.of(schema_change, column_map)
        overrides = parse_types(types)
        if not paths:
            raise IngestError("nothing to ingest — give one or more files, directories or globs")
        urls = [str(p) for p in paths if is_database_url(str(p))]
        if urls:
            if len(paths) != 1:
                raise IngestError("a database URL is ingested on its own — give one "
                                  "postgresql://USER@HOST/DB per ingest, without files beside it")
            from core.ingest.postgres import ingest_postgres

            return ingest_postgres(self, urls[0], name=name, query=query, table=table,
                                   incremental_by=incremental_by, mode=mode, types=overrides,
                                   listener=listener, cancel=cancel)
        for flag, value in (("--query", query), ("--table", table), ("--incremental-by", incremental_by)):
            if value is not None:
                raise IngestError(f"{flag} is for a database source — give a "
                                  "postgresql://USER@HOST/DB URL, or drop the flag for files")
        found = expand(paths)
        fence(found, self.root, self.readable_in_root)
        files = found.files

        # entries a walk skipped (a symlink out of its folder, a symlink loop): one line each
        results: list[IngestResult] = [IngestResult(str(p), "", "skipped", message=note)
                                       for p, note in found.notes]
        plans: list[_Plan] = []
        for path, explicit in files:
            try:
                f = detect_format(path, fmt)
            except IngestError as e:
                if explicit:
                    self.catalog.errors.add("ingest", str(e))
                    results.append(IngestResult(str(path), name or "", "failed", message=str(e)))
                else:  # a stray file in a walked directory is not worth failing for
                    results.append(IngestResult(str(path), "", "skipped",
                                                message=f"{path}: unknown file type; skipped"))
                continue
            if f in DOCUMENT_FORMATS:
                ds = name or "documents"
            else:
                ds = name or dataset_name_from_stem(path.stem)
            plans.append(_Plan(path, f, ds))
        if not plans and not any(r.status == "failed" for r in results):
            skipped = "".join(f"; {note}" for _, note in found.notes[:3])
            raise IngestError("no files of a known type in " + ", ".join(map(str, paths)) +
                              " — supported: csv, tsv, json/ndjson/jsonl, parquet, pdf, txt, md" + skipped)

        docs = [p for p in plans if p.fmt in DOCUMENT_FORMATS]
        tabular = [p for p in plans if p.fmt not in DOCUMENT_FORMATS]
        # Several files into one named dataset: the first creates, the rest append.
        first_for: dict[str, bool] = {}
        for plan in tabular:
            m = mode
            if plan.dataset in first_for and mode in (None, "create", "replace"):
                m = "append"
            first_for[plan.dataset] = True
            with narrowed(paths=[str(plan.path)], mode=m):  # a retry of its job redoes this file only
                results.append(self._table(plan, m, overrides, listener, cancel))
        by_ds: dict[str, list[_Plan]] = {}
        for plan in docs:
            by_ds.setdefault(plan.dataset, []).append(plan)
        for ds, group in by_ds.items():
            with narrowed(paths=[str(p.path) for p in group]):
                results.extend(ingest_documents(self, ds, group, mode, listener, cancel))
        return results

    # -- tables -----------------------------------------------------------------
    def _table(self, plan: _Plan, mode: str | None, overrides: dict[str, str],
               listener: Listener | None, cancel: threading.Event | None) -> IngestResult:
        result = IngestResult(str(plan.path), plan.dataset, "failed")
        src = None
        try:
            with self.jobs.run("ingest", plan.dataset, listener, cancel) as job:
                job.progress(0, None, "rows", f"reading {plan.path.name}", force=True)
                try:
                    stat = plan.path.stat()
                except OSError as e:
                    raise IngestError(f"{plan.path}: cannot be read ({e.strerror})") from None
                # Identical bytes mean an identical size: hash up front only when a source of
                # this size is already in the dataset (or hashing is cheap); otherwise hash
                # on the other core while the rows stream.
                sha, hasher = None, None
                if stat.st_size <= _HASH_INLINE or self.catalog.datasets.has_source_size(plan.dataset, stat.st_size):
                    sha = self._hash(plan.path)
                    if changed(plan.path, stat):
                        raise changed_error(plan.path)
                    if self.catalog.datasets.has_source(plan.dataset, sha):
                        result.status = "unchanged"
                        result.message = (f"{plan.path} is already ingested in {plan.dataset} "
                                          "(identical bytes) — nothing written")
                        job.progress(message=result.message, force=True)
                        return result
                existing = self.catalog.datasets.get(plan.dataset)
                mode, key = self._target(plan.dataset, mode or "create", existing)
                src = TabularSource(plan.path, plan.fmt, None, stat.st_size, types=dict(overrides))
                self._prepare(src, stat.st_size)
                if sha is None:
                    hasher = BackgroundHash(plan.path)
                job.progress(0, src.est_rows, "rows", f"ingesting {plan.path.name}", force=True)
                conform = {c.name: c.type for c in existing.columns} if (
                    existing is not None and mode in ("append", "upsert")) else {}
                source_meta = {"uri": str(plan.path), "sha256": sha, "bytes": stat.st_size,
                               "mtime_ns": stat.st_mtime_ns, "format": plan.fmt}
                src.stat = stat  # the file the hash is of: the rows must come from it too
                faults.hook("ingest:before-read")
                try:
                    snap, rows = TableWrite(self, plan.dataset, src, conform, mode, source_meta, job,
                                            hasher, key).run()
                except AlreadyIngested:
                    result.status = "unchanged"
                    result.message = (f"{plan.path} was just ingested in {plan.dataset} by another "
                                      "process (identical bytes) — nothing written")
                    job.progress(message=result.message, force=True)
                    return result
                result.status, result.rows, result.table_version = "ingested", rows, snap.version
                result.notes = src.notes
                result.message = (f"{plan.path.name} -> {plan.dataset}: {count(rows, 'row')} "
                                  f"(version {snap.version})")
                job.progress(rows, rows, "rows", result.message, force=True)
        except Cancelled:
            raise
        except LakehouseError as e:
            result.message = str(e)
            result.violations = getattr(e, "violations", [])  # a contract's rules, for JSON output
        finally:
            if src is not None and src.read_path is not None:
                src.read_path.unlink(missing_ok=True)
        return result

    def _target(self, dataset: str, mode: str, existing) -> tuple[str, list[str]]:
        """(mode, key) for writing a table source into `dataset` as it stands (None: new),
        or why the write cannot go there."""
        if mode == "create" and existing is not None:
            raise IngestError(
                f"dataset {dataset} already exists (from {existing.source_uri}) — "
                "use --mode append to add these rows or --mode replace to overwrite it")
        if existing is not None and existing.kind != "table":
            raise IngestError(f"dataset {dataset} holds documents, not table rows — "
                              "ingest into another --name")
        key = self.key or (existing.primary_key if existing is not None else [])
        if existing is not None and self.key and existing.primary_key \
                and self.key != existing.primary_key and mode != "replace":
            raise IngestError(f"dataset {dataset} is keyed by {', '.join(existing.primary_key)}, "
                              f"not {', '.join(self.key)} — use its key, or --mode replace")
        if mode == "upsert" and not key:
            raise IngestError(f"an upsert needs a key: pass --key COL[,COL] (dataset "
                              f"{dataset} declares none)")
        return mode, key

    @staticmethod
    def _hash(path: Path) -> str:
        try:
            return hash_file(path)
        except OSError as e:
            raise IngestError(f"{path}: cannot be read ({e.strerror or e})") from None

    def _prepare(self, src: TabularSource, size: int) -> None:
        if size == 0:
            raise IngestError(f"{src.path} is empty — there are no rows to ingest")
        n = self.config.get("ingest.sample_bytes")
        if src.fmt in ("csv", "tsv", "json"):
            with open(src.path, "rb") as f:
                head = f.read(n)
            src.encoding = sample_encoding(src.path, head, at_eof=len(head) >= size)
            if needs_transcoding(src.encoding):
                # DuckDB reads UTF-8 and Latin-1 only: hand it a UTF-8 copy of a UTF-16/32 file.
                tmp = self.root / "tmp" / "ingest"
                tmp.mkdir(parents=True, exist_ok=True)
                src.read_path = tmp / f"{os.getpid()}-{threading.get_ident()}-{src.path.name}"
                transcode(src.path, src.encoding, src.read_path)
                src.notes.append(f"read as {encoding_label(src.encoding)} ({declared_encoding(head)[1]})")
                src.encoding = "utf-8"
                size = src.read_path.stat().st_size
                with open(src.read_path, "rb") as f:
                    head = f.read(n)
        if src.fmt in ("csv", "tsv"):
            prepare_csv(src, head, at_eof=len(head) >= size)
        elif src.fmt == "json":
            if not head.strip():
                raise IngestError(f"{src.path} is empty — there are no records to ingest")
            if src.encoding != "utf-8":
                raise IngestError(f"{src.path}: JSON must be UTF-8 and this file is not — "
                                  "re-save it as UTF-8 and ingest it again")
            src.whole_file_sample = size <= n
            src.json_array = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"["
            if size <= _HASH_INLINE:  # small: refuse before any work is done
                src.est_rows = check_json(src.path, src.read_path).records
            else:  # big: validated on the other core while the rows stream (see core/ingest/write.py)
                src.json_check = BackgroundJsonCheck(src.path, src.read_path)
                src.est_rows = max(head.count(b"\n"), 1) * max(size // max(len(head), 1), 1)
        elif src.fmt == "parquet":
            try:
                import pyarrow.parquet as pq

                src.est_rows = pq.read_metadata(src.path).num_rows
            except Exception:
                src.est_rows = None  # the reader below names the problem
