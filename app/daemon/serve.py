"""`lakehouse serve`'s entry: run a daemon in this process until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from .log import setup_logging
from .server import Daemon


def _raise_fd_limit() -> None:
    """Take the hard limit of open files (up to 65,536): connections are capped by
    [daemon] max_connections, not by a low soft limit."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass


def serve(home=None, config_file=None, socket_path=None, tcp=None, announce=None, profile=None) -> None:
    """Run a daemon in this process until SIGTERM or SIGINT. If a worker is still stuck
    (a query DuckDB would not interrupt, a call blocked outside it) when the grace period
    ends, the process leaves with os._exit(0) once the socket and daemon.json are gone."""
    d = Daemon(home, config_file, socket_path, tcp, profile)
    setup_logging(d.cfg)
    _raise_fd_limit()
    d.claim()
    d.open_facade()
    asyncio.run(d.main(ready=(lambda: announce(d)) if announce else None))
    if d.hard_exit:
        print("daemon stopped", file=sys.stderr)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
