"""Playbook memory (issue 17), on real files, the hashing embedder and a real memory.sqlite
with sqlite-vec: the boost and its bounds, the prefilter, validity, versions, retirement,
upsert, crash safety, the journal and profile scoping."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core import Lakehouse
from core.errors import NotFound, VectorError
from core.memory.boost import why
from vector_data import write_profiles

QUERY = "kubernetes terraform migration"


@pytest.fixture
def people(lh, data):
    lh.ingest([str(write_profiles(data / "people.csv", 300))], key="person_id")
    lh.embed("people", "profile", index="people", embedder="hashing")
    return lh


def _keys(res) -> list[str]:
    return [h.row_key for h in res.hits]


def test_a_remembered_row_ranks_higher_with_memory_than_without(people):
    before = people.search("people", QUERY, k=11)
    target = before.hits[10].row_key  # just below a top 10
    assert target not in _keys(people.search("people", QUERY, k=10))
    for op in ("placed a kubernetes terraform engineer", "kubernetes terraform migration staffed",
               "terraform and kubernetes migration filled"):
        assert people.memory_add("people", op, [target], approach="a cloud migration").action == "ADD"
    plain = people.search("people", QUERY, k=10, memory=False)
    boosted = people.search("people", QUERY, k=10, memory=True)
    assert target not in _keys(plain) and target in _keys(boosted)  # the diff of the two lists
    hit = next(h for h in boosted.hits if h.row_key == target)
    assert hit.was_rank == 11 and hit.rank < 11 and 0 < hit.boost <= 0.15 and len(hit.memories) == 3
    assert why(hit).startswith(f"+{hit.boost:.2f} from memories #")
    assert boosted.memory["matched"] == 3 and boosted.memory["considered"] == 3 and boosted.memory["hits_boosted"] == 1
    assert [h.row_key for h in boosted.hits if not h.boost] == [k for k in _keys(plain) if k in _keys(boosted)
                                                                 and k != target]  # the rest keep their order
    people.audit_log.flush()
    logged = people.sql("SELECT statement, row_count FROM _audit WHERE action = 'memory_boost'").to_pylist()
    assert logged[-1] == {"statement": "memories considered 3, matched 3, keys endorsed 1, hits boosted 1, moved "
                                       f"{boosted.memory['moved']}", "row_count": 1}


def test_a_hundred_memories_on_one_row_give_it_the_cap_and_the_results_stay_a_mix(people):
    row = people.search("people", QUERY, k=20).hits[15].row_key
    for i in range(100):
        people.memory_add("people", f"kubernetes terraform migration number {i}", [row])
    res = people.search("people", QUERY, k=10, memory=True)
    hit = next(h for h in res.hits if h.row_key == row)
    assert hit.boost == pytest.approx(0.15) and len(hit.memories) == 10  # [memory] top nearest, capped
    assert len(set(_keys(res))) == 10 and sum(1 for h in res.hits if h.row_key == row) == 1  # still a mix


def test_memories_from_other_scopes_never_boost_a_filtered_search(people):
    il = people.search("people", QUERY, k=15, where="state = 'IL'")
    target = il.hits[12].row_key
    for op in ("kubernetes terraform migration A", "kubernetes terraform migration B", "kubernetes terraform C"):
        people.memory_add("people", op, [target], scope={"state": "CA"})  # endorses an IL row, but from CA
    res = people.search("people", QUERY, k=10, where="state = 'IL'", memory=True)
    assert target not in _keys(res) and res.memory["considered"] == 0 and res.memory["matched"] == 0
    assert res.memory["scoped"] is True
    for op in ("kubernetes terraform migration A", "kubernetes terraform migration B", "kubernetes terraform C"):
        people.memory_add("people", op, [target], scope={"state": "IL"})
    res = people.search("people", QUERY, k=10, where="state = 'IL'", memory=True)
    assert target in _keys(res) and res.memory["considered"] == 3
    assert people.search("people", QUERY, k=10, where="state = 'IL' AND years > 1000",
                         memory=True).memory["considered"] == 0  # no scope has years: none passes


def test_expired_retired_and_superseded_memories_have_no_effect(people):
    target = people.search("people", QUERY, k=11).hits[10].row_key
    ids = [people.memory_add("people", f"kubernetes terraform migration {n}", [target]).id for n in range(3)]
    assert target in _keys(people.search("people", QUERY, k=10, memory=True))
    for i in ids:
        people.memory_retire(i, reason="that placement fell through")
    res = people.search("people", QUERY, k=10, memory=True)
    assert target not in _keys(res) and res.memory["considered"] == 0
    gone = people.memory_add("people", "kubernetes terraform migration later", [target],
                             valid_from="2020-01-01", valid_until="2020-02-01")
    assert gone.status == "expired" and people.search("people", QUERY, k=10, memory=True).memory["considered"] == 0
    assert [e.id for e in people.memory_list("people", status="expired")] == [gone.id]
    assert {e.id for e in people.memory_list("people", status="retired")} == set(ids)


def test_upsert_is_add_then_noop_then_update_keeping_the_id(people):
    keys = _keys(people.search("people", QUERY, k=3))
    a = people.memory_add("people", "Filled  Kubernetes roles", keys[:1], scope={"state": "IL"})
    b = people.memory_add("people", "filled kubernetes roles", keys[:1], scope={"state": "IL"})
    c = people.memory_add("people", "filled kubernetes roles", keys[:2], scope={"state": "IL"})
    d = people.memory_add("people", "filled kubernetes roles", keys[:1], scope={"state": "CA"})
    assert [a.action, b.action, c.action, d.action] == ["ADD", "NOOP", "UPDATE", "ADD"]
    assert a.id == b.id == c.id != d.id and people.memory_show(a.id).keys == keys[:2]
    ops = [(r["op"], r["entry_id"]) for r in people.memory_journal()]
    assert ops == [("add", a.id), ("update", a.id), ("add", d.id)]  # a NOOP changes nothing


def test_revise_keeps_one_live_tip_and_history_reads_root_to_tip_from_any_node(people):
    keys = _keys(people.search("people", QUERY, k=3))
    root = people.memory_add("people", "kubernetes placement", keys[:1])
    v2 = people.memory_revise(root.id, approach="asked two references first", reason="what really worked")
    v3 = people.memory_revise(v2.id, keys=keys[:2])
    assert (v2.version, v2.parent_id, v3.version, v3.parent_id) == (2, root.id, 3, v2.id)
    for node in (root.id, v2.id, v3.id):
        assert [e.id for e in people.memory_history(node)] == [root.id, v2.id, v3.id]
    live = people.memory_list("people")
    assert [e.id for e in live] == [v3.id] and live[0].keys == keys[:2] and live[0].approach == v2.approach
    with pytest.raises(VectorError, match=rf"memory #{root.id} was superseded by #{v2.id} — revise the newest "
                                          rf"version \(#{v3.id}\)"):
        people.memory_revise(root.id, approach="x")
    people.memory_retire(v3.id, reason="client left")
    with pytest.raises(VectorError, match=rf"memory #{v3.id} is retired \(client left\)"):
        people.memory_revise(v3.id, approach="x")
    with pytest.raises(VectorError, match="already retired"):
        people.memory_retire(v3.id, reason="again")


def test_history_survives_a_cycle_in_a_damaged_store(people):
    keys = _keys(people.search("people", QUERY, k=1))
    a = people.memory_add("people", "kubernetes placement", keys)
    b = people.memory_revise(a.id, approach="v2")
    people._memory.rows.db.execute("UPDATE entries SET parent_id = ? WHERE id = ?", (b.id, a.id))  # a <-> b
    assert {e.id for e in people.memory_history(a.id)} == {a.id, b.id}


def test_retire_by_condition_and_on_schema_drift(people, data):
    keys = _keys(people.search("people", QUERY, k=3))
    il = people.memory_add("people", "welding in Illinois", keys[:1], scope={"state": "IL"})
    ca = people.memory_add("people", "welding in California", keys[:1], scope={"state": "CA"})
    done = people.memory_retire(index="people", where="state = 'IL' AND operation LIKE '%welding%'",
                                reason="the IL contract ended")
    assert [e.id for e in done] == [il.id] and people.memory_show(ca.id).status == "live"
    with pytest.raises(VectorError, match="--where must be a condition on the columns of 'memories' alone"):
        people.memory_retire(index="people", where="state IN (SELECT state FROM people)", reason="x")
    assert people.memory_retire(index="people", drifted=True, reason="schema changed") == []
    people.ingest([str(write_profiles(data / "more.csv", 10, start=300))], name="people", mode="append")
    import csv

    with open(data / "wide.csv", "w", newline="") as f:  # a new column: the schema drifts
        w = csv.writer(f)
        w.writerow(["person_id", "state", "years", "profile", "team"])
        w.writerow(["P09999", "IL", 3, "kubernetes", "blue"])
    people.ingest([str(data / "wide.csv")], name="people", mode="append", schema_change="additive")
    drifted = people.memory_retire(index="people", drifted=True, reason="the people schema changed")
    assert [e.id for e in drifted] == [ca.id] and drifted[0].retired_reason == "the people schema changed"


def test_bad_input_is_one_sentence_and_writes_nothing(people):
    key = _keys(people.search("people", QUERY, k=1))
    cases = [
        (NotFound, "no index named 'nope'", lambda: people.memory_add("nope", "x", key)),
        (VectorError, "needs its operation", lambda: people.memory_add("people", "  ", key)),
        (VectorError, "endorses at least one row key", lambda: people.memory_add("people", "x", [])),
        (VectorError, "row key 'P99999' is not in people", lambda: people.memory_add("people", "x", ["P99999"])),
        (VectorError, "scope 'city' is not a column of people", lambda: people.memory_add("people", "x", key,
                                                                                          scope={"city": "Nashville"})),
        (VectorError, "valid_until 'soon' is not a date", lambda: people.memory_add("people", "x", key,
                                                                                    valid_until="soon")),
        (VectorError, "is not after valid_from", lambda: people.memory_add("people", "x", key, valid_from="2026-01-02",
                                                                           valid_until="2026-01-01")),
        (NotFound, "no memory #42", lambda: people.memory_show(42)),
        (NotFound, "no memory #42", lambda: people.memory_retire(42, reason="x")),
        (VectorError, "say why", lambda: people.memory_retire(1, reason=" ")),
        (VectorError, "one of the three", lambda: people.memory_retire(reason="x")),
        (VectorError, "unknown status 'gone'", lambda: people.memory_list(status="gone")),
        (VectorError, "limit must be 0 \\(all\\) or more", lambda: people.memory_list(limit=-5)),
        (VectorError, "k must be between 1 and 1000", lambda: people.memory_search("people", "x", k=10**9)),
        (VectorError, "the search text is empty", lambda: people.memory_search("people", " ")),
    ]
    for cls, text, fn in cases:
        with pytest.raises(cls, match=text):
            fn()
    assert people.memory_list(status="all") == [] and people.memory_journal() == []


def test_the_store_can_be_rebuilt_from_its_journal_alone(people, tmp_path):
    from core.memory.rows import MemoryRows, rebuild

    keys = _keys(people.search("people", QUERY, k=3))
    a = people.memory_add("people", "kubernetes placement", keys[:1], scope={"state": "IL"})
    people.memory_add("people", "kubernetes placement", keys[:2], scope={"state": "IL"})  # an update
    b = people.memory_revise(a.id, approach="v2")
    people.memory_retire(b.id, reason="done")
    people.memory_add("people", "terraform work", keys[2:])
    rows = people._memory.rows
    rebuild(tmp_path / "again.sqlite", rows.journal(vectors=True))
    again = MemoryRows(tmp_path / "again.sqlite")
    try:
        assert again.select() == rows.select()
        for e in rows.select():
            assert np.array_equal(again.vector(e["id"], e["dim"]), rows.vector(e["id"], e["dim"]))
    finally:
        again.close()


@pytest.mark.parametrize("step", ["add", "revise", "retire"])
def test_sigkill_inside_a_change_leaves_the_store_as_it_was(people, home, step):
    key = _keys(people.search("people", QUERY, k=1))[0]
    first = people.memory_add("people", "kubernetes placement", [key])
    people.close()
    call = {"add": f"lh.memory_add('people', 'terraform work', [{key!r}])",
            "revise": f"lh.memory_revise({first.id}, approach='v2')",
            "retire": f"lh.memory_retire({first.id}, reason='x')"}[step]
    code = f"from core import Lakehouse\nlh = Lakehouse.open(home={str(home)!r})\n{call}\n"
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, LAKEHOUSE_CRASH_AT="memory_change"),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    with Lakehouse.open(home=home) as lh:
        rows = lh._memory.rows
        assert [(e["id"], e["retired_at"], e["superseded_at"]) for e in rows.select()] == [(first.id, None, None)]
        assert [(r["op"], r["entry_id"]) for r in rows.journal()] == [("add", first.id)]
        assert rows.knn(rows.select()[0]["dim"], rows.vector(first.id, rows.select()[0]["dim"]), 5, "people",
                        rows.select()[0]["embedder"], "2100-01-01")[0][0] == first.id
        assert lh.memory_add("people", "terraform work", [key]).action == "ADD"  # and it goes on


def test_a_profile_sees_and_uses_only_memories_on_its_own_indexes(people, data, home):
    people.ingest([str(write_profiles(data / "other.csv", 100, seed=9))], name="others", key="person_id")
    people.embed("others", "profile", index="others", embedder="hashing")
    mine = people.memory_add("people", "kubernetes placement", _keys(people.search("people", QUERY, k=1)))
    theirs = people.memory_add("others", "kubernetes placement", _keys(people.search("others", QUERY, k=1)))
    (home / "lakehouse.toml").write_text('[profiles.pub]\ndatasets = ["others"]\nindexes = ["others"]\n')
    with Lakehouse.open(home=home, profile="pub") as pub:
        assert [e.id for e in pub.memory_list()] == [theirs.id]
        for fn in (lambda: pub.memory_show(mine.id), lambda: pub.memory_history(mine.id),
                   lambda: pub.memory_retire(mine.id, reason="x"), lambda: pub.memory_revise(mine.id, approach="x")):
            with pytest.raises(NotFound, match=f"no memory #{mine.id}"):
                fn()
        with pytest.raises(NotFound):
            pub.memory_search("people", "kubernetes")
        assert [json.loads(r["entry"])["id"] for r in pub.memory_journal()] == [theirs.id]
    assert people.memory_show(mine.id).status == "live"


def test_memory_search_and_dropping_the_index_retires_its_memories(people):
    keys = _keys(people.search("people", QUERY, k=2))
    a = people.memory_add("people", "kubernetes cluster migration", keys[:1])
    b = people.memory_add("people", "payroll accounting audit", keys[1:])
    found = people.memory_search("people", "kubernetes migration", k=2)
    assert [e.id for e in found] == [a.id, b.id] and found[0].similarity > found[1].similarity
    people.drop_index("people")
    journal = people._memory.rows.journal()
    assert [r["op"] for r in journal][-2:] == ["retire", "retire"] and "index people was dropped" in journal[-1]["reason"]


def test_asks_retrieve_with_memory_unless_the_profile_says_no(people, ollama, home):
    question = "who could handle our Kubernetes Terraform migration?"
    k = people.config.get("ask.rag_k")
    target = people.search("people", question, k=k + 1, memory=False).hits[k].row_key  # just outside the passages
    for op in ("handled a kubernetes terraform migration", "kubernetes terraform migration handled well",
               "our terraform kubernetes migration was handled"):
        people.memory_add("people", op, [target])
    ollama.chat_replies = ["Several people could [1]."]
    r = people.ask(question, mode="rag")
    assert r.outcome == "answered" and r.index == "people"
    assert f"(people {target})" in ollama.chat_requests[-1]["messages"][1]["content"]  # among the passages now
    assert r.memory["matched"] == 3 and r.memory["hits_boosted"] >= 1
    (home / "lakehouse.toml").write_text("[profiles.plain]\nmemory = false\n")
    with Lakehouse.open(home=home, profile="plain") as plain:
        ollama.chat_replies = ["Several people could [1]."]
        r = plain.ask(question, mode="rag")
        assert r.memory is None and f"(people {target})" not in ollama.chat_requests[-1]["messages"][1]["content"]


def test_hostile_scopes_and_conditions_stay_data(people):
    key = _keys(people.search("people", QUERY, k=1))
    with pytest.raises(VectorError, match=r"scope years='abc' is not a BIGINT value"):
        people.memory_add("people", "x", key, scope={"years": "abc"})
    odd = people.memory_add("people", "kubernetes placement", key, scope={"state": "IL' OR 1=1 --"})
    res = people.search("people", QUERY, k=5, where="state = 'IL'", memory=True)
    assert res.memory["considered"] == 0  # a quote in a value is a value, not SQL
    for where in ("state = 'IL' OR getenv('HOME') IS NOT NULL", "length(read_text('/etc/passwd')) > 0",
                  "state IN (SELECT state FROM people)", "1=1) OR (1=1", "state = 'IL'; DROP TABLE x"):
        with pytest.raises(VectorError):
            people.memory_retire(index="people", where=where, reason="x")
    assert people.memory_show(odd.id).status == "live"


def test_a_store_another_process_fills_is_seen_by_an_open_one(people, home):
    with Lakehouse.open(home=home) as other:  # opened while the store is still empty
        assert other.memory_list() == []
        other.search("people", QUERY, k=3, memory=True)
        target = people.search("people", QUERY, k=11).hits[10].row_key
        for n in range(3):
            people.memory_add("people", f"kubernetes terraform migration {n}", [target])
        res = other.search("people", QUERY, k=10, memory=True)
        assert res.memory["matched"] == 3 and target in _keys(res)


def test_two_processes_adding_at_once_lose_nothing(people, home):
    keys = _keys(people.search("people", QUERY, k=2))
    people.close()
    code = ("import sys\nfrom core import Lakehouse\nlh = Lakehouse.open(home=sys.argv[1])\n"
            "for i in range(15):\n    lh.memory_add('people', f'{sys.argv[2]} placement {i}', [sys.argv[3]])\n"
            "lh.close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(home), who, key], stderr=subprocess.PIPE, text=True)
             for who, key in (("alpha", keys[0]), ("beta", keys[1]))]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    with Lakehouse.open(home=home) as lh:
        rows = lh._memory.rows
        entries = rows.select()
        assert len(entries) == 30 and len(rows.journal()) == 30
        dim = entries[0]["dim"]
        assert rows.db.query(f"SELECT count(*) FROM vec_d{dim}")[0][0] == 30


def test_delete_removes_an_entry_and_a_deleted_revision_gives_the_tip_back(people, tmp_path):
    from core.memory.rows import MemoryRows, rebuild

    target = people.search("people", QUERY, k=11).hits[10].row_key
    ids = [people.memory_add("people", f"kubernetes terraform migration {n}", [target]).id for n in range(3)]
    v2 = people.memory_revise(ids[0], approach="v2")
    with pytest.raises(VectorError, match=rf"memory #{ids[0]} was revised by #{v2.id} — delete the newest version"):
        people.memory_delete(ids[0], reason="x")
    gone = people.memory_delete(v2.id, reason="revised by mistake")
    assert gone.action == "DELETE" and people.memory_show(ids[0]).status == "live"  # the tip again
    assert [e.id for e in people.memory_history(ids[0])] == [ids[0]]
    for i in ids:
        people.memory_delete(i, reason="entered by mistake")
    res = people.search("people", QUERY, k=10, memory=True)
    assert target not in _keys(res) and res.memory["considered"] == 0 and people.memory_list(status="all") == []
    with pytest.raises(NotFound, match=f"no memory #{ids[0]}"):
        people.memory_delete(ids[0], reason="again")
    rebuild(tmp_path / "again.sqlite", people._memory.rows.journal(vectors=True))
    again = MemoryRows(tmp_path / "again.sqlite")
    try:
        assert again.select() == []
    finally:
        again.close()


def test_the_boost_is_capped_per_row_and_decays_with_age():
    from core.memory.boost import apply
    from core.models import SearchHit

    hits = [SearchHit(r + 1, 0.9 - r * 0.01, "d", f"k{r}", f"c{r}", "t", None) for r in range(5)]
    old = {"keys": ["k4"], "valid_from": "2026-01-01T00:00:00.000+00:00"}
    new = {"keys": ["k4", "k3"], "valid_from": "2026-12-01T00:00:00.000+00:00"}
    at = "2026-12-01T00:00:00.000+00:00"
    kw = dict(k=5, weight=0.05, cap=0.15, min_similarity=0.3, at=at)
    out, stats = apply(hits, [(1, 0.8), (2, 0.9), (3, 0.2)], {1: old, 2: new, 3: new}, half_life_days=0, **kw)
    by = {h.row_key: h for h in out}
    assert by["k4"].boost == pytest.approx(0.05 * 0.8 + 0.05 * 0.9) and by["k4"].memories == [1, 2]
    assert by["k3"].boost == pytest.approx(0.045) and stats["matched"] == 2  # #3 is below min_similarity
    assert [h.row_key for h in out][:3] == ["k4", "k3", "k0"] and (by["k4"].was_rank, by["k4"].rank) == (5, 1)
    decayed, _ = apply(hits, [(1, 0.8), (2, 0.9)], {1: old, 2: new}, half_life_days=30, **kw)
    k4 = next(h for h in decayed if h.row_key == "k4")
    assert k4.boost == pytest.approx(0.05 * 0.8 * 0.5 ** (334 / 30) + 0.045, abs=1e-6)  # the old one nearly gone
    many = {i: {"keys": ["k4"], "valid_from": at} for i in range(100)}
    capped, _ = apply(hits, [(i, 1.0) for i in range(100)], many, half_life_days=0, **kw)
    assert next(h for h in capped if h.row_key == "k4").boost == 0.15
