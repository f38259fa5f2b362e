"""Schedules (issue 18): a source ingested every interval, by whichever runner is up.

Due-logic is tested with explicit `now` arguments (never by sleeping); the end-to-end test
runs a real daemon, whose live runner calls run_due about once a second."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, write

HOUR = 3600.0


def _sched(lh, sid):
    return next(s for s in lh.schedule_list() if s.id == sid)


# -- what a schedule may be made of -------------------------------------------------------------
@pytest.mark.parametrize("every, seconds", [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (" 10s ", 10)])
def test_intervals(every, seconds):
    from core.live.schedules import parse_every

    assert parse_every(every) == seconds


@pytest.mark.parametrize("every, said", [("5x", "not an interval"), ("9s", "too often"), ("0m", "too often"),
                                         ("15", "not an interval"), ("-1h", "not an interval"),
                                         ("400d", "longer than a year"), ("", "not an interval")])
def test_bad_intervals_are_refused_in_one_sentence(lh, data, every, said):
    from core.live.schedules import ScheduleError

    write(data / "a.csv", "id\n1\n")
    with pytest.raises(ScheduleError, match=said) as e:
        lh.schedule_add(str(data / "a.csv"), every)
    assert "\n" not in str(e.value)
    assert lh.schedule_list() == []


def test_bad_sources_and_options_are_refused_at_add_time(lh, data):
    from core.errors import LakehouseError

    write(data / "a.csv", "id\n1\n")
    a = str(data / "a.csv")
    cases = [
        ((str(data / "gone.csv"), "1m"), {}, "no such file or directory"),
        ((str(data / "nowhere" / "*.csv"), "1m"), {}, "does not exist"),
        ((a, "1m"), {"query": "SELECT 1"}, "--query is for a database source"),
        ((a, "1m"), {"incremental_by": "id"}, "--incremental-by is for a database source"),
        (("postgresql://me@db.example/shop", "1m"), {}, "exactly one of --query"),
        (("postgresql://me@db.example/shop", "1m"), {"query": "SELECT 1", "table": "public.t"}, "exactly one"),
        ((a, "1m"), {"mode": "create"}, "would fail from its second run"),
        ((a, "1m"), {"mode": "sideways"}, "unknown mode"),
        ((a, "1m"), {"mode": "upsert"}, "needs a key"),
        ((a, "1m"), {"format": "xls"}, "unknown format"),
        ((a, "1m"), {"name": "Bad Name!"}, "is invalid"),
        ((a, "1m"), {"schema_change": "accept"}, "--accept-schema"),
    ]
    for args, kwargs, said in cases:
        with pytest.raises(LakehouseError, match=said) as e:
            lh.schedule_add(*args, **kwargs)
        assert "\n" not in str(e.value), (args, kwargs)
    assert lh.schedule_list() == []


def test_a_url_with_a_password_is_refused_and_never_stored(lh, home):
    from core.live.schedules import ScheduleError

    for url in ("postgresql://me:s3cr3t-pw@db.example/shop", "postgresql://me@db.example/shop?password=s3cr3t-pw"):
        with pytest.raises(ScheduleError, match="PGPASSWORD") as e:
            lh.schedule_add(url, "15m", table="public.orders")
        assert "s3cr3t-pw" not in str(e.value)
    s = lh.schedule_add("postgresql://me@db.example/shop", "15m", table="public.orders", incremental_by="id")
    assert s.options["incremental_by"] == "id" and s.source == "postgresql://me@db.example/shop"
    lh.close()
    for f in home.glob("catalog.sqlite*"):
        assert b"s3cr3t-pw" not in f.read_bytes()


def test_unknown_ids_are_not_found_in_one_sentence(lh, data):
    from core.errors import NotFound

    for op in (lh.schedule_remove, lh.schedule_pause, lh.schedule_resume, lh.schedule_run):
        with pytest.raises(NotFound, match="there are none"):
            op(7)
    lh.schedule_add(str(write(data / "a.csv", "id\n1\n")), "1h")
    with pytest.raises(NotFound, match="no schedule 'x' — schedules: 1"):
        lh.schedule_pause("x")


# -- running due schedules ------------------------------------------------------------------------
def test_a_glob_schedule_ingests_new_files_and_identical_bytes_are_unchanged(lh, data):
    from core.live.schedules import run_due

    write(data / "a.csv", "id,v\n1,a\n")
    s = lh.schedule_add(str(data / "*.csv"), "15m", name="things", key="id")
    assert s.state == "active" and s.runs == 0 and run_due(lh) == []  # the first run: one interval on
    t = time.time() + 15 * 60
    [run] = run_due(lh, now=t)
    assert run["outcome"] == "ingested" and run["message"] == "1 row into things"
    assert run_due(lh, now=t + 60) == []  # next run: 15 minutes from that one
    write(data / "b.csv", "id,v\n2,b\n")
    [run] = run_due(lh, now=t + 15 * 60)
    assert run["outcome"] == "ingested"
    assert lh.sql("SELECT id, v FROM things ORDER BY id").to_pylist() == [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    [run] = run_due(lh, now=t + 30 * 60)
    assert run["outcome"] == "unchanged" and lh.dataset("things").row_count == 2
    info = _sched(lh, s.id)
    assert (info.runs, info.last_outcome, info.last_job_id) == (3, "unchanged", run["job_id"])
    assert info.last_duration_s is not None and info.last_duration_s >= 0
    job = lh.job(run["job_id"])  # the run is a job that names its schedule
    assert (job.kind, job.target, job.status) == ("schedule run", f"things (schedule {s.id})", "succeeded")


def test_a_run_missed_while_no_runner_was_up_runs_once_and_the_next_is_from_now(lh, data):
    from core.live.schedules import run_due

    write(data / "a.csv", "id\n1\n")
    s = lh.schedule_add(str(data / "a.csv"), "1h", name="once")
    later = time.time() + 50 * HOUR  # fifty intervals with no runner up
    assert [r["outcome"] for r in run_due(lh, now=later)] == ["ingested"]
    assert run_due(lh, now=later) == [] and run_due(lh, now=later + HOUR - 1) == []
    info = _sched(lh, s.id)
    assert info.runs == 1
    from datetime import datetime

    assert datetime.fromisoformat(info.next_run_at).timestamp() == pytest.approx(later + HOUR, abs=0.01)
    assert len(run_due(lh, now=later + HOUR)) == 1


def test_a_run_that_writes_refreshes_the_indexes_over_its_dataset(lh, data):
    from core.live.schedules import run_due

    folder = data / "notes"
    folder.mkdir()
    write(folder / "a.csv", "id,body\n1,kubernetes migration for a bank\n")
    s = lh.schedule_add(str(folder / "*.csv"), "10m", name="notes", key="id")
    t = time.time() + 600
    run_due(lh, now=t)
    lh.embed("notes", "body", index="notes_body", embedder="hashing")
    g = lh.index("notes_body").active_gen
    write(folder / "b.csv", "id,body\n2,terraform modules for a shop\n")
    [run] = run_due(lh, now=t + 600)
    assert run["outcome"] == "ingested", run
    idx = lh.index("notes_body")
    assert idx.active_gen > g and not idx.stale  # the new rows are searchable when the run ends
    assert _sched(lh, s.id).last_outcome == "ingested"


def test_a_vanished_source_fails_the_run_in_one_sentence_and_the_schedule_tries_again(lh, data, tmp_path):
    from core.live.schedules import run_due

    folder = data / "drop"
    folder.mkdir()
    write(folder / "a.csv", "id\n1\n")
    s = lh.schedule_add(str(folder / "*.csv"), "10s", name="drops")
    t = time.time() + 10
    assert run_due(lh, now=t)[0]["outcome"] == "ingested"
    folder.rename(tmp_path / "elsewhere")
    [run] = run_due(lh, now=t + 10)
    assert run["outcome"] == "failed" and "is gone" in run["message"] and "\n" not in run["message"]
    assert lh.errors(limit=1)[0].message == run["message"] and lh.job(run["job_id"]).status == "failed"
    assert _sched(lh, s.id).state == "active"
    (tmp_path / "elsewhere").rename(folder)
    write(folder / "b.csv", "id\n2\n")
    assert run_due(lh, now=t + 20)[0]["outcome"] == "ingested"
    one = lh.schedule_add(str(write(data / "one.csv", "id\n1\n")), "10s")
    (data / "one.csv").unlink()
    [run] = [r for r in run_due(lh, now=t + 40) if r["id"] == one.id]
    assert run["outcome"] == "failed" and "no such file" in run["message"]


def test_an_empty_glob_is_no_files_not_an_error(lh, data):
    from core.live.schedules import run_due

    s = lh.schedule_add(str(data / "*.csv"), "10s", name="later")
    assert run_due(lh, now=time.time() + 10)[0]["outcome"] == "no files"
    assert lh.errors() == [] and _sched(lh, s.id).state == "active"


def test_a_refused_schema_change_is_the_outcome_and_additive_takes_added_columns(lh, data):
    from core.live.schedules import run_due

    write(data / "a.csv", "id,v\n1,a\n")
    strict = lh.schedule_add(str(data / "*.csv"), "10s", name="wide")
    t = time.time() + 10
    run_due(lh, now=t)
    write(data / "b.csv", "id,v,extra\n2,b,x\n")
    [run] = run_due(lh, now=t + 10)
    assert run["outcome"] == "failed" and "extra" in run["message"]
    assert lh.errors(limit=1)[0].message in run["message"]
    assert lh.dataset("wide").row_count == 1 and _sched(lh, strict.id).state == "active"
    lh.schedule_pause(strict.id)
    loose = lh.schedule_add(str(data / "*.csv"), "10s", name="wide", schema_change="additive")
    assert lh.schedule_run(loose.id).last_outcome == "ingested"
    assert [c.name for c in lh.dataset("wide").columns] == ["id", "v", "extra"]


def test_a_run_that_raises_never_escapes_run_due(lh, data, monkeypatch):
    from core import Lakehouse
    from core.live.schedules import run_due

    write(data / "a.csv", "id\n1\n")
    s = lh.schedule_add(str(data / "a.csv"), "10s", name="boom")
    monkeypatch.setattr(Lakehouse, "ingest", lambda *a, **k: 1 / 0)
    [run] = run_due(lh, now=time.time() + 10)
    assert run["outcome"] == "failed" and "ZeroDivisionError" in run["message"]
    assert "ZeroDivisionError" in lh.errors(limit=1)[0].message
    info = _sched(lh, s.id)
    assert (info.state, info.running, info.last_outcome) == ("active", False, "failed")
    monkeypatch.undo()
    assert run_due(lh, now=time.time() + 20)[0]["outcome"] == "ingested"


def test_a_run_cut_short_by_the_runner_stopping_is_cancelled_and_due_again(lh, data, monkeypatch):
    import threading

    from core import Lakehouse
    from core.errors import Cancelled
    from core.live.schedules import run_due

    s = lh.schedule_add(str(write(data / "a.csv", "id\n1\n")), "1h", name="stopped")
    stop = threading.Event()

    def slow_ingest(self, paths, *, cancel, **kwargs):
        stop.set()  # the daemon is shutting down while this run ingests
        assert cancel.wait(30), "the runner stopping did not cancel the run"
        raise Cancelled("ingest of stopped was cancelled; nothing was written")
    monkeypatch.setattr(Lakehouse, "ingest", slow_ingest)
    t = time.time() + HOUR
    [run] = run_due(lh, stop, now=t)
    assert run["outcome"] == "cancelled" and lh.job(run["job_id"]).status == "cancelled"
    monkeypatch.undo()
    assert [r["outcome"] for r in run_due(lh, now=t + 1)] == ["ingested"]  # due again when a runner starts
    assert _sched(lh, s.id).runs == 2


def test_pause_resume_and_run_now(lh, data):
    from core.live.schedules import ScheduleError, run_due

    write(data / "a.csv", "id\n1\n")
    s = lh.schedule_add(str(data / "a.csv"), "2h", name="paused")
    p = lh.schedule_pause(s.id)
    assert p.state == "paused" and p.next_run_at is None
    assert run_due(lh, now=time.time() + 100 * HOUR) == []
    r = lh.schedule_run(s.id)  # by hand: paused or not
    assert (r.last_outcome, r.runs, r.state) == ("ingested", 1, "paused")
    before = time.time()
    resumed = lh.schedule_resume(s.id)
    from datetime import datetime

    assert resumed.state == "active" and datetime.fromisoformat(resumed.next_run_at).timestamp() >= before + 2 * HOUR - 1
    assert lh._schedule_rows.claim_now(s.id, time.time())  # a run in flight (this process)
    with pytest.raises(ScheduleError, match="is running now"):
        lh.schedule_run(s.id)
    assert lh.schedule_list()[0].running
    gone = lh.schedule_remove(s.id)
    assert gone.id == s.id and lh.schedule_list() == [] and lh.dataset("paused").row_count == 1


def test_a_claim_left_by_a_dead_process_is_released(lh, data):
    from core.live.schedules import run_due

    s = lh.schedule_add(str(write(data / "a.csv", "id\n1\n")), "10s", name="orphan")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lh.catalog.db.execute("UPDATE schedules SET running_pid = ? WHERE id = ?", (int(dead.stdout), s.id))
    assert [r["outcome"] for r in run_due(lh, now=time.time() + 10)] == ["ingested"]


_RACER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from core import Lakehouse
from core.live.schedules import run_due
go = Path(sys.argv[3])
with Lakehouse.open(home=sys.argv[2]) as lh:
    while not go.exists():
        time.sleep(0.005)
    print(len(run_due(lh, now=float(sys.argv[4]))))
"""


def test_two_processes_calling_run_due_at_once_run_a_schedule_once(lh, data, home, tmp_path):
    for i in range(3):
        write(data / f"f{i}.csv", f"id\n{i}\n")
    ids = [lh.schedule_add(str(data / f"f{i}.csv"), "10s", name=f"race{i}").id for i in range(3)]
    go, t = tmp_path / "go", time.time() + 10
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(REPO), str(home), str(go), str(t)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.5)  # both have opened the root (the go file is the start line, not a timing assert)
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(int(o) for o, _ in outs) == 3  # each schedule ran in exactly one of them
    assert [_sched(lh, i).runs for i in ids] == [1, 1, 1]
    assert len([j for j in lh.jobs() if j.kind == "schedule run"]) == 3


def test_a_restricted_profile_schedules_only_its_datasets_and_sees_only_those(home, data):
    from core import Lakehouse
    from core.errors import LakehouseError, NotFound

    (home).mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text('[profiles.mine]\ndatasets = ["mine_*"]\nindexes = []\n')
    write(data / "a.csv", "id\n1\n")
    with Lakehouse.open(home=home) as admin:
        other = admin.schedule_add(str(data / "a.csv"), "1h", name="theirs")
    with Lakehouse.open(home=home, profile="mine") as lh:
        with pytest.raises(LakehouseError, match="may only ingest into its datasets"):
            lh.schedule_add(str(data / "a.csv"), "1h")
        mine = lh.schedule_add(str(data / "a.csv"), "1h", name="mine_a")
        assert [s.id for s in lh.schedule_list()] == [mine.id]
        with pytest.raises(NotFound):
            lh.schedule_remove(other.id)


def test_a_postgres_schedule_fetches_new_rows_and_never_stores_the_password(pg, lh, home, monkeypatch):
    from pgserver import PASSWORD

    from core.live.schedules import ScheduleError, run_due

    with pytest.raises(ScheduleError, match="PGPASSWORD"):
        lh.schedule_add(pg.url(password=True), "10m", table="public.feed")
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # where a run finds it
    pg.sql("DROP TABLE IF EXISTS feed", "CREATE TABLE feed (id int PRIMARY KEY, v text)",
           "INSERT INTO feed VALUES (1, 'a'), (2, 'b')")
    inc = lh.schedule_add(pg.url(), "10m", table="public.feed", incremental_by="id", name="feed")
    full = lh.schedule_add(pg.url(), "10m", query="SELECT id, v FROM feed", name="feed_all")
    t = time.time() + 600
    assert [(r["id"], r["message"]) for r in run_due(lh, now=t)] == [(inc.id, "2 rows into feed"),
                                                                     (full.id, "2 rows into feed_all")]
    pg.sql("INSERT INTO feed VALUES (3, 'c')")
    assert [r["message"] for r in run_due(lh, now=t + 600)] == ["1 row into feed", "3 rows into feed_all"]
    assert [r["outcome"] for r in run_due(lh, now=t + 1200)] == ["unchanged", "unchanged"]
    assert lh.sql("SELECT count(*) AS n FROM feed").to_pylist() == [{"n": 3}]
    assert lh.sql("SELECT count(*) AS n FROM feed_all").to_pylist() == [{"n": 3}]
    pg.sql("DROP TABLE feed")
    runs = run_due(lh, now=t + 1800)
    assert [r["outcome"] for r in runs] == ["failed", "failed"] and all("does not exist" in r["message"] for r in runs)
    assert [s.state for s in lh.schedule_list()] == ["active", "active"]
    lh.close()
    for f in home.rglob("*"):
        if f.is_file():
            assert PASSWORD.encode() not in f.read_bytes(), f


# -- the CLI ------------------------------------------------------------------------------------
def test_cli_add_list_run_and_jobs_show_schedules(cli, data):
    write(data / "a.csv", "id,v\n1,a\n")
    # a relative glob is stored as the daemon would see it: absolute (the env holds LAKEHOUSE_HOME)
    p = subprocess.run([str(Path(sys.executable).parent / "lakehouse"), "schedule", "add", "data/*.csv",
                        "--every", "15m", "--name", "things"], cwd=data.parent, capture_output=True, text=True)
    assert p.returncode == 0 and "schedule 1:" in p.stdout, p.stderr
    code, out, err = cli("schedule", "list", "--format", "json")
    [s] = json.loads(out)
    assert s["source"] == str(data / "*.csv") and s["every"] == "15m" and s["options"]["name"] == "things"
    code, out, err = cli("schedule", "run", str(s["id"]))
    assert code == 0 and "ingested — 1 row into things" in out, err
    code, out, err = cli("jobs")
    assert code == 0 and "schedules" in out and "things (schedule 1)" in out and "ingested" in out
    code, out, err = cli("jobs", "--format", "json")
    listed = json.loads(out)
    assert [r["kind"] for r in listed if "every" not in r][:1] == ["ingest"]  # the newest job: the run's ingest
    [entry] = [r for r in listed if r["kind"] == "schedule"]  # a schedule, not a job
    assert entry["last_outcome"] == "ingested" and entry["status"] == "active" and entry["runs"] == 1
    assert cli("schedule", "pause", "1")[0] == 0 and "paused" in cli("schedule", "list")[1]
    assert "active" in cli("schedule", "resume", "1")[1]
    for argv, said in ((("schedule", "add", str(data / "a.csv"), "--every", "5x"), "not an interval"),
                       (("schedule", "add", str(data / "a.csv"), "--every", "1m", "--on-schema-change", "accept"),
                        "--accept-schema"),
                       (("schedule", "remove", "9"), "no schedule '9'")):
        code, out, err = cli(*argv)
        assert code == 1 and said in err and err.count("\n") == 1 and "Traceback" not in err, argv
    assert cli("schedule", "remove", "1")[0] == 0
    assert "no schedules" in cli("schedule", "list")[2]


def test_cli_run_of_a_failing_schedule_exits_1(cli, data):
    folder = data / "gone"
    folder.mkdir()
    assert cli("schedule", "add", str(folder / "*.csv"), "--every", "10s")[0] == 0
    folder.rmdir()
    code, out, err = cli("schedule", "run", "1")
    assert code == 1 and "failed" in out and "is gone" in out


# -- end to end: the daemon's live runner runs them ----------------------------------------------
@pytest.mark.long
def test_the_daemon_runs_a_schedule_and_picks_up_a_new_file(home, data):
    from test_daemon import Served

    write(data / "a.csv", "id,v\n1,a\n")
    served = Served(home)
    try:
        code, out, err = served.cli("schedule", "add", str(data / "*.csv"), "--every", "10s", "--name", "fed")
        assert code == 0, err
        assert _wait(lambda: _rows(served, "fed") == 1), "the first run did not ingest a.csv"
        write(data / "b.csv", "id,v\n2,b\n")
        assert _wait(lambda: _rows(served, "fed") == 2, 90), "the next run did not ingest b.csv"
        code, out, err = served.cli("schedule", "list", "--format", "json")
        [s] = json.loads(out)
        assert s["last_outcome"] in ("ingested", "unchanged") and s["runs"] >= 2
    finally:
        code, err = served.stop()
    assert code == 0 and "Traceback" not in err, err


def _rows(served, name: str) -> int:
    code, out, _ = served.cli("sql", f"SELECT count(*) AS n FROM {name}", "--format", "json")
    return json.loads(out)[0]["n"] if code == 0 else 0


def _wait(cond, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.3)
    return False
