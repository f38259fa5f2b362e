"""`lakehouse mcp` against a hostile peer: bytes that are not messages, oversized and
never-ending lines, a second initialize, calls before it, identities and arguments that
try to smuggle something, a profile bound by a masking policy, the profile's boundary,
signals and a closed stdin mid-call, SIGKILL mid-write, and a server that cannot start.
Raw stdio (a subprocess) where the SDK's client would refuse to send the bytes; the
SDK's client otherwise."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import write

pytest.importorskip("mcp")

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "probe", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
POLICY = """
[profiles.recruiter]
datasets = ["cand*"]
indexes = ["*"]

[profiles.analyst]
datasets = ["people"]
indexes = ["*"]

[policies.hr]
profiles = ["analyst"]
masks = { "people.ssn" = "last4", "people.email" = "hash", "people.salary" = "null" }
rows = { people = "state = 'CA'" }
"""
PEOPLE = """id,name,ssn,state,salary,email
1,Ann Lee,123-45-6789,CA,100000,ann@example.com
2,Bob Ray,987-65-4321,NY,200000,bob@example.com
3,Cy Dee,555-12-3456,CA,150000,cy@example.com
"""
# what the analyst must never see: raw masked values, and anything of the NY row
SECRETS = ["123-45-6789", "987-65-4321", "555-12-3456", "100000", "200000", "150000", "ann@example.com",
           "bob@example.com", "cy@example.com", "Bob Ray"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from core import Lakehouse

    h = tmp_path_factory.mktemp("mcph")
    # agents may ingest from the folder holding the root: the root's own files must still be fenced
    inbox = h.parent / f"{h.name}-inbox"
    inbox.mkdir()
    (h / "lakehouse.toml").write_text(POLICY + f'\n[mcp]\ningest_dirs = "{h.parent}, {inbox}"\n')
    (h / "in").mkdir()
    write(h / "in" / "people.csv", PEOPLE)
    write(h / "in" / "candidates.csv", "id,name,city\n1,Ann,Chicago\n2,Bo,Denver\n")
    write(h / "in" / "payroll.csv", "id,salary\n1,100\n")
    with Lakehouse.open(home=h) as lh:
        lh.ingest([str(h / "in" / "people.csv")], key="id")
        lh.ingest([str(h / "in" / "candidates.csv")], key="id")
        lh.ingest([str(h / "in" / "payroll.csv")])
        lh.update("people", "2", {"salary": "210000"}, reason="raise")  # a change to a hidden row
        lh.embed("people", "name", index="people_names", embedder="hashing")
    return h


class Peer:
    """`lakehouse mcp` as a subprocess spoken to in raw lines."""

    def __init__(self, home: Path, *args: str, env: dict | None = None):
        self.p = subprocess.Popen([LAKEHOUSE, "mcp", "--home", str(home), *args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={**os.environ, "OLLAMA_HOST": "127.0.0.1:9", **(env or {})})

    def send(self, msg) -> None:
        self.p.stdin.write(msg if isinstance(msg, bytes) else json.dumps(msg).encode() + b"\n")
        self.p.stdin.flush()

    def recv(self, timeout: float = 30.0) -> dict:
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        assert ready, "no answer from the server"
        return json.loads(self.p.stdout.readline())

    def ask(self, msg, timeout: float = 30.0) -> dict:
        self.send(msg)
        return self.recv(timeout)

    def init(self) -> dict:
        got = self.ask(INIT)
        self.send(INITIALIZED)
        return got

    def call(self, rid, tool: str, **args) -> dict:
        return self.ask({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                         "params": {"name": tool, "arguments": args}})

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """Close stdin; (exit code, the rest of stdout, stderr)."""
        if not self.p.stdin.closed:
            self.p.stdin.close()
        rc = self.p.wait(timeout)
        return rc, self.p.stdout.read().decode(), self.p.stderr.read().decode()


@contextmanager
def peer(home: Path, *args: str, **kw):
    p = Peer(home, *args, **kw)
    try:
        yield p
    finally:
        if p.p.poll() is None:
            p.p.kill()
            p.p.wait()
        for f in (p.p.stdin, p.p.stdout, p.p.stderr):
            if not f.closed:
                f.close()


def text(answer: dict) -> str:
    return answer["result"]["content"][0]["text"]


def audit_statements(home: Path) -> list[tuple[str, str, str]]:
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        t = lh.sql("SELECT statement, outcome, error FROM _audit WHERE action = 'mcp' ORDER BY ts")
        return list(zip(*(c.to_pylist() for c in t.columns)))


# -- bytes that are not messages ---------------------------------------------------------------

def test_lines_that_are_not_messages_are_answered_and_audited(home):
    with peer(home, "--profile", "recruiter") as s:
        before = s.call(1, "datasets")
        assert "before initialize" in before["error"]["message"]  # refused, saying why
        assert s.ask(b"garbage \xff\xfe\n")["error"]["code"] == -32700
        assert "not JSON" in s.ask(b"{not json\n")["error"]["message"]
        assert "nested too deeply" in s.ask(b"[" * 1_000_000 + b"\n")["error"]["message"]  # no RecursionError
        assert s.ask(b'[{"jsonrpc": "2.0", "id": 5, "method": "ping"}]\n')["error"]["code"] == -32600  # no batches
        broken = s.ask({"jsonrpc": "2.0", "id": "x", "method": "tools/call", "params": "a string"})
        assert broken["id"] == "x" and broken["error"]["code"] == -32600  # answered: the peer is not left waiting
        assert s.init()["result"]["serverInfo"]["name"] == "lakehouse"
        wrong = s.ask({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": 5, "arguments": []}})
        assert wrong["error"]["code"] == -32602
        assert "candidates" in text(s.call(3, "datasets"))  # still serving
        rc, out, err = s.finish()
    assert rc == 0 and "Traceback" not in err
    entries = audit_statements(home)
    refused = [e for e in entries if e[1] == "refused"]
    assert any("before initialize" in e[2] for e in refused)
    assert sum("not JSON" in e[2] for e in refused) >= 2 and any("not a valid JSON-RPC" in e[2] for e in refused)
    assert any("malformed tools/call" in e[2] for e in refused)
    assert not any("\ufffd" in e[0] or "garbage" in e[0] for e in entries)  # never the bytes themselves


def test_a_flood_of_refused_messages_is_answered_but_audited_within_the_budget(home, tmp_path):
    (tmp_path / "limits.toml").write_text(POLICY + "[mcp]\ncalls_per_minute = 3\n")
    before = len(audit_statements(home))
    with peer(home, "--config", str(tmp_path / "limits.toml"), "--profile", "recruiter") as s:
        s.init()
        for i in range(20):
            assert s.ask(f"flood {i}\n".encode())["error"]["code"] == -32700
        s.finish()
    flood = [e for e in audit_statements(home)[before:] if "not JSON" in e[2] or "not audited singly" in e[2]]
    assert len(flood) == 4 and "17 refused messages" in flood[-1][2]


def test_an_oversized_or_endless_line_is_dropped_without_holding_it(home):
    with peer(home, "--profile", "recruiter") as s:
        s.init()
        huge = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "sql_rows", "arguments": {"text": "SELECT '" + "x" * 20_000_000 + "'"}}}
        assert "over 4 MB" in s.ask(huge)["error"]["message"]
        for _ in range(25):  # 50 MB and no newline yet
            s.p.stdin.write(b"y" * 2_000_000)
        s.p.stdin.flush()
        rss = int(Path(f"/proc/{s.p.pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024
        assert "over 4 MB" in s.ask(b"\n")["error"]["message"]
        assert "candidates" in text(s.call(2, "datasets"))
        big = s.call(3, "sql_rows", text="SELECT repeat('x', 100000) FROM range(200)", limit=200)
        assert big["result"]["isError"] and "over the 8 MB a tool result may carry" in text(big)
        rc, _, err = s.finish()
    assert rss < 400 and rc == 0 and "Traceback" not in err


# -- a profile a masking policy binds ------------------------------------------------------------

def _leaks(value) -> list[str]:
    blob = json.dumps(value, default=str)
    return [s for s in SECRETS if s in blob]


PROBES = [  # audit first: later entries hold this test's own arguments, which name secrets
    ("audit", {"limit": 200}),
    ("sql_rows", {"text": "SELECT * FROM people"}),
    ("sql_rows", {"text": "SELECT CAST(ssn AS INTEGER) FROM people"}),
    ("sql_rows", {"text": "SELECT CAST(email AS DATE) FROM people"}),
    ("sql_rows", {"text": "SELECT * FROM people WHERE ssn = '987-65-4321'"}),
    ("sql_rows", {"text": "SELECT * FROM people", "as_of": 0}),
    ("sql_rows", {"text": "SELECT * FROM _journal"}),
    ("describe", {"name": "people", "sample_rows": 50}),
    ("dataset", {"name": "people"}),
    ("tags", {"dataset": "people"}),
    ("history", {"name": "people"}),
    ("history", {"name": "people", "key": 2}),
    ("versions", {"name": "people"}),
    ("search", {"index": "people_names", "text": "Bob Ray", "k": 10}),
    ("search", {"index": "people_names", "text": "Bob", "k": 10, "where": "ssn = '987-65-4321'"}),
    ("search", {"index": "people_names", "text": "Bob", "k": 10, "where": "CAST(ssn AS INTEGER) > 0"}),
    ("rows_query", {"dataset": "people", "row_keys": ["2"]}),
    ("index", {"name": "people_names"}),
]


def test_a_policy_bound_profile_never_sees_a_raw_value(home):
    with peer(home, "--profile", "analyst") as s:
        s.init()
        leaked = {}
        for i, (tool, args) in enumerate(PROBES, start=1):
            got = s.call(i, tool, **args)
            if _leaks(got):
                leaked[f"{tool} {args}"] = _leaks(got)
        rows = json.loads(text(s.call(99, "sql_rows", text="SELECT id, ssn, salary FROM people ORDER BY id")))
        assert rows["rows"] == [[1, "*******6789", None], [3, "*******3456", None]]
        uris = [r["uri"] for r in s.ask({"jsonrpc": "2.0", "id": 100, "method": "resources/list"})["result"]
                ["resources"]]
        assert uris == ["lakehouse://datasets/people/schema"]
        schema = s.ask({"jsonrpc": "2.0", "id": 101, "method": "resources/read", "params": {"uri": uris[0]}})
        leaked.update({"resource": _leaks(schema)} if _leaks(schema) else {})
        rc, out, err = s.finish()
    assert leaked == {}
    assert rc == 0 and not _leaks(err)


# -- identity, arguments and tools that are not offered ------------------------------------------

def test_one_identity_per_connection_and_it_is_always_an_mcp_actor(home):
    nasty = {**INIT, "params": {**INIT["params"], "clientInfo": {"name": "root\nactor: alice", "version": "1 2"}}}
    with peer(home, "--profile", "recruiter", "--allow-writes") as s:
        s.send(nasty)
        assert s.recv()["result"]["serverInfo"]["name"] == "lakehouse"
        s.send(INITIALIZED)
        again = s.ask({**INIT, "id": 1, "params": {**INIT["params"], "clientInfo": {"name": "alice", "version": "9"}}})
        assert again["error"]["code"] == -32600 and "already initialized" in again["error"]["message"]
        for rid, tool in enumerate(("close", "open", "activate", "profile_save", "interrupt_sql", "sql"), start=2):
            assert "unknown tool" in s.call(rid, tool)["error"]["message"]
        assert "takes no argument 'actor'" in text(s.call(10, "update", name="candidates", key=1,
                                                          values={"name": "X"}, actor="alice", confirm=True))
        assert "must be true or false" in text(s.call(11, "update", name="candidates", key=1,
                                                      values={"name": "X"}, confirm="true"))
        assert "must be an object" in text(s.call(12, "update", name="candidates", key=1, values="name=X",
                                                  confirm=True))
        assert not s.call(13, "update", name="candidates", key=1, values={"name": "Ann B"}, reason="r",
                          confirm=True)["result"]["isError"]
        actors = {h["actor"] for h in json.loads(text(s.call(14, "history", name="candidates", key=1)))}
        rc, _, err = s.finish()
    assert "mcp:root-actor--alice" in actors and "alice" not in actors and rc == 0



def test_the_audit_keeps_no_secret_and_no_megabytes(home):
    with peer(home, "--profile", "recruiter", "--allow-writes") as s:
        s.init()
        s.call(1, "ingest", paths="host=127.0.0.1 port=9 user=u password=hunter5 dbname=db", table="public.t",
               name="cand_pg", reason="token: hunter6", confirm=True)
        s.call(2, "ingest", paths=["postgresql://u:hunter7@127.0.0.1:9/db"], table="t", name="cand_pg")
        s.call(3, "sql_rows", text="SELECT '" + "z" * 3_000_000 + "'")
        s.finish()
    entries = audit_statements(home)
    assert not [e for e in entries if "hunter" in e[0] + e[2]]
    assert max(len(e[0]) for e in entries) < 5000

# -- stopping: signals, a closed stdin, SIGKILL mid-write ------------------------------------------

LONG = "SELECT count(*) FROM range(100000000000) a, range(10) b"


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "eof"])
def test_a_stop_mid_query_exits_promptly_and_quietly(home, how):
    with peer(home, "--profile", "recruiter") as s:
        s.init()
        s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "sql_rows", "arguments": {"text": LONG}}})
        _wait_running(s)
        if how == "eof":
            s.p.stdin.close()
        else:
            s.p.send_signal(getattr(signal, how))
        rc, out, err = s.finish(timeout=15)  # no hang: the query is interrupted, not waited for
    assert rc == {"SIGTERM": 0, "SIGINT": 130, "eof": 0}[how], err
    assert "Traceback" not in err and "Error" not in err
    assert all(json.loads(line).get("jsonrpc") == "2.0" for line in out.splitlines())  # protocol only
    stopped = [e for e in audit_statements(home) if "range(100000000000)" in e[0]]
    assert stopped and stopped[-1][1] in ("failed", "refused")  # the interrupted call is audited


def _wait_running(s: Peer) -> None:
    """Until the server's worker is inside DuckDB (its CPU time grows)."""
    deadline = time.monotonic() + 30
    start = _cpu(s.p.pid)
    while _cpu(s.p.pid) - start < 20 and time.monotonic() < deadline:  # 0.2 s of CPU
        time.sleep(0.05)


def _cpu(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])



def test_a_client_that_stops_reading_ends_the_server_quietly(home):
    with peer(home, "--profile", "recruiter") as s:
        s.init()
        s.p.stdout.close()
        s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "datasets", "arguments": {}}})
        rc = s.p.wait(30)
        err = s.p.stderr.read().decode()
    assert rc == 0 and "stopped reading" in err and "bug" not in err


def test_sigterm_stops_a_server_whose_client_stopped_reading(home):
    """Results pile up in a full stdout pipe: the writer waits on the peer, never the exit."""
    with peer(home, "--profile", "recruiter") as s:
        s.init()
        for i in range(40):  # ~6 MB of results, far past a pipe's buffer
            s.send({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": "sql_rows",
                    "arguments": {"text": "SELECT repeat('x', 800) FROM range(200)", "limit": 200}}})
        _wait_idle(s)
        s.p.send_signal(signal.SIGTERM)
        rc = s.p.wait(30)
        err = s.p.stderr.read().decode()
    assert rc == 0 and "Traceback" not in err


def _wait_idle(s: Peer) -> None:
    """Until the server has stopped using CPU (it waits on the full pipe)."""
    deadline, last = time.monotonic() + 30, -1
    while (now := _cpu(s.p.pid)) != last and time.monotonic() < deadline:
        last = now
        time.sleep(0.3)

def test_a_call_the_client_cancels_is_interrupted_before_the_next_runs(home):
    with peer(home, "--profile", "recruiter") as s:
        s.init()
        long = LONG.replace("range(10)", "range(11)")
        s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "sql_rows", "arguments": {"text": long}}})
        _wait_running(s)
        s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1, "reason": "x"}})
        assert json.loads(text(s.call(2, "sql_rows", text="SELECT 42")))["rows"] == [[42]]
        rc, _, err = s.finish()
    assert rc == 0 and "Traceback" not in err
    entries = audit_statements(home)
    assert [e[2] for e in entries if long in e[0]] == ["cancelled by the client"]
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:  # the engine's own entry: the query did not run to its end
        got = lh.sql(f"SELECT outcome, error FROM _audit WHERE action = 'sql' AND statement = '{long}'")
        [entry] = got.to_pylist()
    assert entry["outcome"] == "failed" and "interrupt" in entry["error"].lower()

@pytest.mark.parametrize("sig,delay", [("SIGKILL", 0.0), ("SIGKILL", 0.15), ("SIGKILL", 0.4), ("SIGTERM", 0.05)])
def test_a_kill_mid_confirmed_update_leaves_the_old_or_the_new_version(home, sig, delay):
    from core import Lakehouse

    city = f"Boise{sig}{delay}"
    with peer(home, "--profile", "recruiter", "--allow-writes") as s:
        s.init()
        s.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "update", "arguments": {
            "name": "candidates", "key": 2, "values": {"city": city}, "confirm": True}}})
        time.sleep(delay)
        s.p.send_signal(getattr(signal, sig))
        rc = s.p.wait(30)
        err = s.p.stderr.read().decode()
    assert rc == (-9 if sig == "SIGKILL" else 0) and "Traceback" not in err
    with Lakehouse.open(home=home) as lh:  # recovery at open, then the dataset reads and writes
        got = lh.sql("SELECT city FROM candidates WHERE id = 2").column(0).to_pylist()
        assert got in (["Denver"], [city])
        lh.update("candidates", "2", {"city": "Denver"}, reason="back")


# -- a server that cannot start says so on stderr, never on stdout -----------------------------------

def test_a_server_that_cannot_start_says_one_sentence_on_stderr(home, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "lakehouse.toml").write_text("[mcp\nx =")
    cases = [("--home", str(tmp_path / "missing")), ("--home", str(tmp_path / "bad")),
             ("--home", str(home), "--profile", "nosuch")]
    for args in cases:
        p = subprocess.run([LAKEHOUSE, "mcp", *args], input=json.dumps(INIT) + "\n", capture_output=True,
                           text=True, timeout=60, env={**os.environ, "OLLAMA_HOST": "bogus://:x"})
        assert p.returncode != 0 and p.stdout == "", args
        assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr, args
    assert not (tmp_path / "missing").exists()  # not made by a typo in a client's config


def test_an_agent_cannot_ingest_the_lakehouses_own_files(home):
    """payroll is outside the recruiter profile: its Delta files read as a new cand_* dataset
    would carry it over the boundary (and policy.key would unmask hashed columns)."""
    with peer(home, "--profile", "recruiter", "--allow-writes") as s:
        s.init()
        tables = home / "tables"
        for i, path in enumerate([str(tables / "payroll"), str(tables / "payroll" / "*.parquet"),
                                  str(tables / ".." / "tables" / "*" / "*.parquet"), str(home.parent / "*"),
                                  str(home / "policy.key"), str(home / "lakehouse.toml"),
                                  [str(home / "catalog.sqlite")]]):
            got = text(s.call(i, "ingest", paths=path, name="cand_x", format="parquet", confirm=True))
            assert "storage root" in got or "lakehouse's own" in got, (path, got)
        assert "cand_x" not in text(s.call(20, "datasets"))
        s.finish()


def test_an_agent_ingests_only_from_the_folders_a_person_opened(home, tmp_path):
    """`confirm` is the agent's own word: without [mcp] ingest_dirs it may read no file and reach
    no database; with it, only files inside those folders."""
    outside = write(tmp_path / "outside.csv", "id,name\n9,Zed\n")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "lakehouse.toml").write_text(POLICY)
    with peer(bare, "--profile", "recruiter", "--allow-writes") as s:
        s.init()
        got = text(s.call(1, "ingest", paths=str(outside), name="cand_z", confirm=True))
        assert "no folder is open to agents" in got and "ingest_dirs" in got
        s.finish()
    with peer(home, "--profile", "recruiter", "--allow-writes") as s:
        s.init()
        got = text(s.call(1, "ingest", paths="postgresql://u:hunter3@127.0.0.1:9/db", table="t", name="cand_pg",
                          confirm=True))
        assert "not a file path" in got and "hunter" not in got
        got = text(s.call(2, "ingest", paths="/etc/hostname", name="cand_h", confirm=True))
        assert "outside the folders open to agents" in got
        new = write(home.parent / f"{home.name}-inbox" / "cand_new.csv", "id,name\n7,Ida\n")
        got = text(s.call(3, "ingest", paths=str(new), name="cand_new", confirm=True))
        assert "cand_new" in text(s.call(4, "datasets")), got
        s.finish()


def test_a_malformed_ollama_host_is_one_sentence_not_a_bug(home):
    with peer(home, "--profile", "recruiter", env={"OLLAMA_HOST": "bogus://:x"}) as s:
        s.init()
        said = text(s.call(1, "ask", question="how many candidates?"))
        rc, out, err = s.finish()
    assert "OLLAMA_HOST" in said and "bug" not in said
    assert rc == 0 and "Traceback" not in err
