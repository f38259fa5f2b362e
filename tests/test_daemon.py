"""The headless daemon over real sockets: `lakehouse serve` in its own process, the CLI
through `--remote`, a standard-library client speaking JSON-RPC, and everything a
misbehaving client can send."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vector_data import write_profiles

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


class Served:
    """`lakehouse serve` in a subprocess, stopped with SIGTERM."""

    def __init__(self, home: Path, env: dict | None = None, *args: str, sock: str | None = None):
        self.home = home
        self.sock = sock or str(home.parent / "d.sock")  # beside the root, in tmp_path (sockets cap paths at 108 bytes)
        self.env = {**os.environ, "LAKEHOUSE_HOME": str(home), **(env or {})}
        self.proc = subprocess.Popen([LAKEHOUSE, "serve", "--socket", self.sock, *args], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not _answers(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"daemon did not start: {self.proc.communicate()[1]}")
            time.sleep(0.05)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err

    def cli(self, *args: str, remote: bool = True, input: str | None = None, env: dict | None = None):
        argv = [LAKEHOUSE, *(["--remote", self.sock] if remote else []), *args]
        p = subprocess.run(argv, capture_output=True, text=True, input=input,
                           env={**self.env, "COLUMNS": "200", **(env or {})}, timeout=120)
        return p.returncode, p.stdout, p.stderr


def _answers(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


class Client:
    """What a script needs: the standard library, one JSON object per line."""

    def __init__(self, address):
        if isinstance(address, tuple):
            self.sock = socket.create_connection(address)
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(address)
        self.sock.settimeout(60)
        self.file = self.sock.makefile("rb")
        self.n = 0

    def send(self, obj) -> int:
        self.n += 1
        msg = obj if isinstance(obj, dict) else {"jsonrpc": "2.0", "id": self.n, "method": obj[0], "params": obj[1]}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        return msg.get("id")

    def read(self) -> dict:
        line = self.file.readline()
        assert line, "the server closed the connection"
        return json.loads(line)

    def call(self, method: str, params=None, notes: list | None = None):
        rid = self.send((method, params if params is not None else {}))
        while True:
            msg = self.read()
            if msg.get("id") == rid:
                return msg
            if notes is not None:
                notes.append(msg)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def people(home, data):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[ollama]\nretries = 1\n[daemon]\nmax_line_mb = 1\nshutdown_grace_s = 1.0\n")
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        lh.ingest(write_profiles(data / "people.csv", 200), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
    return home


@pytest.fixture
def served(people, ollama):
    d = Served(people, {"OLLAMA_HOST": ollama.url})
    yield d
    d.stop()


# -- the CLI through --remote ----------------------------------------------------------------
def test_remote_after_the_subcommand_and_a_query_that_looks_like_a_path(served):
    code, out, err = served.cli("sql", "--remote", served.sock, "SELECT 6/3 AS x", remote=False)
    assert code == 0 and "2.0" in out, err
    code, out, err = served.cli("sql", "SELECT 6/3 AS x", "--remote", remote=False,
                                env={"XDG_RUNTIME_DIR": ""})  # this root's default socket: none listens there
    assert code == 1 and "no daemon answers at" in err and "lakehouse serve --detach" in err


def test_a_big_result_travels_as_arrow_frames(served):
    q = "SELECT range AS i, 'row ' || range AS s FROM range(300000)"
    code, out, err = served.cli("sql", q, "--format", "csv")
    assert code == 0, err
    assert out == served.cli("sql", q, "--format", "csv", remote=False)[1]
    assert out.count("\n") == 300001
    c = Client(served.sock)
    c.send(("sql_stream", {"text": q}))
    frames, rows = 0, 0
    import pyarrow as pa

    while True:
        msg = c.read()
        if msg.get("method") == "frame":
            data = c.file.read(msg["params"]["bytes"])
            rows += pa.ipc.open_stream(data).read_all().num_rows
            frames += 1
        else:
            break
    assert msg["result"] == {"$frames": {"rows": 300000, "frames": frames}} and rows == 300000 and frames > 1


def test_status_and_a_second_daemon_on_the_same_root(served):
    code, out, err = served.cli("status", remote=False, env={"XDG_RUNTIME_DIR": ""})
    assert code == 0 and f"pid {served.proc.pid}" in out and served.sock in out
    code, out, err = served.cli("status", "--format", "json", remote=False)
    st = json.loads(out)
    assert st["running"] and st["pid"] == served.proc.pid and st["clients"] >= 1
    second = subprocess.run([LAKEHOUSE, "serve", "--socket", served.sock + "2"], env=served.env,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "a daemon already serves" in second.stderr


# -- the protocol, from a standard-library client ------------------------------------------
def test_stdlib_client_sql_rows_and_dataclasses(served):
    c = Client(served.sock)
    r = c.call("sql_rows", {"text": "SELECT 1 AS one, DATE '2024-01-02' AS d, 2.5::DECIMAL(4,1) AS m"})
    assert r["result"] == {"columns": ["one", "d", "m"], "types": ["int32", "date32[day]", "decimal128(4, 1)"],
                           "rows": [[1, "2024-01-02", "2.5"]], "row_count": 1}
    r = c.call("dataset", ["people"])
    assert r["result"]["$type"] == "Dataset" and r["result"]["row_count"] == 200
    r = c.call("describe", {"name": "people", "sample_rows": 2})
    assert len(r["result"]["sample"]["$table"]["rows"]) == 2
    assert c.call("ping")["result"] == "pong"
    methods = c.call("methods")["result"]
    assert {"sql", "sql_rows", "search", "ask", "embed", "ingest", "activate"} <= set(methods)


def test_ask_tokens_and_embed_progress_arrive_in_order_before_the_response(served, ollama):
    ollama.chat_replies = ["Someone migrated clusters [1] and another ran Terraform [2]."]
    c = Client(served.sock)
    notes: list = []
    r = c.call("ask", {"question": "who has run a kubernetes migration?", "mode": "rag", "on_token": True}, notes)
    tokens = [n["params"]["text"] for n in notes if n["method"] == "token"]
    assert len(tokens) > 3 and "".join(tokens) == r["result"]["answer"]
    assert all(n["params"]["id"] == r["id"] for n in notes)
    notes = []
    r = c.call("embed", {"dataset": "people", "column": "profile", "index": "people2", "embedder": "hashing",
                         "progress": True}, notes)
    assert "result" in r, r
    done = [n["params"]["event"]["done"] for n in notes if n["method"] == "progress"]
    assert done and done == sorted(done) and notes[0]["params"]["event"]["$type"] == "ProgressEvent"


def test_bad_requests_get_errors_and_the_server_stays_up(served):
    c = Client(served.sock)
    c.sock.sendall(b"{not json\n")
    assert c.read()["error"]["code"] == -32700
    c.sock.sendall(b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]\n')
    assert c.read()["error"]["code"] == -32600
    c.sock.sendall(b'{"id": 2, "method": "ping"}\n')
    assert "jsonrpc" in c.read()["error"]["message"]
    assert c.call("no_such_method")["error"]["code"] == -32601
    r = c.call("dataset", {"nam": "people"})
    assert r["error"]["code"] == -32602 and "dataset(name)" in r["error"]["message"]
    r = c.call("dataset", ["nope"])
    assert r["error"]["code"] == -32000 and r["error"]["data"]["type"] == "NotFound" and "nope" in r["error"]["message"]
    # a value of the wrong JSON type is the client's mistake (-32602), never a daemon bug (-32603)
    for params, says in [({"text": "SELECT 1", "limit": "x"}, "'limit' must be an integer"),
                         ({"text": "SELECT 1", "limit": True}, "'limit' must be an integer"),
                         ({"text": ["SELECT 1"]}, "'text' must be a string")]:
        r = c.call("sql_rows", params)
        assert r["error"]["code"] == -32602 and says in r["error"]["message"], r
    r = c.call("sql_rows", {"text": "DROP TABLE people"})
    assert r["error"]["code"] == -32000 and r["error"]["data"]["type"] == "SqlError"
    assert c.call("ping")["result"] == "pong"  # the same connection still works
    big = Client(served.sock)
    try:
        big.sock.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "' + b"a" * (2 << 20) + b'"}}\n')
    except BrokenPipeError:  # the server hung up before taking it all
        pass
    err = big.read()["error"]
    assert err["code"] == -32600 and "over 1 MiB" in err["message"]
    assert _hung_up(big)
    assert Client(served.sock).call("ping")["result"] == "pong"


def test_silent_vanishing_and_flooding_clients_do_not_hurt_others(served):
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(served.sock)  # connects and never says a word
    half = socket.socket(socket.AF_UNIX)
    half.connect(served.sock)
    half.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "pi')  # half a line, then nothing
    leaver = Client(served.sock)
    leaver.send(("sql_stream", {"text": "SELECT range AS i FROM range(50000000)", "batch_rows": 1000}))
    assert leaver.read()["method"] == "frame"
    leaver.close()  # gone in the middle of a stream
    flood = Client(served.sock)
    n = 3000
    flood.sock.sendall(b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}).encode() + b"\n"
                                for i in range(n)))
    other = Client(served.sock)
    assert other.call("sql_rows", {"text": "SELECT count(*) FROM people"})["result"]["rows"] == [[200]]
    ids = sorted(flood.read()["id"] for _ in range(n))
    assert ids == list(range(n))
    assert served.proc.poll() is None
    st = other.call("status")["result"]
    assert st["clients"] >= 4
    silent.close()
    half.close()


def test_fifty_concurrent_clients_get_their_own_results(served):
    failures: list = []

    def worker(i: int) -> None:
        try:
            c = Client(served.sock)
            for j in range(10):
                q = f"SELECT {i} AS client, {j} AS round, count(*) FILTER (WHERE years > {j}) AS n FROM people"
                r = c.call("sql_rows", {"text": q})
                assert "result" in r, r
                row = r["result"]["rows"][0]
                if row[:2] != [i, j]:
                    failures.append((i, j, row))
            c.close()
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            failures.append((i, repr(e)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    expected = Client(served.sock).call("sql_rows", {"text": "SELECT count(*) FILTER (WHERE years > 3) FROM people"})
    assert expected["result"]["rows"][0][0] > 0


ENDLESS = "SELECT sum(hash(range)) FROM range(100000000000)"  # hours of work: only a cancel ends it


def _cancelled(r: dict, rid) -> bool:
    return (r.get("id") == rid and r["error"]["code"] == -32000 and r["error"]["data"]["type"] == "Cancelled"
            and r["error"]["data"]["exit_code"] == 130 and "cancelled by its client" in r["error"]["message"])


def test_cancel_stops_a_running_query(served):
    c = Client(served.sock)
    rid = c.send(("sql_rows", {"text": ENDLESS}))
    time.sleep(0.3)  # most likely running by now; the answer must be the same if it is not
    c.send({"jsonrpc": "2.0", "method": "cancel", "params": {"id": rid}})
    assert _cancelled(c.read(), rid)
    assert c.call("sql_rows", {"text": "SELECT 42"})["result"]["rows"] == [[42]]  # the engine still works


def test_a_cancel_that_arrives_before_the_query_starts_still_stops_it(people):
    """Issue 13: a cancel that came while the first query was still warming the engine
    was lost (DuckDB forgets an interrupt that precedes a query). Every request here is
    cancelled right after it is sent — on a fresh daemon (its engine not built yet), while
    queued behind a busy worker, and then many times over; each must answer Cancelled."""
    with open(people / "lakehouse.toml", "a") as f:
        f.write("workers = 1\n")  # [daemon] is the file's last section: one worker, so requests queue
    d = Served(people)
    try:
        c = Client(d.sock)
        cancel = lambda rid: {"jsonrpc": "2.0", "method": "cancel", "params": {"id": rid}}  # noqa: E731
        first = c.send(("sql_rows", {"text": ENDLESS}))  # the daemon's first query: it warms the engine
        c.send(cancel(first))
        assert _cancelled(c.read(), first)
        busy = c.send(("sql_rows", {"text": ENDLESS}))  # takes the only worker
        queued = c.send(("sql_rows", {"text": ENDLESS}))  # waits for it
        c.send(cancel(queued))
        c.send(cancel(busy))
        answers = {m["id"]: m for m in (c.read(), c.read())}
        assert _cancelled(answers[busy], busy) and _cancelled(answers[queued], queued)
        for i in range(30):  # request and cancel in one write, in separate writes, on stream and rows
            method = ("sql_rows", "sql_stream")[i % 2]
            rid = c.n + 1
            line = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": {"text": ENDLESS}})
            c.n = rid
            if i % 3:
                c.sock.sendall(line.encode() + b"\n" + json.dumps(cancel(rid)).encode() + b"\n")
            else:
                c.sock.sendall(line.encode() + b"\n")
                c.send(cancel(rid))
            msg = c.read()
            while msg.get("method") == "frame":  # sql_stream: a frame could only precede the error
                c.file.read(msg["params"]["bytes"])
                msg = c.read()
            assert _cancelled(msg, rid), (i, msg)
        assert c.call("sql_rows", {"text": "SELECT count(*) FROM people"})["result"]["rows"] == [[200]]
    finally:
        code, err = d.stop()
    assert code == 0, err


# -- permissions ----------------------------------------------------------------------------
def test_socket_is_private_and_tcp_needs_the_token(people, ollama):
    port = _free_port()
    d = Served(people, {"OLLAMA_HOST": ollama.url}, "--tcp", f"127.0.0.1:{port}")
    try:
        assert stat.S_IMODE(os.stat(d.sock).st_mode) == 0o600
        token_file = people / "daemon.token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        c = Client(("127.0.0.1", port))
        r = c.call("sql_rows", {"text": "SELECT 1"})
        assert r["error"]["code"] == -32001 and "daemon.token" in r["error"]["message"]
        assert _hung_up(c)
        c = Client(("127.0.0.1", port))
        assert c.call("auth", {"token": "wrong"})["error"]["message"].startswith("wrong token")
        assert _hung_up(c)
        c = Client(("127.0.0.1", port))
        assert c.call("auth", {"token": token_file.read_text().strip()})["result"] == {"ok": True}
        assert c.call("sql_rows", {"text": "SELECT 41 + 1"})["result"]["rows"] == [[42]]
        p = subprocess.run([LAKEHOUSE, "--remote", f"127.0.0.1:{port}", "sql", "SELECT 7 AS seven"],
                           capture_output=True, text=True, env=d.env)  # the CLI reads the token file itself
        assert p.returncode == 0 and "│ 7 " in p.stdout, p.stderr
    finally:
        d.stop()


def test_silent_tcp_connections_are_closed_and_capped_so_clients_get_in(people):
    """Connections that never authenticate are closed at the deadline, and past the cap a
    new one is refused at once: a flood of idle sockets cannot lock real clients out."""
    with open(people / "lakehouse.toml", "a") as f:
        f.write("auth_timeout_s = 1.0\nmax_connections = 20\n")
    port = _free_port()
    d = Served(people, None, "--tcp", f"127.0.0.1:{port}")
    idle: list[socket.socket] = []
    try:
        for _ in range(30):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=60))
        said = []
        for s in idle:  # each is either refused now (over the cap) or closed at the deadline
            said.append(s.makefile("rb").readline().decode())
        assert all(line.startswith('{"jsonrpc"') for line in said)
        refused = [x for x in said if "max_connections" in x]
        timed_out = [x for x in said if "no auth within 1 s" in x]
        assert len(refused) + len(timed_out) == 30 and len(refused) >= 10
        assert Client(d.sock).call("ping")["result"] == "pong"  # and real clients get in afterwards
    finally:
        for s in idle:
            s.close()
        d.stop()


@pytest.mark.skipif(os.getuid() != 0 or not os.access("/usr/bin/python3", os.X_OK),
                    reason="needs root and a system python to run a client as another user")
def test_another_user_is_refused_by_peer_credentials(people):
    import shutil
    import tempfile

    where = tempfile.mkdtemp(prefix="lhd")  # the other user must reach it: not under the private tmp_path
    served = Served(people, sock=os.path.join(where, "d.sock"))
    try:
        os.chmod(where, 0o755)  # even when the file modes would let them in
        os.chmod(served.sock, 0o777)
        # the refusal comes as soon as it connects (sending first could race the hang-up)
        code = "import socket; s=socket.socket(socket.AF_UNIX); s.connect(%r); print(s.makefile().readline())" % served.sock
        p = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, user=65534, timeout=30)
        assert "this daemon serves only its own user" in p.stdout, p.stderr
        assert Client(served.sock).call("ping")["result"] == "pong"
    finally:
        served.stop()
        shutil.rmtree(where, ignore_errors=True)


# -- lifecycle ------------------------------------------------------------------------------
def test_a_crashed_daemons_socket_is_replaced(people):
    d = Served(people)
    d.proc.kill()  # SIGKILL: the socket file stays behind
    d.proc.wait()
    assert os.path.exists(d.sock) and not _answers(d.sock)
    again = subprocess.Popen([LAKEHOUSE, "serve", "--socket", d.sock], env=d.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _answers(d.sock) and time.monotonic() < deadline and again.poll() is None:
        time.sleep(0.05)
    assert Client(d.sock).call("ping")["result"] == "pong"
    again.send_signal(signal.SIGTERM)
    assert again.wait(60) == 0
    assert not os.path.exists(d.sock) and not (people / "daemon.json").exists()


def test_sigterm_during_a_job_checkpoints_it_and_exits_cleanly(people, ollama):
    (people / "lakehouse.toml").write_text("[ollama]\nretries = 1\nembed_batch = 4\n[daemon]\nshutdown_grace_s = 0.3\n")
    ollama.delay = 0.05
    d = Served(people, {"OLLAMA_HOST": ollama.url})
    c = Client(d.sock)
    c.send(("embed", {"dataset": "people", "column": "profile", "index": "slow", "embedder": "ollama",
                      "progress": True}))
    while True:
        msg = c.read()
        if msg.get("method") == "progress" and msg["params"]["event"]["done"] > 0:
            break
    code, err = d.stop()
    assert code == 0, err
    assert not os.path.exists(d.sock)
    ollama.delay = 0
    from core import Lakehouse

    with Lakehouse.open(home=people) as lh:
        job = next(j for j in lh.jobs() if j.kind == "embed" and j.target == "slow")
        assert job.status == "cancelled"
        before = len(ollama.embedded_inputs)
        r = lh.embed("people", "profile", index="slow", embedder="ollama")
        assert 0 < r.embedded < r.chunks  # what was stored before the stop is not embedded again
        assert len(ollama.embedded_inputs) - before < 200


def test_tui_connects_to_the_daemon(served):
    import asyncio

    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import config
    from test_tui import until

    cfg = config.load(home=served.home)

    async def go():
        app = LakehouseApp(opener=lambda: remote.connect(cfg, served.sock))
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            assert isinstance(app.lh, remote.RemoteLakehouse)
            await pilot.press("f3")
            await pilot.pause()
            editor = app.query_one("#sql-editor-1") if app.query("#sql-editor-1") else app.query("TextArea").first()
            editor.text = "SELECT count(*) AS n FROM people"
            editor.focus()
            await pilot.press("ctrl+j")
            await until(pilot, lambda: app.query("#sql-table") and app.query_one("#sql-table").row_count == 1)

    asyncio.run(go())


def _hung_up(c: Client) -> bool:
    try:
        return c.file.readline() == b""
    except ConnectionResetError:  # closed with our unread bytes in its buffer
        return True


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_protocol_doc_lists_every_method():
    from app.daemon.methods import SERVER_METHODS as _SERVER_METHODS, facade_methods

    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text()
    missing = [m for m in [*facade_methods(), *_SERVER_METHODS] if f"`{m}`" not in doc]
    assert missing == []


def test_auto_connect_uses_a_running_daemon_and_falls_back_without_one(people):
    sock = str(people.parent / "auto.sock")
    with open(people / "lakehouse.toml", "a") as f:
        f.write(f'socket = "{sock}"\nauto_connect = true\n')  # appends to the [daemon] section
    env = {**os.environ, "LAKEHOUSE_HOME": str(people), "COLUMNS": "200"}
    alone = subprocess.run([LAKEHOUSE, "sql", "SELECT count(*) AS n FROM people"], capture_output=True, text=True, env=env)
    assert alone.returncode == 0 and "200" in alone.stdout  # no daemon: in-process
    d = subprocess.Popen([LAKEHOUSE, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _answers(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        before = Client(sock).call("status")["result"]["requests"]
        via = subprocess.run([LAKEHOUSE, "sql", "SELECT count(*) AS n FROM people"], capture_output=True, text=True, env=env)
        assert via.stdout == alone.stdout
        assert Client(sock).call("status")["result"]["requests"] >= before + 3  # session, sql_rows (+ this status)
    finally:
        d.send_signal(signal.SIGTERM)
        assert d.wait(60) == 0
