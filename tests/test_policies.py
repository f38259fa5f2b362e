"""Masking and row policies: a masked column and a filtered row cannot be recovered.

"Cannot be recovered" means: no result, error message, journal entry, search hit or
plan a bound profile can obtain contains a masked column's raw value or any value of a
filtered row — every statement computes on the masked, filtered data only — and a
statement's outcome (rows, count, error or not) is the same whatever the hidden values
are (tests below: the error oracle, the hash-join trick). What stays visible is listed in
docs/policies.md (row counts in the catalog, the length of a last4-masked value).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import write

sys.path.insert(0, str(Path(__file__).parent))

PEOPLE = """id,name,ssn,state,salary,email,card
1,Ann Lee,123-45-6789,CA,100000,ann@example.com,4111111111111111
2,Bob Ray,987-65-4321,NY,200000,bob@example.com,5500005555555559
3,Cy Dee,555-12-3456,CA,150000,cy@example.com,340000000000009
"""
# what the analyst must never see: raw masked values, and anything of the NY row
SECRETS = ["123-45-6789", "987-65-4321", "555-12-3456", "123456789", "987654321",
           "100000", "200000", "150000", "ann@example.com", "bob@example.com", "cy@example.com",
           "Bob Ray", "Bob", "4111111111111111", "5500005555555559", "340000000000009"]

CONFIG = """
[profiles.analyst]
datasets = ["people", "guesses"]
indexes = ["*"]

[policies.hr]
profiles = ["analyst"]
masks = { "people.ssn" = "last4", "people.email" = "hash", "people.salary" = "null", "people.tag:financial" = "redact" }
rows = { people = "state = 'CA'" }
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from core import Lakehouse

    h = tmp_path_factory.mktemp("pol")
    (h / "lakehouse.toml").write_text(CONFIG)
    d = h / "in"
    d.mkdir()
    write(d / "people.csv", PEOPLE)
    write(d / "guesses.csv", "x,email\n987-65-4321,bob@example.com\n123-45-6789,ann@example.com\n")
    with Lakehouse.open(home=h) as lh:
        lh.ingest([str(d / "people.csv")], key="id")
        lh.ingest([str(d / "guesses.csv")])
        lh.update("people", "3", {"ssn": "555-12-3457"}, reason="typo")  # a journaled change
        lh.update("people", "2", {"salary": "210000"}, reason="raise")  # a change to a hidden row
        lh.embed("people", "name", index="people_names", embedder="hashing")
        lh.embed("people", "ssn", index="people_ssn", embedder="hashing")
    return h


@pytest.fixture(scope="module")
def analyst(root):
    from core import Lakehouse

    with Lakehouse.open(home=root, profile="analyst") as lh:
        yield lh


def _leaks(value) -> list[str]:
    text = json.dumps(value, default=str)
    return [s for s in SECRETS if s in text]


# -- the corpus: statements that try to recover a masked value or a filtered row -----------
CORPUS = [
    "SELECT * FROM people",
    "SELECT ssn, email, salary, card FROM people",
    "FROM people",
    "SELECT people FROM people",  # the row as a struct
    "SELECT COLUMNS(*) FROM people",
    "SELECT * FROM people WHERE ssn LIKE '123%'",
    "SELECT * FROM people WHERE ssn = '987-65-4321'",
    "SELECT count(*) FROM people WHERE ssn LIKE '987%'",
    "SELECT min(ssn), max(ssn), min(salary), max(salary), sum(salary), avg(salary) FROM people",
    "SELECT string_agg(ssn, ','), list(email), list(card) FROM people",
    "SELECT hash(ssn), md5(ssn), sha256(ssn) FROM people",
    "SELECT * FROM people p JOIN guesses g ON p.ssn = g.x",
    "SELECT * FROM people p JOIN guesses g ON hash(p.ssn) = hash(g.x)",
    "SELECT * FROM people p JOIN guesses g ON p.email = g.email",
    "SELECT * FROM people p JOIN guesses g ON md5(p.email) = md5(g.email)",
    "SELECT g.x FROM guesses g WHERE g.x IN (SELECT ssn FROM people)",
    "SELECT g.x FROM guesses g WHERE EXISTS (SELECT 1 FROM people p WHERE p.ssn = g.x)",
    "WITH t AS (SELECT * FROM people) SELECT * FROM t",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT * FROM people, t",
    "SELECT * FROM (SELECT * FROM (SELECT ssn, name FROM people))",
    "SELECT name, row_number() OVER (ORDER BY ssn) FROM people",
    "SELECT state, count(*), list(name) FROM people GROUP BY state",
    "SELECT * FROM people WHERE state = 'NY'",
    "SELECT * FROM people WHERE state <> 'CA' OR true",
    "SELECT * FROM people WHERE id = 2",
    "SELECT count(*) FROM people",
    "SELECT * FROM people UNION ALL SELECT * FROM people",
    "SELECT name FROM people EXCEPT SELECT 'x'",
    "SELECT length(ssn), left(ssn, 3), substr(ssn, 1, 7), replace(ssn, '*', '') FROM people",
    "SELECT ssn::BLOB, to_json(people), people::VARCHAR FROM people",
    "SELECT * FROM \"people@v0\"",
    "SELECT * FROM \"people@v1\" WHERE state = 'NY'",
    "SELECT * FROM \"people@v0\" p JOIN guesses g ON p.ssn = g.x",
    "SUMMARIZE people",
    "SUMMARIZE SELECT ssn, salary FROM people",
    "DESCRIBE people",
    "EXPLAIN SELECT * FROM people WHERE ssn = '987-65-4321'",
    "EXPLAIN ANALYZE SELECT * FROM people",
    "SELECT * FROM _journal",
    "SELECT old_value, new_value FROM _journal WHERE field IN ('ssn', 'salary')",
    "SELECT * FROM _audit",
    "SELECT * FROM _datasets",
    "SELECT * FROM people TABLESAMPLE 100%",
    "SELECT * FROM people ORDER BY ssn LIMIT 1",
    "SELECT * FROM people QUALIFY row_number() OVER () > 0",
    "SELECT name, CASE WHEN ssn = '123-45-6789' THEN 'hit' ELSE 'miss' END AS guess FROM people",
    "SELECT regexp_extract(ssn, '(\\d+)'), ssn SIMILAR TO '.*6789' FROM people",
    "SELECT unnest(list_value(ssn, email)) FROM people",
    "SELECT * FROM people NATURAL JOIN guesses",
    "SELECT p.* FROM people p POSITIONAL JOIN guesses g",
    "SELECT * FROM people ASOF JOIN guesses g ON people.ssn >= g.x",
    "SELECT any_value(salary), arg_max(name, salary), arg_min(ssn, id) FROM people",
    "SELECT approx_count_distinct(salary), histogram(ssn) FROM people",
]


def test_the_corpus_is_at_least_fifty_statements():
    assert len(CORPUS) >= 50


@pytest.mark.parametrize("query", CORPUS)
def test_no_statement_recovers_a_masked_value_or_a_filtered_row(analyst, query):
    from core.errors import LakehouseError

    try:
        got = analyst.sql_rows(query, limit=1000)
    except LakehouseError as e:  # refused is fine: the message must not carry a secret either
        assert not _leaks(str(e)), (query, str(e))
        return
    assert not _leaks(got), (query, _leaks(got), got["rows"][:5])


REFUSED = [
    "SELECT * FROM read_parquet('*.parquet')",
    "SELECT * FROM read_csv_auto('x.csv')",
    "SELECT * FROM _policy.people",
    "SELECT * FROM main.people",
    "SELECT * FROM _cache.people",
    "SELECT sql FROM sqlite_master",
    "SELECT * FROM duckdb_views()",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM information_schema.views",
    "SELECT _lh_mask_hash('987-65-4321', 'people.ssn')",
    "SELECT * FROM people p WHERE p.email = _LH_MASK_HASH('bob@example.com', 'people.email')",
    "SELECT * FROM query('SELECT 1')",
    "PIVOT people ON state USING count(*)",
    "SELECT * FROM glob('*')",
]


@pytest.mark.parametrize("query", REFUSED)
def test_statements_reaching_past_the_policy_are_refused_in_one_sentence(analyst, query):
    from core.errors import LakehouseError

    with pytest.raises(LakehouseError) as e:
        analyst.sql(query)
    assert e.value.refused and "\n" not in str(e.value) and not _leaks(str(e.value)), str(e.value)


def test_masks_show_what_they_say(analyst):
    got = analyst.sql_rows("SELECT id, ssn, email, salary, card FROM people ORDER BY id")
    rows = {r[0]: r for r in got["rows"]}
    assert set(rows) == {1, 3}  # the NY row is filtered out
    assert rows[1][1] == "*******6789" and rows[3][1] == "*******3457"
    assert len(rows[1][2]) == 16 and rows[1][2] != rows[3][2]  # keyed hashes, distinct values differ
    assert rows[1][3] is None  # null
    assert rows[1][4] == "[redacted]"  # card: tagged financial by the scan, masked by tag


def test_hashes_are_stable_within_a_column_and_differ_across_columns(analyst):
    a = analyst.sql_rows("SELECT email FROM people WHERE id = 1")["rows"][0][0]
    assert analyst.sql_rows("SELECT email FROM people WHERE id = 1")["rows"][0][0] == a
    from core.governance.policies import digest

    key = (analyst.root / "policy.key").read_bytes()
    assert a == digest(key, "people.email", "ann@example.com") != digest(key, "guesses.email", "ann@example.com")
    assert (analyst.root / "policy.key").stat().st_mode & 0o077 == 0


def test_an_error_raised_on_a_filtered_row_never_fires(analyst):
    """The error oracle: a condition that fails only on the hidden row must not fail."""
    for q, n in [("SELECT count(*) FROM people WHERE CASE WHEN id = 2 THEN error('hidden row seen') ELSE true END", 2),
                 ("SELECT count(*) FROM people WHERE id = 2 AND error('hidden row seen') IS NULL", 0),
                 ("SELECT count(*) FROM people WHERE (CASE WHEN id = 2 THEN 'x' ELSE '1' END)::INT = 1", 2),
                 ("SELECT count(*) FROM \"people@v0\" WHERE CASE WHEN id = 2 THEN error('hidden') ELSE true END", 2),
                 ("SELECT sum(CASE WHEN id = 2 THEN error('hidden') ELSE 1 END)::INT FROM people", 2)]:
        assert analyst.sql_rows(q)["rows"] == [[n]], q


def test_time_travel_is_masked_and_filtered(analyst):
    got = analyst.sql_rows("SELECT id, ssn FROM people ORDER BY id", as_of=0)
    assert got["rows"] == [[1, "*******6789"], [3, "*******3456"]]


def test_an_unbound_profile_reads_raw(root):
    from core import Lakehouse

    with Lakehouse.open(home=root) as lh:
        assert lh.sql_rows("SELECT ssn FROM people WHERE id = 2")["rows"] == [["987-65-4321"]]
        assert lh.policy()["policies"] == []


def test_the_journal_is_masked_and_filtered(analyst):
    events = analyst.history("people")
    assert not _leaks(events)
    assert any(e["field"] == "ssn" and e["old_value"] == "*******3456" and e["new_value"] == "*******3457"
               for e in events)
    assert not any(e.get("entity") == "2" for e in events)  # the hidden record's raise
    assert analyst.history("people", "2") == []


def test_search_hits_pass_the_row_filter_and_a_masked_index_is_refused(analyst):
    from core.access import Refused

    res = analyst.search("people_names", "Bob Ray", k=3)
    assert {h.row_key for h in res.hits} == {"1", "3"} and not _leaks([h.row for h in res.hits])
    with pytest.raises(Refused, match="people.ssn, which policy hr masks"):
        analyst.search("people_ssn", "987-65-4321")


def test_a_bound_profile_may_not_change_what_its_policy_shapes(analyst):
    from core.access import Refused

    for call in (lambda: analyst.update("people", "1", {"name": "X"}, reason="r"),
                 lambda: analyst.delete("people", "1", reason="r"),
                 lambda: analyst.restore("people", version=0, reason="r"),
                 lambda: analyst.ingest([str(analyst.root / "in" / "people.csv")], name="people", mode="append"),
                 lambda: analyst.ingest([str(analyst.root / "in" / "people.csv")])):
        with pytest.raises(Refused, match="policy hr"):
            call()
    assert analyst.sql_rows("SELECT count(*) FROM people")["rows"] == [[2]]


def test_masked_accesses_and_refusals_are_in_the_audit(analyst):
    from core.errors import LakehouseError

    analyst.sql("SELECT ssn FROM people")
    with pytest.raises(LakehouseError):
        analyst.sql("SELECT * FROM read_parquet('x')")
    analyst.audit_log.flush()
    entries = analyst.audit(limit=20)
    masked = [e for e in entries if e["outcome"] == "masked" and e["statement"] == "SELECT ssn FROM people"]
    assert masked and "ssn last4" in masked[0]["policy"] and "rows filtered" in masked[0]["policy"]
    assert any(e["outcome"] == "refused" and "read_parquet" in e["statement"] for e in entries)
    with pytest.raises(LakehouseError):
        analyst.update("people", "1", {"name": "X"}, reason="r")
    with pytest.raises(LakehouseError):
        analyst.search("people_ssn", "x")
    for change in (lambda: analyst.annotate("people", description="all names, unmasked"),  # as tag is
                   lambda: analyst.draft_description("people")):
        with pytest.raises(LakehouseError, match="policy hr"):
            change()
    assert analyst.dataset("people").description != "all names, unmasked"
    analyst.sql("SELECT ssn FROM \"people@v0\"")
    analyst.audit_log.flush()
    entries = analyst.audit(limit=20)
    assert any(e["action"] == "update" and e["outcome"] == "refused" and "policy hr" in e["error"] for e in entries)
    assert any(e["action"] == "search" and e["outcome"] == "refused" for e in entries)
    assert any(e["action"] == "annotate" and e["outcome"] == "refused" for e in entries)
    assert any(e["outcome"] == "masked" and e["statement"] == 'SELECT ssn FROM "people@v0"' for e in entries)


def test_policy_lists_what_binds_the_profile(analyst):
    p = analyst.policy()
    assert [x["name"] for x in p["policies"]] == ["hr"]
    (people,) = [d for d in p["datasets"] if d["dataset"] == "people"]
    assert people["masks"]["ssn"] == "last4" and people["row_filter"]


def test_a_pinned_dataset_stays_masked(root, tmp_path):
    from core import Lakehouse

    h = tmp_path / "pin"
    h.mkdir()
    (h / "lakehouse.toml").write_text(CONFIG.replace("rows = { people = \"state = 'CA'\" }", ""))
    write(tmp_path / "people.csv", PEOPLE)
    with Lakehouse.open(home=h) as lh:
        lh.ingest([str(tmp_path / "people.csv")], key="id")
        lh.pin("people")
    with Lakehouse.open(home=h, profile="analyst") as lh:
        for _ in range(2):  # the second read is from the pinned copy
            got = lh.sql_rows("SELECT ssn FROM people ORDER BY id")
            assert got["rows"][1] == ["*******4321"] and not _leaks(got)


def test_policies_combine_the_strongest_mask_and_every_filter(tmp_path):
    from core import Lakehouse

    (tmp_path / "lakehouse.toml").write_text(CONFIG + """
[policies.stricter]
profiles = ["analyst"]
masks = { "*.ssn" = "null" }
rows = { "peo*" = "salary < 120000" }
""")
    write(tmp_path / "people.csv", PEOPLE)
    with Lakehouse.open(home=tmp_path) as lh:
        lh.ingest([str(tmp_path / "people.csv")], key="id")
    with Lakehouse.open(home=tmp_path, profile="analyst") as lh:
        assert lh.sql_rows("SELECT id, ssn FROM people")["rows"] == [[1, None]]


@pytest.mark.parametrize("table, message", [
    ('[policies.p]\nprofiles = ["default"]\nmasks = { "people.ssn" = "blur" }', "a mask is one of last4, hash, null, redact"),
    ('[policies.p]\nprofiles = ["a"]\nmasks = { "ssn" = "null" }', "must be DATASET.COLUMN"),
    ('[policies.p]\nprofiles = ["a"]\nmasks = { "tag:secret" = "null" }', "tags are pii, financial, health"),
    ('[policies.p]\nmasks = { "a.b" = "null" }', "must list the profiles it binds"),
    ('[policies.p]\nprofiles = ["a"]', "has neither masks nor rows"),
    ('[policies.p]\nprofiles = ["a"]\nrow = { a = "x" }', "unknown key 'policies.p.row'"),
    ('[policies.p]\nprofiles = ["a"]\nrows = { a = "" }', "dataset → SQL condition"),
    ('[policies."bad name"]\nprofiles = ["a"]\nrows = { a = "x" }', "a policy name is a letter"),
    ('[policies.p]\nprofiles = ["analyts"]\nrows = { a = "x" }', "names profile 'analyts', which is not defined"),
])
def test_a_malformed_policy_is_one_sentence_naming_its_key(tmp_path, table, message):
    from core import config
    from core.errors import ConfigError

    (tmp_path / "lakehouse.toml").write_text(table + "\n")
    with pytest.raises(ConfigError) as e:
        config.load(home=tmp_path)
    assert message in str(e.value) and str(tmp_path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("condition, message", [
    ("no_such_column = 1", "policy hr cannot be applied to people"),
    ("id IN (SELECT 1 FROM guesses)", "policy hr's rows condition for people must be a condition on the columns"),
    ("true) OR (true", "brackets pair up"),
    ("state = 'CA' -- and the rest", None),  # a trailing comment cannot swallow what follows
])
def test_a_row_condition_is_checked_and_fails_closed(tmp_path, condition, message):
    from core import Lakehouse
    from core.errors import LakehouseError

    (tmp_path / "lakehouse.toml").write_text(CONFIG.replace("state = 'CA'", condition))
    write(tmp_path / "people.csv", PEOPLE)
    with Lakehouse.open(home=tmp_path) as lh:
        lh.ingest([str(tmp_path / "people.csv")], key="id")
    with Lakehouse.open(home=tmp_path, profile="analyst") as lh:
        if message is None:
            assert lh.sql_rows("SELECT id FROM people ORDER BY id")["rows"] == [[1], [3]]
            return
        with pytest.raises(LakehouseError, match=message.replace("(", "\\(")) as e:
            lh.sql("SELECT name FROM people")
        assert e.value.refused and not _leaks(str(e.value))


def test_through_the_daemon_the_policy_applies(root, tmp_path):
    from test_daemon import Served

    d = Served(root, {"LAKEHOUSE_PROFILE": "analyst"})
    try:
        code, out, err = d.cli("sql", "SELECT * FROM people", "--format", "json")
        assert code == 0 and "*******6789" in out and not _leaks(out), err
        code, out, err = d.cli("sql", "SELECT * FROM read_parquet('x')")
        assert code == 1 and "refused under policy hr" in err
        code, out, err = d.cli("history", "people", "--format", "json")
        assert code == 0 and not _leaks(out), err
        # a connection held by a bound profile may not step out of its policy
        code, out, err = d.cli("--profile", "default", "sql", "SELECT ssn FROM people")
        assert code != 0 and not _leaks(out), (out, err)
    finally:
        d.stop()


def test_errors_about_a_shaped_dataset_hide_the_values_they_quote(root, analyst):
    from core import Lakehouse

    with Lakehouse.open(home=root) as lh:  # an error another profile's ingest left
        lh.catalog.errors.add("ingest", "could not convert '987-65-4321' to INTEGER in column \"ssn\"",
                              dataset="people", detail="value '987-65-4321'")
    mine = [e for e in analyst.errors() if e.dataset == "people"]
    assert any("could not convert '…'" in e.message for e in mine) and not _leaks([e.to_dict() for e in mine])
    assert not _leaks(analyst.sql_rows("SELECT * FROM _errors")["rows"])


def test_ask_sees_and_answers_from_masked_data_only(home, ollama):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[ollama]\nretries = 1\n" + CONFIG)
    write(home / "people.csv", PEOPLE)
    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(home / "people.csv")], key="id")
    ollama.chat_replies = [json.dumps({"sql": "SELECT name, ssn, salary FROM people", "reason": "all"}),
                           "Two people."]
    with Lakehouse.open(home=home, profile="analyst") as lh:
        res = lh.ask("list everyone's ssn", mode="sql")
    sent = json.dumps(ollama.chat_requests)
    assert "*******6789" in sent  # the schema samples and the rows it summarised, masked
    assert not _leaks(sent) and not _leaks(res.to_dict() if hasattr(res, "to_dict") else str(res))


@pytest.mark.parametrize("suffix", ["csv", "parquet", "json"])
def test_an_export_is_masked(root, tmp_path, suffix):
    import subprocess

    out = tmp_path / f"people.{suffix}"
    exe = Path(sys.executable).parent / "lakehouse"
    r = subprocess.run([str(exe), "--home", str(root), "--profile", "analyst", "sql", "SELECT * FROM people",
                        "--output", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    if suffix == "parquet":  # compressed bytes: read the values back
        import pyarrow.parquet as pq

        assert not _leaks(pq.read_table(out).to_pylist())
    assert not [s for s in SECRETS if s.encode() in out.read_bytes()]
    if suffix == "csv":
        assert "*******6789" in out.read_text()


def test_trials_on_an_index_over_a_masked_column_are_refused(analyst):
    from core.access import Refused

    for call in (lambda: analyst.eval_create("people_ssn", queries=2),
                 lambda: analyst.trial("people_ssn", 8, 40, [10]),
                 lambda: analyst.autotune("people_ssn", budget="1s")):
        with pytest.raises(Refused, match="people.ssn, which policy hr masks"):
            call()


def test_a_version_the_scan_has_not_read_is_scanned_before_a_tag_mask_applies(tmp_path):
    """An ingest's scan runs after its commit: a reader in between must not see the tagged column raw."""
    from core import Lakehouse

    (tmp_path / "lakehouse.toml").write_text(CONFIG)
    write(tmp_path / "people.csv", PEOPLE)
    with Lakehouse.open(home=tmp_path) as lh:
        lh.ingest([str(tmp_path / "people.csv")], key="id")
        lh.catalog.db.execute("DELETE FROM column_tags")  # as if the scan had not run yet
        lh.catalog.db.execute("DELETE FROM tag_scans")
    with Lakehouse.open(home=tmp_path, profile="analyst") as lh:
        assert lh.sql_rows("SELECT card FROM people ORDER BY id")["rows"] == [["[redacted]"], ["[redacted]"]]
        assert lh.catalog.tags.effective("people")["card"] == "financial"


def test_explore_shows_what_the_policy_does_and_a_masked_sample(root):
    import asyncio

    from app.tui import LakehouseApp
    from test_tui import until

    async def go():
        app = LakehouseApp(home=root, profile="analyst")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: bool(tree.root.children) and bool(tree.root.children[0].children))
            node = next(n for n in tree.root.children[0].children if str(n.label).startswith("people"))
            tree.focus()
            tree.move_cursor(node)
            info = app.query_one("#explore-info")
            await until(pilot, lambda: "policy:" in str(info.render()))
            text = str(info.render())
            assert "ssn last4" in text and "rows filtered (policy hr)" in text and "masked:last4" in text
            assert not _leaks(text)
    asyncio.run(go())


def test_a_bound_profile_cannot_step_out_of_its_policy(analyst):
    from core.access import Refused

    with pytest.raises(Refused, match="restricted"):
        analyst.activate("default")
    with pytest.raises(Refused, match="restricted"):
        analyst.profile_save("analyst", {"datasets": ["*"]}, create=False)
    with pytest.raises(Refused, match="restricted"):
        analyst.profile_save("escape", {"datasets": ["*"]}, create=True)


def test_processes_making_the_masking_key_at_once_agree_on_one(tmp_path):
    import subprocess

    code = ("import sys; from pathlib import Path; from core.governance.policies import Guard; "
            "print(Guard([], None, Path(sys.argv[1])).key().hex())")
    repo = Path(__file__).resolve().parent.parent
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE,
                              text=True) for _ in range(6)]
    keys = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["policy.key"]  # no temporary file left
