"""`ingest_preview` of a PostgreSQL table or query against a real server (tests/pgserver.py):
the dataset, the types ingest writes and the first rows, nothing written on either side;
refusals (a wrong password, an unmappable type, a missing --table) in one sentence without
the password; `lakehouse ingest URL --table T --preview` in the CLI."""

from __future__ import annotations

import json

import pytest

from core.errors import IngestError
from pgserver import PASSWORD, ROLE


@pytest.fixture(scope="module")
def shop(pg):
    pg.sql("DROP TABLE IF EXISTS shop_orders",
           """CREATE TABLE shop_orders (id int8 PRIMARY KEY, item text, price numeric(10,2), qty int4,
              placed timestamptz, note text, took interval, total numeric)""",
           """INSERT INTO shop_orders SELECT g, 'item ' || g, g * 1.25, g % 7, timestamptz '2024-01-01 00:00+00'
              + g * interval '1 hour', CASE WHEN g = 2 THEN '[b]bold[/b]' END, g * interval '1 minute', g / 8.0
              FROM generate_series(1, 50) g""",
           "DROP TABLE IF EXISTS shop_points",
           "CREATE TABLE shop_points (id int4, at point)",
           "INSERT INTO shop_points VALUES (1, point(1, 2))")
    return pg


def _one_sentence(msg: str) -> None:
    assert msg and "\n" not in msg and "Traceback" not in msg and PASSWORD not in msg, msg


def test_a_table_preview_has_the_types_ingest_writes_and_writes_nothing(shop, lh):
    url = shop.url(password=True)
    pv = lh.ingest_preview(url, table="public.shop_orders", rows=3)
    assert pv["format"] == "postgresql" and pv["dataset"] == "shop_orders" and pv["kind"] == "table"
    assert pv["path"] == url.replace(PASSWORD, "***") and PASSWORD not in json.dumps(pv)
    cols = {c["name"]: c["type"] for c in pv["columns"]}
    assert cols["id"] == "BIGINT" and cols["item"] == "VARCHAR" and cols["price"] == "DECIMAL(10,2)"
    assert cols["placed"] == "TIMESTAMP WITH TIME ZONE" and cols["took"] == "VARCHAR"
    assert pv["rows"][0][:4] == [1, "item 1", "1.25", 1] and len(pv["rows"]) == 3 and pv["sampled"]
    assert pv["rows"][1][5] == "[b]bold[/b]"
    assert any("'took'" in n and "stored as text" in n for n in pv["notes"])
    assert pv["refusal"] is None
    assert lh.datasets() == []  # nothing ingested
    # the ingest then writes exactly those types
    [r] = lh.ingest([url], table="public.shop_orders")
    assert r.status == "ingested", r.message
    assert {c.name: c.type for c in lh.dataset("shop_orders").columns} == cols


def test_a_query_preview_and_all_its_rows(shop, lh):
    pv = lh.ingest_preview(shop.url(password=True), query="SELECT id, item FROM shop_orders WHERE id <= 2;",
                           name="two", rows=20)
    assert pv["dataset"] == "two" and not pv["sampled"]
    assert pv["rows"] == [[1, "item 1"], [2, "item 2"]]
    assert lh.ingest_preview(shop.url(password=True), table="shop_orders", rows=0)["rows"] == []


@pytest.mark.parametrize("kw, words", [
    ({"table": "shop_orders", "wrong": True}, f"refused the password for user {ROLE}"),
    ({"table": "shop_points"}, "column 'at' has type point"),
    ({}, "give --table schema.name or --query"),
    ({"query": "SELECT 1 AS x"}, "a --query needs a dataset name"),
    ({"query": "DELETE FROM shop_orders", "name": "d"}, "must be one SELECT"),
    ({"table": "nope_table"}, "nope_table"),
    ({"table": "shop_orders", "types": "id=INT"}, "--types is for files"),
])
def test_refusals_are_one_sentence_without_the_password(shop, lh, kw, words):
    url = shop.url(password=True)
    if kw.pop("wrong", False):
        url = url.replace(PASSWORD, "wrong-" + PASSWORD)
    with pytest.raises(IngestError) as e:
        lh.ingest_preview(url, **kw)
    _one_sentence(str(e.value))
    assert words in str(e.value)
    assert shop.connect().execute("SELECT count(*) FROM shop_orders").fetchone()[0] == 50


def test_query_and_table_are_for_a_database_url(lh, data):
    (data / "a.csv").write_text("x\n1\n")
    with pytest.raises(IngestError, match="--table is for a database source"):
        lh.ingest_preview(str(data / "a.csv"), table="t")


def test_the_cli_previews_a_table(shop, cli):
    url = shop.url(password=True)
    code, out, err = cli("ingest", url, "--table", "public.shop_orders", "--preview")
    assert code == 0, err
    assert PASSWORD not in out + err and "postgresql" in out and "dataset shop_orders" in out
    assert "DECIMAL(10,2)" in out and "item 1" in out
    code, out, err = cli("ingest", url, "--query", "SELECT id FROM shop_orders", "--name", "ids", "--preview",
                         "--json")
    assert code == 0, err
    assert json.loads(out)["dataset"] == "ids" and PASSWORD not in out
    code, out, err = cli("ingest", url, "--table", "shop_orders", "--preview", "--incremental-by", "id")
    assert code != 0 and "--incremental-by" in err and "Traceback" not in err and PASSWORD not in err
    code, out, err = cli("datasets", "--format", "json")
    assert json.loads(out) == []
