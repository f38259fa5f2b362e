"""The facade's contract, freshness and retention operations (a part of `core.Lakehouse`).

Contracts are enforced by ingest and update themselves (core/governance/contract_check.py);
these operations list them with each dataset's freshness, check a dataset's current data
against its contract, and apply [retention] to the catalog's logs.
"""

from __future__ import annotations

import threading

from core.api import operation
from core.ops.jobs import Listener

CONTRACT_OPERATION = "contract"  # the `_errors` operation of a failed check of current data


class ContractOps:
    """Mixed into Lakehouse: uses its config, catalog, tables, profile and jobs."""

    def _freshness(self, names=None) -> dict[str, dict]:
        from core.governance.freshness import freshness, sweep

        contracts = {n: c for n, c in self.config.contracts.items() if self.profile.sees(n)}
        try:
            sweep(self.catalog, contracts, names)  # a dataset that went stale is said once in `_errors`
        except Exception:  # noqa: BLE001 - the catalog busy: the flag below still stands, the entry comes next time
            pass
        return freshness(self.catalog, contracts, names)

    @operation("the dataset contracts in lakehouse.toml with each dataset's freshness (ok or stale)",
               remote=True, scope="datasets")
    def contracts(self) -> list[dict]:
        """One dict per contract of a dataset this profile sees: the contract's rules, whether
        the dataset exists, and its freshness (`fresh`: "ok", "stale 2h over", or "" without max_age)."""
        fresh = self._freshness()
        out = []
        for name, c in sorted(self.config.contracts.items()):
            if not self.profile.sees(name):
                continue
            f = fresh.get(name, {})
            out.append({**c.to_dict(), "exists": self.catalog.datasets.get(name) is not None,
                        "fresh": f.get("flag", ""), "stale": bool(f.get("stale")),
                        "last_ingest": f.get("last_ingest"), "over_s": f.get("over_s", 0.0)})
        return out

    @operation("freshness of each dataset whose contract sets max_age: ok, or stale and by how much ('stale 2h over')",
               remote=True, scope="datasets")
    def freshness(self) -> dict[str, str]:
        return {n: f["flag"] for n, f in self._freshness().items()}

    @operation("check datasets' current data against their contracts (all with one, or the one named)",
               remote=True, scope="datasets")
    def check_contract(self, dataset: str | None = None) -> list[dict]:
        """One report per dataset: {dataset, version, ok, violations, fresh}. Violations name
        rules, counts and row numbers (in key order), never values. A failed check is
        recorded in `_errors` once per version and rule."""
        from core.errors import NotFound
        from core.governance.contract_check import check_current, sentence

        if dataset is not None:
            ds = self.dataset(dataset)
            if ds.name not in self.config.contracts:
                raise NotFound(f"dataset {ds.name} has no contract — add a [contracts.{ds.name}] table "
                               "to lakehouse.toml")
            names = [ds.name]
        else:
            names = [n for n in sorted(self.config.contracts) if self.profile.sees(n)
                     and self.catalog.datasets.get(n) is not None]
        fresh = self._freshness(set(names))
        out = []
        for name in names:
            ds = self.dataset(name)
            found = check_current(self.config, self.catalog, self.tables, ds)
            for v in found:
                v.pop("keys", None)
            report = {"dataset": name, "version": ds.table_version, "ok": not found, "violations": found,
                      "fresh": fresh.get(name, {}).get("flag", "")}
            if found:
                report["message"] = sentence(f"version {ds.table_version} of {name}", self.config.contracts[name],
                                             found)
                detail = f"v{ds.table_version}: " + ", ".join(sorted({v["rule"] for v in found}))
                if not self.catalog.errors.has(CONTRACT_OPERATION, name, detail):
                    self.catalog.errors.add(CONTRACT_OPERATION, report["message"], dataset=name, detail=detail)
            out.append(report)
        return out

    @operation("apply [retention]: delete audit, errors, journal and asks rows older than their days "
               "(a job of kind retention); rows removed per table", remote=True, scope="none",
               mutates=True)
    def run_retention(self, progress: Listener | None = None,
                      cancel: threading.Event | None = None) -> dict:
        """{"removed": {table: rows}, "days": {table: days (0 = kept)}, "job_id"}. Deleting the
        audit is for an unrestricted profile only."""
        from core.access import require_admin
        from core.governance.retention import TABLES, apply

        require_admin(self.principal, "retention of the audit and the other logs")
        self.audit_log.flush()  # entries still in memory are judged like the rest
        with self._jobs.run("retention", "catalog", progress, cancel) as job:
            removed = apply(self.catalog, self.config, job)
            total = sum(removed.values())
            job.progress(message=f"retention removed {total:,} rows ("
                         + ", ".join(f"{t} {n:,}" for t, n in removed.items()) + ")", force=True)
        return {"removed": removed, "job_id": job.id,
                "days": {t: self.config.get(f"retention.{k}") for k, (t, _) in TABLES.items()}}
