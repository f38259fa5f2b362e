"""A re-ingest whose columns differ from the dataset's: shown as a diff and refused by
default (nothing written), or taken with --accept-schema, an additive-only policy, or a
column map — each accepted change a new schema version in `describe`."""

from __future__ import annotations

import pytest

from core.errors import IngestError
from core.ingest.evolve import compare, parse_column_map


def write(path, text):
    path.write_text(text)
    return path


def one(lh, path, **kw):
    [r] = lh.ingest([path], **kw)
    return r


@pytest.fixture
def people(lh, data):
    r = one(lh, write(data / "people.csv", "id,first_name,age\n1,Ada,36\n2,Grace,45\n3,Alan,41\n"),
            name="people", key="id")
    assert r.status == "ingested"
    return lh


def state(lh, name="people"):
    d = lh.dataset(name)
    return d.table_version, d.row_count, [(c.name, c.type) for c in d.columns]


def test_a_renamed_column_is_shown_and_refused_with_the_flags_that_take_it(people, data):
    lh, before = people, state(people)
    p = write(data / "export.csv", "id,full_name,age\n4,Ada Lovelace,36\n5,Grace Hopper,45\n")
    r = one(lh, p, name="people", mode="append")
    assert r.status == "failed"
    assert "likely renamed first_name → full_name" in r.message
    assert "nothing was written" in r.message and "--accept-schema" in r.message
    assert "--map full_name=first_name" in r.message
    assert state(lh) == before  # no version, no rows, no column
    assert any("likely renamed first_name → full_name" in e.message for e in lh.errors())
    # the map the message offers writes the new column into the old one
    r = one(lh, p, name="people", mode="append", column_map="full_name=first_name")
    assert r.status == "ingested", r.message
    rows = lh.sql("SELECT id, first_name FROM people ORDER BY id").to_pylist()
    assert rows[-2:] == [{"id": 4, "first_name": "Ada Lovelace"}, {"id": 5, "first_name": "Grace Hopper"}]
    assert [c.name for c in lh.dataset("people").columns] == ["id", "first_name", "age"]
    assert len(lh.describe("people").schema_versions) == 1  # the schema did not change


def test_rename_found_by_values_when_names_differ(people, data):
    p = write(data / "b.csv", "id,given,age\n1,Ada,36\n2,Grace,45\n")
    msg = one(people, p, name="people", mode="append").message
    assert "likely renamed first_name → given" in msg and "of sampled values match" in msg


def test_accepting_a_change_makes_a_new_schema_version(people, data):
    lh = people
    p = write(data / "c.csv", "id,first_name,age,city\n6,Edsger,72,Austin\n")
    r = one(lh, p, name="people", mode="append")
    assert r.status == "failed" and "added city VARCHAR" in r.message
    r = one(lh, p, name="people", mode="append", schema_change="accept")
    assert r.status == "ingested" and r.notes == ["schema changed: added city VARCHAR"]
    versions = lh.describe("people").schema_versions
    assert len(versions) == 2 and [c.name for c in versions[-1].columns][-1] == "city"
    assert [v.change for v in versions] == ["created", "+city VARCHAR"]
    assert lh.sql("SELECT city FROM people WHERE id = 6").to_pylist() == [{"city": "Austin"}]


def test_additive_policy_takes_new_columns_only(people, data):
    lh = people
    r = one(lh, write(data / "d.csv", "id,first_name,age,city\n7,Barbara,80,Boston\n"),
            name="people", mode="append", schema_change="additive")
    assert r.status == "ingested"
    before = state(lh)
    r = one(lh, write(data / "e.csv", "id,first_name\n8,Ken\n"), name="people", mode="append",
            schema_change="additive")
    assert r.status == "failed" and "removed age BIGINT" in r.message
    assert "takes added columns only" in r.message
    assert state(lh) == before


def test_a_type_change_needs_replace(people, data):
    lh = people
    p = write(data / "f.csv", "id,first_name,age\n9,Ken,unknown\n")
    r = one(lh, p, name="people", mode="append")
    assert r.status == "failed" and "type changed age BIGINT → VARCHAR" in r.message
    assert "--mode replace --accept-schema" in r.message
    # appending integers into a DOUBLE column, or anything into text, is no change
    lh.ingest([write(data / "g.csv", "k,v\n1,1.5\n")], name="nums")
    assert one(lh, write(data / "h.csv", "k,v\n2,2\n"), name="nums", mode="append").status == "ingested"
    # a replace that changes a type is a change too
    r = one(lh, p, name="people", mode="replace")
    assert r.status == "failed" and "type changed age BIGINT → VARCHAR" in r.message
    r = one(lh, p, name="people", mode="replace", schema_change="accept")
    assert r.status == "ingested"
    assert ("age", "VARCHAR") in state(lh)[2]


def test_identical_schema_passes_silently(people, data):
    r = one(people, write(data / "i.csv", "id,first_name,age\n10,Niklaus,89\n"), name="people", mode="upsert")
    assert r.status == "ingested" and r.notes == []


@pytest.mark.parametrize("spec, words", [
    ("full_name", "is not SOURCE=COLUMN pairs"),
    ("a=b,a=c", "names 'a' twice"),
])
def test_bad_maps_are_one_sentence(spec, words):
    with pytest.raises(IngestError, match=words):
        parse_column_map(spec)


def test_map_of_a_missing_column_is_refused(people, data):
    p = write(data / "j.csv", "id,first_name,age\n11,Tony,90\n")
    msg = one(people, p, name="people", mode="append", column_map="nope=first_name").message
    assert "--map names 'nope', which it does not have" in msg
    msg = one(people, p, name="people", mode="append", column_map="age=years").message
    assert "which dataset people does not have" in msg


def test_unknown_policy_is_refused(people, data):
    with pytest.raises(IngestError, match="unknown schema-change policy 'maybe'"):
        people.ingest([write(data / "k.csv", "id\n1\n")], name="people", schema_change="maybe")


def test_unrelated_columns_are_not_called_renames():
    diff = compare([("id", "BIGINT"), ("price", "DOUBLE")], [("id", "BIGINT"), ("colour", "VARCHAR")], "append",
                   {"price": [1.5, 2.5]}, {"colour": ["red", "blue"]})
    assert not diff.renamed and diff.added == [("colour", "VARCHAR")] and diff.removed == [("price", "DOUBLE")]
    diff = compare([("first_name", "VARCHAR")], [("full_name", "VARCHAR")], "append")
    assert [(o, n) for o, n, _ in diff.renamed] == [("first_name", "full_name")]


def test_cli_refuses_with_exit_code_and_accepts_with_the_flag(cli, data):
    write(data / "a.csv", "id,name\n1,x\n")
    write(data / "b.csv", "id,name,extra\n2,y,z\n")
    assert cli("ingest", str(data / "a.csv"), "--name", "t")[0] == 0
    code, out, err = cli("ingest", str(data / "b.csv"), "--name", "t", "--mode", "append")
    assert code != 0 and "added extra VARCHAR" in err and "Traceback" not in err
    code, out, err = cli("ingest", str(data / "b.csv"), "--name", "t", "--mode", "append", "--accept-schema")
    assert code == 0 and "schema changed: added extra VARCHAR" in out
