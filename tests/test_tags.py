"""Column sensitivity tags (issue 19): found by the scan at ingest with their evidence,
shown by describe, `_columns`, `lakehouse tags` and Explore; set or cleared by a person
(kept across re-ingests); bounded by the profile; a description drafted by the chat model
from untagged columns only, marked as drafted until a person sets one."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from conftest import write
from core import Lakehouse
from core.errors import LakehouseError, NotFound

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _luhn(prefix: str) -> str:
    for check in "0123456789":
        total = 0
        for i, ch in enumerate(reversed(prefix + check)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return prefix + check
    raise AssertionError("unreachable")


def people_csv(path, n: int = 300, start: int = 0, seed: int = 7):
    """Contacts with an email, SSN, phone and card each, an order number that looks like a
    number of something (never tagged), and a plain city."""
    rnd = random.Random(seed)
    lines = ["id,email,ssn,phone,card,order_no,city"]
    for i in range(start, start + n):
        card = _luhn("4" + "".join(rnd.choice("0123456789") for _ in range(14)))
        lines.append(f"{i},user{i}@example.com,{rnd.randint(100, 665):03d}-{rnd.randint(10, 99)}-"
                     f"{rnd.randint(1000, 9999)},(312) {rnd.randint(200, 999)}-{rnd.randint(1000, 9999)},"
                     f"{card},{4400000 + i * 7},{rnd.choice(['Chicago', 'Denver', 'Austin'])}")
    return write(path, "\n".join(lines) + "\n")


@pytest.fixture
def people(lh, data):
    lh.ingest([people_csv(data / "people.csv")], key="id")
    return lh


def tags_of(lh, dataset="people") -> dict:
    return {t.column: t.tag for t in lh.describe(dataset).column_tags}


def test_ingest_tags_columns_with_evidence_everywhere(people, cli):
    d = people.describe("people")
    by = {t.column: t for t in d.column_tags}
    assert {c: t.tag for c, t in by.items()} == {"id": None, "email": "pii", "ssn": "pii", "phone": "pii",
                                                 "card": "financial", "order_no": None, "city": None}
    assert by["ssn"].kind == "us_ssn" and by["ssn"].share == 1.0 and by["ssn"].sampled > 100
    assert by["ssn"].evidence() == f"us_ssn, 100% of {by['ssn'].sampled:,} sampled"
    assert by["card"].kind == "credit_card" and by["card"].source == "scan"
    assert json.loads(json.dumps(d.to_dict(), default=str))["column_tags"][2]["evidence"].startswith("us_ssn")
    rows = people.sql("SELECT column_name, tag, tag_source, detector, evidence FROM _columns "
                      "WHERE dataset = 'people' ORDER BY column_name").to_pylist()
    assert {r["column_name"]: r["tag"] for r in rows}["email"] == "pii"
    assert {r["column_name"]: r["detector"] for r in rows}["phone"] == "phone"
    assert [r["tag"] for r in rows if r["column_name"] in ("order_no", "city", "id")] == [None] * 3
    people.close()
    code, out, err = cli("describe", "people")
    assert code == 0, err
    assert "pii (us_ssn, 100% of" in out and "financial (credit_card" in out
    code, out, err = cli("tags")
    assert code == 0 and "people.ssn" in out and "people.order_no" not in out and "people.city" not in out
    code, out, err = cli("tags", "people", "--format", "json")
    listed = {r["column"]: r for r in json.loads(out)}
    assert set(listed) == {"email", "ssn", "phone", "card"} and listed["ssn"]["evidence"].startswith("us_ssn")


def test_a_persons_tags_survive_reingest_by_append_and_replace(people, data):
    generation = people.catalog.meta.generation()
    cleared = people.tag("people", "ssn", "none", reason="synthetic test numbers", actor="alice")
    assert people.catalog.meta.generation() > generation  # masks that follow tags are reshaped
    assert cleared.tag is None and cleared.scan_tag == "pii"
    assert cleared.evidence().startswith("cleared by alice: synthetic test numbers (scan: pii, us_ssn")
    people.tag("people", "city", "PII", reason="small towns identify people", actor="bob")
    want = {"id": None, "email": "pii", "ssn": None, "phone": "pii", "card": "financial", "order_no": None,
            "city": "pii"}
    assert tags_of(people) == want
    assert people.catalog.tags.effective("people") == {"email": "pii", "phone": "pii", "card": "financial",
                                                       "city": "pii"}
    people.ingest([people_csv(data / "more.csv", 50, start=1000, seed=8)], name="people", mode="append")
    assert tags_of(people) == want
    people.ingest([people_csv(data / "again.csv", 80, seed=9)], name="people", mode="replace")
    assert tags_of(people) == want
    city = next(t for t in people.tags("people") if t.column == "city")
    assert (city.source, city.actor, city.reason) == ("user", "bob", "small towns identify people")
    audit = [a for a in people.audit(limit=50) if a["action"] == "tag"]
    assert [a["statement"] for a in audit] == ["city -> pii: small towns identify people",
                                               "ssn -> none: synthetic test numbers"]


def test_bad_tag_commands_get_one_sentence(people, cli):
    people.close()
    for args, says in ((["tag", "people", "pii"], "is not DATASET.COLUMN"),
                       (["tag", "people.nope", "pii"], "has no column 'nope'"),
                       (["tag", "people.city", "secret"], "is not a sensitivity tag"),
                       (["tag", "nope.city", "pii"], "no dataset named 'nope'")):
        code, out, err = cli(*args)
        assert code == 1 and says in err and err.count("\n") == 1 and "Traceback" not in err, (args, err)
    code, out, err = cli("tag", "people.city", "health", "--reason", "clinic towns")
    assert code == 0 and "people.city: health (set by" in out and "clinic towns" in out


def test_a_restricted_profile_tags_only_its_own_datasets(home, data, cli):
    home.mkdir(parents=True)
    (home / "lakehouse.toml").write_text('[profiles.only]\ndatasets = ["pub"]\n')
    with Lakehouse.open(home=home) as lh:
        lh.ingest([people_csv(data / "secret.csv")], key="id")
        lh.ingest([write(data / "pub.csv", "id,contact\n1,a@example.com\n2,b@example.org\n")], key="id")
    with Lakehouse.open(home=home, profile="only") as lh:
        with pytest.raises(NotFound, match="no such dataset in profile only: secret"):
            lh.tag("secret", "ssn", "none", reason="widen")
        assert lh.tag("pub", "contact", "none").tag is None
        assert {t.dataset for t in lh.tags()} == {"pub"}
        out = json.dumps(lh.sql("SELECT * FROM _columns").to_pylist(), default=str)
        assert "secret" not in out and "ssn" not in out and "contact" in out
    with Lakehouse.open(home=home) as lh:  # the refused tag changed nothing
        assert tags_of(lh, "secret")["ssn"] == "pii"
    code, out, err = cli("--profile", "only", "tag", "secret.ssn", "none")
    assert code == 1 and "no such dataset in profile only" in err


def test_a_failing_scan_never_fails_the_ingest(lh, data, monkeypatch):
    from core.governance import detect

    def broken(columns, types=None):
        raise RuntimeError("detector exploded")
    monkeypatch.setattr(detect, "scan", broken)
    r = lh.ingest([people_csv(data / "people.csv")], key="id")
    assert r[0].status == "ingested" and lh.sql("SELECT count(*) AS n FROM people").to_pylist() == [{"n": 300}]
    errors = [e for e in lh.errors() if e.operation == "scan"]
    assert len(errors) == 1 and "detector exploded" in errors[0].message and errors[0].dataset == "people"
    assert tags_of(lh) == dict.fromkeys(["id", "email", "ssn", "phone", "card", "order_no", "city"])
    monkeypatch.undo()
    lh.ingest([people_csv(data / "more.csv", 20, start=500, seed=3)], name="people", mode="append")
    assert tags_of(lh)["ssn"] == "pii"  # the next ingest's scan finds them


def test_a_drafted_description_never_sees_tagged_values(people, ollama, cli):
    secrets = {r["ssn"] for r in people.sql("SELECT ssn FROM people").to_pylist()}
    emails = {r["email"] for r in people.sql("SELECT email FROM people").to_pylist()}
    ollama.chat_replies = ["Contacts of customers with their orders and home cities."]
    ollama.reset_counters()
    out = people.draft_description("people")
    assert out == {"dataset": "people", "description": "Contacts of customers with their orders and home cities.",
                   "model": "qwen2.5:7b", "drafted": True}
    prompt = json.dumps(ollama.chat_requests)
    cards = {str(r["card"]) for r in people.sql("SELECT card FROM people").to_pylist()}
    assert "order_no" in prompt and any(c in prompt for c in ("Chicago", "Denver", "Austin"))
    assert not any(c in prompt for c in cards)
    assert "ssn VARCHAR (pii: values withheld)" in prompt
    assert not any(s in prompt for s in secrets) and not any(e in prompt for e in emails)
    d = people.describe("people")
    assert d.dataset.description == out["description"] and d.description_drafted
    people.annotate("people", owner="ops")  # an owner alone leaves the draft a draft
    assert people.describe("people").description_drafted
    people.annotate("people", description=out["description"])  # a person's (even the same words)
    assert not people.describe("people").description_drafted
    people.close()
    ollama.chat_replies = ["People and what they ordered."]
    code, out, err = cli("annotate", "people", "--draft")
    assert code == 0 and "People and what they ordered." in out and "drafted by qwen2.5:7b" in out, err
    code, out, err = cli("describe", "people")
    assert "People and what they ordered.  (drafted by the chat model)" in out


def test_drafting_without_ollama_is_one_sentence(people, cli):
    with pytest.raises(LakehouseError, match="Ollama is not reachable"):
        people.draft_description("people")
    people.close()
    code, out, err = cli("annotate", "people", "--draft")
    assert code != 0 and "Ollama is not reachable" in err and err.count("\n") == 1


def test_explore_shows_each_columns_tag(people):
    from app.tui import LakehouseApp
    from test_tui import until

    people.tag("people", "city", "health", reason="clinic towns")
    home = people.root
    people.close()

    async def go():
        app = LakehouseApp(home=home, profile="default")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: bool(tree.root.children) and bool(tree.root.children[0].children))
            node = next(n for n in tree.root.children[0].children if "people" in str(n.label))
            node.expand()
            await until(pilot, lambda: len(node.children) == 7)
            labels = {str(c.label).split()[0]: str(c.label) for c in node.children}
            assert labels["ssn"].endswith("pii") and labels["card"].endswith("financial")
            assert labels["city"].endswith("health") and "pii" not in labels["order_no"]
            tree.focus()
            tree.move_cursor(node)
            info = app.query_one("#explore-info")
            await until(pilot, lambda: "columns:" in str(info.render()))
            assert "ssn VARCHAR pii" in str(info.render())
    asyncio.run(go())


def test_a_postgres_ingest_is_scanned_too(pg, lh):
    pg.sql("DROP TABLE IF EXISTS contacts", "CREATE TABLE contacts (id int, mail text, note text)",
           "INSERT INTO contacts SELECT g, 'person' || g || '@example.com', 'note ' || g "
           "FROM generate_series(1, 200) g")
    [r] = lh.ingest([pg.url(password=True)], table="public.contacts")
    assert r.status == "ingested", r
    assert tags_of(lh, "contacts") == {"id": None, "mail": "pii", "note": None}


# ---- hostile and real-world input (found by hand, then fixed) ----------------------------

HOSTILE_HEADER = ['"a.b"', '"a b"', '"q""uote"', '"\x1b]0;pwn\x07esc"', '"\u202eevil"', '"Email"', '"émail"']


def _hostile_csv(path, n: int = 60):
    rows = [",".join(HOSTILE_HEADER)]
    for i in range(n):
        rows.append(f"u{i}@example.com,x y,q,\x1b[31mred\x1b[0m,\u202eabc,e{i}@example.org,z{i}@example.net")
    return write(path, "\n".join(rows) + "\n")


def test_columns_with_dots_quotes_escapes_and_case_are_tagged_by_name(lh, data, cli):
    lh.ingest([_hostile_csv(data / "people.csv")])
    assert {t.column: t.tag for t in lh.tags("people")} == {"a.b": "pii", "Email": "pii", "émail": "pii"}
    assert lh.tag("people", '"q""uote"', "financial").column == 'q"uote'  # quoted as in SQL
    assert lh.tag("people", "EMAIL", "health").column == "Email"           # SQL names ignore case
    with pytest.raises(LakehouseError, match="the reason is 1,001 characters long"):
        lh.tag("people", "a b", "pii", reason="x" * 1001)
    lh.close()
    code, out, err = cli("tag", "people.a.b", "none", "--reason", "\x1b[2Jlooks like mail")
    assert code == 0 and out.startswith("people.a.b: none (cleared by") and "\x1b" not in out, err
    code, out, err = cli("tag", "people.\x1b]0;pwn\x07esc", "pii")
    assert code == 0 and "\x1b" not in out and "\x07" not in out, err
    code, out, err = cli("tags", "people")
    assert code == 0 and "\x1b" not in out and "\u202e" not in out
    with Lakehouse.open() as again:
        assert again.catalog.tags.effective("people") == {
            "\x1b]0;pwn\x07esc": "pii", "q\"uote": "financial", "Email": "health", "émail": "pii"}
        assert [a["statement"] for a in again.audit(limit=10) if a["action"] == "tag"][0] == \
            "\x1b]0;pwn\x07esc -> pii"


def test_a_2000_column_dataset_ingests_and_its_scan_samples_fewer_rows(lh, data):
    """A flat chain of 2,000 width terms overflowed DuckDB's parser (the ingest failed);
    the scan now reads MIN_ROWS rows of a table that wide, not 2,000 rows of every column."""
    from core.governance import scan

    cols = [f"mail{i}" if i % 3 == 0 else f"c{i}" for i in range(2000)]
    lines = [",".join(cols)] + [",".join(f"u{r}@example.com" if i % 3 == 0 else str(r * i) for i in range(2000))
                                for r in range(300)]
    [r] = lh.ingest([write(data / "wide.csv", "\n".join(lines) + "\n")])
    assert r.status == "ingested", r.message
    found = lh.tags("wide")
    assert len(found) == 667 and {t.kind for t in found} == {"email"}
    assert {t.sampled for t in found} == {scan.MIN_ROWS}
    with pytest.raises(NotFound) as e:
        lh.tag("wide", "nope", "pii")
    assert str(e.value).endswith("c19, … (2,000 in all)") and len(str(e.value)) < 300


def test_the_scan_never_pulls_a_long_cell_into_python_whole(lh, data):
    from core.governance import detect, scan

    body = "id,email,notes\n" + "".join(f"{i},u{i}@example.com,{'n' * 300_000}\n" for i in range(40))
    lh.ingest([write(data / "long.csv", body)])
    values, _ = scan.sample(lh.root, lh.catalog, lh.catalog.datasets.get("long"))
    assert max(len(v) for v in values["notes"]) == detect.MAX_LEN + 1
    assert tags_of(lh, "long") == {"id": None, "email": "pii", "notes": None}


def test_nulls_mixed_types_and_huge_numbers_scan_without_tags_or_errors(lh, data):
    lines = ["id,nothing,mixed,huge,amount"]
    for i in range(100):
        mixed = [f"u{i}@example.com", str(i), "2024-01-01", "true"][i % 4]
        lines.append(f"{i},,{mixed},{10 ** 30 + i},{i}.5")
    [r] = lh.ingest([write(data / "m.csv", "\n".join(lines) + "\n")])
    assert r.status == "ingested"
    assert tags_of(lh, "m") == dict.fromkeys(["id", "nothing", "mixed", "huge", "amount"])
    assert not [e for e in lh.errors() if e.operation == "scan"]


def test_a_documents_dataset_can_be_tagged_by_hand(lh, data):
    lh.ingest([write(data / "notes.txt", "call ann at ann@example.com\n")])
    t = lh.tag("documents", "text", "pii", reason="free text holds contacts")
    assert (t.dataset, t.column, t.tag, t.source) == ("documents", "text", "pii", "user")
    assert [x.column for x in lh.tags("documents")] == ["text"]
    assert lh.catalog.tags.effective("documents") == {"text": "pii"}


def test_list_columns_are_not_read_by_the_scan(lh, data):
    import json as _json

    from core.governance import scan

    rows = [{"id": i, "cc": [f"u{i}-{j}@example.com" for j in range(50)], "mail": f"u{i}@example.com"}
            for i in range(30)]
    lh.ingest([write(data / "l.json", "\n".join(_json.dumps(r) for r in rows))])
    values, types = scan.sample(lh.root, lh.catalog, lh.catalog.datasets.get("l"))
    assert set(values) == {"id", "mail"} and tags_of(lh, "l") == {"id": None, "cc": None, "mail": "pii"}
