"""The ingest screen (app/tui/ingest.py), driven as a user would: ctrl+f from any pane, a
path completed from the folder, a preview of the columns and first rows, the ingest with
its result and the new dataset in Explore; a refusal in one sentence; escape cancelling a
big ingest; a refused schema change taken with schema → accept or a map; a PostgreSQL
table previewed and ingested (in-process and through a daemon; its password never on
screen); snapshots of a preview and of a URL at 80x24 and 160x48."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Select, Static

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


def test_a_refused_schema_change_shows_its_diff_and_is_taken_without_retyping(root, data):
    """A re-ingest that adds a column is refused with the CLI's sentence (its diff); schema →
    accept and ctrl+r take it. A renamed column is taken with the map its sentence offers."""
    (data / "people.csv").write_text("id,first_name,age\n1,Ada,36\n2,Grace,45\n")
    (data / "more.csv").write_text("id,first_name,age,city\n3,Alan,41,Manchester\n")
    (data / "renamed.csv").write_text("id,full_name,age,city\n4,Ada Lovelace,36,London\n")

    async def go():
        async with opened(root, size=(80, 24)) as (app, pilot):
            path = await open_screen(app, pilot)
            path.value = str(data / "people.csv")
            app.screen.query_one("#ingest-name", Input).value = "people"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "ingested" in shown(app, "#ingest-log"))
            path.value = str(data / "more.csv")
            app.screen.query_one("#ingest-mode", Select).value = "append"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "failed" in shown(app, "#ingest-log"))
            log = shown(app, "#ingest-log")
            assert "its columns differ from those of dataset people — added city VARCHAR" in log
            assert "nothing was written" in log and "set schema to accept" in log and "Traceback" not in log
            app.screen.query_one("#ingest-schema", Select).value = "accept"  # nothing else retyped
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "ingested" in shown(app, "#ingest-log"))
            assert "schema changed: added city VARCHAR" in shown(app, "#ingest-log")
            app.screen.query_one("#ingest-schema", Select).value = "refuse"
            path.value = str(data / "renamed.csv")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "failed" in shown(app, "#ingest-log"))
            assert "likely renamed first_name → full_name" in shown(app, "#ingest-log")
            app.screen.query_one("#ingest-map", Input).value = "full_name=first_name"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "ingested" in shown(app, "#ingest-log"))
    run(go())
    from core import Lakehouse

    with Lakehouse.open(home=root, profile="default") as lh:
        rows = lh.sql("SELECT id, first_name, city FROM people ORDER BY id").to_pylist()
    assert rows[2:] == [{"id": 3, "first_name": "Alan", "city": "Manchester"},
                        {"id": 4, "first_name": "Ada Lovelace", "city": "London"}]


def test_the_postgres_row_shows_for_a_url_only_and_its_password_is_masked(root):
    async def go():
        async with opened(root, size=(80, 24)) as (app, pilot):
            path = await open_screen(app, pilot)
            row = app.screen.query_one("#ingest-pg")
            assert not row.display
            path.value = "postgresql://ann:hunter2@db.invalid/sales"
            await until(pilot, lambda: row.display)
            assert "hunter2" not in app.export_screenshot()
            path.value = "/tmp/postgresql"
            await until(pilot, lambda: not row.display)
    run(go())


def _pg_flow(app, pilot, url: str, password: str):
    """Type a URL, see the PostgreSQL row, preview a table, ingest it, see it in Explore."""
    async def go():
        path = await open_screen(app, pilot)
        await pilot.click("#ingest-path")
        await pilot.press(*url)  # typed: the row appears as the URL takes shape
        row = app.screen.query_one("#ingest-pg")
        await until(pilot, lambda: row.display)
        app.screen.query_one("#ingest-table", Input).focus()
        await pilot.press(*"shop_items", "enter")
        await until(pilot, lambda: "columns:" in shown(app, "#ingest-info") or "refused" in shown(app, "#ingest-info"))
        info = shown(app, "#ingest-info")
        assert "postgresql" in info and "→ dataset shop_items" in info and "price DECIMAL(10,2)" in info, info
        assert password not in info and "***" in info
        table = app.screen.query_one("#ingest-rows", DataTable)
        assert table.row_count == 3 and "[b]pen[/b]" in [str(c) for c in table.get_row_at(2)]
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "ingested" in shown(app, "#ingest-log"), timeout=60)
        assert password not in shown(app, "#ingest-log") and password not in app.export_screenshot()
        await until(pilot, lambda: "shop_items" in tree_text(app))
        # a wrong password: the refusal in one sentence, no password
        path.value = url.replace(password, "wrong-" + password)
        await pilot.press("enter")
        await until(pilot, lambda: "refused:" in shown(app, "#ingest-info"), timeout=60)
        info = shown(app, "#ingest-info")
        assert "refused the password" in info and password not in info and "Traceback" not in info
    return go()


@pytest.mark.parametrize("through", ["in-process", "daemon"])
def test_a_postgres_table_is_previewed_and_ingested(root, pg, through):
    from pgserver import PASSWORD

    pg.sql("DROP TABLE IF EXISTS shop_items",
           "CREATE TABLE shop_items (id int4, name text, price numeric(10,2))",
           "INSERT INTO shop_items VALUES (1, 'cup', 2.50), (2, 'mug', 3.75), (3, '[b]pen[/b]', 1.00)")
    url = pg.url(password=True)
    d = None
    if through == "daemon":
        from app.daemon import proxy as remote
        from app.tui import LakehouseApp
        from core import config
        from test_daemon import Served

        d = Served(root)
    try:
        async def go():
            if d is None:
                async with opened(root, size=(80, 24)) as (app, pilot):
                    await _pg_flow(app, pilot, url, PASSWORD)
                return
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=root), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                await _pg_flow(app, pilot, url, PASSWORD)
        run(go())
    finally:
        if d is not None:
            d.stop()
    assert datasets(root) == ["shop_items"]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_ingest_screen_with_a_postgres_url(snap_home, snap_compare, size):  # noqa: F811
    """A URL typed (no server: nothing is previewed): the table/query row shows, the password is dots."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        await pilot.press("f2", "ctrl+f")
        await until(pilot, lambda: app.screen.__class__.__name__ == "IngestScreen")
        app.screen.query_one("#ingest-path", Input).value = "postgresql://ann:hunter2@db.example:5432/sales"
        app.screen.query_one("#ingest-table", Input).value = "public.orders"
        await until(pilot, lambda: app.screen.query_one("#ingest-pg").display)
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


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
