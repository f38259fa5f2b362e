"""Watches and schedules in the TUI (app/tui/live.py, live_add.py), the System pane's
contract check and retention run, and the demo data screen, driven as a user would: a
watch added from the form on a folder and a file dropped there ingested by the runner this
TUI runs; pause/resume; remove after a confirmation; a schedule added and run now;
refusals as their sentence; one flow through a daemon; hostile folder names inert;
snapshots of the screen at 80x24 and 160x48."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select, Static

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import opened, run, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FAST = "[watch]\nsettle_s = 0.3\nrescan_s = 1.0\nrefresh_s = 1.0\n"
PEOPLE = "id,name\n1,Ada\n2,Grace\n"


def shown(app, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).render())


def cells(app) -> list[list[str]]:
    """The watches screen's rows; none while another screen (the add form, still adding) is on top."""
    found = app.screen.query("#live-table")
    if not found:
        return []
    table = found.first(DataTable)
    return [[str(c) for c in table.get_row_at(n)] for n in range(table.row_count)]


def names(app) -> list[str]:
    return [d.name for d in app.lh.datasets()]


@pytest.fixture
def root(home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(FAST)
    return home


async def open_live(app, pilot) -> None:
    await pilot.press("f6", "w")
    await until(pilot, lambda: app.screen.__class__.__name__ == "LiveScreen")


async def open_form(app, pilot, kind: str = "watch") -> None:
    await pilot.press("a")
    await until(pilot, lambda: app.screen.__class__.__name__ == "AddLiveScreen")
    app.screen.query_one("#live-add-kind", Select).value = kind
    await pilot.pause()


def fill(app, **values) -> None:
    for wid, value in values.items():
        app.screen.query_one(f"#live-add-{wid}", Input).value = value


def test_a_watch_added_from_the_form_ingests_a_file_dropped_in_its_folder(root, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    async def go():
        async with opened(root) as (app, pilot):
            await open_live(app, pilot)
            await until(pilot, lambda: "run by this TUI" in shown(app, "#live-title"))
            assert "none yet" in shown(app, "#live-title")
            await open_form(app, pilot)
            fill(app, path=str(inbox), pattern="*.csv", key="id")
            app.screen.query_one("#live-add-mode", Select).value = "upsert"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.screen.__class__.__name__ == "LiveScreen")
            assert "watch 1 added" in shown(app, "#live-log") and "dataset inbox, upsert" in shown(app, "#live-log")
            await until(pilot, lambda: len(cells(app)) == 1)
            row = cells(app)[0]
            assert row[:2] == ["watch", "1"] and row[2] == "active" and row[-1] == "this TUI"
            (inbox / "people.csv").write_text(PEOPLE)
            await until(pilot, lambda: "inbox" in names(app), timeout=60)
            await until(pilot, lambda: "nothing yet" not in cells(app)[0][5], timeout=30)
            assert "people.csv" in cells(app)[0][5]
    run(go())


def test_pause_resume_and_remove_after_a_confirmation(root, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (tmp_path / "one.csv").write_text(PEOPLE)

    async def go():
        async with opened(root) as (app, pilot):
            app.lh.watch_add(str(folder), pattern="*.json")
            app.lh.schedule_add(str(tmp_path / "one.csv"), "1h", name="one")
            await open_live(app, pilot)
            await until(pilot, lambda: len(cells(app)) == 2)
            await pilot.press("p")  # the watch, highlighted first
            await until(pilot, lambda: cells(app)[0][2] == "paused")
            assert "watch 1 is paused now — p resumes it" in shown(app, "#live-log")
            assert app.lh.watch_list()[0].state == "paused"
            await pilot.press("p")
            await until(pilot, lambda: cells(app)[0][2] == "active")
            await pilot.press("down", "p")  # the schedule
            await until(pilot, lambda: cells(app)[1][2] == "paused")
            assert cells(app)[1][4] == "-"  # no next run while paused
            await pilot.press("d")
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("n")  # no: it stays
            await until(pilot, lambda: app.screen.__class__.__name__ == "LiveScreen")
            await pilot.pause(0.3)
            assert len(app.lh.schedule_list()) == 1
            await pilot.press("d")
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: len(cells(app)) == 1)
            assert "schedule 1 removed" in shown(app, "#live-log") and app.lh.schedule_list() == []
            assert [w.id for w in app.lh.watch_list()] == [1]
    run(go())


def test_a_schedule_added_from_the_form_runs_now_and_refusals_are_one_sentence(root, tmp_path):
    (tmp_path / "staff.csv").write_text(PEOPLE)

    async def go():
        async with opened(root, size=(80, 24)) as (app, pilot):
            await open_live(app, pilot)
            await open_form(app, pilot, "watch")
            fill(app, path=str(tmp_path / "nowhere"))
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "refused:" in shown(app, "#live-add-error"))
            error = shown(app, "#live-add-error")
            assert "does not exist" in error and "\n" not in error.strip() and "Traceback" not in error
            app.screen.query_one("#live-add-kind", Select).value = "schedule"
            await pilot.pause()
            fill(app, path=str(tmp_path / "staff.csv"), every="2 fortnights", name="staff")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "fortnights" in shown(app, "#live-add-error"))
            assert app.screen.__class__.__name__ == "AddLiveScreen" and app.lh.schedule_list() == []
            fill(app, path="postgresql://me:s3cret@db.example/shop", every="1h", table="public.orders")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "password" in shown(app, "#live-add-error"))
            assert "s3cret" not in shown(app, "#live-add-error")
            fill(app, path=str(tmp_path / "staff.csv"), table="")
            await pilot.press("enter")  # enter in a box adds too
            await until(pilot, lambda: app.screen.__class__.__name__ == "LiveScreen")
            assert "schedule 1 added" in shown(app, "#live-log")
            await until(pilot, lambda: len(cells(app)) == 1)
            assert cells(app)[0][3] == "every 1h" and cells(app)[0][5] == "not run yet"
            await pilot.press("r")
            await until(pilot, lambda: "schedule 1: ingested" in shown(app, "#live-log"), timeout=60)
            assert "staff" in names(app)
            await until(pilot, lambda: "ingested" in cells(app)[0][5])
            await pilot.press("escape")
            assert app.screen.__class__.__name__ != "LiveScreen"
    run(go())


def test_escape_cancels_a_schedule_run_now_and_the_screen_stays(root, data):
    big = data / "big.csv"
    with big.open("w") as f:
        f.write("id,name,amount\n")
        for start in range(0, 2_000_000, 100_000):
            f.write("".join(f"{i},name {i},{i * 0.5}\n" for i in range(start, start + 100_000)))

    async def go():
        async with opened(root) as (app, pilot):
            app.lh.schedule_add(str(big), "1d", name="big")
            await open_live(app, pilot)
            await until(pilot, lambda: len(cells(app)) == 1)
            await pilot.press("r")
            await until(pilot, lambda: "running" in shown(app, "#live-log"))
            await pilot.press("escape")
            await until(pilot, lambda: "cancelled" in shown(app, "#live-log"), timeout=60)
            assert app.screen.__class__.__name__ == "LiveScreen"  # escape cancelled; it did not close
            await until(pilot, lambda: "cancelled" in cells(app)[0][5])
            assert "big" not in names(app)
    run(go())


def test_a_restricted_profile_is_refused_in_words(root, tmp_path):
    (root / "lakehouse.toml").write_text(FAST + '[profiles.narrow]\ndatasets = ["people"]\n')
    folder = tmp_path / "else"
    folder.mkdir()

    async def go():
        from app.tui import LakehouseApp

        app = LakehouseApp(home=root, profile="narrow")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await open_live(app, pilot)
            await until(pilot, lambda: "nobody runs them" in shown(app, "#live-title") or
                        "not running" in shown(app, "#live-title"))
            await open_form(app, pilot)
            fill(app, path=str(folder), name="salaries")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "refused:" in shown(app, "#live-add-error"))
            assert "narrow" in shown(app, "#live-add-error") or "salaries" in shown(app, "#live-add-error")
            await pilot.press("escape", "escape", "f6")
            app.run_command(next(a for a in __import__("panes.keys").keys.ACTIONS if a.action == "retention"))
            await until(pilot, lambda: "retention refused" in shown(app, "#system-check"))
            assert "restricted" in shown(app, "#system-check")
    run(go())


CONTRACT = '[contracts.people]\ncolumns = { id = "BIGINT", state = "VARCHAR" }\nunique = ["id"]\n' \
           'accepted = { state = ["CA", "NY"] }\n'


def test_k_checks_the_contracts_and_the_palette_runs_retention(root, data):
    from core import Lakehouse

    (data / "people.csv").write_text("id,state\n1,CA\n1,NY\n2,TX\n3,TX\n")
    with Lakehouse.open(home=root, profile="default") as lh:  # ingested before the contract was written
        lh.ingest(str(data / "people.csv"))
        (data / "fine.csv").write_text("id,state\n1,CA\n")
        lh.ingest(str(data / "fine.csv"))
    (root / "lakehouse.toml").write_text(FAST + CONTRACT + CONTRACT.replace("people", "fine")
                                         + "[retention]\nerrors_days = 30\n")

    async def go():
        async with opened(root) as (app, pilot):
            await pilot.press("f6", "k")
            await until(pilot, lambda: "contract check" in shown(app, "#system-check")
                        and "checking" not in shown(app, "#system-check"))
            text = shown(app, "#system-check")
            assert "fine (version" in text and "keeps its contract" in text
            assert "people" in text and "unique" in text and "accepted" in text and "2 " in text
            await pilot.press("ctrl+p")
            await pilot.press(*"Run retention")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: "retention (job" in shown(app, "#system-check"), timeout=30)
            text = shown(app, "#system-check")
            assert "errors: 0 row(s) older than 30 days removed" in text and "audit: kept forever (0 days)" in text
    run(go())


def test_through_the_daemon_a_schedule_is_added_run_and_paused(root, tmp_path):
    """`tui --connect`: the daemon runs the watches and schedules; the screen says so and drives it."""
    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import config
    from test_daemon import Served

    (tmp_path / "staff.csv").write_text(PEOPLE)
    d = Served(root)
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=root), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                await open_live(app, pilot)
                await until(pilot, lambda: "run by the daemon" in shown(app, "#live-title"))
                await open_form(app, pilot, "schedule")
                fill(app, path=str(tmp_path / "staff.csv"), every="1h", name="staff")
                await pilot.press("ctrl+r")
                await until(pilot, lambda: len(cells(app)) == 1)
                assert cells(app)[0][-1] == "daemon"
                await pilot.press("r")
                await until(pilot, lambda: "schedule 1: ingested" in shown(app, "#live-log"), timeout=60)
                await pilot.press("p")
                await until(pilot, lambda: cells(app)[0][2] == "paused")
        run(go())
    finally:
        d.stop()


def test_hostile_folder_names_are_shown_inert(root, tmp_path):
    folder = tmp_path / "\x1b]0;pwned\x07\x1b[31m[b]markup[" / "b]"  # a path holding [b]markup[/b]
    folder.mkdir(parents=True)

    async def go():
        async with opened(root) as (app, pilot):
            app.lh.watch_add(str(folder), pattern="*[b]*", name="hostile")
            await open_live(app, pilot)
            await until(pilot, lambda: len(cells(app)) == 1)
            row = " ".join(cells(app)[0])
            assert "[b]markup[/b]" in row and "\\x1b" in row and "\x1b" not in row and "\x07" not in row
            await pilot.press("d")
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            question = str(app.screen.query_one(Static).render())
            assert "[b]markup[/b]" in question and "\x1b" not in question
    run(go())


def test_the_palette_loads_the_demo_data_with_progress_and_explore_shows_it(root):
    (root / "lakehouse.toml").write_text(FAST + "[demo]\nscale = 0.001\n")

    async def go():
        async with opened(root) as (app, pilot):
            await pilot.press("ctrl+p")
            await pilot.press(*"Load demo data")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await until(pilot, lambda: app.screen.__class__.__name__ == "DemoScreen")
            assert "scale 0.001" in shown(app, "#demo-info")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "loaded:" in shown(app, "#demo-log"), timeout=120)
            assert "candidates" in shown(app, "#demo-log")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: "candidates" in " ".join(str(n.label) for n in tree.root.children[0].children))
            await pilot.press("escape")
            assert app.screen.__class__.__name__ != "DemoScreen"
    run(go())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_live_screen_snapshot(snap_home, snap_compare, size):  # noqa: F811
    """F6 then w over a watch (on a pattern nothing matches) and a paused schedule."""
    data = snap_home.parent / "data"

    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        app.lh.watch_add(str(data), pattern="*.nothing", name="arrivals")
        s = app.lh.schedule_add(str(data / "staff.csv"), "15m", name="staff_copy")
        app.lh.schedule_pause(s.id)
        await pilot.press("f6", "w")
        await until(pilot, lambda: app.screen.__class__.__name__ == "LiveScreen")
        await until(pilot, lambda: app.screen.query_one("#live-table", DataTable).row_count == 2)
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_add_form_snapshot(snap_home, snap_compare, size):  # noqa: F811
    """The add form as a schedule, after a bad interval was refused."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        await pilot.press("f6", "w")
        await until(pilot, lambda: app.screen.__class__.__name__ == "LiveScreen")
        await stabilise(pilot)  # the status bar masked while it is one modal deep: two deep, it is not redrawn
        await open_form(app, pilot, "schedule")
        fill(app, path=str(snap_home.parent / "data" / "staff.csv"), every="soon", name="staff_copy")
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "refused:" in shown(app, "#live-add-error"))
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)
