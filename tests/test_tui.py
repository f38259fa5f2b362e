"""The workstation driven as a user would, through Textual's pilot: panes by key,
queries and their results, export, errors, cancel while responsive, profile switch,
and Ask streaming from the Ollama API stand-in."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

import pytest

from app.tui import LakehouseApp
from vector_data import write_profiles

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def until(pilot, cond, timeout: float = 60.0) -> None:
    waited = 0.0
    while not cond():
        await pilot.pause(0.05)
        waited += 0.05
        if waited > timeout:
            raise AssertionError("the app did not get there in time")


@asynccontextmanager
async def opened(home, size=(140, 45)):
    """The real app on `home` as the default profile, once its facade is open."""
    app = LakehouseApp(home=home, profile="default")
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.lh is not None)
        yield app, pilot


def message(app) -> str:
    return str(app.query_one("#sql-message").render())


@pytest.fixture
def people_home(home, data):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(
        "[profiles.hr]\ndatasets = [\"people\"]\nindexes = [\"people\"]\n"
        "[profiles.notes]\ndatasets = [\"notes\"]\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        lh.ingest(write_profiles(data / "people.csv", 300), key="person_id")
        (data / "notes.csv").write_text("id,body\n1,remember the milk\n")
        lh.ingest(data / "notes.csv", key="id")
        lh.embed("people", "profile", index="people", embedder="hashing")
    return home


def run(coro):
    return asyncio.run(coro)


def test_panes_open_by_key_and_a_query_shows_its_result_and_exports(people_home, tmp_path):
    async def go():
        async with opened(people_home) as (app, pilot):
            for key, pane in [("f6", "system"), ("f2", "explore"), ("f6", "system"), ("f3", "sql"), ("f1", "ask"),
                              ("ctrl+n", "explore"), ("ctrl+n", "sql"), ("ctrl+n", "trials"), ("ctrl+n", "memory"),
                              ("ctrl+n", "system"), ("ctrl+n", "ask"), ("f4", "trials"), ("f5", "memory"),
                              ("f3", "sql")]:
                await pilot.press(key)
                assert app.query_one("TabbedContent").active == pane
            sql = app.query_one("SqlPane")
            sql.query_one("#sql-editor").text = "SELECT 1;\nSELECT state, count(*) AS n FROM people GROUP BY state ORDER BY state;\n"
            sql.query_one("#sql-editor").move_cursor((1, 5))
            await pilot.press("ctrl+j")  # the statement under the cursor, not the first one
            await until(pilot, lambda: "rows in" in message(app))
            table = app.query_one("#sql-table")
            assert table.row_count == 5 and "5 rows in" in message(app)
            assert table.get_row_at(0)[0] == "CA"
            await pilot.press("ctrl+s")  # a file prompt; the extension picks the format
            out = tmp_path / "states.csv"
            assert app.focused is app.query_one("#sql-export")
            app.query_one("#sql-export").value = str(out)
            await pilot.press("enter")
            await until(pilot, lambda: out.exists() and "wrote 5 rows" in message(app))
            assert out.read_text().splitlines()[0] == "state,n"
            await pilot.press("ctrl+l")  # the query that ran is in the persisted history
            assert app.screen.__class__.__name__ == "HistoryPicker"
            await pilot.press("s", "t", "a", "t", "e")
            assert len(app.screen.shown) == 1
            await pilot.press("enter")
            assert "GROUP BY state" in sql.query_one("#sql-editor").text
            assert "GROUP BY state" in (people_home / "history" / "sql.jsonl").read_text()
            await pilot.press("ctrl+t")  # a second buffer: its own text, run on its own
            await until(pilot, lambda: sql.editor.id == "sql-editor-2")
            sql.editor.text = "SELECT count(*) AS n FROM notes"
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "1 row in" in message(app))
            assert "GROUP BY state" in sql.query_one("#sql-editor").text  # buffer 1 kept its query
            sql.query_one("#sql-buffers").active = "buffer-1"
            sql.query_one("#sql-editor").text = "SELECT nope FROM people"
            sql.query_one("#sql-editor").focus()
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "error:" in message(app))
            assert "nope" in message(app) and app.query_one("#sql-message").has_class("error")
    run(go())


def test_keys_are_handled_while_a_slow_query_runs_and_ctrl_g_cancels_it(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f3")
            app.query_one("#sql-editor").text = "SELECT count(*) FROM range(20000000000) t(x) WHERE x % 7 = 3"
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "running" in message(app))
            await pilot.pause(0.3)
            await pilot.press("f2")  # the event loop is free while DuckDB works
            assert app.query_one("TabbedContent").active == "explore"
            await pilot.press("f3")
            await pilot.press("ctrl+g")
            await until(pilot, lambda: "query cancelled" in message(app))
    run(go())


def test_explore_lists_the_catalog_and_opens_a_query(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: "datasets (2)" in str([n.label for n in tree.root.children]))
            labels = " ".join(str(n.label) for n in tree.root.children[0].children)
            assert "people" in labels and "300 rows" in labels and "notes" in labels
            assert "people" in str(tree.root.children[1].children[0].label)  # the index, with its generation
            tree.focus()
            node = tree.root.children[0].children[1]  # people
            tree.move_cursor(node)
            await until(pilot, lambda: "people" in str(app.query_one("#explore-info").render())
                        and "columns:" in str(app.query_one("#explore-info").render()))
            await pilot.press("enter")
            assert app.query_one("TabbedContent").active == "sql"
            await until(pilot, lambda: "300 rows" in message(app) or "100 rows" in message(app))
    run(go())


def test_switching_profile_rescopes_explore(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: "datasets (2)" in str(tree.root.children[0].label) if tree.root.children else False)
            await pilot.press("ctrl+o")
            await pilot.press("n", "o", "t")  # type to filter
            await pilot.press("enter")
            await until(pilot, lambda: app.lh.profile.id == "notes")
            await until(pilot, lambda: tree.root.children and "datasets (1)" in str(tree.root.children[0].label))
            assert "notes" in str(tree.root.children[0].children[0].label)
            assert "profile notes" in str(app.query_one("#status").render())
    run(go())


def test_ask_streams_an_answer_and_its_sql_from_the_ollama_stand_in(people_home, ollama):
    async def go():
        ollama.chat_replies = [json.dumps({"sql": "SELECT count(*) AS n FROM people", "reason": "count"}),
                               "There are 300 people."]
        async with opened(people_home) as (app, pilot):
            await pilot.press("f1")
            app.query_one("#ask-input").value = "how many people are there?"
            await pilot.press("enter")
            log = app.query_one("#ask-log")
            await until(pilot, lambda: "There are 300 people." in " ".join(str(w.render()) for w in log.children))
            text = " ".join(str(w.render()) for w in log.children)
            assert "SELECT count(*) AS n FROM people" in text and "auto -> sql" in text
            await pilot.press("ctrl+r")  # the answer's SQL in the SQL pane
            assert app.query_one("TabbedContent").active == "sql"
            await until(pilot, lambda: "1 row in" in message(app))
    run(go())


def test_ctrl_y_keeps_an_answers_sql_as_an_example_for_later_questions(people_home, ollama):
    """The TUI's `ask --accept`: the pair is accepted in the catalog (and a question before
    any answer is told so, nothing accepted)."""
    async def go():
        ollama.chat_replies = [json.dumps({"sql": "SELECT count(*) AS n FROM people", "reason": "count"}),
                               "There are 300 people."]
        async with opened(people_home) as (app, pilot):
            await pilot.press("f1")
            await pilot.press("ctrl+y")
            log = app.query_one("#ask-log")
            shown = lambda: " ".join(str(w.render()) for w in log.children)  # noqa: E731
            await until(pilot, lambda: "no SQL to keep yet" in shown())
            app.query_one("#ask-input").value = "how many people are there?"
            await pilot.press("enter")
            await until(pilot, lambda: "There are 300 people." in shown())
            await pilot.press("ctrl+y")
            await until(pilot, lambda: "kept as an example" in shown())
            asked = app.lh.sql_rows("SELECT question, accepted FROM _asks")["rows"]
            assert ["how many people are there?", True] in [list(r) for r in asked] or \
                ["how many people are there?", 1] in [list(r) for r in asked]
    run(go())


def test_ask_says_when_ollama_is_down_as_the_cli_does(people_home, cli):
    """With Ollama down the pane shows what the facade's ask returns, as `lakehouse ask`
    does: the one sentence saying so and what to do; no passages of the pane's own."""
    async def go():
        async with opened(people_home) as (app, pilot):
            assert app.focused is app.query_one("#ask-input")  # the app opens ready to ask
            await pilot.press(*"how many people per state?")  # '?' is text here, not help
            assert app.query_one("#ask-input").value == "how many people per state?"
            await pilot.press("enter")
            log = app.query_one("#ask-log")
            await until(pilot, lambda: "not reachable" in " ".join(str(w.render()) for w in log.children))
            return str(log.children[-1].render())
    shown = run(go())
    code, out, err = cli("ask", "how many people per state?")
    assert code != 0 and "not reachable" in err and "ollama serve" in err and shown.strip() in err
    assert "[1]" not in shown and "retrieval" not in shown


def test_help_and_the_command_palette_list_the_actions(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f2")  # in the tree ? is a key; in the question box it is text
            await pilot.press("question_mark")
            assert app.screen.__class__.__name__ == "HelpScreen"
            await pilot.press("escape")
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for t in ("Run query (ctrl+r / ctrl+enter / ctrl+j)", "Export result (ctrl+s)", "Switch profile (ctrl+o)",
                      "SQL pane (F3)", "Query history (ctrl+l)"):
                assert t in titles
    run(go())


def test_completion_cell_viewer_copy_and_direct_profile_keys(people_home):
    async def go():
        copied = []
        async with opened(people_home) as (app, pilot):
            app.copy_to_clipboard = copied.append  # what would go to the terminal as OSC 52
            await pilot.press("f3")
            editor = app.query_one("#sql-editor")
            editor.text = "SELECT * FROM peo"
            editor.move_cursor((0, 17))
            await pilot.press("ctrl+space")  # one match: completed in place
            assert editor.text == "SELECT * FROM people"
            editor.text = "SELECT p"
            editor.move_cursor((0, 8))
            await pilot.press("ctrl+space")  # several (person_id, profile): a picker
            assert app.screen.__class__.__name__ == "NamePicker"
            assert [v for _, v in app.screen.shown] == ["people", "person_id", "profile"]
            await pilot.press("down", "enter")  # arrows move the list while the filter has focus
            assert editor.text == "SELECT person_id"
            editor.text = "SELECT profile, person_id FROM people ORDER BY person_id LIMIT 3"
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "3 rows in" in message(app))
            table = app.query_one("#sql-table")
            table.focus()
            await pilot.press("enter")  # the whole value of the cell
            assert app.screen.__class__.__name__ == "CellViewer"
            assert app.screen.value.startswith("Worker 0 ")
            await pilot.press("escape")
            await pilot.press("c")
            await pilot.press("C")
            assert copied[0].startswith("Worker 0 ") and copied[1].endswith("\tP00000")
            await pilot.press("ctrl+o")
            await pilot.press("3")  # direct key: the third profile (default, hr, notes)
            await until(pilot, lambda: app.lh.profile.id == "notes")
    run(go())


def test_explore_embeds_a_column(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: tree.root.children and "datasets (2)" in str(tree.root.children[0].label))
            notes = tree.root.children[0].children[0]
            notes.expand()
            await until(pilot, lambda: any("body" in str(c.label) for c in notes.children))
            tree.focus()
            tree.move_cursor(next(c for c in notes.children if "body" in str(c.label)))
            await pilot.press("e")  # the embed form, prefilled with the defaults; ctrl+r embeds
            await until(pilot, lambda: type(app.screen).__name__ == "EmbedScreen" and app.screen._loaded)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "notes_body" in [i.name for i in app.lh.indexes()])
            await until(pilot, lambda: "indexes (2)" in str(tree.root.children[1].label))
    run(go())


def test_system_pane_cancels_a_job_and_filters_the_audit(people_home):
    async def go():
        import threading

        async with opened(people_home, size=(140, 60)) as (app, pilot):
            stop = threading.Event()
            ids: dict[str, str] = {}

            def slow_job(target: str):  # a long job, as another process would run it
                with app.lh._jobs.run("demo", target) as job:
                    ids[target] = job.id
                    while not stop.is_set():
                        job.progress(1, 10, "steps", "working")
                        stop.wait(0.05)

            def start(target: str) -> threading.Thread:
                t = threading.Thread(target=lambda: _swallow(lambda: slow_job(target)))
                t.start()
                return t
            t, later = start("slow"), None
            try:
                await pilot.press("f6")
                pane = app.query_one("SystemPane")
                await until(pilot, lambda: ids.get("slow") in (getattr(pane, "job_ids", None) or []))
                jobs = app.query_one("#system-jobs")
                jobs.focus()
                jobs.highlighted = pane.job_ids.index(ids["slow"])
                later = start("later")  # a job that starts meanwhile goes to the top of the list ...
                await until(pilot, lambda: ids.get("later") in pane.job_ids)
                assert pane._highlighted_job() == ids["slow"]  # ... and the highlight stays on its job
                await pilot.press("x")
                await until(pilot, lambda: not t.is_alive(), timeout=60)  # the job saw the cancel and stopped
                assert later.is_alive()  # the other one was not touched
            finally:
                stop.set()
                for th in (t, later):
                    if th is not None:
                        th.join(30)
            assert [j.status for j in app.lh.jobs() if j.target == "slow"] == ["cancelled"]
            app.lh.sql("SELECT count(*) FROM notes")
            app.query_one("#system-audit-filter").value = "notes"
            await until(pilot, lambda: "SELECT count(*) FROM notes" in str(app.query_one("#system-audit").render()))
            assert "people" not in str(app.query_one("#system-audit").render())
    run(go())


def _swallow(fn):
    from core.errors import Cancelled

    try:
        fn()
    except Cancelled:
        pass


def test_ask_citations_open_their_source_rows(people_home, ollama):
    async def go():
        async with opened(people_home) as (app, pilot):
            top = app.lh.search("people", "who could handle Kubernetes?", k=6).hits
            ollama.chat_replies = ["These two [1] [2]."]
            await pilot.press("f1")
            app.query_one("#ask-input").value = "who could handle Kubernetes?"
            await pilot.press("enter")
            log = app.query_one("#ask-log")
            await until(pilot, lambda: "ctrl+l opens the cited rows" in " ".join(str(w.render()) for w in log.children))
            await pilot.press("ctrl+l")
            assert app.query_one("TabbedContent").active == "sql"
            await until(pilot, lambda: "2 rows in" in message(app))
            table = app.query_one("#sql-table")
            assert {table.get_row_at(i)[0] for i in range(2)} == {top[0].row_key, top[1].row_key}
    run(go())


def test_system_pane_shows_health_with_ollama_and_disk_use(people_home, ollama):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f6")
            health = app.query_one("#system-health")
            await until(pilot, lambda: "reachable" in str(health.render()))
            text = str(health.render())
            assert f"Ollama 0.12.0 at {ollama.url}" in text and "3 installed" in text
            assert "tables " in text and "vectors " in text and "catalog " in text
    run(go())


def test_system_pane_retries_a_failed_job(people_home, data):
    from core import Lakehouse

    bad = data / "staff.csv"
    bad.write_text("id,name\n1,ann\n1,bob\n")  # a key that appears twice: the ingest job fails
    with Lakehouse.open(home=people_home, profile="default") as lh:
        [r] = lh.ingest(bad, key="id")
        assert r.status == "failed"
        failed = next(j.id for j in lh.jobs() if j.status == "failed")
    bad.write_text("id,name\n1,ann\n2,bob\n")  # fixed

    async def go():
        async with opened(people_home, size=(140, 60)) as (app, pilot):
            await pilot.press("f6")
            pane = app.query_one("SystemPane")
            await until(pilot, lambda: failed in (getattr(pane, "job_ids", None) or []))
            jobs = app.query_one("#system-jobs")
            jobs.focus()
            jobs.highlighted = pane.job_ids.index(failed)
            await pilot.press("t")
            await until(pilot, lambda: app.lh.catalog.datasets.get("staff") is not None)
            assert app.lh.sql("SELECT count(*) AS n FROM staff").to_pylist() == [{"n": 2}]
            # the job list, not a notification (those expire on a clock a loaded machine can outrun)
            await until(pilot, lambda: any(j.kind == "ingest" and j.status == "succeeded" and
                                           "staff: 2 rows" in j.message for j in app.lh.jobs()))
            tree = app.query_one("#explore-tree")  # Explore shows the new dataset
            await until(pilot, lambda: tree.root.children and "datasets (3)" in str(tree.root.children[0].label))
            pane.retry(failed)  # the old job failed, so it may be retried again: now a no-op
            await until(pilot, lambda: any("identical bytes" in j.message for j in app.lh.jobs()))
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Retry job (t)" in titles and "Cancel job (x)" in titles
            assert "t" in [b.key for b in pane.BINDINGS]
    run(go())


@pytest.mark.long
def test_explore_fills_hundreds_of_datasets_and_details_where_the_cursor_rests(home, data):
    """~200 datasets: every one in the tree; a fast run of cursor moves ends with the
    detail of the row the cursor stopped on, even when an earlier row's detail comes
    back later (it is dropped)."""
    import threading
    import time

    from core import Lakehouse

    src = data / "many"
    src.mkdir()
    for i in range(200):
        (src / f"ds_{i:03d}.csv").write_text(f"id,v\n1,{i}\n")
    with Lakehouse.open(home=home, profile="default") as lh:
        assert all(r.status == "ingested" for r in lh.ingest(src))

    async def go():
        async with opened(home) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            info = app.query_one("#explore-info")
            await until(pilot, lambda: tree.root.children and str(tree.root.children[0].label) == "datasets (200)")
            nodes = tree.root.children[0].children
            assert [n.data[1] for n in nodes] == [f"ds_{i:03d}" for i in range(200)]
            assert "1 row" in str(nodes[7].label)
            tree.focus()
            tree.move_cursor(nodes[0])
            await until(pilot, lambda: str(info.render()).startswith("ds_000") and "columns:" in str(info.render()))
            await pilot.pause(0.3)
            describe, asked, slow_done = app.lh.describe, [], threading.Event()

            def slow_for_the_first(name, **kw):  # the first row passed comes back last
                asked.append(name)
                if name != "ds_001":
                    return describe(name, **kw)
                time.sleep(1.0)
                try:
                    return describe(name, **kw)
                finally:
                    slow_done.set()
            app.lh.describe = slow_for_the_first
            tree.action_cursor_down()
            await until(pilot, lambda: "ds_001" in asked)  # its detail is being read
            for _ in range(29):  # then a held-down key: 29 moves in one burst
                tree.action_cursor_down()
            assert tree.cursor_node is nodes[30]
            await until(pilot, lambda: str(info.render()).startswith("ds_030") and "columns:" in str(info.render()))
            await until(pilot, slow_done.is_set)
            await pilot.pause(0.3)
            assert str(info.render()).startswith("ds_030")  # the late answer for ds_001 was dropped
            nodes[30].expand()  # columns still load on expand
            await until(pilot, lambda: [str(c.label).split()[0] for c in nodes[30].children] == ["id", "v"])
    run(go())


# -- keys as real terminals send them ---------------------------------------------------------

def feed(app, raw: str) -> None:
    """Bytes as a terminal sends them, parsed by Textual's own parser and posted all at once,
    as its driver does when they arrive in one read (so nothing waits between keys)."""
    from textual._xterm_parser import XTermParser

    parser = XTermParser()
    for event in [*parser.feed(raw), *parser.feed("")]:  # "" ends the input: a lone ESC is flushed
        app.post_message(event)


def screen_text(app) -> str:
    """The characters on the terminal right now (what a user sees)."""
    import io

    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def test_keys_as_tmux_sends_them_switch_panes_and_type_nothing_into_the_hidden_box(people_home):
    """Right after start: F3 and then typing, in one burst (tmux sends F3 as ESC O R), goes
    into the SQL editor, not the Ask box that was focused; ctrl+n cycles the panes; ctrl+l
    (not ctrl+h, which is Backspace, 0x08) opens the history; ctrl+r runs."""
    async def go():
        async with opened(people_home) as (app, pilot):
            ask, editor = app.query_one("#ask-input"), app.query_one("#sql-editor")
            await until(pilot, lambda: "SELECT" in editor.text)
            before = editor.text
            feed(app, "\x1bORxyz")
            await until(pilot, lambda: "xyz" in editor.text)
            assert app.query_one("TabbedContent").active == "sql" and ask.value == ""
            assert app.focused is editor
            # the example query was selected, so typing replaced it (the comment line stays)
            example = before.splitlines()[1]
            assert editor.text == before.replace(example, "xyz")
            feed(app, "\x08\x08\x08")  # ctrl+h as terminals send it: Backspace, so no history here
            await until(pilot, lambda: editor.text == before.replace(example, ""))
            assert app.screen.__class__.__name__ != "HistoryPicker"
            for pane in ("trials", "memory", "system", "ask", "explore", "sql"):
                feed(app, "\x0e")  # ctrl+n
                await until(pilot, lambda: app.query_one("TabbedContent").active == pane)
            assert ask.value == "" and editor.text == before.replace(example, "")
            editor.text = "SELECT count(*) AS n FROM notes"
            feed(app, "\x12")  # ctrl+r runs
            await until(pilot, lambda: "1 row in" in message(app))
            feed(app, "\x0c")  # ctrl+l: the history
            await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryPicker")
            feed(app, "\x1b")
            await until(pilot, lambda: app.screen.__class__.__name__ != "HistoryPicker")
            feed(app, "\x1bOP")  # F1: back to Ask, where typing goes into the box
            feed(app, "hi")
            await until(pilot, lambda: ask.value == "hi")
    run(go())


def test_help_scrolls_and_shows_every_key_at_80x24(people_home):
    """? lists every key of the key table, and at 80x24 it scrolls to the last one."""
    from panes.keys import listed

    async def go():
        async with opened(people_home, size=(80, 24)) as (app, pilot):
            await pilot.press("f2", "question_mark")
            assert app.screen.__class__.__name__ == "HelpScreen"
            seen = screen_text(app)
            scroll = app.screen.query_one("#help")
            assert scroll.max_scroll_y > 0  # more than fits: it scrolls
            while scroll.scroll_y < scroll.max_scroll_y:
                await pilot.press("pagedown")
                await pilot.pause()
                seen += screen_text(app)
            last_keys, last_text = listed()[-1][1][-1]
            assert last_text in screen_text(app)  # the end is on screen
            flat = " ".join(seen.split())
            for title, rows in listed():
                assert title in flat
                for keys, text in rows:
                    assert keys in flat and " ".join(text.split()[:3]) in flat, (keys, text)
            await pilot.press("escape")
            assert app.screen.__class__.__name__ != "HelpScreen"
    run(go())


def test_readme_key_table_is_the_key_table():
    """The README's table of TUI keys is the one the app binds (panes/keys.py)."""
    from pathlib import Path

    from panes.keys import markdown

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert markdown() in readme, "README's key table differs: paste panes.keys.markdown() into it"


def test_the_footer_shows_the_keys_of_the_focused_pane(people_home):
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f3")
            await pilot.pause()
            assert "^r Run" in screen_text(app) and "^l History" in screen_text(app)
            await pilot.press("f2")
            await pilot.pause()
            assert "Pin/unpin" in screen_text(app) and "^l History" not in screen_text(app)
    run(go())


# -- rough edges a new user hit ---------------------------------------------------------------

def test_the_template_comment_is_not_run_and_an_error_replaces_the_result(people_home):
    """The editor's opening note is not part of what runs, is labelled or is audited; a
    statement of only comments says so; an error clears the result it would sit under."""
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f3")
            editor = app.query_one("#sql-editor")
            await until(pilot, lambda: editor.text.startswith("-- datasets here"))
            editor.move_cursor((0, 3))  # on the comment line itself
            await pilot.press("ctrl+r")
            await until(pilot, lambda: " ms" in message(app))  # "N row(s) in N ms"
            assert app.query("#sql-table")
            audited = [a["statement"] for a in app.lh.audit(limit=5) if a["action"] == "sql"]
            assert audited[0].startswith("SELECT") and "--" not in audited[0]
            history = (people_home / "history" / "sql.jsonl").read_text()
            assert "datasets here" not in history
            editor.text = "-- just a note\n/* and another */\n"
            await pilot.press("ctrl+r")
            assert "only comments here" in message(app) and app.query("#sql-table")  # nothing ran
            editor.text = "SELECT nope FROM people"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "error:" in message(app))
            await until(pilot, lambda: not app.query("#sql-table"))  # the old result is gone with it
            await pilot.press("ctrl+s")
            assert "run a query first" in message(app)  # and so is what export would write
    run(go())


def test_explore_keeps_the_dataset_and_its_sample_after_a_pin(people_home):
    """Pinning reloads the tree: the cursor stays on the dataset, its detail says pinned, and
    the sample is that dataset's, in a table whose columns all have room."""
    async def go():
        async with opened(people_home) as (app, pilot):
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            info = app.query_one("#explore-info")
            await until(pilot, lambda: tree.root.children and "datasets (2)" in str(tree.root.children[0].label))
            tree.move_cursor(tree.root.children[0].children[1])  # people
            await until(pilot, lambda: str(info.render()).startswith("people"))
            sample = app.query_one("#explore-sample")
            await until(pilot, lambda: bool(sample.query("DataTable")))
            table = sample.query_one("DataTable")
            assert "profile" in [str(c.label) for c in table.ordered_columns]
            assert all(c.content_width > 0 for c in table.ordered_columns)
            tree.move_cursor(tree.root.children[0].children[0])  # notes
            await until(pilot, lambda: str(info.render()).startswith("notes"))
            tree.move_cursor(tree.root.children[0].children[1])  # back to people, then pin it
            await until(pilot, lambda: str(info.render()).startswith("people"))
            await pilot.press("p")
            await until(pilot, lambda: "pinned" in str(info.render()))
            assert tree.cursor_node.data == ("dataset", "people")
            await until(pilot, lambda: bool(sample.query("DataTable")))
            assert "profile" in [str(c.label) for c in sample.query_one("DataTable").ordered_columns]
    run(go())


def test_a_profile_made_in_another_shell_is_in_the_picker(people_home, cli):
    async def go():
        async with opened(people_home) as (app, pilot):
            code, _, err = cli("profile", "create", "latecomer", "--datasets", "notes")
            assert code == 0, err
            await pilot.press("ctrl+o")
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
            assert "latecomer" in [v for _, v in app.screen.shown]
            await pilot.press(*"latecomer", "enter")
            await until(pilot, lambda: app.lh.profile.id == "latecomer")
    run(go())


def test_leading_comments_are_not_part_of_the_statement():
    from panes.sql import without_leading_comments

    assert without_leading_comments("-- a\n  /* b\n c */ SELECT 1 -- d") == "SELECT 1 -- d"
    assert without_leading_comments("-- only\n/* notes") == ""
    assert without_leading_comments("SELECT '--x'") == "SELECT '--x'"


def test_panes_talk_through_messages_the_app_routes(people_home):
    """A pane never reaches into another: it posts a message (panes/messages.py) and the app
    routes it — OpenInSql shows the SQL pane with the query in its editor (run unless told
    not to), Rescoped rescopes every pane, DatasetsChanged reloads Explore."""
    from panes.messages import DatasetsChanged, OpenInSql, Rescoped

    async def go():
        async with opened(people_home) as (app, pilot):
            explore = app.query_one("ExplorePane")
            explore.post_message(OpenInSql('SELECT 1 AS "one"', run=False))
            await until(pilot, lambda: app.query_one("#panes").active == "sql")
            sql = app.query_one("SqlPane")
            assert sql.editor.text == 'SELECT 1 AS "one"\n' and sql.last_query is None  # not run
            explore.post_message(OpenInSql("SELECT 2 AS two"))
            await until(pilot, lambda: "1 row in" in message(app) and sql.last_query == "SELECT 2 AS two")
            reloads, rescopes = [], []
            explore.action_reload = lambda: reloads.append(1)
            app._rescoped = rescopes.append
            app.query_one("SystemPane").post_message(DatasetsChanged())
            app.query_one("SystemPane").post_message(Rescoped("default"))
            await until(pilot, lambda: reloads == [1] and rescopes == ["default"])
    run(go())


def test_the_command_palette_is_the_action_table(people_home):
    """Every palette entry comes from the one action table (panes/keys.py), titled with its
    keys, and runs its action on its pane, that pane shown first when the table says so."""
    from panes.keys import commands

    async def go():
        async with opened(people_home) as (app, pilot):
            palette = {c.title: c for c in app.get_system_commands(app.screen)}
            titles = [title for _, title in commands()]
            assert set(titles) <= set(palette) and "Close SQL buffer" in titles  # a palette-only action too
            assert [b.id for b in app.query_one("SqlPane").BINDINGS][:2] == ["sql.run", "sql.cancel"]
            await until(pilot, lambda: "ready" in message(app))
            # as the palette calls it, from the Ask pane: SQL shown, a second buffer
            app.call_later(palette["New SQL buffer (ctrl+t)"].callback)
            await until(pilot, lambda: app.query_one("#panes").active == "sql"
                        and app.query_one("#sql-buffers").tab_count == 2)
            await until(pilot, lambda: getattr(app.focused, "id", None) == "sql-editor-2")
            app.call_later(palette["Close SQL buffer"].callback)
            await until(pilot, lambda: app.query_one("#sql-buffers").tab_count == 1)
            app.call_later(palette["System pane (F6)"].callback)
            await until(pilot, lambda: app.query_one("#panes").active == "system")
    run(go())


def test_an_error_the_workstation_shows_says_its_hint(people_home):
    """A LakehouseError's hint (what to do next) follows its sentence, in plain words."""
    from core.errors import Hint, LakehouseError
    from panes.base import said

    hinted = LakehouseError("the profiles cannot be read", hint=Hint("fix {the config file} and try again"))
    assert said(hinted) == "the profiles cannot be read — fix the config file and try again"
    assert said(LakehouseError("no hint here")) == "no hint here"

    async def go():
        async with opened(people_home) as (app, pilot):
            shown = []
            app.notify = lambda text, **kw: shown.append(text)

            def refuse():
                raise hinted
            app.lh.profiles = refuse
            await pilot.press("ctrl+o")
            await until(pilot, lambda: shown == [said(hinted)])
    run(go())
