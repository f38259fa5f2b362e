"""Profile activation: make a profile the active reader, as a job of named steps.

1. check      its bindings point at datasets and indexes that exist
2. indexes    load each bound index's active generation (checksums verified) and keep
              it in this process's cache, so the first search needs no load; a profile
              that sets its own M / ef_construction gets that graph built (vectors
              reused) beside the active generation, and searches it
3. embedders  build each generation's embedder; an Ollama embedding model is loaded
              with the profile's keep_alive
4. chat model load the profile's chat model in Ollama with its keep_alive
5. unload     unload the previously active profile's models (keep_alive 0), so only
              one profile's models hold memory
6. switch     record the profile as active (one catalog write)

A failing step names itself and leaves the previous profile active. Only one
activation runs per storage root; a second is refused while one runs. Ollama steps
are skipped, and say so, when no Ollama answers (the data side still activates).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.errors import Cancelled, Hint, LakehouseError, OllamaError
from core.storage.locks import try_lock

if TYPE_CHECKING:
    from core.config import Config
    from core.ops.audit import AuditLog
    from core.ops.jobs import Jobs
    from core.profiles.scoped import Reader
    from core.storage.catalog import Catalog

STEPS = ("check", "indexes", "embedders", "chat model", "unload", "switch")


class StepFailed(LakehouseError):
    pass


@dataclass
class Services:
    """What an activation works with — the facade's parts, not the facade."""
    root: Path
    config: Config
    catalog: Catalog
    jobs: Jobs
    audit_log: AuditLog
    reader: Reader  # the facade's engine and vector layer now (what is loaded stays loaded)
    switch: Callable  # (profile, engine, vectors): read through these, once every step passed


def _cancellable(job, fn):
    """Run one Ollama request (a model load can take minutes) so a cancel is noticed at
    once: the request finishes on its own thread, and its answer is dropped."""
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:
            box["error"] = e
    t = threading.Thread(target=run, name=f"activate-{job.id}", daemon=True)  # pure Python I/O only
    t.start()
    while t.is_alive():
        t.join(0.1)
        job.progress()  # raises Cancelled when asked, here or from another process
    if "error" in box:
        raise box["error"]
    return box.get("result")


def activate(svc: Services, pid: str, listener=None, cancel=None, job_id: str | None = None) -> dict:
    """Activate profile `pid` for the storage root; return the steps' outcomes."""
    from core.profiles import store as prof
    target = prof.resolve(svc.config.profiles, pid)
    fd = try_lock(svc.root / ".activate.lock")
    if fd is None:
        running = [j for j in svc.jobs.list(20) if j.kind == "activate" and j.status == "running"]
        which = f" (job {running[0].id}, profile {running[0].target})" if running else ""
        raise LakehouseError(f"another profile activation is running{which}", hint=Hint(
            "wait for it, or cancel it", "cancel_job", {"job_id": running[0].id if running else "ID"}))
    run = _Activation(svc, target, cancel)
    try:
        with svc.jobs.run("activate", target.id, listener, cancel, job_id) as job:
            run.job = job
            for i, name in enumerate(STEPS):
                run.step(i, name)
            job.progress(len(STEPS), len(STEPS), "steps", f"{target.id} is active", force=True)
            svc.audit_log.record("activate", [target.id], f"{run.previous} -> {target.id}", None,
                                (time.perf_counter() - run.t_start) * 1000)
            return {"job_id": job.id, "profile": target.id, "previous": run.previous, "steps": run.done,
                    "seconds": round(time.perf_counter() - run.t_start, 3)}
    finally:
        if run.engine is not None and not run.handed:
            run.engine.close()
        os.close(fd)


class _Activation:
    """One activation's state; a method per step, run in STEPS order. Each records its
    outcome in `done`; a failure names its step and leaves the previous profile active."""

    def __init__(self, svc: Services, target, cancel):
        from core.profiles import store as prof
        from core.ollama import Ollama

        self.svc, self.target, self.cancel = svc, target, cancel
        self.previous = svc.catalog.meta.get("active_profile") or prof.DEFAULT
        self.done: dict[str, str] = {}
        self.t_start = time.perf_counter()
        self.job = None
        self.engine = self.vec = None
        self.handed = False  # the engine and vectors belong to the facade once switched
        self.ollama = Ollama.from_config(svc.config)
        self.reachable = False
        self.keep_alive = target.keep_alive or svc.config.get("ollama.keep_alive")
        self.chat_model = target.chat_model or svc.config.get("ollama.chat_model")

    _MESSAGES = {"check": "bindings", "indexes": "loading the active generations",
                 "embedders": "checking the embedders"}

    def step(self, i: int, name: str) -> None:
        message = self._MESSAGES.get(name) or {
            "chat model": f"loading {self.chat_model}", "unload": f"unloading {self.previous}'s models",
            "switch": f"{self.previous} -> {self.target.id}"}[name]
        self.job.progress(i, len(STEPS), "steps", f"{name}: {message}", force=True)  # a cancel is noticed here
        self.job.pause_point(name)
        try:
            self.done[name] = getattr(self, "_" + name.replace(" ", "_"))()
        except (Cancelled, StepFailed):
            raise
        except LakehouseError as e:
            raise StepFailed(f"activating {self.target.id} failed at step '{name}': {e} — "
                             f"{self.previous} is still the active profile") from None

    def _check(self) -> str:
        from core.profiles import store as prof
        datasets = [d.name for d in self.svc.catalog.datasets.all()]
        indexes = [i["name"] for i in self.svc.catalog.indexes.all()]
        issues = prof.problems(self.target, datasets, indexes) if self.target.defined else []
        fatal = [i for i in issues if prof.is_fatal(i)]
        if fatal:
            raise LakehouseError("; ".join(fatal))
        return "; ".join(issues) or "ok"

    def _indexes(self) -> str:
        """The new reader's own SQL engine and vector layer, warmed here and handed to the
        facade when every step has passed (generations already loaded are kept)."""
        from core.vectors.manager import Vectors

        svc = self.svc
        self.engine = engine = svc.reader.new_engine(self.target)
        self.vec = vec = Vectors(svc.root, svc.config, svc.catalog, lambda: engine, svc.jobs, self.target)
        if svc.reader.vectors_obj is not None:  # what is loaded stays loaded
            vec.keep_loaded(svc.reader.vectors_obj)
        loaded = []
        for info in vec.list():
            if info.active_gen is None:
                continue
            t0 = time.perf_counter()
            gen = vec.ensure_profile_generation(info, cancel=self.cancel)  # its own graph, if it sets one
            vec.warm(info.name, gen)
            built = "" if gen == info.active_gen else f", built with M {vec.graph_wanted()}"
            loaded.append(f"{info.name} g{gen} ({(time.perf_counter() - t0) * 1000:.0f} ms{built})")
            self.job.check_cancel()
        return ", ".join(loaded) or "no bound index has an active generation"

    def _embedders(self) -> str:
        self.reachable = self.ollama.ping()
        kinds = set()
        for info in self.vec.list():
            g = info.active
            if g is None:
                continue
            kinds.add(g.provider)
            if g.provider == "ollama" and self.reachable:
                self.vec.embedder(self.svc.catalog.indexes.generation(info.name, g.gen))
                _cancellable(self.job, lambda m=g.model: self.ollama.call(
                    lambda: self.ollama.client.embed(model=m, input="warm up", keep_alive=self.keep_alive),
                    model=m, what="embedding warm-up"))
        return ", ".join(sorted(kinds)) or "none needed"

    def _chat_model(self) -> str:
        if not self.reachable:
            return f"skipped: Ollama is not reachable at {self.ollama.url}"
        _cancellable(self.job, lambda: self.ollama.call(
            lambda: self.ollama.client.generate(model=self.chat_model, keep_alive=self.keep_alive),
            model=self.chat_model, what="model load"))
        return f"{self.chat_model} loaded (keep_alive {self.keep_alive})"

    def _unload(self) -> str:
        """The previous profile's models that the new one does not use (keep_alive 0)."""
        from core.profiles import store as prof
        cfg = self.svc.config
        old = prof.resolve(cfg.profiles, self.previous) if self.previous in cfg.profiles or \
            self.previous == prof.DEFAULT else None
        old_models = set()
        if old is not None and old.id != self.target.id:
            embed_default = cfg.get("ollama.embed_model")
            keep = {self.chat_model, self.target.embed_model or embed_default}
            old_models = {old.chat_model or cfg.get("ollama.chat_model")}
            if old.embedder == "ollama":
                old_models.add(old.embed_model or embed_default)
            old_models -= keep
        if not (self.reachable and old_models):
            return "nothing to unload" if self.reachable else "skipped: Ollama is not reachable"
        for m in sorted(old_models):
            try:
                self.ollama.unload(m)
            except OllamaError:
                pass  # not loaded or already gone: nothing holds its memory
        return ", ".join(sorted(old_models))

    def _switch(self) -> str:
        self.svc.catalog.meta.set("active_profile", self.target.id)
        self.svc.switch(self.target, self.engine, self.vec)
        self.handed = True
        return f"{self.previous} -> {self.target.id}"
