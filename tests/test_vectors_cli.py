"""`lakehouse embed`, `search` and `index …` as a user runs them (real console script)."""

from __future__ import annotations

import json

import pytest

from vector_data import write_profiles


@pytest.fixture
def people(cli, data):
    code, out, err = cli("ingest", str(write_profiles(data / "people.csv", 200)), "--key", "person_id")
    assert code == 0, err
    return cli


def test_embed_search_and_generations_from_the_shell(people):
    cli = people
    code, out, err = cli("embed", "people", "--column", "profile", "--index", "people")
    assert code == 0, err
    assert "people g1: 200 rows -> 200 chunks; 200 embedded" in out and "active: g1" in out
    assert "embedder: hashing (hashing-v1" in out
    assert "note: Ollama is not reachable at http://127.0.0.1:9" in err  # auto fell back, and says so

    code, out, err = cli("search", "people", "Kubernetes and Terraform", "-k", "3", "--where", "state = 'IL'")
    assert code == 0, err
    assert "people g1 (people.profile) · hashing (hashing-v1" in out and "passed --where" in out
    assert out.count("P00") >= 3 and "state" in out and "IL" in out

    code, out, err = cli("search", "people", "welding", "--format", "json")
    doc = json.loads(out)
    assert doc["index"] == "people" and doc["gen"] == 1 and "hashing" in doc["embedder"]
    assert len(doc["hits"]) == 10 and doc["hits"][0]["row"]["person_id"] == doc["hits"][0]["row_key"]

    code, out, err = cli("embed", "people", "--column", "profile", "--index", "people")
    assert code == 0 and "people is up to date" in out and "nothing embedded" in out

    code, out, err = cli("embed", "people", "--column", "profile", "--index", "people", "--chunk-size", "80",
                         "--overlap", "10")
    assert code == 0, err
    assert "active: g1 (g2 is built beside it)" in out and "lakehouse index promote people 2" in out

    code, out, err = cli("search", "--compare", "people@g1", "people@g2", "forklift welding", "-k", "5")
    assert code == 0, err
    assert "overlap@5:" in out and "people@g1" in out and "people@g2" in out

    code, out, err = cli("index", "list")
    assert code == 0 and "people.profile" in out and "g1" in out
    code, out, err = cli("index", "promote", "people", "g2")
    assert code == 0 and "people: g2 is active" in out
    code, out, err = cli("index", "generations", "people")
    assert code == 0 and "*g2" in out and "80/10" in out
    code, out, err = cli("index", "rollback", "people")
    assert code == 0 and "g1 is active" in out
    code, out, err = cli("index", "verify", "people")
    assert code == 0 and "all files match" in out
    code, out, err = cli("sql", "SELECT gen, active FROM _indexes ORDER BY gen", "--format", "csv")
    assert out.splitlines() == ["gen,active", "1,true", "2,false"]
    code, out, err = cli("index", "drop", "people", "g2")
    assert code == 0 and "dropped people g2" in out


def test_search_and_index_bad_input_from_the_shell(people):
    cli = people
    cli("embed", "people", "--column", "profile", "--embedder", "hashing")
    cases = [
        (("search", "people_profile"), 2, "search takes INDEX TEXT (got 1 argument)"),
        (("search", "nope", "x"), 1, "no index named 'nope'"),
        (("search", "people_profile", "x", "-k", "0"), 1, "k must be between 1 and 1000"),
        (("search", "people_profile", ""), 1, "search text is empty"),
        (("search", "people_profile", "x", "--where", "state ="), 1, "--where does not parse"),
        (("index", "promote", "people_profile", "latest"), 2, "'latest' is not a generation"),
        (("index", "promote", "people_profile", "5"), 1, "no finished generation g5"),
        (("index", "drop", "people_profile", "1"), 1, "g1 is the active generation"),
        (("embed", "people", "--column", "years"), 1, "is BIGINT, not text"),
        (("embed", "people", "--column", "profile", "--embedder", "ollama"), 1, "Ollama is not reachable"),
    ]
    for args, want_code, want in cases:
        code, out, err = cli(*args)
        assert code == want_code, (args, err)
        assert want in err and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
