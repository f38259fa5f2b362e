"""Rough edges a new user hit on day one, each pinned down through the real CLI."""

from __future__ import annotations

import json
import socket

from conftest import write


def _staff(cli, data, keyed: bool = True):
    p = write(data / "staff.csv", "id,name,city,bio\n1,Ann,Chicago,kubernetes and go\n2,Bob,Austin,sql and python\n")
    args = ["ingest", str(p)] + (["--key", "id"] if keyed else [])
    assert cli(*args)[0] == 0


def _audit(cli, n: int = 1) -> list[dict]:
    code, out, err = cli("audit", "--limit", str(n), "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_a_query_that_starts_with_a_comment_is_a_query_not_an_option(cli, data):
    _staff(cli, data)
    code, out, err = cli("sql", "-- who lives where\nSELECT count(*) AS n FROM staff", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"n": 2}]
    # an option's value that starts with a dash stays that option's value
    code, out, err = cli("update", "staff", "--key", "1", "--set", "city=Rome", "--reason", "- moved, see ticket")
    assert code == 0, err
    code, out, err = cli("history", "staff", "1", "--format", "json")
    assert json.loads(out)[-1]["reason"] == "- moved, see ticket"


def test_a_comment_only_statement_says_so(cli, data):
    _staff(cli, data)
    code, out, err = cli("sql", "-- nothing here yet")
    assert code == 1
    assert err.strip() == ("error: the query holds only comments — write a statement after them, "
                           "e.g. SELECT * FROM <dataset> LIMIT 10")


def test_duckdb_hints_and_the_caret_reach_the_user(cli, data):
    _staff(cli, data)
    code, out, err = cli("sql", "SELECT nme FROM staff")
    assert code == 1 and 'Referenced column "nme" not found' in err and 'Candidate bindings: "name"' in err
    code, out, err = cli("sql", "SELECT name FROM staf")
    assert code == 1 and 'Did you mean "staff"' in err
    code, out, err = cli("sql", "SELECT name FROM staff WHERE")
    lines = err.rstrip("\n").splitlines()
    assert code == 1 and lines[0] == 'error: Parser Error: syntax error at or near "WHERE"'
    # the caret context keeps its own lines, so the marker sits under the right character
    assert lines[1] == "LINE 1: SELECT name FROM staff WHERE"
    assert lines[2].index("^") == len("LINE 1: SELECT name FROM staff ")


def test_the_audit_tells_a_refusal_from_a_failure(cli, data):
    _staff(cli, data)
    cli("sql", "selec 1")
    assert _audit(cli)[0]["outcome"] == "failed"  # tried, and DuckDB could not parse it
    cli("sql", "DELETE FROM staff")
    assert _audit(cli)[0]["outcome"] == "refused"  # never run: SQL here is read-only
    cli("sql", "SELECT CAST(name AS INTEGER) FROM staff")
    assert _audit(cli)[0]["outcome"] == "failed"
    cli("sql", "SELECT 1")
    assert _audit(cli)[0]["outcome"] == "ok"


def test_one_row_is_one_row(cli, data):
    p = write(data / "one.csv", "a,b\n1,x\n")
    code, out, err = cli("ingest", str(p))
    assert "one: 1 row (version 0)" in out
    code, out, err = cli("sql", "SELECT * FROM one")
    assert out.rstrip().endswith("1 row")
    code, out, err = cli("describe", "one")
    assert "1 row " in out and "1 rows" not in out


def test_global_options_work_before_and_after_the_subcommand(cli, data, tmp_path):
    other = tmp_path / "other-root"
    p = write(data / "pets.csv", "name\nrex\n")
    assert cli("ingest", str(p), "--home", str(other))[0] == 0  # after the subcommand
    code, out, err = cli("--home", str(other), "datasets", "--format", "json")  # before it
    assert [d["name"] for d in json.loads(out)] == ["pets"]
    code, out, err = cli("datasets", "--format", "json")  # the default root did not get it
    assert json.loads(out) == []
    cli("profile", "create", "petsonly", "--datasets", "pets", "--home", str(other))
    code, out, err = cli("sql", "SELECT count(*) AS n FROM pets", "--profile", "petsonly", "--home",
                         str(other), "--format", "json")
    assert code == 0 and json.loads(out) == [{"n": 1}]
    code, out, err = cli("--home", str(other), "audit", "--of", "petsonly", "--format", "json")
    assert code == 0 and [e["profile"] for e in json.loads(out)] == ["petsonly"]
    code, out, err = cli("sql", "SELECT 1", "--profile")
    assert (code, err.strip()) == (2, "error: --profile needs a value — e.g. --profile default")


def test_config_shows_the_ollama_host_in_use_and_where_it_came_from(cli):
    code, out, err = cli("config", "--format", "json", env={"OLLAMA_HOST": "gpu-box:11434"})
    host = next(r for r in json.loads(out) if r["key"] == "ollama.host")
    assert host == {"key": "ollama.host", "value": "gpu-box:11434", "source": "OLLAMA_HOST"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: connections are refused


def test_a_refused_ollama_port_is_reported_without_retrying(monkeypatch):
    """Connection refused means no server: retrying with backoff only makes the user wait."""
    import core.ollama
    from core.errors import OllamaError
    from core.ollama import Ollama

    slept: list[float] = []
    monkeypatch.setattr(core.ollama.time, "sleep", slept.append)
    o = Ollama(f"127.0.0.1:{_closed_port()}", retries=3)
    try:
        o.models()
        raise AssertionError("models() answered with no server")
    except OllamaError as e:
        assert "is not reachable at" in str(e)
    assert slept == []  # no backoff, no retry


def test_ask_with_ollama_down_fails_before_reading_any_data(lh, data):
    from core.errors import OllamaError

    write(data / "staff.csv", "id,name\n1,Ann\n")
    lh.ingest(data / "staff.csv")
    for _ in range(3):
        write(data / f"t{_}.csv", "a\n1\n")
        lh.ingest(data / f"t{_}.csv")
    lh.audit_log.flush()
    before = len(lh.audit(limit=1000))
    try:
        lh.ask("how many staff are there per name?")
        raise AssertionError("ask answered with Ollama down")
    except OllamaError as e:
        assert "Ollama is not reachable" in str(e)
    after = lh.audit(limit=1000)
    new = after[: len(after) - before]
    assert [e["action"] for e in new] == ["ask"]  # one entry: no sample queries ran first


def test_listings_show_whole_sentences_at_any_width(cli, data):
    bad = write(data / "broken.csv", 'a,b\n"never closed,1\n' + "x,y\n" * 3)
    cli("ingest", str(bad))
    for cols in ("250", "90"):
        code, out, err = cli("errors", env={"COLUMNS": cols})
        flat = " ".join(ln.strip(" │") for ln in out.splitlines())
        words = "add the closing \" or escape quotes inside values as \"\""
        assert all(w in flat for w in words.split()), out
        assert "…" not in out


def test_embed_and_index_list_agree_on_freshness(cli, data):
    _staff(cli, data)
    assert cli("embed", "staff", "--column", "bio", "--index", "bios")[0] == 0
    cli("update", "staff", "--key", "1", "--set", "city=Boston", "--reason", "moved")
    code, out, err = cli("index", "list", "--format", "json")
    assert json.loads(out)[0]["stale"] is True  # the dataset moved on
    code, out, err = cli("embed", "staff", "--column", "bio", "--index", "bios")
    assert "is up to date" in out  # the text did not change ...
    code, out, err = cli("index", "list", "--format", "json")
    assert json.loads(out)[0]["stale"] is False  # ... so the index covers the new version too


def test_record_history_shows_a_restore_that_changed_it(cli, data):
    _staff(cli, data)
    cli("update", "staff", "--key", "1", "--set", "city=Boston", "--actor", "ann", "--reason", "moved")
    cli("delete", "staff", "--key", "2", "--actor", "ann", "--reason", "left")
    code, out, err = cli("restore", "staff", "--version", "0", "--actor", "bo", "--reason", "undo")
    assert code == 0, err
    code, out, err = cli("history", "staff", "1", "--format", "json")
    events = [(e["source"], e["field"], e["old_value"], e["new_value"], e["actor"]) for e in json.loads(out)]
    assert events == [("update", "city", "Chicago", "Boston", "ann"), ("restore", "city", "Boston", "Chicago", "bo")]
    code, out, err = cli("history", "staff", "2", "--format", "json")
    restored = {e["field"]: e["new_value"] for e in json.loads(out) if e["source"] == "restore"}
    assert restored == {"id": "2", "name": "Bob", "city": "Austin", "bio": "sql and python"}
    code, out, err = cli("history", "staff", "--format", "json")
    summary = [e for e in json.loads(out) if e["source"] == "restore" and e["entity"] is None]
    assert summary[0]["new_value"] == "restored version 0: 1 records changed, 1 brought back, 0 removed"


def test_an_activated_profile_is_named_on_every_command(cli, data):
    _staff(cli, data)
    cli("profile", "create", "staffonly", "--datasets", "staff")
    assert cli("profile", "activate", "staffonly", "--wait")[0] == 0
    code, out, err = cli("datasets")
    assert code == 0 and err.startswith("profile: staffonly (the active profile;")
    assert "`lakehouse --profile default profile activate default` to leave it" in err
    assert cli("--profile", "default", "profile", "activate", "default", "--wait")[0] == 0
    code, out, err = cli("datasets")
    assert "profile:" not in err


def test_cell_text_quoted_back_in_an_error_cannot_drive_the_terminal(cli, data):
    """DuckDB quotes values back in its errors: a hostile cell must arrive escaped."""
    p = write(data / "evil.csv", "id,v\n1,\"\x1b]52;c;cHduZWQ=\x07\x1b[2J\"\n")
    assert cli("ingest", str(p))[0] == 0
    code, out, err = cli("sql", "SELECT CAST(v AS INTEGER) FROM evil")
    assert code == 1 and "\x1b" not in err and "\x07" not in err
    assert "\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J" in err


def test_json_output_always_parses_even_with_nan_and_infinity(cli):
    code, out, err = cli("sql", "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, [1.0, '-inf'::DOUBLE] AS c, 2.5::DOUBLE AS d",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [{"a": "nan", "b": "inf", "c": [1.0, "-inf"], "d": 2.5}]


def test_markup_and_escapes_in_cells_and_column_names_are_shown_as_text(cli, data):
    """A file's cells and header are data: never Rich markup, never terminal sequences."""
    hostile = '[/] [link=http://x]click[/link] \x1b[2J \x1b]0;title\x07 [black on black]hidden[/]'
    p = write(data / "mk.csv", f'id,"[red]col[/]"\n1,"{hostile}"\n')
    assert cli("ingest", str(p))[0] == 0
    for args in (("sql", "SELECT * FROM mk"), ("describe", "mk")):
        code, out, err = cli(*args, env={"COLUMNS": "250"})
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out
        assert "[red]col[/]" in out and "[/] [link=http://x]click[/link] \\x1b[2J \\x1b]0;title\\x07" in out
