"""Access: what a profile may do beyond reading its own data.

A profile is a boundary for whoever holds it. A *restricted* profile — one whose
dataset or index patterns do not include "*" — can neither widen itself nor reach
past itself: it may not create, edit, delete or activate profiles, switch a daemon
session to another profile, or cancel or retry jobs that are not about its own data.
An unrestricted profile (the built-in default, or any with `*` for both) administers.

What a holder may do is decided by the *principal*: the profile a facade was opened as
(`--profile`, else the activated one) or, over the daemon, the profile the server gave
the connection. Activating another profile changes what is read, never the principal,
so a person who opened the TUI as default can switch to a narrow profile and back.

The rule is deliberately simple: comparing glob patterns to prove one profile is
"narrower" than another is undecidable in practice, so a restricted holder may only
stay where it is.

This module is the one place that decides, for a profile, which datasets, indexes,
jobs, errors, audit entries, asks and system-table rows exist for it, and what it may
write or act on. The rest of core asks here; `Profile` only matches its patterns.
A `profile` of None is the unscoped reader (it sees everything).
"""

from __future__ import annotations

from core.errors import Hint, LakehouseError, NotFound, VectorError


class Refused(LakehouseError):
    """An operation this profile may not perform."""

    refused = True


def restricted(profile) -> bool:
    """Narrower than everything: by its patterns, or because a policy binds it (switching to
    an unbound profile, or editing one, would step out of the policy)."""
    return "*" not in profile.datasets or "*" not in profile.indexes or getattr(profile, "bound", False)


def may_switch(current, target) -> bool:
    """Whether a holder of `current` may work as `target` (a daemon session)."""
    return not restricted(current) or current.id == target.id


def require_admin(profile, what: str) -> None:
    """Refuse `what` (e.g. "editing profiles") to a restricted profile, in one sentence."""
    if restricted(profile):
        raise Refused(f"profile {profile.id} is restricted to its own datasets and cannot do {what}",
                      hint=Hint("run it as an unrestricted profile, e.g. {as the default profile}",
                                None, {"profile": "default"}))


# -- what a profile sees -----------------------------------------------------------------

def sees_dataset(profile, name: str) -> bool:
    return profile is None or profile.sees(name)


def sees_index(profile, idx: dict) -> bool:
    """An index exists for a profile when it searches it *and* sees its dataset."""
    return profile is None or (profile.searches(idx["name"]) and profile.sees(idx["dataset"]))


def _index_datasets(catalog) -> dict[str, str]:
    return {i["name"]: i["dataset"] for i in catalog.indexes.all()}


def _shows(profile, name: str, index_datasets: dict[str, str]) -> bool:
    """Whether a row about `name` (a job's or error's target: a dataset, an index, or
    this profile) is this profile's to see: a dataset it sees, this profile, or an index
    it searches *over a dataset it sees* — never by an index pattern alone, so
    `indexes = ["*"]` reveals no other dataset's journal, jobs or errors."""
    if name == profile.id or profile.sees(name):
        return True
    return name in index_datasets and profile.searches(name) and profile.sees(index_datasets[name])


def datasets(profile, all_datasets: list) -> list:
    return [d for d in all_datasets if sees_dataset(profile, d.name)]


def dataset(catalog, profile, name: str):
    """The dataset `name`, if `profile` may see it; else one NotFound naming only what it sees."""
    if isinstance(name, str) and not profile.sees(name) and catalog.datasets.get(name) is not None:
        raise NotFound(f"no such dataset in profile {profile.id}: {name}")
    ds = catalog.datasets.get(name) if isinstance(name, str) else None
    if ds is None:  # name only what this profile may see
        known = ", ".join(d.name for d in datasets(profile, catalog.datasets.all())) or "none yet"
        raise NotFound(f"no dataset named {name!r} — datasets: {known}")
    return ds


def jobs(profile, catalog, all_jobs: list) -> list:
    """The jobs `profile` may see: about its datasets, its indexes over them, or itself."""
    if profile.sees_all:
        return all_jobs
    idx = _index_datasets(catalog)
    return [j for j in all_jobs if _shows(profile, j.target.split()[0] if j.target else "", idx)]


def errors(profile, all_errors: list) -> list:
    """The errors about datasets `profile` sees (an error about no dataset is the admin's)."""
    return all_errors if profile.sees_all else [e for e in all_errors if e.dataset and profile.sees(e.dataset)]


def audit_profile(profile, asked: str | None) -> str | None:
    """Whose audit entries a query of the audit returns: any (None) or the asked one for
    a profile that sees everything, else always its own."""
    return asked if profile.sees_all else profile.id


def cache_entries(profile, catalog, stats: dict) -> dict:
    """Loaded generations as a restricted profile may see them: the indexes it searches
    over datasets it sees."""
    if restricted(profile):
        idx = _index_datasets(catalog)
        stats["entries"] = [e for e in stats["entries"]
                            if sees_index(profile, {"name": e["index"], "dataset": idx.get(e["index"], "")})]
    return stats


def system_rows(profile, catalog, name: str, table):
    """A system table (`_jobs`, `_errors`, `_audit`, ...) as an Arrow table holding only the
    rows about `profile`'s own datasets, indexes and itself."""
    import pyarrow as pa

    if profile is None:
        return table
    if name in ("_asks", "_audit", "_trials"):  # each profile keeps its own history
        keep = [v == profile.id for v in table.column("profile").to_pylist()]
    elif name in ("_indexes", "_index_events"):
        bound = {i["name"] for i in catalog.indexes.all() if sees_index(profile, i)}
        keep = [v in bound for v in table.column("index_name").to_pylist()]
    else:
        col = {"_datasets": "name", "_columns": "dataset", "_journal": "dataset", "_errors": "dataset", "_jobs": "target"}[name]
        idx = _index_datasets(catalog)
        keep = [bool(v) and _shows(profile, v.split()[0], idx) for v in table.column(col).to_pylist()]
    return table.filter(pa.array(keep, pa.bool_()))


# -- what a profile may write or act on ---------------------------------------------------

def check_ingest(profile, name: str | None) -> None:
    """A profile writes only datasets its patterns name."""
    if not profile.sees_all and (not name or not profile.sees(name)):
        raise LakehouseError(f"profile {profile.id} may only ingest into its datasets "
                             f"({', '.join(profile.datasets)}) — give --name with one of them")


def check_build(profile, index: str) -> None:
    """A profile builds only indexes its patterns name."""
    if profile is not None and not profile.searches(index):
        raise VectorError(f"profile {profile.id} may only build its indexes "
                          f"({', '.join(profile.indexes)}) — give --index with one of those names")


def check_job_owner(principal, owner: str, job_id: str, verb: str) -> None:
    """A restricted holder may act only on the jobs it started itself."""
    if restricted(principal) and owner != principal.id:
        raise Refused(f"job {job_id} was started by {'profile ' + owner if owner else 'another profile'}, "
                      f"and profile {principal.id} may {verb} only its own jobs")


def own_ask(principal, row: dict | None) -> dict | None:
    """An ask row as `principal` may see it: another profile's ask is not a restricted
    holder's to see or to teach others with."""
    if row is not None and restricted(principal) and row.get("profile") != principal.id:
        return None
    return row


def trials(profile, rows: list[dict]) -> list[dict]:
    """Trial rows as `profile` sees them: the ones it ran (each profile keeps its own
    trial history, as the `_trials` system table shows it)."""
    return rows if profile is None else [r for r in rows if r["profile"] == profile.id]
