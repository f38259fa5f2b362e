"""The client trusts only a real daemon (issue 14, Found #9): a squatted or symlinked
runtime directory, a socket of another user and a process of another user behind our own
socket are refused by `lakehouse serve` and by the client before a byte is sent; a daemon
that takes the connection and never answers is given up on in one sentence; long calls
are never cut off while the daemon lives.

Real sockets and real processes. The runtime directory is the one a user without
XDG_RUNTIME_DIR gets, $TMPDIR/lakehouse-UID, with TMPDIR inside the test's tmp_path.
"Another user" is uid 65534 (nobody): the tests run as root, so a forked child can become
it; where they cannot (not root), those tests are skipped."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")


# -- helpers ----------------------------------------------------------------------------------
@pytest.fixture
def env(tmp_path):
    """A storage root and a TMPDIR of the test's own, no XDG_RUNTIME_DIR: the default socket
    is $TMPDIR/lakehouse-UID/<hash>.sock, inside tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "lakehouse.toml").write_text("[daemon]\nshutdown_grace_s = 1.0\nclient_timeout_s = 2.0\n"
                                         "client_connect_timeout_s = 2.0\n")
    tmp = tmp_path / "t"
    tmp.mkdir(mode=0o700)
    e = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    e.update({"LAKEHOUSE_HOME": str(home), "TMPDIR": str(tmp), "OLLAMA_HOST": "127.0.0.1:9", "COLUMNS": "200"})
    return e


def runtime(env) -> Path:
    return Path(env["TMPDIR"]) / f"lakehouse-{os.getuid()}"


def default_socket(env) -> Path:
    root = Path(env["LAKEHOUSE_HOME"]).resolve()
    return runtime(env) / f"{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.sock"


def run(env, *args, timeout=120):
    p = subprocess.run([LAKEHOUSE, *args], env=env, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def one_sentence(err: str) -> str:
    """stderr is one line, an error, no traceback."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


class Impostor:
    """A plain socket server run by another user (a forked child that became `uid`),
    bound at dirpath/name. It takes every connection, reads it to its end and reports how
    many bytes came; it answers nothing. Stopped and reaped by stop()."""

    def __init__(self, dirpath: Path, name: str, uid: int = NOBODY):
        self.path = dirpath / name
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: socket calls and os.write only, then _exit
            try:
                os.close(r)
                os.chdir(dirpath)  # as root: the parents of tmp_path are closed to nobody
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.bind(name)
                s.listen(16)
                os.write(w, b"ready\n")
                while True:
                    c, _ = s.accept()
                    c.settimeout(60)
                    got = b""
                    try:
                        while True:
                            d = c.recv(65536)
                            if not d:
                                break
                            got += d
                    except OSError:
                        pass
                    c.close()
                    if got == b"END\n":
                        os.write(w, b"end\n")
                        break
                    os.write(w, f"got {len(got)}\n".encode())
            finally:
                os._exit(0)
        os.close(w)
        self.pid, self.pipe, self.lines = pid, os.fdopen(r, "rb"), []
        assert self._line(30) == "ready"

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.pipe], [], [], timeout)
        assert ready, "the impostor did not report"
        return self.pipe.readline().decode().strip()

    def stop(self) -> list[int]:
        """Bytes received per connection, in order (every connection made before this call
        is counted: a last one marks the end of the queue)."""
        received = []
        try:
            if not self.lines:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(self.path))
                s.sendall(b"END\n")
                s.close()
                while (line := self._line(30)) != "end":
                    received.append(int(line.split()[1]))
                self.lines = received or [None]
        finally:
            self.kill()
        return received

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pipe.close()


@pytest.fixture
def impostors():
    made: list[Impostor] = []
    yield made
    for i in made:
        i.kill()


def squat(d: Path, mode: int, uid: int) -> None:
    d.mkdir()
    os.chmod(d, mode)
    os.chown(d, uid, uid)


# -- the normal path --------------------------------------------------------------------------
def test_serve_makes_a_private_runtime_dir_and_the_client_uses_it(env):
    d = runtime(env)
    daemon = subprocess.Popen([LAKEHOUSE, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 120
        while not default_socket(env).exists():
            assert daemon.poll() is None and time.monotonic() < deadline, daemon.communicate()[1]
            time.sleep(0.05)
        st = os.lstat(d)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
        code, out, err = run(env, "--remote", "sql", "SELECT 6*7 AS answer", "--format", "json")
        assert code == 0 and json.loads(out) == [{"answer": 42}], err
        code, out, err = run(env, "status", "--format", "json")
        assert code == 0 and json.loads(out)["socket"] == str(default_socket(env)), err
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err
    assert not default_socket(env).exists()


# -- squatted and symlinked runtime directories ---------------------------------------------------
SQUATS = {
    "0777-mine": (0o777, None),  # anyone could swap the socket
    "0755-mine": (0o755, None),  # still not private
    "0700-nobody": (0o700, NOBODY),  # another user's directory
    "0777-nobody": (0o777, NOBODY),  # the attack as found: another user made it first, world-writable
}


@as_root
@pytest.mark.parametrize("case", list(SQUATS))
def test_a_squatted_runtime_dir_is_refused_by_serve_and_the_client(env, case, impostors):
    mode, owner = SQUATS[case]
    d = runtime(env)
    squat(d, mode, os.getuid() if owner is None else owner)
    if mode & 0o002:  # the squatter can put a socket there: the daemon's name, their process
        impostors.append(Impostor(d, default_socket(env).name))
    code, out, err = run(env, "serve")
    line = one_sentence(err)
    assert code == 1 and str(d) in line and f"{mode:04o}" in line and "XDG_RUNTIME_DIR" in line, err
    if owner is not None:
        assert f"uid {owner}" in line
    code, out, err = run(env, "--remote", "datasets")
    line = one_sentence(err)
    assert code == 1 and str(d) in line and f"{mode:04o}" in line and out == "", err
    code, out, err = run(env, "status")  # `status` connects too: the same refusal
    assert code == 1 and str(d) in one_sentence(err)
    assert stat.S_IMODE(os.lstat(d).st_mode) == mode  # refused, not "fixed" behind the user's back
    if impostors:
        assert impostors[0].stop() == []  # never even connected to


@as_root
def test_auto_connect_refuses_a_planted_socket_instead_of_using_it(env, impostors):
    home = Path(env["LAKEHOUSE_HOME"])
    (home / "lakehouse.toml").write_text("[daemon]\nauto_connect = true\n")
    d = runtime(env)
    squat(d, 0o777, NOBODY)
    imp = Impostor(d, default_socket(env).name)
    impostors.append(imp)
    code, out, err = run(env, "datasets")
    assert code == 1 and str(d) in one_sentence(err)
    assert imp.stop() == []


def test_a_symlinked_runtime_dir_is_refused(env, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)  # even a private directory of ours: whoever made the link chose it
    runtime(env).symlink_to(target)
    code, out, err = run(env, "serve")
    line = one_sentence(err)
    assert code == 1 and "symlink" in line and str(runtime(env)) in line
    code, out, err = run(env, "--remote", "datasets")
    assert code == 1 and "symlink" in one_sentence(err)
    assert list(target.iterdir()) == []  # nothing was made through the link


def test_a_runtime_dir_that_is_a_file_is_refused(env):
    runtime(env).write_text("not a directory")
    code, out, err = run(env, "serve")
    assert code == 1 and "not a directory" in one_sentence(err)


@as_root
def test_a_configured_socket_dir_others_can_write_is_refused(env, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    code, out, err = run(env, "serve", "--socket", str(shared / "d.sock"))
    line = one_sentence(err)
    assert code == 1 and str(shared) in line and "0777" in line
    code, out, err = run(env, "--remote", str(shared / "d.sock"), "datasets")
    assert code == 1 and str(shared) in one_sentence(err)


# -- impostor sockets -------------------------------------------------------------------------
@as_root
def test_a_socket_of_another_user_is_refused_before_connecting(env, tmp_path, impostors):
    sticky = tmp_path / "sticky"  # like /tmp: anyone may create, only the owner may replace
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    imp = Impostor(sticky, "d.sock")
    impostors.append(imp)
    code, out, err = run(env, "--remote", str(imp.path), "sql", "SELECT 1")
    line = one_sentence(err)
    assert code == 1 and str(imp.path) in line and f"uid {NOBODY}" in line and out == ""
    assert imp.stop() == []  # not even a connection


@as_root
def test_a_process_of_another_user_behind_our_own_socket_gets_zero_bytes(env, tmp_path, impostors):
    """The socket file passes every check (ours, in a private directory); only the peer
    credentials tell that another user listens on it."""
    d = tmp_path / "s"
    d.mkdir()
    os.chmod(d, 0o777)  # for the impostor to bind; private again right after
    imp = Impostor(d, "d.sock")
    impostors.append(imp)
    os.chown(imp.path, os.getuid(), os.getgid())
    os.chmod(d, 0o700)
    code, out, err = run(env, "--remote", str(imp.path), "sql", "SELECT 1")
    line = one_sentence(err)
    assert code == 1 and f"uid {NOBODY}" in line and "nothing was sent" in line and out == ""
    code, out, err = run(env, "status", "--remote", str(imp.path))
    assert code == 1 and f"uid {NOBODY}" in one_sentence(err)
    assert imp.stop() == [0, 0]  # it was connected to, twice, and received nothing


@as_root
def test_a_socket_of_another_user_in_the_runtime_dir_is_refused(env, impostors):
    """Our own private runtime directory, and someone (root could) put another user's
    socket in it: the socket's owner is checked too."""
    d = runtime(env)
    d.mkdir(mode=0o700)
    os.chmod(d, 0o777)
    imp = Impostor(d, default_socket(env).name)
    impostors.append(imp)
    os.chmod(d, 0o700)
    code, out, err = run(env, "--remote", "datasets")
    assert code == 1 and f"uid {NOBODY}" in one_sentence(err)
    assert imp.stop() == []


def test_a_path_that_is_not_a_socket_is_refused(env, tmp_path):
    d = tmp_path / "p"
    d.mkdir(mode=0o700)
    (d / "d.sock").write_text("")
    code, out, err = run(env, "--remote", str(d / "d.sock"), "datasets")
    assert code == 1 and "not a socket" in one_sentence(err)


def test_the_checks_in_process(tmp_path, monkeypatch):
    """rpc's checks themselves: what passes and what does not, by name."""
    from app.daemon import trust as rpc

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() caches TMPDIR
    d = rpc.runtime_dir()
    assert d == tmp_path / f"lakehouse-{os.getuid()}"
    rpc.check_socket(str(d / "x.sock"))  # nothing there yet: nothing to refuse
    rpc.socket_dir(d / "x.sock")
    assert stat.S_IMODE(os.lstat(d).st_mode) == 0o700
    rpc.socket_dir(d / "x.sock")  # again: already there, and ours
    os.chmod(d, 0o750)
    with pytest.raises(rpc.Untrusted, match="0750"):
        rpc.check_dir(d)
    os.chmod(d, 0o700)
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(d / "x.sock"))
        s.listen(1)
        rpc.check_socket(str(d / "x.sock"))
        c = socket.socket(socket.AF_UNIX)
        try:
            c.connect(str(d / "x.sock"))
            assert rpc.peer_uid(c) == os.getuid() and rpc.same_user(c)
            rpc.check_peer(c, str(d / "x.sock"))
        finally:
            c.close()
    finally:
        s.close()


# -- a daemon that does not answer ------------------------------------------------------------------
class Silent:
    """A server of our own user that takes connections and never answers (reads and
    drops what comes, or, with answer_pings, answers `ping` at once and `slow` after
    `delay` seconds, and `session` at once)."""

    def __init__(self, path: Path, answer_pings: bool = False, delay: float = 0.0, backlog: int = 16,
                 accept: bool = True):
        self.path, self.answer_pings, self.delay = path, answer_pings, delay
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(backlog)
        self.received: list[dict] = []
        self.stopped = False
        self.conns: list[socket.socket] = []
        if accept:
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._talk, args=(c,), daemon=True).start()

    def _talk(self, c: socket.socket) -> None:
        f = c.makefile("rb")
        try:
            for raw in f:
                msg = json.loads(raw)
                self.received.append(msg)
                if not self.answer_pings:
                    continue
                reply = {"jsonrpc": "2.0", "id": msg.get("id")}
                if msg["method"] == "ping":
                    c.sendall(json.dumps({**reply, "result": "pong"}).encode() + b"\n")
                elif msg["method"] == "slow":
                    def later(reply=reply):
                        time.sleep(self.delay)
                        c.sendall(json.dumps({**reply, "result": "done"}).encode() + b"\n")
                    threading.Thread(target=later, daemon=True).start()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self.stopped = True
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def sockdir(tmp_path):
    d = tmp_path / "q"
    d.mkdir(mode=0o700)
    return d


def test_a_daemon_that_never_answers_gives_one_sentence_within_the_timeout(env, sockdir):
    silent = Silent(sockdir / "d.sock")
    try:
        started = time.monotonic()
        code, out, err = run(env, "--remote", str(silent.path), "datasets", timeout=120)
        took = time.monotonic() - started
    finally:
        silent.close()
    line = one_sentence(err)
    assert code == 1 and f"the daemon at {silent.path} did not answer within 2 s" in line and "stuck" in line
    assert took < 60  # a generous bound: the configured 2 s plus a process start, never forever
    assert [m["method"] for m in silent.received] == ["session"]


def test_a_daemon_that_never_takes_the_connection_gives_one_sentence(env, sockdir):
    silent = Silent(sockdir / "d.sock", backlog=0, accept=False)
    fillers = []
    try:
        for _ in range(4):  # fill its backlog: the next connect waits
            f = socket.socket(socket.AF_UNIX)
            f.setblocking(False)
            try:
                f.connect(str(silent.path))
            except (BlockingIOError, InterruptedError):
                pass
            fillers.append(f)
        code, out, err = run(env, "--remote", str(silent.path), "datasets", timeout=120)
    finally:
        for f in fillers:
            f.close()
        silent.close()
    line = one_sentence(err)
    assert code == 1 and str(silent.path) in line and "2 s" in line, line


def test_a_pooled_connection_the_daemon_closed_is_not_reused(sockdir):
    from app.daemon.client import Channel

    srv = Silent(sockdir / "d.sock")
    try:
        ch = Channel(str(srv.path), timeout=2)
        try:
            assert ch.idle_ok()
            deadline = time.monotonic() + 30
            while not srv.conns and time.monotonic() < deadline:
                time.sleep(0.01)
            srv.conns[0].shutdown(socket.SHUT_RDWR)  # as the daemon does past [daemon] idle_timeout_s
            deadline = time.monotonic() + 30
            while ch.idle_ok() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not ch.idle_ok()
        finally:
            ch.close()
    finally:
        srv.close()


def test_a_long_call_is_not_cut_off_while_the_daemon_answers_pings(sockdir):
    """Silence past the timeout during a long call makes the client ping; a daemon that
    answers keeps the call alive for as long as it runs, and the pongs never reach the
    caller."""
    from app.daemon.client import Channel, NoAnswer

    live = Silent(sockdir / "live.sock", answer_pings=True, delay=1.5)
    try:
        ch = Channel(str(live.path), timeout=0.3, connect_timeout=2)
        try:
            assert ch.call("slow", {}) == "done"
            assert ch.call("slow", {}) == "done"  # the channel is still in step
        finally:
            ch.close()
        assert [m["method"] for m in live.received].count("ping") >= 2
    finally:
        live.close()
    dead = Silent(sockdir / "dead.sock")
    try:
        ch = Channel(str(dead.path), timeout=0.3, connect_timeout=2)
        try:
            with pytest.raises(NoAnswer, match="did not answer within 0.3 s"):
                ch.call("slow", {})
        finally:
            ch.close()
        ch = Channel(str(dead.path), timeout=0.3)
        try:
            with pytest.raises(NoAnswer):  # a control call: no ping, the answer itself is late
                ch.call("status", {})
        finally:
            ch.close()
        methods = [m["method"] for m in dead.received]
        assert methods.count("ping") == 1 and "status" in methods
    finally:
        dead.close()


def test_a_real_long_query_outlasts_a_short_client_timeout(env):
    """Against the real daemon: a query far longer than client_timeout_s (0.2 s here) ends
    with its result, the client's pings answered on the way."""
    home = Path(env["LAKEHOUSE_HOME"])
    (home / "lakehouse.toml").write_text("[daemon]\nshutdown_grace_s = 1.0\nclient_timeout_s = 0.2\n")
    sock = Path(env["TMPDIR"]) / "d.sock"
    daemon = subprocess.Popen([LAKEHOUSE, "serve", "--socket", str(sock)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not sock.exists():
            assert daemon.poll() is None and time.monotonic() < deadline, daemon.communicate()[1]
            time.sleep(0.05)
        q = "SELECT count(*) AS n FROM range(10000) a, range(10000) b WHERE (a.range * 7 + b.range) % 1000003 = 5"
        code, out, err = run(env, "--remote", str(sock), "sql", q, "--format", "json")
        assert code == 0 and json.loads(out)[0]["n"] > 0, err
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)


@as_root
def test_a_socket_dir_under_a_directory_others_can_write_is_refused(env, tmp_path):
    """Our own 0700 directory, inside one anybody may write (not sticky): another user
    could rename ours away and put theirs in its place."""
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    mine = open_dir / "mine"
    mine.mkdir(mode=0o700)
    code, out, err = run(env, "serve", "--socket", str(mine / "d.sock"))
    line = one_sentence(err)
    assert code == 1 and f"{open_dir} above it" in line and "0777" in line
    code, out, err = run(env, "--remote", str(mine / "d.sock"), "datasets")
    assert code == 1 and f"{open_dir} above it" in one_sentence(err)
    env = {**env, "TMPDIR": str(mine)}  # the default runtime dir, the same way
    code, out, err = run(env, "serve")
    assert code == 1 and f"{open_dir} above it" in one_sentence(err)
