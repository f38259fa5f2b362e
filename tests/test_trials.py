"""Trials as data (issue 16), on real files with the hashing embedder: eval sets and their
staleness, a trial's figures, `_trials` in SQL scoped by profile, promote and rollback,
a cancelled trial leaving nothing, and every bad input refused in one sentence with
nothing half-written."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from core import Lakehouse
from core.errors import Cancelled, NameError_, NotFound, VectorError
from core.trials.evals import load_eval
from core.trials.run import trial_dir, trials_dir
from vector_data import write_profiles


@pytest.fixture
def people(lh, data):
    lh.ingest([str(write_profiles(data / "people.csv", 2000))], key="person_id")
    lh.embed("people", "profile", index="people", embedder="hashing")
    return lh


def _nothing_written(lh, index="people", rows_before=0):
    d = trials_dir(lh.root, index)
    assert not d.exists() or [p.name for p in d.iterdir()] == [p.name for p in d.iterdir() if p.name.startswith("t")]
    assert lh.sql("SELECT count(*) FROM _trials").column(0)[0].as_py() == rows_before


# -- eval sets --------------------------------------------------------------------------------
def test_an_eval_set_holds_sampled_vectors_out_with_exact_truth_over_the_rest(people):
    row = people.eval_create("people", queries=100, k=10)
    assert (row["name"], row["queries"], row["source"], row["k"], row["generation"]) == ("e1", 100, "held-out", 10, 1)
    ev = load_eval(people._vectors, "people", "e1")
    stored = np.load(people.root / "vectors" / "people" / "g1" / "vectors.npy")
    assert ev.queries.shape == (100, stored.shape[1]) and ev.truth.shape == (100, 10)
    assert len(set(ev.held_out)) == 100 and np.array_equal(ev.queries, stored[ev.held_out])  # the vectors themselves
    rest = np.setdiff1d(np.arange(len(stored)), ev.held_out)
    scores = ev.queries @ stored[rest].T
    assert np.array_equal(ev.truth, rest[np.argsort(-scores, axis=1, kind="stable")[:, :10]])  # exact top-k of the rest
    assert not np.isin(ev.truth, ev.held_out).any()  # no query finds itself or another held-out one
    d = people.root / "vectors" / "people" / "evals" / "e1"
    meta = json.loads((d / "meta.json").read_text())
    assert (meta["source"], meta["dataset_version"], meta["provider"], meta["vectors"]) == \
        ("held-out", 0, "hashing", len(stored))
    assert {"queries.parquet", "truth.parquet"} == set(meta["files"])
    assert [e["name"] for e in people.evals("people")] == ["e1"] and people.evals("people")[0]["refused"] is None


def test_a_trial_measures_without_the_held_out_vectors_and_its_graph_then_holds_them(people):
    people.eval_create("people", queries=150)
    t = people.trial("people", m=8, ef_construction=40, ef_search=[10])
    info = people.trial_promote(t.id)
    stored = np.load(people.root / "vectors" / "people" / "g1" / "vectors.npy")
    ev = load_eval(people._vectors, "people", "e1")
    from core.vectors.ann import HnswIndex

    graph = HnswIndex.load(str(people.root / "vectors" / "people" / f"g{info.active_gen}" / "hnsw.bin"),
                           stored.shape[1], 64)
    assert len(graph) == len(stored)  # the promoted graph holds every vector, held-out ones too
    found, _ = graph.search(stored[ev.held_out[:20]], 1, ef=64)
    assert (found[:, 0] == ev.held_out[:20]).all()


def test_a_tiny_index_asks_for_a_file_of_questions(lh, data):
    lh.ingest([str(write_profiles(data / "few.csv", 5))], key="person_id")
    lh.embed("few", "profile", index="few", embedder="hashing")
    with pytest.raises(VectorError, match=r"holds 5 vectors, too few to hold a tenth out as queries \(it takes 10 at "
                                          r"least\) — give a file of questions instead"):
        lh.eval_create("few")


def test_sampled_queries_are_at_most_a_tenth_of_the_vectors(people):
    assert people.eval_create("people")["queries"] == 200  # the default on 2,000 vectors
    with pytest.raises(VectorError, match=r"holds 2,000 vectors: an eval set may hold out at most a tenth of "
                                          r"them \(200\) and leave k \(10\) to find, not 201"):
        people.eval_create("people", queries=201)


def test_an_eval_set_of_perturbed_queries_is_refused_as_stale(people):
    people.eval_create("people", queries=20)
    meta_file = people.root / "vectors" / "people" / "evals" / "e1" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps(dict(meta, source="perturbed")))  # as the first method wrote them
    with pytest.raises(VectorError, match="eval set 'e1' is stale: its queries are perturbed copies"):
        people.trial("people", m=8, ef_construction=40, ef_search=[10])
    assert "perturbed copies" in people.evals("people")[0]["refused"]


def test_an_eval_set_from_a_file_of_questions(people, data):
    (data / "q.txt").write_text("kubernetes migration\n\nforklift and welding\npayroll accounting\n")
    row = people.eval_create("people", from_file=str(data / "q.txt"), k=5, name="asked")
    assert (row["name"], row["queries"], row["source"], row["k"]) == ("asked", 3, "file", 5)
    ev = load_eval(people._vectors, "people", "asked")
    assert ev.truth.shape == (3, 5) and ev.meta["from_file"] == str(data / "q.txt")


def test_an_eval_set_for_an_older_dataset_version_is_refused_as_stale(people, data):
    people.eval_create("people", queries=50)
    people.ingest([str(write_profiles(data / "more.csv", 100, start=2000))], name="people", mode="append")
    people.embed("people", "profile", index="people", embedder="hashing")  # the refresh: g2 active
    with pytest.raises(VectorError, match=r"^eval set 'e1' is stale: it was made for version 0 of people "
                                          r"\(2,\d{3} vectors\), and people g2 holds version 1"):
        load_eval(people._vectors, "people", "e1")
    assert people.evals("people")[0]["refused"].startswith("eval set 'e1' is stale")
    with pytest.raises(VectorError, match="is stale"):
        people.trial("people", 8, 40, [20], eval_name="e1")
    with pytest.raises(VectorError, match="is stale"):  # the default eval set is never a stale one either
        people.trial("people", 8, 40, [20])
    _nothing_written(people)
    people.eval_create("people", queries=50)  # a new one is made for g2
    assert people.trial("people", 8, 40, [20]).eval_set == "e2"


def test_an_eval_set_from_another_embedder_is_refused(people, ollama, data):
    people.eval_create("people", queries=20)
    people.embed("people", "profile", index="people", embedder="ollama", promote=True)
    with pytest.raises(VectorError, match=r"^eval set 'e1' was made with hashing hashing-v1 \(384-dim\), not the "
                                          r"embedder of people g2 \(ollama nomic-embed-text"):
        people.trial("people", 8, 40, [20], eval_name="e1")
    _nothing_written(people)
    row = people.eval_create("people", queries=20)  # sampled from the ollama generation's own vectors
    assert row["embedder"] == "ollama" and people.trial("people", 8, 40, [20]).embedder == "ollama"
    (data / "q.txt").write_text("who migrated kubernetes clusters?\nwho can weld?\n")
    row = people.eval_create("people", from_file=str(data / "q.txt"), name="asked")  # embedded by the index's model
    assert (row["source"], row["queries"], row["embedder"]) == ("file", 2, "ollama")
    assert people.trial("people", 8, 40, [20], eval_name="asked").eval_set == "asked"


# -- one trial ----------------------------------------------------------------------------------
def test_a_trials_figures_are_sane(people):
    people.eval_create("people", queries=100)
    t = people.trial("people", 4, 8, [10, 300])
    assert (t.status, t.m, t.ef_construction, t.generation, t.eval_set, t.k) == ("ok", 4, 8, 1, "e1", 10)
    low, high = t.points
    assert [p["ef_search"] for p in t.points] == [10, 300]
    assert all(0.0 <= p["recall"] <= 1.0 for p in t.points)
    assert high["recall"] >= low["recall"] and high["recall"] > 0.9
    for p in t.points:
        assert 0 < p["p50_us"] <= p["p95_us"] <= p["p99_us"]
    graph = trial_dir(people.root, "people", t.id) / "hnsw.bin"
    assert t.index_bytes == graph.stat().st_size and t.build_s > 0 and t.peak_mem_bytes >= 0
    assert t.dataset_version == 0 and t.embedder == "hashing" and "cores" in t.machine
    assert [x.id for x in people.trials("people")] == [t.id]
    assert people.trials("people", best=True)[0].id == t.id
    assert {p["ef_search"] for p in people.trials("people", pareto=True)[0].points} <= {10, 300}
    assert [j.status for j in people.jobs() if j.kind == "trial"] == ["succeeded"]


def test_trials_are_queryable_in_sql_and_each_profile_sees_its_own(people, home):
    people.eval_create("people", queries=30)
    mine = people.trial("people", 8, 40, [20, 40])
    (home / "lakehouse.toml").write_text('[profiles.only]\ndatasets = ["people"]\nindexes = ["people"]\n')
    with Lakehouse.open(home=home, profile="only") as narrow:
        theirs = narrow.trial("people", 6, 30, [20])
        rows = narrow.sql("SELECT DISTINCT trial_id, profile FROM _trials").to_pylist()
        assert rows == [{"trial_id": theirs.id, "profile": "only"}]
        assert [t.id for t in narrow.trials("people")] == [theirs.id]
        with pytest.raises(NotFound, match=f"no trial '{mine.id}'"):
            narrow.trial_promote(mine.id)
    # the unrestricted reader's SQL sees every profile's rows, each saying whose it is (as _audit)
    t = people.sql("SELECT trial_id, ef_search, recall, m, ef_construction, status FROM _trials "
                   "WHERE profile = 'default' ORDER BY ef_search").to_pylist()
    assert [(r["trial_id"], r["ef_search"], r["m"], r["status"]) for r in t] == \
        [(mine.id, 20, 8, "ok"), (mine.id, 40, 8, "ok")]
    assert [t.id for t in people.trials("people")] == [mine.id]  # its own history


def test_promote_makes_a_new_active_generation_and_rollback_returns(people):
    people.eval_create("people", queries=30)
    t = people.trial("people", 6, 24, [20, 50])
    info = people.trial_promote(t.id)
    g = info.active
    assert (info.active_gen, g.m, g.ef_construction, g.kind, g.base_gen) == (2, 6, 24, "hnsw", 1)
    assert g.ef_search in (20, 50) and g.chunks == info.generations[0].chunks
    assert people.verify_index("people", 2) == []
    assert people.search("people", "kubernetes migration", 5).gen == 2
    events = people.sql("SELECT action, to_gen, detail FROM _index_events WHERE to_gen = 2").to_pylist()
    assert [e["action"] for e in events] == ["build", "promote"] and f"from trial {t.id}" in events[0]["detail"]
    people.audit_log.flush()
    assert any(a["action"] == "trial_promote" and a["datasets"] == "people" and a["statement"] == t.id
               for a in people.audit())
    assert people.trials("people")[0].promoted_generation == 2
    with pytest.raises(VectorError, match=f"already promoted as people g2"):
        people.trial_promote(t.id)
    assert people.rollback("people").active_gen == 1


# -- cancel -------------------------------------------------------------------------------------
def test_a_trial_cancelled_mid_build_leaves_nothing(people, home, monkeypatch):
    people.eval_create("people", queries=30)
    monkeypatch.setenv("LAKEHOUSE_TEST_PAUSE_AT", "trial:hnsw")
    box = {}

    def run():
        try:
            people.trial("people", 8, 40, [20])
        except Cancelled as e:
            box["error"] = e
    worker = threading.Thread(target=run)
    worker.start()
    with Lakehouse.open(home=home) as other:
        deadline = time.monotonic() + 60
        while not [j for j in other.jobs() if j.kind == "trial" and "test pause" in j.message]:
            assert time.monotonic() < deadline, "the trial never reached its pause"
            time.sleep(0.05)
        job = next(j for j in other.jobs() if j.kind == "trial")
        assert other.cancel_job(job.id)
    worker.join(60)
    assert "cancelled" in str(box["error"])
    assert list(trials_dir(people.root, "people").iterdir()) == []
    rows = people.sql("SELECT status FROM _trials").column(0).to_pylist()
    assert rows == ["cancelled"]
    assert [t.status for t in people.trials("people")] == ["cancelled"] and people.trials("people", best=True) == []
    assert people.job(job.id).status == "cancelled"


def test_a_trial_killed_before_it_was_ready_never_becomes_one(people, cli):
    people.eval_create("people", queries=30)
    code, _, _ = cli("trial", "people", "--m", "8", "--ef-construction", "40",
                     env={"LAKEHOUSE_CRASH_AT": "before_trial_ready"})
    assert code == -9  # SIGKILL, as a power cut at that step
    left = list(trials_dir(people.root, "people").iterdir())
    assert len(left) == 1 and left[0].name.endswith(".building")  # nothing reads it
    assert people.trials("people") == [] and people.sql("SELECT count(*) FROM _trials").column(0)[0].as_py() == 0
    t = people.trial("people", 8, 40, [20])  # the next trial removes what the killed one left
    assert [p.name for p in trials_dir(people.root, "people").iterdir()] == [f"t{t.id}"]
    assert [j.status for j in people.jobs() if j.kind == "trial"] == ["succeeded", "interrupted"]


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("m, efc, efs, message", [
    (1, 40, [20], "M must be between 2 and 128, got 1"),
    (129, 200, [20], "M must be between 2 and 128, got 129"),
    (16, 8, [20], r"ef_construction must be between M \(16\) and 2000, got 8"),
    (16, 2001, [20], r"ef_construction must be between M \(16\) and 2000, got 2001"),
    (16, 80, [5, 20], r"ef_search must be between k \(10\) and 5000, got 5"),
    (16, 80, [20, 5001], r"ef_search must be between k \(10\) and 5000, got 5001"),
    (16, 80, [], "give at least one ef_search value"),
])
def test_settings_outside_the_space_are_refused(people, m, efc, efs, message):
    people.eval_create("people", queries=20)
    with pytest.raises(VectorError, match=f"^{message}$"):
        people.trial("people", m, efc, efs)
    _nothing_written(people)


def test_unknown_names_and_an_empty_index_are_refused(people, data):
    with pytest.raises(NotFound, match="no eval set yet"):
        people.trial("people", 8, 40, [20])
    people.eval_create("people", queries=20)
    with pytest.raises(NotFound, match="^no index named 'nope'"):
        people.trial("nope", 8, 40, [20])
    with pytest.raises(NotFound, match="^no index named 'nope'"):
        people.eval_create("nope")
    with pytest.raises(NotFound, match=r"^index 'people' has no eval set named 'other' — its eval sets: e1$"):
        people.trial("people", 8, 40, [20], eval_name="other")
    with pytest.raises(NameError_):
        people.trial("people", 8, 40, [20], eval_name="../x")
    with pytest.raises(NotFound, match="^no trial 'nope'$"):
        people.trial_promote("nope")
    with pytest.raises(VectorError, match="already has an eval set named 'e1'"):
        people.eval_create("people", name="e1")
    with pytest.raises(VectorError, match="between 1 and 100,000 queries, got 0"):
        people.eval_create("people", queries=0)
    with pytest.raises(NotFound, match="no file"):
        people.eval_create("people", from_file=str(data / "missing.txt"))
    (data / "blank.txt").write_text("\n  \n")
    with pytest.raises(VectorError, match="holds no questions"):
        people.eval_create("people", from_file=str(data / "blank.txt"))
    assert [e["name"] for e in people.evals("people")] == ["e1"]
    _nothing_written(people)
    np.save(people.root / "vectors" / "people" / "g1" / "vectors.npy", np.zeros((0, 384), np.float32))
    with pytest.raises(VectorError, match="^index 'people' is empty: g1 holds no vectors to measure$"):
        people.trial("people", 8, 40, [20])
    with pytest.raises(VectorError, match="is empty"):
        people.eval_create("people")


def test_the_cli_runs_trials_and_says_bad_input_in_one_sentence(cli, data):
    assert cli("ingest", str(write_profiles(data / "people.csv", 300)), "--key", "person_id")[0] == 0
    assert cli("embed", "people", "--column", "profile", "--index", "people", "--embedder", "hashing")[0] == 0
    code, out, err = cli("eval", "create", "people", "--queries", "40")
    assert code == 1 and "holds 300 vectors: an eval set may hold out at most a tenth of them (30)" in err
    code, out, err = cli("eval", "create", "people", "--queries", "25")
    assert code == 0 and "eval set e1 — 25 held-out queries" in out
    code, out, err = cli("trial", "people", "--m", "8", "--ef-construction", "40", "--ef-search", "20,40")
    assert code == 0 and "recall@10" in out
    code, out, _ = cli("trials", "people", "--format", "json")
    trial = json.loads(out)[0]
    assert code == 0 and [p["ef_search"] for p in trial["points"]] == [20, 40]
    code, out, _ = cli("trial", "promote", trial["id"])
    assert code == 0 and "g2 is active" in out
    for args, message in ((("trial", "people", "--m", "1"), "error: M must be between 2 and 128, got 1"),
                          (("trial", "people", "--ef-search", "x"), "error: --ef-search takes whole numbers"),
                          (("trial", "promote", "nope"), "error: no trial 'nope'"),
                          (("eval", "list", "nope"), "error: no index named 'nope'")):
        code, out, err = cli(*args)
        assert code != 0 and err.startswith(message) and len(err.strip().splitlines()) == 1, (args, err)


# -- upkeep: graphs kept, the append-triggered re-trial ----------------------------------------
def _fake_trial(lh, tid, recall, p50, build_s=1.0, size=1000, job_id=""):
    """A finished trial's rows and graph directory, with chosen figures."""
    lh._vectors.catalog.trials.add_points([dict(
        trial_id=tid, index_name="people", generation=1, eval_set="e1", k=10, m=8, ef_construction=40,
        ef_search=20, recall=recall, p50_us=p50, p95_us=p50, p99_us=p50, build_s=build_s, index_bytes=size,
        peak_mem_bytes=0, dataset_version=0, embedder="hashing", model="m", machine="x", profile="default",
        status="ok", created_at="2026-01-01T00:00:00+00:00", job_id=job_id)])
    trial_dir(lh.root, "people", tid).mkdir(parents=True)
    (trial_dir(lh.root, "people", tid) / "hnsw.bin").write_bytes(b"x")


def test_trial_graphs_are_kept_for_the_front_and_the_newest_only(people):
    from core.trials.graphs import prune

    people.config.values["trials"]["keep_graphs"] = 2
    _fake_trial(people, "front", 0.99, 100.0)  # the best recall: on every front
    _fake_trial(people, "worse", 0.90, 200.0)  # dominated on every figure by "front"'s tie-break... and "cheap"
    _fake_trial(people, "cheap", 0.95, 50.0, build_s=0.5, size=500)  # the cheapest on everything
    _fake_trial(people, "old", 0.80, 300.0, build_s=2.0, size=2000)  # dominated on every figure
    _fake_trial(people, "new1", 0.70, 400.0, build_s=3.0, size=3000)  # dominated, but among the newest 2
    _fake_trial(people, "new2", 0.70, 400.0, build_s=3.0, size=3000)
    assert sorted(prune(people._vectors, "people", keep={"worse"})) == ["old"]
    assert sorted(prune(people._vectors, "people")) == ["worse"]
    left = {p.name for p in trials_dir(people.root, "people").iterdir()}
    assert left == {"tfront", "tcheap", "tnew1", "tnew2"}
    removed = people.sql("SELECT trial_id FROM _trials WHERE graph_removed = 1 ORDER BY trial_id").column(0)
    assert removed.to_pylist() == ["old", "worse"]  # their rows and figures stay
    with pytest.raises(VectorError, match=r"^trial old's graph was removed \(only the Pareto front's and the "
                                          r"newest trials' are kept\), so it must be run again to be promoted$"):
        people.trial_promote("old")
    assert people.index("people").active_gen == 1  # nothing half-promoted
    people.config.values["trials"]["keep_graphs"] = 1
    with people._vectors.ctx.jobs.run("autotune", "people", None, None) as job:  # as in another process
        _fake_trial(people, "theirs", 0.1, 900.0, build_s=9.0, size=9000, job_id=job.id)
        _fake_trial(people, "newest", 0.1, 900.0, build_s=9.0, size=9000)
        assert prune(people._vectors, "people") == ["new2", "new1"]  # its running job's graph stays
        assert prune(people._vectors, "people", own_job=job.id) == ["theirs"]  # but not for the job itself


def test_a_trial_prunes_graphs_and_index_drop_removes_them(people):
    people.eval_create("people", queries=20)
    people.config.values["trials"]["keep_graphs"] = 1
    _fake_trial(people, "old", 0.0, 1e9, build_s=1e9, size=10**12)  # worse than any real trial on everything
    t = people.trial("people", 4, 8, [10])
    assert not trial_dir(people.root, "people", "old").exists() and trial_dir(people.root, "people", t.id).exists()
    people.drop_index("people")  # the index's trial graphs go with it
    assert not trials_dir(people.root, "people").exists()


def test_an_index_made_again_after_a_drop_starts_without_the_old_eval_sets_and_trials(people):
    people.eval_create("people", queries=20)
    people.trial("people", 8, 20, [10])
    people.drop_index("people")
    people.embed("people", "profile", index="people", embedder="hashing")
    assert people.evals("people") == [] and people.trials("people") == []
    assert people.sql("SELECT count(*) FROM _trials").column(0)[0].as_py() == 0
    with pytest.raises(NotFound, match="no eval set yet"):  # the dropped index's sets are not offered
        people.trial("people", 8, 20, [10])
    people.eval_create("people", queries=20)
    t = people.trial("people", 8, 20, [10])
    assert t.status == "ok" and [e["name"] for e in people.evals("people")] == [t.eval_set]


def test_new_rows_refresh_the_index_and_re_trial_the_active_settings(people, data):
    people.eval_create("people", queries=40)
    people.trial("people", 8, 40, [20])
    people.ingest([str(write_profiles(data / "more.csv", 100, start=2000))], name="people", mode="append")
    res = people.embed("people", "profile", index="people", embedder="hashing")  # the refresh: g2 active
    assert res.gen == 2 and people.index("people").active_gen == 2
    rows = people.sql("SELECT * FROM _trials WHERE origin = 'retrial'").to_pylist()
    g = people.index("people").active
    assert len(rows) == 1 and rows[0]["status"] == "ok", rows
    r = rows[0]
    assert (r["generation"], r["dataset_version"], r["m"], r["ef_construction"], r["ef_search"]) == \
        (2, 1, g.m, g.ef_construction, max(g.ef_search, 10))
    assert r["eval_set"] == "e2"  # e1 is stale for version 1: a fresh one made like it
    assert [e["queries"] for e in people.evals("people")] == [40, 40]
    assert [j.status for j in people.jobs() if j.kind == "retrial"] == ["succeeded"]
    assert people._vectors.catalog.trials.retrial("people") is None  # nothing left scheduled
    people.embed("people", "profile", index="people", embedder="hashing")  # up to date: no new re-trial
    assert people.sql("SELECT count(*) FROM _trials WHERE origin = 'retrial'").column(0)[0].as_py() == 1


def test_a_re_trial_left_scheduled_by_a_killed_process_runs_at_the_next_embed(people):
    people.eval_create("people", queries=20)
    people._vectors.catalog.trials.schedule_retrial("people", 1, 0)
    people.embed("people", "profile", index="people", embedder="hashing")  # up to date, but runs it
    assert [r["origin"] for r in people.sql("SELECT origin FROM _trials").to_pylist()] == ["retrial"]
    assert people._vectors.catalog.trials.retrial("people") is None


@pytest.mark.parametrize("remote", [False, True], ids=["cli", "daemon"])
def test_new_rows_re_trial_the_active_settings_from_the_cli_and_the_daemon(home, data, remote):
    from test_daemon import Served

    home.mkdir(parents=True, exist_ok=True)
    d = Served(home)
    try:
        def run(*args):
            code, out, err = d.cli(*args, remote=remote)
            assert code == 0, (args, err)
            return out
        run("ingest", str(write_profiles(data / "people.csv", 300)), "--key", "person_id")
        run("embed", "people", "--column", "profile", "--index", "people", "--embedder", "hashing")
        run("eval", "create", "people", "--queries", "30")
        run("trial", "people", "--m", "8", "--ef-construction", "40", "--ef-search", "20")
        run("ingest", str(write_profiles(data / "more.csv", 50, start=300)), "--name", "people", "--mode", "append")
        run("embed", "people", "--column", "profile", "--index", "people", "--embedder", "hashing")
        rows = json.loads(run("sql", "SELECT origin, generation, dataset_version, m, ef_construction, ef_search, "
                                     "status FROM _trials ORDER BY id", "--format", "json"))
        assert [r["origin"] for r in rows] == ["trial", "retrial"]
        assert {k: rows[1][k] for k in ("generation", "dataset_version", "m", "ef_construction", "status")} == \
            {"generation": 2, "dataset_version": 1, "m": 16, "ef_construction": 80, "status": "ok"}
        jobs = json.loads(run("jobs", "--format", "json"))
        assert [j["status"] for j in jobs if j["kind"] == "retrial"] == ["succeeded"]
    finally:
        d.stop()
