"""Untrusted text is inert wherever it is shown (issue 14, found 3).

One storage root holds hostile text everywhere a user's files, a model or another user can
put it: cell values, a column name, a source file name, a description, an update's values
and reason, an audited statement, a failed ingest's error, a model's answer and the
passages it cites. Each hostile case is Rich or Textual markup, a terminal escape
sequence (CSI, OSC, DCS), a C1 control, DEL, a bare CR, a backspace, a bidi override or a
10,000-character line.

Every CLI command that shows them (the real `lakehouse` entry point in a subprocess, stdout
and stderr read as bytes) and every TUI pane (the real app through Textual's pilot) must:
not crash; send no control character, escape sequence or bidi control to the terminal
(Rich emits no escapes of its own without a terminal, so there must be none at all); and
show the text, in its visible escaped form (`\\x1b[2J`, `[/]`). Machine formats
(`--format json|csv|parquet`) keep the exact original text.

The CLI commands run once per module and the TUI once; the parametrized tests then check
each (command or widget) x (hostile case) so a failure names both.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_stub import OllamaStub

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# (name, the hostile text, how it must look on screen): the visible forms are written out
# here, not computed, so the test says what a user sees.
CASES = [
    ("markup_close", "[/]", "[/]"),
    ("markup_style", "[bold red]x[/]", "[bold red]x[/]"),
    ("markup_link", "[link=http://evil]x[/link]", "[link=http://evil]x[/link]"),
    ("markup_hidden", "[black on black]hidden", "[black on black]hidden"),
    ("textual_variable", "[$accent]v[/]", "[$accent]v[/]"),
    ("escaped_bracket", "\\[b]x\\", "\\[b]x\\"),
    ("csi_clear_screen", "\x1b[2J", "\\x1b[2J"),
    ("csi_with_params", "\x1b[38;5;196;1mred", "\\x1b[38;5;196;1mred"),
    ("osc0_title", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
    ("osc52_clipboard", "\x1b]52;c;cHduZWQ=\x07", "\\x1b]52;c;cHduZWQ=\\x07"),
    ("osc8_hyperlink", "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\", "\\x1b]8;;http://evil\\x1b\\x\\x1b]8;;\\x1b\\"),
    ("dcs", "\x1bPq#0;2;0;0;0\x1b\\", "\\x1bPq#0;2;0;0;0\\x1b\\"),
    ("c1_csi", "\x9b2J", "\\x9b2J"),
    ("c1_osc", "\x9d0;t\x9c", "\\x9d0;t\\x9c"),
    ("del", "a\x7fb", "a\\x7fb"),
    ("bare_cr", "ok\rEVIL", "ok\\x0dEVIL"),
    ("backspace", "ab\x08\x08XY", "ab\\x08\\x08XY"),
    ("bell", "ding\x07", "ding\\x07"),
    ("bidi_override", "user\u202egnp.exe", "user\\u202egnp.exe"),
    ("bidi_isolate", "\u2066x\u2069", "\\u2066x\\u2069"),
    ("long_line", "L" * 10_000, "L" * 40),
]
IDS = [c[0] for c in CASES]
RAW = {name: raw for name, raw, _ in CASES}
SHOWN = {name: shown for name, _, shown in CASES}

COLUMN = "note \x1b[31m[/]\u202e"  # a column name from the file's header
COLUMN_SHOWN = "note \\x1b[31m[/]\\u202e"
FILE = "evil [bold red]x \x1b[2J \x1b]0;pwned\x07 \x9b \u202egnp.csv"  # the file ingested
FILE_SHOWN = "evil [bold red]x \\x1b[2J \\x1b]0;pwned\\x07 \\x9b \\u202egnp.csv"
BAD_FILE = "bad \x1b]52;c;cHduZWQ=\x07 [blink]x.csv"  # a file whose ingest fails
BAD_FILE_SHOWN = "bad \\x1b]52;c;cHduZWQ=\\x07 [blink]x.csv"
MODEL = "evil[/]\x1b[2j\u202e:latest"  # an Ollama model name
MODEL_SHOWN = "evil[/]\\x1b[2j\\u202e:latest"
# every short case in one text: a description, a reason, a statement, a model's answer
MIX = " ".join(raw for name, raw, _ in CASES if name != "long_line")
MIX_SHOWN = " ".join(shown for name, _, shown in CASES if name != "long_line")
ANSWER = f"Here it is: {MIX}\n{'L' * 10_000}\nend"

# What a terminal would act on. Tab and newline are layout; anything else here reaching
# stdout or stderr (or a TUI frame) is the bug this file is about.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def assert_inert(text: str, where: str) -> None:
    m = FORBIDDEN.search(text)
    assert m is None, f"{m.group()!r} reached the terminal in {where}: …{text[max(0, m.start() - 60):m.start() + 20]!r}…"


def decoded(raw: bytes, where: str) -> str:
    text = raw.decode("utf-8")  # strict: a stray byte is as bad as a control character
    assert_inert(text, where)
    return text


# -- the storage root and the CLI runs ---------------------------------------------------------

class World:
    def __init__(self, base: Path, stub: OllamaStub):
        self.base, self.stub = base, stub
        self.home, self.data = base / "home", base / "data"
        self.runs: dict[str, tuple[int, bytes, bytes]] = {}

    def env(self) -> dict:
        # no terminal, NO_COLOR and a dumb TERM: Rich sends no escape of its own; a console
        # this wide never folds a table cell, so each text can be looked for whole
        return {**os.environ, "LAKEHOUSE_HOME": str(self.home), "OLLAMA_HOST": self.stub.url, "NO_COLOR": "1",
                "TERM": "dumb", "COLUMNS": "4000"}

    def run(self, *args: str) -> tuple[int, bytes, bytes]:
        exe = Path(sys.executable).parent / "lakehouse"
        p = subprocess.run([str(exe), *args], capture_output=True, env=self.env(), timeout=300)
        return p.returncode, p.stdout, p.stderr

    def keep(self, name: str, *args: str) -> tuple[int, bytes, bytes]:
        self.runs[name] = self.run(*args)
        return self.runs[name]


def sql_reply(sql: str) -> str:
    return json.dumps({"sql": sql, "reason": "rows asked for"})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    stub = OllamaStub().start()
    w = World(base, stub)
    try:
        w.data.mkdir()
        with open(w.data / FILE, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["id", COLUMN, "doc"])
            for i, (name, raw, _) in enumerate(CASES):
                out.writerow([i, raw, f"kubernetes migration note {name}: {raw}"])
        (w.data / BAD_FILE).write_text('a,b\n1,"never closed\n')
        code, out, err = w.keep("ingest", "ingest", str(w.data / FILE), "--name", "hostile", "--key", "id")
        assert code == 0, err
        assert w.keep("ingest_failed", "ingest", str(w.data / BAD_FILE), "--name", "bad")[0] == 1
        assert w.run("annotate", "hostile", "--description", MIX, "--owner", "[b]own\x1b[2Jer")[0] == 0
        assert w.keep("update", "update", "hostile", "--key", "0", "--set", f"{COLUMN}={MIX}",
                      "--reason", MIX)[0] == 0
        assert w.run("sql", f"SELECT '{MIX}' AS said")[0] == 0  # an audited statement
        assert w.keep("embed", "embed", "hostile", "--column", "doc", "--index", "notes",
                      "--embedder", "hashing")[0] == 0
        assert w.run("profile", "create", "evilp", "--datasets", "hostile", "--description", MIX)[0] == 0
        stub.add_model(MODEL)  # a model's name is the Ollama server's to choose
        stub.chat_replies = [sql_reply("SELECT * FROM hostile ORDER BY id"), ANSWER]
        w.keep("ask_sql", "ask", "show me every note", "--mode", "sql")
        stub.chat_replies = [f"{ANSWER} [1] [2]"]
        w.keep("ask_rag", "ask", "kubernetes migration note", "--mode", "rag", "--index", "notes")
        stub.chat_replies = [f"{ANSWER} [1]"]
        w.keep("ask_json", "ask", "kubernetes migration note", "--mode", "rag", "--index", "notes", "--format", "json")
        for name, *args in [
            ("datasets", "datasets"),
            ("describe", "describe", "hostile"),
            ("sql", "sql", "SELECT * FROM hostile ORDER BY id"),
            ("sql_error", "sql", f'SELECT CAST("{COLUMN}" AS INTEGER) FROM hostile WHERE id = {IDS.index("osc52_clipboard")}'),
            ("sql_json", "sql", "SELECT * FROM hostile ORDER BY id", "--format", "json"),
            ("sql_csv", "sql", "SELECT * FROM hostile ORDER BY id", "--format", "csv"),
            ("versions", "versions", "hostile"),
            ("history", "history", "hostile"),
            ("history_json", "history", "hostile", "--format", "json"),
            ("jobs", "jobs"),
            ("errors", "errors"),
            ("audit", "audit"),
            ("search", "search", "notes", "kubernetes migration note", "-k", str(len(CASES))),
            ("search_json", "search", "notes", "kubernetes migration note", "-k", str(len(CASES)), "--format", "json"),
            ("index_list", "index", "list"),
            ("index_generations", "index", "generations", "notes"),
            ("profile_list", "profile", "list"),
            ("profile_show", "profile", "show", "evilp"),
            ("summary", ),  # `lakehouse` in a pipe: the datasets and a sample query
            ("models", "models"),
            ("ask_unknown_model", "ask", "kubernetes migration note", "--mode", "rag", "--index", "notes",
             "--model", "nope\x1b]0;pwned\x07[/]"),  # Ollama's error quotes the name
        ]:
            w.keep(name, *args)
        yield w
    finally:
        stub.stop()
        shutil.rmtree(base, ignore_errors=True)


# What each command shows in table form, and the exit code it must end with.
SHOWS_CELLS = ["sql", "search", "ask_sql"]  # every case, as a cell, a hit or a row
TABLE_RUNS = {
    "ingest": 0, "ingest_failed": 1, "update": 0, "embed": 0, "datasets": 0, "describe": 0, "sql": 0,
    "sql_error": 1, "versions": 0, "history": 0, "jobs": 0, "errors": 0, "audit": 0, "search": 0,
    "index_list": 0, "index_generations": 0, "profile_list": 0, "profile_show": 0, "ask_sql": 0, "ask_rag": 0,
    "summary": 0, "models": 0, "ask_unknown_model": 1,
}
# (command, a text it must show literally, a name for it)
SHOWN_TEXTS = [
    ("ingest", FILE_SHOWN, "file name"),
    ("ingest_failed", BAD_FILE_SHOWN, "failed file name"),
    ("describe", COLUMN_SHOWN, "column name"),
    ("describe", FILE_SHOWN, "lineage source"),
    ("describe", MIX_SHOWN, "description"),
    ("describe", "[b]own\\x1b[2Jer", "owner"),
    ("sql", COLUMN_SHOWN, "column name"),
    ("sql_error", SHOWN["osc52_clipboard"], "value quoted by the error"),
    ("update", SHOWN["markup_close"], "old value"),
    ("versions", MIX_SHOWN, "reason"),
    ("history", MIX_SHOWN, "reason"),
    ("history", COLUMN_SHOWN, "field"),
    ("jobs", FILE_SHOWN, "job message"),
    ("errors", BAD_FILE_SHOWN, "error message"),
    ("audit", f"SELECT '{MIX_SHOWN}' AS said", "statement"),
    ("ask_sql", "Here it is: " + MIX_SHOWN, "answer"),
    ("ask_sql", "L" * 10_000, "answer's long line"),
    ("ask_rag", "Here it is: " + MIX_SHOWN, "answer"),
    ("ask_rag", "kubernetes migration note", "citation"),
    ("profile_list", MIX_SHOWN[:40], "description"),
    ("profile_show", MIX_SHOWN, "description"),
    ("summary", COLUMN_SHOWN, "sample's column name"),
    ("models", MODEL_SHOWN, "model name"),
    ("ask_unknown_model", "nope\\x1b]0;pwned\\x07[/]", "model name in Ollama's error"),
]


@pytest.mark.parametrize("command", sorted(TABLE_RUNS))
def test_a_command_ends_as_it_should_and_sends_no_control_character(world, command):
    code, out, err = world.runs[command]
    assert code == TABLE_RUNS[command], err.decode(errors="replace")[-2000:]
    decoded(out, f"`{command}` stdout")
    text = decoded(err, f"`{command}` stderr")
    assert "Traceback" not in text and "unexpected" not in text


@pytest.mark.parametrize("command,text,what", SHOWN_TEXTS, ids=[f"{c}-{w}" for c, _, w in SHOWN_TEXTS])
def test_a_command_shows_the_hostile_text_literally(world, command, text, what):
    code, out, err = world.runs[command]
    shown = out.decode() + err.decode()
    assert text in shown, f"{what} not shown as {text[:80]!r}"


@pytest.mark.parametrize("command", SHOWS_CELLS)
@pytest.mark.parametrize("case", IDS)
def test_every_hostile_cell_is_visible_in_table_output(world, command, case):
    out = world.runs[command][1].decode()
    assert SHOWN[case] in out


@pytest.mark.parametrize("case", IDS)
def test_json_and_csv_keep_the_exact_text(world, case):
    i = IDS.index(case)
    rows = json.loads(world.runs["sql_json"][1])
    assert rows[i][COLUMN] == (MIX if i == 0 else RAW[case])  # row 0 was updated to MIX
    records = list(csv.reader(io.StringIO(world.runs["sql_csv"][1].decode(), newline="")))
    assert records[0] == ["id", COLUMN, "doc"]
    assert records[1 + i][2] == f"kubernetes migration note {case}: {RAW[case]}"


def test_parquet_keeps_the_exact_text(world, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "hostile.parquet"
    code, _, err = world.run("sql", "SELECT * FROM hostile ORDER BY id", "--format", "parquet", "--output", str(out))
    assert code == 0, err
    t = pq.read_table(out)
    assert t.column_names == ["id", COLUMN, "doc"]
    assert t.column(COLUMN).to_pylist()[1:] == [raw for _, raw, _ in CASES][1:]


def test_json_keeps_the_exact_text_of_history_search_and_answers(world):
    history = json.loads(world.runs["history_json"][1])
    assert any(h["reason"] == MIX and h["new_value"] == MIX and h["field"] == COLUMN for h in history)
    hits = json.loads(world.runs["search_json"][1])["hits"]
    # a 10,000-character text is cut into chunks: each hit is (the start of) its row's text
    assert {h["text"][:300] for h in hits} == {f"kubernetes migration note {n}: {r}"[:300] for n, r, _ in CASES}
    answer = json.loads(world.runs["ask_json"][1])["answer"]
    assert ANSWER in answer


def test_the_core_keeps_the_exact_text_too(world):
    from core import Lakehouse

    with Lakehouse.open(home=world.home) as lh:
        d = lh.describe("hostile")
        assert [c.name for c in d.dataset.columns] == ["id", COLUMN, "doc"]
        assert d.dataset.description == MIX and d.lineage[0].source_uri.endswith(FILE)


# -- the inert() rule itself -------------------------------------------------------------------

@pytest.mark.parametrize("case", IDS)
def test_inert_shows_each_case_as_written(case):
    from core.text import inert

    assert inert(RAW[case]).startswith(SHOWN[case])
    assert_inert(inert(RAW[case]), "inert()")


def test_inert_keeps_line_breaks_and_tabs_only_when_asked_and_is_idempotent():
    from core.text import inert

    assert inert("a\nb\tc") == "a\nb\\x09c" and inert("a\nb\tc", tabs=True) == "a\nb\tc"
    assert inert(inert(MIX)) == inert(MIX) == MIX_SHOWN
    assert inert("é ß 日本 🙂 ∅") == "é ß 日本 🙂 ∅"  # printable text is untouched


def test_a_progress_bar_on_a_terminal_shows_a_hostile_file_name_literally(monkeypatch):
    """`run_job`'s progress bar (drawn on a terminal only) names the file being ingested:
    as text, never markup (a `[/]` in a file name would crash Rich's progress column)."""
    import rich.console

    from app.cli.progress import run_job
    from core.models import ProgressEvent

    frames = io.StringIO()
    real = rich.console.Console

    def console(*a, **k):  # the bar's console, on a pretend terminal with no colours
        return real(file=frames, force_terminal=True, color_system=None, width=200)
    monkeypatch.setattr(rich.console, "Console", console)

    def job(*, progress, cancel):
        for done in range(3):
            progress(ProgressEvent("j1", "ingest", f"[/] {FILE}", done, 3, "rows", f"reading {MIX}"))
        return "done"
    assert run_job(job) == "done"
    shown = frames.getvalue()  # Rich's own cursor movements are in it; none of the file name's
    for raw in ("\x1b[2J", "\x1b]0;", "\x9b", "\u202e", "\x07"):
        assert raw not in shown
    assert "[/] evil [bold red]x \\x1b[2J \\x1b]0;pwned\\x07" in shown


# -- the TUI -----------------------------------------------------------------------------------

def screen_text(app) -> str:
    """The characters on the terminal right now (what a user sees), as test_tui reads them."""
    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def rendered(renderable, width: int = 20_000) -> str:
    """A widget's renderable drawn as a terminal would get it (no colours)."""
    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), record=True, force_terminal=True, color_system=None)
    console.print(renderable)
    return console.export_text()


async def until(pilot, cond, timeout: float = 30.0, shown=None) -> None:
    waited = 0.0
    while not cond():
        await pilot.pause(0.05)
        waited += 0.05
        if waited > timeout:
            raise AssertionError("the app did not get there in time" + (f"; it shows {shown()[-3000:]!r}" if shown else ""))


def widget_text(widget) -> str:
    return str(widget.render())


@pytest.fixture(scope="module")
def tui(world):
    """Every pane of the real app with the hostile storage root loaded: what each widget
    holds and draws, and what the screen shows, per pane."""
    from textual.coordinate import Coordinate

    from app.tui import LakehouseApp

    views: dict[str, str] = {}
    cells: dict[str, list] = {}
    copied: list[str] = []

    async def go():
        app = LakehouseApp(home=world.home, profile="default")
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            app.copy_to_clipboard = copied.append
            await until(pilot, lambda: app.lh is not None)
            # SQL: the result table, a cell viewer, an error quoting a cell
            await pilot.press("f3")
            sql = app.query_one("SqlPane")
            sql.editor.text = f"SELECT '{MIX}' AS said"  # a query with hostile text: it goes to the history
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "1 row in" in widget_text(app.query_one("#sql-message")))
            # lists, structs and maps are shown by their repr: escaped too
            sql.editor.text = ("SELECT list(\"{c}\" ORDER BY id) AS l, {{'k': any_value(\"{c}\")}} AS s, "
                               "map([any_value(\"{c}\")], [1]) AS m FROM hostile WHERE id BETWEEN 6 AND 19"
                               ).format(c=COLUMN)
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "1 row in" in widget_text(app.query_one("#sql-message")),
                        shown=lambda: widget_text(app.query_one("#sql-message")))
            nested = app.query_one("#sql-table")
            views["sql.nested"] = "\n".join(rendered(nested._get_cell_renderable(0, c, 2000)) for c in range(3))
            sql.editor.text = "SELECT * FROM hostile ORDER BY id"
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "rows in" in widget_text(app.query_one("#sql-message")))
            table = app.query_one("#sql-table")
            col = 1
            cells["sql.values"] = [table.get_cell_at(Coordinate(r, col)) for r in range(table.row_count)]
            cells["sql.drawn"] = [rendered(table._get_cell_renderable(r, col, 60)) for r in range(table.row_count)]
            views["sql.header"] = rendered(table.ordered_columns[col].label)
            views["sql.screen"] = screen_text(app)
            table.focus()
            table.move_cursor(row=IDS.index("osc52_clipboard"), column=col)
            await pilot.press("enter")
            await until(pilot, lambda: app.screen.__class__.__name__ == "CellViewer")
            views["sql.cell_viewer"] = widget_text(app.screen.query_one("#cell-value"))
            views["sql.cell_viewer.screen"] = screen_text(app)
            await pilot.press("c")  # copies the exact value
            await pilot.press("escape")
            sql.editor.text = f'SELECT CAST("{COLUMN}" AS INTEGER) FROM hostile WHERE id = {IDS.index("osc52_clipboard")}'
            sql.editor.focus()
            await pilot.press("ctrl+j")
            await until(pilot, lambda: "error" in widget_text(app.query_one("#sql-message")))
            views["sql.error"] = widget_text(app.query_one("#sql-message"))
            views["sql.error.screen"] = screen_text(app)  # the editor shows the query (and its column name) too
            await pilot.press("ctrl+l")  # the query history: the queries above, with their hostile text
            await until(pilot, lambda: app.screen.__class__.__name__ == "HistoryPicker")
            picker = app.screen.query_one("#picker-list")
            views["sql.history"] = "\n".join(str(picker.get_option_at_index(i).prompt)
                                             for i in range(picker.option_count))
            views["sql.history.screen"] = screen_text(app)
            await pilot.press("escape")
            await pilot.press("ctrl+o")  # the profile picker: a profile described by MIX
            await until(pilot, lambda: app.screen.__class__.__name__ == "ProfilePicker")
            picker = app.screen.query_one("#picker-list")
            views["profiles"] = "\n".join(str(picker.get_option_at_index(i).prompt)
                                          for i in range(picker.option_count))
            views["profiles.screen"] = screen_text(app)
            await pilot.press("escape")
            # Explore: the tree, the detail, the sample
            await pilot.press("f2")
            tree = app.query_one("#explore-tree")
            await until(pilot, lambda: bool(tree.root.children) and bool(tree.root.children[0].children))
            node = next(n for n in tree.root.children[0].children if n.data == ("dataset", "hostile"))
            tree.focus()
            tree.move_cursor(node)
            info = app.query_one("#explore-info")
            await until(pilot, lambda: "columns:" in widget_text(info) and "hostile" in widget_text(info))
            await until(pilot, lambda: bool(app.query("#explore-sample DataTable")))
            views["explore.detail"] = widget_text(info)
            await pilot.press("space")  # expand: the columns
            await until(pilot, lambda: bool(node.children))
            views["explore.columns"] = " | ".join(rendered(n.label) for n in node.children)
            sample = app.query_one("#explore-sample DataTable")
            cells["explore.values"] = [sample.get_cell_at(Coordinate(r, 1)) for r in range(sample.row_count)]
            views["explore.header"] = rendered(sample.ordered_columns[1].label)
            idx = next(n for n in tree.root.children[1].children if n.data == ("index", "notes"))
            views["explore.index"] = rendered(idx.label)
            views["explore.screen"] = screen_text(app)
            # System: jobs, errors, audit
            await pilot.press("f6")
            errors = app.query_one("#system-errors")
            await until(pilot, lambda: "bad" in widget_text(errors))
            views["system.errors"] = widget_text(errors)
            views["system.audit"] = widget_text(app.query_one("#system-audit"))
            jobs = app.query_one("#system-jobs")
            views["system.jobs"] = "\n".join(str(jobs.get_option_at_index(i).prompt)
                                             for i in range(jobs.option_count))
            views["system.screen"] = screen_text(app)
            # Ask: an answer with its SQL and rows, then one with citations
            await pilot.press("f1")
            log = app.query_one("#ask-log")
            from textual.events import Paste

            box = app.query_one("#ask-input")
            box.post_message(Paste(f"pasted {MIX}"))  # a clipboard can hold anything
            await until(pilot, lambda: box.value.startswith("pasted"))
            views["ask.paste"] = box.value
            views["ask.paste.screen"] = screen_text(app)
            box.value = ""
            world.stub.chat_replies = [sql_reply(f"SELECT * /* {MIX} */ FROM hostile ORDER BY id"), ANSWER]
            app.query_one("#ask-mode").value = "sql"
            app.query_one("#ask-input").value = f"what do the notes say? {MIX}"
            await pilot.press("enter")
            await until(pilot, lambda: "opens it in the SQL pane" in " ".join(widget_text(w) for w in log.children),
                        shown=lambda: " ".join(widget_text(w) for w in log.children))
            views["ask.sql"] = "\n".join(widget_text(w) for w in log.children)
            world.stub.chat_replies = [f"{ANSWER} [1] [2]"]
            app.query_one("#ask-mode").value = "rag"
            app.query_one("#ask-input").value = "kubernetes migration note"
            await pilot.press("enter")
            await until(pilot, lambda: "opens the cited rows" in " ".join(widget_text(w) for w in log.children),
                        shown=lambda: " ".join(widget_text(w) for w in log.children))
            views["ask.rag"] = widget_text(log.children[-1])
            views["ask.screen"] = screen_text(app)
            # a notification quoting input, and the status bar
            app.notify(f"could not read {FILE}: {MIX}", severity="error")
            await until(pilot, lambda: any("could not read" in widget_text(t) for t in app.screen.query("Toast")))
            views["notify"] = "\n".join(widget_text(t) for t in app.screen.query("Toast"))
            views["notify.screen"] = screen_text(app)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OLLAMA_HOST", world.stub.url)
        mp.setenv("LAKEHOUSE_HOME", str(world.home))
        asyncio.run(go())
    views["copied"] = "\n".join(copied)
    return views, cells


SCREENS = ["sql.screen", "sql.cell_viewer.screen", "sql.error.screen", "sql.history.screen", "profiles.screen",
           "explore.screen", "system.screen", "ask.paste.screen", "ask.screen", "notify.screen"]


@pytest.mark.parametrize("view", SCREENS)
def test_no_control_character_reaches_the_screen_of_a_pane(tui, view):
    views, _ = tui
    assert_inert(views[view], view)
    assert "Traceback" not in views[view]


@pytest.mark.parametrize("view", ["sql.values", "sql.drawn", "explore.values"])
@pytest.mark.parametrize("case", IDS)
def test_a_table_cell_shows_the_hostile_text_literally(tui, view, case):
    _, cells = tui
    row = IDS.index(case)
    if row >= len(cells[view]):  # Explore samples the first 8 rows: row 0 (MIX) holds every short case
        if case == "long_line":
            pytest.skip("Explore's sample shows the first rows only")
        row = 0
    value = str(cells[view][row])
    assert_inert(value, f"{view} {case}")
    expected = MIX_SHOWN if row == 0 else SHOWN[case]  # row 0 was updated to MIX
    assert expected[:50] in value if row else SHOWN[case] in value


# (view, a text it must show literally)
TUI_TEXTS = [
    ("sql.header", COLUMN_SHOWN),
    ("sql.cell_viewer", SHOWN["osc52_clipboard"]),
    ("sql.error", SHOWN["osc52_clipboard"]),
    ("sql.nested", "\\x1b[2J"),
    ("sql.nested", "\\x9b2J"),
    ("sql.nested", "\\u202e"),
    ("sql.history", f"SELECT '{MIX_SHOWN}"[:80]),  # the picker shows 90 characters of a query
    ("profiles", f"evilp  —  {MIX_SHOWN}"),
    ("explore.detail", COLUMN_SHOWN),
    ("explore.detail", FILE_SHOWN),
    ("explore.detail", MIX_SHOWN),
    ("explore.detail", "[b]own\\x1b[2Jer"),
    ("explore.columns", COLUMN_SHOWN),
    ("explore.header", COLUMN_SHOWN),
    ("explore.index", "hostile.doc"),
    ("system.errors", BAD_FILE_SHOWN),
    ("system.jobs", "evil [bold red]x \\x1b[2J"),
    ("system.audit", f'SELECT CAST("{COLUMN_SHOWN}'),  # the pane's own failed query
    ("ask.sql", f"› what do the notes say? {MIX_SHOWN}"),
    ("ask.sql", "Here it is: " + MIX_SHOWN),
    ("ask.sql", "L" * 10_000),
    ("ask.sql", f"SELECT * /* {MIX_SHOWN} */ FROM hostile ORDER BY id"),
    ("ask.sql", f"0 | {MIX_SHOWN} | kubernetes migration note markup_close: [/]"),
    ("ask.sql", f"1 | {SHOWN['markup_style']} | kubernetes migration note markup_style: {SHOWN['markup_style']}"),
    ("ask.rag", "Here it is: " + MIX_SHOWN),
    ("ask.rag", "kubernetes migration note"),
    ("notify", f"could not read {FILE_SHOWN}"),
    ("ask.paste", "pasted [/] [bold red]x[/] [link=http://evil]x[/link] [black on black]hidden [$accent]v[/] "
                  "\\[b]x\\ ␛[2J ␛[38;5;196;1mred ␛]0;pwned␇"),
]


@pytest.mark.parametrize("view,text", TUI_TEXTS, ids=[f"{v}-{i}" for i, (v, _) in enumerate(TUI_TEXTS)])
def test_a_widget_shows_the_hostile_text_literally(tui, view, text):
    views, _ = tui
    assert_inert(views[view], view)
    flat = views[view] if view != "notify" else " ".join(views[view].split())
    assert (text if view != "notify" else " ".join(text.split())) in flat


def test_copying_a_cell_copies_its_exact_value(tui):
    views, _ = tui
    assert views["copied"] == RAW["osc52_clipboard"]  # the clipboard gets the bytes (OSC 52 sends base64)
