"""Edit with a reason (app/tui/records.py, app/tui/versions.py), driven as a user would: e on
a SQL result's cell edits it with an actor and a reason and h shows the record's history
(old → new, why); d on Explore's sample deletes a record; v lists a dataset's versions,
enter previews restoring one and ctrl+r restores it with a reason; refusals (a join, an
unkeyed dataset, the key left out, no reason, a profile under a policy) are one sentence;
one flow through a daemon; snapshots of each screen at 80x24 and 160x48."""

from __future__ import annotations

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Static

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import opened, run, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PEOPLE = "id,name,city\n1,Ada,London\n2,Grace,Arlington\n3,[b]Alan[/b],Manchester\n"


@pytest.fixture
def root(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text('[profiles.analyst]\ndatasets = ["people"]\n[policies.hr]\n'
                                         'profiles = ["analyst"]\nmasks = { "people.name" = "null" }\n')
    (data / "people.csv").write_text(PEOPLE)
    (data / "teams.csv").write_text("id,team\n1,research\n2,platform\n")
    (data / "notes.csv").write_text("title,body\nfirst,no key here\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest([str(data / "people.csv")], key="id")
        lh.ingest([str(data / "teams.csv")], key="id")
        lh.ingest([str(data / "notes.csv")])
    return home


def rows(home, sql: str) -> list[dict]:
    from core import Lakehouse

    with Lakehouse.open(home=home, profile="default") as lh:
        return lh.sql(sql).to_pylist()


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def text_of(app, wid: str) -> str:
    """The text of a widget of the screen on top ("" while that screen is still composing)."""
    found = app.screen.query(wid)
    return str(found.first(Static).render()) if found else ""


def cells(table: DataTable) -> list[str]:
    return [" ".join(str(c) for c in table.get_row_at(r)) for r in range(table.row_count)]


async def sql_grid(app, pilot, sql: str, row: int = 0, column: int = 0):
    """The SQL pane with `sql` run, the grid focused with its cursor on (row, column)."""
    await pilot.press("f3")
    pane = app.query_one("SqlPane")
    pane._raw = None
    pane.set_query(sql)
    await until(pilot, lambda: pane._raw is not None and bool(pane.query("#sql-table")))
    grid = pane.query_one("#sql-table")
    grid.focus()
    grid.move_cursor(row=row, column=column)
    await pilot.pause()
    return grid


async def fill(app, pilot, **values: str) -> None:
    """Type into the prompt's boxes (record-value, record-actor, record-reason …), then enter in the last."""
    for wid, value in values.items():
        app.screen.query_one(f"#{wid.replace('_', '-')}", Input).value = value
    box = app.screen.query_one(f"#{list(values)[-1].replace('_', '-')}", Input)
    box.focus()
    await pilot.pause()
    await pilot.press("enter")


async def edit_then_history(app, pilot, home) -> None:
    grid = await sql_grid(app, pilot, "SELECT id, city AS town FROM people ORDER BY id", row=0, column=1)
    await pilot.press("e")
    await until(pilot, lambda: app.screen.__class__.__name__ == "RecordScreen")
    assert "London" in text_of(app, "#record-now")
    assert app.screen.query_one("#record-value", Input).value == "London"
    await fill(app, pilot, record_value="Paris", record_actor="ann", record_reason="moved to France")
    await until(pilot, lambda: app.screen.__class__.__name__ != "RecordScreen")
    await until(pilot, lambda: any("updated city" in n for n in notes(app)))
    pane = app.query_one("SqlPane")  # the query ran again: the grid shows the new value
    await until(pilot, lambda: pane._raw is not None and pane._raw.column(1)[0].as_py() == "Paris")
    grid = pane.query_one("#sql-table")
    grid.focus()
    await pilot.press("h")
    await until(pilot, lambda: app.screen.__class__.__name__ == "RecordHistoryScreen")
    await until(pilot, lambda: bool(app.screen.query("#changes-table")))
    shown = cells(app.screen.query_one("#changes-table", DataTable))
    assert any("London → Paris" in r and "moved to France" in r and "ann" in r and "city" in r for r in shown), shown
    await pilot.press("escape")
    await until(pilot, lambda: app.screen.__class__.__name__ != "RecordHistoryScreen")


def test_an_edit_with_a_reason_then_its_history_shows_old_new_and_why(root):
    async def go():
        async with opened(root) as (app, pilot):
            await edit_then_history(app, pilot, root)
    run(go())
    assert rows(root, "SELECT city FROM people WHERE id = 1") == [{"city": "Paris"}]


def test_a_row_deleted_from_explores_sample_after_saying_why(root):
    async def go():
        async with opened(root) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: bool(tree.root.children) and any(
                n.data == ("dataset", "people") for n in tree.root.children[0].children))
            node = next(n for n in tree.root.children[0].children if n.data == ("dataset", "people"))
            tree.focus()
            tree.move_cursor(node)
            await until(pilot, lambda: bool(app.query("#explore-sample RecordGrid")))
            grid = app.query_one("#explore-sample RecordGrid")
            assert grid.raw.num_rows == 3
            grid.focus()
            grid.move_cursor(row=2, column=1)
            await pilot.press("d")
            await until(pilot, lambda: app.screen.__class__.__name__ == "RecordScreen")
            assert "[b]Alan[/b]" in text_of(app, "#record-now")  # the row, literal: not markup
            await fill(app, pilot, record_reason="")
            await until(pilot, lambda: "a reason is needed" in text_of(app, "#record-message"))
            await fill(app, pilot, record_reason="left the company")
            await until(pilot, lambda: app.screen.__class__.__name__ != "RecordScreen")
            await until(pilot, lambda: any("deleted" in n for n in notes(app)))
            # Explore reloads: the sample shows two rows
            await until(pilot, lambda: bool(app.query("#explore-sample RecordGrid"))
                        and app.query_one("#explore-sample RecordGrid").raw.num_rows == 2)
    run(go())
    assert [r["id"] for r in rows(root, "SELECT id FROM people ORDER BY id")] == [1, 2]


@pytest.mark.parametrize("sql, says", [
    ("SELECT p.id, p.city, t.team FROM people p JOIN teams t ON p.id = t.id",
     "this result joins datasets; edit from a query on one keyed dataset"),
    ("SELECT * FROM notes", "notes has no primary key, so its rows are not records to edit — declare one when "
                            "ingesting it"),
    ("SELECT city FROM people", "this result does not hold people's key (id): select it too"),
    ("SELECT id, upper(city) AS c FROM people", "this column is computed by the query"),
    ("SELECT city, count(*) AS n FROM people GROUP BY city", "this result groups rows"),
    ('SELECT * FROM "people@v0"', "these rows are people@v0, an old version of people; edit from a query on the "
                                  "current people"),
])
def test_an_edit_that_is_not_one_record_is_refused_in_one_sentence(root, sql, says):
    async def go():
        async with opened(root) as (app, pilot):
            await sql_grid(app, pilot, sql, row=0, column=1)
            await pilot.press("e")
            await until(pilot, lambda: any(says in n for n in notes(app)))
            assert app.screen.__class__.__name__ != "RecordScreen"
    run(go())


def test_a_hostile_or_huge_value_is_shown_inert_and_edited_whole(root):
    """A cell holding an escape sequence and markup: the prompt shows it literally, the box
    holds it with its control characters made visible; a value too long for the box starts
    it empty and is replaced whole."""
    from core import Lakehouse

    with Lakehouse.open(home=root, profile="default") as lh:
        lh.update("people", "1", {"name": "\x1b]0;pwned\x07[b]Ada[/b]"})
        lh.update("people", "2", {"name": "x" * 5000})

    async def go():
        async with opened(root) as (app, pilot):
            await sql_grid(app, pilot, "SELECT id, name FROM people ORDER BY id", row=0, column=1)
            await pilot.press("e")
            await until(pilot, lambda: app.screen.__class__.__name__ == "RecordScreen")
            box = app.screen.query_one("#record-value", Input)
            assert "\x1b" not in box.value and "␛]0;pwned␇[b]Ada[/b]" == box.value
            assert "\x1b" not in text_of(app, "#record-now") and "[b]Ada[/b]" in text_of(app, "#record-now")
            await pilot.press("escape")
            await until(pilot, lambda: app.screen.__class__.__name__ != "RecordScreen")
            grid = app.query_one("#sql-table")
            grid.focus()
            grid.move_cursor(row=1, column=1)
            await pilot.press("e")
            await until(pilot, lambda: app.screen.__class__.__name__ == "RecordScreen")
            assert app.screen.query_one("#record-value", Input).value == ""
            await fill(app, pilot, record_reason="too long")
            await until(pilot, lambda: "type the new one whole" in text_of(app, "#record-message"))
            await fill(app, pilot, record_value="Grace", record_reason="too long")
            await until(pilot, lambda: app.screen.__class__.__name__ != "RecordScreen")
    run(go())
    assert rows(root, "SELECT name FROM people WHERE id = 2") == [{"name": "Grace"}]


def test_a_profile_under_a_policy_is_refused_the_edit_with_its_sentence(root):
    async def go():
        from app.tui import LakehouseApp

        app = LakehouseApp(home=root, profile="analyst")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await sql_grid(app, pilot, "SELECT id, city FROM people ORDER BY id", row=0, column=1)
            await pilot.press("e")
            await until(pilot, lambda: app.screen.__class__.__name__ == "RecordScreen")
            await fill(app, pilot, record_value="Oslo", record_reason="try")
            await until(pilot, lambda: "may not update people" in text_of(app, "#record-message"))
            assert app.screen.__class__.__name__ == "RecordScreen"  # stays open, nothing written
    run(go())
    assert rows(root, "SELECT city FROM people WHERE id = 1") == [{"city": "London"}]


async def versions_screen(app, pilot, dataset: str = "people"):
    await pilot.press("f2")
    tree = app.query_one("#explore-tree")
    await until(pilot, lambda: bool(tree.root.children) and any(
        n.data == ("dataset", dataset) for n in tree.root.children[0].children))
    tree.focus()
    tree.move_cursor(next(n for n in tree.root.children[0].children if n.data == ("dataset", dataset)))
    await until(pilot, lambda: app.query_one("ExplorePane").selected() == ("dataset", dataset))
    await pilot.press("v")
    await until(pilot, lambda: app.screen.__class__.__name__ == "VersionsScreen")
    await until(pilot, lambda: app.screen.query_one("#versions-table", DataTable).row_count > 0)
    return app.screen.query_one("#versions-table", DataTable)


def test_a_version_is_restored_after_its_preview_and_a_reason(root):
    from core import Lakehouse

    with Lakehouse.open(home=root, profile="default") as lh:
        lh.update("people", "1", {"city": "Paris"}, actor="ann", reason="moved")  # v1
        lh.delete("people", "2", actor="ann", reason="left")  # v2

    async def go():
        async with opened(root) as (app, pilot):
            table = await versions_screen(app, pilot)
            shown = cells(table)
            assert len(shown) == 3 and "v2 (current)" in shown[0] and "1 deleted" in shown[0] and "left" in shown[0]
            table.move_cursor(row=2)  # v0, the ingest
            await pilot.press("enter")
            await until(pilot, lambda: app.screen.__class__.__name__ == "RestoreScreen")
            await until(pilot, lambda: "would" in text_of(app, "#restore-preview"))
            preview = text_of(app, "#restore-preview")
            assert "bring back 1 row, remove 0 and change 1" in preview
            assert "1: city 'Paris' → 'London'" in preview and '"Grace"' in preview
            await pilot.press("ctrl+r")  # no reason yet
            await until(pilot, lambda: "a reason is needed" in text_of(app, "#restore-message"))
            app.screen.query_one("#restore-reason", Input).value = "undo the edits"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.screen.__class__.__name__ == "VersionsScreen")
            await until(pilot, lambda: any("restored version 0" in n for n in notes(app)))
            await until(pilot, lambda: "v3 (current)" in cells(app.screen.query_one("#versions-table", DataTable))[0])
            assert "undo the edits" in cells(app.screen.query_one("#versions-table", DataTable))[0]
            # the current version's own preview: nothing to restore
            app.screen.query_one("#versions-table", DataTable).move_cursor(row=0)
            await pilot.press("enter")
            await until(pilot, lambda: "would change nothing" in text_of(app, "#restore-preview"))
            app.screen.query_one("#restore-reason", Input).value = "again"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "is the current one" in text_of(app, "#restore-message"))
    run(go())
    assert rows(root, "SELECT id, city FROM people ORDER BY id") == [
        {"id": 1, "city": "London"}, {"id": 2, "city": "Arlington"}, {"id": 3, "city": "Manchester"}]


def test_the_palette_reaches_versions_from_any_pane_and_history_says_where_to_stand(root):
    from panes.keys import ACTIONS

    def command(title: str):
        return next(a for a in ACTIONS if a.command == title)

    async def go():
        async with opened(root) as (app, pilot):
            await pilot.press("f1")
            app.run_command(command("Record history"))
            await until(pilot, lambda: any("put the cursor on a row of a result grid" in n for n in notes(app)))
            app.run_command(command("Dataset versions"))
            await until(pilot, lambda: app.screen.__class__.__name__ == "DatasetPicker")
            await pilot.press("t", "e", "a", "enter")  # filtered to teams
            await until(pilot, lambda: app.screen.__class__.__name__ == "VersionsScreen")
            assert app.screen.dataset == "teams"
            await until(pilot, lambda: app.screen.query_one("#versions-table", DataTable).row_count == 1)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen.__class__.__name__ != "VersionsScreen")
            await sql_grid(app, pilot, "SELECT * FROM people ORDER BY id", row=0, column=2)
            app.run_command(command("Record history"))
            await until(pilot, lambda: app.screen.__class__.__name__ == "RecordHistoryScreen")
            await until(pilot, lambda: "no change to this record is journaled" in text_of(app, "#changes-message"))
    run(go())


def test_through_the_daemon_an_edit_and_its_history(root):
    """`tui --connect`: the edit and the history go through the daemon's facade, at 80x24."""
    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import config
    from test_daemon import Served

    d = Served(root)
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=root), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                await edit_then_history(app, pilot, root)
        run(go())
    finally:
        d.stop()
    assert rows(root, "SELECT city FROM people WHERE id = 1") == [{"city": "Paris"}]


# -- snapshots: each screen at 80x24 and 160x48 -------------------------------------------------
async def _ready(pilot) -> None:
    """The facade open and the status bar filled, its Ollama URL masked."""
    app = pilot.app
    await until(pilot, lambda: app.lh is not None)
    await until(pilot, lambda: "Ollama" in str(app.query_one("#status", Static).render()))
    await stabilise(pilot)  # masked while it is in front: a screen two modals down is not redrawn


def _mask_times(table: DataTable, column: int) -> None:
    for r in range(table.row_count):
        table.update_cell_at(Coordinate(r, column), "YYYY-MM-DD hh:mm:ss")


async def _snap_grid(pilot, action: str) -> None:
    app = pilot.app
    await _ready(pilot)
    grid = await sql_grid(app, pilot, "SELECT id, name, city FROM staff ORDER BY id", row=1, column=2)
    assert grid is not None
    await pilot.press(action)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
@pytest.mark.parametrize("action", ["e", "d"])
def test_snapshot_edit_and_delete_prompts(snap_home, snap_compare, size, action):  # noqa: F811
    async def run_before(pilot) -> None:
        await _snap_grid(pilot, action)
        app = pilot.app
        await until(pilot, lambda: app.screen.__class__.__name__ == "RecordScreen")
        app.screen.query_one("#record-actor", Input).value = "ann"
        app.screen.query_one("#record-reason", Input).value = "a [b]reason[/b]"
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_snapshot_record_history(snap_home, snap_compare, size):  # noqa: F811
    async def run_before(pilot) -> None:
        app = pilot.app
        await _ready(pilot)
        app.lh.update("staff", "2", {"city": "Paris"}, actor="ann", reason="moved to France")
        await _snap_grid(pilot, "h")
        await until(pilot, lambda: bool(app.screen.query("#changes-table")))
        _mask_times(app.screen.query_one("#changes-table", DataTable), 0)
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
@pytest.mark.parametrize("screen", ["versions", "restore"])
def test_snapshot_versions_and_restore_preview(snap_home, snap_compare, size, screen):  # noqa: F811
    async def run_before(pilot) -> None:
        app = pilot.app
        await _ready(pilot)
        app.lh.update("staff", "2", {"city": "Paris"}, actor="ann", reason="moved to France")
        app.lh.delete("staff", "5", actor="ann", reason="retired")
        await settle(pilot)
        table = await versions_screen(app, pilot, "staff")
        _mask_times(table, 1)  # behind the preview too
        if screen == "restore":
            table.move_cursor(row=table.row_count - 1)
            await pilot.press("enter")
            await until(pilot, lambda: app.screen.__class__.__name__ == "RestoreScreen")
            await until(pilot, lambda: "would" in text_of(app, "#restore-preview"))
            app.screen.query_one("#restore-actor", Input).value = "ann"
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)
