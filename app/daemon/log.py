"""The daemon's log: where it goes (daemon.log, capped and rotated, for a detached daemon;
else stderr) and a rate limit for the events a client can cause, so no flood grows it."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import time
from pathlib import Path

from . import places


class LimitedLog:
    """One log line per kind of event per `every` seconds, with a count of the ones held
    back: a flood of failed accepts or refused connections cannot grow daemon.log."""

    def __init__(self, logger: logging.Logger, every: float = 10.0):
        self.logger, self.every = logger, every
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, kind: str, message: str, exc_info=None) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.last.get(kind, -1e9) < self.every:
                self.held[kind] = self.held.get(kind, 0) + 1
                return
            self.last[kind] = now
            held = self.held.pop(kind, 0)
        if held:
            message += f" (and {held} more like it in the last {self.every:g} s)"
        self.logger.warning(message, exc_info=exc_info)


class _RotatingLog(logging.handlers.RotatingFileHandler):
    """daemon.log, capped and rotated. A detached daemon's stdout and stderr are that
    file too (`serve --detach` starts it so): after each rotation they are pointed at the
    new file, so nothing keeps writing to a rotated one."""

    def __init__(self, path: Path, max_bytes: int, backups: int, fds: tuple[int, ...] = ()):
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self.fds = fds

    def doRollover(self) -> None:
        super().doRollover()
        if self.stream is not None:
            self.stream.flush()
            for fd in self.fds:
                os.dup2(self.stream.fileno(), fd)


def setup_logging(cfg, stream=None, fds: tuple[int, ...] | None = None) -> logging.Handler:
    """Where the daemon logs: <root>/daemon.log (capped at [daemon] log_max_mb, with
    log_backups rotated files) when its stderr is that file (a detached daemon), else
    its stderr."""
    stream = sys.stderr if stream is None else stream
    path = places.log_file(cfg.root)
    handler: logging.Handler
    try:
        st, mine = os.fstat(stream.fileno()), os.stat(path)
        detached = (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)
    except (OSError, ValueError, AttributeError):
        detached = False
    if detached:
        handler = _RotatingLog(path, int(cfg.get("daemon.log_max_mb") * 1024 * 1024), cfg.get("daemon.log_backups"),
                               (1, 2) if fds is None else fds)
    else:
        handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    return handler
