"""The Memory pane (issue 17) driven through Textual's pilot on a real lakehouse with the
hashing embedder and a real memory.sqlite: browse and filter by status, search memories by
meaning, retire and revise with a reason (refusals said), the index searched without and
with memory side by side, and Ask's key that remembers an answer's cited rows."""

from __future__ import annotations

import pytest

from panes.memory import ALL
from test_daemon import people  # noqa: F401 — a fixture: a 200-row hashing index for the daemon
from test_tui import opened, run, until
from vector_data import write_profiles

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

QUERY = "kubernetes terraform migration"


@pytest.fixture
def remembered(home, data):
    """An index `people` (300 rows, hashing) with three live memories endorsing the 11th hit
    of QUERY (just out of a top 10) and one about welding; `home.target` is that row."""
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write_profiles(data / "people.csv", 300), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
        target = lh.search("people", QUERY, k=11).hits[10].row_key
        for op in ("placed a kubernetes terraform engineer", "kubernetes terraform migration staffed",
                   "terraform and kubernetes migration filled"):
            lh.memory_add("people", op, [target], approach="a cloud migration")
        lh.memory_add("people", "welding crew for the night shift", ["P00001", "P00002"], approach="welders",
                      scope={"state": "IL"})
    return home, target


def pane(app):
    return app.pane("memory")


def statuses(p) -> set[str]:
    return {e.status for e in p.entries}


def test_browse_filters_by_index_and_status_and_shows_the_detail(remembered):
    home, target = remembered

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            await pilot.press("f5")
            p = pane(app)
            assert app.query_one("TabbedContent").active == "memory"
            await until(pilot, lambda: len(p.entries) == 4)
            assert p.index == ALL and statuses(p) == {"live"}
            p.query_one("#memory-index").value = "people"
            await until(pilot, lambda: p.index == "people" and len(p.entries) == 4)
            table = p.query_one("#memory-table")
            ops = [e.operation for e in p.entries]
            table.move_cursor(row=ops.index("welding crew for the night shift"))
            detail = p.query_one("#memory-detail")
            await until(pilot, lambda: "welders" in str(detail.render()))
            text = str(detail.render())
            assert "P00001, P00002" in text and "state = IL" in text and "v1 live" in text
            await pilot.press("f")  # retired: none yet
            await until(pilot, lambda: p.status == "retired" and not p.entries)
            assert "0 memories retired" in str(p.query_one("#memory-status").render())
            for _ in range(4):  # superseded, expired, pending, all
                await pilot.press("f")
            await until(pilot, lambda: p.status == "all" and len(p.entries) == 4)
    run(go())


def test_search_by_meaning_then_retire_with_a_reason_and_revise_to_a_new_version(remembered):
    home, _ = remembered

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            shown = []
            app.notify = lambda text, **kw: shown.append(text)
            await pilot.press("f5")
            p = pane(app)
            await until(pilot, lambda: len(p.entries) == 4)
            box = p.query_one("#memory-search")
            box.focus()
            box.value = "welding night crew"
            await pilot.press("enter")  # every index: a search needs one
            await until(pilot, lambda: "pick an index" in str(p.query_one("#memory-status").render()))
            p.query_one("#memory-index").value = "people"
            await until(pilot, lambda: p.index == "people")
            box.focus()
            await pilot.press("enter")
            await until(pilot, lambda: p.searched and p.entries and p.entries[0].similarity is not None)
            welding = p.entries[0]
            assert welding.operation == "welding crew for the night shift"
            assert app.focused is p.query_one("#memory-table")

            await pilot.press("x")  # an empty reason is refused, in its one sentence
            await until(pilot, lambda: type(app.screen).__name__ == "ReasonPrompt")
            await pilot.press("enter")
            await until(pilot, lambda: shown)
            assert "say why" in shown[-1] and "\n" not in shown[-1]
            assert app.lh.memory_show(welding.id).status == "live"

            await pilot.press("x")
            await until(pilot, lambda: type(app.screen).__name__ == "ReasonPrompt")
            await pilot.press(*"crew disbanded", "enter")
            await until(pilot, lambda: app.lh.memory_show(welding.id).status == "retired")
            assert app.lh.memory_show(welding.id).retired_reason == "crew disbanded"
            await until(pilot, lambda: welding.id not in [e.id for e in p.entries])  # gone from the live search

            box.value = ""
            box.focus()
            await pilot.press("enter")  # the listing again: three live ones
            await until(pilot, lambda: not p.searched and len(p.entries) == 3)
            first = p.highlighted()
            p.query_one("#memory-table").focus()
            await pilot.press("v")
            await until(pilot, lambda: type(app.screen).__name__ == "ReasonPrompt")
            approach = app.screen.query_one("#reason-approach")
            assert approach.value == "a cloud migration"
            approach.value = "a cloud migration, staffed from Illinois"
            await pilot.press("enter", *"wider pool", "enter")  # approach, then the reason
            await until(pilot, lambda: app.lh.memory_show(first.id).status == "superseded")
            await until(pilot, lambda: any(e.parent_id == first.id for e in p.entries))
            new = next(e for e in p.entries if e.parent_id == first.id)
            assert new.version == 2 and new.approach == "a cloud migration, staffed from Illinois"
            p.query_one("#memory-table").move_cursor(row=p.entries.index(new))
            detail = p.query_one("#memory-detail")
            await until(pilot, lambda: f"#{first.id} v1 superseded → #{new.id} v2 live" in str(detail.render()))

            p.query_one("#memory-status-filter").value = "superseded"  # revising the old one is refused
            await until(pilot, lambda: [e.id for e in p.entries] == [first.id])
            await pilot.press("v")
            await until(pilot, lambda: type(app.screen).__name__ == "ReasonPrompt")
            await pilot.press("enter", *"again", "enter")
            await until(pilot, lambda: "superseded by" in shown[-1])
            assert "\n" not in shown[-1]
    run(go())


def test_side_by_side_shows_the_row_memory_moved_and_why(remembered):
    home, target = remembered

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            await pilot.press("f5")
            p = pane(app)
            await until(pilot, lambda: len(p.entries) == 4)
            p.query_one("#memory-table").focus()
            await pilot.press("w")  # no index picked: one sentence
            await until(pilot, lambda: "pick an index first" in str(p.query_one("#memory-status").render()))
            p.query_one("#memory-index").value = "people"
            await until(pilot, lambda: p.index == "people")
            p.query_one("#memory-search").value = QUERY
            p.query_one("#memory-table").focus()
            await pilot.press("w")
            await until(pilot, lambda: getattr(p, "compared", None))
            without = [r[1] for r in p.compared]
            moved = next(r for r in p.compared if r[2] == target)
            assert target not in without and moved[3] == "▲ was 11"
            assert moved[4].startswith("+0.") and "from memories #" in moved[4]
            assert p.query_one("#memory-below").current == "memory-compare"
            status = str(p.query_one("#memory-status").render())
            assert "memories considered 4, matched 3" in status and "hits boosted 1" in status
            # write-through: the row that worked for this search becomes a memory endorsing it
            compare = p.query_one("#memory-compare")
            compare.focus()
            compare.move_cursor(row=2)
            picked = p.compared[2][2]
            await pilot.press("e")
            await until(pilot, lambda: any(e.operation == QUERY and e.keys == [picked] for e in p.entries))
    run(go())


def test_ask_remembers_an_answer_with_its_cited_rows(remembered, ollama):
    home, _ = remembered

    async def go():
        async with opened(home) as (app, pilot):
            question = "who could handle Kubernetes?"
            await pilot.press("ctrl+s")  # nothing asked yet
            log = app.query_one("#ask-log")

            def said() -> str:
                return " ".join(str(w.render()) for w in log.children)
            await until(pilot, lambda: "nothing to remember yet" in said())
            ollama.chat_replies = ["These two [1] [2]."]
            app.query_one("#ask-input").value = question
            await pilot.press("enter")
            await until(pilot, lambda: "opens the cited rows" in said())
            r = app.pane("ask").last_answer
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "memory #" in said() and "added" in said())
            added = next(e for e in app.lh.memory_list("people") if e.operation == question)
            assert added.keys == list(dict.fromkeys(c.row_key for c in r.citations))
            assert added.approach == "accepted answer to an ask"
            await pilot.press("ctrl+s")  # the same again: unchanged
            await until(pilot, lambda: f"memory #{added.id} unchanged" in said())
            await pilot.press("f5")
            p = pane(app)
            await until(pilot, lambda: any(e.id == added.id for e in p.entries))
    run(go())


def test_through_the_daemon_the_pane_lists_compares_and_retires(people, ollama):
    """`lakehouse tui --connect`: the pane drives the daemon's facade, entries and hits over the wire."""
    from app.daemon import proxy as remote
    from app.tui import LakehouseApp
    from core import config
    from test_daemon import Served

    d = Served(people, {"OLLAMA_HOST": ollama.url})
    try:
        async def go():
            app = LakehouseApp(opener=lambda: remote.connect(config.load(home=people), d.sock))
            async with app.run_test(size=(80, 24)) as pilot:
                await until(pilot, lambda: app.lh is not None)
                target = app.lh.search("people", QUERY, k=11).hits[10].row_key
                for op in ("placed a kubernetes terraform engineer", "kubernetes terraform migration staffed",
                           "terraform and kubernetes migration filled"):
                    app.lh.memory_add("people", op, [target])
                await pilot.press("f5")
                p = pane(app)
                await until(pilot, lambda: len(p.entries) == 3)
                p.query_one("#memory-index").value = "people"
                p.query_one("#memory-search").value = QUERY
                await until(pilot, lambda: p.index == "people")
                p.query_one("#memory-table").focus()
                await pilot.press("w")
                await until(pilot, lambda: getattr(p, "compared", None))
                assert any(r[2] == target and r[4].startswith("+0.") for r in p.compared)
                gone = p.highlighted()
                await pilot.press("x", *"stale", "enter")
                await until(pilot, lambda: len(p.entries) == 2)
                assert gone.id not in [e.id for e in p.entries]
                assert app.lh.memory_show(gone.id).retired_reason == "stale"
        run(go())
    finally:
        d.stop()


def test_delete_asks_why_and_the_journal_shows_what_happened(remembered):
    """d deletes the highlighted memory after asking why; j shows its journal (add, then
    the retire made here), oldest first."""
    home, _ = remembered

    async def go():
        async with opened(home, size=(80, 24)) as (app, pilot):
            await pilot.press("f5")
            p = pane(app)
            await until(pilot, lambda: len(p.entries) == 4)
            p.query_one("#memory-table").focus()
            first = p.highlighted()
            app.lh.memory_retire(first.id, reason="a [b]stale[/b] \x1b[31mplan")
            await pilot.press("j")
            detail = p.query_one("#memory-detail")
            await until(pilot, lambda: "its journal" in str(detail.render()))
            text = str(detail.render())
            assert text.index("add") < text.index("retire") and "[b]stale[/b]" in text and "\x1b" not in text
            await pilot.press("d")
            await until(pilot, lambda: type(app.screen).__name__ == "ReasonPrompt")
            await pilot.press(*"duplicate", "enter")
            await until(pilot, lambda: first.id not in [e.id for e in app.lh.memory_list("people", "all")])
            await until(pilot, lambda: first.id not in [e.id for e in p.entries])
    run(go())
