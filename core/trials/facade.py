"""The facade's trial operations (a part of `core.Lakehouse`): eval sets, trials measured
from stored vectors, a trial's promotion, and autotune (core/trials)."""

from __future__ import annotations

import threading
from importlib import import_module

from core.api import operation
from core.ops.jobs import Listener


def _user() -> str:
    from core.ingest.run import current_user

    return current_user()


class TrialsOps:
    """Mixed into Lakehouse: uses its vectors and audit log."""

    @operation("make an eval set: held-out sampled vectors or a file's questions, with exact top-k truth",
               remote=True, scope="index", mutates=True)
    def eval_create(self, index: str, queries: int | None = None, from_file: str | None = None, k: int = 10,
                    name: str | None = None) -> dict:
        self._policy_index_check(index)  # held-out queries are the index's own chunk texts
        return import_module("core.trials.evals").create(self._vectors, index, queries, from_file, k, name)

    @operation("an index's eval sets, each with why trials may not use it (or null)", remote=True, scope="index")
    def evals(self, index: str) -> list[dict]:
        return import_module("core.trials.evals").listing(self._vectors, index)

    @operation("build an HNSW graph from stored vectors, measure recall@k and latency per ef_search; a TrialResult",
               remote=True, scope="index", mutates=True, retryable=True)
    def trial(self, index: str, m: int, ef_construction: int, ef_search: list[int], eval_name: str | None = None,
              progress: Listener | None = None, cancel: threading.Event | None = None):
        self._policy_index_check(index)
        return import_module("core.trials.run").run_trial(self._vectors, index, m, ef_construction, ef_search,
                                                          eval_name, listener=progress, cancel=cancel)

    @operation("an index's trials this profile ran (best: top recall; pareto: the front)", remote=True, scope="index")
    def trials(self, index: str, best: bool = False, pareto: bool = False) -> list:
        return import_module("core.trials.run").listing(self._vectors, index, best, pareto)

    @operation("make a trial's graph a new active generation", remote=True, scope="index", audited=True, mutates=True)
    def trial_promote(self, trial_id: str, ef_search: int | None = None, actor: str | None = None):
        return import_module("core.trials.promote").audited(self._vectors, self.audit_log, trial_id, ef_search,
                                                            actor or _user())

    @operation("explore HNSW settings within a time budget; promote the Pareto winner if it beats the active one",
               remote=True, scope="index", mutates=True, retryable=True)
    def autotune(self, index: str, budget="10m", min_recall: float | None = None, objective: str | None = None,
                 eval_name: str | None = None, progress: Listener | None = None, cancel=None) -> dict:
        self._policy_index_check(index)
        return import_module("core.trials.autotune").tune_index(self._vectors, index, budget, min_recall,
                                                                objective, eval_name, progress, cancel, self.audit_log)
