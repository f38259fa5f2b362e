"""Recovery trusts only the Delta commits lakehouse wrote (issue 14).

A commit newer than the catalog's pointer is rolled forward only when the catalog holds
the intent lakehouse recorded before making it; anything else in a log (a planted file,
another tool's commit) is reported once in `_errors`, never applied to the catalog or
the journal, and `lakehouse resync NAME` is the explicit way to adopt it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import REPO, write
from core import Lakehouse
from core.errors import LakehouseError

FORGED = "00000000000000000002.json"


def _people(home, data):
    """A keyed dataset with two versions and one journaled update."""
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "people.csv", "id,name,salary\nP1,ann,100\nP2,bob,200\nP3,cy,300\n")],
                  name="people", key="id")
        lh.update("people", "P1", {"salary": "150"}, actor="hr", reason="raise")


def _state(lh):
    return {
        "rows": lh.sql("SELECT * FROM people ORDER BY id").to_pylist(),
        "versions": [{k: v for k, v in x.items()} for x in lh.versions("people")],
        "history": lh.history("people"),
        "journal": lh.sql("SELECT * FROM _journal ORDER BY id").to_pylist(),
        "table_version": lh.dataset("people").table_version,
    }


def _plant_forged_commit(home, version: int = 2) -> str:
    """A real Delta commit, as an attacker able to write into the log would: it removes
    every live data file and names an invented actor and reason."""
    from deltalake import DeltaTable

    table = home / "tables" / "people"
    files = [u.rsplit("/", 1)[1] for u in DeltaTable(str(table)).file_uris()]
    assert files
    ts = int(time.time() * 1000)
    meta = {"source": "delete", "actor": "mallory", "reason": "forged", "mode": "delete",
            "journal": [{"entity": "P1", "field": "name", "old": "ann", "new": None}],
            "sources": [{"uri": "/nowhere.csv", "sha256": "0" * 64, "bytes": 1, "rows": 0}]}
    lines = [{"commitInfo": {"timestamp": ts, "operation": "DELETE",
                             "operationParameters": {"predicate": "true"}, "readVersion": version - 1,
                             "engineInfo": "delta-rs:py-1.6.6", "lakehouse": json.dumps(meta)}}]
    lines += [{"remove": {"path": f, "deletionTimestamp": ts, "dataChange": True}} for f in files]
    log = table / "_delta_log" / f"{version:020d}.json"
    assert not log.exists()
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    # the forgery is a valid commit: delta-rs itself reads an empty table at its version
    dt = DeltaTable(str(table))
    assert dt.version() == version and dt.file_uris() == []
    return str(log)


def _recovery_errors(lh):
    return [e for e in lh.errors() if e.operation == "recovery"]


def test_a_forged_commit_is_refused_reported_once_and_changes_nothing(home, data, cli):
    _people(home, data)
    with Lakehouse.open(home=home) as lh:
        before = _state(lh)
        assert before["table_version"] == 1 and len(before["rows"]) == 3
    log = _plant_forged_commit(home)

    with Lakehouse.open(home=home) as lh:
        [note] = lh.recovery_notes
        assert note.startswith("people: version 2 of its Delta table was not written by lakehouse "
                               "and was not applied (queries still read version 1)")
        assert "`lakehouse resync people` adopts it" in note and log in note
        assert "\n" not in note and "mallory" not in note
        assert _state(lh) == before  # rows, versions, history, journal: untouched
        [err] = _recovery_errors(lh)
        assert err.dataset == "people" and err.message == note
        errs = lh.sql("SELECT operation, dataset, message FROM _errors").to_pylist()
        assert errs == [{"operation": "recovery", "dataset": "people", "message": note}]
        assert not any("mallory" in str(r) for r in lh.sql("SELECT * FROM _journal").to_pylist())
        # time travel stops at the registered version too
        assert lh.sql("SELECT count(*) AS n FROM people", as_of="2999-01-01").to_pylist() == [{"n": 3}]
        with pytest.raises(LakehouseError, match="people has no version 2 — its versions run 0 to 1"):
            lh.sql('SELECT count(*) FROM "people@v2"')

        # nothing is built on top of it: a write is refused in one sentence, nothing changes
        with pytest.raises(LakehouseError) as e:
            lh.update("people", "P2", {"salary": "999"}, actor="hr", reason="x")
        assert "version 2 of its Delta table was not written by lakehouse" in str(e.value)
        assert str(e.value).endswith("nothing was written")
        assert _state(lh) == before
    assert sorted(os.listdir(home / "tables" / "people" / "_delta_log")) == [
        "00000000000000000000.json", "00000000000000000001.json", FORGED]

    with Lakehouse.open(home=home) as lh:  # every later start: the note again, no second error
        assert lh.recovery_notes == [note]
        assert len(_recovery_errors(lh)) == 1
        assert _state(lh) == before

    code, out, err = cli("errors", "--format", "json")
    assert code == 0
    assert [e["message"] for e in json.loads(out) if e["operation"] == "recovery"] == [note]

    # `resync` (all datasets) explains and adopts nothing
    code, out, err = cli("resync")
    assert code == 0 and "Traceback" not in err
    assert "people: version 2 of its Delta table was not written by lakehouse" in out
    assert "`lakehouse resync people` adopts it" in out
    with Lakehouse.open(home=home) as lh:
        assert _state(lh) == before
        assert len(_recovery_errors(lh)) == 1

    # naming the dataset is the explicit adoption (for a commit another tool wrote)
    code, out, err = cli("resync", "people")
    assert code == 0 and "version 1 -> 2" in out
    with Lakehouse.open(home=home) as lh:
        assert lh.recovery_notes == []
        assert lh.sql("SELECT count(*) AS n FROM people").to_pylist() == [{"n": 0}]
        assert [v["version"] for v in lh.versions("people")] == [0, 1, 2]
        assert lh.history("people") == before["history"]  # adoption writes no forged journal


def test_a_malformed_planted_log_file_is_reported_not_a_crash(home, data):
    _people(home, data)
    with Lakehouse.open(home=home) as lh:
        before = _state(lh)
    write(home / "tables" / "people" / "_delta_log" / FORGED, "{not json at all\n")
    for _ in range(2):
        with Lakehouse.open(home=home) as lh:
            [note] = lh.recovery_notes
            assert note.startswith("people: ") and "nothing in it was applied" in note
            assert _state(lh) == before
            assert len(_recovery_errors(lh)) == 1


def test_a_forged_table_for_a_new_name_is_not_taken_as_a_dataset(home, data):
    import pyarrow as pa
    from deltalake import write_deltalake

    with Lakehouse.open(home=home):
        pass
    write_deltalake(str(home / "tables" / "planted"), pa.table({"x": [1, 2]}))  # not through us
    with Lakehouse.open(home=home) as lh:
        [note] = lh.recovery_notes
        assert "planted: the table at" in note and "not taken as a dataset" in note
        assert lh.catalog.datasets.get("planted") is None
        [r] = lh.ingest([write(data / "planted.csv", "x\n3\n")], name="planted")
        assert r.status == "failed" and "not taken as a dataset" in r.message
        assert r.message.endswith("nothing was written")
        assert lh.catalog.datasets.get("planted") is None


# -- legit commits a crash left unregistered still roll forward ----------------------------------

def _run(home, code, env):
    script = f"from core import Lakehouse\nlh = Lakehouse.open(home={str(home)!r})\n{code}\n"
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True)


def test_a_killed_delete_and_compaction_roll_forward_without_errors(home, data):
    _people(home, data)
    r = _run(home, "lh.delete('people', 'P3', actor='hr', reason='left')",
             {"LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert r.returncode == -signal.SIGKILL
    with Lakehouse.open(home=home) as lh:
        assert lh.recovery_notes == ["people: registered version 2, which a crash left unregistered"]
        assert sorted(lh.sql("SELECT id FROM people").column(0).to_pylist()) == ["P1", "P2"]
        assert [(e["entity"], e["reason"]) for e in lh.history("people", "P3")][0] == ("P3", "left")
        assert _recovery_errors(lh) == []
        lh.compact("people", vacuum=True, retain_hours=0)  # OPTIMIZE + VACUUM START/END: ours
        v = lh.dataset("people").table_version
    with Lakehouse.open(home=home) as lh:
        assert lh.recovery_notes == [] and _recovery_errors(lh) == []
        assert lh.dataset("people").table_version == v
        lh.update("people", "P1", {"salary": "175"}, actor="hr", reason="again")  # not refused
        assert lh.dataset("people").table_version == v + 1
    new = write(data / "people2.csv", "id,name,salary\nP9,zed,1\n")
    r = _run(home, f"lh.ingest([{str(new)!r}], name='people', mode='replace', key='id')",
             {"LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert r.returncode == -signal.SIGKILL
    with Lakehouse.open(home=home) as lh:
        assert lh.recovery_notes == [f"people: registered version {v + 2}, which a crash left unregistered"]
        assert lh.sql("SELECT id FROM people").to_pylist() == [{"id": "P9"}]
        assert _recovery_errors(lh) == [] and lh.catalog.intents.get("people") == {}


def test_a_forged_commit_after_a_killed_one_rolls_forward_only_ours(home, data):
    _people(home, data)
    r = _run(home, "lh.delete('people', 'P3', actor='hr', reason='left')",
             {"LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert r.returncode == -signal.SIGKILL
    _plant_forged_commit(home, version=3)
    with Lakehouse.open(home=home) as lh:
        ours, theirs = lh.recovery_notes
        assert ours == "people: registered version 2, which a crash left unregistered"
        assert theirs.startswith("people: version 3 of its Delta table was not written by lakehouse")
        assert lh.dataset("people").table_version == 2
        assert sorted(lh.sql("SELECT id FROM people").column(0).to_pylist()) == ["P1", "P2"]
        assert [v["version"] for v in lh.versions("people")] == [0, 1, 2]
        assert {e["reason"] for e in lh.history("people")} == {"", "raise", "left"}  # ingest, ours
        assert "mallory" not in str(lh.history("people"))


# -- a killed upsert leaves no false "not written by lakehouse" warning --------------------------

def _plain(home, data):
    """A dataset created without a key: an upsert with --key first sets the table's own
    file target (a commit of its own, without rows) and then merges."""
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "p.csv", "id,v\n1,a\n2,b\n")], name="p")
    return write(data / "p2.csv", "id,v\n2,B\n3,c\n")


UPSERT = "lh.ingest([{path!r}], name='p', mode='upsert', key='id')"


def test_a_killed_upsert_rolls_forward_without_a_false_warning(home, data):
    p2 = _plain(home, data)
    r = _run(home, UPSERT.format(path=str(p2)), {"LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert r.returncode == -signal.SIGKILL
    for i in range(2):
        with Lakehouse.open(home=home) as lh:
            assert lh.recovery_notes == (
                ["p: registered version 2, which a crash left unregistered"] if i == 0 else [])
            assert lh.sql("SELECT id, v FROM p ORDER BY id").to_pylist() == [
                {"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}]
            assert lh.errors() == []
            assert [r.status for r in lh.ingest([p2], name="p", mode="upsert", key="id")] == ["unchanged"]


def test_an_upsert_killed_before_its_merge_commit_leaves_no_false_warning(home, data):
    p2 = _plain(home, data)
    script = (f"from core import Lakehouse\nLakehouse.open(home={str(home)!r})."
              + UPSERT.format(path=str(p2)).removeprefix("lh."))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                            env={**os.environ, "LAKEHOUSE_TEST_PAUSE_AT": "ingest:write"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = sqlite3.connect(home / "catalog.sqlite")
    try:
        for _ in range(6000):  # until the job says it paused mid-merge (or the process ended)
            row = db.execute("SELECT 1 FROM jobs WHERE message = 'test pause at ingest:write'").fetchone()
            if row or proc.poll() is not None:
                break
            time.sleep(0.02)
        assert row, proc.communicate()
    finally:
        db.close()
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    # the property commit was made, the merge never was
    assert (home / "tables" / "p" / "_delta_log" / "00000000000000000001.json").exists()
    assert not (home / "tables" / "p" / "_delta_log" / FORGED).exists()
    for _ in range(2):
        with Lakehouse.open(home=home) as lh:
            assert not any("not written" in n for n in lh.recovery_notes), lh.recovery_notes
            assert lh.errors() == []
            assert lh.sql("SELECT id, v FROM p ORDER BY id").to_pylist() == [
                {"id": 1, "v": "a"}, {"id": 2, "v": "b"}]
    with Lakehouse.open(home=home) as lh:
        [r] = lh.ingest([p2], name="p", mode="upsert", key="id")
        assert r.status == "ingested"
        assert lh.sql("SELECT count(*) AS n FROM p").to_pylist() == [{"n": 3}]


# -- recovery notes go only to profiles that see the dataset -------------------------------------

def test_recovery_notes_are_shown_only_to_profiles_that_see_the_dataset(home, data):
    home.mkdir(parents=True)
    write(home / "lakehouse.toml", '[profiles.pub]\ndatasets = ["pub"]\n')
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "pub.csv", "a\n1\n")], name="pub")
    secret = write(data / "secret.csv", "salary\n7000\n")
    for name, profile, shown in (("secret", "pub", False), ("secret2", "default", True)):
        r = _run(home, f"lh.ingest([{str(secret)!r}], name={name!r})",
                 {"LAKEHOUSE_CRASH_AT": "after_delta_commit"})
        assert r.returncode == -signal.SIGKILL
        with Lakehouse.open(home=home, profile=profile) as lh:
            expected = [f"{name}: registered version 0, which a crash left unregistered"]
            assert lh.recovery_notes == (expected if shown else [])
            assert lh.catalog.datasets.get(name).row_count == 1  # recovered all the same
