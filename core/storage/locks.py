"""One writer at a time per storage root (an advisory file lock, released on crash)."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def write_lock(root: Path, on_wait: Callable[[], None] | None = None,
               poll: float = 0.1) -> Iterator[None]:
    """Hold the root's write lock. `on_wait` runs while another process holds it
    (it may raise Cancelled to give up)."""
    fd = os.open(root / ".write.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait:
                    on_wait()
                time.sleep(poll)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def try_write_lock(root: Path) -> int | None:
    """Take the root's write lock without waiting; return the fd to close, or None if busy."""
    return try_lock(root / ".write.lock")


def try_lock(path: Path, mode: int = 0o600) -> int | None:
    """Take the exclusive lock on `path` (created if need be) without waiting; return
    the fd whose closing releases it, or None when another process holds it. Every
    one-at-a-time lock (the root's writer, an index's builder, an activation, the
    daemon) is one of these: released by the kernel if its holder dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
        return None
