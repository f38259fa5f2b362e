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

from .errors import Cancelled, LakehouseError, OllamaError
from .locks import try_lock

STEPS = ("check", "indexes", "embedders", "chat model", "unload", "switch")


class StepFailed(LakehouseError):
    pass


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


def activate(lh, pid: str, listener=None, cancel=None, job_id: str | None = None) -> dict:
    """Activate profile `pid` for the storage root; return the steps' outcomes."""
    from . import profiles as prof
    from .ollama import Ollama
    from .vectors.manager import Vectors

    target = prof.resolve(lh.config.profiles, pid)
    lock = lh.root / ".activate.lock"
    fd = try_lock(lock)
    if fd is None:
        running = [j for j in lh._jobs.list(20) if j.kind == "activate" and j.status == "running"]
        which = f" (job {running[0].id}, profile {running[0].target})" if running else ""
        raise LakehouseError(f"another profile activation is running{which} — wait for it, or cancel it "
                             "with `lakehouse jobs cancel ID`")
    previous = lh.catalog.meta("active_profile") or prof.DEFAULT
    done: dict[str, str] = {}
    t_start = time.perf_counter()
    try:
        with lh._jobs.run("activate", target.id, listener, cancel, job_id) as job:
            def step(i: int, name: str, message: str) -> None:  # a cancel is noticed here
                job.progress(i, len(STEPS), "steps", f"{name}: {message}", force=True)
                job.pause_point(name)

            def fail(name: str, e: Exception) -> StepFailed:
                return StepFailed(f"activating {target.id} failed at step '{name}': {e} — "
                                  f"{previous} is still the active profile")

            step(0, "check", "bindings")
            datasets = [d.name for d in lh.catalog.datasets()]
            indexes = [i["name"] for i in lh.catalog.indexes()]
            issues = prof.problems(target, datasets, indexes) if target.defined else []
            fatal = [i for i in issues if prof.is_fatal(i)]
            if fatal:
                raise fail("check", "; ".join(fatal))
            done["check"] = "; ".join(issues) or "ok"

            step(1, "indexes", "loading the active generations")
            # the new reader's own SQL engine and vector layer, warmed here and handed to
            # the facade when every step has passed (generations already loaded are kept)
            engine = lh.new_engine(target)
            vec = Vectors(lh.root, lh.config, lh.catalog, lambda: engine, lh._jobs, target)
            if lh._vectors_obj is not None:  # what is loaded stays loaded
                vec.cache, vec._row_cache = lh._vectors_obj.cache, lh._vectors_obj._row_cache
            handed = False
            loaded = []
            try:
                for info in vec.list():
                    if info.active_gen is None:
                        continue
                    t0 = time.perf_counter()
                    gen = vec.ensure_profile_generation(info, cancel=cancel)  # its own graph, if it sets one
                    vec.warm(info.name, gen)
                    built = "" if gen == info.active_gen else f", built with M {vec._graph_wanted()}"
                    loaded.append(f"{info.name} g{gen} ({(time.perf_counter() - t0) * 1000:.0f} ms{built})")
                    job.check_cancel()
            except Cancelled:
                engine.close()
                raise
            except LakehouseError as e:
                engine.close()
                raise fail("indexes", e) from None
            done["indexes"] = ", ".join(loaded) or "no bound index has an active generation"

            step(2, "embedders", "checking the embedders")
            keep_alive = target.keep_alive or lh.config.get("ollama.keep_alive")
            ollama = Ollama.from_config(lh.config)
            reachable = ollama.ping()
            try:
                kinds = set()
                for info in vec.list():
                    g = info.active
                    if g is None:
                        continue
                    kinds.add(g.provider)
                    if g.provider == "ollama" and reachable:
                        vec._embedder(vec.catalog.index_generation(info.name, g.gen))
                        _cancellable(job, lambda m=g.model: ollama.call(
                            lambda: ollama.client.embed(model=m, input="warm up", keep_alive=keep_alive),
                            model=m, what="embedding warm-up"))
                done["embedders"] = ", ".join(sorted(kinds)) or "none needed"
            except Cancelled:
                raise
            except LakehouseError as e:
                raise fail("embedders", e) from None

            chat_model = target.chat_model or lh.config.get("ollama.chat_model")
            step(3, "chat model", f"loading {chat_model}")
            if reachable:
                try:
                    _cancellable(job, lambda: ollama.call(
                        lambda: ollama.client.generate(model=chat_model, keep_alive=keep_alive),
                        model=chat_model, what="model load"))
                    done["chat model"] = f"{chat_model} loaded (keep_alive {keep_alive})"
                except OllamaError as e:
                    raise fail("chat model", e) from None
            else:
                done["chat model"] = f"skipped: Ollama is not reachable at {ollama.url}"

            step(4, "unload", f"unloading {previous}'s models")
            old = prof.resolve(lh.config.profiles, previous) if previous in lh.config.profiles or \
                previous == prof.DEFAULT else None
            old_models = set()
            if old is not None and old.id != target.id:
                embed_default = lh.config.get("ollama.embed_model")
                keep = {chat_model, target.embed_model or embed_default}
                old_models = {old.chat_model or lh.config.get("ollama.chat_model")}
                if old.embedder == "ollama":
                    old_models.add(old.embed_model or embed_default)
                old_models -= keep
            if reachable and old_models:
                for m in sorted(old_models):
                    try:
                        ollama.unload(m)
                    except OllamaError:
                        pass  # not loaded or already gone: nothing holds its memory
                done["unload"] = ", ".join(sorted(old_models))
            else:
                done["unload"] = "nothing to unload" if reachable else "skipped: Ollama is not reachable"

            step(5, "switch", f"{previous} -> {target.id}")
            lh.catalog.set_meta("active_profile", target.id)
            lh._use(target, engine, vec)
            handed = True
            done["switch"] = f"{previous} -> {target.id}"
            job.progress(len(STEPS), len(STEPS), "steps", f"{target.id} is active", force=True)
            lh.audit_log.record("activate", [target.id], f"{previous} -> {target.id}", None,
                                (time.perf_counter() - t_start) * 1000)
            return {"job_id": job.id, "profile": target.id, "previous": previous, "steps": done,
                    "seconds": round(time.perf_counter() - t_start, 3)}
    finally:
        if "engine" in locals() and not locals().get("handed"):
            engine.close()
        os.close(fd)
