"""The ingest screen: a file path (completed from the filesystem as it is typed) or a
postgresql:// URL (then a row for its table, query and incremental column appears), the
ingest options the CLI has (schema changes refused or accepted, a column map), a preview
of what the source would be read as, and the ingest itself as a job with a progress bar
that escape cancels. A schema change refused shows its diff; switching schema to accept
and pressing ctrl+r again takes it, nothing retyped.

Everything goes through the facade (`app.lh`), so it works in-process and with
`tui --connect`; a path is made absolute here, as the CLI does, because a daemon has
its own working directory; a URL is passed as typed, and shown only redacted (its
password masked, in the box too). File names, column names, cells and error sentences
are shown as literal text (panes.base.literal / label), never markup.
"""

from __future__ import annotations

import asyncio
import os
import re

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static

from core.ingest.secrets import redact
from panes.base import TextInput, label, line, literal, said
from panes.keys import bindings
from panes.messages import DatasetsChanged

MODES = ("create", "append", "replace", "upsert")
SCHEMA = (("refuse (default)", "refuse"), ("accept", "accept"))  # the CLI's default and --accept-schema
PREVIEW_ROWS = 20


def is_url(value: str) -> bool:
    """A PostgreSQL URL (as core/ingest/run.py `is_database_url`) rather than a path."""
    scheme, sep, _ = value.strip().partition("://")
    return bool(sep) and scheme.lower() in ("postgresql", "postgres")


def secret_spans(value: str) -> list[tuple[int, int]]:
    """Where a URL's passwords are (user:PASSWORD@, password=…), to mask them on screen."""
    if not is_url(value):
        return []
    spans = []
    head, at, _ = value.partition("://")[2].partition("/")[0].rpartition("@")
    if at and ":" in head:
        start = len(value.partition("://")[0]) + 3 + head.index(":") + 1
        spans.append((start, start + len(head) - head.index(":") - 1))
    for m in re.finditer(r"[?&](?:ssl)?password=([^&#]*)", value):
        spans.append(m.span(1))
    return spans


def shown_source(value: str) -> str:
    """A source as the screen may show it: a URL redacted (core/ingest/secrets.py)."""
    return redact(value, safe=True) if is_url(value) else value


class PathInput(TextInput):
    """The path box: a URL's password is drawn as dots (same length: the cursor still fits)."""

    @property
    def _value(self):
        text = super()._value
        spans = secret_spans(self.value)
        if spans:
            masked = list(text.plain)
            for a, b in spans:
                masked[a:b] = "•" * (b - a)
            text.plain = "".join(masked)  # same length: the styles and cursor stay where they were
        return text


class PathSuggester(Suggester):
    """Completes a path from the directory listing: the first file or folder (folders end
    in /) whose name starts with what was typed after the last /; `~` is the home folder.
    Hidden entries only once a dot is typed. Listed off the event loop."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value.strip() or "://" in value:  # nothing to complete in a URL
            return None
        return await asyncio.to_thread(complete_path, value)


def complete_path(value: str) -> str | None:
    """`value` completed by one entry of its folder, or None."""
    expanded = os.path.expanduser(value)
    folder, stem = os.path.split(expanded)
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return None
    for name in names:
        if name == stem or not name.startswith(stem) or (name.startswith(".") and not stem.startswith(".")):
            continue
        slash = "/" if os.path.isdir(os.path.join(folder or ".", name)) else ""
        return value + name[len(stem):] + slash  # what was typed stays as typed (~ included)
    return None


def absolute(path: str) -> str:
    """The path as the core (maybe a daemon, with its own cwd) must see it; a URL as typed."""
    if is_url(path):
        return path.strip()
    return os.path.abspath(os.path.expanduser(path.strip()))


def summary(pv: dict) -> str:
    """The preview's one line, as `lakehouse ingest --preview` prints it."""
    from app.output import human_bytes

    how = [pv["format"]] + ([pv["encoding"]] if pv.get("encoding") else [])
    d = pv.get("dialect")
    if d:
        skip = f", header on line {d['header_line']}" if d.get("skipped_lines") else ""
        how.append(f"delimiter {d['delimiter']!r}{skip}")
    n = len(pv["rows"])
    if pv.get("size") is None:  # a database source: rows, not bytes
        read = f"first {n:,} rows of more" if pv["sampled"] else f"all {n:,} rows"
    else:
        read = (f"{human_bytes(pv['bytes_read'])} of {human_bytes(pv['size'])} read" if pv["sampled"]
                else f"all {human_bytes(pv['size'])} read")
    est = f", about {pv['est_rows']:,} rows" if pv.get("est_rows") is not None else ""
    return f"{pv['path']}: {', '.join(how)} → dataset {pv['dataset']} ({read}{est})"


def result_line(r) -> Content:
    """One ingest result: its status as a word first (never colour alone), then its sentence;
    a refused schema change (its diff is in the sentence) then says how to take it here."""
    style = {"ingested": "bold", "unchanged": "", "failed": "bold red"}.get(r.status, "")
    text = r.message or f"{r.source} → {r.dataset}"
    more = [f"\n  note: {n}" for n in r.notes]
    if r.status == "failed" and "--accept-schema" in text:
        more.append(("\n  here: set schema to accept (or map SOURCE=COLUMN) and press ctrl+r again", "italic"))
    return line((f"{r.status}: ", style), text, *more)


class IngestScreen(ModalScreen):
    """Preview a file and ingest it. Escape cancels a running ingest, or closes."""

    AUTO_FOCUS = "#ingest-path"
    BINDINGS = bindings("ingest")
    DEFAULT_CSS = """
    IngestScreen { align: center middle; }
    #ingest { width: 120; max-width: 100%; height: 100%; max-height: 48; border: thick $primary;
              background: $surface; padding: 0 1; }
    #ingest .ingest-row { height: 1; }
    #ingest Label { width: 8; }
    #ingest Input { width: 1fr; }
    #ingest Select { width: 1fr; }
    #ingest-path-row Label { width: 8; }
    #ingest-pg { height: auto; }
    #ingest-pg.-hidden { display: none; }
    #ingest-pg #ingest-by-label { width: 16; }
    #ingest-buttons { height: 1; margin-top: 1; }
    #ingest-buttons Button { margin-right: 2; }
    #ingest-progress { height: 1; }
    #ingest-progress.-hidden { display: none; }
    #ingest-summary { height: auto; max-height: 6; }
    #ingest-rows { height: 1fr; min-height: 4; }
    #ingest-log { height: auto; max-height: 6; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._job = None  # the ingest worker while it runs
        self._user_cancel = False

    def compose(self) -> ComposeResult:
        def field(title: str, widget) -> ComposeResult:
            yield Label(title)
            yield widget

        with Vertical(id="ingest"):
            yield Static(line(("Ingest: ", "bold"), "enter previews, → completes, ctrl+r ingests, "
                              "escape cancels/closes"))
            with Horizontal(classes="ingest-row", id="ingest-path-row"):
                yield from field("path", PathInput(placeholder="a file, folder or glob (~ is your home), or "
                                                   "postgresql://USER@HOST/DB", suggester=PathSuggester(),
                                                   id="ingest-path", compact=True))
            with Vertical(classes="-hidden", id="ingest-pg"):  # for a URL only
                with Horizontal(classes="ingest-row"):
                    yield from field("table", TextInput(placeholder="schema.name (or a query below)",
                                                        id="ingest-table", compact=True))
                    yield Label(" incremental by", id="ingest-by-label")
                    yield TextInput(placeholder="column (rows past the last run)", id="ingest-by", compact=True)
                with Horizontal(classes="ingest-row"):
                    yield from field("query", TextInput(placeholder="SELECT … (instead of a table)",
                                                        id="ingest-query", compact=True))
            with Horizontal(classes="ingest-row"):
                yield from field("name", TextInput(placeholder="from the file name", id="ingest-name", compact=True))
                yield from field(" format", TextInput(placeholder="from the extension", id="ingest-format",
                                                      compact=True))
            with Horizontal(classes="ingest-row"):
                yield from field("types", TextInput(placeholder="col=TYPE,…", id="ingest-types", compact=True))
                yield from field(" mode", Select([(m, m) for m in MODES], prompt="create (default)",
                                                 id="ingest-mode", compact=True))
            with Horizontal(classes="ingest-row"):
                yield from field("key", TextInput(placeholder="primary key column(s)", id="ingest-key", compact=True))
                yield from field(" reason", TextInput(placeholder="why (journaled)", id="ingest-reason",
                                                      compact=True))
            with Horizontal(classes="ingest-row"):
                yield from field("schema", Select(SCHEMA, value="refuse", allow_blank=False, id="ingest-schema",
                                                  compact=True))
                yield from field(" map", TextInput(placeholder="SOURCE=COLUMN,…",
                                                   id="ingest-map", compact=True))
            with Horizontal(id="ingest-buttons"):
                yield Button("Preview", id="ingest-preview", compact=True)
                yield Button("Ingest (ctrl+r)", id="ingest-go", compact=True)
                yield Button("Cancel (escape)", id="ingest-cancel", compact=True)
            yield ProgressBar(id="ingest-progress", show_eta=False, classes="-hidden")
            with VerticalScroll(id="ingest-summary"):
                yield Static(literal("type a path or a postgresql:// URL and press enter to preview it"),
                             id="ingest-info")
            yield DataTable(id="ingest-rows", show_cursor=False, zebra_stripes=True)
            yield Static("", id="ingest-log")

    # -- reading the form --------------------------------------------------------------------
    def _value(self, wid: str) -> str | None:
        return self.query_one(f"#{wid}", Input).value.strip() or None

    def _path(self) -> str | None:
        return self._value("ingest-path")

    def _mode(self) -> str | None:
        mode = self.query_one("#ingest-mode", Select).value
        return mode if isinstance(mode, str) else None

    def _source(self, path: str) -> dict:
        """A URL's table and query (what both preview and ingest take); none for a file."""
        if not is_url(path):
            return {}
        return {"table": self._value("ingest-table"), "query": self._value("ingest-query")}

    def on_input_changed(self, event: Input.Changed) -> None:
        """The PostgreSQL row shows only while the path box holds a URL (80x24 still fits)."""
        if event.input.id == "ingest-path":
            self.query_one("#ingest-pg").set_class(not is_url(event.value), "-hidden")

    def _info(self, text) -> None:
        self.query_one("#ingest-info", Static).update(text if isinstance(text, Content) else literal(text))

    # -- preview -----------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id in ("ingest-path", "ingest-table", "ingest-query"):
            self.action_preview()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"ingest-preview": self.action_preview, "ingest-go": self.action_ingest,
         "ingest-cancel": self.action_close}[event.button.id]()

    def _ready(self, what: str) -> str | None:
        """The path typed, once there is one and the storage root is open; else say why and None."""
        path = self._path()
        if not path:
            self._info(f"no file given — type the path of {what}")
        elif self.app.lh is None:
            self._info("the storage root is still opening — try again in a moment")
        else:
            return path
        return None

    def action_preview(self) -> None:
        path = self._ready("one file to preview")
        if path is None:
            return
        self._info(f"reading {shown_source(path)}…")
        self.preview(absolute(path), {"name": self._value("ingest-name"), "format": self._value("ingest-format"),
                                      "types": self._value("ingest-types"), **self._source(path)})

    @work(thread=True, exclusive=True, group="ingest-preview")
    def preview(self, path: str, opts: dict) -> None:
        from textual.worker import get_current_worker

        from core.errors import LakehouseError

        try:
            pv = self.app.lh.ingest_preview(path, rows=PREVIEW_ROWS, **opts)
        except LakehouseError as e:
            pv = {"error": said(e)}
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_preview, pv)

    def _show_preview(self, pv: dict) -> None:
        table = self.query_one("#ingest-rows", DataTable)
        table.clear(columns=True)
        if "error" in pv:  # a refusal: its one sentence, nothing else
            self._info(line(("refused: ", "bold"), pv["error"]))
            return
        lines = [literal(summary(pv))]
        cols = pv["columns"]
        lines.append(line(("columns: ", "bold"), *(piece for n, c in enumerate(cols)
                                                  for piece in (", " if n else "", c["name"], " ",
                                                                (c["type"], "dim")))))
        lines += [line(("note: ", "italic"), n) for n in pv.get("notes") or []]
        if pv.get("refusal"):
            lines.append(line(("refused: ", "bold"), pv["refusal"]))
        self._info(Content("\n").join(lines))
        for c in cols:
            table.add_column(label(c["name"]))
        for row in pv["rows"]:
            table.add_row(*(label("∅" if v is None else v) for v in row))

    # -- ingest ------------------------------------------------------------------------------
    def action_ingest(self) -> None:
        if self._job is not None:
            return
        path = self._ready("a file, folder or glob to ingest")
        if path is None:
            return
        self._user_cancel = False
        bar = self.query_one("#ingest-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.remove_class("-hidden")
        self.query_one("#ingest-log", Static).update(literal(f"ingesting {shown_source(path)}… (escape cancels)"))
        opts = {"name": self._value("ingest-name"), "format": self._value("ingest-format"),
                "types": self._value("ingest-types"), "mode": self._mode(), "key": self._value("ingest-key"),
                "reason": self._value("ingest-reason") or "", "column_map": self._value("ingest-map"),
                "schema_change": self.query_one("#ingest-schema", Select).value, **self._source(path)}
        if is_url(path):
            opts["incremental_by"] = self._value("ingest-by")
        self._job = self.ingest(absolute(path), opts)

    @work(thread=True, group="ingest-run")
    def ingest(self, path: str, opts: dict) -> None:
        from core.errors import Cancelled, LakehouseError

        def progress(ev) -> None:
            self.app.call_from_thread(self._progress, ev)
        try:  # the actor is left to the core: config/user, as the CLI leaves it
            results = self.app.run_job(self.app.lh.ingest, [path], progress=progress, **opts)
        except Cancelled:
            if not self._quitting():
                self.app.call_from_thread(self._done, literal("cancelled — nothing was written"), False)
            return
        except LakehouseError as e:
            if not self._quitting():
                self.app.call_from_thread(self._done, line(("failed: ", "bold red"), said(e)), False)
            return
        lines = [result_line(r) for r in results]
        lines += self._refresh(sorted({r.dataset for r in results if r.status in ("ingested", "unchanged")}),
                               progress)
        ok = any(r.status == "ingested" for r in results)
        if not self._quitting():
            self.app.call_from_thread(self._done, Content("\n").join(lines), ok)

    def _refresh(self, touched: list[str], progress) -> list[Content]:
        """As the CLI does after an ingest: re-embed the changed rows into the indexes over
        each dataset that have auto-refresh on (also after an unchanged re-run: an earlier
        refresh may have been interrupted). Its outcomes are lines under the results."""
        from core.errors import Cancelled, LakehouseError

        out = []
        for ds in touched:
            try:
                outcomes = self.app.run_job(self.app.lh.refresh, ds, progress=progress)
            except Cancelled:
                return out + [literal(f"the rows are ingested; the refresh of the indexes over {ds} was cancelled "
                                      "— refresh them from the command line or re-run this ingest")]
            except LakehouseError as e:
                out.append(line(("index refresh failed: ", "bold"), said(e)))
                continue
            out += [line(("warning: ", "bold") if o.status in ("failed", "not-live") else "", o.message)
                    for o in outcomes]
        return out

    def _quitting(self) -> bool:
        """Cancelled by the app going away (not by escape): nothing to show."""
        return self.app.quitting and not self._user_cancel

    def _progress(self, ev) -> None:
        if self._job is None:
            return
        self.query_one("#ingest-progress", ProgressBar).update(total=ev.total, progress=ev.done)
        done = f"{int(ev.done):,}/{int(ev.total):,} {ev.unit}" if ev.total else f"{int(ev.done):,} {ev.unit}"
        self.query_one("#ingest-log", Static).update(literal(f"ingesting: {done} — {ev.message} (escape cancels)"))

    def _done(self, text: Content, changed: bool) -> None:
        self._job = None
        self.query_one("#ingest-progress", ProgressBar).add_class("-hidden")
        self.query_one("#ingest-log", Static).update(text)
        if changed:  # Explore reloads its tree: the new dataset shows without a restart
            self.app.post_message(DatasetsChanged())

    def action_close(self) -> None:
        """Escape: cancel the running ingest (the job stops at its next checkpoint and
        writes nothing), or close the screen."""
        if self._job is not None:
            self._user_cancel = True
            self.query_one("#ingest-log", Static).update(literal("cancelling…"))
            self._job.cancel()
            return
        self.dismiss(None)
