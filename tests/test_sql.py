"""Sandboxed SQL: datasets as views, file access off, read-only, streaming results."""

from __future__ import annotations

import pytest

from conftest import write
from core.errors import SqlError

ACCESS = "file access is disabled in Lakehouse SQL ({path}): query datasets by name"


@pytest.fixture
def loaded(lh, data):
    lh.ingest([write(data / "cities.csv", "city,pop\nOslo,700\nRome,2800\n")])
    return lh


@pytest.mark.parametrize("query,path", [
    ("SELECT * FROM read_csv('/etc/passwd')", "/etc/passwd"),
    ("SELECT * FROM read_text('/etc/hostname')", "/etc/hostname"),
    ("SELECT * FROM '/etc/passwd'", None),
    ("SELECT * FROM read_parquet('/tmp/x/*.parquet')", None),
])
def test_external_file_reads_are_refused(loaded, query, path):
    with pytest.raises(SqlError) as e:
        loaded.sql(query)
    msg = str(e.value)
    if path:
        assert msg == ACCESS.format(path=path)
        assert e.value.hint.plain() == "to bring a file in, ingest it"
    else:
        assert msg.startswith("file access is disabled in Lakehouse SQL") or "does not exist" in msg


@pytest.mark.parametrize("query,kind", [
    ("COPY cities TO '/tmp/out.csv'", "COPY"),
    ("ATTACH '/tmp/x.db' AS x", "ATTACH"),
    ("INSTALL httpfs", "INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("INSERT INTO cities VALUES ('x', 1)", "INSERT"),
    ("DELETE FROM cities", "DELETE"),
    ("UPDATE cities SET pop = 0", "UPDATE"),
    ("DROP VIEW cities", "DROP"),
    ("SET enable_external_access = true", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CALL pragma_version()", "CALL"),
])
def test_statements_that_are_not_read_only_are_refused(loaded, query, kind):
    with pytest.raises(SqlError) as e:
        loaded.sql(query)
    assert str(e.value).startswith(f"{kind} statements are refused: SQL here is read-only")
    assert loaded.sql("SELECT count(*) AS n FROM cities").column("n")[0].as_py() == 2


def test_copy_to_a_table_file_is_refused_and_data_intact(loaded, home):
    f = next((home / "tables" / "cities").glob("*.parquet"))
    before = f.read_bytes()
    with pytest.raises(SqlError):
        loaded.sql(f"COPY (SELECT 1) TO '{f}'")
    assert f.read_bytes() == before


def test_multiple_statements_refused(loaded):
    with pytest.raises(SqlError, match="the query has 2 statements — run one at a time"):
        loaded.sql("SELECT 1; SELECT 2")


def test_read_only_forms_work(loaded):
    assert loaded.sql("FROM cities ORDER BY pop").column("city").to_pylist() == ["Oslo", "Rome"]
    assert loaded.sql("DESCRIBE cities").column("column_name").to_pylist() == ["city", "pop"]
    assert "cities" in loaded.sql("SHOW TABLES").column("name").to_pylist()
    assert loaded.sql("SUMMARIZE cities").num_rows == 2
    assert loaded.sql("EXPLAIN SELECT * FROM cities").num_rows >= 1
    assert loaded.sql("WITH x AS (SELECT max(pop) m FROM cities) SELECT m FROM x").column(0)[0].as_py() == 2800


def test_syntax_and_unknown_table_errors_are_one_sentence_with_duckdbs_pointer(loaded):
    with pytest.raises(SqlError) as e:
        loaded.sql("SELEC 1")
    # one sentence, then DuckDB's own pointer at the word: the line and a caret under it
    assert str(e.value).splitlines() == ['Parser Error: syntax error at or near "SELEC"', "LINE 1: SELEC 1",
                                         "        ^^^^^"]
    with pytest.raises(SqlError) as e:
        loaded.sql("SELECT * FROM citiez")
    assert "citiez" in str(e.value) and "cities" in str(e.value)
    with pytest.raises(SqlError, match="the query is empty"):
        loaded.sql("   ")


def test_views_follow_new_ingests(loaded, data):
    assert loaded.sql("SELECT count(*) FROM cities").column(0)[0].as_py() == 2
    loaded.ingest([write(data / "more.csv", "city,pop\nLima,10000\n")], name="cities", mode="append")
    assert loaded.sql("SELECT count(*) FROM cities").column(0)[0].as_py() == 3


def test_another_process_ingest_is_seen(loaded, data, home):
    from core import Lakehouse

    with Lakehouse.open(home=home) as other:
        other.ingest([write(data / "extra.csv", "a\n1\n")])
    assert loaded.sql("SELECT a FROM extra").column(0).to_pylist() == [1]


def test_stream_returns_batches_without_materialising(lh):
    rdr = lh.sql_stream("SELECT range AS i FROM range(1000000)", batch_rows=100000)
    total, batches = 0, 0
    for b in rdr:
        total += b.num_rows
        batches += 1
    assert total == 1000000 and batches >= 5


def test_system_tables(loaded):
    t = loaded.sql("SELECT name, row_count FROM _datasets")
    assert t.to_pylist() == [{"name": "cities", "row_count": 2}]
    jobs = loaded.sql("SELECT kind, status FROM _jobs")
    assert jobs.to_pylist() == [{"kind": "ingest", "status": "succeeded"}]
    assert loaded.sql("SELECT count(*) FROM _errors").column(0)[0].as_py() == 0


def test_table_rewritten_partitioned_by_another_engine_reads_correctly(lh, data, home):
    """A partitioned Delta table keeps partition values in the log, not in the files:
    after `resync` adopts such a version, the view reads it through delta-rs."""
    import pyarrow as pa
    from deltalake import write_deltalake

    lh.ingest([write(data / "sales.csv", "region,amount\neu,1\nus,2\n")])
    write_deltalake(str(home / "tables" / "sales"),
                    pa.table({"region": ["eu", "us", "us"], "amount": [10, 20, 30]}),
                    mode="overwrite", schema_mode="overwrite", partition_by=["region"])
    assert lh.resync("sales")[0].startswith("sales: rows 2 -> 3")
    t = lh.sql("SELECT region, sum(amount) AS s FROM sales GROUP BY region ORDER BY region")
    assert t.to_pylist() == [{"region": "eu", "s": 10}, {"region": "us", "s": 50}]
