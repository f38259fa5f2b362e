"""Governance and maintenance from Explore (app/tui/annotate.py), driven as a user would:
`a` annotates the selected dataset (the description drafted by the chat model on ctrl+g),
`t` tags the selected column with a reason, the palette compacts (after a confirmation that
says what vacuum does to time travel) and resyncs; a policy-bound profile's refusal is its
sentence; one flow through a daemon; hostile text shown inert; snapshots of both screens."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from textual.widgets import Input, RadioButton, Static, TextArea

from test_snapshots import settle, snap_home, stabilise  # noqa: F401 - snap_home is a fixture
from test_tui import opened, run, until

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PEOPLE = "id,name,city\n1,Ada,London\n2,Grace,Arlington\n3,Alan,Manchester\n"
HOSTILE = "Staff [b]list[/b] \x1b]0;pwned\x07 [red]x[/red]"
POLICY = '[profiles.analyst]\ndatasets = ["people"]\n\n[policies.hr]\nprofiles = ["analyst"]\n' \
         'masks = { "people.name" = "hash" }\n'


@pytest.fixture
def root(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(POLICY)
    (data / "people.csv").write_text(PEOPLE)
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(data / "people.csv", key="id")
    return home


@asynccontextmanager
async def settled(root):
    """The app on `root` (test_tui.opened), left only once its workers are done: a detail
    still on its way when the app closes must not be what the test saw last."""
    async with opened(root) as (app, pilot):
        yield app, pilot
        await settle(pilot)


def lake(home, profile="default"):
    from core import Lakehouse

    return Lakehouse.open(home=home, profile=profile)


def text_of(app, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).render())


def info(app) -> str:
    return str(app.query_one("#explore-info", Static).render())


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def on_node(app, pilot, dataset: str, column: str | None = None):
    """Explore shown, the cursor on `dataset` (or its `column`), its detail read."""
    await pilot.press("f2")
    tree = app.query_one("#explore-tree")
    await until(pilot, lambda: bool(tree.root.children) and any(
        n.data == ("dataset", dataset) for n in tree.root.children[0].children))
    node = next(n for n in tree.root.children[0].children if n.data == ("dataset", dataset))
    if column is not None:
        node.expand()
        await until(pilot, lambda: any(c.data == ("column", dataset, column) for c in node.children))
        node = next(c for c in node.children if c.data == ("column", dataset, column))
    tree.focus()
    tree.move_cursor(node)
    await until(pilot, lambda: app.query_one("ExplorePane").selected() == node.data)
    return node


async def annotate_screen(app, pilot):
    await pilot.press("a")
    await until(pilot, lambda: app.screen.__class__.__name__ == "AnnotateScreen")
    await until(pilot, lambda: "ctrl+r to save" in text_of(app, ".gov-status"))


async def tag_screen(app, pilot):
    await pilot.press("t")
    await until(pilot, lambda: app.screen.__class__.__name__ == "TagScreen")
    await until(pilot, lambda: "now: …" not in text_of(app, "#tag-now"))


def choose(app, tag: str) -> None:
    next(b for b in app.screen.query(RadioButton) if b.name == tag).value = True


def test_annotate_then_the_detail_shows_it_inert(root):
    async def go():
        async with settled(root) as (app, pilot):
            await on_node(app, pilot, "people")
            await annotate_screen(app, pilot)
            assert app.screen.focused is app.screen.query_one("#annotate-description", TextArea)
            await pilot.press("ctrl+r")  # nothing changed: said, nothing written
            await until(pilot, lambda: "nothing changed" in text_of(app, ".gov-status"))
            app.screen.query_one("#annotate-description", TextArea).text = HOSTILE
            app.screen.query_one("#annotate-owner", Input).value = "ops [i]team[/i]"
            app.screen.query_one("#annotate-tags", Input).value = "hr, finance ,"
            await pilot.press("ctrl+r")  # from the text area: the screen's key, not the editor's
            await until(pilot, lambda: app.screen.__class__.__name__ != "AnnotateScreen")
            await until(pilot, lambda: "[b]list[/b]" in info(app))
            shown = info(app)
            assert "\\x1b]0;pwned\\x07 [red]x[/red]" in shown and "\x1b" not in shown and "\x07" not in shown
            assert "owner ops [i]team[/i]" in shown and "tags finance, hr" in shown
            tree = app.query_one("#explore-tree")
            assert "#finance #hr" in str(tree.cursor_node.label)  # the tree too
    run(go())
    with lake(root) as lh:
        d = lh.dataset("people")
    assert (d.description, d.owner, d.tags) == (HOSTILE, "ops [i]team[/i]", ["finance", "hr"])


def test_draft_fills_the_description_to_edit_before_saving(root, ollama):
    ollama.chat_replies = ["People and the cities they live in."]

    async def go():
        async with settled(root) as (app, pilot):
            await on_node(app, pilot, "people")
            await annotate_screen(app, pilot)
            await pilot.press("ctrl+g")
            area = app.screen.query_one("#annotate-description", TextArea)
            await until(pilot, lambda: area.text == "People and the cities they live in.")
            assert "drafted by" in text_of(app, "#annotate-description-label")
            with lake(root) as lh:  # stored at once, marked drafted
                assert lh.describe("people").description_drafted
            area.text = "People and their home cities."  # edited before saving
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "People and their home cities." in info(app))
            assert "(drafted)" not in info(app)
    run(go())
    with lake(root) as lh:
        d = lh.describe("people")
    assert d.dataset.description == "People and their home cities." and not d.description_drafted
    assert "Ada" in str(ollama.chat_requests) and "city" in str(ollama.chat_requests)


def test_escape_while_drafting_leaves_the_draft_stored_and_shown(root, ollama):
    ollama.chat_replies = ["A slow draft."]
    ollama.delay = 1.0

    async def go():
        async with settled(root) as (app, pilot):
            await on_node(app, pilot, "people")
            await annotate_screen(app, pilot)
            await pilot.press("ctrl+g")
            await until(pilot, lambda: "drafting" in text_of(app, ".gov-status"))
            await pilot.press("escape")
            assert app.screen.__class__.__name__ != "AnnotateScreen"
            await until(pilot, lambda: "A slow draft. (drafted)" in info(app), timeout=60)
            ollama.delay = 0.0  # the status line's and System's polls of Ollama may settle
    run(go())


def test_a_draft_without_ollama_is_its_sentence(root):
    async def go():
        async with settled(root) as (app, pilot):
            await on_node(app, pilot, "people")
            await annotate_screen(app, pilot)
            await pilot.press("ctrl+g")
            await until(pilot, lambda: "no draft:" in text_of(app, ".gov-status"))
            said = text_of(app, ".gov-status")
            assert "Ollama is not reachable" in said and "Traceback" not in said
            assert app.screen.query_one("#annotate-description", TextArea).text == ""
    run(go())


def test_tag_with_a_reason_then_retag_to_none_clears_it(root):
    async def go():
        async with settled(root) as (app, pilot):
            await on_node(app, pilot, "people")
            await pilot.press("t")  # on a dataset: which column?
            await until(pilot, lambda: any("pick a column" in n for n in notes(app)))
            assert app.screen.__class__.__name__ != "TagScreen"
            await on_node(app, pilot, "people", "city")
            await tag_screen(app, pilot)
            assert "now: untagged" in text_of(app, "#tag-now")
            choose(app, "health")
            app.screen.query_one("#tag-reason", Input).value = "clinic [b]towns[/b]"
            app.screen.query_one("#tag-actor", Input).value = "ann"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.screen.__class__.__name__ != "TagScreen")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data ==
                        ("column", "people", "city") and str(tree.cursor_node.label).endswith("health"))
            with lake(root) as lh:
                [t] = lh.tags("people")
            assert (t.column, t.tag, t.reason, t.actor) == ("city", "health", "clinic [b]towns[/b]", "ann")
            await tag_screen(app, pilot)  # again: the tag now, with its evidence
            assert "now: health — set by ann: clinic [b]towns[/b]" in text_of(app, "#tag-now")
            choose(app, "none")
            reason = app.screen.query_one("#tag-reason", Input)
            reason.focus()
            await until(pilot, lambda: app.screen.focused is reason)
            reason.value = "not health data"
            await pilot.press("enter")  # enter in a box saves too
            await until(pilot, lambda: app.screen.__class__.__name__ != "TagScreen")
            await until(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data ==
                        ("column", "people", "city") and not str(tree.cursor_node.label).endswith("health"))
    run(go())
    with lake(root) as lh:
        [t] = lh.tags("people")
    assert t.tag is None and t.source == "user" and t.reason == "not health data"


def test_a_hostile_column_name_is_shown_inert_and_tagged(root, data):
    odd = "[b]note[/b]\x1b]0;pwned\x07"
    (data / "odd.csv").write_text(f'id,"{odd}"\n1,[i]x[/i]\n')
    with lake(root) as lh:
        lh.ingest(data / "odd.csv", key="id")

    async def go():
        async with settled(root) as (app, pilot):
            await on_node(app, pilot, "odd", odd)
            await tag_screen(app, pilot)
            title = str(app.screen.query_one(".gov-form").children[0].render())
            assert "odd.[b]note[/b]\\x1b]0;pwned\\x07" in title and "\x1b" not in title
            choose(app, "financial")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: app.screen.__class__.__name__ != "TagScreen")
    run(go())
    with lake(root) as lh:
        assert [(t.column, t.tag) for t in lh.tags("odd")] == [(odd, "financial")]


def test_compact_asks_first_and_says_what_vacuum_does(root, data):
    with lake(root) as lh:
        for n in range(3):  # three more commits: small files to merge
            (data / f"more{n}.csv").write_text(f"id,name,city\n{10 + n},Someone {n},Paris\n")
            lh.ingest(data / f"more{n}.csv", name="people", mode="append", key="id", reason="more")
        before = lh.dataset("people").table_version

    async def go():
        async with settled(root) as (app, pilot):
            palette = {c.title: c for c in app.get_system_commands(app.screen)}
            await on_node(app, pilot, "people")
            app.call_later(palette["Compact dataset"].callback)
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            question = str(app.screen.query_one(Static).render())
            assert "Compact people?" in question and "time travel" in question and "168 h" in question
            await pilot.press("n")  # no: nothing happens
            await until(pilot, lambda: app.screen.__class__.__name__ != "Confirm")
            with lake(root) as lh:
                assert lh.dataset("people").table_version == before
            app.call_later(palette["Compact dataset"].callback)
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: any("compacted" in n for n in notes(app)))
            said = next(n for n in notes(app) if "compacted" in n)
            assert "data files" in said and "vacuum removed" in said
            app.call_later(palette["Resync catalog"].callback)
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: any("resynced" in n for n in notes(app)))
    run(go())
    with lake(root) as lh:
        d = lh.dataset("people")
        assert d.table_version > before and len(lh.catalog.datasets.files("people")) == 1
        assert lh.sql("SELECT count(*) AS n FROM people").to_pylist() == [{"n": 6}]


def test_a_policy_bound_profile_is_refused_in_its_words(root):
    async def go():
        from app.tui import LakehouseApp

        app = LakehouseApp(home=root, profile="analyst")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.lh is not None)
            await on_node(app, pilot, "people", "city")
            await tag_screen(app, pilot)
            assert "bound by hr" in text_of(app, "#tag-policy")
            choose(app, "pii")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "refused:" in text_of(app, ".gov-status"))
            said = text_of(app, ".gov-status")
            assert "profile analyst may not tag people" in said and "Traceback" not in said
            assert app.screen.__class__.__name__ == "TagScreen"  # stays open, nothing written
            await pilot.press("escape")
            palette = {c.title: c for c in app.get_system_commands(app.screen)}
            app.call_later(palette["Policies binding this profile"].callback)
            await until(pilot, lambda: "policies:" in info(app))
            assert "bound by hr" in info(app) and "people" in info(app)
            await on_node(app, pilot, "people")
            app.call_later(palette["Compact dataset"].callback)
            await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
            await pilot.press("y")
            await until(pilot, lambda: any("refused" in n for n in notes(app)))
            said = next(n for n in notes(app) if "refused" in n)
            assert "profile analyst may not compact people" in said and "Traceback" not in said
            await settle(pilot)
    run(go())
    with lake(root) as lh:
        assert lh.tags("people") == []


def test_through_the_daemon_annotate_and_tag_work(root):
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
                await on_node(app, pilot, "people")
                await annotate_screen(app, pilot)
                app.screen.query_one("#annotate-owner", Input).value = "remote-owner"
                await pilot.press("ctrl+r")
                await until(pilot, lambda: "owner remote-owner" in info(app))
                await on_node(app, pilot, "people", "name")
                await tag_screen(app, pilot)
                choose(app, "pii")
                app.screen.query_one("#tag-reason", Input).value = "names"
                await pilot.press("ctrl+r")
                await until(pilot, lambda: app.screen.__class__.__name__ != "TagScreen")
                await on_node(app, pilot, "people")
                palette = {c.title: c for c in app.get_system_commands(app.screen)}
                app.call_later(palette["Compact dataset"].callback)
                await until(pilot, lambda: app.screen.__class__.__name__ == "Confirm")
                assert "168 h" in str(app.screen.query_one(Static).render())  # the daemon's retention
                await pilot.press("y")
                await until(pilot, lambda: any("compacted" in n for n in notes(app)))
                await settle(pilot)
        run(go())
    finally:
        d.stop()
    with lake(root) as lh:
        assert lh.dataset("people").owner == "remote-owner"
        assert [(t.column, t.tag, t.reason) for t in lh.tags("people")] == [("name", "pii", "names")]


# -- snapshots ---------------------------------------------------------------------------
async def _snap_open(pilot, key: str, screen: str, column: str | None = None) -> None:
    app = pilot.app
    await until(pilot, lambda: app.lh is not None)
    await settle(pilot)
    await on_node(app, pilot, "staff", column)
    await settle(pilot)
    await pilot.press(key)
    await until(pilot, lambda: app.screen.__class__.__name__ == screen)
    await until(pilot, lambda: "reading" not in text_of(app, ".gov-status") and "now: …" not in str(
        [w.render() for w in app.screen.query("#tag-now")]))
    await stabilise(pilot)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_annotate_screen(snap_home, snap_compare, size):  # noqa: F811
    """a on the fixture's staff: its description, owner and tags to edit."""
    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size,
                        run_before=lambda pilot: _snap_open(pilot, "a", "AnnotateScreen"))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_tag_screen(snap_home, snap_compare, size):  # noqa: F811
    """t on staff.salary: its tag now (the scan's, with evidence, or untagged), the choices, a reason."""
    from app.tui import LakehouseApp

    assert snap_compare(LakehouseApp(home=snap_home, profile="default"), terminal_size=size,
                        run_before=lambda pilot: _snap_open(pilot, "t", "TagScreen", "salary"))
