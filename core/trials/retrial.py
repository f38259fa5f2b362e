"""Append-triggered re-trials: when an index's data grows, re-measure its active settings.

Nothing refreshes an index on its own: new rows reach it when `embed` runs again on its
dataset (incremental — only the new chunks are embedded) and the new generation, built
with the active one's settings, becomes active. That refresh is the trigger. `after_embed`
runs after every embed (the facade's, so the CLI, the daemon and the TUI alike): when the
embed activated a generation over another dataset version than the generation it
replaced, and the index has a finished trial (so its settings are tuned by trials),
a re-trial is scheduled — one row in `retrials`, written first so a crash loses nothing —
and then run as a "retrial" job: one trial of the active generation's M, ef_construction
and ef_search (not an autotune: one build, one ef_search), on the newest eval set still
valid for the new data or, as a refresh makes every older one stale, a fresh eval set made
like the newest one (same k and number of queries). Its rows land in `_trials` with origin
"retrial". The scheduled row goes when the re-trial ends, ok or failed (its `_trials` row
says which); one left behind by a killed process is run by the next embed of the index.
"""

from __future__ import annotations

from core.errors import LakehouseError


def after_embed(vectors, result, listener=None, cancel=None):
    """Schedule a re-trial if `result` (an EmbedResult) refreshed the active generation's
    data, run the index's scheduled re-trial if any (reporting to the embed's `listener`,
    stopped by its `cancel`), and return `result` unchanged."""
    index = result.index
    if result.promoted and not result.up_to_date and _tuned(vectors, index):
        gen = vectors.catalog.indexes.generation(index, result.gen)
        base = vectors.catalog.indexes.generation(index, gen["base_gen"]) if gen.get("base_gen") else None
        if base is not None and base["dataset_version"] != gen["dataset_version"]:
            vectors.catalog.trials.schedule_retrial(index, result.gen, gen["dataset_version"])
    if vectors.catalog.trials.retrial(index) is not None:
        run_scheduled(vectors, index, listener, cancel)
    return result


def run_scheduled(vectors, index: str, listener=None, cancel=None):
    """Run `index`'s scheduled re-trial: its active settings on a valid eval set (made
    fresh when none is). Returns the TrialResult, or None when it could not run (the
    index is empty, say) or was cancelled; either way the schedule is cleared."""
    from core.trials import evals, graphs, run

    try:
        gen, _ = evals.source(vectors, index)
        if gen["kind"] != "hnsw":
            return None  # an exact index has no settings to measure
        ev = _eval_for(vectors, index, gen)
        efs = max(gen["ef_search"], ev.k)  # a search asks for k at least, as autotune's baseline
        with vectors.ctx.jobs.run("retrial", index, listener, cancel) as job:
            out = run.run_trial(vectors, index, gen["m"], gen["ef_construction"], [efs], ev.name, job=job)
    except LakehouseError:
        out = None  # an empty index, a failed or cancelled trial (its row in _trials says so): the embed stands
    finally:
        vectors.catalog.trials.clear_retrial(index)
    graphs.prune(vectors, index)
    return out


def _tuned(vectors, index: str) -> bool:
    return any(r["status"] == "ok" for r in vectors.catalog.trials.of_index(index))


def _eval_for(vectors, index: str, gen: dict):
    """The newest eval set valid for `gen`, else a fresh one made like the newest."""
    from core.trials import evals

    try:
        return evals.load_eval(vectors, index, None, gen)
    except LakehouseError:
        newest = vectors.catalog.trials.evals(index)[-1]
        most = int(gen["chunks"] * evals.HELD_OUT_SHARE)  # fewer rows now: hold out what may be
        made = evals.create(vectors, index, queries=min(newest["queries"], most) or None, k=newest["k"])
        return evals.load_eval(vectors, index, made["name"], gen)
