"""Crash consistency, cancellation, recovery and resync."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, write
from core import Lakehouse
from core.errors import Cancelled


def big_csv(path, rows):
    import duckdb

    duckdb.sql(f"COPY (SELECT range AS id, 'name ' || range AS name, range % 97 AS bucket "
               f"FROM range({rows})) TO '{path}' (HEADER)")
    return path


def ingest_subprocess(home, path, env_extra=None):
    code = f"from core import Lakehouse\nLakehouse.open(home={str(home)!r}).ingest([{str(path)!r}])"
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_between_delta_commit_and_catalog_commit_rolls_forward(home, data):
    p = write(data / "orders.csv", "id,amount\n1,10\n2,20\n3,30\n")
    proc = ingest_subprocess(home, p, {"LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    with Lakehouse.open(home=home) as lh:
        assert lh.recovery_notes == ["orders: registered version 0, which a crash left unregistered"]
        assert lh.dataset("orders").row_count == 3
        [r] = lh.ingest([p])
        assert r.status == "unchanged"
        assert lh.sql("SELECT count(*) FROM orders").column(0)[0].as_py() == 3
        assert len(lh.describe("orders").lineage) == 1


def test_kill_during_append_commit_rolls_forward_without_doubling(home, data):
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "a.csv", "id\n1\n2\n")], name="ids")
    b = write(data / "b.csv", "id\n3\n4\n5\n")
    code = (f"from core import Lakehouse\nLakehouse.open(home={str(home)!r}).ingest([{str(b)!r}], "
            "name='ids', mode='append')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                          env={**os.environ, "LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert proc.returncode == -signal.SIGKILL
    with Lakehouse.open(home=home) as lh:
        assert lh.dataset("ids").row_count == 5
        assert [r.status for r in lh.ingest([b], name="ids", mode="append")] == ["unchanged"]
        assert sorted(lh.sql("SELECT id FROM ids").column(0).to_pylist()) == [1, 2, 3, 4, 5]
        lin = lh.describe("ids").lineage
        assert [(x.rows, x.mode) for x in lin] == [(2, "create"), (3, "append")]


def test_sigkill_mid_write_leaves_catalog_consistent_and_reingest_is_exact(home, data):
    rows = 3_000_000
    p = big_csv(data / "events.csv", rows)
    with Lakehouse.open(home=home):
        pass
    proc = ingest_subprocess(home, p)
    db = sqlite3.connect(home / "catalog.sqlite")
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once rows are flowing into the table
        row = db.execute("SELECT done FROM jobs WHERE status = 'running'").fetchone()
        if row and row[0] > 0:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    db.close()
    with Lakehouse.open(home=home) as lh:
        ds = lh.catalog.datasets.get("events")
        if ds is not None:  # the kill came after the commit: then it is complete
            assert ds.row_count == rows
        assert [j.status for j in lh.jobs()] == ["interrupted"] or ds is not None
        [r] = lh.ingest([p])
        assert r.status in ("ingested", "unchanged"), r.message
        assert lh.sql("SELECT count(*), count(DISTINCT id) FROM events").to_pylist()[0] == {
            "count_star()": rows, "count(DISTINCT id)": rows}
        live = {f["path"] for f in lh.catalog.datasets.files("events")}
        on_disk = {f.name for f in (home / "tables" / "events").glob("*.parquet")}
        assert on_disk == live  # nothing a dead write left behind


def test_create_killed_before_commit_leaves_no_directory(home, data):
    (home / "tables" / "ghost" / "_delta_log").mkdir(parents=True)
    write(home / "tables" / "ghost" / "part-0.parquet", b"partial")
    with Lakehouse.open(home=home) as lh:
        assert "ghost: removed the leftovers of an ingest that never committed" in lh.recovery_notes
        assert not (home / "tables" / "ghost").exists()


def test_cancel_in_process_leaves_nothing(lh, home, data):
    p = big_csv(data / "many.csv", 1_000_000)
    cancel = threading.Event()

    def listener(ev):
        if ev.done > 0:
            cancel.set()

    with pytest.raises(Cancelled, match="ingest of many was cancelled; nothing was written"):
        lh.ingest([p], progress=listener, cancel=cancel)
    assert lh.catalog.datasets.get("many") is None and not (home / "tables" / "many").exists()
    [job] = lh.jobs()
    assert job.status == "cancelled"


def test_cancel_from_another_process_via_catalog(lh, home, data):
    lh.ingest([write(data / "base.csv", "id,name,bucket\n-1,x,0\n")], name="many")
    p = big_csv(data / "more.csv", 2_000_000)
    before = {f.name for f in (home / "tables" / "many").glob("*.parquet")}
    asked = []

    def listener(ev):
        if not asked:
            asked.append(ev.job_id)
            with Lakehouse.open(home=home) as other:  # as `lakehouse jobs cancel ID` would
                assert other.cancel_job(ev.job_id)

    with pytest.raises(Cancelled):
        lh.ingest([p], name="many", mode="append", progress=listener)
    assert lh.dataset("many").row_count == 1
    assert {f.name for f in (home / "tables" / "many").glob("*.parquet")} == before


def test_progress_events_reach_the_listener(lh, data):
    p = big_csv(data / "prog.csv", 400_000)
    events = []
    lh.ingest([p], progress=events.append)
    assert events[0].kind == "ingest" and events[0].target == "prog"
    assert events[-1].done == 400_000 and events[-1].unit == "rows"
    assert any(0 < e.done < 400_000 for e in events)


def test_resync_repairs_a_drifted_catalog(lh, home, data):
    lh.ingest([write(data / "d.csv", "a,b\n1,2\n3,4\n")])
    db = sqlite3.connect(home / "catalog.sqlite")
    db.execute("UPDATE datasets SET row_count = 99, bytes = 1, schema_json = '[]' WHERE name = 'd'")
    db.commit()
    db.close()
    assert lh.dataset("d").row_count == 99
    [note] = lh.resync("d")
    assert note.startswith("d: rows 99 -> 2; bytes 1 -> ") and "columns a, b" in note
    assert lh.dataset("d").row_count == 2 and [c.name for c in lh.dataset("d").columns] == ["a", "b"]
    assert lh.resync() == ["d: in sync"]


def test_files_of_a_write_that_never_committed_are_removed_before_the_next_write(lh, home, data):
    lh.ingest([write(data / "s.csv", "id\n1\n")])
    stray = write(home / "tables" / "s" / "part-00000-dead.snappy.parquet", b"half a file")
    lh.ingest([write(data / "s2.csv", "id\n2\n")], name="s", mode="append")
    assert not stray.exists()
    assert sorted(lh.sql("SELECT id FROM s").column(0).to_pylist()) == [1, 2]


def test_catalog_from_an_older_version_is_migrated(home, data):
    """A catalog created before the migrated columns existed opens, upgrades and works."""
    import re

    from legacy_catalog import MIGRATIONS, SCHEMA_SQL

    added = [re.search(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", m).groups() for m in MIGRATIONS]
    kept, table = [], None
    for ln in SCHEMA_SQL.splitlines():  # the schema without the migrated columns of their tables
        m = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", ln)
        table = m.group(1) if m else table
        if not any(t == table and ln.strip().startswith(c + " ") for t, c in added):
            kept.append(ln)
    old = "\n".join(kept)
    home.mkdir(parents=True)
    db = sqlite3.connect(home / "catalog.sqlite")
    db.executescript(old)
    for table, col in added:
        assert col not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    db.close()
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "m.csv", "a\n1\n")])
        assert lh.sql("SELECT a FROM m").column(0).to_pylist() == [1]
    db = sqlite3.connect(home / "catalog.sqlite")
    assert {r[0] for r in db.execute("SELECT name FROM _migrations")} == _migration_names()
    for table, col in added:
        assert col in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def _migration_names() -> set[str]:
    from core.storage.catalog import AREAS

    return {n for area in AREAS for n in area.names()}


def _schema(path) -> dict:
    """Every table's columns (name, type, not null, default, key) and every index's columns."""
    db = sqlite3.connect(path)
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "AND name != '_migrations'")]
    out = {t: [r[1:] for r in db.execute(f"PRAGMA table_info({t})")] for t in names}
    for (ix,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"):
        out[ix] = [r[2] for r in db.execute(f"PRAGMA index_info({ix})")]
    db.close()
    return out


def _columns_and_rows(path) -> dict:
    db = sqlite3.connect(path)
    out = {}
    for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != '_migrations'"):
        cur = db.execute(f"SELECT * FROM {t} ORDER BY rowid")
        out[t] = ([d[0] for d in cur.description], cur.fetchall())
    db.close()
    return out


def test_catalog_made_before_named_migrations_upgrades_in_place(home, data, tmp_path):
    """A catalog the integer-migration code made (its SCHEMA_SQL, user_version = all applied)
    opens with its rows intact, records every named migration, and keeps working; a fresh
    catalog has the same tables, columns and indexes as that schema."""
    from legacy_catalog import MIGRATIONS, SCHEMA_SQL

    with Lakehouse.open(home=home) as lh:  # real rows in every area, written by today's code
        lh.ingest([write(data / "p.csv", "id,name\n1,ann\n2,bob\n")], key="id")
        lh.update("p", "1", {"name": "amy"}, reason="typo")
        lh.errors()
    rows = _columns_and_rows(home / "catalog.sqlite")
    for p in home.glob("catalog.sqlite*"):
        p.unlink()
    db = sqlite3.connect(home / "catalog.sqlite")  # the same rows in a catalog the old code made
    db.executescript(SCHEMA_SQL)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    db.execute("DELETE FROM meta")
    for t, (cols, values) in rows.items():  # what that schema has of them (later areas' tables and columns aside)
        known = {r[1] for r in db.execute(f"PRAGMA table_info({t})")}
        keep = [i for i, c in enumerate(cols) if c in known]
        for v in values if known else []:
            db.execute(f"INSERT INTO {t} ({', '.join(cols[i] for i in keep)}) VALUES ({', '.join('?' * len(keep))})",
                       [v[i] for i in keep])
    db.commit()
    db.close()
    legacy = _schema(home / "catalog.sqlite")
    with Lakehouse.open(home=home) as lh:
        assert lh.sql("SELECT name FROM p ORDER BY id").column(0).to_pylist() == ["amy", "bob"]
        assert [e["new_value"] for e in lh.history("p", "1") if e["field"] == "name"] == ["amy"]
        assert [j.kind for j in lh.jobs()] == ["ingest"]
        lh.ingest([write(data / "q.csv", "x\n1\n")])
    assert _columns_and_rows(home / "catalog.sqlite")["lineage"][1][:1] == rows["lineage"][1]
    db = sqlite3.connect(home / "catalog.sqlite")
    assert {r[0] for r in db.execute("SELECT name FROM _migrations")} == _migration_names()
    db.close()
    upgraded = _schema(home / "catalog.sqlite")
    assert set(upgraded) - set(legacy) == _LATER  # the areas added since: their own tables only
    # a legacy table changes only by the columns later migrations add to it
    assert {t: [c for c in cols if (t, c[0]) not in _ADDED] for t, cols in upgraded.items() if t in legacy} == legacy
    assert {(t, c[0]) for t, cols in upgraded.items() for c in cols} >= _ADDED
    with Lakehouse.open(home=tmp_path / "fresh"):
        pass
    assert _schema(tmp_path / "fresh" / "catalog.sqlite") == upgraded


_LATER = {"eval_sets", "trials", "trials_by_index", "retrials",  # core/trials (issue 16)
          "column_tags", "description_drafts", "tag_scans"}  # core/governance (issue 19)
_ADDED = {("indexes", "auto_refresh"),  # vectors.m002_auto_refresh (issue 18)
          ("audit", "policy")}  # ops.m003_audit_policy (issue 19)


def test_processes_opening_a_new_catalog_at_once_each_apply_or_skip_every_migration(tmp_path):
    code = "import sys; from core.storage.catalog import Catalog; Catalog(__import__('pathlib').Path(sys.argv[1])).close()"
    path = tmp_path / "catalog.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    assert [(p.wait(60), p.stderr.read()) for p in procs] == [(0, "")] * 4
    db = sqlite3.connect(path)
    assert {r[0] for r in db.execute("SELECT name FROM _migrations")} == _migration_names()
    db.close()


def test_kill_before_a_background_hash_was_recorded_still_rolls_forward_idempotently(home, data):
    p = write(data / "big_one.csv", "id\n" + "".join(f"{i}\n" for i in range(5000)))
    code = ("import core.ingest.run as run; run._HASH_INLINE = 0\n"
            f"from core import Lakehouse\nLakehouse.open(home={str(home)!r}).ingest([{str(p)!r}])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO,
                          env={**os.environ, "LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert proc.returncode == -signal.SIGKILL
    with Lakehouse.open(home=home) as lh:
        assert lh.dataset("big_one").row_count == 5000
        assert [r.status for r in lh.ingest([p])] == ["unchanged"]


def test_two_ingests_of_the_same_file_started_together_write_it_once(home, data):
    """Both plan before either writes; the write lock serialises them, and the second
    sees under the lock that the bytes are already in — no doubled rows."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from core import Lakehouse
    from core.storage.locks import write_lock

    src = data / "pets.csv"
    src.write_text("name,kind\n" + "".join(f"p{i},dog\n" for i in range(1000)))
    exe = Path(sys.executable).parent / "lakehouse"
    env = {**os.environ, "LAKEHOUSE_HOME": str(home)}
    with Lakehouse.open(home=home) as lh:
        with write_lock(home):
            procs = [subprocess.Popen([str(exe), "ingest", str(src)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
            deadline = time.time() + 60
            while time.time() < deadline:  # both have planned and now wait for the lock
                waiting = [j for j in lh.jobs() if j.message == "waiting for another writer"]
                if len(waiting) == 2:
                    break
                time.sleep(0.05)
            assert len(waiting) == 2
        outs = [p.communicate(timeout=60) for p in procs]
        assert sorted(p.returncode for p in procs) == [0, 0]
        text = " ".join(o for o, e in outs)
        assert "pets: 1,000 rows (version 0)" in text and "by another process (identical bytes)" in text
        assert lh.sql("SELECT count(*) AS n FROM pets").to_pylist() == [{"n": 1000}]


# -- retry ------------------------------------------------------------------------------------

def test_a_failed_ingest_retried_after_the_file_is_fixed_succeeds(lh, data):
    bad = write(data / "staff.csv", "id,name\n1,ann\n1,bob\n")
    good = write(data / "teams.csv", "id,team\n1,red\n")
    results = lh.ingest([str(data / "*.csv")], key="id")
    assert sorted(r.status for r in results) == ["failed", "ingested"]
    failed = next(j for j in lh.jobs() if j.status == "failed")
    assert failed.target == "staff"
    write(bad, "id,name\n1,ann\n2,bob\n")
    [r] = lh.retry_job(failed.id)  # only its own file, not the whole glob again
    assert (r.status, r.dataset, r.source) == ("ingested", "staff", str(bad.resolve()))
    assert lh.sql("SELECT name FROM staff ORDER BY id").column(0).to_pylist() == ["ann", "bob"]
    assert lh.job(failed.id).status == "failed"  # the old job keeps its outcome; the retry is a new job
    assert [j.status for j in lh.jobs() if j.target == "staff"] == ["succeeded", "failed"]
    assert lh.dataset("teams").row_count == 1 and good.exists()


def test_a_cancelled_embed_retried_completes(lh, data):
    from vector_data import write_profiles

    lh.ingest(write_profiles(data / "people.csv", 300), key="person_id")
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        lh.embed("people", "profile", index="people", embedder="hashing", cancel=cancel,
                 progress=lambda ev: ev.unit == "chunks" and ev.done and cancel.set())
    job = next(j for j in lh.jobs() if j.kind == "embed")
    assert job.status == "cancelled"
    events = []
    r = lh.retry_job(job.id, progress=events.append)
    assert r.index == "people" and r.embedder.startswith("hashing") and r.promoted
    assert r.embedded + r.reused == r.chunks > 0 and r.embedded < r.chunks  # it continued where it stopped
    assert events and events[-1].kind == "embed"
    assert lh.search("people", "forklift", k=1).hits


def test_retry_refuses_running_succeeded_unknown_and_unrecorded_jobs(lh, data):
    from core.errors import LakehouseError, NotFound

    lh.ingest([write(data / "ok.csv", "a\n1\n")])
    [done] = lh.jobs()
    with pytest.raises(LakehouseError, match=rf"^job {done.id} \(ingest of ok\) succeeded — there is nothing to retry$"):
        lh.retry_job(done.id)
    with pytest.raises(NotFound, match="^no job with id 'nope'$"):
        lh.retry_job("nope")
    started, stop = threading.Event(), threading.Event()

    def running():
        with lh._jobs.run("embed", "ok"):
            started.set()
            stop.wait(10)
    t = threading.Thread(target=running)
    t.start()
    assert started.wait(10)
    busy = next(j for j in lh.jobs() if j.status == "running")
    try:
        with pytest.raises(LakehouseError, match=f"job {busy.id} is still running"):
            lh.retry_job(busy.id)
    finally:
        stop.set()
        t.join(10)
    lh.catalog.jobs.add("old000000000", "ingest", "ok", os.getpid())  # as a job from before the migration
    lh.catalog.jobs.finish("old000000000", "failed", "something broke")
    with pytest.raises(LakehouseError, match="has no recorded call to retry .* run its command again"):
        lh.retry_job("old000000000")


def test_retry_goes_through_the_profile_checks(home, data):
    from core.errors import NotFound

    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text('[profiles.notes]\ndatasets = ["notes"]\nindexes = ["notes"]\n')
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest([write(data / "secret.csv", "id\n1\n1\n")], key="id")
        [job] = lh.jobs()
    with Lakehouse.open(home=home, profile="notes") as lh:
        with pytest.raises(NotFound, match=f"no job with id '{job.id}'"):
            lh.retry_job(job.id)
        assert lh.catalog.datasets.get("secret") is None


def test_cli_jobs_retry(cli, data):
    src = write(data / "staff.csv", "id,name\n1,ann\n1,bob\n")
    code, out, err = cli("ingest", str(src), "--key", "id")
    assert code == 1 and "appears 2 times" in err
    code, out, err = cli("jobs", "--format", "json")
    import json

    [job] = json.loads(out)
    assert job["status"] == "failed"
    write(src, "id,name\n1,ann\n2,bob\n")
    code, out, err = cli("jobs", "retry", job["id"])
    assert code == 0, err
    assert f"job {job['id']} (ingest of staff) retried" in err and "staff: 2 rows (version 0)" in out
    code, out, err = cli("jobs", "retry", job["id"])  # the file is in now: an unchanged no-op
    assert code == 0 and "identical bytes" in out + err
    new = json.loads(cli("jobs", "--format", "json")[1])[0]
    code, out, err = cli("jobs", "retry", new["id"])
    assert code == 1 and err.strip() == f"error: job {new['id']} (ingest of staff) succeeded — there is nothing to retry"
    code, out, err = cli("jobs", "retry", "nope")
    assert code == 1 and err.strip() == "error: no job with id 'nope' — `lakehouse jobs` lists them"
    assert "Traceback" not in err
