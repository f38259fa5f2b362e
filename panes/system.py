"""The System pane: health, jobs, errors, the audit log and cache stats, refreshed
every few seconds off the event loop."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList, Static

from core.ops.disk import filesystem

from .base import Pane, TextInput, line, literal, said
from .keys import bindings, key_of
from .messages import DatasetsChanged, OpenLive, Rescoped

REFRESH_S = 3.0


class SystemPane(Pane):
    BINDINGS = bindings("system")

    def main_widget(self):
        return self.query_one("#system-jobs", OptionList)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("opening the storage root…", id="system-health")
            yield Static(f"Jobs — {key_of('system', 'cancel_job')} cancels the highlighted running job; "
                         f"{key_of('system', 'retry_job')} retries a failed, cancelled or interrupted one",
                         classes="system-title")
            yield OptionList(id="system-jobs")
            yield Static("Watches and schedules", classes="system-title", id="system-live-title")
            yield Static(id="system-live")
            yield Static("Contracts and freshness", classes="system-title")
            yield Static(id="system-contracts")
            yield Static(id="system-check")  # the last contract check or retention run: stays until the next
            yield Static("Errors", classes="system-title")
            yield Static(id="system-errors")
            yield Static("Audit (latest)", classes="system-title")
            yield TextInput(placeholder="filter the audit: profile, action, dataset or statement words", id="system-audit-filter")
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
        """Everything the pane shows, read off the event loop; a daemon that went away (or any
        refusal) is said in the health line, and the next refresh tries again."""
        from core.errors import LakehouseError

        try:
            shown = self._gathered(self.lh)
        except LakehouseError as e:
            self.app.call_from_thread(self._failed, said(e))
            return
        # one call: the pane may be gone (the app quitting) by the time it runs
        self.app.call_from_thread(self._show, *shown)

    def _failed(self, sentence: str) -> None:
        if self.is_attached:
            self.query_one("#system-health", Static).update(line(("cannot refresh: ", "bold"), sentence))

    def _gathered(self, lh) -> tuple:
        usage = filesystem(lh.root)
        parts = lh.disk_usage()
        # paths, model names and error texts are quoted literally: only the pane's own words are styled
        try:
            models = lh.models()
            ollama = line(f"Ollama {models['version']} at {models['host']}: ", ("reachable", "green"),
                          f" · {len(models['installed'])} installed · loaded: "
                          + (", ".join(f"{m['name']} ({m['size'] / 1e9:.1f} GB, until {m['expires_at'][11:19]})"
                                       for m in models["loaded"]) or "none"))
        except Exception as e:
            ollama = literal(said(e), "red")
        cache = lh.vector_cache()
        health = line(("storage", "bold"), f" {lh.root} · disk {usage['used'] / 1e9:.0f} of {usage['total'] / 1e9:.0f} GB "
                      f"used · profile {lh.profile.id}\n",
                      "  " + " · ".join(f"{name} {n / 1e6:,.1f} MB" for name, n in parts.items()) + "\n",
                      ollama,
                      f"\nembedder default: {lh.config.get('vectors.embedder')} · loaded index generations: "
                      + (", ".join(f"{e['index']} g{e['gen']} ({e['bytes'] / 1e6:.0f} MB)" for e in cache["entries"])
                         or "none")
                      + f" · search cache hits {cache['hits']} / misses {cache['misses']}",
                      _pinned(lh.cache()))
        jobs = lh.jobs(10)
        jobs_text = [(j.id, f"{j.id} {j.kind:<8} {_flat(j.target):<20} {j.status:<11} "
                      + (_bar(j.done, j.total) if j.status == "running" else "") + f" {_flat(j.message)[:70]}")
                     for j in jobs]
        errors = lh.errors(limit=8)
        errors_text = "\n".join(f"{e.ts[:19].replace('T', ' ')} {e.operation:<8} {_flat(e.message)[:110]}"
                                for e in errors) or "none"
        words = self.audit_filter.lower().split()
        audit = [a for a in lh.audit(limit=500)
                 if all(w in f"{a['profile']} {a['action']} {a['datasets']} {a['statement']} {a['outcome']}".lower()
                        for w in words)][:12]
        audit_text = "\n".join(f"{a['ts'][11:19]} {a['profile']:<18} {a['action']:<7} {a['outcome']:<7} "
                               f"{_flat(a['statement'] or '')[:70]}" for a in audit) or "none"
        live_title, live_text = _live(lh)
        contracts_text = _contracts(lh)
        return health, jobs_text, errors_text, audit_text, contracts_text, live_title, live_text

    audit_filter = ""

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "system-audit-filter":
            self.audit_filter = event.value
            self.action_refresh()

    def _highlighted_job(self) -> str | None:
        options = self.query_one("#system-jobs", OptionList)
        if options.highlighted is None or not getattr(self, "job_ids", None):
            return None
        return self.job_ids[options.highlighted]

    def action_cancel_job(self) -> None:
        job_id = self._highlighted_job()
        if job_id:
            self.cancel(job_id)

    def action_retry_job(self) -> None:
        job_id = self._highlighted_job()
        if job_id and self.lh is not None:
            self.retry(job_id)

    @work(thread=True, group="system-retry")
    def retry(self, job_id: str) -> None:
        """Re-run the job's call here (a new job: its progress shows in the list)."""
        from core.errors import LakehouseError

        notify = self.app.notify
        try:
            job = self.lh.job(job_id)
            self.app.call_from_thread(notify, f"retrying job {job_id}: {job.kind} of {job.target}…", timeout=3)
            result = self.app.run_job(self.lh.retry_job, job_id)
        except LakehouseError as e:
            if self.app.quitting:  # cancelled by quitting: recorded as such, nothing to show
                return
            self.app.call_from_thread(notify, said(e), severity="error", timeout=10)
            self.app.call_from_thread(self.action_refresh)
            return
        text, ok = _outcome(result)
        self.app.call_from_thread(notify, f"job {job_id} retried: {text}", severity="information" if ok else "error",
                                  timeout=10)
        if isinstance(result, dict) and "profile" in result:  # an activation: rescope like a profile switch
            self.post_message(Rescoped(result["profile"]))
        else:
            self.post_message(DatasetsChanged())
        self.app.call_from_thread(self.action_refresh)

    def action_watches(self) -> None:
        self.post_message(OpenLive())

    def action_check_contracts(self) -> None:
        if self.lh is not None:
            self._checked(literal("checking the contracts…"))
            self.check_contracts()

    @work(thread=True, exclusive=True, group="system-check")
    def check_contracts(self) -> None:
        from core.errors import LakehouseError

        try:
            reports = self.lh.check_contract()
        except LakehouseError as e:
            self.app.call_from_thread(self._checked, line(("contract check refused: ", "bold"), said(e)))
            return
        self.app.call_from_thread(self._checked, line(("contract check", "bold"), "\n" + contract_lines(reports)))
        self.app.call_from_thread(self.action_refresh)  # a failed check is in the errors now

    def action_retention(self) -> None:
        if self.lh is not None:
            self._checked(literal("running retention… (x on its job cancels it)"))
            self.retention()

    @work(thread=True, exclusive=True, group="system-retention")
    def retention(self) -> None:
        from core.errors import LakehouseError

        try:
            r = self.app.run_job(self.lh.run_retention)
        except LakehouseError as e:
            if not self.app.quitting:
                self.app.call_from_thread(self._checked, line(("retention refused: ", "bold"), said(e)))
            return
        lines = [f"{t}: {n:,} row(s) older than {r['days'][t]} days removed" if r["days"].get(t)
                 else f"{t}: kept forever (0 days)" for t, n in r["removed"].items()]
        self.app.call_from_thread(self._checked, line((f"retention (job {r['job_id']})", "bold"),
                                                      "\n" + "\n".join(lines)))
        self.app.call_from_thread(self.action_refresh)

    def _checked(self, text) -> None:
        if self.is_attached:
            self.query_one("#system-check", Static).update(text)

    @work(thread=True, group="system-cancel")
    def cancel(self, job_id: str) -> None:
        from core.errors import LakehouseError

        try:
            asked = self.lh.cancel_job(job_id)
        except LakehouseError as e:
            self.app.call_from_thread(self.app.notify, said(e), severity="error")
            return
        self.app.call_from_thread(self.app.notify, f"asked job {job_id} to stop" if asked
                                  else f"job {job_id} is not running")
        self.action_refresh()

    def _show(self, health, jobs: list, errors: str, audit: str, contracts: str, live_title: str,
              live: str) -> None:
        """Job targets and messages, error texts and audited statements quote files and
        users: each is literal text, control characters shown as \\x1b, never markup."""
        if not self.is_attached:  # refreshed while the app was closing
            return
        self.query_one("#system-health", Static).update(health)
        options = self.query_one("#system-jobs", OptionList)
        # the highlight follows its job, not its row: a job that starts meanwhile must not
        # move it onto another job (x would cancel that one)
        keep = self._highlighted_job()
        self.job_ids = [j for j, _ in jobs]
        options.clear_options()
        for _, text in jobs:
            options.add_option(literal(text))
        if jobs:
            options.highlighted = self.job_ids.index(keep) if keep in self.job_ids else 0
        self.query_one("#system-errors", Static).update(literal(errors))
        self.query_one("#system-audit", Static).update(literal(audit))
        self.query_one("#system-contracts", Static).update(literal(contracts))
        # folders, sources and outcomes quote files and errors: literal text, as the jobs'
        self.query_one("#system-live-title", Static).update(live_title)
        self.query_one("#system-live", Static).update(literal(live))


def _live(lh) -> tuple[str, str]:
    """The title (who runs them) and one line per watch and schedule: state, last outcome,
    last and next run."""
    _, who = run_by(lh, lh.watch_runner())
    lines = [f"watch {w.id:<3} {w.state:<7} {_flat(w.folder)} ({_flat(w.pattern)}) -> {w.dataset or '(file stem)'} · "
             + (f"{_hm(w.last_event_at)} {_flat(w.last_error or w.last_outcome)[:80]}" if w.last_event_at
                else "nothing yet") for w in lh.watch_list()]
    schedules = getattr(lh, "schedule_list", None)
    for s in (schedules() if schedules else []):
        d = s.to_dict()
        took = f" ({d['last_duration_s']:.1f} s)" if d.get("last_duration_s") is not None else ""
        last = f"{_hm(d['last_run_at'])} {_flat(d.get('last_outcome') or '')[:60]}{took}" if d.get("last_run_at") \
            else "not run yet"
        lines.append(f"sched {d['id']:<3} {d['state']:<7} every {d['every']} {_flat(str(d['source']))} · {last} · "
                     f"next {_hm(d.get('next_run_at'))}")
    return (f"Watches and schedules — {who} · {key_of('system', 'watches')} opens them",
            "\n".join(lines) or f"none — {key_of('system', 'watches')} adds one")


def run_by(lh, runner: dict) -> tuple[str, str]:
    """(short, long): the process that runs the watches and schedules, in words."""
    import os

    pid = runner.get("pid")
    if not pid:
        return "nobody", "not running — `lakehouse serve`, a TUI or `lakehouse watch run` runs them"
    if pid == os.getpid():
        return "this TUI", "run by this TUI"
    if pid == getattr(lh, "server_pid", None):
        return "daemon", f"run by the daemon (pid {pid})"
    return f"pid {pid}", f"run by pid {pid}"


def _contracts(lh) -> str:
    """Stale datasets (their contract's max_age passed) and the latest contract failures."""
    try:
        contracts = lh.contracts()
        failed = [e for e in lh.errors(limit=200) if e.operation in ("contract", "freshness")
                  or " violates contract " in e.message][:5]
    except Exception as e:  # noqa: BLE001 - an older daemon: said, the rest of the pane still shows
        return said(e)
    if not contracts:
        return "no contracts — add a [contracts.DATASET] table to lakehouse.toml"
    stale = [c for c in contracts if c["stale"]]
    lines = [f"{len(contracts)} contract(s) · " + (f"{len(stale)} stale" if stale else "none stale")]
    lines += [f"STALE {c['dataset']}: {c['fresh']} (max_age {c['max_age']}, last ingest {_hm(c['last_ingest'])})"
              for c in stale]
    lines += [f"{e.ts[:16].replace('T', ' ')} {e.operation:<9} {_flat(e.message)[:110]}" for e in failed
              if e.operation != "freshness"]
    return "\n".join(lines)


def contract_lines(reports: list[dict]) -> str:
    """A contract check as `lakehouse contract check` prints it: per dataset, kept or the
    rules broken with their counts (row numbers, never values)."""
    out = []
    for r in reports:
        fresh = f" · {r['fresh']}" if r["fresh"] else ""
        if r["ok"]:
            out.append(f"{r['dataset']} (version {r['version']}): keeps its contract{fresh}")
            continue
        out.append(f"{_flat(r['message'])}{fresh}")
        for v in r["violations"][1:]:
            rows = f" (rows {', '.join(map(str, v['rows']))}{', …' if v['count'] > len(v['rows']) else ''})" \
                if v.get("rows") else ""
            count = f"{v['count']:,} " if v.get("count") is not None else ""
            out.append(f"  also: {count}{v['rule']}: {_flat(v['says'])}{rows}")
    return "\n".join(out) or "no datasets with a contract to check"


def _hm(iso) -> str:
    """A time as the pane shows it: hours and minutes (UTC), or a dash."""
    return str(iso)[11:16] if iso and len(str(iso)) >= 16 else "-"


def _outcome(result) -> tuple[str, bool]:
    """One line for what a retried call returned, and whether it all went well."""
    if isinstance(result, list):  # ingest / demo: per-file results
        failed = [r for r in result if r.status == "failed"]
        shown = failed or result
        return "; ".join(r.message or f"{r.dataset}: {r.status}" for r in shown[:3]) + \
            (f" (+{len(shown) - 3} more)" if len(shown) > 3 else ""), not failed
    if isinstance(result, dict) and "profile" in result:
        return f"{result['profile']} is the active profile", True
    if hasattr(result, "embedded"):
        return (f"{result.index} g{result.gen}: {result.chunks:,} chunks ({result.embedded:,} embedded) · "
                f"{result.embedder}"), True
    return f"g{result.gen} rebuilt from its {result.chunks:,} stored embeddings", True


def _flat(text: str) -> str:
    """A text on the one line its entry has (line breaks shown as ⏎)."""
    return text.replace("\r\n", "⏎").replace("\n", "⏎")


def _bar(done: float, total: float | None, width: int = 20) -> str:
    if not total:
        return "[" + "·" * width + "]"
    filled = int(width * min(done / total, 1))
    return "[" + "█" * filled + "·" * (width - filled) + f"] {done / total:.0%}"


def _pinned(cache: dict) -> str:
    """The DuckDB dataset cache (`lakehouse cache`): what is pinned and what it holds."""
    pinned = ", ".join(cache["pinned"]) or "none"
    big = f" · too big to pin: {', '.join(cache['too_big'])}" if cache["too_big"] else ""
    return (f"\npinned datasets: {pinned} · {cache['used_bytes'] / 1e6:,.1f} of {cache['limit_bytes'] / 1e6:,.0f} MB"
            f" held · hits {cache['hits']} / misses {cache['misses']}{big}")
