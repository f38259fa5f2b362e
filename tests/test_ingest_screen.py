"""The ingest screen (app/tui/ingest.py), driven as a user would: ctrl+f from any pane, a
path completed from the folder, a preview of the columns and first rows, the ingest with
its result and the new dataset in Explore; a refusal in one sentence; escape cancelling a
big ingest; snapshots of a preview at 80x24 and 160x48."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Static

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import opened, run, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PEOPLE = "id,name,city\n1,Ada,London\n2,Grace,Arlington\n3,[b]Alan[/b],Manchester\n"


def shown(app, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).render())


def tree_text(app) -> str:
    tree = app.query_one("#explore-tree")
    return " ".join(str(n.label) for n in tree.root.children[0].children) if tree.root.children else ""


def datasets(home) -> list[str]:
    from core import Lakehouse

    with Lakehouse.open(home=home, profile="default") as lh:
        return [d.name for d in lh.datasets()]


@pytest.fixture
def root(home):
    home.mkdir(parents=True, exist_ok=True)
    return home


async def open_screen(app, pilot, key_from: str = "f2") -> Input:
    await pilot.press(key_from, "ctrl+f")
    await until(pilot, lambda: app.screen.__class__.__name__ == "IngestScreen")
    return app.screen.query_one("#ingest-path", Input)


def test_a_csv_is_completed_previewed_ingested_and_shows_in_explore(root, data):
    (data / "people.csv").write_text(PEOPLE)

    async def go():
        async with opened(root) as (app, pilot):
            path = await open_screen(app, pilot)
            assert app.screen.focused is path
            path.value = f"{data}/"
            path.cursor_position = len(path.value)
            await pilot.press("p", "e")  # typed: the folder's file is suggested; → takes it
            await until(pilot, lambda: path._suggestion == f"{data}/people.csv")
            await pilot.press("right")
            assert path.value == f"{data}/people.csv"
            await pilot.press("enter")
            await until(pilot, lambda: "columns:" in shown(app, "#ingest-info"))
            info = shown(app, "#ingest-info")
            assert "→ dataset people" in info and "id BIGINT" in info and "city VARCHAR" in info
            table = app.screen.query_one("#ingest-rows", DataTable)
            assert table.row_count == 3
            cells = [str(c) for c in table.get_row_at(2)]
            assert "[b]Alan[/b]" in cells  # literal text, not markup
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "ingested" in shown(app, "#ingest-log"))
            assert "people" in shown(app, "#ingest-log")
            await until(pilot, lambda: "people" in tree_text(app))  # Explore reloaded behind the screen
            await pilot.press("escape")
            assert app.screen.__class__.__name__ != "IngestScreen"
    run(go())
    assert datasets(root) == ["people"]


def test_a_refusal_is_one_sentence_and_writes_nothing(root, data):
    (data / "empty.csv").write_text("")
    (data / "odd.xyz").write_text("what is this\n")

    async def go():
        async with opened(root) as (app, pilot):
            path = await open_screen(app, pilot, key_from="f3")  # from the SQL editor too
            for bad, words in ((data / "empty.csv", "is empty"), (data / "odd.xyz", "odd.xyz")):
                path.value = str(bad)
                await pilot.press("enter")
                await until(pilot, lambda: "refused:" in shown(app, "#ingest-info"))
                info = shown(app, "#ingest-info")
                assert words in info and "Traceback" not in info and "\n" not in info.strip()
                assert app.screen.query_one("#ingest-rows", DataTable).row_count == 0
                app.screen._info("")  # the next refusal must be its own
            path.value = str(data / "empty.csv")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "failed" in shown(app, "#ingest-log") or "empty" in shown(app, "#ingest-log"))
    run(go())
    assert datasets(root) == []


def test_escape_cancels_a_big_ingest_and_leaves_no_dataset(root, data):
    big = data / "big.csv"
    with big.open("w") as f:
        f.write("id,name,amount\n")
        for start in range(0, 2_000_000, 100_000):
            f.write("".join(f"{i},name {i},{i * 0.5}\n" for i in range(start, start + 100_000)))

    async def go():
        async with opened(root) as (app, pilot):
            path = await open_screen(app, pilot)
            path.value = str(big)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "ingesting" in shown(app, "#ingest-log"))
            await pilot.press("escape")
            await until(pilot, lambda: "cancelled" in shown(app, "#ingest-log"), timeout=60)
            assert app.screen.__class__.__name__ == "IngestScreen"  # escape cancelled; it did not close
    run(go())
    assert datasets(root) == []


def test_through_the_daemon_a_preview_and_an_ingest_work(root, data):
    """`lakehouse tui --connect`: the screen drives the daemon's facade (preview, ingest with
    progress, results), at 80x24."""
    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import config
    from test_daemon import Served

    (data / "people.csv").write_text(PEOPLE)
    d = Served(root)
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=root), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                path = await open_screen(app, pilot)
                path.value = str(data / "people.csv")
                await pilot.press("enter")
                await until(pilot, lambda: app.screen.query_one("#ingest-rows", DataTable).row_count == 3)
                await pilot.press("ctrl+r")
                await until(pilot, lambda: "ingested" in shown(app, "#ingest-log"))
                await until(pilot, lambda: "people" in tree_text(app))
        run(go())
    finally:
        d.stop()
    assert datasets(root) == ["people"]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_ingest_screen_with_a_preview(snap_home, snap_compare, size):  # noqa: F811
    """ctrl+f, the fixture's staff.csv previewed: summary, columns and types, first rows."""
    csv = snap_home.parent / "data" / "staff.csv"

    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        await pilot.press("f2", "ctrl+f")
        await until(pilot, lambda: app.screen.__class__.__name__ == "IngestScreen")
        app.screen.query_one("#ingest-path", Input).value = str(csv)
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query_one("#ingest-rows", DataTable).row_count == 6)
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)
