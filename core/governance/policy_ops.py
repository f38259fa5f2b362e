"""The facade's policy operations (a part of `core.Lakehouse`): what the policies binding
this profile do to each dataset it sees, and the rule that a profile may not change a
dataset its policy shapes (a write would show it old values, or let it plant rows
whose masks it could compare with the ones it cannot read)."""

from __future__ import annotations

from core.access import Refused
from core.api import operation


class PolicyOps:
    @operation("the policies binding this profile and what each does to the datasets it sees",
               remote=True, scope="datasets")
    def policy(self) -> dict:
        engine = self.engine
        guard = engine.guard
        out = {"profile": self.profile.id, "policies": [p.to_dict() for p in guard.policies] if guard else [],
               "datasets": []}
        if guard is None:
            return out
        for ds in self.datasets():
            shape = engine.shape(ds.name)
            if shape:
                out["datasets"].append({"dataset": ds.name, "policies": list(shape.policies),
                                        "masks": {c: k for c, (k, _) in sorted(shape.masks.items())},
                                        "row_filter": " AND ".join(shape.conditions) or None,
                                        "summary": shape.describe()})
        return out

    def _policy_facts(self, dataset: str) -> dict:
        """Description's `policy` and `masked` for `dataset`, as this profile reads it."""
        if self.engine.guard is None:
            return {}
        shape = self.engine.shape(dataset)
        return {"policy": shape.describe(), "masked": {c: k for c, (k, _) in shape.masks.items()}} if shape else {}

    def _policy_write_check(self, dataset: str | None, verb: str) -> None:
        """Refuse a change to a dataset the profile's policy shapes (or, for an ingest
        without a name, any: the file's stem could name one)."""
        guard = self.engine.guard
        if guard is None:
            return
        refusal = None
        if dataset is None:
            refusal = Refused(f"profile {self.profile.id} is under policy {', '.join(guard.names)}: name the "
                              f"dataset to {verb} (--name), one the policy does not mask or filter")
        elif (shape := self.engine.shape(dataset)) or guard.touches(dataset):
            refusal = Refused(f"profile {self.profile.id} may not {verb} {dataset}: policy "
                              f"{', '.join(shape.policies or guard.names)} masks or filters what it reads of it — "
                              "change it as a profile the policy does not bind")
        if refusal is not None:  # every refusal is in the audit
            self.audit_log.record(verb.split()[0], [dataset] if dataset else [], "", outcome="refused",
                                  error=str(refusal))
            raise refusal

    def _policy_index_check(self, index: str) -> None:
        """Refuse work on an index built over (or keyed by) a column the policy masks."""
        if self.engine.guard is not None and isinstance(index, str):
            self._vectors.searcher.guarded(self._vectors.registry.require(index.split("@")[0]))

    def _audit_policy(self, targets) -> str:
        """The audit's note of what policies did to the datasets an access touched ('' when nothing)."""
        guard = self.engine.guard if self._reader.sql is not None else None
        if guard is None:
            return ""
        notes = [f"{t}: {s.describe()}" for t in sorted(set(targets or ())) if (s := self.engine.shape(t))]
        return "; ".join(notes)
