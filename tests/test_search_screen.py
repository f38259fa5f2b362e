"""The search screen (app/tui/search.py), driven as a user would: s in Explore on an index,
a query with a where filter (its column completed), only matching hits; a bad where and an
unreachable Ollama said in one sentence; enter on a hit and ctrl+l opening rows in the SQL
pane; two generations compared with their overlap@k; hostile passages shown inert; the
same through a daemon; snapshots with hits at 80x24 and 160x48."""

from __future__ import annotations

import csv

import pytest
from textual.widgets import DataTable, Input, Static, Tree

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import message, opened, run, until
from vector_data import write_profiles

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

QUERY = "kubernetes terraform migration"
HOSTILE = "Worker evil kubernetes terraform migration \x1b[31mred\x1b]0;owned\x07 [b]bold[/b] [link=x]y[/link]"


@pytest.fixture
def indexed(home, data):
    """`people` (300 profiles and one hostile row, keyed by person_id) with an index `people`
    of two ready generations (hashing, other chunk sizes)."""
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    path = write_profiles(data / "people.csv", 300)
    with path.open("a", newline="") as f:
        csv.writer(f).writerow(["P99999", "IL", 3, HOSTILE])
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(path, key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
        lh.embed("people", "profile", index="people", embedder="hashing", chunk_size=100, overlap=10)
    return home


def screen_text(app, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).render())


def cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_search(app, pilot, on: str | None = "people"):
    """F2, the cursor on index `on` (None: on the catalog's root), then s."""
    await pilot.press("f2")
    tree = app.query_one("#explore-tree", Tree)
    await until(pilot, lambda: len(tree.root.children) >= 2 and tree.root.children[1].children)
    if on is not None:
        node = next(n for n in tree.root.children[1].children if n.data == ("index", on))
        tree.move_cursor(node)
    await pilot.press("s")
    await until(pilot, lambda: type(app.screen).__name__ == "SearchScreen")
    await until(pilot, lambda: app.screen._index() is not None)
    return app.screen


async def search(app, pilot, text: str, where: str = "") -> None:
    app.screen.query_one("#search-where", Input).value = where
    box = app.screen.query_one("#search-query", Input)
    box.value = text
    box.focus()
    before = app.screen._seq
    await pilot.press("enter")
    await until(pilot, lambda: app.screen._seq > before and "searching" not in screen_text(app, "#search-info"))


def test_a_where_filter_keeps_only_matching_hits_and_completes_columns(indexed):
    async def go():
        async with opened(indexed, size=(120, 36)) as (app, pilot):
            s = await open_search(app, pilot)
            where = s.query_one("#search-where", Input)
            where.focus()
            await pilot.press(*"st")
            await until(pilot, lambda: where._suggestion == "state")
            await pilot.press("right")
            assert where.value == "state"
            await pilot.press(*" = 'IL' and ye")  # the last word, after a condition
            await until(pilot, lambda: where._suggestion == "state = 'IL' and years")
            await search(app, pilot, QUERY, "state = 'IL' AND years < 20")
            table = s.query_one("#search-a", DataTable)
            assert table.row_count == 10 and app.focused is table
            assert all(h.row["state"] == "IL" and h.row["years"] < 20 for h in s._shown["search-a"])
            header = [str(c.label) for c in table.columns.values()]
            assert header[:3] == ["#", "score", "passage"] and "state" in header and "profile" not in header
            assert all(row[header.index("state")] == "IL" for row in cells(table))
            info = screen_text(app, "#search-info")
            assert "people g1" in info and "pass the where" in info and "10 hit(s)" in info
            assert s._shown["search-a"][0].row_key in screen_text(app, "#search-detail")  # the top hit in full
            s.query_one("#search-k", Input).value = "3"  # k from its box; no where: every row
            await search(app, pilot, QUERY)
            assert table.row_count == 3 and "pass the where" not in screen_text(app, "#search-info")
            await pilot.press("escape")
            assert type(app.screen).__name__ != "SearchScreen"
    run(go())


def test_a_bad_where_an_unknown_column_and_an_empty_query_are_one_sentence(indexed):
    async def go():
        async with opened(indexed, size=(80, 24)) as (app, pilot):
            s = await open_search(app, pilot)
            await search(app, pilot, QUERY)
            assert s.query_one("#search-a", DataTable).row_count == 10
            for where, words in (("state = ", "does not parse"), ("nosuch = 1", "nosuch"),
                                 ("1; DROP TABLE people", "does not parse")):
                await search(app, pilot, QUERY, where)
                info = screen_text(app, "#search-info")
                assert info.startswith("refused: ") and words in info, info
                assert "Traceback" not in info and "\n" not in info.strip()
                assert s.query_one("#search-a", DataTable).row_count == 0  # no stale hits under a refusal
            await search(app, pilot, "   ")
            assert "search text is empty" in screen_text(app, "#search-info")
            s.query_one("#search-k", Input).value = "0"
            await search(app, pilot, QUERY)
            assert "k must be between 1" in screen_text(app, "#search-info")
    run(go())
    from core import Lakehouse

    with Lakehouse.open(home=indexed, profile="default") as lh:  # the hostile where changed nothing
        assert lh.sql("SELECT count(*) AS n FROM people").column(0)[0].as_py() == 301


def test_enter_on_a_hit_opens_its_row_in_sql_and_ctrl_l_opens_them_all(indexed):
    async def go():
        async with opened(indexed, size=(120, 36)) as (app, pilot):
            s = await open_search(app, pilot)
            await search(app, pilot, QUERY, "state = 'CA'")
            await pilot.press("down")  # the second hit
            key = s._shown["search-a"][1].row_key
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ != "SearchScreen")
            assert app.query_one("TabbedContent").active == "sql"
            await until(pilot, lambda: "1 row in" in message(app))
            assert app.query_one("#sql-table").get_row_at(0)[0] == key
            assert key in app.query_one("#sql-editor").text

            s = await open_search(app, pilot)
            await search(app, pilot, QUERY, "state = 'CA'")
            keys = {h.row_key for h in s._shown["search-a"]}
            assert len(keys) == 10
            await pilot.press("ctrl+l")
            await until(pilot, lambda: type(app.screen).__name__ != "SearchScreen")
            await until(pilot, lambda: "10 rows in" in message(app))
            sql_table = app.query_one("#sql-table")
            assert {sql_table.get_row_at(i)[0] for i in range(10)} == keys
    run(go())


def test_compare_shows_two_generations_side_by_side_with_their_overlap(indexed):
    async def go():
        async with opened(indexed, size=(160, 48)) as (app, pilot):
            s = await open_search(app, pilot, on=None)  # the root: the first index
            await pilot.press("ctrl+t")
            assert s.compare and not s.query_one("#search-b").has_class("-hidden")
            gens = (s.query_one("#search-gen-a").value, s.query_one("#search-gen-b").value)
            assert gens == ("people@g1", "people@g2")  # the active one, and the other
            await search(app, pilot, QUERY)
            want = app.lh.compare("people@g1", "people@g2", QUERY, 10)
            both = len({h.row_key for h in want["a"].hits} & {h.row_key for h in want["b"].hits})
            info = screen_text(app, "#search-info")
            assert f"overlap@10: {both} of the top 10 rows are in both ({want['overlap']:.0%})" in info
            left, right = (cells(s.query_one(w, DataTable)) for w in ("#search-a", "#search-b"))
            assert len(left) == len(right) == 10
            marks = [row[2] for row in left]
            assert marks.count("both") == both and set(marks) <= {"both", "only"}  # a word, not a colour
            chunk = lambda res: f"(chunk {res.hits[0].chunk_id})"  # noqa: E731
            assert chunk(want["a"]) in screen_text(app, "#search-detail")  # the left list's top hit
            s.query_one("#search-b").focus()  # the detail follows the focused list
            await until(pilot, lambda: chunk(want["b"]) in screen_text(app, "#search-detail"))
            await pilot.press("ctrl+t")  # back to one search
            assert not s.compare and s.query_one("#search-b").has_class("-hidden")
    run(go())


def test_the_memory_boost_box_reranks_with_playbook_memory(indexed):
    """Three memories endorse the 11th hit: with the box ticked it moves into the top 10,
    its boost and former rank shown in words."""
    from core import Lakehouse

    with Lakehouse.open(home=indexed, profile="default") as lh:
        target = lh.search("people", QUERY, k=11).hits[10].row_key
        for op in ("placed a kubernetes terraform engineer", "kubernetes terraform migration staffed",
                   "terraform and kubernetes migration filled"):
            lh.memory_add("people", op, [target], approach="a cloud migration")

    async def go():
        async with opened(indexed, size=(120, 36)) as (app, pilot):
            s = await open_search(app, pilot)
            await search(app, pilot, QUERY)
            assert target not in {h.row_key for h in s._shown["search-a"]}
            box = s.query_one("#search-memory")
            assert str(box.label) == "memory boost off"
            box.focus()
            await pilot.press("space")
            assert box.value and str(box.label) == "memory boost on"
            await search(app, pilot, QUERY)
            hits = s._shown["search-a"]
            assert target in {h.row_key for h in hits}
            assert "memory boost:" in screen_text(app, "#search-info")
            table = s.query_one("#search-a", DataTable)
            header = [str(c.label) for c in table.columns.values()]
            row = cells(table)[[h.row_key for h in hits].index(target)]
            assert header[2] == "boost" and "was 11" in row[2]
    run(go())


def test_one_generation_cannot_be_compared_and_ollama_down_is_said(home, data, ollama):
    """An index built with Ollama, then Ollama gone: the search says so in one sentence; an
    index with one generation says compare needs two."""
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[ollama]\nretries = 1\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write_profiles(data / "people.csv", 40), key="person_id")
        lh.embed("people", "profile", index="people", embedder="ollama")
    ollama.stop()

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            s = await open_search(app, pilot)
            await pilot.press("ctrl+t")
            assert not s.compare and "comparing needs two" in screen_text(app, "#search-info")
            await search(app, pilot, QUERY)
            info = screen_text(app, "#search-info")
            assert info.startswith("refused: ") and "Ollama is not reachable" in info and "\n" not in info.strip()
    run(go())


def test_with_no_index_the_screen_says_how_to_make_one(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (data / "notes.csv").write_text("id,body\n1,remember the milk\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(data / "notes.csv", key="id")

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            await pilot.press("f2", "s")
            await until(pilot, lambda: type(app.screen).__name__ == "SearchScreen")
            await until(pilot, lambda: "no index" in screen_text(app, "#search-info"))
            assert "embed a text column" in screen_text(app, "#search-info")
            app.screen.query_one("#search-query", Input).value = "milk"
            await pilot.press("enter", "ctrl+t", "ctrl+l")  # nothing to search, compare or open: said, no crash
            assert "search first" in screen_text(app, "#search-info")
            await pilot.press("escape")
            assert type(app.screen).__name__ != "SearchScreen"
    run(go())


def test_a_newer_search_replaces_an_older_one_still_running(indexed):
    import threading

    async def go():
        async with opened(indexed, size=(80, 24)) as (app, pilot):
            s = await open_search(app, pilot)
            started, release, real = threading.Event(), threading.Event(), app.lh.search

            def slow_for_welding(index, text, *args, **kwargs):
                if text == "welding":
                    started.set()
                    release.wait(30)
                return real(index, text, *args, **kwargs)
            app.lh.search = slow_for_welding
            box = s.query_one("#search-query", Input)
            box.value = "welding"
            box.focus()
            await pilot.press("enter")
            await until(pilot, started.is_set)
            old = next(w for w in s.workers if w.group == "search")
            await search(app, pilot, QUERY)
            want = [h.row_key for h in real("people", QUERY).hits]
            assert [h.row_key for h in s._shown["search-a"]] == want
            release.set()
            await until(pilot, lambda: old.is_finished)
            await pilot.pause(0.1)
            assert [h.row_key for h in s._shown["search-a"]] == want  # the older answer was dropped
    run(go())


def test_escape_during_a_search_closes_and_its_late_answer_is_dropped(indexed):
    import threading

    async def go():
        async with opened(indexed, size=(80, 24)) as (app, pilot):
            s = await open_search(app, pilot)
            started, release, real = threading.Event(), threading.Event(), app.lh.search

            def slow(*args, **kwargs):
                started.set()
                release.wait(30)
                return real(*args, **kwargs)
            app.lh.search = slow
            s.query_one("#search-query", Input).value = QUERY
            s.query_one("#search-query", Input).focus()
            await pilot.press("enter")
            await until(pilot, started.is_set)
            worker = next(w for w in s.workers if w.group == "search")
            await pilot.press("escape")
            assert type(app.screen).__name__ != "SearchScreen"
            release.set()
            await until(pilot, lambda: worker.is_finished)
            await pilot.pause(0.1)
            assert app.is_running and type(app.screen).__name__ != "SearchScreen"
    run(go())


def test_hostile_passages_and_cells_are_shown_inert(indexed):
    async def go():
        async with opened(indexed, size=(160, 48)) as (app, pilot):
            s = await open_search(app, pilot)
            await search(app, pilot, "evil bold link red owned", "person_id = 'P99999'")
            table = s.query_one("#search-a", DataTable)
            assert table.row_count >= 1
            shown = " ".join(" ".join(row) for row in cells(table)) + screen_text(app, "#search-detail")
            assert "[b]bold[/b]" in shown and "[link=x]y[/link]" in shown  # literal, not markup
            assert "\x1b" not in shown and "\x07" not in shown  # no escape reaches the terminal
    run(go())


def test_through_the_daemon_a_search_and_an_open_row_work(home, data):
    """`lakehouse tui --connect`: the screen drives the daemon's facade, at 80x24."""
    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import Lakehouse, config
    from test_daemon import Served

    home.mkdir(parents=True, exist_ok=True)
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write_profiles(data / "people.csv", 200), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
    d = Served(home)
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=home), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                await pilot.press("f1", "ctrl+p")  # from the palette, on Ask: Explore shows, the first index
                await until(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
                await pilot.press(*"Search by meaning")
                found = app.screen.query_one("CommandList")
                await until(pilot, lambda: found.option_count and found.highlighted is not None
                            and "Search by meaning" in str(found.get_option_at_index(found.highlighted).prompt))
                await pilot.press("enter")
                await until(pilot, lambda: type(app.screen).__name__ == "SearchScreen")
                s = app.screen
                await until(pilot, lambda: s._index() == "people")
                assert app.query_one("TabbedContent").active == "explore"
                await search(app, pilot, QUERY, "state = 'TX'")
                hits = s._shown["search-a"]
                assert len(hits) == 10 and all(h.row["state"] == "TX" for h in hits)
                await pilot.press("enter")
                await until(pilot, lambda: "1 row in" in message(app))
                assert app.query_one("#sql-table").get_row_at(0)[0] == hits[0].row_key
                await open_search(app, pilot)
                d.stop()  # the daemon goes away under an open screen: the search says so
                await search(app, pilot, QUERY)
                info = screen_text(app, "#search-info")
                assert info.startswith("refused: ") and "\n" not in info.strip() and "Traceback" not in info, info
        run(go())
    finally:
        d.stop()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_search_screen_with_hits(snap_home, snap_compare, size):  # noqa: F811
    """s in Explore over an index of the fixture's staff names: a query with a where, its hits."""
    from app.tui import LakehouseApp
    from core import Lakehouse

    with Lakehouse.open(home=snap_home, profile="default") as lh:
        lh.embed("staff", "name", index="staff_names", embedder="hashing")

    async def run_before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: app.lh is not None)
        await settle(pilot)
        await open_search(app, pilot, on="staff_names")
        await search(app, pilot, "Grace Hopper", "team <> 'research'")
        await stabilise(pilot)

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size, run_before=run_before)
