"""Ctrl-C (SIGINT) and SIGTERM during every kind of job, sent to real processes: the CLI,
the TUI and the daemon end with "cancelled" (CLI: exit 130), the job is recorded
`cancelled`, nothing is half-written, and the next run resumes where it can.

A job reaches a known phase deterministically through the test-only hook
LAKEHOUSE_TEST_PAUSE_AT=<kind>:<phase> (core/ops/jobs.py, Job.pause_point): the job says
"test pause at …" in its catalog row and waits there until it is cancelled. The tests
wait for that row, then signal. Ctrl-C is sent the way a terminal sends it: byte 0x03
written to the pty the process has as its controlling terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")
WAIT = 120  # generous: the suite must pass on a loaded machine
NOTES = 12_000  # rows of the `texts` dataset
BUGS = ("Traceback", "Segmentation", "Fatal Python error", "Aborted", "unexpected", "KeyError")


# -- helpers ----------------------------------------------------------------------------------
class Proc:
    """`lakehouse ARGS` in its own session; with `tty`, on a pty that is its controlling
    terminal (so Ctrl-C can be typed), its output collected by a reader thread."""

    def __init__(self, home: Path, *args: str, pause: str | None = None, tty: bool = False,
                 env: dict | None = None):
        self.home = home
        e = {**os.environ, "LAKEHOUSE_HOME": str(home), "COLUMNS": "160", **(env or {})}
        if pause:
            e["LAKEHOUSE_TEST_PAUSE_AT"] = pause
        self.master = None
        self.chunks: list[bytes] = []
        if tty:
            self.master, slave = pty.openpty()
            e["TERM"] = "xterm-256color"
            self.p = subprocess.Popen([LAKEHOUSE, *args], env=e, stdin=slave, stdout=slave, stderr=slave,
                                      start_new_session=True, preexec_fn=_take_tty)
            os.close(slave)
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()
        else:
            self.p = subprocess.Popen([LAKEHOUSE, *args], env=e, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            self.chunks.append(data)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def signal(self, sig: int) -> None:
        self.p.send_signal(sig)

    def finish(self) -> tuple[int, str, str]:
        """Wait for the exit: (code, stdout, stderr); on a pty both are the terminal's text."""
        if self.master is None:
            out, err = self.p.communicate(timeout=WAIT)
            return self.p.returncode, out.decode(errors="replace"), err.decode(errors="replace")
        self.p.wait(WAIT)
        self.reader.join(10)
        text = b"".join(self.chunks).decode(errors="replace")
        return self.p.returncode, text, text

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(WAIT)
        if self.master is not None:
            os.close(self.master)
            self.master = None
        for f in (self.p.stdout, self.p.stderr):
            if f is not None:
                f.close()


def _take_tty() -> None:  # in the child, after setsid: the pty becomes its controlling terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _rows(home: Path, sql: str, args=()) -> list:
    try:
        con = sqlite3.connect(f"file:{home / 'catalog.sqlite'}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
    except sqlite3.Error:  # not created yet
        return []


def wait_paused(proc: Proc, phase: str) -> str:
    """The id of the job waiting at the test pause `phase`."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        rows = _rows(proc.home, "SELECT id FROM jobs WHERE status = 'running' AND message = ?",
                     (f"test pause at {phase}",))
        if rows:
            return rows[0][0]
        if proc.p.poll() is not None:
            raise AssertionError(f"the process ended before reaching {phase}: {proc.finish()}")
        time.sleep(0.05)
    raise AssertionError(f"no job reached {phase} within {WAIT} s")


def lakehouse(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command; one that hangs is made to print every thread's stack (faulthandler on
    SIGABRT) so the failure says where it was stuck."""
    argv = [LAKEHOUSE, *args]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         env={**os.environ, "LAKEHOUSE_HOME": str(home), "COLUMNS": "160", "PYTHONFAULTHANDLER": "1",
                              **(env or {})})
    try:
        out, err = p.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGABRT)
        out, err = p.communicate(timeout=30)
        raise AssertionError(f"`lakehouse {' '.join(args)}` hung for {WAIT} s; where it was:\n{err}") from None
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def jobs(home: Path) -> dict[str, dict]:
    r = lakehouse(home, "jobs", "--format", "json")
    assert r.returncode == 0, r.stderr
    return {j["id"]: j for j in json.loads(r.stdout)}


def assert_cancelled(code: int, err: str) -> None:
    assert code == 130, err
    assert "cancelled" in err, err
    for bad in BUGS:
        assert bad not in err, err


def datasets(home: Path) -> list[str]:
    r = lakehouse(home, "datasets", "--format", "json")
    assert r.returncode == 0, r.stderr
    return [d["name"] for d in json.loads(r.stdout)]


def tables_on_disk(home: Path) -> list[str]:
    d = home / "tables"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


@pytest.fixture
def big_csv(data) -> Path:
    import duckdb

    path = data / "big.csv"
    duckdb.sql(f"COPY (SELECT i AS id, 'name ' || i AS name, i * 1.5 AS amount, "
               f"'text of row ' || (i % 997) AS note FROM range(300000) t(i)) TO '{path}' (HEADER)")
    return path


@pytest.fixture
def texts(home, data) -> Path:
    """A keyed dataset of short texts: six embedding batches, two HNSW slices."""
    import duckdb

    path = data / "notes.csv"
    duckdb.sql(f"COPY (SELECT i AS id, 'note ' || i || ' about ' || (['python', 'java', 'go', 'sql'])[1 + i % 4] "
               f"|| ' number ' || (i % 313) AS body FROM range({NOTES}) t(i)) TO '{path}' (HEADER)")
    r = lakehouse(home, "ingest", str(path), "--key", "id")
    assert r.returncode == 0, r.stderr
    return path


# -- ingest -----------------------------------------------------------------------------------
def test_ctrl_c_in_a_terminal_cancels_an_ingest_mid_write_and_a_rerun_completes(home, big_csv):
    p = Proc(home, "ingest", str(big_csv), pause="ingest:write", tty=True)
    try:
        job = wait_paused(p, "ingest:write")
        p.type(b"\x03")  # Ctrl-C as the terminal sends it: SIGINT to the foreground group
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert jobs(home)[job]["status"] == "cancelled"
    assert datasets(home) == [] and tables_on_disk(home) == []  # nothing half-written

    r = lakehouse(home, "ingest", str(big_csv))
    assert r.returncode == 0, r.stderr
    assert "300,000 rows" in r.stdout


def test_sigterm_while_duckdb_reads_a_big_csv_cancels_or_lets_it_finish_whole(home, big_csv):
    """No pause: the signal lands wherever the ingest is (binding, reading, the Delta write).
    Either it is cancelled with nothing written, or it had finished — never half of it."""
    p = Proc(home, "ingest", str(big_csv), "--key", "id")
    try:
        deadline = time.monotonic() + WAIT
        while not _rows(home, "SELECT id FROM jobs WHERE kind = 'ingest'") and p.p.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        p.signal(signal.SIGTERM)
        code, out, err = p.finish()
    finally:
        p.kill()
    (job,) = jobs(home).values()
    if code == 130:
        assert_cancelled(code, err)
        assert job["status"] == "cancelled"
        assert datasets(home) == [] and tables_on_disk(home) == []
    else:
        assert code == 0, err
        assert job["status"] == "succeeded" and datasets(home) == ["big"]
    for bad in BUGS:
        assert bad not in err, err


def test_three_quick_ctrl_cs_still_end_cancelled_with_nothing_half_written(home, big_csv):
    p = Proc(home, "ingest", str(big_csv), pause="ingest:write")
    try:
        job = wait_paused(p, "ingest:write")
        for _ in range(3):  # the third may stop the process at once: still recorded, still clean
            p.signal(signal.SIGINT)
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert jobs(home)[job]["status"] == "cancelled"
    assert datasets(home) == []
    r = lakehouse(home, "ingest", str(big_csv))  # the next start cleans what a stop at once left
    assert r.returncode == 0, r.stderr
    assert datasets(home) == ["big"]


# -- embed ------------------------------------------------------------------------------------
def test_ctrl_c_between_embedding_batches_keeps_them_and_the_rerun_continues(home, texts):
    p = Proc(home, "embed", "notes", "-c", "body", pause="embed:batches")
    try:
        job = wait_paused(p, "embed:batches")
        p.signal(signal.SIGINT)
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert "run the same command again to continue" in err
    assert jobs(home)[job]["status"] == "cancelled"
    listed = json.loads(lakehouse(home, "index", "list", "--format", "json").stdout)
    assert all(g["status"] != "ready" for i in listed for g in i["generations"])  # no generation to search

    r = lakehouse(home, "embed", "notes", "-c", "body", "--format", "json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["chunks"] == NOTES and 0 < res["reused"] and res["embedded"] == NOTES - res["reused"]
    assert lakehouse(home, "index", "verify", "notes_body").returncode == 0
    assert not list((home / "vectors" / "notes_body").glob(".g*.building"))


def test_sigterm_during_the_hnsw_build_keeps_the_vectors_and_the_rerun_embeds_nothing(home, texts):
    p = Proc(home, "embed", "notes", "-c", "body", pause="embed:hnsw")
    try:
        job = wait_paused(p, "embed:hnsw")
        p.signal(signal.SIGTERM)
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert "HNSW" in err and "kept" in err
    row = jobs(home)[job]
    assert row["status"] == "cancelled" and row["unit"] == "vectors" and 0 < row["done"] < NOTES

    r = lakehouse(home, "embed", "notes", "-c", "body", "--format", "json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["embedded"] == 0 and res["reused"] == NOTES
    assert lakehouse(home, "index", "verify", "notes_body").returncode == 0


# -- demo -------------------------------------------------------------------------------------
def test_demo_cancelled_while_generating_then_while_ingesting_then_continues(home):
    p = Proc(home, "demo", "--scale", "0.01", pause="demo:generate")
    try:
        job = wait_paused(p, "demo:generate")
        p.signal(signal.SIGINT)
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert jobs(home)[job]["status"] == "cancelled"
    assert not [f for f in (home / "demo").rglob("*") if f.is_file()]  # no temporary file left

    p = Proc(home, "demo", "--scale", "0.01", pause="ingest:write")
    try:
        ingest = wait_paused(p, "ingest:write")
        p.signal(signal.SIGTERM)
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert "run `lakehouse demo` again" in err
    rows = jobs(home)
    assert rows[ingest]["status"] == "cancelled"
    assert [j["status"] for j in rows.values() if j["kind"] == "demo"] == ["cancelled", "cancelled"]
    assert datasets(home) == [] and tables_on_disk(home) == []

    r = lakehouse(home, "demo", "--scale", "0.01")
    assert r.returncode == 0, r.stderr
    assert {"candidates", "timesheets", "documents"} <= set(datasets(home))
    assert lakehouse(home, "index", "verify", "resumes").returncode == 0


# -- activation -------------------------------------------------------------------------------
@pytest.fixture
def profile(home, texts):
    r = lakehouse(home, "embed", "notes", "-c", "body", "--index", "notes", "--kind", "exact")
    assert r.returncode == 0, r.stderr
    r = lakehouse(home, "profile", "create", "reader", "--datasets", "notes", "--indexes", "notes")
    assert r.returncode == 0, r.stderr
    return "reader"


def active_profile(home: Path) -> str:
    r = lakehouse(home, "profile", "list", "--format", "json")
    assert r.returncode == 0, r.stderr
    return next(p["id"] for p in json.loads(r.stdout) if p["active"])


def test_ctrl_c_during_activation_keeps_the_previous_profile(home, profile):
    p = Proc(home, "profile", "activate", profile, "--wait", pause="activate:indexes", tty=True)
    try:
        job = wait_paused(p, "activate:indexes")
        p.type(b"\x03")
        code, _, err = p.finish()
    finally:
        p.kill()
    assert_cancelled(code, err)
    assert jobs(home)[job]["status"] == "cancelled"
    assert active_profile(home) == "default"
    r = lakehouse(home, "profile", "activate", profile, "--wait")
    assert r.returncode == 0, r.stderr
    assert active_profile(home) == profile


# -- commands that are not jobs ---------------------------------------------------------------
def test_ctrl_c_during_a_long_query_says_cancelled_once(home, texts):
    p = Proc(home, "sql", "SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3", tty=True)
    try:
        deadline = time.monotonic() + WAIT
        # the catalog is open: imports are done and the query is about to run or running
        while not any("catalog.sqlite" in _target(p.p.pid, fd) for fd in _fds(p.p.pid)):
            assert p.p.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        p.type(b"\x03")
        code, _, out = p.finish()
    finally:
        p.kill()
    assert code == 130, out
    assert out.count("cancelled") == 1, out
    for bad in BUGS + ("error:",):
        assert bad not in out, out


def _fds(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []


def _target(pid: int, fd: str) -> str:
    """What an open fd points at ("" when it closed since it was listed)."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


# -- the TUI ----------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["sigterm", "ctrl+q"])
def test_quitting_the_tui_during_an_activation_cancels_it_cleanly(home, profile, how):
    p = Proc(home, "tui", pause="activate:indexes", tty=True, env={"LINES": "40"})
    try:
        deadline = time.monotonic() + WAIT
        while b"in-process" not in b"".join(p.chunks):  # the status bar: the facade is open
            assert p.p.poll() is None and time.monotonic() < deadline, p.chunks
            time.sleep(0.1)
        while not _rows(home, "SELECT id FROM jobs WHERE kind = 'activate'"):
            assert p.p.poll() is None and time.monotonic() < deadline, p.chunks
            p.type(b"\x0f")  # ctrl+o: the profile picker; pick "reader"
            time.sleep(1)
            p.type(b"reader\r")
            settle = time.monotonic() + 10
            while not _rows(home, "SELECT id FROM jobs WHERE kind = 'activate'") and time.monotonic() < settle:
                time.sleep(0.1)
        job = wait_paused(p, "activate:indexes")
        if how == "sigterm":
            p.signal(signal.SIGTERM)
        else:
            p.type(b"\x11")  # ctrl+q
        code, _, out = p.finish()
    finally:
        p.kill()
    assert code == 0, out
    for bad in BUGS:
        assert bad not in out, out
    assert jobs(home)[job]["status"] == "cancelled"
    assert active_profile(home) == "default"


# -- the daemon -------------------------------------------------------------------------------
class Daemon:
    """`lakehouse serve`; on SIGTERM/SIGINT it gives running requests a grace period to
    finish, then cancels them: a short one here, as the paused job would never finish."""

    def __init__(self, home: Path, pause: str):
        home.mkdir(parents=True, exist_ok=True)
        with open(home / "lakehouse.toml", "a") as f:
            f.write("\n[daemon]\nshutdown_grace_s = 0.3\n")
        self.sock = str(home.parent / "d.sock")
        self.p = Proc(home, "serve", "--socket", self.sock, pause=pause)
        deadline = time.monotonic() + WAIT
        while not os.path.exists(self.sock):
            assert self.p.p.poll() is None and time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signalling_the_daemon_during_a_remote_ingest_cancels_it(home, big_csv, sig):
    d = Daemon(home, "ingest:write")
    client = Proc(home, "--remote", d.sock, "ingest", str(big_csv))
    try:
        job = wait_paused(d.p, "ingest:write")
        d.p.signal(sig)
        code, _, err = d.p.finish()
        assert code == 0, err
        ccode, _, cerr = client.finish()
    finally:
        client.kill()
        d.p.kill()
    assert ccode != 0
    for bad in BUGS:
        assert bad not in err and bad not in cerr, (err, cerr)
    assert jobs(home)[job]["status"] == "cancelled"
    assert datasets(home) == [] and tables_on_disk(home) == []


def test_ctrl_c_on_a_remote_activation_cancels_it_in_the_daemon(home, profile):
    d = Daemon(home, "activate:indexes")
    client = Proc(home, "--remote", d.sock, "profile", "activate", profile, "--wait", tty=True)
    try:
        job = wait_paused(d.p, "activate:indexes")
        client.type(b"\x03")
        code, _, out = client.finish()
        deadline = time.monotonic() + WAIT
        while jobs(home)[job]["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        d.p.signal(signal.SIGTERM)
        dcode, _, derr = d.p.finish()
    finally:
        client.kill()
        d.p.kill()
    assert_cancelled(code, out)
    assert dcode == 0, derr
    assert jobs(home)[job]["status"] == "cancelled"
    assert active_profile(home) == "default"
