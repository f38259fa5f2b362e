"""The embed screen (app/tui/embed.py) and an index's generations (app/tui/indexes.py),
driven as a user would: e on a text column opens the form prefilled with the defaults, an
embed with other settings makes a generation with them, escape cancels a running embed
and leaves no generation; g (Trials, Explore, the palette) shows the generations with their
figures; promote, roll back, drop (asked first; the active one refused in its sentence),
verify (sound, then a damaged file), rebuild and refresh as jobs, auto-refresh off and on;
one flow through a daemon; snapshots of both screens at 80x24 and 160x48."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import opened, run, until
from vector_data import write_profiles

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def shown(app, wid: str) -> str:
    """What a Static of the screen in front says ("" while that screen is still being made)."""
    found = app.screen.query(wid)
    return str(found.first(Static).render()) if found else ""


def gens(app) -> int:
    """The rows of the generations table in front (0 while it is still being made)."""
    found = app.screen.query("#index-gens")
    return found.first(DataTable).row_count if found else 0


def screen_is(app, name: str) -> bool:
    return type(app.screen).__name__ == name


@pytest.fixture
def people_home(home, data):
    """A dataset `people` (300 rows keyed by person_id) with no index."""
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write_profiles(data / "people.csv", 300), key="person_id")
    return home


@pytest.fixture
def two_gens(people_home):
    """Index `people`: g1 (M 16, active, measured by a trial) and g2 (M 8, ready, not active)."""
    from core import Lakehouse

    with Lakehouse.open(home=people_home, profile="default") as lh:
        lh.embed("people", "profile", index="people", embedder="hashing")
        lh.eval_create("people", queries=20)
        lh.trial("people", 16, 80, [64])
        lh.embed("people", "profile", index="people", embedder="hashing", m=8, ef_construction=40, promote=False)
    return people_home


async def embed_form(app, pilot, dataset: str = "people", column: str = "profile"):
    """Explore, the dataset expanded, the cursor on its column, e: the embed screen."""
    await pilot.press("f2")
    tree = app.query_one("#explore-tree")
    await until(pilot, lambda: tree.root.children and any(
        n.data == ("dataset", dataset) for n in tree.root.children[0].children))
    node = next(n for n in tree.root.children[0].children if n.data == ("dataset", dataset))
    node.expand()
    await until(pilot, lambda: any(c.data == ("column", dataset, column) for c in node.children))
    tree.focus()
    tree.move_cursor(next(c for c in node.children if c.data == ("column", dataset, column)))
    await pilot.press("e")
    await until(pilot, lambda: screen_is(app, "EmbedScreen"))
    await until(pilot, lambda: app.screen.query_one("#embed-m", Input).value != "")
    return app.screen


def put(screen, **values) -> None:
    for wid, value in values.items():
        widget = screen.query_one(f"#embed-{wid}")
        widget.value = value


async def index_screen_from_trials(app, pilot, index: str = "people"):
    await pilot.press("f4")
    p = app.pane("trials")
    await until(pilot, lambda: p.index == index and getattr(p, "info", None) is not None)
    p.query_one("#trials-table").focus()
    await pilot.press("g")
    await until(pilot, lambda: screen_is(app, "IndexScreen"))
    await until(pilot, lambda: gens(app) > 0)
    return app.screen


def test_the_form_is_prefilled_and_an_embed_with_other_settings_makes_them(people_home, ollama):
    """Defaults from the config (index DATASET_COLUMN, the primary key, chunking, HNSW); a
    bad number refused in a sentence; then another name, Ollama's embedder (the stand-in),
    smaller chunks and other HNSW settings: the generation has them."""
    async def go():
        async with opened(people_home) as (app, pilot):
            s = await embed_form(app, pilot)
            values = {w: s.query_one(f"#embed-{w}", Input).value
                      for w in ("index", "key", "chunk_size", "overlap", "m", "ef_construction", "ef_search")}
            assert values == {"index": "people_profile", "key": "person_id", "chunk_size": "1000", "overlap": "150",
                              "m": "16", "ef_construction": "80", "ef_search": "64"}
            assert s.query_one("#embed-model", Input).value == "nomic-embed-text"
            put(s, index="ppl", m="eight")
            await pilot.press("ctrl+r")
            assert "refused: M must be a whole number" in shown(app, "#embed-log")
            assert "ppl" not in [i.name for i in app.lh.indexes()]
            put(s, chunk_size="300", overlap="30", m="8", ef_construction="40", ef_search="20", embedder="ollama")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "embedded:" in shown(app, "#embed-log"), timeout=60)
            log = shown(app, "#embed-log")
            assert "ppl g1" in log and "300 rows" in log and "active: g1" in log
            g = app.lh.index("ppl").active
            assert (g.provider, g.model, g.chunk_size, g.overlap, g.m, g.ef_construction, g.ef_search) == (
                "ollama", "nomic-embed-text:latest", 300, 30, 8, 40, 20)  # the stand-in's model, by its full name
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: any(n.data == ("index", "ppl") for n in tree.root.children[1].children))
            await pilot.press("escape")
            assert not screen_is(app, "EmbedScreen")
    run(go())


def test_escape_cancels_a_running_embed_and_no_generation_is_made(people_home, monkeypatch):
    from core import Lakehouse

    monkeypatch.setenv("LAKEHOUSE_TEST_PAUSE_AT", "embed:batches")  # the job waits after its first batch

    async def go():
        async with opened(people_home) as (app, pilot):
            s = await embed_form(app, pilot)
            put(s, embedder="hashing")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "test pause" in shown(app, "#embed-log"), timeout=60)
            await pilot.press("escape")
            await until(pilot, lambda: "cancelled" in shown(app, "#embed-log"), timeout=60)
            assert screen_is(app, "EmbedScreen")  # escape cancelled; it did not close
            assert "no generation was made" in shown(app, "#embed-log")
            await pilot.press("escape")
            assert not screen_is(app, "EmbedScreen")
    run(go())
    with Lakehouse.open(home=people_home, profile="default") as lh:
        info = lh.index("people_profile")
        assert info.active_gen is None and not [g for g in info.generations if g.status == "ready"]
        assert [j.status for j in lh.jobs(5) if j.kind == "embed"] == ["cancelled"]


def test_generations_promote_roll_back_and_drop_with_a_confirmation(two_gens):
    async def go():
        async with opened(two_gens) as (app, pilot):
            s = await index_screen_from_trials(app, pilot)
            table = s.query_one("#index-gens", DataTable)
            rows = [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]
            assert [r[:2] for r in rows] == [["g2", "ready"], ["g1", "● active"]]  # newest first; a word
            assert rows[0][7:10] == ["8", "40", "64"] and rows[1][7:10] == ["16", "80", "64"]
            assert rows[1][11] != "-" and rows[0][11] == "-"  # g1's recall, from its trial; g2 unmeasured
            assert "g1 active" in shown(app, "#index-head") and "auto-refresh on" in shown(app, "#index-head")
            table.move_cursor(row=0)
            await pilot.press("p")
            await until(pilot, lambda: "promoted:" in shown(app, "#index-log"))
            assert app.lh.index("people").active_gen == 2
            await until(pilot, lambda: str(table.get_row_at(0)[1]) == "● active")
            await pilot.press("b")
            await until(pilot, lambda: "rolled back:" in shown(app, "#index-log"))
            assert app.lh.index("people").active_gen == 1
            await until(pilot, lambda: str(table.get_row_at(1)[1]) == "● active")
            table.move_cursor(row=1)
            await pilot.press("d")  # the active generation: refused in its sentence, nothing asked
            assert "refused: g1 is the active generation" in shown(app, "#index-log")
            assert screen_is(app, "IndexScreen")
            table.move_cursor(row=0)
            await pilot.press("d")
            await until(pilot, lambda: screen_is(app, "Confirm"))
            await pilot.press("n")
            await until(pilot, lambda: screen_is(app, "IndexScreen"))
            assert len(app.lh.index("people").generations) == 2
            await pilot.press("d")
            await until(pilot, lambda: screen_is(app, "Confirm"))
            await pilot.press("y")
            await until(pilot, lambda: "dropped:" in shown(app, "#index-log"))
            assert [g.gen for g in app.lh.index("people").generations] == [1]
            await until(pilot, lambda: table.row_count == 1)
            await pilot.press("b")  # nothing left to return to: the core's sentence
            await until(pilot, lambda: "refused:" in shown(app, "#index-log"))
            assert "no earlier generation" in shown(app, "#index-log")
    run(go())


def test_verify_a_damaged_file_rebuild_it_and_refresh(two_gens):
    """v says the files are sound; a corrupted graph file is named; r rebuilds it (a job) and v
    is sound again; a toggles auto-refresh; f refreshes (a job: nothing changed)."""
    from core.vectors import store

    async def go():
        async with opened(two_gens) as (app, pilot):
            s = await index_screen_from_trials(app, pilot)
            table = s.query_one("#index-gens", DataTable)
            table.move_cursor(row=1)  # g1
            await pilot.press("v")
            await until(pilot, lambda: "verified:" in shown(app, "#index-log"))
            graph = store.gen_dir(Path(app.lh.root), "people", 1) / store.HNSW
            data = bytearray(graph.read_bytes())
            data[len(data) // 2] ^= 0xFF
            graph.write_bytes(bytes(data))
            await pilot.press("v")
            await until(pilot, lambda: "damaged:" in shown(app, "#index-log"))
            assert "hnsw.bin is corrupt" in shown(app, "#index-log")
            await pilot.press("r")
            await until(pilot, lambda: "rebuilt:" in shown(app, "#index-log"), timeout=60)
            assert [j.status for j in app.lh.jobs(10) if j.kind == "rebuild"] == ["succeeded"]
            await pilot.press("v")
            await until(pilot, lambda: "verified:" in shown(app, "#index-log"))
            await pilot.press("a")
            await until(pilot, lambda: "auto-refresh: off" in shown(app, "#index-log"))
            assert app.lh.index("people").auto_refresh is False
            await until(pilot, lambda: "auto-refresh off" in shown(app, "#index-head"))
            await pilot.press("a")
            await until(pilot, lambda: app.lh.index("people").auto_refresh is True)
            await pilot.press("f")
            await until(pilot, lambda: "up-to-date:" in shown(app, "#index-log"), timeout=60)
            await pilot.press("escape")
            assert not screen_is(app, "IndexScreen")
    run(go())


def test_from_explore_and_the_palette(two_gens):
    """g on an index node in Explore; the palette's "Index generations" picks one first."""
    async def go():
        async with opened(two_gens) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: len(tree.root.children) > 1 and tree.root.children[1].children)
            tree.focus()
            tree.move_cursor(tree.root.children[1].children[0])
            await pilot.press("g")
            await until(pilot, lambda: screen_is(app, "IndexScreen"))
            assert app.screen.index_name == "people"
            await pilot.press("escape")
            app.action_index_generations()
            await until(pilot, lambda: screen_is(app, "IndexPicker"))
            await pilot.press("enter")
            await until(pilot, lambda: screen_is(app, "IndexScreen"))
            await until(pilot, lambda: gens(app) == 2)
            await pilot.press("escape")
            from app.tui.indexes import IndexScreen

            app.push_screen(IndexScreen("gone"))  # dropped by another shell meanwhile: its sentence
            await until(pilot, lambda: "cannot show it:" in shown(app, "#index-log"))
            assert "no index named 'gone'" in shown(app, "#index-log")
            await pilot.press("p", "v", "r")  # nothing to act on: no traceback, still here
            assert screen_is(app, "IndexScreen")
    run(go())


def test_through_the_daemon_embed_then_promote_and_rebuild(two_gens):
    """`tui --connect`: the embed form and the generations drive the daemon's facade, at 80x24."""
    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import config
    from test_daemon import Served

    d = Served(two_gens)
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=two_gens), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                s = await embed_form(app, pilot)
                assert s.query_one("#embed-index", Input).value == "people_profile"
                put(s, index="people", embedder="hashing", m="12", ef_search="32")
                await pilot.press("ctrl+r")
                await until(pilot, lambda: "embedded:" in shown(app, "#embed-log"), timeout=60)
                assert "people g3" in shown(app, "#embed-log") and "not promoted: g1 stays active" in shown(
                    app, "#embed-log")
                await pilot.press("escape")
                await pilot.press("f4")
                s = await index_screen_from_trials(app, pilot)
                table = s.query_one("#index-gens", DataTable)
                await until(pilot, lambda: table.row_count == 3)
                g3 = app.lh.index("people").generations[-1]
                assert (g3.gen, g3.m, g3.ef_search) == (3, 12, 32)
                table.move_cursor(row=0)
                await pilot.press("p")
                await until(pilot, lambda: app.lh.index("people").active_gen == 3)
                await pilot.press("r")
                await until(pilot, lambda: "rebuilt:" in shown(app, "#index-log"), timeout=60)
        run(go())
    finally:
        d.stop()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_embed_screen(snap_home, snap_compare, size):  # noqa: F811
    """e on staff.name: the form with the config's defaults."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        await embed_form(app, pilot, "staff", "name")
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_index_screen(snap_home, snap_compare, size, monkeypatch):  # noqa: F811
    """g on an index of staff.name with two generations: the table and the heading."""
    import app.tui.indexes
    from core import Lakehouse

    monkeypatch.setattr(app.tui.indexes, "when", lambda ts: "YYYY-MM-DD hh:mm")  # the one run-dependent cell
    with Lakehouse.open(home=snap_home, profile="default") as lh:
        lh.embed("staff", "name", index="staff_name", embedder="hashing")
        lh.embed("staff", "name", index="staff_name", embedder="hashing", m=8, ef_construction=40, promote=False)

    async def run_before(pilot) -> None:
        tui = pilot.app
        await until(pilot, lambda: tui.lh is not None)
        await settle(pilot)
        await pilot.press("f2")
        tree = tui.query_one("#explore-tree")
        await until(pilot, lambda: len(tree.root.children) > 1 and tree.root.children[1].children)
        tree.focus()
        tree.move_cursor(tree.root.children[1].children[0])
        await pilot.press("g")
        await until(pilot, lambda: screen_is(tui, "IndexScreen"))
        await until(pilot, lambda: gens(tui) == 2)
        await stabilise(pilot)

    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)


def test_names_and_sentences_are_shown_as_literal_text():
    """A column, model or note with markup or an escape sequence is shown as typed, inert."""
    from app.tui.embed import result_text
    from app.tui.indexes import heading
    from core.models import EmbedResult, IndexInfo

    hostile = "[b]x[/b]\x1b]0;pwn\x07"
    r = EmbedResult("ix", 2, "ds", hostile, f"ollama {hostile}", hostile, 3, 4, 4, 0, 0, 0, False, 1, 0.1, False)
    text = result_text(r).plain
    assert "[b]x[/b]" in text and "\x1b" not in text and "not promoted: g1 stays active" in text
    info = IndexInfo("ix", "ds", hostile, [hostile], None, [], 3)
    plain = heading(info).plain
    assert "over ds.[b]x[/b]" in plain and "\x1b" not in plain and "no active generation" in plain


def test_escape_cancels_a_refresh_and_the_active_generation_stays(two_gens, data, monkeypatch):
    """New rows make the index stale (said in the heading); f re-embeds them as a job, escape
    cancels it mid-way: the screen stays, says so, and g1 is still the active generation."""
    from core import Lakehouse

    with Lakehouse.open(home=two_gens, profile="default") as lh:
        lh.ingest(write_profiles(data / "more.csv", 50, start=300), name="people", mode="append")
    monkeypatch.setenv("LAKEHOUSE_TEST_PAUSE_AT", "embed:batches")

    async def go():
        async with opened(two_gens) as (app, pilot):
            await index_screen_from_trials(app, pilot)
            assert "stale: the dataset changed since" in shown(app, "#index-head")
            await pilot.press("f")
            await until(pilot, lambda: "test pause" in shown(app, "#index-log"), timeout=60)
            await pilot.press("escape")
            await until(pilot, lambda: "cancelled" in shown(app, "#index-log"), timeout=60)
            assert screen_is(app, "IndexScreen")
            assert app.lh.index("people").active_gen == 1
            assert [j.status for j in app.lh.jobs(5) if j.kind == "embed"][:1] == ["cancelled"]
    run(go())


def test_a_column_that_is_not_text_is_refused_in_its_sentence(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await embed_form(app, pilot, column="years")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "refused:" in shown(app, "#embed-log"), timeout=60)
            log = shown(app, "#embed-log")
            assert "'years'" in log and "not text" in log and "Traceback" not in log
            assert app.lh.indexes() == [] and screen_is(app, "EmbedScreen")
    run(go())
