"""Versioned tables: upsert, update/delete with a journal, time travel, restore,
compaction and vacuum, the hot cache — and their bad-input and crash cases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO, write
from core import Lakehouse
from core.errors import LakehouseError


@pytest.fixture
def people(lh, data):
    lh.ingest([write(data / "people.csv", "id,name,age,city\nP1,ann,30,Oslo\nP2,bob,40,Rome\nP3,cy,50,Lima\n")],
              key="id")
    return lh


def rows(lh, sql="SELECT * FROM people ORDER BY id"):
    return lh.sql(sql).to_pylist()


# -- keys and upsert ---------------------------------------------------------------

def test_key_is_declared_and_described(people):
    assert people.dataset("people").primary_key == ["id"]
    assert people.describe("people").dataset.primary_key == ["id"]


def test_upsert_inserts_and_updates_by_key(people, data):
    [r] = people.ingest([write(data / "u.csv", "id,name,age,city\nP2,bob,41,Rome\nP4,dee,20,Pune\n")],
                        name="people", mode="upsert")
    assert r.status == "ingested"
    assert [(x["id"], x["age"]) for x in rows(people)] == [("P1", 30), ("P2", 41), ("P3", 50), ("P4", 20)]
    last = people.history("people")[-1]
    assert (last["source"], last["rows_added"], last["rows_updated"]) == ("upsert", 1, 1)


def test_upsert_with_duplicate_keys_in_the_file_is_refused(people, data):
    p = write(data / "dup.csv", "id,name,age,city\nP9,x,1,A\nP9,y,2,B\n")
    [r] = people.ingest([p], name="people", mode="upsert")
    assert r.status == "failed"
    assert r.message == (f"{p}: key id = 'P9' appears 2 times — each key may appear once; fix the "
                         "duplicates (nothing was written)")
    assert people.dataset("people").table_version == 0


def test_upsert_without_a_key_is_refused(lh, data):
    lh.ingest([write(data / "t.csv", "a\n1\n")])
    [r] = lh.ingest([write(data / "t2.csv", "a\n2\n")], name="t", mode="upsert")
    assert r.message == "an upsert needs a key: pass --key COL[,COL] (dataset t declares none)"


def test_key_with_missing_values_is_refused(lh, data):
    p = write(data / "k.csv", "id,v\n1,a\n,b\n")
    [r] = lh.ingest([p], key="id")
    assert r.message == f"{p}: 1 row(s) have no value for key id — every row needs a key"
    assert lh.datasets() == []


# -- update / delete and the journal ---------------------------------------------------

def test_update_is_seen_at_once_and_journaled_per_field(people):
    res = people.update("people", "P1", {"age": "31", "city": "Bergen"}, actor="alice", reason="moved")
    assert res.table_version == 1
    assert rows(people)[0] == {"id": "P1", "name": "ann", "age": 31, "city": "Bergen"}
    t = people.sql("SELECT field, old_value, new_value, actor, reason, source, table_version "
                   "FROM _journal WHERE entity = 'P1' ORDER BY field").to_pylist()
    assert t == [{"field": "age", "old_value": "30", "new_value": "31", "actor": "alice", "reason": "moved",
                  "source": "update", "table_version": 1},
                 {"field": "city", "old_value": "Oslo", "new_value": "Bergen", "actor": "alice",
                  "reason": "moved", "source": "update", "table_version": 1}]
    assert [e["field"] for e in people.history("people", "P1")] == ["age", "city"]


def test_delete_journals_the_last_values(people):
    people.delete("people", "P2", actor="bob", reason="left")
    assert [x["id"] for x in rows(people)] == ["P1", "P3"]
    ev = people.history("people", "P2")
    assert {(e["field"], e["old_value"], e["new_value"]) for e in ev} == {
        ("id", "P2", None), ("name", "bob", None), ("age", "40", None), ("city", "Rome", None)}
    assert {e["source"] for e in ev} == {"delete"}


def test_bulk_ingest_journals_one_summary_event(people, data):
    people.ingest([write(data / "more.csv", "id,name,age,city\nP5,e,1,X\nP6,f,2,Y\n")], name="people",
                  mode="append")
    events = people.history("people")
    assert len(events) == 2
    assert (events[-1]["entity"], events[-1]["rows_added"], events[-1]["source"]) == (None, 2, "ingest")


@pytest.mark.parametrize("call,message", [
    (lambda lh: lh.update("people", "P9", {"age": "1"}),
     "no record with id = 'P9' in people — nothing was written"),
    (lambda lh: lh.update("people", "P1", {"age": "abc"}),
     "people.age is BIGINT; 'abc' is not a valid BIGINT — nothing was written"),
    (lambda lh: lh.update("people", "P1", {"shoe": "9"}),
     "people has no column 'shoe' — its columns are: id, name, age, city"),
    (lambda lh: lh.update("people", "P1", {"id": "P7"}),
     "the key (id) cannot be updated — delete the record and ingest it under the new key"),
    (lambda lh: lh.delete("people", "P9"), "no record with id = 'P9' in people — nothing was written"),
    (lambda lh: lh.restore("people", version=7),
     "people has no version 7 — its versions run 0 to 0"),
    (lambda lh: lh.sql("SELECT * FROM people", as_of="1999-01-01"), None),
])
def test_bad_mutations_say_why_and_write_nothing(people, call, message):
    with pytest.raises(LakehouseError) as e:
        call(people)
    if message:
        assert str(e.value) == message
    else:
        assert str(e.value).startswith("people did not exist at 1999-01-01 — its first version is from ")
    assert people.dataset("people").table_version == 0
    assert len(people.history("people")) == 1


def test_update_of_a_dataset_without_key_is_refused(lh, data):
    lh.ingest([write(data / "nokey.csv", "a,b\n1,2\n")])
    with pytest.raises(LakehouseError, match="dataset nokey has no primary key"):
        lh.update("nokey", "1", {"b": "3"})


def test_update_rewrites_one_small_file_not_the_table(home, data):
    home.mkdir(parents=True)
    write(home / "lakehouse.toml", "[tables]\nkeyed_file_mb = 1\n")
    import duckdb

    big = data / "wide.csv"
    duckdb.sql(f"COPY (SELECT 'K' || range AS id, md5(range::VARCHAR) || md5((range*7)::VARCHAR) AS txt "
               f"FROM range(150000)) TO '{big}' (HEADER)")
    with Lakehouse.open(home=home) as lh:
        lh.ingest([big], key="id")
        files = lh.catalog.datasets.files("wide")
        assert len(files) >= 4
        total = sum(f["size"] for f in files)
        res = lh.update("wide", "K77", {"txt": "changed"})
        assert res.files_rewritten == 1 and 0 < res.bytes_written < total / 2
        assert lh.sql("SELECT txt FROM wide WHERE id = 'K77'").to_pylist() == [{"txt": "changed"}]
        assert lh.dataset("wide").row_count == 150000


# -- time travel, versions, restore ---------------------------------------------------------

def test_time_travel_by_version_and_timestamp(people, data):
    import time

    people.update("people", "P1", {"age": "99"})
    assert people.sql('SELECT age FROM "people@v0" WHERE id = \'P1\'').to_pylist() == [{"age": 30}]
    assert people.sql("SELECT age FROM people WHERE id = 'P1'", as_of=0).to_pylist() == [{"age": 30}]
    assert people.sql("SELECT age FROM people WHERE id = 'P1'", as_of="v1").to_pylist() == [{"age": 99}]
    from datetime import datetime, timezone

    v1_time = people.versions("people")[1]["timestamp"]
    time.sleep(0.01)
    people.update("people", "P1", {"age": "100"})
    assert people.sql("SELECT age FROM people WHERE id = 'P1'", as_of=v1_time).to_pylist() == [{"age": 99}]
    assert datetime.fromisoformat(v1_time).tzinfo == timezone.utc
    people.ingest([write(data / "pets.csv", "name\nrex\n")])
    with pytest.raises(LakehouseError, match="--as-of VERSION needs a query over exactly one dataset"):
        people.sql("SELECT * FROM people, pets", as_of=0)


def test_versions_list_operations_rows_and_actor(people):
    people.update("people", "P1", {"age": "31"}, actor="alice")
    people.delete("people", "P3", actor="bob")
    v = people.versions("people")
    assert [(x["version"], x["operation"], x["rows"], x["actor"]) for x in v] == [
        (0, "WRITE", 3, v[0]["actor"]), (1, "UPDATE", 3, "alice"), (2, "DELETE", 2, "bob")]
    assert (v[1]["rows_updated"], v[2]["rows_deleted"]) == (1, 1)


def test_restore_makes_an_old_state_current_as_a_new_version(people):
    people.delete("people", "P1")
    res = people.restore("people", version=0, actor="carol", reason="undo delete")
    assert res.table_version == 2
    assert [x["id"] for x in rows(people)] == ["P1", "P2", "P3"]
    assert [x["operation"] for x in people.versions("people")] == ["WRITE", "DELETE", "RESTORE"]
    summary = [e for e in people.history("people") if e["source"] == "restore" and e["entity"] is None]
    assert [(e["actor"], e["reason"], e["new_value"]) for e in summary] == [
        ("carol", "undo delete", "restored version 0: 0 records changed, 1 brought back, 0 removed")]
    assert {e["field"] for e in people.history("people", "P1") if e["source"] == "restore"} == {"id", "name", "age", "city"}
    assert people.sql('SELECT count(*) AS n FROM "people@v1"').to_pylist() == [{"n": 2}]


# -- compaction and vacuum -------------------------------------------------------------------

def test_compact_merges_small_files_and_time_travel_survives_vacuum(lh, data):
    for i in range(4):
        lh.ingest([write(data / f"part{i}.csv", f"id,v\n{i},{i}\n")], name="parts", mode="append")
    assert len(lh.catalog.datasets.files("parts")) == 4
    r = lh.compact("parts", vacuum=True)  # default retention: 7 days
    assert (r["files_before"], r["files_after"], r["vacuumed_files"]) == (4, 1, 0)
    assert lh.sql("SELECT sum(v) AS s FROM parts").to_pylist() == [{"s": 6}]
    for version, n in [(0, 1), (2, 3), (3, 4)]:
        assert lh.sql("SELECT count(*) AS n FROM parts", as_of=version).to_pylist() == [{"n": n}]


def test_vacuum_past_the_retention_says_old_versions_are_gone(lh, data):
    for i in range(3):
        lh.ingest([write(data / f"p{i}.csv", f"id\n{i}\n")], name="pp", mode="append")
    r = lh.compact("pp", vacuum=True, retain_hours=0)
    assert r["vacuumed_files"] == 3
    assert lh.sql("SELECT count(*) AS n FROM pp").to_pylist() == [{"n": 3}]
    with pytest.raises(LakehouseError, match=r"pp as of 0 is no longer readable: a compaction's vacuum removed"):
        lh.sql("SELECT * FROM pp", as_of=0)


def test_auto_compaction_after_many_small_files(home, data):
    home.mkdir(parents=True)
    write(home / "lakehouse.toml", "[tables]\nauto_compact_files = 3\n")
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "k0.csv", "id,v\n0,0\n")], key="id", name="kk")
        for i in range(1, 5):
            lh.ingest([write(data / f"k{i}.csv", f"id,v\n{i},{i}\n")], name="kk", mode="upsert")
            lh.update("kk", str(i), {"v": str(i * 10)})
        assert len(lh.catalog.datasets.files("kk")) <= 3
        assert "OPTIMIZE" in [v["operation"] for v in lh.versions("kk")]
        assert lh.sql("SELECT sum(v) AS s FROM kk").to_pylist() == [{"s": 100}]


# -- hot cache --------------------------------------------------------------------------------

def test_pinned_dataset_is_served_from_memory_and_never_stale(people):
    people.pin("people")
    assert rows(people)[0]["age"] == 30
    assert rows(people)[0]["age"] == 30
    st = people.cache()
    assert st["pinned"] == ["people"] and [c["name"] for c in st["cached"]] == ["people"]
    assert (st["misses"], st["hits"]) == (1, 1) and st["used_bytes"] > 0
    people.update("people", "P1", {"age": "77"})
    assert rows(people)[0]["age"] == 77  # the cached copy was dropped, not served stale
    people.unpin("people")
    assert people.cache()["cached"] == [] and rows(people)[0]["age"] == 77


def test_least_recently_used_copy_is_evicted(home, data):
    home.mkdir(parents=True)
    write(home / "lakehouse.toml", '[cache]\nmemory_limit = "600KB"\n')
    import duckdb

    with Lakehouse.open(home=home) as lh:
        for n in ("a", "b"):
            f = data / f"{n}.csv"
            duckdb.sql(f"COPY (SELECT range AS id FROM range(40000)) TO '{f}' (HEADER)")
            lh.ingest([f])
            lh.pin(n)
        lh.sql("SELECT count(*) FROM a")
        lh.sql("SELECT count(*) FROM b")
        st = lh.cache()
        assert [c["name"] for c in st["cached"]] == ["b"] and st["evictions"] == 1
        assert lh.sql("SELECT count(*) AS n FROM a").to_pylist() == [{"n": 40000}]


# -- crashes during mutations ---------------------------------------------------------------

def _mutate_in_subprocess(home, code, crash_at):
    script = f"from core import Lakehouse\nlh = Lakehouse.open(home={str(home)!r})\n{code}\n"
    return subprocess.run([sys.executable, "-c", script], cwd=REPO,
                          env={**os.environ, "LAKEHOUSE_CRASH_AT": crash_at}).returncode


def test_update_killed_after_its_commit_is_journaled_exactly_once(people, home):
    code = "lh.update('people', 'P1', {'age': '61'}, actor='x', reason='crash test')"
    assert _mutate_in_subprocess(home, code, "after_delta_commit") == -signal.SIGKILL
    with Lakehouse.open(home=home) as fresh:
        assert rows(fresh)[0]["age"] == 61
        ev = fresh.history("people", "P1")
        assert [(e["field"], e["old_value"], e["new_value"], e["reason"]) for e in ev] == [
            ("age", "30", "61", "crash test")]


def test_update_killed_before_its_commit_leaves_the_previous_version(people, home):
    code = "lh.update('people', 'P1', {'age': '62'})"
    assert _mutate_in_subprocess(home, code, "before_delta_commit") == -signal.SIGKILL
    with Lakehouse.open(home=home) as fresh:
        assert rows(fresh)[0]["age"] == 30
        assert fresh.dataset("people").table_version == 0
        assert fresh.history("people", "P1") == []


# -- CLI ------------------------------------------------------------------------------------

def test_cli_mutation_commands(cli, data):
    p = write(data / "staff.csv", "id,name\nS1,ann\nS2,bob\n")
    assert cli("ingest", str(p), "--key", "id")[0] == 0
    code, out, err = cli("update", "staff", "--key", "S1", "--set", "name=anna", "--actor", "me",
                         "--reason", "typo")
    assert code == 0 and "staff id = 'S1': updated name (version 1)" in out and "'ann' -> 'anna'" in out
    code, out, err = cli("history", "staff", "S1", "--format", "json")
    import json

    [ev] = json.loads(out)
    assert (ev["old_value"], ev["new_value"], ev["actor"], ev["reason"]) == ("ann", "anna", "me", "typo")
    code, out, err = cli("sql", "SELECT name FROM staff WHERE id = 'S1'", "--as-of", "v0", "--format", "json")
    assert json.loads(out) == [{"name": "ann"}]
    code, out, err = cli("update", "staff", "--key", "S1", "--set", "name")
    assert code == 2 and "--set 'name' is not col=value" in err
    code, out, err = cli("restore", "staff", "--version", "0", "--reason", "undo")
    assert code == 0 and "restored version 0 as version 2" in out
    code, out, err = cli("versions", "staff", "--format", "json")
    assert [v["operation"] for v in json.loads(out)] == ["WRITE", "UPDATE", "RESTORE"]
    code, out, err = cli("delete", "staff", "--key", "S9")
    assert code == 1 and err.strip() == "error: no record with id = 'S9' in staff — nothing was written"
    assert cli("pin", "staff")[0] == 0
    code, out, err = cli("cache", "--format", "json")
    assert json.loads(out)["pinned"] == ["staff"]
    code, out, err = cli("compact", "staff")
    assert code == 0 and out.startswith("staff: ")


def test_upserts_keep_keyed_files_small(home, data):
    """A scattered upsert must not fuse a keyed table into one big file (later updates
    would then rewrite everything)."""
    home.mkdir(parents=True)
    write(home / "lakehouse.toml", "[tables]\nkeyed_file_mb = 1\n")
    import duckdb

    base, upd = data / "base.csv", data / "upd.csv"
    duckdb.sql(f"COPY (SELECT 'K' || range AS id, md5(range::VARCHAR) || md5((range*7)::VARCHAR) AS txt "
               f"FROM range(150000)) TO '{base}' (HEADER)")
    duckdb.sql(f"COPY (SELECT 'K' || (range * 37 % 150000) AS id, 'new' AS txt FROM range(3000)) "
               f"TO '{upd}' (HEADER)")
    with Lakehouse.open(home=home) as lh:
        lh.ingest([base], key="id")
        n_files = len(lh.catalog.datasets.files("base"))
        [r] = lh.ingest([upd], name="base", mode="upsert")
        assert r.status == "ingested"
        assert len(lh.catalog.datasets.files("base")) >= n_files - 1
        assert lh.sql("SELECT count(*) AS n FROM base WHERE txt = 'new'").to_pylist() == [{"n": 3000}]
