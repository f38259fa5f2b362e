"""restore_preview: what a restore would change, shown before it is made — by key on a
keyed dataset, as whole rows otherwise, with the column changes — and that nothing is
written by looking. Also `lakehouse restore --preview`."""

from __future__ import annotations

import json

import pytest

from conftest import write


@pytest.fixture
def keyed(lh, data):
    write(data / "p.csv", "id,city,n\n1,Chicago,1\n2,Denver,2\n3,Austin,3\n")
    lh.ingest([str(data / "p.csv")], key="id")  # v0
    lh.update("p", "1", {"city": "Boston"}, reason="moved")  # v1
    lh.delete("p", "2", reason="left")  # v2
    return lh


def test_a_keyed_preview_counts_and_shows_what_comes_back_goes_and_changes(keyed):
    before = keyed.dataset("p").table_version
    p = keyed.restore_preview("p", version=0)
    assert (p["added"], p["removed"], p["changed"]) == (1, 0, 1)
    assert p["compared_by"] == "key" and p["key"] == ["id"]
    assert (p["rows_now"], p["rows_after"], p["version"], p["current_version"]) == (2, 3, 0, 2)
    assert p["examples"]["added"] == [{"id": 2, "city": "Denver", "n": 2}]
    assert p["examples"]["changed"] == [{"key": "1", "changes": [{"field": "city", "old": "Boston", "new": "Chicago"}]}]
    assert "bring back 1 row, remove 0 and change 1" in p["summary"]
    assert keyed.dataset("p").table_version == before  # looking writes nothing
    # what the preview said is what the restore does
    keyed.restore("p", version=0, reason="undo")
    rows = keyed.sql("SELECT id, city FROM p ORDER BY id").to_pylist()
    assert rows == [{"id": 1, "city": "Chicago"}, {"id": 2, "city": "Denver"}, {"id": 3, "city": "Austin"}]


def test_a_preview_of_the_current_version_says_nothing_would_change(keyed):
    p = keyed.restore_preview("p", version=keyed.dataset("p").table_version)
    assert (p["added"], p["removed"], p["changed"]) == (0, 0, 0)
    assert "would change nothing" in p["summary"]


def test_examples_are_capped_and_counts_are_not(lh, data):
    write(data / "big.csv", "id,v\n" + "".join(f"{i},{i}\n" for i in range(200)))
    lh.ingest([str(data / "big.csv")], key="id")
    write(data / "big2.csv", "id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(100, 300)))
    lh.ingest([str(data / "big2.csv")], name="big", mode="replace", key="id")
    p = lh.restore_preview("big", version=0, examples=3)
    assert (p["added"], p["removed"], p["changed"]) == (100, 100, 100)  # ids 100-199: v doubled since
    assert [len(p["examples"][k]) for k in ("added", "removed", "changed")] == [3, 3, 3]
    assert [r["id"] for r in p["examples"]["added"]] == [0, 1, 2]  # in key order


def test_an_unkeyed_dataset_is_compared_as_whole_rows_with_duplicates_counted(lh, data):
    write(data / "u.csv", "a,b\nx,1\nx,1\ny,2\n")
    lh.ingest([str(data / "u.csv")])
    write(data / "u2.csv", "a,b\nx,1\nz,3\n")
    lh.ingest([str(data / "u2.csv")], name="u", mode="replace")
    p = lh.restore_preview("u", version=0)
    assert p["compared_by"] == "row" and p["key"] == [] and p["changed"] == 0
    assert (p["added"], p["removed"]) == (2, 1)  # back: one more x,1 and y,2; gone: z,3
    assert p["examples"]["removed"] == [{"a": "z", "b": 3}]
    assert "as whole rows (no primary key)" in p["summary"]


def test_schema_differences_are_listed(lh, data):
    write(data / "s.csv", "id,city\n1,Chicago\n")
    lh.ingest([str(data / "s.csv")], key="id")
    write(data / "s2.csv", "id,city,zip\n1,Chicago,60601\n")
    lh.ingest([str(data / "s2.csv")], name="s", mode="append", key="id", schema_change="additive")
    p = lh.restore_preview("s", version=0)
    assert p["schema"]["removed"] == [{"column": "zip", "type": "BIGINT"}]
    assert p["schema"]["added"] == [] and p["schema"]["retyped"] == []
    assert "1 column(s) removed" in p["summary"]


@pytest.mark.parametrize("kwargs, says", [
    ({}, "give exactly one of --version V or --as-of TIMESTAMP"),
    ({"version": 9}, "p has no version 9 — its versions run 0 to 2"),
    ({"as_of": "yesterday"}, "is neither a version"),
])
def test_bad_targets_are_one_sentence(keyed, kwargs, says):
    from core.errors import LakehouseError

    with pytest.raises(LakehouseError) as e:
        keyed.restore_preview("p", **kwargs)
    assert says in str(e.value)


def test_a_profile_under_a_policy_gets_the_restore_refusal_not_the_old_values(home, data):
    from core import Lakehouse
    from core.errors import LakehouseError

    home.mkdir(exist_ok=True)
    (home / "lakehouse.toml").write_text('[profiles.analyst]\ndatasets = ["p"]\n[policies.hr]\n'
                                         'profiles = ["analyst"]\nmasks = { "p.city" = "null" }\n')
    write(data / "p.csv", "id,city\n1,Chicago\n")
    with Lakehouse.open(home=home) as lh:
        lh.ingest([str(data / "p.csv")], key="id")
        lh.update("p", "1", {"city": "Boston"})
    with Lakehouse.open(home=home, profile="analyst") as lh:
        with pytest.raises(LakehouseError) as e:
            lh.restore_preview("p", version=0)
    assert "may not restore p" in str(e.value) and "Chicago" not in str(e.value)


def test_the_cli_prints_the_preview_and_writes_nothing(cli, data):
    write(data / "p.csv", "id,city\n1,Chicago\n2,Denver\n")
    assert cli("ingest", str(data / "p.csv"), "--key", "id")[0] == 0
    assert cli("update", "p", "--key", "1", "--set", "city=Boston", "--reason", "moved")[0] == 0
    code, out, err = cli("restore", "p", "--version", "0", "--preview")
    assert code == 0, err
    assert "would bring back 0 rows, remove 0 and change 1" in out
    assert "changes 1: city: 'Boston' -> 'Chicago'" in out
    code, out, _ = cli("restore", "p", "--version", "0", "--preview", "--json")
    assert json.loads(out)["changed"] == 1
    code, out, _ = cli("versions", "p", "--format", "json")
    assert len(json.loads(out)) == 2  # no restore was made
    code, _, err = cli("restore", "p", "--version", "7", "--preview")
    assert code != 0 and "p has no version 7" in err and "Traceback" not in err
