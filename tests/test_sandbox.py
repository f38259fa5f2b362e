"""The read-only sandbox against statements that wrap writes (issue 14, first part).

EXPLAIN ANALYZE runs the statement it explains, so an EXPLAIN of anything but a SELECT
must be refused before DuckDB sees it — and the storage root must be byte-identical after
every attempt.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import write
from core.errors import SqlError


def _tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix not in (".wal", ".shm")
            and "catalog.sqlite" not in p.name and p.parent.name != "logs"}


@pytest.fixture
def notes(lh, data):
    lh.ingest(write(data / "notes.csv", "id,body\n" + "".join(f"{i},note {i}\n" for i in range(200))), key="id")
    return lh


def _a_data_file(lh) -> str:
    return str(next((lh.root / "tables" / "notes").glob("*.parquet")))


WRAPPED = [
    "EXPLAIN ANALYZE COPY (SELECT 1 AS id) TO '{file}' (FORMAT parquet)",
    "EXPLAIN ANALYZE CREATE OR REPLACE VIEW notes AS SELECT 1 AS id",
    "EXPLAIN ANALYZE CREATE MACRO m() AS 1",
    "EXPLAIN ANALYZE CREATE TABLE t AS SELECT * FROM notes",
    "EXPLAIN ANALYZE DROP VIEW notes",
    "explain analyze insert into notes values (1, 'x')",
    "EXPLAIN /* a comment */ ANALYZE COPY notes TO '{file}'",
    "EXPLAIN -- a comment\nANALYZE\nCOPY notes TO '{file}'",
    "EXPLAIN (FORMAT json, ANALYZE) CREATE TABLE t AS SELECT 1",
    "EXPLAIN (ANALYZE) COPY (SELECT 1) TO '{file}'",
    "EXPLAIN ANALYSE ATTACH '{file}.db' AS x",
    "EXPLAIN ANALYZE SET memory_limit = '1TB'",
    "EXPLAIN ANALYZE PRAGMA enable_profiling",
    "EXPLAIN ANALYZE INSTALL httpfs",
    "EXPLAIN ANALYZE EXPORT DATABASE '{file}_dir'",
    "EXPLAIN ANALYZE UPDATE notes SET body = 'x'",
    "EXPLAIN ANALYZE DELETE FROM notes",
    "EXPLAIN COPY (SELECT 1) TO '{file}'",
]


@pytest.mark.parametrize("statement", WRAPPED)
def test_an_explained_write_is_refused_and_the_root_is_unchanged(notes, statement):
    before = _tree(notes.root)
    text = statement.format(file=_a_data_file(notes))
    with pytest.raises(SqlError) as e:
        notes.sql(text)
    # refused by our check, or not even parsed (DuckDB cannot EXPLAIN an ATTACH or EXPORT)
    assert ("refused" in str(e.value) and e.value.refused) or str(e.value).startswith("Parser Error")
    assert _tree(notes.root) == before
    assert notes.sql("SELECT count(*) AS n FROM notes").to_pylist() == [{"n": 200}]


def test_explaining_a_select_still_works(notes):
    assert notes.sql("EXPLAIN SELECT count(*) FROM notes").num_rows >= 1
    assert notes.sql("EXPLAIN ANALYZE SELECT count(*) FROM notes").num_rows >= 1
    assert notes.sql("EXPLAIN (FORMAT json) SELECT * FROM notes WHERE id = 3").num_rows >= 1


def test_the_refusal_holds_from_the_shell_and_for_every_sql_entry(notes, cli, home):
    file = _a_data_file(notes)
    notes.close()
    code, out, err = cli("sql", f"EXPLAIN ANALYZE COPY (SELECT 1 AS id) TO '{file}' (FORMAT parquet)")
    assert code == 1 and err.startswith("error: EXPLAIN of a COPY statement is refused")
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        with pytest.raises(SqlError):
            lh.sql_rows("EXPLAIN ANALYZE DROP VIEW notes")
        with pytest.raises(SqlError):
            list(lh.sql_stream("EXPLAIN ANALYZE DROP VIEW notes"))
        assert lh.sql("SELECT count(*) AS n FROM notes").to_pylist() == [{"n": 200}]


def test_system_tables_never_show_another_profiles_datasets_through_an_index_pattern(cli, data):
    """A profile made with only --datasets gets indexes = ["*"]: that pattern must not
    reveal other datasets' journal (old and new values), catalog rows, jobs or errors."""
    cli("ingest", str(write(data / "pub.csv", "id,v\n1,hello\n")), "--key", "id")
    cli("ingest", str(write(data / "secret.csv", "id,note,salary\n7,TOPSECRET note 7,7777777\n")), "--key", "id")
    cli("update", "secret", "--key", "7", "--set", "salary=8888888", "--reason", "raise")
    cli("ingest", str(write(data / "secret.json", "[1,")), "--name", "secret", "--mode", "append")  # an error row
    assert cli("profile", "create", "pubnoidx", "--datasets", "pub")[0] == 0
    for table, column in (("_journal", "dataset"), ("_datasets", "name"), ("_errors", "dataset"), ("_jobs", "target")):
        code, out, err = cli("--profile", "pubnoidx", "sql", f"SELECT * FROM {table}", "--format", "json")
        assert code == 0, err
        rows = json.loads(out)
        assert "secret" not in out and "TOPSECRET" not in out and "7777777" not in out and "8888888" not in out, (table, rows)
        assert all(str(r[column]).split()[0] == "pub" for r in rows if r[column]), (table, rows)
    code, out, err = cli("--profile", "pubnoidx", "jobs", "--format", "json")
    assert code == 0 and "secret" not in out
    code, out, err = cli("--profile", "pubnoidx", "errors", "--format", "json")
    assert code == 0 and "secret" not in out


@pytest.mark.parametrize("name", ["pets\n", "pets\r", "pets\x00", "pets "])
def test_names_with_a_trailing_newline_or_control_character_are_refused(lh, data, name):
    from core.errors import NameError_
    from core.names import check_dataset_name, check_index_name
    from core.profiles.store import check_id

    for check in (check_dataset_name, check_index_name, check_id):
        with pytest.raises(NameError_ if check is not check_id else Exception):
            check(name)
    with pytest.raises(NameError_, match="is invalid"):
        lh.ingest(write(data / "pets.csv", "a\n1\n"), name=name)
    assert not lh.datasets()


def test_special_files_are_refused_as_what_they_are(lh, data, tmp_path):
    import os

    from core.errors import IngestError

    fifo = tmp_path / "feed.csv"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match=r"feed.csv: a named pipe \(FIFO\), not a regular file"):
        lh.ingest(fifo)
    with pytest.raises(IngestError, match=r"/dev/null: a device, not a regular file"):
        lh.ingest("/dev/null")
    write(data / "ok.csv", "a\n1\n")
    os.mkfifo(data / "pipe.csv")  # inside a walked folder: passed over, never opened (it would block)
    assert [r.dataset for r in lh.ingest(data)] == ["ok"]


def test_a_nul_in_a_csv_header_is_refused_not_truncated(lh, data):
    p = write(data / "nulh.csv", b"id,na\x00me\n1,x\n")
    [r] = lh.ingest(p)
    assert r.status == "failed" and "column name 'na\\x00me' holds a NUL byte" in r.message
    assert not lh.datasets()


def test_a_new_storage_root_and_its_tables_are_private(tmp_path):
    import stat

    from core import Lakehouse

    root = tmp_path / "fresh-root"
    with Lakehouse.open(home=root):
        pass
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "tables").stat().st_mode) == 0o700


def test_a_typo_names_only_the_datasets_the_profile_sees(cli, data):
    cli("ingest", str(write(data / "pub.csv", "id\n1\n")))
    cli("ingest", str(write(data / "secret_salaries.csv", "id\n1\n")))
    cli("profile", "create", "pubonly", "--datasets", "pub")
    for args in (("describe", "pubb"), ("versions", "pubb"), ("pin", "pubb"), ("embed", "pubb", "--column", "id")):
        code, out, err = cli("--profile", "pubonly", *args)
        assert code == 1 and "datasets: pub" in err and "secret" not in err, (args, err)
    code, out, err = cli("describe", "pubb")  # the default profile sees both
    assert "secret_salaries" in err
