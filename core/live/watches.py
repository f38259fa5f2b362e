"""One watched folder: which of its files are complete, and what happens to each.

A file is ingested only once it has settled: its size and mtime unchanged for
`[watch] settle_s` (a file renamed into place settles the same way, at once stable).
Half a file being copied keeps changing, so it waits; one that keeps growing for ten
settle intervals is reported once and still waits. Each file seen is remembered with
its size, mtime and hash (core/live/rows.py), so a restart does not ingest it again and
identical bytes stay a no-op. A file that vanishes is reported after two settle
intervals, as renamed when a file with its bytes appeared meanwhile, else as deleted;
its rows stay in the dataset.

The folder is walked recursively; the pattern applies to file names. Hidden files and
folders (.name) and names of partial downloads (*.part, *.tmp, *.crdownload, *.partial, *~) are
never picked up; symlinked folders are not followed (a loop cannot be walked into).
Every problem is one sentence in `_errors` and the watch's last outcome, said once.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.errors import Cancelled, IngestError, LakehouseError

GROWING_AFTER = 10  # settle intervals of steady change before a file is reported as still growing
_PARTIAL = (".part", ".tmp", ".crdownload", ".partial", ".download", ".swp", "~")
_HASH_MAX = 64 * 1024 * 1024  # bigger files are not hashed here (ingest hashes them as it reads)

Say = Callable[[int, str, str], None]  # (watch id, kind, one line)


def check_pattern(pattern: str) -> str:
    """A glob on file names, or one sentence saying why not."""
    bad = None
    if not isinstance(pattern, str) or not pattern.strip():
        bad = "is empty"
    elif "/" in pattern or "\\" in pattern or "\0" in pattern:
        bad = "has a path separator (it applies to file names; subfolders are walked anyway)"
    elif "**" in pattern:
        bad = "has ** (subfolders are walked anyway; the pattern applies to file names)"
    elif pattern.count("[") != pattern.count("]"):
        bad = "has an unclosed [ ]"
    if bad:
        raise IngestError(f"--pattern {pattern!r} is not a glob on file names: it {bad} — write e.g. "
                          "--pattern '*.csv'")
    return pattern


def wanted(name: str, pattern: str, sub: str = "") -> bool:
    """A file name the watch picks up (case-insensitively); `sub`: its folder below the
    watched one, none of whose parts may be hidden."""
    if any(p.startswith(".") for p in Path(sub).parts) or name.startswith(".") or name.lower().endswith(_PARTIAL):
        return False
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


@dataclass
class Pending:
    size: int
    mtime_ns: int
    since: float  # monotonic time of its last change
    first: float  # monotonic time it was first seen changing
    growing_said: bool = False


class Watch:
    """A watch's in-memory state in the runner; its rows are the truth across restarts."""

    def __init__(self, row: dict, lh, rows, settle_s: float, say: Say, cancel):
        self.id, self.row, self.lh, self.rows, self.settle_s, self.say = row["id"], row, lh, rows, settle_s, say
        self._cancel = cancel  # the runner's Stop: an ingest in flight is cancelled when it is set
        self.folder = Path(row["folder"])
        self.pending: dict[str, Pending] = {}
        self.gone: dict[str, float] = {}  # path -> monotonic time it was found missing
        self.said: set[tuple[str, str]] = set()  # (kind, path) reported once
        self.ok: bool | None = None  # the folder is there and readable (None: not looked yet)
        self.ingested: list[str] = []  # datasets written by the last step (the runner refreshes them)
        self._files: dict[str, dict] | None = None  # see known()

    # -- reporting ----------------------------------------------------------------------------
    def _report(self, kind: str, message: str, *, record: bool = False, last_error: str | None = None,
                state: str | None = None, dataset: str = "", ingested: bool = False) -> None:
        """The watch's last outcome (and its last error); `record`: also one line in `_errors`."""
        if record:
            self.lh.catalog.errors.add("watch", message, dataset=dataset)
            last_error = message
        self.rows.event(self.id, message, error=last_error, state=state, ingested=ingested)
        self.say(self.id, kind, message)

    def _once(self, kind: str, path: str, message: str, **kw) -> None:
        if (kind, path) not in self.said:
            self.said.add((kind, path))
            self._report(kind, message, record=True, **kw)

    # -- the folder ---------------------------------------------------------------------------
    def _folder_problem(self) -> str | None:
        try:
            if not self.folder.is_dir():
                return f"watched folder {self.folder} no longer exists — watching resumes when it is back"
            if not os.access(self.folder, os.R_OK | os.X_OK):
                return f"watched folder {self.folder} cannot be read (permission denied) — watching resumes " \
                       "when it can"
            os.listdir(self.folder)
        except OSError as e:
            return f"watched folder {self.folder} cannot be read ({e.strerror or e}) — watching resumes when it can"
        return None

    def check_folder(self) -> bool:
        """Whether the folder can be watched now; a change either way is reported once."""
        problem = self._folder_problem()
        was_error = self.ok is False or (self.ok is None and self.row["state"] == "error")
        if problem is not None:
            already = self.ok is None and self.row["state"] == "error" and self.row["last_error"] == problem
            if self.ok is not False and not already:
                self._report("folder", problem, record=True, state="error")
            self.ok = False
            return False
        if not self.ok:
            if was_error:
                self._report("folder", f"watched folder {self.folder} is back — watching it again", last_error="",
                             state="active")
            self.ok = True
            self.row["state"] = "active"
            self.scan()
        return True

    def scan(self) -> None:
        """Walk the folder: every wanted file not handled at its present size and mtime
        becomes pending; a handled one no longer there is noted as gone."""
        seen = self.known()
        present: set[str] = set()
        for path in self._walk():
            present.add(path)
            self.touched(path, seen.get(path))
        for path, r in seen.items():
            if path not in present and r["status"] != "gone" and path not in self.gone:
                self.gone[path] = time.monotonic()

    def _walk(self):
        def failed(e: OSError) -> None:
            where = e.filename or str(self.folder)
            if where != str(self.folder):
                self._once("unreadable", where, f"{where} cannot be read ({e.strerror or e}); its files are "
                           "not watched")
        for top, dirs, names in os.walk(self.folder, onerror=failed, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden folders are never walked
            for d in dirs:
                full = os.path.join(top, d)
                if os.path.islink(full):
                    self._symlinked_folder(full)
            for name in names:
                if wanted(name, self.row["pattern"]):
                    yield os.path.join(top, name)

    def _symlinked_folder(self, path: str) -> None:
        try:
            target = os.path.realpath(path, strict=True)
        except OSError:
            target = None
        root = os.path.realpath(self.folder)
        if target is None or target == root or target.startswith(root + os.sep) or \
                root.startswith(target + os.sep):
            self._once("symlink", path, f"{path} is a symlink loop (it leads back into {self.folder}); "
                       "not followed")
        elif target is not None and os.path.isdir(target):
            self._once("symlink", path, f"{path} is a symlink to the folder {target}; watches do not follow "
                       "symlinked folders — watch that folder itself")

    # -- files --------------------------------------------------------------------------------
    def known(self) -> dict[str, dict]:
        """The files this watch has handled, by path: read once, then kept in step with the
        writes below (only the one runner of the root writes them)."""
        if self._files is None:
            self._files = self.rows.files(self.id)
        return self._files

    def _seen(self, path: str, size: int | None = None, mtime_ns: int | None = None, sha: str | None = None,
              status: str = "", dataset: str = "", message: str = "") -> None:
        if size is None:  # only the status changes
            self.rows.set_file_status(self.id, path, status)
            self.known()[path] = dict(self.known()[path], status=status)
            return
        self.rows.seen(self.id, path, size, mtime_ns, sha, status, dataset, message)
        self.known()[path] = {"path": path, "size": size, "mtime_ns": mtime_ns, "sha256": sha, "status": status,
                              "dataset": dataset, "message": message}

    def touched(self, path: str, seen: dict | None = None) -> None:
        """A file event (or a walk's find): pending unless handled at its present state."""
        sub = os.path.relpath(os.path.dirname(path), self.folder)
        if not wanted(os.path.basename(path), self.row["pattern"], sub):
            return
        try:
            st = os.stat(path)
        except OSError as e:
            self.pending.pop(path, None)
            if e.errno == 40:  # ELOOP
                self._once("loop", path, f"{path} is a symlink loop; skipped")
            elif os.path.lexists(path) and not isinstance(e, FileNotFoundError):
                self._once("unreadable", path, f"{path} cannot be read ({e.strerror or e}); skipped")
            else:
                seen = seen if seen is not None else self.known().get(path)
                if seen is not None and seen["status"] != "gone":
                    self.gone.setdefault(path, time.monotonic())
            return
        if not stat.S_ISREG(st.st_mode):
            if not stat.S_ISDIR(st.st_mode):  # a FIFO, socket or device: reading it could block
                self._once("special", path, f"{path} is not a regular file (a FIFO, socket or device); skipped")
            return
        seen = seen if seen is not None else self.known().get(path)
        self.gone.pop(path, None)
        if seen is not None and seen["status"] != "gone" and (seen["size"], seen["mtime_ns"]) == \
                (st.st_size, st.st_mtime_ns):
            return
        now = time.monotonic()
        p = self.pending.get(path)
        if p is None:
            self.pending[path] = Pending(st.st_size, st.st_mtime_ns, now, now)
        elif (p.size, p.mtime_ns) != (st.st_size, st.st_mtime_ns):
            p.size, p.mtime_ns, p.since = st.st_size, st.st_mtime_ns, now

    def step(self, cancel: threading.Event) -> None:
        """Ingest the files that have settled; report still-growing and vanished ones."""
        self.ingested = []
        now = time.monotonic()
        for path in list(self.pending):
            if cancel.is_set():
                return
            p = self.pending[path]
            try:
                st = os.stat(path)
            except OSError:
                self.touched(path)  # gone (reported later) or unreadable (reported now)
                continue
            if (st.st_size, st.st_mtime_ns) != (p.size, p.mtime_ns):
                p.size, p.mtime_ns, p.since = st.st_size, st.st_mtime_ns, now
            if now - p.since < self.settle_s:
                if now - p.first >= GROWING_AFTER * self.settle_s and not p.growing_said:
                    p.growing_said = True
                    self._report("growing", f"{path} is still growing after {now - p.first:.0f} s — it is "
                                 "ingested once it has not changed for "
                                 f"{self.settle_s:g} s", record=True)
                continue
            del self.pending[path]
            self._ingest(path, st)
        for path, since in list(self.gone.items()):
            if now - since >= 2 * self.settle_s:
                del self.gone[path]
                self._vanished(path)

    def _vanished(self, path: str) -> None:
        r = self.known().get(path)
        if r is None or r["status"] == "gone" or os.path.exists(path):
            return
        self._seen(path, status="gone")
        where = f"; the rows it added stay in {r['dataset']}" if r["dataset"] and r["status"] == "ingested" else ""
        self._report("deleted", f"{path} was deleted or moved out of {self.folder}{where}")

    def _dataset(self, path: str) -> str | None:
        return self.row["dataset"]  # None: ingest names it from the file's stem

    def _ingest(self, path: str, st: os.stat_result) -> None:
        from core.ingest.detect import detect_format, hash_file

        try:
            detect_format(Path(path), None)
        except IngestError:
            self._seen(path, st.st_size, st.st_mtime_ns, None, "skipped")
            self._once("type", path, f"{path}: unknown file type {Path(path).suffix or '(no extension)'!r}; "
                       "skipped — supported: csv, tsv, json/ndjson/jsonl, parquet, pdf, txt, md")
            return
        sha = None
        if st.st_size <= _HASH_MAX:
            try:
                sha = hash_file(Path(path))
            except OSError as e:
                self._once("unreadable", path, f"{path} cannot be read ({e.strerror or e}); skipped")
                return
        renamed = self._renamed_from(path, sha)
        try:
            results = self.lh.ingest([path], name=self._dataset(path), mode=self.row["mode"],
                                     key=self.row["key"] or None, schema_change=self.row["schema_change"],
                                     reason=f"watch {self.id}", cancel=self._cancel.child())
        except Cancelled as e:
            if self._cancel.is_set():  # the runner is stopping: the next one picks the file up
                raise
            # a user cancelled this ingest's job: not tried again until the file changes
            message = f"{e}; {path} is tried again when it changes"
            self._seen(path, st.st_size, st.st_mtime_ns, sha, "failed", message=message)
            self._report("cancelled", message, last_error=message)
            return
        except LakehouseError as e:  # recorded in _errors by ingest
            self._seen(path, st.st_size, st.st_mtime_ns, sha, "failed", message=str(e))
            self._report("failed", str(e), last_error=str(e))
            return
        for r in results:
            self._outcome(path, st, sha, r, renamed)

    def _renamed_from(self, path: str, sha: str | None) -> str | None:
        """A vanished file of these bytes: this one is it, renamed or moved."""
        if sha is None:
            return None
        for other, r in list(self.known().items()):
            if other != path and r["sha256"] == sha and (other in self.gone or r["status"] == "gone") \
                    and not os.path.exists(other):
                self.gone.pop(other, None)
                self.rows.forget_file(self.id, other)
                self._files.pop(other, None)
                return other
        return None

    def _outcome(self, path: str, st, sha, r, renamed: str | None) -> None:
        status = r.status if r.status in ("ingested", "unchanged", "failed") else "skipped"
        self._seen(path, st.st_size, st.st_mtime_ns, sha, status, r.dataset, r.message)
        before = f"{renamed} was renamed to {path}: " if renamed else ""
        if status == "ingested":
            self.ingested.append(r.dataset)
            self._report("ingested", before + r.message, last_error="", dataset=r.dataset, ingested=True)
        elif status == "unchanged":
            self._report("unchanged", before + ("identical bytes, nothing written" if renamed else r.message))
        else:  # the ingest's sentence is in _errors already
            self._report(status, before + r.message, last_error=r.message)
