"""A profile is a boundary for whoever holds it (issue 14): a restricted profile tries
every route to widen itself or read another's rows — system tables under every profile
shape, profile edit/create/delete/activate, job cancel and retry, error texts — and
gets nothing. An unrestricted holder keeps administering, and a person who opened the
workstation as default can switch to a narrow profile and back."""

from __future__ import annotations

import json

import pytest

from conftest import write
from core import Lakehouse
from core.access import Refused, may_switch, restricted
from core.errors import LakehouseError
from core.profiles.store import Profile

SECRETS = ("secret", "TOPSECRET", "7777777", "8888888")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """`pub` (the profile's) and `secret` (not), each with journal rows, a failed job and
    an error, an index over each, and profiles of every shape over `pub` — built once,
    copied for each test."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    base = tmp_path_factory.mktemp("boundary")
    home, data = base / "home", base / "data"
    data.mkdir()
    exe = str(Path(sys.executable).parent / "lakehouse")

    def cli(*args):
        p = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "LAKEHOUSE_HOME": str(home)})
        return p.returncode, p.stdout, p.stderr
    assert cli("ingest", str(write(data / "pub.csv", "id,v\n1,hello world\n2,more words\n")), "--key", "id")[0] == 0
    assert cli("ingest", str(write(data / "secret.csv", "id,note,salary\n7,TOPSECRET note 7,7777777\n")),
               "--key", "id")[0] == 0
    cli("update", "secret", "--key", "7", "--set", "salary=8888888", "--reason", "raise")
    cli("update", "pub", "--key", "1", "--set", "v=bye", "--reason", "tidy")
    cli("ingest", str(write(data / "bad.json", "[1,")), "--name", "secret", "--mode", "append")  # a failed job
    cli("ingest", str(write(data / "bad2.json", "[1,")), "--name", "pub", "--mode", "append")
    for ds, col in (("pub", "v"), ("secret", "note")):
        assert cli("embed", ds, "--column", col, "--index", f"{ds}_idx", "--embedder", "hashing")[0] == 0
    (home / "lakehouse.toml").write_text(
        '[profiles.only]\ndatasets = ["pub"]\n'
        '[profiles.globbed]\ndatasets = ["pu*"]\nindexes = ["*_idx"]\n'
        '[profiles.star_idx]\ndatasets = ["pub"]\nindexes = ["*"]\n'
        '[profiles.wrong_idx]\ndatasets = ["pub"]\nindexes = ["secret_idx"]\n')
    return home


@pytest.fixture
def lake(template, home):
    import shutil

    shutil.copytree(template, home)
    return home


SHAPES = ["only", "globbed", "star_idx", "wrong_idx"]
SYSTEM = ["_journal", "_datasets", "_errors", "_jobs", "_indexes", "_index_events", "_asks", "_audit"]


@pytest.mark.parametrize("shape", SHAPES)
def test_system_tables_and_listings_show_nothing_of_another_dataset(lake, cli, shape):
    with Lakehouse.open(home=lake, profile=shape) as lh:
        for table in SYSTEM:
            out = json.dumps(lh.sql(f"SELECT * FROM {table}").to_pylist(), default=str)
            assert not any(s in out for s in SECRETS), (shape, table, out)
        assert "tidy" in json.dumps(lh.sql("SELECT * FROM _journal").to_pylist(), default=str)  # its own rows
    code, out, err = cli("--profile", shape, "sql", "SELECT * FROM _journal", "--format", "json")
    assert code == 0 and "tidy" in out and not any(s in out for s in SECRETS)
    for cmd in (["jobs"], ["errors"], ["audit"], ["datasets"], ["index", "list"], ["history", "pub"]):
        code, out, err = cli("--profile", shape, *cmd, "--format", "json")
        assert code == 0, (cmd, err)
        assert not any(s in out for s in SECRETS), (shape, cmd, out)


@pytest.mark.parametrize("cmd", [
    ["describe", "secret"], ["history", "secret"], ["versions", "secret"], ["sql", "SELECT * FROM secret"],
    ["sql", 'SELECT * FROM "secret@v0"'], ["search", "secret_idx", "note"], ["update", "secret", "--key", "7",
                                                                             "--set", "salary=1"],
    ["sql", "SELECT * FROM secretz"], ["describe", "secretz"],
])
def test_another_datasets_name_gets_a_refusal_that_reveals_nothing(lake, cli, cmd):
    code, out, err = cli("--profile", "only", *cmd)
    assert code != 0 and err.startswith("error: ") and "Traceback" not in err
    for leak in ("TOPSECRET", "7777777", "8888888", "note,", "salary"):
        assert leak not in out + err, (cmd, err)
    assert "secret_idx" not in err or cmd[0] == "search"  # a typo's suggestions list only its own names


@pytest.mark.parametrize("cmd", [
    ["profile", "edit", "only", "--datasets", "*"],
    ["profile", "edit", "globbed", "--indexes", "*"],
    ["profile", "create", "wide", "--datasets", "*"],
    ["profile", "delete", "star_idx"],
    ["profile", "activate", "default"],
    ["profile", "activate", "globbed"],
])
def test_a_restricted_profile_cannot_widen_itself_or_touch_other_profiles(lake, cli, home, cmd):
    before = (home / "lakehouse.toml").read_text()
    code, out, err = cli("--profile", "only", *cmd)
    assert code == 1, (cmd, out, err)
    assert err.startswith("error: profile only is restricted to its own datasets and cannot do ")
    assert "`lakehouse --profile default ...`" in err
    assert (home / "lakehouse.toml").read_text() == before
    code, out, err = cli("--profile", "only", "sql", "SELECT count(*) AS n FROM secret")
    assert code == 1 and "7777777" not in out


def test_an_activated_narrow_profile_is_left_only_by_an_unrestricted_holder(lake, cli):
    assert cli("profile", "activate", "only", "--wait")[0] == 0
    code, out, err = cli("profile", "activate", "default", "--wait")  # held by `only` now
    assert code == 1 and "--profile default" in err
    code, out, err = cli("sql", "SELECT * FROM secret")
    assert code == 1
    assert cli("--profile", "default", "profile", "activate", "default", "--wait")[0] == 0
    code, out, err = cli("sql", "SELECT count(*) AS n FROM secret", "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 1}]


def test_a_restricted_profile_cancels_and_retries_only_its_own_jobs(lake, cli, data):
    jobs = json.loads(cli("--profile", "only", "jobs", "--format", "json")[1])
    by_default = next(j for j in jobs if j["status"] == "failed" and j["target"].startswith("pub"))
    for verb in ("retry", "cancel"):
        code, out, err = cli("--profile", "only", "jobs", verb, by_default["id"])
        assert code == 1 and f"was started by profile default, and profile only may {verb} only its own jobs" in err
    secret_job = next(j for j in json.loads(cli("jobs", "--format", "json")[1]) if j["target"].startswith("secret")
                      and j["status"] == "failed")
    code, out, err = cli("--profile", "only", "jobs", "retry", secret_job["id"])
    assert code == 1 and "7777777" not in err and "no job with id" in err  # not even seen
    # its own failed job: retried (and fails again the same way, as its own new job)
    cli("--profile", "only", "ingest", str(write(data / "bad3.json", "[1,")), "--name", "pub", "--mode", "append")
    own = next(j for j in json.loads(cli("--profile", "only", "jobs", "--format", "json")[1])
               if j["status"] == "failed" and "bad3" not in j["id"] and j["id"] != by_default["id"])
    code, out, err = cli("--profile", "only", "jobs", "retry", own["id"])
    assert "may retry only its own jobs" not in err and code != 0 and "bad3.json" in err


def test_the_unrestricted_holder_still_administers(lake, cli, home):
    assert cli("profile", "edit", "only", "--datasets", "pub,secret")[0] == 0
    code, out, err = cli("--profile", "only", "sql", "SELECT count(*) AS n FROM secret", "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 1}]
    assert cli("profile", "delete", "wrong_idx")[0] == 0
    assert cli("profile", "create", "quick", "--datasets", "pub", "--sql-timeout", "5")[0] == 0
    assert "sql_timeout_s = 5.0" in (home / "lakehouse.toml").read_text()


def test_the_rules_in_one_place():
    default, pub = Profile("default"), Profile("pub", datasets=["pub"])
    wide_data = Profile("w", datasets=["*"], indexes=["pub_idx"])
    assert not restricted(default) and restricted(pub) and restricted(wide_data)
    assert may_switch(default, pub) and may_switch(pub, pub) and not may_switch(pub, default)
    assert not may_switch(pub, Profile("other", datasets=["pub"]))


def test_the_tui_holder_switches_to_a_narrow_profile_and_back(lake):
    """The person at the keyboard opened it as default: activating `only` narrows what is
    read, and going back is theirs to do."""
    with Lakehouse.open(home=lake, profile="default") as lh:
        lh.activate("only")
        assert lh.profile.id == "only" and lh.principal.id == "default"
        assert [d.name for d in lh.datasets()] == ["pub"]
        lh.activate("default")
        assert {d.name for d in lh.datasets()} == {"pub", "secret"}
    with Lakehouse.open(home=lake, profile="only") as lh:
        with pytest.raises(Refused, match="cannot do activating other profiles"):
            lh.activate("default")
        lh.activate("only")  # staying itself is fine


def test_accepted_asks_stay_with_what_a_profile_sees(lake, ollama):
    """An accepted question->SQL pair is an example in later prompts: another profile's
    must never reach a restricted profile's model, nor be accepted (or read) by it."""
    ollama.chat_replies = [json.dumps({"sql": "SELECT salary FROM secret", "reason": "x"}), "7,777,777."]
    with Lakehouse.open(home=lake, profile="default") as lh:
        secret_ask = lh.ask("what is the salary in secret?", mode="sql").id
        lh.accept(secret_ask)
    ollama.chat_replies = [json.dumps({"sql": "SELECT count(*) AS n FROM pub", "reason": "x"}), "Two."]
    with Lakehouse.open(home=lake, profile="only") as lh:
        lh.ask("what is the salary count in pub?", mode="sql")
        prompt = json.dumps(ollama.chat_requests[-2])
        assert "secret" not in prompt and "salary FROM" not in prompt
        with pytest.raises(LakehouseError, match="no ask with id"):
            lh.accept(secret_ask)


def test_process_state_lists_only_what_a_restricted_profile_sees(lake, cli):
    assert cli("pin", "secret")[0] == 0 and cli("pin", "pub")[0] == 0
    with Lakehouse.open(home=lake, profile="only") as lh:
        assert lh.cache()["pinned"] == ["pub"]
        assert [p["id"] for p in lh.profiles()] == ["only"]
        with pytest.raises(LakehouseError, match="no profile named 'globbed' that profile only may see"):
            lh.profile_show("globbed")
        lh.search("pub_idx", "hello")
        assert all(e["index"] == "pub_idx" for e in lh.vector_cache()["entries"])
    with Lakehouse.open(home=lake, profile="default") as lh:
        assert lh.cache()["pinned"] == ["pub", "secret"]
        assert len(lh.profiles()) == 5
    code, out, err = cli("--profile", "only", "profile", "list", "--format", "json")
    assert code == 0 and "globbed" not in out and "secret" not in out
