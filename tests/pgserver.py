"""A private, throwaway PostgreSQL cluster for the tests (and bench/postgres.py).

initdb into a temporary directory (as the `postgres` user when running as root: the server
refuses to run as root), a free port on 127.0.0.1 only, scram-sha-256 password auth for a
test role, `pg_ctl stop -m immediate` and the directory removed at the end — nothing left.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROLE, PASSWORD, DB = "lh", "s3cr3t-Pa55word", "lhtest"


def binaries() -> Path | None:
    """The newest PostgreSQL server's bin directory, or None when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """`with PgServer() as pg:` — pg.url(password=True|False), pg.connect() (superuser-free
    role `lh`, owner of database `lhtest`)."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or binaries()
        if self.bindir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) are installed")
        self.tmp = Path(tempfile.mkdtemp(prefix="lh-pg-"))
        self.data = self.tmp / "data"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.as_postgres = os.geteuid() == 0

    # -- running the server's tools ------------------------------------------------------
    def _run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(self.tmp))
        if check and p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
        return p

    def start(self) -> "PgServer":
        if self.as_postgres:
            shutil.chown(self.tmp, "postgres", "postgres")
        pwfile = self.tmp / "pw"
        pwfile.write_text("bootstrap-" + PASSWORD + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.tmp}'\nfsync = off\nsynchronous_commit = off\n"
                    "full_page_writes = off\nshared_buffers = 128MB\nmax_connections = 40\n"
                    "logging_collector = off\n")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.tmp / "server.log"), "-w", "-t", "60", "start")
        self.admin_sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'",
                       f"CREATE DATABASE {DB} OWNER {ROLE}")
        return self

    def admin_sql(self, *statements: str) -> None:
        """Run statements as the cluster's superuser (over its private socket directory)."""
        import psycopg

        with psycopg.connect(host=str(self.tmp), port=self.port, user="postgres", dbname="postgres",
                             password="bootstrap-" + PASSWORD, autocommit=True) as con:
            for s in statements:
                con.execute(s)

    def stop(self) -> None:
        if self.data.is_dir():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- clients -------------------------------------------------------------------------
    def url(self, password: bool = False, db: str = DB, user: str = ROLE) -> str:
        cred = f"{user}:{PASSWORD}" if password else user
        return f"postgresql://{cred}@{self.host}:{self.port}/{db}"

    def connect(self, **kw):
        import psycopg

        return psycopg.connect(**{"host": self.host, "port": self.port, "user": ROLE, "dbname": DB,
                                  "password": PASSWORD, "autocommit": True, **kw})

    def sql(self, *statements: str) -> None:
        with self.connect() as con:
            for s in statements:
                con.execute(s)


def wait_for(cond, timeout: float = 60.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(every)
    return cond()
