"""Load the demo data (the palette's "Load demo data"): a small screen that says what it
will do, then runs `demo` as a job with a progress bar; escape cancels it (what was loaded
stays, as the CLI says) or closes. Afterwards Explore reloads (panes.messages.DatasetsChanged)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static

from panes.base import line, literal, said
from panes.keys import bindings, key_of
from panes.messages import DatasetsChanged


class DemoScreen(ModalScreen):
    AUTO_FOCUS = ""
    BINDINGS = bindings("demo")

    def __init__(self) -> None:
        super().__init__()
        self._job = None
        self._user_cancel = False

    def compose(self) -> ComposeResult:
        lh = self.app.lh
        scale = float(lh.config.get("demo.scale"))
        with Vertical(id="demo"):
            yield Static(line(("Load demo data", "bold")))
            yield Static(literal(f"The reference staffing workload at scale {scale:g} (scale 1 is 2.47M rows): "
                                 f"generated under {lh.root}/demo, ingested as datasets, its resumes embedded into "
                                 "the index `resumes`. Running it again changes nothing.\n\n"
                                 f"{key_of('demo', 'load')} loads it · {key_of('demo', 'close')} cancels or closes"),
                         id="demo-info")
            yield ProgressBar(id="demo-progress", show_eta=False, classes="-hidden")
            yield Static("", id="demo-log")
        yield Footer()

    def _log(self, text) -> None:
        self.query_one("#demo-log", Static).update(literal(text) if isinstance(text, str) else text)

    def action_load(self) -> None:
        if self._job is not None:
            return
        self._user_cancel = False
        bar = self.query_one("#demo-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.remove_class("-hidden")
        self._log("loading the demo data… (escape cancels)")
        self._job = self.load(float(self.app.lh.config.get("demo.scale")))

    @work(thread=True, group="demo-run")
    def load(self, scale: float) -> None:
        from core.errors import LakehouseError

        def progress(ev) -> None:
            self.app.call_from_thread(self._progress, ev)
        try:
            results = self.app.run_job(self.app.lh.demo, scale, progress=progress)
        except LakehouseError as e:
            if not (self.app.quitting and not self._user_cancel):
                self.app.call_from_thread(self._done, line(("stopped: ", "bold"), said(e)))
            return
        failed = [r for r in results if r.status == "failed"]
        ingested = sorted({r.dataset for r in results if r.status in ("ingested", "unchanged")})
        text = line(("loaded: " if not failed else "partly loaded: ", "bold"),
                    f"{len(ingested)} dataset(s): {', '.join(ingested)}",
                    *(f"\nfailed: {r.message}" for r in failed))
        if not (self.app.quitting and not self._user_cancel):
            self.app.call_from_thread(self._done, text)

    def _progress(self, ev) -> None:
        if self._job is None or not self.is_attached:
            return
        self.query_one("#demo-progress", ProgressBar).update(total=ev.total, progress=ev.done)
        self._log(f"{ev.message} (escape cancels)")

    def _done(self, text) -> None:
        self._job = None
        # the sources loaded so far are datasets even when it stopped: Explore shows them
        self.app.post_message(DatasetsChanged())
        if self.is_attached:
            self.query_one("#demo-progress", ProgressBar).add_class("-hidden")
            self._log(text)

    def action_close(self) -> None:
        if self._job is not None:
            self._user_cancel = True
            self._log("cancelling…")
            self._job.cancel()
            return
        self.dismiss(None)
