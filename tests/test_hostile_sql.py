"""Read-only by construction (issue 14): a corpus of hostile statements — every wrapper
around every write, DDL, setting, attach, install/load, copy/export, pragma, call and
macro form, file-reading table functions — sent through every entry a restricted
profile has: sql, sql_stream, sql_rows, search --where, Ask's model-written SQL, the
TUI's SQL pane, the daemon's row methods and the shell. Each is refused in one sentence
and the storage root stays byte-identical. Then the statement check is bypassed on
purpose, and the second layer (the connection may open exactly the data files it reads)
still keeps the Delta logs and the catalog out of reach."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from conftest import write
from core import Lakehouse
from core.errors import LakehouseError, SqlError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# {file}: a data file of the profile's own dataset; {log}: its _delta_log directory;
# {root}: the storage root; {other}: a data file of a dataset the profile does not see
WRITES = [
    "COPY notes TO '{file}' (FORMAT parquet)",
    "COPY (SELECT 1 AS id) TO '{log}/00000000000000000009.json' (FORMAT json)",
    "COPY (SELECT 1 AS id) TO '{root}/catalog.sqlite' (FORMAT csv)",
    "COPY notes FROM '{file}'",
    "COPY notes TO '{root}/out.csv'",
    "INSERT INTO notes VALUES (1, 'x')",
    "INSERT INTO notes SELECT * FROM notes",
    "UPDATE notes SET body = 'x'",
    "DELETE FROM notes",
    "TRUNCATE notes",
    "MERGE INTO notes USING (SELECT 1 AS id) s ON notes.id = s.id WHEN MATCHED THEN DELETE",
    "CREATE TABLE t AS SELECT * FROM notes",
    "CREATE TEMP TABLE t (a INTEGER)",
    "CREATE OR REPLACE VIEW notes AS SELECT 1 AS id",
    "CREATE VIEW secret AS SELECT 1 AS id",
    "CREATE MACRO m() AS 1",
    "CREATE MACRO m() AS TABLE SELECT 1",
    "CREATE OR REPLACE TEMP MACRO read_parquet(x) AS TABLE SELECT 1",
    "CREATE FUNCTION f(x) AS x + 1",
    "CREATE SEQUENCE s",
    "CREATE TYPE mood AS ENUM ('a', 'b')",
    "CREATE SCHEMA s",
    "CREATE INDEX i ON notes (id)",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "DROP VIEW notes",
    "DROP SCHEMA _cache CASCADE",
    "DROP TABLE IF EXISTS _cache.notes",
    "ALTER VIEW notes RENAME TO gone",
    "ALTER TABLE notes ADD COLUMN x INTEGER",
    "COMMENT ON VIEW notes IS 'x'",
    "ATTACH '{root}/catalog.sqlite' AS cat",
    "ATTACH '{root}/new.duckdb' AS n",
    "ATTACH ':memory:' AS m",
    "DETACH memory",
    "USE memory",
    "INSTALL httpfs",
    "FORCE INSTALL httpfs",
    "LOAD httpfs",
    "LOAD '{file}'",
    "UPDATE EXTENSIONS",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET lock_configuration = false",
    "RESET lock_configuration",
    "SET GLOBAL memory_limit = '1TB'",
    "SET temp_directory = '{log}'",
    "SET threads = 1",
    "RESET ALL",
    "PRAGMA enable_profiling",
    "PRAGMA database_list",
    "PRAGMA memory_limit = '1TB'",
    "CALL pragma_version()",
    "CALL checkpoint()",
    "CHECKPOINT",
    "FORCE CHECKPOINT",
    "EXPORT DATABASE '{root}/export'",
    "IMPORT DATABASE '{root}'",
    "VACUUM",
    "ANALYZE",
    "BEGIN TRANSACTION",
    "COMMIT",
    "ROLLBACK",
    "PREPARE p AS DELETE FROM notes",
    "EXECUTE p",
    "DEALLOCATE p",
    "SELECT 1; DROP VIEW notes",
]
# how a write is dressed up to look like something else
WRAPPERS = [
    "{s}",
    "EXPLAIN {s}",
    "EXPLAIN ANALYZE {s}",
    "EXPLAIN (ANALYZE, FORMAT json) {s}",
    "/* a comment */ {s}",
    "-- a comment\n{s};",
    "WITH x AS (SELECT 1) {s}",
    "PREPARE q AS {s}",
]
# reads that must not reach a file, the environment or another profile's data
READS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('{root}/catalog.sqlite')",
    "SELECT * FROM read_blob('{log}/00000000000000000000.json')",
    "SELECT * FROM read_json('{log}/00000000000000000000.json')",
    "SELECT * FROM read_json_auto('{log}/*.json')",
    "SELECT * FROM read_parquet('{other}')",
    "SELECT * FROM '{other}'",
    "SELECT * FROM parquet_metadata('{other}')",
    "SELECT * FROM parquet_schema('{other}')",
    "SELECT * FROM glob('{root}/**')",
    "SELECT * FROM glob('{log}/*')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM read_ndjson_objects('{log}/00000000000000000000.json')",
    "SELECT * FROM read_csv_auto('{root}/tables/secret/*.parquet')",
    "SELECT * FROM secret",
    "SELECT * FROM \"secret@v0\"",
    "SELECT * FROM notes WHERE id IN (SELECT id FROM secret)",
    "SELECT getenv('HOME')",
    "SELECT * FROM query('DROP VIEW notes')",
    "SELECT * FROM query_table('secret')",
    "FROM read_parquet(['{file}', '{other}'])",
]
CORPUS = [w.format(s=s) for w in WRAPPERS for s in WRITES] + READS
# every write bare and as EXPLAIN ANALYZE would run it, and every read: for the slower
# entries (the TUI redraws after each one)
CORE = WRITES + [f"EXPLAIN ANALYZE {s}" for s in WRITES] + READS


def _tree(root) -> dict[str, str]:
    """Every file under the root and its hash (the catalog's WAL and the logs move
    with reads: the catalog's content is compared by its data instead)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix not in (".wal", ".shm")
            and "catalog.sqlite" not in p.name and p.parent.name != "logs" and "tmp" not in p.parts}


def _catalog_rows(root) -> list:
    import sqlite3

    db = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("datasets", "journal", "schema_versions", "lineage")]
    finally:
        db.close()


@pytest.fixture
def lake(home, data):
    """A root with the profile's dataset `notes` and another one, `secret`."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text('[profiles.pub]\ndatasets = ["notes"]\nindexes = ["notes"]\n')
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write(data / "notes.csv", "id,body\n" + "".join(f"{i},note about topic {i}\n" for i in range(50))),
                  key="id")
        lh.ingest(write(data / "secret.csv", "id,salary\n7,7777777\n"), key="id")
        lh.embed("notes", "body", index="notes", embedder="hashing")
    root = home
    names = {"root": str(root), "log": str(root / "tables" / "notes" / "_delta_log"),
             "file": str(next((root / "tables" / "notes").glob("*.parquet"))),
             "other": str(next((root / "tables" / "secret").glob("*.parquet")))}
    def filled(s: str) -> str:
        return (s.replace("{root}", names["root"]).replace("{log}", names["log"])
                .replace("{file}", names["file"]).replace("{other}", names["other"]))
    return root, [filled(s) for s in CORPUS]


def _refused(e: BaseException) -> bool:
    text = str(e)
    one_sentence = "\n" not in text.split("LINE ")[0].strip() and "Traceback" not in text
    return isinstance(e, LakehouseError) and one_sentence and "7777777" not in text


def test_the_corpus_is_big_enough():
    assert len(CORE) >= 150 and set(CORE) <= set(CORPUS)
    assert len(set(CORPUS)) == len(CORPUS) >= 500


def test_every_hostile_statement_is_refused_in_process_and_the_root_is_unchanged(lake):
    root, corpus = lake
    before, rows = _tree(root), _catalog_rows(root)
    with Lakehouse.open(home=root, profile="pub") as lh:
        for text in corpus:
            for entry in (lh.sql, lambda t: lh.sql_stream(t).read_all(), lh.sql_rows):
                with pytest.raises(LakehouseError) as e:
                    entry(text)
                assert _refused(e.value), (text, str(e.value))
            assert _tree(root) == before, text
        assert lh.sql("SELECT count(*) AS n FROM notes").to_pylist() == [{"n": 50}]
    assert _catalog_rows(root) == rows


def test_search_where_cannot_carry_a_statement(lake):
    root, corpus = lake
    before = _tree(root)
    with Lakehouse.open(home=root, profile="pub") as lh:
        assert lh.search("notes", "topic", k=3, where="id < 10")  # the honest use works
        for text in corpus:
            for where in (f"id IN ({text})", f"1 = 1) UNION ALL ({text}", f"true)\n{text}\n--"):
                with pytest.raises(LakehouseError) as e:
                    lh.search("notes", "topic", k=3, where=where)
                assert _refused(e.value), (where, str(e.value))
        with pytest.raises(LakehouseError, match="brackets pair up"):
            lh.search("notes", "topic", k=3, where="id = 1) WINDOW w AS (ORDER BY id")
    assert _tree(root) == before


def test_ask_never_runs_a_hostile_statement_the_model_writes(lake, ollama):
    root, corpus = lake
    before = _tree(root)
    with Lakehouse.open(home=root, profile="pub") as lh:
        for text in corpus:
            ollama.chat_replies = [json.dumps({"sql": text, "reason": "x"})] * 3 + ["fine"]
            with pytest.raises(LakehouseError) as e:
                lh.ask("how many notes?", mode="sql")
            assert _refused(e.value), (text, str(e.value))
    assert _tree(root) == before


def test_the_daemon_refuses_every_hostile_statement_on_every_row_method(lake):
    from test_daemon import Served

    from app.daemon.proxy import RemoteLakehouse

    root, corpus = lake
    before = _tree(root)
    served = Served(root)
    try:
        remote = RemoteLakehouse(served.sock, profile="pub")
        try:
            for text in corpus:
                for entry in (remote.sql, lambda t: remote.sql_stream(t).read_all(), remote.sql_rows):
                    with pytest.raises(LakehouseError) as e:
                        entry(text)
                    assert _refused(e.value), (text, str(e.value))
            assert remote.sql("SELECT count(*) AS n FROM notes").to_pylist() == [{"n": 50}]
        finally:
            remote.close()
    finally:
        code, err = served.stop()
    assert code == 0, err
    assert _tree(root) == before


def test_the_shell_refuses_a_sample_with_one_sentence_and_exit_1(lake, cli):
    root, corpus = lake
    before = _tree(root)
    for text in corpus[::80]:
        code, out, err = cli("--profile", "pub", "sql", text)
        assert code == 1 and err.startswith("error: ") and "Traceback" not in err, (text, err)
        assert "7777777" not in out + err
    assert _tree(root) == before


@pytest.mark.long
def test_the_tui_sql_pane_refuses_every_hostile_statement(lake):
    from app.tui import LakehouseApp

    root, corpus = lake
    corpus = [c for c, raw in zip(corpus, CORPUS) if raw in CORE]
    before = _tree(root)

    async def go():
        app = LakehouseApp(home=root, profile="pub")
        async with app.run_test(size=(140, 45)) as pilot:
            async def until(cond, timeout=30.0):
                waited = 0.0
                while not cond():
                    await pilot.pause(0.01)
                    waited += 0.01
                    assert waited < timeout, "the app did not get there in time"

            await until(lambda: app.lh is not None)
            await pilot.press("f3")
            editor = app.query_one("#sql-editor")
            msg = app.query_one("#sql-message")
            for text in corpus:
                editor.text = text
                editor.move_cursor(editor.document.end)  # the pane runs the statement at the cursor: the last
                editor.focus()
                await pilot.press("ctrl+j")
                try:
                    await until(lambda: "error:" in str(msg.render()) and msg.has_class("error"))
                except AssertionError:
                    raise AssertionError((text, str(msg.render()))) from None
                assert "7777777" not in str(msg.render())
                msg.update("")  # so the next statement's error is its own
                msg.remove_class("error")
    asyncio.run(go())
    assert _tree(root) == before


def test_the_second_layer_holds_when_the_statement_check_is_bypassed(lake, monkeypatch):
    """Suppose the check had a hole: the connection may still open only the data files
    of the profile's datasets — never a Delta log, the catalog, another dataset's files
    or a new file anywhere under the root."""
    from core.query.engine import SqlEngine

    root, _ = lake
    monkeypatch.setattr(SqlEngine, "_check", lambda self, text: None)
    before, rows = _tree(root), _catalog_rows(root)
    log = root / "tables" / "notes" / "_delta_log"
    other = next((root / "tables" / "secret").glob("*.parquet"))
    attacks = [
        f"COPY (SELECT 1 AS id) TO '{log}/00000000000000000009.json' (FORMAT json)",
        f"COPY (SELECT 1 AS id) TO '{log}/00000000000000000000.json' (FORMAT csv)",
        f"COPY (SELECT 1 AS id) TO '{root}/catalog.sqlite' (FORMAT csv)",
        f"COPY (SELECT 1 AS id) TO '{root}/tables/notes/new.parquet' (FORMAT parquet)",
        f"COPY (SELECT 1 AS id) TO '{other}' (FORMAT parquet)",
        f"ATTACH '{root}/catalog.sqlite' AS cat",
        f"ATTACH '{root}/x.duckdb' AS x",
        f"EXPORT DATABASE '{root}/export'",
        f"SELECT * FROM read_parquet('{other}')",
        f"SELECT * FROM read_text('{log}/00000000000000000000.json')",
        f"SELECT * FROM glob('{root}/*')",
        f"SELECT * FROM read_text('{root}/tables/notes/../../catalog.sqlite')",
        f"SELECT * FROM read_blob('{next((root / 'tables' / 'notes').glob('*.parquet'))}/../_delta_log/"
        "00000000000000000000.json')",
        f"COPY (SELECT 1 AS id) TO '{root}/tmp/duckdb/pub/../../../catalog.sqlite' (FORMAT csv)",
        f"COPY (SELECT 1 AS id) TO '{root}/tmp/duckdb/default/x.csv' (FORMAT csv)",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SET lock_configuration = false",
    ]
    for profile in ("pub", "default"):
        with Lakehouse.open(home=root, profile=profile) as lh:
            for text in attacks:
                if profile == "default" and ("read_parquet" in text or "duckdb/default/" in text):
                    continue  # default sees `secret`, and its own spill directory is its own
                with pytest.raises(SqlError, match="file access is disabled|refused|configuration has been locked"):
                    lh.sql(text)
                assert _tree(root) == before, (profile, text)
    assert _catalog_rows(root) == rows
    assert not (root / "export").exists() and not (root / "x.duckdb").exists()


def test_limits_refuse_a_planner_blow_up_and_stop_a_runaway_query(home, data):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(
        "[sql]\nmax_query_blocks = 500\nmax_statement_bytes = 100000\n"
        "[profiles.quick]\ndatasets = [\"*\"]\nsql_timeout_s = 0.5\n")
    with Lakehouse.open(home=home) as lh:
        with pytest.raises(SqlError, match=r"1,999 SELECT/JOIN/UNION blocks, over the limit of 500"):
            lh.sql(" UNION ALL ".join(f"SELECT {i} AS a" for i in range(1000)))
        with pytest.raises(SqlError, match=r"over the 100,000-byte limit \(\[sql\] max_statement_bytes\)"):
            lh.sql("SELECT 1 WHERE 1 IN (" + ",".join("1" for _ in range(60000)) + ")")
        assert lh.sql(" UNION ALL ".join(f"SELECT {i} AS a" for i in range(100))).num_rows == 100
    with Lakehouse.open(home=home, profile="quick") as lh:
        runaway = "SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3"
        with pytest.raises(SqlError, match=r"ran past its time limit of 0.5 s"):
            lh.sql(runaway)
        with pytest.raises(SqlError, match=r"ran past its time limit of 0.5 s"):
            lh.sql_rows(runaway)
        assert lh.sql("SELECT 42 AS x").to_pylist() == [{"x": 42}]  # the engine still works


@pytest.mark.parametrize("toml,message", [
    ('[profiles.p]\ndatasets = ["*"]\nsql_memory_limit = "lots"\n',
     "key 'profiles.p.sql_memory_limit' must be a size such as 512MB or 2GB, got 'lots'"),
    ('[profiles.p]\ndatasets = ["*"]\nsql_timeout_s = -1\n',
     "key 'profiles.p.sql_timeout_s' must be a number of seconds (0 = no limit), got -1"),
    ('[sql]\nmemory_limit = "lots"\n', "key 'sql.memory_limit' must be a size such as 512MB or 4GB, got 'lots'"),
])
def test_a_bad_limit_is_one_sentence_naming_its_key(home, cli, toml, message):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(toml)
    code, out, err = cli("--profile", "p" if "profiles" in toml else "default", "sql", "SELECT 1")
    assert code == 2 and message in err and "Traceback" not in err and "bug" not in err


def test_a_profiles_memory_limit_is_its_connections(home, cli):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text('[sql]\nmemory_limit = "2GB"\n'
                                         '[profiles.p]\ndatasets = ["*"]\nsql_memory_limit = "512MB"\n')
    code, out, err = cli("--profile", "p", "sql", "SELECT current_setting('memory_limit') AS m", "--format", "json")
    assert code == 0 and json.loads(out) == [{"m": "488.2 MiB"}]
    code, out, err = cli("sql", "SELECT current_setting('memory_limit') AS m", "--format", "json")
    assert code == 0 and json.loads(out) == [{"m": "1.8 GiB"}]


def test_model_sql_ending_in_a_line_comment_still_runs(lake, ollama):
    root, _ = lake
    with Lakehouse.open(home=root, profile="pub") as lh:
        ollama.chat_replies = [json.dumps({"sql": "SELECT count(*) AS n FROM notes -- all of them", "reason": "x"}),
                               "Fifty."]
        r = lh.ask("how many notes?", mode="sql")
        assert r.rows == [{"n": 50}] and r.attempts == 1


def test_an_error_quoting_a_carriage_return_is_shown_whole(lake):
    root, _ = lake
    with Lakehouse.open(home=root, profile="pub") as lh:
        with pytest.raises(SqlError) as e:
            lh.sql("SELECT CAST('a\rb\x0cc' AS INTEGER) AS n FROM notes")
    assert "'a\\x0db\\x0cc'" in str(e.value) and "INT" in str(e.value)
