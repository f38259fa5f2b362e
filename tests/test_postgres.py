"""Postgres streaming ingest against a real PostgreSQL server (tests/pgserver.py): a
million rows round-trip exactly, every mapped type keeps its tricky values, incremental
runs fetch only new rows, passwords come from where users keep them and are stored
nowhere, bad input is one sentence, a dropped connection leaves nothing and is retried."""

from __future__ import annotations

import math
import os
import stat
import threading
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from pgserver import DB, PASSWORD, ROLE, wait_for

N_BIG = 1_000_000


def _rows(lh, sql: str) -> list[tuple]:
    t = lh.sql(sql)
    return list(zip(*(c.to_pylist() for c in t.columns)))


def _no_password_under(root: Path) -> None:
    needle = PASSWORD.encode()
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            assert needle not in p.read_bytes(), f"the password is stored in {p}"


def _one_sentence(msg: str) -> None:
    assert msg and "\n" not in msg and "Traceback" not in msg and PASSWORD not in msg, msg


@pytest.mark.parametrize("url, shown", [
    ("postgresql://ann:pa%40ss@db.example:5433/sales", "postgresql://ann:***@db.example:5433/sales"),
    ("postgres://ann@db/sales?sslmode=require&password=hunter2", "postgres://ann@db/sales?sslmode=require&password=***"),
    ("postgresql://ann:***@db/sales", "postgresql://ann:***@db/sales"),
    ("postgresql://ann@db/sales", "postgresql://ann@db/sales"),
])
def test_urls_are_redacted_and_a_masked_password_is_no_password(url, shown):
    from core.ingest.secrets import redact, url_password, without_password

    assert redact(url) == shown
    assert "***" not in without_password(url) and "hunter2" not in without_password(url)
    assert url_password(shown) is None  # a retried job's URL connects through the other sources


# -- the million rows (loaded once for the module) -------------------------------------------
@pytest.fixture(scope="module")
def big(pg, tmp_path_factory):
    from core import Lakehouse

    pg.sql("DROP TABLE IF EXISTS big",
           f"""CREATE TABLE big AS SELECT g AS id, (g % 1000)::int4 AS grp, (g::int8 * 7919 % 1000003) AS val,
               round((g % 100000) / 7.0, 2)::numeric(12,2) AS amount, (g * 0.37)::float8 / 3 AS score,
               'name ' || g || CASE WHEN g % 97 = 0 THEN ' ✓' ELSE '' END AS name,
               timestamptz '1960-01-01 00:00:00+02' + g * interval '1001 milliseconds' AS created,
               (g % 3 = 0) AS flag, CASE WHEN g % 11 = 0 THEN NULL ELSE jsonb_build_object('k', g % 10, 'é', 'x' || (g % 7)) END AS attrs,
               date '1999-12-31' + (g % 20000) AS day
               FROM generate_series(1, {N_BIG}) g""")
    home = tmp_path_factory.mktemp("big") / "home"
    with Lakehouse.open(home=home) as lh:
        [r] = lh.ingest([pg.url(password=True)], table="public.big")
        assert r.status == "ingested" and r.rows == N_BIG, r
        yield lh


def test_a_million_rows_round_trip_exactly(pg, big):
    with pg.connect() as con:
        theirs = con.execute(
            "SELECT count(*), sum(id), sum(grp), sum(val), sum(amount), count(*) FILTER (WHERE flag), "
            "sum(extract(epoch FROM created) * 1000000)::numeric, md5(string_agg(name, '|' ORDER BY id)), "
            "md5(string_agg(attrs::text, '|' ORDER BY id)), count(attrs), sum(day - date '1970-01-01') "
            "FROM big").fetchone()
        scores = [r[0] for r in con.execute("SELECT score FROM big ORDER BY id")]
    [ours] = _rows(big, "SELECT count(*), sum(id), sum(grp), sum(val), sum(amount), count(*) FILTER (WHERE flag), "
                        "sum(epoch_us(created)), md5(string_agg(name, '|' ORDER BY id)), "
                        "md5(string_agg(attrs, '|' ORDER BY id)), count(attrs), sum(day - DATE '1970-01-01') FROM big")
    assert [int(x) if isinstance(x, (int, Decimal)) and i not in (4,) else x for i, x in enumerate(ours)] == \
        [int(x) if isinstance(x, (int, Decimal)) and i not in (4,) else x for i, x in enumerate(theirs)]
    assert Decimal(ours[4]) == theirs[4]
    assert [r[0] for r in _rows(big, "SELECT score FROM big ORDER BY id")] == scores
    cols = {c.name: c.type for c in big.dataset("big").columns}
    assert cols == {"id": "INTEGER", "grp": "INTEGER", "val": "BIGINT", "amount": "DECIMAL(12,2)",
                    "score": "DOUBLE", "name": "VARCHAR", "created": "TIMESTAMP WITH TIME ZONE",
                    "flag": "BOOLEAN", "attrs": "VARCHAR", "day": "DATE"}


# -- every mapped type, tricky values --------------------------------------------------------
TRICKY = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE tricky (
  id int PRIMARY KEY, s smallint, i int, b bigint, r real, d double precision,
  n numeric(38,10), n2 numeric(12,2), nu numeric, ok boolean, t text, vc varchar(8), ch char(4),
  dt date, ts timestamp, tz timestamptz, tm time, iv interval, j json, jb jsonb, u uuid, by bytea,
  ai int[], at text[], an numeric(10,3)[], atz timestamptz[], ad date[], m mood);
INSERT INTO tricky VALUES
 (1, -32768, -2147483648, -9223372036854775808, '-0', '-0', 9999999999999999999999999999.9999999999,
  -9999999999.99, 123456789.000000001, true, '', '', 'a', '0001-01-01', '1969-12-31 23:59:59.999999',
  '2024-03-10 01:59:59.999999-08', '00:00:00', '-1 year -2 days +03:04:05.5', '{"emoji": "😀", "nul": "\\u0000"}',
  '{"漢字": ["x", null, 1.50]}', '00000000-0000-0000-0000-000000000000', '\\x0000ff00',
  ARRAY[1, NULL, 3], ARRAY[]::text[], ARRAY[1.5, NULL, -0.001], ARRAY['2000-01-01 00:00:00+14'::timestamptz, NULL],
  ARRAY['2000-02-29'::date, NULL], 'happy'),
 (2, 32767, 2147483647, 9223372036854775807, 'Infinity', 'NaN', -9999999999999999999999999999.9999999999,
  0.01, -0.000000000000000001, false, E'line\\nbreak\\ttab "quoted" ✓', 'eight ch', 'abcd', '9999-12-31',
  '2262-04-11 23:47:16.854775', '1900-01-01 12:00:00+05:53:28', '23:59:59.999999', '0 seconds', '[]', '{}',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '\\x', ARRAY[NULL]::int[], ARRAY['', NULL, 'ü'], ARRAY[]::numeric[],
  ARRAY[]::timestamptz[], ARRAY[]::date[], 'sad'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""


@pytest.fixture(scope="module")
def tricky(pg):
    pg.sql("DROP TABLE IF EXISTS tricky", "DROP TYPE IF EXISTS mood", TRICKY)


def test_every_mapped_type_keeps_its_tricky_values(pg, tricky, lh):
    [r] = lh.ingest([pg.url(password=True)], table="public.tricky")
    assert r.status == "ingested" and r.rows == 3, r
    assert any("'iv'" in n and "text" in n for n in r.notes)
    with pg.connect() as con:
        con.execute("SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'")
        cur = con.execute("SELECT id, s, i, b, r, d, n, n2, nu, ok, t, vc, ch, dt, ts, tz, tm::text, iv::text, "
                          "j::text, jb::text, u::text, by, ai, at, an, atz, ad, m::text FROM tricky ORDER BY id")
        names = [d.name for d in cur.description]
        theirs = cur.fetchall()
    ours = _rows(lh, f"SELECT {', '.join(f'{chr(34)}{n}{chr(34)}' for n in names)} FROM tricky ORDER BY id")
    for want, got in zip(theirs, ours):
        for name, w, g in zip(names, want, got):
            if isinstance(w, float) and math.isnan(w):
                assert math.isnan(g), name
            elif isinstance(w, float):
                assert g == w and math.copysign(1, g) == math.copysign(1, w), (name, w, g)
            elif isinstance(w, memoryview):
                assert bytes(g) == bytes(w), name
            elif name in ("ts",) and w is not None:
                assert g == w, (name, w, g)
            else:
                assert g == w, (name, w, g)
    [(ts_type, tz_type, an_type)] = _rows(lh, "SELECT typeof(ts), typeof(tz), typeof(an) FROM tricky LIMIT 1")
    assert (ts_type, tz_type, an_type) == ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DECIMAL(10,3)[]")
    # timestamptz is UTC instants: the -08 and the +05:53:28 (local mean time) offsets are applied
    assert _rows(lh, "SELECT tz FROM tricky WHERE id = 1")[0][0] == datetime(2024, 3, 10, 9, 59, 59, 999999,
                                                                            tzinfo=timezone.utc)
    assert _rows(lh, "SELECT dt FROM tricky WHERE id = 2")[0][0] == date(9999, 12, 31)
    assert _rows(lh, "SELECT nu FROM tricky WHERE id = 1")[0][0] == Decimal("123456789.000000001")


# -- sources, names, modes -------------------------------------------------------------------
def test_table_and_query_sources_and_their_names(pg, lh):
    pg.sql("DROP TABLE IF EXISTS \"Mixed Case\"", "CREATE TABLE \"Mixed Case\" (id int, v text)",
           "INSERT INTO \"Mixed Case\" VALUES (1, 'a'), (2, 'b'), (3, '50%')")
    [r] = lh.ingest([pg.url(password=True)], table="public.Mixed Case")
    assert (r.status, r.dataset, r.rows) == ("ingested", "mixed_case", 3), r
    [r] = lh.ingest([pg.url(password=True)], query="SELECT id * 10 AS x, v FROM \"Mixed Case\" WHERE v LIKE '%%' "
                                                   "OR v LIKE '5%';", name="tens")
    assert (r.status, r.rows) == ("ingested", 3), r
    assert _rows(lh, "SELECT sum(x) FROM tens") == [(60,)]
    from core.errors import IngestError

    with pytest.raises(IngestError, match="give --name"):
        lh.ingest([pg.url()], query="SELECT 1 AS one")
    with pytest.raises(IngestError, match="--table schema.name or --query"):
        lh.ingest([pg.url()])


def test_incremental_fetches_only_new_rows(pg, lh):
    pg.sql("DROP TABLE IF EXISTS events", "CREATE TABLE events (id serial, happened timestamptz, v text)",
           "INSERT INTO events (happened, v) SELECT timestamptz '2024-01-01' + g * interval '1 minute', 'e' || g "
           "FROM generate_series(1, 500) g")
    url = pg.url(password=True)
    [r] = lh.ingest([url], table="public.events", incremental_by="happened")
    assert (r.status, r.rows) == ("ingested", 500), r
    [r] = lh.ingest([url], table="public.events", incremental_by="happened")
    assert r.status == "unchanged" and "nothing written" in r.message, r
    pg.sql("INSERT INTO events (happened, v) VALUES (timestamptz '2030-01-01', 'new')")
    [r] = lh.ingest([url], table="public.events", incremental_by="happened")
    assert (r.status, r.rows) == ("ingested", 1), r
    assert _rows(lh, "SELECT count(*), max(v) FILTER (WHERE happened > TIMESTAMPTZ '2029-01-01') FROM events") == [(501, "new")]
    # the mark is in the commit's lineage entry: the Delta commit meta
    from core.ingest.postgres import previous_mark, source_of

    src = source_of(url, name=None, query=None, table="public.events", incremental_by="happened", types={})
    assert previous_mark(_ing(lh), src)["value"].startswith("2030-01-01")


def test_a_mark_whose_commit_left_the_log_comes_from_the_rows(pg, lh, monkeypatch):
    pg.sql("DROP TABLE IF EXISTS ticks", "CREATE TABLE ticks AS SELECT g AS id, g * 0.5 AS v FROM generate_series(1, 50) g")
    url = pg.url(password=True)
    assert lh.ingest([url], table="public.ticks", incremental_by="id")[0].rows == 50
    import core.storage.tables as tables

    monkeypatch.setattr(tables, "_log_commit_info", lambda *a: None)  # as after Delta's log retention
    [r] = lh.ingest([url], table="public.ticks", incremental_by="id")
    assert r.status == "unchanged", r
    pg.sql("INSERT INTO ticks VALUES (51, 25.5)")
    [r] = lh.ingest([url], table="public.ticks", incremental_by="id")
    assert (r.status, r.rows) == ("ingested", 1), r


def _ing(lh):
    from core.ingest.run import Ingestor

    return Ingestor(lh.root, lh.config, lh.catalog, lh.tables, None)


def test_upsert_by_key_checks_the_key_on_the_server(pg, lh):
    pg.sql("DROP TABLE IF EXISTS people", "CREATE TABLE people (id int, name text)",
           "INSERT INTO people SELECT g, 'p' || g FROM generate_series(1, 100) g")
    url = pg.url(password=True)
    [r] = lh.ingest([url], table="public.people", key="id")
    assert r.status == "ingested", r
    pg.sql("UPDATE people SET name = 'changed' WHERE id = 7", "INSERT INTO people VALUES (101, 'new')")
    [r] = lh.ingest([url], table="public.people", mode="upsert")
    assert r.status == "ingested", r
    assert _rows(lh, "SELECT count(*), max(name) FILTER (WHERE id = 7) FROM people") == [(101, "changed")]
    pg.sql("INSERT INTO people VALUES (7, 'twin')")
    [r] = lh.ingest([url], table="public.people", mode="upsert")
    assert r.status == "failed" and "key id = 7 appears in more than one row" in r.message, r
    pg.sql("DELETE FROM people WHERE name = 'twin'", "INSERT INTO people VALUES (NULL, 'nobody')")
    [r] = lh.ingest([url], table="public.people", mode="upsert")
    assert r.status == "failed" and "NULL" in r.message, r
    _one_sentence(r.message)


def test_a_rerun_of_identical_rows_writes_nothing(pg, lh):
    pg.sql("DROP TABLE IF EXISTS same", "CREATE TABLE same AS SELECT g AS id FROM generate_series(1, 10) g")
    url = pg.url(password=True)
    assert lh.ingest([url], table="public.same")[0].status == "ingested"
    v = lh.dataset("same").table_version
    for mode in (None, "replace", "append"):
        [r] = lh.ingest([url], table="public.same", mode=mode)
        assert r.status == "unchanged", (mode, r)
    assert lh.dataset("same").table_version == v
    pg.sql("INSERT INTO same VALUES (11)")
    [r] = lh.ingest([url], table="public.same")
    assert r.status == "failed" and "already exists" in r.message
    [r] = lh.ingest([url], table="public.same", mode="replace")
    assert (r.status, r.rows) == ("ingested", 11)


# -- passwords -------------------------------------------------------------------------------
def test_passwords_from_pgpassword_pgpass_and_the_secrets_file(pg, cli, home, tmp_path):
    pg.sql("DROP TABLE IF EXISTS pw", "CREATE TABLE pw AS SELECT 1 AS one")
    url = pg.url()  # no password in it
    code, out, err = cli("ingest", url, "--table", "pw", "--name", "a", env={"PGPASSWORD": PASSWORD})
    assert code == 0, err
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{pg.host}:{pg.port}:{DB}:{ROLE}:{PASSWORD}\n")
    pgpass.chmod(0o600)
    code, out, err = cli("ingest", url, "--table", "pw", "--name", "b",
                         env={"PGPASSFILE": str(pgpass), "PGPASSWORD": ""})
    assert code == 0, err
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[passwords]\n"{ROLE}@{pg.host}:{pg.port}/{DB}" = "{PASSWORD}"\n')
    secrets.chmod(0o600)
    (home / "lakehouse.toml").write_text(f'[postgres]\nsecrets_file = "{secrets}"\n')
    nopass = {"PGPASSFILE": str(tmp_path / "none"), "PGPASSWORD": ""}
    code, out, err = cli("ingest", url, "--table", "pw", "--name", "c", env=nopass)
    assert code == 0, err
    secrets.chmod(0o644)
    code, out, err = cli("ingest", url, "--table", "pw", "--name", "d", env=nopass)
    assert code != 0 and "can be read by others (mode 0644)" in err and "chmod 600" in err, err
    (home / "lakehouse.toml").write_text("")
    code, out, err = cli("ingest", url, "--table", "pw", "--name", "e", env=nopass)
    assert code != 0 and "wants a password" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_password_in_the_url_is_stored_nowhere(pg, lh, home):
    pg.sql("DROP TABLE IF EXISTS secretive", "CREATE TABLE secretive AS SELECT g AS id FROM generate_series(1, 5) g")
    url = pg.url(password=True)
    [r] = lh.ingest([url], table="public.secretive")
    assert r.status == "ingested" and r.source == f"postgresql://{ROLE}:***@{pg.host}:{pg.port}/{DB}", r
    [bad] = lh.ingest([url], table="public.nope", name="nope")
    assert bad.status == "failed" and PASSWORD not in bad.message
    [bad] = lh.ingest([url + "?sslmode=disable&password=" + PASSWORD], table="public.nope2", name="nope2")
    assert bad.status == "failed"
    assert [l.source_uri for l in lh.describe("secretive").lineage] == [r.source]
    jobs, errors = lh.jobs(), lh.errors()
    assert jobs and errors
    for row in [*jobs, *errors]:
        assert PASSWORD not in repr(row)
    lh.close() if hasattr(lh, "close") else None
    _no_password_under(home)


# -- bad input -------------------------------------------------------------------------------
def test_bad_input_is_one_sentence_in_the_result_errors_and_job(pg, lh):
    pg.sql("DROP TABLE IF EXISTS shapes", "CREATE TABLE shapes (id int, p point, r int4range, g int[][])",
           "INSERT INTO shapes VALUES (1, '(1,2)', '[1,3)', '{{1,2},{3,4}}')",
           "DROP TABLE IF EXISTS odd", "CREATE TABLE odd (id int, ts timestamptz, n numeric(10,2), a int[])",
           "INSERT INTO odd VALUES (1, 'infinity', 1, '{1}'), (2, now(), 'NaN', '{1}'), (3, now(), 1, '{{1,2},{3,4}}')",
           "CREATE SEQUENCE IF NOT EXISTS lh_seq")
    good = pg.url(password=True)
    cases = [
        (f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:9/{DB}", {"table": "shapes"}, "cannot reach a PostgreSQL server"),
        (pg.url(password=False).replace(f"{ROLE}@", f"{ROLE}:wrong-{PASSWORD}@"), {"table": "shapes"}, "refused the password"),
        (good, {"query": "SELEC 1", "name": "q"}, "does not parse"),
        (good, {"query": "SELECT 1 AS a; SELECT 2 AS b", "name": "q"}, "more than one statement"),
        (good, {"table": "public.missing"}, 'relation "public.missing" does not exist'),
        (good, {"table": "odd", "incremental_by": "nope"}, "--incremental-by 'nope' is not a column"),
        (good, {"table": "shapes"}, "column 'p' has type point"),
        (good, {"query": "SELECT id, ts FROM odd WHERE id = 1", "name": "inf"}, "holds infinity"),
        (good, {"query": "SELECT id, n FROM odd WHERE id = 2", "name": "nan"}, "holds NaN"),
        (good, {"query": "SELECT id, a FROM odd WHERE id = 3", "name": "md"}, "multi-dimensional"),
        (good, {"query": "SELECT g FROM generate_series(1,3) g; DROP TABLE odd", "name": "evil"}, "more than one statement"),
        (good, {"query": "SELECT nextval('lh_seq') AS n", "name": "w"}, "a query here only reads"),
        (good, {"query": "SELECT '294276-12-31 23:59:59'::timestamp AS far", "name": "far"}, "outside the range"),
        (good, {"query": "SELECT 'infinity'::date AS d", "name": "infd"}, "holds infinity"),
        (good, {"query": "SELECT ARRAY['infinity'::timestamptz] AS a", "name": "infa"}, "holds infinity"),
    ]
    for url, kw, expect in cases:
        [r] = lh.ingest([url], **kw)
        assert r.status == "failed" and expect in r.message, (kw, r.message)
        _one_sentence(r.message)
        assert any(e.message == r.message for e in lh.errors()), r.message
        job = next(j for j in lh.jobs() if j.message == r.message)
        assert job.status == "failed"
    assert "shapes" in str(cases[6])
    assert {d.name for d in lh.datasets()} == set()
    assert not any((lh.root / "tables").glob("*/*.parquet"))


# -- failure mid-stream, retry, cancel -------------------------------------------------------
def test_a_connection_dropped_mid_stream_leaves_nothing_and_the_job_retries(pg, big, lh, monkeypatch):
    from core.storage import faults

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    calls = []

    def kill():
        if not calls:
            calls.append(1)
            with pg.connect() as con:
                con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'lakehouse ingest' AND pid <> pg_backend_pid()")

    monkeypatch.setitem(faults.HOOKS, "postgres:batch", kill)
    [r] = lh.ingest([pg.url()], table="public.big", name="dropped")
    assert r.status == "failed" and "connection to PostgreSQL" in r.message and "was lost" in r.message, r
    _one_sentence(r.message)
    assert "dropped" not in {d.name for d in lh.datasets()}
    assert not (lh.root / "tables" / "dropped").exists()
    job = next(j for j in lh.jobs() if j.status == "failed")
    assert f"retry job {job.id} to run it again" in r.message
    monkeypatch.delitem(faults.HOOKS, "postgres:batch")
    [again] = lh.retry_job(job.id)
    assert (again.status, again.rows) == ("ingested", N_BIG), again


def test_cancel_stops_the_stream_and_writes_nothing(pg, big, lh, monkeypatch):
    from core.errors import Cancelled
    from core.storage import faults

    stop = threading.Event()
    monkeypatch.setitem(faults.HOOKS, "postgres:batch", stop.set)
    with pytest.raises(Cancelled):
        lh.ingest([pg.url(password=True)], table="public.big", name="stopped", cancel=stop)
    assert "stopped" not in {d.name for d in lh.datasets()}
    assert not (lh.root / "tables" / "stopped").exists()


def test_cancel_interrupts_a_query_the_server_is_still_running(pg, lh):
    from core.errors import Cancelled

    stop, outcome = threading.Event(), []

    def run():
        try:
            lh.ingest([pg.url(password=True)], query="SELECT 1 AS x FROM pg_sleep(600)", name="slow", cancel=stop)
        except Cancelled as e:
            outcome.append(e)

    t = threading.Thread(target=run)
    t.start()
    with pg.connect() as con:  # the server is running it
        assert wait_for(lambda: con.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                            "'lakehouse ingest' AND state = 'active' AND query LIKE 'FETCH%'"
                                            ).fetchone()[0] == 1)
    stop.set()
    t.join(120)  # far less than the query's 600 s: the server was told to stop
    assert not t.is_alive() and outcome, "the cancel did not interrupt the server's query"
    assert lh.jobs()[0].status == "cancelled"


# -- the CLI and the daemon ------------------------------------------------------------------
def test_the_cli_and_the_daemon_ingest_the_same(pg, home, cli, tmp_path):
    from test_daemon import Served

    pg.sql("DROP TABLE IF EXISTS remote_rows", "CREATE TABLE remote_rows AS SELECT g AS id, g * 1.5 AS x "
           "FROM generate_series(1, 1000) g")
    code, out, err = cli("ingest", pg.url(password=True), "--table", "public.remote_rows", "--name", "local")
    assert code == 0 and "1,000 rows" in out and PASSWORD not in out + err, (out, err)
    served = Served(home, {"PGPASSWORD": PASSWORD})
    try:
        code, out, err = served.cli("ingest", pg.url(), "--table", "public.remote_rows", "--name", "via_daemon")
        assert code == 0 and "1,000 rows" in out, (out, err)
        code, out, err = served.cli("ingest", pg.url(password=True), "--table", "public.nope", "--name", "x")
        assert code != 0 and 'relation "public.nope" does not exist' in err and PASSWORD not in err, err
        code, out, err = served.cli("sql", "SELECT (SELECT sum(x) FROM local) = (SELECT sum(x) FROM via_daemon) AS same",
                                    "--format", "csv")
        assert code == 0 and "true" in out.lower(), (out, err)
    finally:
        _, log = served.stop()
    assert PASSWORD not in log  # the daemon's log (its stderr here; daemon.log when detached)
    _no_password_under(home)


def test_the_high_water_mark_survives_a_crash_before_the_catalog_commit(pg, cli):
    pg.sql("DROP TABLE IF EXISTS crashy", "CREATE TABLE crashy AS SELECT g AS id FROM generate_series(1, 100) g")
    args = ("ingest", pg.url(), "--table", "public.crashy", "--incremental-by", "id")
    code, out, err = cli(*args, env={"PGPASSWORD": PASSWORD, "LAKEHOUSE_CRASH_AT": "after_delta_commit"})
    assert code != 0  # killed between the Delta commit and the catalog's
    code, out, err = cli(*args, env={"PGPASSWORD": PASSWORD})  # recovery registers the commit, mark and all
    assert code == 0 and "no rows past id = 100" in out, (out, err)
    code, out, err = cli("sql", "SELECT count(*) AS n FROM crashy", "--format", "csv")
    assert out.split() == ["n", "100"], out


def test_a_changed_schema_is_refused_with_its_diff_then_taken_or_mapped(pg, lh):
    pg.sql("DROP TABLE IF EXISTS grow", "CREATE TABLE grow (id int, name text)", "INSERT INTO grow VALUES (1, 'ann')")
    url = pg.url(password=True)
    assert lh.ingest([url], table="public.grow", key="id")[0].status == "ingested"
    pg.sql("ALTER TABLE grow ADD COLUMN score float8", "INSERT INTO grow VALUES (2, 'bo', 1.5)")
    [r] = lh.ingest([url], table="public.grow", mode="upsert")
    assert r.status == "failed" and "added score DOUBLE" in r.message and "--accept-schema" in r.message, r
    _one_sentence(r.message)
    [r] = lh.ingest([url], table="public.grow", mode="upsert", schema_change="accept")
    assert r.status == "ingested" and any("added score" in n for n in r.notes), r
    pg.sql("ALTER TABLE grow RENAME COLUMN name TO full_name", "INSERT INTO grow VALUES (3, 'cy', 2.5)")
    [r] = lh.ingest([url], table="public.grow", mode="upsert", column_map="full_name=name")
    assert r.status == "ingested", r
    assert _rows(lh, "SELECT id, name, score FROM grow ORDER BY id") == [(1, "ann", None), (2, "bo", 1.5), (3, "cy", 2.5)]
    assert [c.name for c in lh.dataset("grow").columns] == ["id", "name", "score"]


def test_a_query_that_is_not_a_select_is_refused_and_runs_nothing(lh, pg):
    pg.sql("CREATE TABLE IF NOT EXISTS keep_me (id int)", "INSERT INTO keep_me VALUES (1)")
    [r] = lh.ingest([pg.url(password=True)], query="DELETE FROM keep_me RETURNING *", name="gone")
    assert r.status == "failed" and "--query must be one SELECT" in r.message and "not DELETE" in r.message
    with pg.connect() as conn:
        assert conn.execute("SELECT count(*) FROM keep_me").fetchone()[0] == 1
