"""The Pareto front and promotion choice (core/trials/front.py) against brute force, and the
autotune loop (core/trials/autotune.py) on a synthetic objective: no index, fast."""

import math
import random

import pytest

from core.errors import Cancelled
from core.trials.autotune import Space, autotune, decide, parse_budget
from core.trials.front import OBJECTIVES, best, dominates, pareto_front, tie_break

# --- the front -------------------------------------------------------------------------


def random_points(rng: random.Random, n: int) -> list[dict]:
    # small grids, so ties on recall, on cost and on both are common
    return [{"recall": rng.choice([0.5, 0.8, 0.9, 0.95, 0.97, 0.99, 1.0]),
             "p50_us": rng.choice([100, 150, 200, 250, 300]), "p95_us": rng.randint(100, 120),
             "p99_us": 400, "build_s": rng.choice([1.0, 2.0, 3.0]), "index_bytes": rng.randint(1, 4) * 1000,
             "m": rng.choice([4, 8, 16, 32]), "ef_construction": rng.choice([40, 80, 200]),
             "ef_search": rng.choice([10, 20, 50, 100])} for _ in range(n)]


def brute_front(points, latency):
    return [p for p in points if not any(dominates(q, p, latency) for q in points if q is not p)]


@pytest.mark.parametrize("latency", ["p50_us", "p95_us", "build_s", "index_bytes"])
def test_front_matches_a_brute_force_dominance_check(latency):
    rng = random.Random(16)
    for _ in range(300):
        points = random_points(rng, rng.randint(0, 40))
        front, brute = pareto_front(points, latency), brute_front(points, latency)
        # every trade-off on the front once: of points tied on recall and cost, the one first by tie_break
        assert sorted((p["recall"], p[latency]) for p in front) == sorted({(p["recall"], p[latency]) for p in brute})
        for p in front:
            tied = [q for q in brute if (q["recall"], q[latency]) == (p["recall"], p[latency])]
            assert p is min(tied, key=tie_break)
        # deterministic: the same front in the same order whatever the input order
        shuffled = points[:]
        rng.shuffle(shuffled)
        assert [tie_break(p) for p in pareto_front(shuffled, latency)] == [tie_break(p) for p in front]
        # cheapest first, recall rising along it
        assert all(a[latency] <= b[latency] and a["recall"] <= b["recall"] for a, b in zip(front, front[1:]))


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_best_is_the_cheapest_point_at_or_above_the_minimum_recall(objective):
    rng, figure = random.Random(7), OBJECTIVES[objective]
    for _ in range(300):
        points = random_points(rng, rng.randint(0, 30))
        min_recall = rng.choice([0.0, 0.9, 0.95, 0.99, 1.0, 1.01])
        pick = best(points, objective, min_recall)
        eligible = [p for p in points if p["recall"] >= min_recall]
        if not eligible:
            assert pick is None
            continue
        assert pick["recall"] >= min_recall
        assert pick[figure] == min(p[figure] for p in eligible)
        assert pick in pareto_front(points, figure)  # the front's best is the same point
        assert best(pareto_front(points, figure), objective, min_recall) is pick


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="unknown objective"):
        best([], "speed", 0.9)


# --- the loop, on a synthetic objective ----------------------------------------------------

ACTIVE = (16, 80, 64)


def synthetic(m, efc, efs):
    """Recall rises with ef_search × M (and a poor graph under ef_construction 40 loses some);
    latency rises with ef_search and M; build with M × ef_construction."""
    recall = 1 - 0.5 * math.exp(-efs * m / 200) - (0.05 if efc < 40 else 0.0)
    return {"ef_search": efs, "recall": recall, "p50_us": 5.0 * efs + 2 * m, "p95_us": 7.0 * efs + 3 * m,
            "p99_us": 9.0 * efs + 3 * m, "build_s": m * efc / 1000, "index_bytes": m * 1000}


class Recorder:
    """A run callable: records each build's settings; `fail` decides which builds raise."""

    def __init__(self, figures=synthetic, fail=lambda m, efc: False, clock=None, seconds=0.0):
        self.calls, self.figures, self.fail, self.clock, self.seconds = [], figures, fail, clock, seconds

    def __call__(self, m, efc, efs_list):
        self.calls.append((m, efc, list(efs_list)))
        if self.clock is not None:
            self.clock.t += self.seconds
        if self.fail(m, efc):
            raise RuntimeError(f"build of M {m} failed")
        return [{**self.figures(m, efc, e), "trial_id": f"t{len(self.calls)}"} for e in efs_list]


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_a_configuration_that_beats_the_baseline_is_promoted():
    run = Recorder()
    out = autotune(run, active=ACTIVE, max_trials=15, seed=3)
    base = synthetic(*ACTIVE)
    assert run.calls[0][:2] == ACTIVE[:2] and ACTIVE[2] in run.calls[0][2]  # the baseline first
    assert out.baseline["p50_us"] == base["p50_us"]
    assert out.promote is not None, out.reason
    assert out.promote["recall"] >= 0.95
    assert out.promote["p50_us"] <= 0.95 * base["p50_us"]
    assert out.promote["trial_id"].startswith("t") and out.reason.startswith("promoted M ")
    assert out.promote in out.front and out.trials == 15 and out.stopped == "trials"


def test_only_bad_configurations_promote_nothing_and_say_why():
    run = Recorder(figures=lambda m, efc, efs: {**synthetic(m, efc, efs), "recall": 0.5})
    out = autotune(run, active=ACTIVE, max_trials=6, seed=1)
    assert out.promote is None
    assert out.reason == "nothing promoted: no configuration reached recall 0.95 (the best reached 0.500)"


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_an_optimiser_stuck_in_a_bad_region_promotes_nothing():
    import optuna

    # proposes only M 4 (ef_construction 4), where recall stays under 0.95
    stuck = optuna.samplers.PartialFixedSampler({"m": 4, "ef_construction": 4},
                                                optuna.samplers.RandomSampler(seed=2))
    figures = lambda m, efc, efs: {**synthetic(m, efc, efs), "recall": 0.999 if (m, efc, efs) == ACTIVE else 0.9}
    run = Recorder(figures=figures)
    out = autotune(run, active=ACTIVE, max_trials=8, sampler=stuck)
    assert all(c[:2] == (4, 4) for c in run.calls[1:])
    assert out.promote is None and out.reason.startswith("nothing promoted: the active settings are the best")


def test_proposals_always_lie_inside_the_space():
    space = Space(k=10)
    for seed in range(3):
        run = Recorder()
        autotune(run, active=(2, 600, 5), space=space, max_trials=40, seed=seed)
        assert len(run.calls) == 40
        for m, efc, efs_list in run.calls[1:]:  # the first is the active settings, wherever they are
            assert all(space.contains(m, efc, e) for e in efs_list), (m, efc, efs_list)


def test_cancel_stops_promptly_with_nothing_promoted():
    run, checks = Recorder(), []

    def cancel():
        checks.append(1)
        if len(run.calls) >= 3:
            raise Cancelled("autotune of people was cancelled; nothing was written")

    with pytest.raises(Cancelled):
        autotune(run, active=ACTIVE, max_trials=50, cancel=cancel, seed=0)
    assert len(run.calls) == 3  # stopped right after the third build, no decision made


def test_the_time_budget_ends_the_run():
    clock = Clock()
    run, seen = Recorder(clock=clock, seconds=10.0), []
    out = autotune(run, active=ACTIVE, max_seconds=35, clock=clock, seed=0,
                   progress=lambda done, total, unit, msg: seen.append((done, total, unit, msg)))
    assert out.trials == 4 and out.stopped == "time" and out.seconds == 40.0
    assert seen[0] == (0.0, 35, "s", "trial 1: M 16, ef_construction 80")
    assert seen[1][:3] == (10.0, 35, "s") and "(best so far M 16, ef_construction 80, ef_search" in seen[1][3]
    assert seen[-1][3] == out.reason


def test_a_failed_trial_is_recorded_and_the_run_goes_on():
    run = Recorder(fail=lambda m, efc: m > 20)
    out = autotune(run, active=ACTIVE, max_trials=20, seed=5)
    assert out.trials == 20 and out.failed
    assert all(f["m"] > 20 and f["error"].startswith("build of M") for f in out.failed)
    assert all(p["m"] <= 20 for p in out.front)


def test_a_baseline_that_cannot_be_measured_promotes_nothing():
    run = Recorder(fail=lambda m, efc: (m, efc) == ACTIVE[:2])
    out = autotune(run, active=ACTIVE, max_trials=5)
    assert out.promote is None and out.trials == 1
    assert out.reason == "nothing promoted: the active settings could not be measured (build of M 16 failed)"


def test_a_budget_is_required():
    with pytest.raises(ValueError, match="needs a budget"):
        autotune(Recorder(), active=ACTIVE, max_seconds=0)


def test_decide_wants_a_real_gain_over_the_baseline():
    base = {**synthetic(*ACTIVE), "m": 16, "ef_construction": 80}
    close = {**base, "m": 32, "p50_us": base["p50_us"] * 0.97}
    assert decide([base, close], base, "p50", 0.95)[0] is None
    better = {**close, "p50_us": base["p50_us"] * 0.8}
    assert decide([base, close, better], base, "p50", 0.95)[0] is better
    # an active configuration under the minimum recall is beaten by any that reaches it
    weak = {**base, "recall": 0.9, "p50_us": 1.0}
    assert decide([weak, close], weak, "p50", 0.95)[0] is close


def test_parse_budget():
    assert parse_budget("10m") == 600 and parse_budget("90s") == 90 and parse_budget("1h30m") == 5400
    assert parse_budget("45") == 45 and parse_budget(0) == 0
    for bad in ("", "ten minutes", "5x"):
        with pytest.raises(ValueError, match="cannot read the budget"):
            parse_budget(bad)


# --- end to end: a small real index (hashing embedder), through the facade --------------

@pytest.fixture
def people(lh, data):
    from vector_data import write_profiles

    lh.ingest(write_profiles(data / "people.csv", 1000), key="person_id")
    lh.embed("people", "profile", index="people", embedder="hashing")
    lh.eval_create("people", queries=100)
    return lh


def test_autotune_promotes_a_measured_winner_as_a_job(people):
    lh = people
    out = lh.autotune("people", budget="2s")
    assert out["stopped"] == "time" and out["trials"] >= 2 and not out["failed"]
    assert out["baseline"]["m"] == 16 and out["baseline"]["ef_construction"] == 80  # the active settings first
    pick = out["promote"]
    assert pick is not None, out["reason"]
    assert pick["recall"] >= 0.95 and pick["p50_us"] <= 0.95 * out["baseline"]["p50_us"]
    info = lh.index("people")
    assert info.active_gen == out["generation"] == 2 and info.active.ef_search == pick["ef_search"]
    trials = {t.id: t for t in lh.trials("people")}
    assert len(trials) == out["trials"] and trials[pick["trial_id"]].promoted_generation == 2
    job = next(j for j in lh.jobs() if j.kind == "autotune")
    assert job.status == "succeeded" and job.message == out["reason"]
    lh.audit_log.flush()
    audit = lh.sql("SELECT statement, outcome, datasets FROM _audit WHERE action = 'trial_promote'").to_pylist()
    assert audit == [{"statement": pick["trial_id"], "outcome": "ok", "datasets": "people"}]  # zero clicks, on record


def test_autotune_refuses_bad_input_and_a_second_run(people):
    from core.errors import NotFound, VectorError
    from core.storage.locks import try_lock

    lh = people
    for budget in ("0", 0, "0m"):
        with pytest.raises(VectorError, match="the budget must be more than 0"):
            lh.autotune("people", budget=budget)
    with pytest.raises(VectorError, match="cannot read the budget"):
        lh.autotune("people", budget="soon")
    with pytest.raises(VectorError, match="unknown objective 'speed'"):
        lh.autotune("people", budget="1s", objective="speed")
    with pytest.raises(NotFound):
        lh.autotune("people", budget="1s", eval_name="nope")
    fd = try_lock(lh.root / "vectors" / "people" / ".autotune.lock")  # as a running autotune holds it
    try:
        with pytest.raises(VectorError, match="an autotune of 'people' is already running"):
            lh.autotune("people", budget="1s")
    finally:
        import os

        os.close(fd)
    assert not [j for j in lh.jobs() if j.kind == "autotune"]  # refused before any job started


def test_cancelling_an_autotune_promotes_nothing(people):
    import threading

    lh, stop = people, threading.Event()

    def listener(e):
        if e.message.startswith("trial 3"):
            stop.set()

    with pytest.raises(Cancelled, match="stay in _trials .*nothing was promoted"):  # not "nothing was written"
        lh.autotune("people", budget="30s", progress=listener, cancel=stop)
    assert lh.index("people").active_gen == 1
    assert all(t.promoted_generation is None for t in lh.trials("people"))
    assert next(j for j in lh.jobs() if j.kind == "autotune").status == "cancelled"


def test_the_autotune_command(people, cli):
    import json

    code, out, err = cli("autotune", "people", "--budget", "1s", "--objective", "p95", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got["objective"] == "p95" and got["trials"] >= 1 and got["reason"]
    code, out, err = cli("autotune", "people", "--budget", "1s", "--min-recall", "0.999")
    assert code == 0 and "Pareto front: recall against p50" in out and "\npeople: " in out, err
    assert " trials in " in out
    code, out, err = cli("autotune", "people", "--budget", "0")
    assert code == 1 and err.strip() == "error: the budget must be more than 0, got '0'"


def test_the_minimum_recall_and_objective_come_from_the_flag_then_the_profile_then_the_config(people, home):
    from core import Lakehouse
    from core.trials.autotune import goals

    assert goals(people._vectors, None, None) == (0.95, "p50")  # [trials] defaults
    people.config.values["trials"].update(min_recall=0.9, objective="p95")
    assert goals(people._vectors, None, None) == (0.9, "p95")
    (home / "lakehouse.toml").write_text('[trials]\nmin_recall = 0.8\n\n[profiles.tuner]\ndatasets = ["*"]\n'
                                         'autotune_min_recall = 0.99\nautotune_objective = "memory"\n')
    with Lakehouse.open(home=home, profile="tuner") as lh:
        assert goals(lh._vectors, None, None) == (0.99, "memory")  # the profile's own
        assert goals(lh._vectors, 0.5, "build") == (0.5, "build")  # the flags
        out = lh.autotune("people", budget="1s")
        assert (out["min_recall"], out["objective"]) == (0.99, "memory")
    with Lakehouse.open(home=home) as lh:
        assert goals(lh._vectors, None, None) == (0.8, "p50")  # the config's, under the default profile
