"""The System pane: health, jobs, errors, the audit log and cache stats, refreshed
every few seconds off the event loop."""

from __future__ import annotations

import shutil

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList, Static

from .base import Pane

REFRESH_S = 3.0


class SystemPane(Pane):
    BINDINGS = [Binding("r", "refresh", "Refresh"), Binding("x", "cancel_job", "Cancel job")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("opening the storage root…", id="system-health")
            yield Static("Jobs — x cancels the highlighted running job", classes="system-title")
            yield OptionList(id="system-jobs")
            yield Static("Errors", classes="system-title")
            yield Static(id="system-errors")
            yield Static("Audit (latest)", classes="system-title")
            yield Input(placeholder="filter the audit: profile, action, dataset or statement words", id="system-audit-filter")
            yield Static(id="system-audit")

    def rescope(self) -> None:
        self.action_refresh()
        if not hasattr(self, "_timer"):
            self._timer = self.set_interval(REFRESH_S, self.action_refresh)

    def action_refresh(self) -> None:
        if self.lh is not None and self.is_attached:
            self.gather()

    @work(thread=True, exclusive=True, group="system")
    def gather(self) -> None:
        lh = self.lh
        usage = shutil.disk_usage(lh.root)
        parts = lh.disk_usage()
        try:
            models = lh.models()
            ollama = (f"Ollama {models['version']} at {models['host']}: [green]reachable[/] · "
                      f"{len(models['installed'])} installed · loaded: "
                      + (", ".join(f"{m['name']} ({m['size'] / 1e9:.1f} GB, until {m['expires_at'][11:19]})"
                                   for m in models["loaded"]) or "none"))
        except Exception as e:
            ollama = f"[red]{e}[/]"
        cache = lh.vector_cache()
        health = "\n".join([
            f"[b]storage[/] {lh.root} · disk {usage.used / 1e9:.0f} of {usage.total / 1e9:.0f} GB used · "
            f"profile {lh.profile.id}",
            "  " + " · ".join(f"{name} {n / 1e6:,.1f} MB" for name, n in parts.items()),
            ollama,
            f"embedder default: {lh.config.get('vectors.embedder')} · loaded index generations: "
            + (", ".join(f"{e['index']} g{e['gen']} ({e['bytes'] / 1e6:.0f} MB)" for e in cache["entries"]) or "none")
            + f" · search cache hits {cache['hits']} / misses {cache['misses']}",
        ])
        jobs = lh.jobs(10)
        jobs_text = [(j.id, f"{j.id} {j.kind:<8} {j.target:<20} {j.status:<11} "
                      + (_bar(j.done, j.total) if j.status == "running" else "") + f" {j.message[:70]}") for j in jobs]
        errors = lh.errors(limit=8)
        errors_text = "\n".join(f"{e.ts[:19].replace('T', ' ')} {e.operation:<8} {e.message[:110]}"
                                for e in errors) or "none"
        words = self.audit_filter.lower().split()
        audit = [a for a in lh.audit(limit=500)
                 if all(w in f"{a['profile']} {a['action']} {a['datasets']} {a['statement']} {a['outcome']}".lower()
                        for w in words)][:12]
        audit_text = "\n".join(f"{a['ts'][11:19]} {a['profile']:<18} {a['action']:<7} {a['outcome']:<7} "
                               f"{(a['statement'] or '')[:70]}" for a in audit) or "none"
        self.app.call_from_thread(self._show, health, jobs_text, errors_text, audit_text)

    audit_filter = ""

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "system-audit-filter":
            self.audit_filter = event.value
            self.action_refresh()

    def action_cancel_job(self) -> None:
        options = self.query_one("#system-jobs", OptionList)
        if options.highlighted is None or not getattr(self, "job_ids", None):
            return
        job_id = self.job_ids[options.highlighted]
        self.cancel(job_id)

    @work(thread=True, group="system-cancel")
    def cancel(self, job_id: str) -> None:
        from core.errors import LakehouseError

        try:
            asked = self.lh.cancel_job(job_id)
        except LakehouseError as e:
            self.app.call_from_thread(self.app.notify, str(e), severity="error")
            return
        self.app.call_from_thread(self.app.notify, f"asked job {job_id} to stop" if asked
                                  else f"job {job_id} is not running")
        self.action_refresh()

    def _show(self, health: str, jobs: list, errors: str, audit: str) -> None:
        from rich.markup import escape

        self.query_one("#system-health", Static).update(health)
        options = self.query_one("#system-jobs", OptionList)
        keep = options.highlighted
        self.job_ids = [j for j, _ in jobs]
        options.clear_options()
        for _, line in jobs:
            options.add_option(escape(line))
        if jobs:
            options.highlighted = min(keep or 0, len(jobs) - 1)
        self.query_one("#system-errors", Static).update(escape(errors))
        self.query_one("#system-audit", Static).update(escape(audit))


def _bar(done: float, total: float | None, width: int = 20) -> str:
    if not total:
        return "[" + "·" * width + "]"
    filled = int(width * min(done / total, 1))
    return "[" + "█" * filled + "·" * (width - filled) + f"] {done / total:.0%}"
