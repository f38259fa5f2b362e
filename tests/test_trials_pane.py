"""The Trials pane (issue 16) driven through Textual's pilot on a real lakehouse with the
hashing embedder: it lists an index's trials, sorts them, promotes with a confirmation,
rolls back, and shows a running autotune's progress until stop cancels it."""

from __future__ import annotations

import pytest

from app.tui import LakehouseApp
from test_daemon import people  # noqa: F401 — a fixture: a 200-row hashing index for the daemon
from test_tui import opened, run, until
from vector_data import write_profiles

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def tried(home, data):
    """An index `people` (300 rows, hashing) with an eval set and two trials."""
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write_profiles(data / "people.csv", 300), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
        lh.eval_create("people", queries=30)
        lh.trial("people", 8, 40, [10, 40])
        lh.trial("people", 16, 80, [20])
    return home


def pane(app):
    return app.pane("trials")


def test_the_pane_lists_sorts_promotes_and_rolls_back(tried):
    async def go():
        async with opened(tried) as (app, pilot):
            await pilot.press("f4")
            p = pane(app)
            await until(pilot, lambda: len(p.rows) == 3)
            assert [r["m"] for r in p.shown_rows()] == [8, 8, 16]  # as they ran: oldest first
            p.sort_key, p.sort_reverse = "m", True
            p.show()
            assert [r["m"] for r in p.shown_rows()] == [16, 8, 8]
            await pilot.press("o")  # the next column: ef_construction, ascending
            assert p.sort_key == "ef_construction" and [r["m"] for r in p.shown_rows()] == [8, 8, 16]
            await pilot.press("o")  # ef_search: 10, 20, 40
            assert [r["ef_search"] for r in p.shown_rows()] == [10, 20, 40]
            before = app.lh.index("people").active_gen
            p.query_one("#trials-table").move_cursor(row=[r["m"] for r in p.shown_rows()].index(16))
            await pilot.press("p")
            await until(pilot, lambda: type(app.screen).__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: app.lh.index("people").active_gen != before)
            promoted = app.lh.index("people")
            assert promoted.active.m == 16 and promoted.active.ef_search == 20
            await until(pilot, lambda: any(r["active"] for r in p.rows))
            assert [r["m"] for r in p.rows if r["active"]] == [16]
            await pilot.press("b")
            await until(pilot, lambda: app.lh.index("people").active_gen == before)
    run(go())


def test_a_trial_from_the_key_appears_in_the_table(tried):
    async def go():
        async with opened(tried) as (app, pilot):
            await pilot.press("f4")
            p = pane(app)
            await until(pilot, lambda: len(p.rows) == 3)
            await pilot.press("r")
            await until(pilot, lambda: len(p.rows) == 3 + 4, timeout=60)  # ef_search 30, 50, 64 (the default's), 100
            new = [r for r in p.rows if r["ef_search"] not in (10, 20, 40)]  # not the fixture's
            assert sorted(r["ef_search"] for r in new) == [30, 50, 64, 100]
    run(go())


def test_autotune_shows_progress_and_stop_cancels_it(tried):
    async def go():
        async with opened(tried) as (app, pilot):
            await pilot.press("f4")
            p = pane(app)
            await until(pilot, lambda: len(p.rows) == 3)
            p.query_one("#trials-budget").value = "10m"
            await pilot.press("a")
            await until(pilot, lambda: p.running, timeout=30)
            assert "autotune running" in str(p.query_one("#trials-status").render())
            await pilot.press("s")
            await until(pilot, lambda: any(j.kind == "autotune" and j.status == "cancelled" for j in app.lh.jobs(20)),
                        timeout=60)
            await until(pilot, lambda: not p.running)
    run(go())


def test_filter_compare_and_refusals_are_said(tried):
    """The eval-set filter keeps its rows; c compares the two newest generations (overlap@k);
    a rollback with nothing to return to and a promote of a cancelled trial are each one
    sentence in a notification, and the pane carries on."""
    from core import Lakehouse

    with Lakehouse.open(home=tried, profile="default") as lh:
        lh.eval_create("people", queries=20, name="other")
        lh.trial("people", 12, 60, [30], eval_name="other")
        lh.catalog.trials.add_points([dict(lh.catalog.trials.points(lh.trials("people")[0].id)[0], id=None,
                                           trial_id="tcancel", ef_search=None, recall=None, status="cancelled")])

    async def go():
        async with opened(tried) as (app, pilot):
            shown = []
            app.notify = lambda text, **kw: shown.append(text)
            await pilot.press("f4")
            p = pane(app)
            await until(pilot, lambda: len(p.rows) == 5)
            p.query_one("#trials-eval").value = "other"
            await until(pilot, lambda: [r["m"] for r in p.shown_rows()] == [12])
            p.query_one("#trials-eval").clear()
            await until(pilot, lambda: len(p.shown_rows()) == 5)
            await pilot.press("b")  # g1 is the only generation: nothing to return to
            await until(pilot, lambda: shown)
            assert "people" in shown[-1] and "\n" not in shown[-1]
            p.query_one("#trials-table").move_cursor(row=4)  # the cancelled trial
            await pilot.press("p")
            await until(pilot, lambda: "no graph to promote" in shown[-1])
            p.query_one("#trials-table").move_cursor(row=0)
            await pilot.press("p", "y")
            await until(pilot, lambda: app.lh.index("people").active_gen == 2)
            await pilot.press("c")  # the compare box is empty: say so
            await until(pilot, lambda: "compare box" in shown[-1])
            p.query_one("#trials-compare-text").value = "Kubernetes and Terraform"
            p.query_one("#trials-table").focus()
            await pilot.press("c")
            await until(pilot, lambda: "overlap@10" in shown[-1])
            assert "g1 against g2" in shown[-1]
    run(go())


def test_through_the_daemon_a_trial_runs_and_is_listed(people, ollama):
    """`lakehouse tui --connect`: the pane drives the daemon's facade (no eval set yet: r makes one)."""
    from app.daemon import proxy as remote
    from core import config
    from test_daemon import Served

    d = Served(people, {"OLLAMA_HOST": ollama.url})
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=people), d.sock))
            async with app.run_test(size=(140, 45)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                await pilot.press("f4")
                p = pane(app)
                await until(pilot, lambda: p.index == "people")
                await pilot.press("r")
                await until(pilot, lambda: len(p.rows) == 4, timeout=60)
                assert all(r["status"] == "ok" for r in p.rows)
        run(go())
    finally:
        d.stop()
