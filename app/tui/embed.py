"""The embed screen: a text column's embedding settings in a form (index name, key,
chunking, embedder and model, HNSW), prefilled with what the core would use — the
index's current generation when it exists, else the profile's, else the config's — and
the embed itself as a job with a progress bar that escape cancels.

Everything goes through the facade (`app.lh`), in-process or a daemon's proxy. Names,
model names and error sentences are shown as literal text (panes.base), never markup.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Select, Static

from panes.base import TextInput, line, literal, said
from panes.keys import bindings
from panes.messages import DatasetsChanged

EMBEDDERS = ("auto", "ollama", "hashing")
KINDS = ("hnsw", "exact")
PROMOTE = (("auto: when nothing is active or it refreshes the active one", "auto"),
           ("yes: make it the active generation", "yes"), ("no: leave the active one", "no"))
# (input id, label, what it is): the whole-number fields, checked before the core sees them
NUMBERS = (("chunk_size", "chunk size"), ("overlap", "overlap"), ("m", "M"),
           ("ef_construction", "ef_construction"), ("ef_search", "ef_search"))


def defaults(lh, dataset: str, column: str) -> dict:
    """The form's first values: what `embed` would use with no options. An index that
    exists gives its active (else newest ready) generation's settings, as the core does;
    otherwise the profile's, then the config's. A facade call: run it off the event loop."""
    from core.errors import LakehouseError
    from core.names import dataset_name_from_stem

    cfg, prof = lh.config, lh.profile
    name = dataset_name_from_stem(f"{dataset}_{column}")
    try:
        info = lh.index(name)
    except LakehouseError:  # no such index yet (or not one this profile sees: embed will say so)
        info = None
    ready = [g for g in info.generations if g.status == "ready"] if info else []
    gen = (info.active if info else None) or (ready[-1] if ready else None)
    key = info.key if info else list(lh.dataset(dataset).primary_key)
    if gen is not None:
        return dict(index=name, key=", ".join(key), chunk_size=gen.chunk_size, overlap=gen.overlap,
                    embedder=gen.provider, model=gen.model if gen.provider == "ollama" else "",
                    kind=gen.kind, m=gen.m, ef_construction=gen.ef_construction, ef_search=gen.ef_search,
                    source=f"from {name} g{gen.gen}")
    hnsw = prof.hnsw or {}
    return dict(index=name, key=", ".join(key), chunk_size=cfg.get("vectors.chunk_size"),
                overlap=cfg.get("vectors.overlap"), embedder=prof.embedder or cfg.get("vectors.embedder"),
                model=prof.embed_model or cfg.get("ollama.embed_model"), kind=cfg.get("vectors.index_kind"),
                m=hnsw.get("m") or cfg.get("vectors.hnsw_m"),
                ef_construction=hnsw.get("ef_construction") or cfg.get("vectors.hnsw_ef_construction"),
                ef_search=hnsw.get("ef_search") or cfg.get("vectors.hnsw_ef_search"),
                source=f"profile {prof.id} and the config's [vectors]")


def result_text(r) -> Content:
    """An EmbedResult in words: what was made, its figures, and whether it is active."""
    if r.up_to_date:
        head = line(("up to date: ", "bold"), f"{r.index} g{r.gen} already covers {r.dataset} "
                    f"({r.rows:,} rows, {r.chunks:,} chunks) — no new generation")
    else:
        removed = f", {r.removed:,} removed" if r.removed else ""
        head = line(("embedded: ", "bold"), f"{r.index} g{r.gen} — {r.rows:,} rows, {r.chunks:,} chunks "
                    f"({r.embedded:,} embedded, {r.reused:,} reused{removed}) · {r.embedder}")
    if r.active_gen == r.gen:
        live = line(("active: ", "bold"), f"g{r.gen} is the active generation")
    elif r.active_gen is not None:
        live = line(("not promoted: ", "bold"), f"g{r.active_gen} stays active — promote g{r.gen} from the "
                    "index's generations")
    else:
        live = line(("not active: ", "bold"), "no generation is active — promote one from the index's generations")
    parts = [head, live]
    if r.note:
        parts.append(line(("note: ", "italic"), r.note))
    return Content("\n").join(parts)


class EmbedScreen(ModalScreen):
    """Embed one text column. ctrl+r starts; escape cancels a running embed, or closes."""

    AUTO_FOCUS = "#embed-index"
    BINDINGS = bindings("embed")
    DEFAULT_CSS = """
    EmbedScreen { align: center middle; }
    #embed { width: 110; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
             background: $surface; padding: 0 1; }
    #embed .embed-row { height: 1; }
    #embed Label { width: 16; }
    #embed Input { width: 1fr; }
    #embed Select { width: 1fr; }
    #embed-buttons { height: 1; margin-top: 1; }
    #embed-buttons Button { margin-right: 2; }
    #embed-progress { height: 1; }
    #embed-progress.-hidden { display: none; }
    #embed-log { height: auto; max-height: 8; }
    """

    def __init__(self, dataset: str, column: str) -> None:
        super().__init__()
        self.dataset, self.column = dataset, column
        self._job = None  # the embed worker while it runs
        self._user_cancel = False
        self._loaded = False

    def compose(self) -> ComposeResult:
        def pair(a: tuple, b: tuple | None = None) -> ComposeResult:
            with Horizontal(classes="embed-row"):
                for title, widget in (a, b) if b else (a,):
                    yield Label(title)
                    yield widget

        def box(wid: str, hint: str = "") -> TextInput:
            return TextInput(placeholder=hint, id=f"embed-{wid}", compact=True)

        with Vertical(id="embed"):
            yield Static(line(("Embed ", "bold"), (f"{self.dataset}.{self.column}", "bold"),
                              "  — ctrl+r embeds; escape cancels or closes"), id="embed-title")
            yield from pair(("index", box("index", "DATASET_COLUMN")), ("key", box("key", "the primary key")))
            yield from pair(("chunk size", box("chunk_size", "characters")), ("overlap", box("overlap", "characters")))
            yield from pair(("embedder", Select([(e, e) for e in EMBEDDERS], allow_blank=False, id="embed-embedder",
                                                compact=True)),
                            ("model", box("model", "Ollama embedding model")))
            yield from pair(("kind", Select([(k, k) for k in KINDS], allow_blank=False, id="embed-kind",
                                            compact=True)), ("M", box("m", "links per node")))
            yield from pair(("ef_construction", box("ef_construction", "build beam")),
                            ("ef_search", box("ef_search", "search beam")))
            yield from pair(("promote", Select(PROMOTE, allow_blank=False, id="embed-promote", compact=True)))
            with Horizontal(id="embed-buttons"):
                yield Button("Embed (ctrl+r)", id="embed-go", compact=True)
                yield Button("Cancel (escape)", id="embed-cancel", compact=True)
            yield ProgressBar(id="embed-progress", show_eta=False, classes="-hidden")
            yield Static(literal("reading the settings…"), id="embed-log")

    def on_mount(self) -> None:
        if self.app.lh is None:
            self._log(literal("the storage root is still opening — close this and try again in a moment"))
            return
        self.prefill()

    @work(thread=True, exclusive=True, group="embed-defaults")
    def prefill(self) -> None:
        from core.errors import LakehouseError

        try:
            values = defaults(self.app.lh, self.dataset, self.column)
        except LakehouseError as e:
            self.app.call_from_thread(self._log, line(("cannot embed: ", "bold"), said(e)))
            return
        self.app.call_from_thread(self._fill, values)

    def _fill(self, values: dict) -> None:
        for wid in ("index", "key", "model", *(n for n, _ in NUMBERS)):
            self.query_one(f"#embed-{wid}", Input).value = str(values[wid] or "")
        self.query_one("#embed-embedder", Select).value = values["embedder"]
        self.query_one("#embed-kind", Select).value = values["kind"]
        self._loaded = True
        self._log(literal(f"settings {values['source']} — change any, then ctrl+r"))

    # -- reading the form --------------------------------------------------------------------
    def _text(self, wid: str) -> str:
        return self.query_one(f"#embed-{wid}", Input).value.strip()

    def options(self) -> dict:
        """The form as embed's keyword arguments; a field that is not a whole number: ValueError
        with the sentence to show."""
        opts: dict = {"index": self._text("index") or None, "key": self._text("key") or None}
        for wid, title in NUMBERS:
            raw = self._text(wid)
            if raw and not raw.isdigit():
                raise ValueError(f"{title} must be a whole number, not {raw!r} — type digits, or clear it "
                                 "for the default")
            opts[wid] = int(raw) if raw else None
        opts["embedder"] = self.query_one("#embed-embedder", Select).value
        opts["kind"] = self.query_one("#embed-kind", Select).value
        opts["model"] = (self._text("model") or None) if opts["embedder"] != "hashing" else None
        opts["promote"] = {"auto": None, "yes": True, "no": False}[self.query_one("#embed-promote", Select).value]
        return opts

    def _log(self, text: Content) -> None:
        self.query_one("#embed-log", Static).update(text)

    # -- embedding ---------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        (self.action_embed if event.button.id == "embed-go" else self.action_close)()

    def action_embed(self) -> None:
        if self._job is not None or self.app.lh is None or not self._loaded:
            return
        try:
            opts = self.options()
        except ValueError as e:
            self._log(line(("refused: ", "bold"), str(e)))
            return
        self._user_cancel = False
        bar = self.query_one("#embed-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.remove_class("-hidden")
        self._log(literal(f"embedding {self.dataset}.{self.column}… (escape cancels)"))
        self._job = self.embed(opts)

    @work(thread=True, group="embed-run")
    def embed(self, opts: dict) -> None:
        from core.errors import Cancelled, LakehouseError

        def progress(ev) -> None:
            self.app.call_from_thread(self._progress, ev)
        try:
            r = self.app.run_job(self.app.lh.embed, self.dataset, self.column, progress=progress, **opts)
        except Cancelled:
            if not self._quitting():
                self.app.call_from_thread(self._done, literal(
                    "cancelled — no generation was made and the active one is unchanged; the chunks embedded "
                    "so far are kept, so embedding again with the same settings continues from them"), True)
            return
        except LakehouseError as e:
            if not self._quitting():
                word = "refused: " if getattr(e, "refused", False) else "failed: "  # bad input, or it broke
                self.app.call_from_thread(self._done, line((word, "bold red"), said(e)), False)
            return
        if not self._quitting():
            self.app.call_from_thread(self._done, result_text(r), True)

    def _quitting(self) -> bool:
        """Cancelled by the app going away (not by escape): nothing to show."""
        return self.app.quitting and not self._user_cancel

    def _progress(self, ev) -> None:
        if self._job is None:
            return
        self.query_one("#embed-progress", ProgressBar).update(total=ev.total, progress=ev.done)
        done = f"{int(ev.done):,}/{int(ev.total):,} {ev.unit}" if ev.total else f"{int(ev.done or 0):,} {ev.unit}"
        self._log(literal(f"embedding: {done} — {ev.message} (escape cancels)"))

    def _done(self, text: Content, changed: bool) -> None:
        self._job = None
        self.query_one("#embed-progress", ProgressBar).add_class("-hidden")
        self._log(text)
        if changed:  # Explore reloads: the index (or its new generation) shows behind this screen
            self.app.post_message(DatasetsChanged())

    def action_close(self) -> None:
        """Escape: cancel the running embed (the job stops at its next batch; no generation is
        made), or close the screen."""
        if self._job is not None:
            self._user_cancel = True
            self._log(literal("cancelling…"))
            self._job.cancel()
            return
        self.dismiss(None)
