"""Which files an ingest reads: literal paths, our own glob expansion, folder walks.

- A path that exists is read as itself, glob characters and all (a file named `*.csv`
  or `a[1].csv` is one file). Only a path that does not exist and holds `*`, `?` or `[`
  is a pattern, and it is expanded here, never by DuckDB: `*`, `?` and `[...]` match
  within one name (not a leading '.'), `**` matches any number of folders (not hidden).
- A walk (a folder, or a pattern's `**`) enters each directory once, by (st_dev,
  st_ino), so a symlink loop ends, and says so.
- A walk never leaves its root (the folder named, or the pattern's fixed leading part)
  through a symlink: a symlink inside it that leads outside is skipped with a note.
  A symlink named explicitly is followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from core.errors import IngestError

GLOB_CHARS = "*?["


def has_magic(s: str) -> bool:
    return any(ch in s for ch in GLOB_CHARS)


def special_kind(mode: int) -> str:
    return ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")


@dataclass
class Expansion:
    files: list[tuple[Path, bool]] = field(default_factory=list)  # (path, named explicitly)
    notes: list[tuple[Path, str]] = field(default_factory=list)  # (entry skipped, one sentence)


class _Walk:
    """One walk from a root the user named: files found, entries skipped and why."""

    def __init__(self, root: Path, out: Expansion):
        self.root = root
        self.real = Path(os.path.realpath(root))
        self.out = out
        self.entered: set[tuple] = set()

    def _note(self, p: Path, why: str) -> None:
        self.out.notes.append((p, f"{p}: {why}; skipped"))

    def _inside(self, real: Path) -> bool:
        return real == self.real or real.is_relative_to(self.real)

    def _follow(self, p: Path) -> os.stat_result | None:
        """stat of what `p` leads to, or None (with a note when worth one) when the walk
        must not go there: a symlink out of the root, a broken or looping symlink."""
        try:
            st = p.stat()
        except OSError:
            if p.is_symlink():
                self._note(p, f"a symlink to {os.readlink(p)}, which does not exist or loops")
            return None
        if p.is_symlink():
            real = Path(os.path.realpath(p))
            if not self._inside(real):
                self._note(p, f"a symlink to {real}, outside {self.root} (name it explicitly to "
                              "ingest it)")
                return None
        return st

    def _dir(self, d: Path, st: os.stat_result, ancestors: frozenset, state) -> frozenset | None:
        """Enter directory `d` (reached as `st`) once per pattern state; None = do not."""
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            self._note(d, f"a symlink loop (it leads back to {os.path.realpath(d)})")
            return None
        if (key, state) in self.entered:
            return None  # reached twice (another symlink to it): walked once
        self.entered.add((key, state))
        return ancestors | {key}

    def _entries(self, d: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(d) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as e:
            self._note(d, f"cannot be listed ({e.strerror or e})")
            return []

    def _file(self, p: Path) -> None:
        st = self._follow(p)
        if st is not None and stat.S_ISREG(st.st_mode):  # never a FIFO or device: it could block
            self.out.files.append((p, False))

    # -- a folder ---------------------------------------------------------------
    def walk(self) -> None:
        st = self.root.stat()
        self._walk(self.root, self._dir(self.root, st, frozenset(), None))

    def _walk(self, d: Path, ancestors: frozenset | None) -> None:
        if ancestors is None:
            return
        for e in self._entries(d):
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            st = self._follow(p)
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode):
                self._walk(p, self._dir(p, st, ancestors, None))
            elif stat.S_ISREG(st.st_mode):
                self.out.files.append((p, False))

    # -- a pattern --------------------------------------------------------------
    def match(self, parts: list[str]) -> None:
        st = self.root.stat()
        ancestors = self._dir(self.root, st, frozenset(), len(parts))
        if ancestors is not None:
            self._match(self.root, parts, ancestors)

    def _match(self, d: Path, parts: list[str], ancestors: frozenset) -> None:
        head, rest = parts[0], parts[1:]
        if head == "**":
            if rest:
                self._match(d, rest, ancestors)  # ** matches no folder too
            for e in self._entries(d):
                if e.name.startswith("."):
                    continue
                p = Path(e.path)
                if not e.is_dir():  # follows symlinks; a broken one is not a folder
                    if not rest:
                        self._file(p)
                    continue
                st = self._follow(p)
                if st is None:
                    continue
                sub = self._dir(p, st, ancestors, len(parts))
                if sub is not None:
                    self._match(p, parts, sub)
            return
        if has_magic(head):
            names = [e.name for e in self._entries(d) if fnmatchcase(e.name, head)
                     and (head.startswith(".") or not e.name.startswith("."))]
        else:
            names = [head] if os.path.lexists(d / head) else []
        for name in names:
            p = d / name
            if not rest:
                self._file(p)
                continue
            st = self._follow(p)
            if st is None or not stat.S_ISDIR(st.st_mode):
                continue
            sub = self._dir(p, st, ancestors, len(rest))
            if sub is not None:
                self._match(p, rest, sub)


def _split(pattern: str) -> tuple[Path, list[str]]:
    """'data/2024/**/*.csv' -> (Path('data/2024'), ['**', '*.csv'])."""
    p = Path(pattern)
    parts = list(p.parts)
    i = next(i for i, part in enumerate(parts) if has_magic(part))
    root = Path(*parts[:i]) if i else Path(".")
    return root, parts[i:]


# the storage root's own entries (README "On disk"): never a source. Anything else a user
# keeps under the root (a project folder used as --home) reads as usual.
_OWN = {"tables", "vectors", "tmp", "logs", "history", "demo", "catalog.sqlite", "catalog.sqlite-wal",
        "catalog.sqlite-shm", "memory.sqlite", "memory.sqlite-wal", "memory.sqlite-shm", "policy.key",
        "lakehouse.toml", "live.lock", ".write.lock", ".activate.lock", "daemon.json", "daemon.lock",
        "daemon.token"}


def _own(rel: Path) -> bool:
    first = rel.parts[0] if rel.parts else ""
    return first in _OWN or first.startswith("daemon.log")


def fence(out: Expansion, root: Path, allowed: tuple[str, ...] = ()) -> None:
    """Keep the storage root's own files out of an ingest (its tables are every profile's
    data, its policy.key unmasks hashed columns, its catalog is no source): one named
    explicitly is refused, one a walk or a glob found is skipped with a note. `allowed`:
    own folders that may be read (the demo's sources, for a profile that sees everything)."""
    real_root = Path(os.path.realpath(root))
    kept = []
    for f, explicit in out.files:
        rel = f.relative_to(real_root) if real_root in f.parents else None
        if rel is not None and _own(rel) and rel.parts[0] not in allowed:
            if explicit:
                raise IngestError(f"{f}: one of the lakehouse's own files (under its storage root {real_root}), "
                                  "not a source — ingest a copy from elsewhere")
            out.notes.append((f, f"one of the lakehouse's own files (under {real_root}): not read"))
            continue
        kept.append((f, explicit))
    if out.files and not kept:
        raise IngestError(f"every file found is one of the lakehouse's own (under its storage root {real_root}), "
                          "not a source — ingest copies from elsewhere")
    out.files = kept


def expand(paths: list[str | Path]) -> Expansion:
    """Files to ingest as (path, named explicitly), each once (by its real path), and
    the entries a walk skipped with why. A missing path, or a pattern that matches
    nothing, is refused in one sentence."""
    out = Expansion()
    for raw in paths:
        s = str(raw)
        if not s.strip():
            raise IngestError("an empty path was given — name a file, directory or glob")
        p = Path(s).expanduser()
        if os.path.lexists(p):
            try:
                st = p.stat()
            except OSError:
                if p.is_symlink():
                    raise IngestError(f"{raw}: a symlink to {os.readlink(p)}, which does not exist "
                                      "or loops — point it at a file or folder") from None
                raise IngestError(f"{raw}: cannot be read") from None
            if stat.S_ISDIR(st.st_mode):
                _Walk(p, out).walk()
            elif stat.S_ISREG(st.st_mode):
                out.files.append((p, True))
            else:  # a FIFO, socket or device: reading it could block or never end
                raise IngestError(f"{raw}: {special_kind(st.st_mode)}, not a regular file — copy the "
                                  "data into a file and ingest that")
        elif has_magic(s):
            root, parts = _split(str(p))
            before = (len(out.files), len(out.notes))
            if root.is_dir():
                _Walk(root, out).match(parts)
            if len(out.files) == before[0]:
                skipped = [str(q) for q, _ in out.notes[before[1]:]]
                why = ""
                if skipped:
                    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
                    why = (f" (symlinks leading out of {root} or looping were not followed: "
                           f"{', '.join(skipped[:3])}{more})")
                raise IngestError(f"{raw}: no file matches this pattern{why} — check it (and quote "
                                  "it, e.g. 'dir/**/*.csv', so the shell passes it as written)")
        else:
            raise IngestError(f"{raw}: no such file or directory")
    seen: set[Path] = set()
    unique: list[tuple[Path, bool]] = []
    for f, explicit in out.files:
        key = Path(os.path.realpath(f))
        if key not in seen:
            seen.add(key)
            unique.append((key, explicit))
    out.files = unique
    return out
