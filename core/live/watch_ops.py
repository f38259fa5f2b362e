"""The facade's watched-folder operations (a part of `core.Lakehouse`): add, list, pause,
resume and remove watches, and say which process runs them. The watching itself is
core/live/runner.py, run by `lakehouse serve`, a TUI that is not connected to a daemon,
or `lakehouse watch run`."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.api import operation
from core.errors import IngestError, NotFound

MODES = ("append", "upsert", "replace")
POLICIES = ("refuse", "additive")


@dataclass
class WatchInfo:
    """One watched folder, its settings and how its last event went."""

    id: int
    folder: str
    pattern: str
    dataset: str | None  # None: each file's stem names its dataset
    mode: str
    key: list[str] = field(default_factory=list)
    schema_change: str = "refuse"
    state: str = "active"  # active | paused | error
    created_at: str = ""
    last_event_at: str | None = None
    last_outcome: str = ""
    last_error: str = ""
    files: int = 0  # files it has seen and handled
    ingested: int = 0  # files that wrote rows
    gone: int = 0  # files it had handled that were deleted or moved out since (their rows stay)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, row: dict) -> "WatchInfo":
        return cls(row["id"], row["folder"], row["pattern"], row["dataset"], row["mode"],
                   [k for k in row["key"].split(",") if k], row["schema_change"], row["state"], row["created_at"],
                   row["last_event_at"], row["last_outcome"], row["last_error"], row.get("files", 0),
                   row["ingested"], row.get("gone", 0))


class WatchOps:
    """Mixed into Lakehouse: uses its catalog, config and profile."""

    @property
    def _watch_rows(self):
        from core.live.rows import WatchRows

        rows = getattr(self, "_watch_rows_", None)
        if rows is None:
            rows = self._watch_rows_ = WatchRows(self.catalog.db)
        return rows

    @operation("watch a folder: files that settle there are ingested (those already there too); a WatchInfo",
               remote=True, scope="datasets", mutates=True)
    def watch_add(self, folder: str, *, pattern: str = "*", name: str | None = None, name_from_file: bool = False,
                  mode: str = "append", key: str | list[str] | None = None, schema_change: str = "refuse"):
        """Watch `folder` (a path as the process running watches sees it; subfolders too):
        each file whose name matches `pattern` is ingested once it is complete, into
        `name`, else the folder's name, or each file's stem with `name_from_file`."""
        from core import access
        from core.ingest.run import parse_key
        from core.live.watches import check_pattern
        from core.names import check_dataset_name, dataset_name_from_stem

        path = Path(os.path.abspath(os.path.expanduser(str(folder))))
        if not path.is_dir():
            raise NotFound(f"{path} is not a folder" if path.exists() else f"folder {path} does not exist — "
                           "create it first, or give the folder the files arrive in")
        root = Path(os.path.realpath(self.root))
        real = Path(os.path.realpath(path))
        # the root inside it is walked into unless a hidden folder holds it (hidden ones are skipped)
        walked_into = real in root.parents and not any(p.startswith(".") for p in root.relative_to(real).parts)
        if real == root or root in real.parents or walked_into:
            raise IngestError(f"{path} holds or is inside the storage root {self.root} — watch a folder of "
                              "your own files instead")
        check_pattern(pattern)
        if mode not in MODES:
            raise IngestError(f"unknown mode {mode!r} for a watch — use one of: {', '.join(MODES)}")
        if schema_change not in POLICIES:
            raise IngestError(f"unknown schema-change policy {schema_change!r} — use refuse or additive")
        if name and name_from_file:
            raise IngestError("give --name or --name-from-file, not both")
        keys = parse_key(key)
        if mode == "upsert" and not keys:
            raise IngestError("an upsert watch needs a key: pass --key COL[,COL]")
        dataset = None if name_from_file else check_dataset_name(name) if name else dataset_name_from_stem(path.name)
        access.check_ingest(self.profile, dataset)
        for w in self._watch_rows.all():
            if w["folder"] == str(path) and w["pattern"] == pattern:
                raise IngestError(f"{path} is watched already for {pattern!r} (watch {w['id']}) — remove that "
                                  "one first to change its settings")
        wid = self._watch_rows.add(str(path), pattern, dataset, mode, ",".join(keys), schema_change, self.profile.id)
        return self._watch(wid)

    @operation("the watched folders this profile sees, with their state and last outcome", remote=True,
               scope="datasets")
    def watch_list(self) -> list:
        return [WatchInfo.of(r) for r in self._watch_rows.all() if self._sees_watch(r)]

    @operation("stop watching a folder (its files' rows stay); the WatchInfo it was", remote=True,
               scope="datasets", mutates=True)
    def watch_remove(self, watch_id: int):
        info = self._watch(watch_id)
        self._watch_rows.remove(info.id)
        return info

    @operation("pause a watch: nothing is ingested until it is resumed; a WatchInfo", remote=True,
               scope="datasets", mutates=True)
    def watch_pause(self, watch_id: int):
        self._watch_rows.set_state(self._watch(watch_id).id, "paused")
        return self._watch(watch_id)

    @operation("resume a paused watch, or look again at one in error; what arrived meanwhile is ingested",
               remote=True, scope="datasets", mutates=True)
    def watch_resume(self, watch_id: int):
        info = self._watch(watch_id)
        self._watch_rows.set_state(info.id, "active")
        self._watch_rows.event(info.id, "resumed", error="")
        return self._watch(watch_id)

    @operation("the process running this root's watches and schedules: its pid and start, or nulls",
               remote=True, scope="none")
    def watch_runner(self) -> dict:
        from core.live.runner import holder

        return holder(self.root) or {"pid": None, "started_at": None}

    def _watch(self, watch_id) -> WatchInfo:
        if isinstance(watch_id, bool) or not isinstance(watch_id, (int, str)) or not str(watch_id).isdigit():
            raise NotFound(f"no watch {watch_id!r} — the watch list shows the ids there are")
        row = next((r for r in self._watch_rows.all() if r["id"] == int(watch_id)), None)
        if row is None or not self._sees_watch(row):
            raise NotFound(f"no watch {watch_id} — the watch list shows the ids there are")
        return WatchInfo.of(row)

    def _sees_watch(self, row: dict) -> bool:
        """An unrestricted profile sees every watch; a restricted one those it added."""
        return self.profile.sees_all or row["profile"] == self.profile.id
