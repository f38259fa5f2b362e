"""Delta tables under ROOT/tables/<name>: writes, snapshots and crash recovery.

delta-rs does the table format (atomic commits, schema merge, history). We add:
row groups sized for parallel scans, commit metadata that names the sources, an
intent recorded in the catalog before every commit (so a commit the catalog never
registered can be rolled forward — and only if lakehouse provably made it), and
removal of data files a failed write left behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


META_KEY = "lakehouse"  # commit-info key holding our JSON metadata


@dataclass
class Snapshot:
    version: int
    files: list[dict]  # {"path": relative, "size": bytes, "rows": n}
    rows: int
    bytes: int
    arrow_schema: Any  # pyarrow.Schema
    commit_ms: int  # commit timestamp of `version`
    reader: str  # 'files' when read_parquet over `files` is exact, else 'delta'
    operation: str = ""  # the Delta operation of `version` (WRITE, MERGE, UPDATE, …)
    metrics: dict | None = None  # its operationMetrics


def log_version(table_dir: Path) -> int:
    """Newest committed version from the log's file names (-1 if none); no delta-rs needed."""
    best = -1
    try:
        for f in (table_dir / "_delta_log").iterdir():
            stem, _, ext = f.name.partition(".")
            if ext == "json" and stem.isdigit():
                best = max(best, int(stem))
    except OSError:
        pass
    return best


def meta_sha256(raw: str | None) -> str:
    """The fingerprint of a commit's lakehouse metadata (as stored in its commitInfo)."""
    return hashlib.sha256(raw.encode()).hexdigest() if raw else ""


def foreign_commit_message(name: str, version: int, table_dir: Path, known: int | None) -> str:
    """One sentence about a commit in a table's log that lakehouse did not write."""
    log = table_dir / "_delta_log" / f"{version:020d}.json"
    if known is None:
        return (f"{name}: the table at {table_dir} holds version {version}, which lakehouse did not "
                f"write, so it is not taken as a dataset — move or delete {table_dir} to use the name")
    return (f"{name}: version {version} of its Delta table was not written by lakehouse and was not "
            f"applied (queries still read version {known}) — if another tool such as Spark wrote it, "
            f"`lakehouse resync {name}` adopts it; otherwise delete {log} to discard it")


class Tables:
    def __init__(self, root: Path, row_group_rows: int, target_file_mb: int, catalog=None):
        self.dir = root / "tables"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.row_group_rows = row_group_rows
        self.target_file_mb = target_file_mb
        # the catalog: every commit is recorded there before it is made, and crash recovery
        # rolls forward only recorded ones (None: nothing recorded, e.g. in bench/)
        self.catalog = catalog

    @contextmanager
    def _intend(self, name: str, *commits: tuple[str, dict | None]):
        """Record the commits [(Delta operation, our metadata)] about to be made on `name`
        so that recovery can tell them from commits someone else put in the log; refuse
        to build on an unregistered commit that was not ours; forget intents not used."""
        if self.catalog is None:
            yield
            return
        path = self.path(name)
        base = self._trusted_base(name)
        self.catalog.intents.record(
            name, base + 1, [(op, meta_sha256(_meta_text(m)) if m is not None else "") for op, m in commits])
        try:
            yield
        finally:
            self.catalog.intents.drop(name, above=log_version(path))

    def _trusted_base(self, name: str) -> int:
        """The table's newest version, refusing (one sentence) when a version past the
        catalog's is not one of our own pending commits: nothing is built on a commit
        recovery did not accept."""
        path = self.path(name)
        base = log_version(path)
        if self.catalog is None:
            return base
        ds = self.catalog.datasets.get(name)
        known = ds.table_version if ds is not None else -1
        pending = self.catalog.intents.get(name) if base > known else {}
        for v in range(known + 1, base + 1):  # our own earlier commits of this same write pass
            if v not in pending:
                from core.errors import LakehouseError

                raise LakehouseError(foreign_commit_message(name, v, path, known if ds is not None else None)
                                     + "; nothing was written")
        return base

    def path(self, name: str) -> Path:
        return self.dir / name

    def exists(self, name: str) -> bool:
        return (self.path(name) / "_delta_log").is_dir() and any(
            (self.path(name) / "_delta_log").glob("*.json"))

    def data_files(self, name: str) -> set[str]:
        p = self.path(name)
        return {f.name for f in p.glob("*.parquet")} if p.is_dir() else set()

    def writer_properties(self):
        from deltalake import WriterProperties

        # A small dictionary page limit makes high-cardinality columns give up on
        # dictionary encoding early (ingest 1.3x faster, files no larger), while
        # low-cardinality ones (city, status) keep it.
        return WriterProperties(max_row_group_size=self.row_group_rows, compression="SNAPPY",
                                dictionary_page_size_limit=64 * 1024)

    @staticmethod
    def commit(meta: dict):
        from deltalake import CommitProperties

        return CommitProperties(custom_metadata={META_KEY: _meta_text(meta)})

    def write(self, name: str, reader, *, replace: bool, meta: dict,
              target_file_mb: int | None = None) -> Snapshot:
        """Append (schema merge) or replace (schema overwrite) in one Delta commit."""
        from deltalake import write_deltalake

        path = self.path(name)
        exists = self.exists(name)
        target = (target_file_mb or self.target_file_mb) * 1024 * 1024
        if exists and target_file_mb:
            self.set_file_target(name, target_file_mb)
        with self._intend(name, ("WRITE", meta)):
            write_deltalake(
                str(path), reader,
                mode="overwrite" if (replace and exists) else "append",
                schema_mode=("overwrite" if replace else "merge") if exists else None,
                target_file_size=target,
                # merges, updates and optimize follow the table's own file target
                configuration={"delta.targetFileSize": str(target)} if target_file_mb and not exists else None,
                writer_properties=self.writer_properties(),
                commit_properties=self.commit(meta),
            )
        return self.snapshot(name)

    def set_file_target(self, name: str, target_file_mb: int) -> None:
        """Make the table's own file target (used by merge, update, optimize) this size."""
        from deltalake import DeltaTable

        self._trusted_base(name)  # (before reading a log that may hold a refused commit)
        dt = DeltaTable(str(self.path(name)))
        want = str(target_file_mb * 1024 * 1024)
        if dt.metadata().configuration.get("delta.targetFileSize") != want:
            with self._intend(name, ("SET TBLPROPERTIES", None)):
                dt.alter.set_table_properties({"delta.targetFileSize": want}, raise_if_not_exists=False)

    def merge(self, name: str, source, key: list[str], meta: dict, target_file_mb: int) -> Snapshot:
        """Upsert by key in one commit: matched rows updated, new rows inserted."""
        from deltalake import DeltaTable

        self.set_file_target(name, target_file_mb)
        pred = " AND ".join(f't.{_ident(k)} = s.{_ident(k)}' for k in key)
        with self._intend(name, ("MERGE", meta)):
            (DeltaTable(str(self.path(name)))
             .merge(source, pred, source_alias="s", target_alias="t", merge_schema=True,
                    writer_properties=self.writer_properties(), commit_properties=self.commit(meta))
             .when_matched_update_all().when_not_matched_insert_all().execute())
        return self.snapshot(name)

    def update(self, name: str, predicate: str, updates: dict[str, str], meta: dict) -> Snapshot:
        from deltalake import DeltaTable

        with self._intend(name, ("UPDATE", meta)):
            DeltaTable(str(self.path(name))).update(
                updates=updates, predicate=predicate, writer_properties=self.writer_properties(),
                commit_properties=self.commit(meta))
        return self.snapshot(name)

    def delete(self, name: str, predicate: str, meta: dict) -> Snapshot:
        from deltalake import DeltaTable

        with self._intend(name, ("DELETE", meta)):
            DeltaTable(str(self.path(name))).delete(
                predicate, writer_properties=self.writer_properties(), commit_properties=self.commit(meta))
        return self.snapshot(name)

    def restore(self, name: str, target, meta: dict) -> Snapshot:
        from deltalake import DeltaTable

        with self._intend(name, ("RESTORE", meta)):
            DeltaTable(str(self.path(name))).restore(target, commit_properties=self.commit(meta))
        return self.snapshot(name)

    def compact(self, name: str, target_file_mb: int, meta: dict) -> tuple[Snapshot, dict]:
        from deltalake import DeltaTable

        with self._intend(name, ("OPTIMIZE", meta)):
            metrics = DeltaTable(str(self.path(name))).optimize.compact(
                target_size=target_file_mb * 1024 * 1024, writer_properties=self.writer_properties(),
                commit_properties=self.commit(meta))
        return self.snapshot(name), metrics

    def vacuum(self, name: str, retain_hours: int) -> tuple[Snapshot, list[str]]:
        from deltalake import DeltaTable

        with self._intend(name, ("VACUUM START", None), ("VACUUM END", None)):
            removed = DeltaTable(str(self.path(name))).vacuum(
                retention_hours=retain_hours, dry_run=False, enforce_retention_duration=False)
        return self.snapshot(name), removed

    def history(self, name: str, upto: int | None = None) -> list[dict]:
        """The commits (their commitInfo and version), up to version `upto` when given —
        then read from the log's files no further than that, so a later commit that
        recovery refused (even an unreadable one) is neither shown nor parsed."""
        from deltalake import DeltaTable

        if upto is None:
            return DeltaTable(str(self.path(name))).history()
        return [h for h in map(lambda v: self._commit_info(name, v), range(upto + 1)) if h]

    def _commit_info(self, name: str, version: int) -> dict | None:
        return _log_commit_info(self.path(name), version)

    def snapshot(self, name: str, version: int | None = None) -> Snapshot:
        import pyarrow as pa
        from deltalake import DeltaTable

        dt = DeltaTable(str(self.path(name)), version=version)
        adds = pa.table(dt.get_add_actions(flatten=False)).select(["path", "size_bytes", "num_records"])
        files = [{"path": p, "size": int(s), "rows": int(n or 0)}
                 for p, s, n in zip(*(adds.column(i).to_pylist() for i in range(3)))]
        files.sort(key=lambda f: f["path"])
        v = dt.version()
        if version is None:
            hist = [h for h in dt.history(1) if h.get("version") == v]
        else:
            hist = [h for h in [self._commit_info(name, v)] if h]
        _, exact = read_plan(dt)
        return Snapshot(version=dt.version(), files=files, rows=sum(f["rows"] for f in files),
                        bytes=sum(f["size"] for f in files),
                        arrow_schema=pa.schema(dt.schema().to_arrow()),
                        commit_ms=int(hist[0]["timestamp"]) if hist else 0,
                        reader="files" if exact else "delta",
                        operation=hist[0].get("operation", "") if hist else "",
                        metrics=hist[0].get("operationMetrics") if hist else None)

    def commits_after(self, name: str, version: int) -> list[tuple[int, str, str | None]]:
        """[(version, Delta operation, our metadata as committed or None)] for commits newer
        than `version`, oldest first."""
        from deltalake import DeltaTable

        dt = DeltaTable(str(self.path(name)))
        out = []
        for h in dt.history(max(dt.version() - version, 0)):
            if h["version"] > version:
                raw = h.get(META_KEY)
                out.append((h["version"], str(h.get("operation", "")), raw if isinstance(raw, str) else None))
        return sorted(out, key=lambda x: x[0])

    def remove_new_files(self, name: str, before: set[str]) -> None:
        """Delete data files a failed write added (anything not there before it)."""
        p = self.path(name)
        for f in self.data_files(name) - before:
            (p / f).unlink(missing_ok=True)

    def drop_dir(self, name: str) -> None:
        shutil.rmtree(self.path(name), ignore_errors=True)

    def table_dirs(self) -> list[str]:
        return sorted(d.name for d in self.dir.iterdir() if d.is_dir()) if self.dir.is_dir() else []



def read_plan(dt) -> tuple[list[str], bool]:
    """(absolute data file paths, whether read_parquet over them reads the table exactly).
    Plain file lists read a table wrongly when rows are masked by deletion vectors,
    columns are renamed by column mapping, or values live in partition paths: such
    tables (written by other engines) are read through delta-rs instead."""
    features = set(dt.protocol().reader_features or [])
    exact = not (features & {"deletionVectors", "columnMapping"}) and not dt.metadata().partition_columns
    return [u.removeprefix("file://") for u in dt.file_uris()], exact


def _log_commit_info(table_dir: Path, version: int) -> dict | None:
    """The commitInfo of one version, as DeltaTable.history() gives it, read from its log
    file alone (delta-rs's history of a table loaded at an older version numbers the
    newer commits as if they were older ones). None when the file is gone (log retention)."""
    try:
        with open(table_dir / "_delta_log" / f"{version:020d}.json", encoding="utf-8") as f:
            info = next((a["commitInfo"] for a in map(json.loads, filter(str.strip, f))
                         if isinstance(a, dict) and "commitInfo" in a), None)
    except FileNotFoundError:
        return None
    return {**info, "version": version} if isinstance(info, dict) else None


def _meta_text(meta: dict) -> str:
    return json.dumps(meta)


def _ident(name: str) -> str:
    """A column name quoted for delta-rs (DataFusion SQL)."""
    return '"' + name.replace('"', '""') + '"'


def open_at(path: Path, name: str, as_of: int | str | None = None, upto: int | None = None):
    """The DeltaTable of dataset `name` as of a version (int) or a timestamp (ISO text),
    with one clear error when that state does not exist or is no longer readable.
    `upto`: the newest version to consider (the catalog's — a newer commit in the log
    that recovery did not accept is neither read nor even parsed)."""
    from datetime import datetime

    from deltalake import DeltaTable

    from core.errors import Hint, NotFound

    latest = log_version(path)
    if upto is not None:
        latest = min(latest, upto)
    if latest < 0:
        raise NotFound(f"dataset {name} has no table at {path}", hint=Hint("resync it", "resync", {"name": name}))
    if as_of is None:
        target: int | datetime = latest
    elif isinstance(as_of, int):
        if not 0 <= as_of <= latest:
            raise NotFound(f"{name} has no version {as_of} — its versions run 0 to {latest}",
                           hint=Hint("{its version list} shows them", "versions", {"name": name}))
        target = as_of
    else:
        try:
            target = datetime.fromisoformat(as_of.strip())
        except ValueError:
            raise NotFound(f"{as_of!r} is neither a version (v3) nor a time (2026-01-31T12:00) — "
                           f"give one of those for {name}") from None
        if target.tzinfo is None:
            target = target.astimezone()  # local time, as the user meant it
        try:
            history = [h for h in (_log_commit_info(path, v) for v in range(latest + 1))
                       if h and isinstance(h.get("timestamp"), int)]
        except ValueError as e:
            raise NotFound(f"{name} cannot be read as of {as_of} ({str(e).splitlines()[0]})") from None
        if not history:
            raise NotFound(f"{name} has no commit history to read as of {as_of}")
        first_ms = min(h["timestamp"] for h in history)
        at_ms = target.timestamp() * 1000
        if at_ms < first_ms:
            first = datetime.fromtimestamp(first_ms / 1000).astimezone().isoformat(timespec="seconds")
            raise NotFound(f"{name} did not exist at {as_of} — its first version is from {first}")
        # the newest version committed at or before that time, by the commit timestamps that
        # `versions` shows (delta-rs would use the log files' mtimes, which can be later)
        target = max(h["version"] for h in history if h["timestamp"] <= at_ms)
    try:
        dt = DeltaTable(str(path), version=target)
        missing = [u for u in dt.file_uris() if not Path(u.removeprefix("file://")).exists()]
    except Exception as e:
        if as_of is None:
            raise NotFound(f"dataset {name} has no readable table at {path}",
                           hint=Hint("resync it", "resync", {"name": name})) from None
        raise NotFound(f"{name} cannot be read as of {as_of} ({str(e).splitlines()[0]})") from None
    if missing and as_of is not None:
        raise NotFound(f"{name} as of {as_of} is no longer readable: a compaction's vacuum "
                       f"removed {len(missing)} of its data files (they were past the retention)")
    return dt
