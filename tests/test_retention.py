"""Retention of the system logs: `run_retention` (a job of kind retention) deletes audit,
errors, journal and asks rows older than [retention]'s days, keeps newer ones (and
accepted asks), says how many went per table; restore still reads every version."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import write
from core import Lakehouse

CONFIG = "[retention]\naudit_days = 30\nerrors_days = 30\njournal_days = 30\nasks_days = 30\n"


def _ago(days: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="milliseconds")


def _count(lh, table: str) -> int:
    return lh.catalog.db.query(f"SELECT count(*) FROM {table}")[0][0]


def _seed(lh, data) -> None:
    """Some of each log, then half of every table backdated past 30 days."""
    lh.ingest([write(data / "p.csv", "id,v\n1,a\n2,b\n")], key="id")
    lh.update("p", "1", {"v": "c"})
    lh.update("p", "2", {"v": "d"})
    lh.sql("SELECT count(*) FROM p")
    lh.audit_log.flush()
    lh.catalog.errors.add("ingest", "old failure")
    lh.catalog.errors.add("ingest", "new failure")
    for i, accepted in enumerate((1, 0, 0)):
        lh.catalog.db.execute("INSERT INTO asks (id, ts, question, mode, outcome, accepted) VALUES (?,?,?,?,?,?)",
                              (f"a{i}", _ago(0), f"q{i}", "sql", "answered", accepted))
    old = _ago(40)
    for table in ("audit", "errors", "journal", "asks"):  # the lower half of ids: 40 days old
        n = _count(lh, table)
        lh.catalog.db.execute(f"UPDATE {table} SET ts = ? WHERE rowid IN "
                              f"(SELECT rowid FROM {table} ORDER BY rowid LIMIT ?)", (old, max(1, n // 2 + n % 2)))


def test_retention_removes_old_rows_and_keeps_new_ones(home, data):
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text(CONFIG)
    with Lakehouse.open(home=home) as lh:
        _seed(lh, data)
        before = {t: _count(lh, t) for t in ("audit", "errors", "journal", "asks")}
        old = {t: lh.catalog.db.query(f"SELECT count(*) FROM {t} WHERE ts < ?", (_ago(30),))[0][0] for t in before}
        accepted_old = lh.catalog.db.query("SELECT count(*) FROM asks WHERE accepted = 1 AND ts < ?",
                                           (_ago(30),))[0][0]
        assert accepted_old == 1 and all(old.values())
        r = lh.run_retention()
        assert r["removed"] == {**old, "asks": old["asks"] - accepted_old}
        assert r["days"] == {"audit": 30, "errors": 30, "journal": 30, "asks": 30}
        for t in before:
            assert _count(lh, t) == before[t] - r["removed"][t] > 0  # the new ones stay
        assert lh.catalog.db.query("SELECT count(*) FROM asks WHERE accepted = 1")[0][0] == 1
        job = lh.job(r["job_id"])
        assert job.kind == "retention" and job.status == "succeeded" and "retention removed" in job.message
        # the journal lost history, not versions: every version can still be restored
        assert len(lh.versions("p")) == 3
        lh.restore("p", version=0)
        assert sorted(lh.sql("SELECT v FROM p").column("v").to_pylist()) == ["a", "b"]
        assert lh.run_retention()["removed"]["errors"] == 0  # nothing older left


def test_zero_days_keeps_everything_and_the_cli_says_so(home, data, cli):
    with Lakehouse.open(home=home) as lh:
        _seed(lh, data)
        before = {t: _count(lh, t) for t in ("audit", "errors", "journal", "asks")}
    code, out, err = cli("retention", "run")
    assert code == 0, err
    assert "audit: kept forever (0 days)" in out and "asks: kept forever (0 days)" in out
    with Lakehouse.open(home=home) as lh:
        assert {t: _count(lh, t) for t in before} == {**before, "audit": _count(lh, "audit")}
        assert [j.kind for j in lh.jobs(5)][0] == "retention"


def test_cli_reports_rows_removed_per_table(home, data, cli):
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text("[retention]\nerrors_days = 7\n")
    with Lakehouse.open(home=home) as lh:
        lh.catalog.errors.add("ingest", "old")
        lh.catalog.db.execute("UPDATE errors SET ts = ?", (_ago(8),))
        lh.catalog.errors.add("ingest", "new")
    code, out, err = cli("retention", "run")
    assert code == 0 and "errors: 1 row(s) older than 7 days removed" in out, err
    assert "journal: kept forever (0 days)" in out


def test_a_restricted_profile_may_not_delete_the_audit(home):
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text('[profiles.hr]\ndatasets = ["people"]\n')
    with Lakehouse.open(home=home, profile="hr") as lh:
        with pytest.raises(Exception, match="cannot do retention"):
            lh.run_retention()


def test_a_bad_retention_value_is_one_sentence(home):
    from core import config
    from core.errors import ConfigError

    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text("[retention]\naudit_days = -1\n")
    with pytest.raises(ConfigError, match="key 'retention.audit_days' must not be negative"):
        config.load(home=home)


@pytest.mark.parametrize("value,said", [("30.5", "must be an integer, got float 30.5"),
                                        ('"30"', "must be an integer, got str '30'"),
                                        ("-3", "must not be negative")])
def test_a_float_string_or_negative_days_is_one_sentence(home, value, said):
    from core import config
    from core.errors import ConfigError

    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text(f"[retention]\njournal_days = {value}\n")
    with pytest.raises(ConfigError, match="key 'retention.journal_days' " + said.replace("(", r"\(")) as e:
        config.load(home=home)
    assert "\n" not in str(e.value)


def test_days_beyond_the_calendar_remove_nothing(home, data, cli):
    """A date that far back cannot be written (it raised OverflowError): nothing is that old."""
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text("[retention]\naudit_days = 99999999999999999999\nerrors_days = 1000000\n")
    with Lakehouse.open(home=home) as lh:
        lh.catalog.errors.add("ingest", "kept")
        assert lh.run_retention()["removed"] == {"audit": 0, "errors": 0, "journal": 0, "asks": 0}
        assert _count(lh, "errors") == 1
    code, out, err = cli("retention", "run")
    assert code == 0 and "errors: 0 row(s) older than 1000000 days removed" in out, err


def test_retention_deletes_in_chunks_while_another_process_writes_the_audit(home, data, monkeypatch):
    import subprocess
    import sys

    from core.governance import retention

    monkeypatch.setattr(retention, "CHUNK", 7)  # many short writes, as millions of rows would take
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text("[retention]\naudit_days = 1\njournal_days = 1\n")
    with Lakehouse.open(home=home) as lh:
        lh.ingest([write(data / "p.csv", "id,v\n1,a\n2,b\n")], key="id")
        for i in range(20):
            lh.update("p", "1", {"v": f"x{i}"})
        lh.audit_log.flush()
        lh.catalog.db.execute("UPDATE audit SET ts = ?", (_ago(3),))
        lh.catalog.db.execute("UPDATE journal SET ts = ?", (_ago(3),))
        old = {t: _count(lh, t) for t in ("audit", "journal")}
        writer = subprocess.Popen([sys.executable, "-c", (
            "import sys; from core import Lakehouse\n"
            "with Lakehouse.open() as lh:\n"
            "    print('ready', flush=True)\n"
            "    for i in range(150):\n"
            "        lh.sql('SELECT count(*) FROM p'); lh.audit_log.flush()\n"
            "    print('done')\n")], cwd=str(Path(__file__).parent.parent), stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().strip() == "ready"  # writing now
            removed = lh.run_retention()["removed"]
        finally:
            out, _ = writer.communicate(timeout=120)
        assert writer.returncode == 0 and out.strip() == "done"
        assert removed["audit"] == old["audit"] and removed["journal"] == old["journal"] > 7
        assert _count(lh, "audit") >= 150  # the writer's entries, all newer than a day
        lh.restore("p", version=0)  # the journal went, the versions stay
        assert sorted(lh.sql("SELECT v FROM p").column("v").to_pylist()) == ["a", "b"]
