"""Every operation survives the daemon: each facade method the daemon exposes gives the
same result (type and value) and the same errors (class, message, exit code) over a real
socket as in-process, and every `lakehouse` command prints the same with `--remote`.

Two identical storage roots: L is used in-process, R is served by one `lakehouse serve`
for the module; every call is made on both, in the same order, so they stay identical.
Only volatile values (times, durations, ids, the root's own path) are normalised."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_ask import sql_reply
from test_daemon import _answers
from vector_data import write_profiles

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    from ollama_stub import OllamaStub

    from core import Lakehouse

    tmp = tmp_path_factory.mktemp("parity")
    data = tmp / "data"
    data.mkdir()
    write_profiles(data / "people.csv", 60)
    (data / "notes.csv").write_text("title,body\nfirst,no key here\nsecond,nor here\n")
    (data / "extra.csv").write_text("id,city\n1,Chicago\n2,Denver\n")
    (data / "more.csv").write_text("id,city\n3,Austin\n")
    stub = OllamaStub().start()
    local, served = tmp / "L", tmp / "R"
    local.mkdir()
    (local / "lakehouse.toml").write_text(f'[ollama]\nhost = "{stub.url}"\nretries = 1\n'
                                          "[daemon]\nshutdown_grace_s = 1.0\n"
                                          # R's daemon runs watches and schedules; refreshing stale
                                          # indexes on its own would make R's generations differ from L's
                                          "[watch]\nrefresh_s = 0.0\n"
                                          # a contract (issue 19): ingests into extra keep ids unique
                                          '[contracts.extra]\nunique = ["id"]\nmax_age = "30d"\n')
    with Lakehouse.open(home=local) as lh:
        lh.ingest([str(data / "people.csv")], key="person_id")
        lh.ingest([str(data / "notes.csv")])
        lh.embed("people", "profile", index="people", embedder="hashing")
    shutil.copytree(local, served)  # R is L, byte for byte
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "OLLAMA_"))}
    env.update(COLUMNS="160", OLLAMA_HOST="127.0.0.1:9")
    sock = str(tmp / "d.sock")  # short: socket paths are capped at 108 bytes
    daemon = subprocess.Popen([LAKEHOUSE, "serve", "--socket", sock], env={**env, "LAKEHOUSE_HOME": str(served)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _answers(sock):
            assert daemon.poll() is None and time.monotonic() < deadline, \
                f"the daemon did not start: {daemon.communicate()[1] if daemon.poll() is not None else 'timeout'}"
            time.sleep(0.05)
        yield SimpleNamespace(local=local, served=served, sock=sock, stub=stub, data=data, env=env)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=120)
        stub.stop()
    assert daemon.returncode == 0, err
    assert "Traceback" not in err, err


# -- what may differ between two runs of the same call -------------------------------------
_VOLATILE_KEYS = {"created_at", "updated_at", "started_at", "finished_at", "ts", "timestamp", "at",
                  "seconds", "build_seconds", "duration_ms", "timings_ms", "load_ms", "last_used",
                  "expires_at", "id", "job_id", "ask_id", "pid", "timings_json", "ms", "bytes",
                  "p50_us", "p95_us", "p99_us", "build_s", "peak_mem_bytes", "index_bytes",  # a trial's measured figures
                  "last_duration_s"}  # a schedule run's
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?")
_HEX_ID = re.compile(r"\b[0-9a-f]{10,12}\b")  # job and ask ids
_DURATION = re.compile(r"\d[\d.,]*\s?(ms|s|chunks/s)\b")  # durations, rates
# sizes of files that hold the root's path (documents): compression varies by a few bytes
_SIZE = re.compile(r"\b\d[\d.,]*\s?(B|KB|MB|GB)\b")


def _text(s: str, roots) -> str:
    for r in (roots.local, roots.served):
        s = s.replace(str(r), "<root>")
    s = _ISO.sub("<time>", s)
    s = _HEX_ID.sub("<id>", s)
    return _SIZE.sub("<size>", _DURATION.sub("<dur>", s))


def _norm(v, roots):
    """A result as comparable JSON: the wire's own encoding, volatile parts replaced."""
    from app.daemon import wire as rpc

    if rpc.is_arrow_reader(v):
        v = v.read_all()
    if rpc.is_arrow_table(v):
        return {"$table": [str(v.schema), v.to_pylist()]}
    v = rpc.encode(v)

    def walk(x):
        if isinstance(x, dict):
            return {k: ("<volatile>" if k in _VOLATILE_KEYS else walk(y)) for k, y in x.items()
                    if not (k == "$table" and isinstance(y, dict) and walk_table(y))}
        if isinstance(x, list):
            return [walk(y) for y in x]
        return _text(x, roots) if isinstance(x, str) else x

    def walk_table(t):  # a nested table: its rows, not its Arrow bytes (compared via rows)
        t.pop("arrow", None)
        return False
    return walk(v)


class Both:
    """Calls a facade method on L in-process and on R through the daemon, in that order."""

    def __init__(self, roots):
        from app.daemon.proxy import RemoteLakehouse

        from core import Lakehouse

        self.roots = roots
        self.local = Lakehouse.open(home=roots.local)
        self.remote = RemoteLakehouse(roots.sock)
        self.covered: set[str] = set()

    def call(self, method: str, *args, remote_args=None, **kwargs):
        from core.errors import LakehouseError

        self.covered.add(method)
        out = []
        for lh, a in ((self.local, args), (self.remote, remote_args or args)):
            try:
                out.append((True, getattr(lh, method)(*a, **kwargs)))
            except LakehouseError as e:
                out.append((False, e))
        return out

    def same(self, method: str, *args, **kwargs):
        """Both succeed with results of the same type and (normalised) value."""
        (ok_l, a), (ok_r, b) = self.call(method, *args, **kwargs)
        assert ok_l and ok_r, f"{method}: in-process {a!r}, remote {b!r}"
        assert type(a) is type(b) or (_kind(a) == _kind(b) == "arrow"), f"{method}: {type(a)} != {type(b)}"
        if isinstance(a, list) and a:
            assert {type(x) for x in a} == {type(x) for x in b}, method
        na, nb = _norm(a, self.roots), _norm(b, self.roots)
        assert na == nb, f"{method} differs:\n in-process {na}\n remote     {nb}"
        return a, b

    def fails(self, cls, method: str, *args, **kwargs):
        """Both raise the same class, with the same exit code and message."""
        (ok_l, a), (ok_r, b) = self.call(method, *args, **kwargs)
        assert not ok_l and not ok_r, f"{method}: in-process {a!r}, remote {b!r}"
        assert type(a) is cls and type(b) is cls, f"{method}: {type(a).__name__} in-process, {type(b).__name__} remote"
        assert a.exit_code == b.exit_code, method
        assert _text(str(a), self.roots) == _text(str(b), self.roots), method
        return a, b

    def close(self):
        self.local.close()
        self.remote.close()


def _kind(v) -> str:
    from app.daemon import wire as rpc

    return "arrow" if rpc.is_arrow_table(v) or rpc.is_arrow_reader(v) else type(v).__name__


def test_every_facade_method_and_its_errors_survive_the_daemon(roots):
    from core import models
    from core.profiles.activation import StepFailed
    from core.errors import Cancelled, ConfigError, LakehouseError, NameError_, NotFound, OllamaError, SqlError, \
        VectorError
    from core.datasets.mutate import MutationError, MutationResult
    from core.errors import IngestError
    from core.live.schedules import ScheduleError

    b = Both(roots)
    stub, data = roots.stub, roots.data
    try:
        # datasets: reading
        b.same("datasets")
        b.same("dataset", "people")
        b.fails(NotFound, "dataset", "nope")
        d, _ = b.same("describe", "people", 3)
        assert isinstance(d, models.Description)
        b.fails(NotFound, "describe", "nope")
        b.same("versions", "people")
        b.same("history", "people")
        # byte counts: the catalog's WAL and Parquet compression of the root's own path vary
        (ok_l, du_l), (ok_r, du_r) = b.call("disk_usage")
        assert ok_l and ok_r and du_l.keys() == du_r.keys() and all(isinstance(v, int) for v in du_r.values())
        b.same("resync", "people")
        b.same("annotate", "people", description="workers and their skills", owner="ops", tags=["hr"])
        # column sensitivity tags (issue 19): listed, set by a person, refused in one sentence
        b.same("tags")
        b.same("tag", "people", "state", "pii", reason="parity")
        b.same("tags", "people")
        b.fails(NotFound, "tag", "people", "nope", "pii")
        b.fails(LakehouseError, "tag", "people", "state", "secret")
        b.same("policy")  # what binds the profile: nothing here (tests/test_policies.py has the rest)
        # SQL
        b.same("sql", "SELECT state, count(*) AS n, sum(years) AS y FROM people GROUP BY state ORDER BY state")
        b.same("column_profile", "people", "years")  # issue 20: figures and a histogram
        b.same("column_profile", "people", "state")  # text: top values
        b.fails(NotFound, "column_profile", "people", "nope")
        b.same("sql_stream", "SELECT person_id, years FROM people ORDER BY person_id", batch_rows=7)
        b.same("sql_rows", "SELECT person_id, DATE '2024-01-02' AS d, 2.5::DECIMAL(4,1) AS m FROM people "
                           "ORDER BY person_id", limit=3)
        b.fails(SqlError, "sql_rows", "DROP TABLE people")
        b.fails(SqlError, "sql", "SELECT * FROM nope")
        b.fails(SqlError, "sql_stream", "SELECT 1; SELECT 2")
        # ingest (paths are the client's; both sides read the same files)
        pv, _ = b.same("ingest_preview", str(data / "extra.csv"))  # issue 20: schema and first rows
        assert pv["rows"] == [[1, "Chicago"], [2, "Denver"]]
        b.fails(IngestError, "ingest_preview", str(data))  # a folder: pick a file
        b.fails(IngestError, "ingest_preview", "postgresql://lh@127.0.0.1:9/db")  # a URL needs --table or --query
        b.fails(IngestError, "ingest_preview", str(data / "extra.csv"), table="t")  # a table is a database's
        r, _ = b.same("ingest", [str(data / "extra.csv")], key="id", reason="parity")
        assert isinstance(r[0], models.IngestResult)
        b.same("ingest", [str(data / "extra.csv")], key="id")  # identical bytes: unchanged
        b.same("ingest", [str(data / "more.csv")], name="extra", mode="upsert", key="id")
        b.fails(NameError_, "ingest", [str(data / "more.csv")], name="Bad Name!")
        gone = threading.Event()
        gone.set()  # cancelled before it starts: the job is recorded as cancelled on both sides
        b.fails(Cancelled, "ingest", [str(data / "more.csv")], name="never", cancel=gone)
        # contracts, freshness and retention (issue 19): a refused append, the checks, the job
        (data / "dup.csv").write_text("id,city\n1,Boston\n")
        refused, _ = b.same("ingest", [str(data / "dup.csv")], name="extra", mode="append")
        assert refused[0].status == "failed" and refused[0].violations[0]["rule"] == "unique"
        b.same("contracts")
        b.same("freshness")
        b.same("check_contract")
        b.same("check_contract", "extra")
        b.fails(NotFound, "check_contract", "people")
        b.same("run_retention")
        # schedules (issue 18): made, run now (identical bytes: unchanged), paused, resumed, removed
        sch, _ = b.same("schedule_add", str(data / "extra.csv"), "1h", name="extra", mode="upsert", key="id")
        b.same("schedule_run", sch.id, progress=lambda ev: None)
        for op in ("schedule_pause", "schedule_resume", "schedule_list", "schedule_remove"):
            b.same(op, *(() if op == "schedule_list" else (sch.id,)))
        b.fails(ScheduleError, "schedule_add", str(data / "extra.csv"), "5x")
        b.fails(NotFound, "schedule_run", 99)
        # mutations: MutationResult and MutationError
        m, _ = b.same("update", "people", "P00001", {"state": "ZZ"}, reason="moved")
        assert isinstance(m, MutationResult) and m.changes
        b.same("delete", "people", "P00002", reason="left")
        b.fails(MutationError, "update", "notes", "first", {"body": "x"})  # no primary key
        b.fails(NotFound, "delete", "nope", "1")
        version = b.local.dataset("people").table_version
        b.same("restore_preview", "people", version=version - 2)
        b.fails(LakehouseError, "restore_preview", "people")  # neither version nor as_of
        b.same("restore", "people", version=version - 2)
        b.fails(LakehouseError, "restore", "people")  # neither version nor as_of
        b.same("history", "people", "P00001")
        b.same("compact", "people")
        # hot cache
        b.same("pin", "people")
        b.same("cache")
        b.same("unpin", "people")
        b.fails(NotFound, "pin", "nope")
        # vectors
        b.same("indexes")
        b.same("index", "people")
        b.fails(NotFound, "index", "nope")
        s, _ = b.same("search", "people", "kubernetes migration", 5)
        assert isinstance(s, models.SearchResult) and s.hits
        b.same("search", "people", "terraform", 3, where="state = 'IL'")
        b.fails(NotFound, "search", "nope", "text")
        e, _ = b.same("embed", "people", "profile", index="people", chunk_size=200, overlap=20, embedder="hashing",
                      promote=False, progress=lambda ev: None)
        assert isinstance(e, models.EmbedResult)
        b.fails(VectorError, "embed", "people", "no_such_column", embedder="hashing")
        b.same("compare", "people@g1", "people@g2", "kubernetes", 5)
        b.same("promote", "people", 2)
        b.same("rollback", "people")
        b.same("rebuild_index", "people", 1)
        b.same("verify_index", "people")
        b.same("drop_index", "people", 2)
        b.same("vector_cache")
        # indexes that stay fresh (issue 18)
        b.same("set_auto_refresh", "people", False)
        b.same("refresh")
        b.same("refresh", index="people")
        b.same("set_auto_refresh", "people", True)
        b.fails(NotFound, "set_auto_refresh", "nope", True)
        # trials (issue 16): an eval set, a trial, its listing, its graph promoted, then rolled back
        b.same("eval_create", "people", 6, k=5)
        b.same("evals", "people")
        b.fails(NotFound, "eval_create", "nope")
        tr, rtr = b.same("trial", "people", 8, 40, [10, 20], progress=lambda ev: None)
        b.same("trials", "people")
        b.fails(VectorError, "trial", "people", 1, 40, [20])
        b.same("trial_promote", tr.id, remote_args=(rtr.id,))
        b.fails(NotFound, "trial_promote", "nope")
        b.fails(VectorError, "autotune", "people", budget="0")  # a run's figures are volatile: tests/test_autotune.py
        b.same("rollback", "people")
        # playbook memory (issue 17): upsert, a boosted search, versions, retirement, the journal
        m, rm = b.same("memory_add", "people", "kubernetes placement", ["P00003"], scope={"state": "TX"})
        b.same("memory_add", "people", "kubernetes placement", ["P00003"], scope={"state": "TX"})  # a NOOP
        b.fails(VectorError, "memory_add", "people", "kubernetes placement", ["nope"])
        b.same("search", "people", "kubernetes migration", 5, where="state = 'TX'", memory=True)
        v2, rv2 = b.same("memory_revise", m.id, approach="asked references", remote_args=(rm.id,))
        b.same("memory_history", m.id, remote_args=(rm.id,))
        b.same("memory_show", v2.id, remote_args=(rv2.id,))
        b.same("memory_list", "people", "all")
        b.same("memory_search", "people", "kubernetes")
        b.same("memory_retire", v2.id, reason="the client left", remote_args=(rv2.id,))
        b.fails(VectorError, "memory_retire", v2.id, reason="again", remote_args=(rv2.id,))
        b.same("memory_retire", index="people", where="operation LIKE 'k%'", reason="none left")
        d, rd = b.same("memory_add", "people", "added by mistake", ["P00004"])
        b.same("memory_delete", d.id, reason="a mistake", remote_args=(rd.id,))
        b.fails(NotFound, "memory_delete", d.id, reason="again", remote_args=(rd.id,))
        b.same("memory_journal")
        b.fails(NotFound, "memory_show", 999)
        b.same("rows_query", "people", ["P00003", "P00004"])
        b.fails(LakehouseError, "rows_query", "notes", ["x"])
        stub.fail_next(1000, 500, "model runner crashed")  # Ollama refuses every embedding
        b.fails(OllamaError, "embed", "people", "profile", index="people_o", embedder="ollama")
        stub.reset_counters()
        stub.chat_replies = ["Workers, their skills and where they are."] * 2
        b.same("draft_description", "notes")  # a description drafted by the chat model
        # ask (the Ollama stand-in writes the SQL) and accept
        stub.chat_replies = [sql_reply("SELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state"),
                             "Twelve per state."] * 2
        a, ra = b.same("ask", "how many per state?", mode="sql")
        assert isinstance(a, models.AskResult) and a.outcome == "answered"
        b.same("accept", a.id, remote_args=(ra.id,))
        stub.chat_replies = [sql_reply("DELETE FROM people")] * 2
        b.fails(LakehouseError, "ask", "remove everyone", mode="sql")  # unsafe SQL: refused, nothing run
        b.fails(NotFound, "accept", "nope")
        b.same("models")
        b.same("ollama_status")
        # profiles, activation and its step failures
        b.same("profiles")
        b.same("profile_show", "default")
        b.fails(NotFound, "profile_show", "nope")
        b.same("profile_save", "analyst", {"datasets": ["people"], "indexes": ["people"]}, create=True)
        b.same("profile_save", "analyst", {"description": "reads people"}, create=False)
        b.fails(ConfigError, "profile_save", "Bad Name", {"datasets": ["people"]}, create=True)
        b.fails(LakehouseError, "profile_save", "analyst", {"datasets": ["x"]}, create=True)  # exists
        b.same("check_activate", "analyst")  # an unrestricted holder may: None on both sides
        b.same("activate", "analyst", progress=lambda ev: None)
        b.same("datasets")  # now scoped to the analyst profile
        b.same("activate", "default")
        # a failed job (its chat model is not installed), then its retry once it is
        b.same("profile_save", "broken", {"datasets": ["people"], "chat_model": "later-model"}, create=True)
        b.fails(StepFailed, "activate", "broken")
        jobs, remote_jobs = b.same("jobs", 20)
        failed = [next(j.id for j in js if j.kind == "activate" and j.status == "failed") for js in (jobs, remote_jobs)]
        b.same("job", failed[0], remote_args=(failed[1],))
        b.same("cancel_job", failed[0], remote_args=(failed[1],))  # not running: False
        stub.add_model("later-model")
        retried = b.same("retry_job", failed[0], remote_args=(failed[1],))
        b.fails(LakehouseError, "retry_job", *[(r["job_id"],) for r in retried][0],
                remote_args=(retried[1]["job_id"],))  # that one succeeded: nothing to retry
        b.fails(NotFound, "job", "nope")
        b.fails(NotFound, "cancel_job", "nope")
        b.same("activate", "default")
        b.same("profile_delete", "broken")
        b.fails(NotFound, "profile_delete", "nope")
        b.same("audit", limit=5)
        b.fails(LakehouseError, "audit", since="yesterday")
        b.same("errors", limit=10)
        b.fails(LakehouseError, "errors", since="soon")
        # watched folders (issue 18): R's daemon runs its watches, L has no runner; an empty folder
        # keeps the two alike (tests/test_live_watch.py watches files arrive)
        (data / "inbox").mkdir(exist_ok=True)
        w, rw = b.same("watch_add", str(data / "inbox"), pattern="*.csv", name="inbox")
        b.same("watch_list")
        b.same("watch_pause", w.id, remote_args=(rw.id,))
        b.same("watch_resume", w.id, remote_args=(rw.id,))
        b.same("watch_runner")  # L: nobody, R: the daemon — both only a pid and a time
        b.fails(NotFound, "watch_add", str(data / "nope"))
        b.fails(IngestError, "watch_add", str(data / "inbox"), pattern="a/*.csv")
        b.same("watch_remove", w.id, remote_args=(rw.id,))
        b.fails(NotFound, "watch_pause", 99)
        # the demo workload, smallest scale
        b.same("demo", 0.001)
        b.fails(LakehouseError, "demo", 0)
    finally:
        b.close()
    exposed = set(b.remote._methods)
    assert exposed == set(_facade_methods())
    assert b.covered == exposed, f"not covered: {sorted(exposed - b.covered)}; gone: {sorted(b.covered - exposed)}"


def _facade_methods():
    from app.daemon.methods import facade_methods

    return facade_methods()


def test_a_postgres_preview_survives_the_daemon(roots, pg):
    """ingest_preview of a postgresql:// table and query (a real server, tests/pgserver.py):
    the URL travels as given, the result holds it redacted on both sides."""
    from pgserver import PASSWORD

    from core.errors import IngestError

    pg.sql("DROP TABLE IF EXISTS parity_pg", "CREATE TABLE parity_pg (id int4, v numeric(6,2), at timestamptz)",
           "INSERT INTO parity_pg VALUES (1, 2.50, '2024-01-02 03:04:05+00'), (2, NULL, NULL), (3, 7.25, NULL)")
    url = pg.url(password=True)
    b = Both(roots)
    try:
        pv, _ = b.same("ingest_preview", url, table="parity_pg", rows=2)
        assert pv["rows"] == [[1, "2.50", "2024-01-02T03:04:05+00:00"], [2, None, None]] and pv["sampled"]
        assert PASSWORD not in json.dumps(pv)
        b.same("ingest_preview", url, query="SELECT id FROM parity_pg", name="ids")
        a, _ = b.fails(IngestError, "ingest_preview", url.replace(PASSWORD, "wrong"), table="parity_pg")
        assert "refused the password" in str(a)
    finally:
        b.close()


def test_every_core_error_class_comes_back_as_itself():
    """Each LakehouseError subclass defined anywhere in core, through the daemon's error
    object and the proxy's decoder: same class, message and exit code; a name the peer
    makes up, or a class outside core, is only ever a plain LakehouseError."""
    from app.daemon import wire as rpc

    from core.errors import LakehouseError

    classes = {n: c for n, c in rpc.all_core_classes().items() if issubclass(c, LakehouseError)}
    assert {"UnsafeSql", "MutationError", "StepFailed", "NotFound", "Cancelled", "NameError_"} <= set(classes)
    for name, cls in classes.items():
        sent = cls(f"{name} happened — do something")
        wire = json.loads(rpc.line(rpc.core_error(7, sent)))
        back = rpc.raised(wire["error"])
        assert type(back) is cls and str(back) == str(sent) and back.exit_code == sent.exit_code, name
    for hostile in ("Path", "os", "Popen", "__builtins__", "Lakehouse", "Config", "RemoteLakehouse", 7, None):
        back = rpc.raised({"code": -32000, "message": "m", "data": {"type": hostile, "exit_code": 3}})
        assert type(back) is LakehouseError and back.exit_code == 3
    assert type(rpc.decode({"$type": "Column", "name": "a", "type": "INTEGER"})).__name__ == "Column"
    for hostile in ("Path", "Popen", "RemoteLakehouse", "NotFound"):
        with pytest.raises(rpc.UnknownType):
            rpc.decode({"$type": hostile, "args": ["/etc/passwd"]})


def test_result_types_have_one_name_each():
    """The wire names classes by their bare name: two core classes must never share one."""
    from app.daemon import wire as rpc

    classes = rpc.all_core_classes()
    assert all(c.__module__.startswith("core.") for c in classes.values())
    assert any(dataclasses.is_dataclass(c) for c in classes.values())


# -- the CLI: every command, in-process and with --remote -----------------------------------
NOT_REMOTE = {  # commands that cannot run through a daemon by design, and why
    "serve": "it is the daemon",
    "status": "it reports on the daemon itself: in-process there is nothing to ask",
    "tui": "a full-screen app; test_daemon.py drives it through the daemon (tui --connect)",
    "watch run": "it runs the watches in this process; a daemon runs them itself (test_live_watch.py)",
    "mcp": "a stdio server for agent clients that opens the storage root itself (test_mcp.py)",
}


def _commands() -> set[str]:
    """Every command the Typer app has, by its path ("" is `lakehouse` with none)."""
    import typer.main

    from app.cli import app

    out = {""}

    def walk(group, prefix: str) -> None:
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):  # a group
                if cmd.invoke_without_command:  # `lakehouse jobs` lists them
                    out.add(prefix + name)
                walk(cmd, f"{prefix}{name} ")
            else:
                out.add(prefix + name)
    walk(typer.main.get_command(app), "")
    return out


def _cli_cases(data: Path) -> list[list[str]]:
    csv = str(data / "cli.csv")
    return [
        [], ["datasets"], ["datasets", "--format", "json"], ["describe", "people"], ["describe", "nope"],
        ["sql", "SELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state"],
        ["column-profile", "people.years"], ["column-profile", "people.state", "--format", "json"],
        ["column-profile", "people"], ["column-profile", "people.nope"],
        ["sql", "SELECT * FROM people ORDER BY person_id LIMIT 20", "--format", "csv"],
        ["sql", "SELECT person_id, years FROM people ORDER BY person_id LIMIT 5", "--format", "json"],
        ["sql", "SELECT * FROM nope"], ["sql", "DROP TABLE people"],
        ["annotate", "people", "--description", "from the CLI", "--tag", "cli"],
        ["tag", "people.state", "pii", "--reason", "cli"], ["tag", "people", "pii"], ["tags"],
        ["tags", "people", "--format", "json"], ["annotate", "notes", "--draft"], ["policy"],
        ["policy", "--format", "json"],
        ["ingest", csv, "--preview"], ["ingest", csv, "--preview", "--json"], ["ingest", csv, "--preview", "--key", "id"],
        ["ingest", csv, "--key", "id"], ["ingest", csv, "--key", "id"], ["ingest", "--name", "Bad Name", csv],
        ["update", "cli", "--key", "1", "--set", "city=Boston"], ["update", "notes", "--key", "x", "--set", "body=y"],
        ["delete", "cli", "--key", "2", "--json"], ["versions", "cli"], ["history", "cli"],
        ["restore", "cli", "--version", "0", "--preview"], ["restore", "cli", "--version", "0"], ["restore", "cli"], ["compact", "cli"],
        ["pin", "cli"], ["cache"], ["unpin", "cli"], ["resync", "cli"],
        ["embed", "people", "--column", "profile", "--embedder", "hashing", "--index", "cli_people"],
        ["embed", "people", "--column", "profile", "--embedder", "hashing", "--index", "cli_people",
         "--chunk-size", "300", "--overlap", "30", "--no-promote"],
        ["search", "cli_people", "kubernetes migration", "-k", "3"],
        ["search", "--compare", "cli_people@g1", "cli_people@g2", "terraform", "-k", "3"],
        ["search", "nope", "text"],
        ["memory", "add", "cli_people", "kubernetes placement", "--key", "P00003", "--scope", "state=TX"],
        ["memory", "add", "cli_people", "kubernetes placement", "--key", "nope"],
        ["memory", "add", "cli_people", "x", "--key", "P00003", "--scope", "state"],
        ["search", "cli_people", "kubernetes migration", "-k", "3", "--where", "state = 'TX'", "--memory"],
        ["memory", "revise", "1", "--approach", "asked references", "--reason", "it worked"],
        ["memory", "history", "2"], ["memory", "show", "2"], ["memory", "show", "9"],
        ["memory", "list", "--status", "all"], ["memory", "search", "cli_people", "kubernetes"],
        ["memory", "retire", "2", "--reason", "done"], ["memory", "retire", "--reason", "x"],
        ["memory", "delete", "2", "--reason", "a mistake"], ["memory", "delete", "2", "--reason", "again"],
        ["memory", "journal", "--format", "json"],
        ["index", "list"], ["index", "generations", "cli_people", "--format", "json"], ["index", "promote", "cli_people", "2"],
        ["index", "rollback", "cli_people"], ["index", "rebuild", "cli_people", "1"],
        ["index", "verify", "cli_people"], ["index", "auto-refresh", "cli_people", "off"], ["index", "refresh"],
        ["index", "refresh", "cli_people"], ["index", "auto-refresh", "cli_people", "on"], ["index", "drop", "cli_people", "2"], ["index", "drop", "nope"],
        ["eval", "create", "cli_people", "--queries", "6", "--k", "5"], ["eval", "list", "cli_people"],
        ["trial", "cli_people", "--m", "8", "--ef-construction", "40", "--ef-search", "10,20", "--format", "json"],
        ["trials", "cli_people", "--format", "json"], ["trial", "cli_people", "--m", "1"], ["trial", "promote", "nope"],
        ["autotune", "cli_people", "--budget", "0"],
        ["ask", "how many per state?", "--mode", "sql"], ["models"],
        ["profile", "list"], ["profile", "show", "default"], ["profile", "show", "nope"],
        ["profile", "create", "viewer", "--datasets", "people,cli", "--indexes", "cli_people"],
        ["profile", "edit", "viewer", "--description", "sees two"],
        # a restricted profile, once active, holds the in-process CLI (a daemon's connections are
        # held by the daemon's own profile): an unrestricted holder goes back
        ["profile", "activate", "viewer", "--wait"], ["datasets"],
        ["--profile", "default", "profile", "activate", "default", "--wait"],
        ["profile", "delete", "viewer"],
        ["jobs", "--limit", "5"], ["jobs", "cancel", "nope"], ["jobs", "retry", "nope"],
        # schedule 2: the facade test above made and removed schedule 1 on both roots
        ["schedule", "add", csv, "--every", "1h", "--name", "cli", "--mode", "upsert", "--key", "id"],
        ["schedule", "list"], ["schedule", "run", "2"], ["schedule", "pause", "2"], ["schedule", "resume", "2"],
        ["jobs", "--limit", "3", "--format", "json"], ["schedule", "remove", "2"], ["schedule", "run", "9"],
        # watch 2 (the facade test made and removed watch 1); listed only while there is none,
        # since a listing of watches says which process runs them (here none, there the daemon)
        ["watch", "list"], ["watch", "add", str(data / "inbox"), "--pattern", "*.csv", "--name", "inbox"],
        ["watch", "add", str(data / "nope")], ["watch", "pause", "2"], ["watch", "resume", "2", "--format", "json"],
        ["watch", "remove", "2"], ["watch", "remove", "2"],
        ["errors", "--limit", "5"], ["audit", "--limit", "5", "--format", "json"], ["config"],
        ["contract", "list"], ["contract", "check"], ["contract", "check", "people"],
        ["contract", "check", "extra", "--format", "json"], ["retention", "run"],
        ["demo", "--scale", "0.001"], ["demo", "--scale", "0"],
    ]


def _command_of(argv: list[str], commands: set[str]) -> str:
    argv = argv[2:] if argv[:1] == ["--profile"] else argv
    words = [a for a in argv[:2] if not a.startswith("-")]
    return next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), "")


def _screen(s: str, roots) -> str:
    """Output as a person compares it: volatile values normalised, and the table padding
    they change (a column as wide as its longest duration) collapsed."""
    try:  # JSON output: by its keys, as results are
        return json.dumps(_norm(json.loads(s), roots), sort_keys=True)
    except ValueError:
        pass
    s = _text(s, roots)
    s = re.sub(r"[─━═]+", "─", s)
    return "\n".join(re.sub(r"[ \t]+", " ", ln).strip() for ln in s.splitlines())


@pytest.mark.long
def test_every_command_prints_the_same_with_remote(roots):
    (roots.data / "cli.csv").write_text("id,city\n1,Chicago\n2,Denver\n3,Austin\n")
    (roots.data / "inbox").mkdir(exist_ok=True)  # watched by `watch add`: kept empty

    def reply(req):  # the stand-in model: SQL when asked for the schema's JSON, then the answer
        return sql_reply("SELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state") \
            if req.get("format") else "Twelve per state."
    roots.stub.chat_replies = [reply] * 8
    commands = _commands()
    assert set(NOT_REMOTE) <= commands
    cases = _cli_cases(roots.data)
    assert {_command_of(c, commands) for c in cases} == commands - set(NOT_REMOTE)
    for argv in cases:
        # the two sides run at once (their roots are separate); the stand-in serves both
        procs = [subprocess.Popen([LAKEHOUSE, *extra, *argv], env={**roots.env, "LAKEHOUSE_HOME": str(home)},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
                 for home, extra in ((roots.local, []), (roots.served, ["--remote", roots.sock]))]
        (lo, le), (ro, re_) = (p.communicate(timeout=300) for p in procs)
        local, remote = (procs[0].returncode, _screen(lo, roots), _screen(le, roots)), \
            (procs[1].returncode, _screen(ro, roots), _screen(re_, roots))
        if not argv:  # the start screen's sample query has no ORDER BY: its rows may come in any order
            local, remote = [(c, sorted(o.splitlines()), e) for c, o, e in (local, remote)]
        assert remote == local, f"lakehouse {' '.join(argv)}"
        assert "Traceback" not in le + re_ and procs[0].returncode != 70, (argv, le)
