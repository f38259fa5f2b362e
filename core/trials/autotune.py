"""Autotune: explore a bounded space of HNSW settings with optuna, keep the Pareto front of
recall against cost, and say which configuration (if any) to promote.

The space — no proposal ever leaves it (`Space.contains`):
- M in [4, 64] (log scale);
- ef_construction in [M, 400] (sampled over [4, 400] on a log scale and raised to M, as
  hnswlib itself builds with max(ef_construction, M); a fixed range keeps the sampler's
  model of the parameter valid across trials);
- ef_search in [k, 512], k being the eval set's k (a search asks for at least k anyway).

The optimiser is optuna's TPESampler, multi-objective (maximise recall, minimise the
objective's cost) with recall >= min_recall as a constraint: TPE does well with the few
dozen trials a budget of minutes buys, where NSGA-II wants populations of ~50 per
generation. We drive it with `study.ask()` / `study.tell()`, so each trial runs here under
our cancel check and budget. One trial is one graph build: the sampler proposes (M,
ef_construction, ef_search), and the graph is also searched at neighbouring ef_search
values (x0.5, x1.5, x2 — searching costs little beside building), each told to the study
as a trial of its own so the sampler learns from every point measured. optuna is imported
only when a run starts (~0.3 s).

Promotion rule (`decide`): only the front's best by the objective, only at or above
min_recall, and only when it beats the active settings measured first in the same run
(`baseline`) — by MIN_GAIN on the objective's cost, so a difference within measurement
noise promotes nothing — or when the active settings fall below min_recall themselves.
The loop never promotes: it returns an `Outcome` naming the point and why, or why nothing,
and the caller promotes the point's trial. A failed trial is recorded and the loop goes on;
it stops when the budget ends (a trial running then finishes: a build cannot be paused, so
a run overshoots its time by at most one trial) or when cancelled (Cancelled propagates:
nothing is promoted).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

from core.errors import Cancelled, Hint, VectorError
from core.trials.front import OBJECTIVES, Point, best, cost_of, pareto_front, settings

MIN_GAIN = 0.05  # a promotion must cut the objective's cost by 5% at least
EF_STEPS = (0.5, 1.0, 1.5, 2.0)  # the ef_search values measured per build, around the proposal
MAX_REPEATS = 25  # proposals in a row that were all measured already: the space is exhausted

Run = Callable[[int, int, list[int]], list[dict]]


@dataclass(frozen=True)
class Space:
    """The bounded space (see the module docstring); k is the eval set's k."""

    k: int = 10
    m_min: int = 4
    m_max: int = 64
    ef_construction_max: int = 400
    ef_search_max: int = 512

    def contains(self, m: int, ef_construction: int, ef_search: int) -> bool:
        return (self.m_min <= m <= self.m_max and m <= ef_construction <= self.ef_construction_max
                and self.k <= ef_search <= max(self.k, self.ef_search_max))

    def distributions(self) -> dict:
        from optuna.distributions import IntDistribution

        return {"m": IntDistribution(self.m_min, self.m_max, log=True),
                "ef_construction": IntDistribution(self.m_min, self.ef_construction_max, log=True),
                "ef_search": IntDistribution(self.k, max(self.k, self.ef_search_max), log=True)}

    def settings_of(self, params: dict) -> tuple[int, int, int]:
        """A sampler's params as (M, ef_construction, ef_search) inside the space."""
        m = int(params["m"])
        return m, max(int(params["ef_construction"]), m), int(params["ef_search"])

    def ladder(self, ef_search: int) -> list[int]:
        """The ef_search values one build is measured at: the proposal and its neighbours."""
        top = max(self.k, self.ef_search_max)
        return sorted({min(top, max(self.k, round(ef_search * f))) for f in EF_STEPS} | {ef_search})


@dataclass
class Outcome:
    """What a run found: the point to promote (None: nothing, `reason` says why)."""

    promote: dict | None
    reason: str
    objective: str
    min_recall: float
    baseline: dict | None = None  # the active settings, measured first in this run
    front: list[dict] = field(default_factory=list)  # recall against the objective's cost
    trials: int = 0  # builds run, the baseline's included
    failed: list[dict] = field(default_factory=list)  # {m, ef_construction, ef_search, error}
    stopped: str = ""  # why the loop ended: "time", "trials" or "exhausted"
    seconds: float = 0.0
    generation: int | None = None  # the generation the caller made of `promote`

    def to_dict(self) -> dict:
        return asdict(self)


class _Tuner:
    """One run's state: the study, every point measured, the budget spent."""

    def __init__(self, run: Run, space: Space, objective: str, min_recall: float, cancel, progress,
                 max_seconds, max_trials, clock, sampler, seed):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # its INFO line per trial is ours to report
        self.run, self.space, self.objective, self.min_recall = run, space, objective, min_recall
        self.figure = cost_of(objective)
        self.cancel, self.progress, self.clock = cancel, progress, clock
        self.max_seconds, self.max_trials = max_seconds, max_trials
        self.dists = space.distributions()
        self.study = optuna.create_study(directions=["maximize", "minimize"],
                                         sampler=sampler or optuna.samplers.TPESampler(seed=seed))
        self.points: list[dict] = []
        self.measured: dict[tuple, dict] = {}
        self.failed: list[dict] = []
        self.trials = 0
        self.start = clock()

    def left(self) -> str | None:
        """Why the budget is spent, or None while it is not."""
        if self.max_trials is not None and self.trials >= self.max_trials:
            return "trials"
        if self.max_seconds is not None and self.clock() - self.start >= self.max_seconds:
            return "time"
        return None

    def report(self, message: str) -> None:
        if self.progress is None:
            return
        if self.max_seconds is not None:
            self.progress(min(self.clock() - self.start, self.max_seconds), self.max_seconds, "s", message)
        else:
            self.progress(self.trials, self.max_trials, "trials", message)

    def measure(self, m: int, efc: int, efs_list: list[int]) -> list[dict] | None:
        """Build one graph and measure it; a failure is recorded and gives None."""
        self.cancel()
        self.trials += 1
        lead = best(pareto_front(self.points, self.figure), self.objective, self.min_recall)
        so_far = f" (best so far {describe(lead)}: {_cost(self.figure, lead[self.figure])} at recall " \
                 f"{lead['recall']:.3f})" if lead else ""
        self.report(f"trial {self.trials}: M {m}, ef_construction {efc}{so_far}")
        try:
            got = self.run(m, efc, efs_list)
        except Cancelled:
            raise
        except Exception as e:  # any trial's failure (a bug included) is recorded, not fatal
            self.failed.append({"m": m, "ef_construction": efc, "ef_search": efs_list, "error": str(e)})
            return None
        self.cancel()
        pts = [{**p, "m": m, "ef_construction": efc} for p in got]
        for p in pts:
            self.points.append(p)
            self.measured[settings(p)] = p
        return pts

    def values(self, p: Point) -> list[float]:
        return [float(p["recall"]), float(p[self.figure])]

    def constraint(self, p: Point) -> dict:
        return {"min_recall": self.min_recall - float(p["recall"])}

    def add(self, p: Point) -> None:
        """Tell the study a point it did not ask for (a ladder neighbour, the baseline)."""
        from optuna.trial import create_trial

        m, efc, efs = settings(p)
        if not self.space.contains(m, efc, efs):
            return  # the active settings may lie outside the space: not the sampler's concern
        self.study.add_trial(create_trial(
            params={"m": m, "ef_construction": efc, "ef_search": efs}, distributions=self.dists,
            values=self.values(p), constraints=self.constraint(p)))

    def tell(self, trial, p: Point | None) -> None:
        from optuna.trial import TrialState

        if p is None:
            self.study.tell(trial, state=TrialState.FAIL)
            return
        for key, v in self.constraint(p).items():
            trial.set_constraint(key, v)
        self.study.tell(trial, self.values(p))

    def step(self) -> bool:
        """Ask for one configuration and measure it; False when it was measured already."""
        trial = self.study.ask(self.dists)
        m, efc, efs = self.space.settings_of(trial.params)
        assert self.space.contains(m, efc, efs), (m, efc, efs)
        known = self.measured.get((m, efc, efs))
        if known is not None:
            self.tell(trial, known)
            return False
        pts = self.measure(m, efc, self.space.ladder(efs))
        if pts is None:
            self.tell(trial, None)
            return True
        asked = next((p for p in pts if p["ef_search"] == efs), None)
        self.tell(trial, asked)
        for p in pts:
            if p is not asked:
                self.add(p)
        return True


def autotune(run: Run, *, active: tuple[int, int, int], space: Space | None = None, min_recall: float = 0.95,
             objective: str = "p50", max_seconds: float | None = None, max_trials: int | None = None,
             cancel: Callable[[], None] = lambda: None, progress: Callable | None = None,
             history: Iterable[Point] = (), sampler=None, seed: int | None = None,
             clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Tune an index's HNSW settings within a budget; return what to promote (or why not).

    run(m, ef_construction, ef_search_list) builds one graph and returns a point per
    ef_search (recall, p50_us, p95_us, p99_us, build_s, index_bytes, ef_search, and the
    trial's id under "trial_id" for the caller to promote); it raises on failure.
    active: the active generation's (M, ef_construction, ef_search), measured first as the
    baseline. max_seconds / max_trials: the budget (at least one; builds are counted, the
    baseline's included). cancel() raises Cancelled to stop; progress(done, total, unit,
    message) as a job reports it. history: points of earlier runs, which only warm the
    sampler (their figures were measured under other conditions, so never promoted).
    sampler / seed: an optuna sampler in place of TPE, or TPE's seed.
    """
    if not (max_seconds and max_seconds > 0) and not (max_trials and max_trials > 0):
        raise ValueError("autotune needs a budget: max_seconds or max_trials above 0")
    space = space or Space()
    t = _Tuner(run, space, objective, min_recall, cancel, progress, max_seconds, max_trials, clock, sampler, seed)
    for p in history:
        t.add(p)
    m, efc, efs = active
    efs = max(efs, space.k)  # a search asks for k at least: what the active generation really uses
    pts = t.measure(m, efc, space.ladder(efs))  # outside the space too: its ladder is clipped to it
    baseline = next((p for p in pts or () if p["ef_search"] == efs), None)
    if baseline is None:
        error = t.failed[-1]["error"] if t.failed else "no figures at its ef_search"
        return _finish(t, None, f"nothing promoted: the active settings could not be measured ({error})", "")
    for p in pts:
        t.add(p)
    stopped, repeats = t.left(), 0
    while stopped is None:
        t.cancel()
        repeats = 0 if t.step() else repeats + 1
        stopped = "exhausted" if repeats >= MAX_REPEATS else t.left()
    promote, reason = decide(t.points, baseline, objective, min_recall)
    t.report(reason)
    return _finish(t, promote, reason, stopped, baseline)


def _finish(t: _Tuner, promote, reason: str, stopped: str, baseline=None) -> Outcome:
    return Outcome(promote=dict(promote) if promote else None, reason=reason, objective=t.objective,
                   min_recall=t.min_recall, baseline=baseline,
                   front=[dict(p) for p in pareto_front(t.points, t.figure)], trials=t.trials,
                   failed=t.failed, stopped=stopped, seconds=round(t.clock() - t.start, 3))


def decide(points: list[Point], baseline: Point, objective: str, min_recall: float,
           min_gain: float = MIN_GAIN) -> tuple[Point | None, str]:
    """The point to promote and why, or None and why not (see the module docstring)."""
    figure = cost_of(objective)
    front = pareto_front(points, figure)
    pick = best(front, objective, min_recall)
    if pick is None:
        top = max((p["recall"] for p in points), default=float("nan"))
        return None, (f"nothing promoted: no configuration reached recall {min_recall:g} "
                      f"(the best reached {top:.3f})")
    what = f"{describe(pick)} ({_cost(figure, pick[figure])} at recall {pick['recall']:.3f})"
    active = f"the active settings' {_cost(figure, baseline[figure])} at recall {baseline['recall']:.3f}"
    if settings(pick) == settings(baseline):
        return None, f"nothing promoted: the active settings are the best ({active})"
    if baseline["recall"] < min_recall:
        return pick, f"promoted {what}: {active} fall below recall {min_recall:g}"
    if pick[figure] <= baseline[figure] * (1 - min_gain):
        return pick, f"promoted {what}: beats {active}, measured in the same run"
    return None, (f"nothing promoted: the best, {what}, does not beat {active} "
                  f"by {min_gain:.0%}")


def describe(p: Point) -> str:
    m, efc, efs = settings(p)
    return f"M {m}, ef_construction {efc}, ef_search {efs}"


def _cost(figure: str, v: float) -> str:
    if figure == "build_s":
        return f"build {v:.1f} s"
    if figure == "index_bytes":
        return f"index {v / 2**20:.1f} MB"  # as the CLI's tables count them
    return f"{figure.removesuffix('_us')} {v:.0f} µs"


def parse_budget(text: str | int | float) -> float:
    """'10m' -> 600.0; '90s', '1h', '1h30m' and a bare number of seconds too."""
    if isinstance(text, (int, float)):
        return float(text)
    s, total, num = str(text).strip().lower(), 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for ch in s:
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in units and num:
            total, num = total + float(num) * units[ch], ""
        else:
            raise ValueError(f"cannot read the budget {text!r} — write e.g. 10m, 90s or 1h")
    if num:
        total += float(num)
    if not s or math.isnan(total):
        raise ValueError(f"cannot read the budget {text!r} — write e.g. 10m, 90s or 1h")
    return total


# -- an index's autotune, as a job (the facade's `autotune`) ----------------------------
def tune_index(vectors, index: str, budget="10m", min_recall: float | None = None, objective: str | None = None,
               eval_name: str | None = None, listener=None, cancel=None, audit_log=None) -> dict:
    """Autotune `index` (the generation this profile searches) on eval set `eval_name`
    (None: the newest usable one) as an "autotune" job, one at a time per index, and
    promote the outcome's point through the trial promote path (in `audit_log` as a
    trial_promote, like a user's). min_recall / objective:
    None takes the profile's autotune_* key, else [trials] in the config (`goals`).
    Returns the Outcome as a dict; the job's last message says what was promoted or why
    nothing was."""
    from core.storage.locks import try_lock
    from core.trials import evals, graphs, promote, run
    from core.vectors import store

    seconds = _budget(budget)
    min_recall, objective = goals(vectors, min_recall, objective)
    gen, _ = evals.source(vectors, index)
    ev = evals.load_eval(vectors, index, eval_name, gen)  # an unknown or stale eval set stops here
    fd = try_lock(store.index_dir(vectors.root, index) / ".autotune.lock", 0o644)
    if fd is None:
        raise VectorError(f"an autotune of {index!r} is already running",
                          hint=Hint("wait for it, or cancel it", "cancel_job", {"job_id": "ID"}))
    try:
        with vectors.ctx.jobs.run("autotune", index, listener, cancel) as job:
            job.on_cancel = "the trials it measured stay in _trials (a rerun starts from them); nothing was promoted"
            mine: list[dict] = []  # this run's points: its front's graphs are kept until it promotes

            def trial(m: int, efc: int, efs: list[int]) -> list[dict]:
                t = run.run_trial(vectors, index, m, efc, efs, ev.name, job=_InTrial(job))
                mine.extend({**p, "trial_id": t.id, "build_s": t.build_s, "index_bytes": t.index_bytes}
                            for p in t.points)
                graphs.prune(vectors, index, {p["trial_id"] for p in pareto_front(mine, cost_of(objective))}, job.id)
                return [p for p in mine if p["trial_id"] == t.id]

            earlier = [{**p, "m": t.m, "ef_construction": t.ef_construction, "build_s": t.build_s,
                        "index_bytes": t.index_bytes} for t in run.listing(vectors, index)
                       if t.status == "ok" and t.eval_set == ev.name and t.generation == gen["gen"] for p in t.points]
            out = autotune(trial, active=(gen["m"], gen["ef_construction"], gen["ef_search"]),
                           space=Space(k=ev.k), min_recall=min_recall, objective=objective, max_seconds=seconds,
                           cancel=job.check_cancel, progress=job.progress, history=earlier)
            if out.promote is not None:
                job.check_cancel()  # a cancel asked for during the last trial promotes nothing
                args = (vectors, out.promote["trial_id"], out.promote["ef_search"], f"autotune (job {job.id})")
                info = promote.audited(args[0], audit_log, *args[1:]) if audit_log else promote.promote(*args)
                out.generation = info.active_gen
            job.progress(message=out.reason, force=True)
            return out.to_dict()
    finally:
        graphs.prune(vectors, index)
        os.close(fd)


def goals(vectors, min_recall: float | None, objective: str | None) -> tuple[float, str]:
    """The minimum recall and objective an autotune uses: the flag, else the profile's
    autotune_min_recall / autotune_objective, else [trials] min_recall / objective."""
    prof, cfg = vectors.profile, vectors.ctx.cfg
    if min_recall is None:
        own = prof.autotune_min_recall if prof is not None else None
        min_recall = own if own is not None else cfg.get("trials.min_recall")
    if objective is None:
        objective = (prof.autotune_objective if prof is not None else "") or cfg.get("trials.objective")
    if objective not in OBJECTIVES:
        raise VectorError(f"unknown objective {objective!r} — one of {', '.join(OBJECTIVES)}")
    if not 0 < min_recall <= 1:
        raise VectorError(f"the minimum recall must be above 0 and at most 1, got {min_recall}")
    return min_recall, objective


def _budget(budget) -> float:
    try:
        seconds = parse_budget(budget)
    except ValueError as e:
        raise VectorError(str(e)) from None
    if not seconds > 0:
        raise VectorError(f"the budget must be more than 0, got {budget!r}")
    return seconds


class _InTrial:
    """The autotune's job as each of its trials reports to it: the trial's words after the
    autotune's own (which trial, the best so far), the autotune's bar (time spent) kept."""

    def __init__(self, job):
        self.job, self.id, self.kind, self.lead = job, job.id, job.kind, job.message

    def progress(self, done=None, total=None, unit=None, message=None, *, force: bool = False) -> None:
        self.job.progress(message=f"{self.lead} — {message}" if message else None, force=force)

    def pause_point(self, phase: str) -> None:
        self.job.pause_point(phase)

    def check_cancel(self) -> None:
        self.job.check_cancel()
