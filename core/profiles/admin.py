"""Profile administration behind the facade: list, show, create/edit and delete the
profiles in lakehouse.toml. A restricted holder sees only itself and may change none."""

from __future__ import annotations

from core import config as config_mod
from core.access import require_admin, restricted
from core.errors import Hint, LakehouseError, NotFound
from core.profiles import store as prof


def listing(config, catalog, principal, current: str) -> list[dict]:
    """Every profile (the built-in default too) with its bindings' problems and whether
    it is the active one (`current`: the facade's reader)."""
    # as the file has them now: another shell (`lakehouse profile create`) may have changed them
    path = config.writable_file
    if path.is_file():
        config.profiles = config_mod.read_file(path).get("profiles", {})
    active = catalog.meta.get("active_profile") or prof.DEFAULT
    names = [prof.DEFAULT] + sorted(p for p in config.profiles if p != prof.DEFAULT)
    datasets = [d.name for d in catalog.datasets.all()]
    indexes = [i["name"] for i in catalog.indexes.all()]
    out = []
    if restricted(principal):  # others' bindings would name datasets it may not see
        names = [principal.id]
    for pid in names:
        p = prof.resolve(config.profiles, pid)
        out.append({**p.to_dict(), "active": pid == active, "current": pid == current,
                    "problems": prof.problems(p, datasets, indexes) if p.defined else []})
    return out


def show(config, shown: list[dict], principal, pid: str) -> dict:
    """`pid` out of `shown` (the listing), or the sentence saying why not."""
    prof.resolve(config.profiles, pid)
    one = next((p for p in shown if p["id"] == pid), None)
    if one is None:  # another profile, to a restricted holder
        raise NotFound(f"no profile named {pid!r} that profile {principal.id} may see")
    return one


def save(config, principal, pid: str, changes: dict, create: bool) -> None:
    """Create a profile, or edit one (only the keys given change). Writes
    [profiles.<pid>] into the config file; the rest of the file is kept as it was."""
    require_admin(principal, "creating profiles" if create else "editing profiles")
    prof.check_id(pid)
    exists = pid in config.profiles
    if create and exists:
        raise LakehouseError(f"profile {pid!r} already exists",
                             hint=Hint("change it", "profile_save", {"pid": pid, "create": False}))
    if not create and not exists:
        prof.resolve(config.profiles, pid)  # the usual 'no profile named' sentence
        raise LakehouseError(f"profile {pid!r} is the built-in one", hint=Hint(
            "create it to change it", "profile_save", {"pid": pid, "create": True, "datasets": "NAME,..."}))
    for key in ("datasets", "indexes"):  # an empty list is written as no key, which reads back as every one
        if changes.get(key) == []:
            raise LakehouseError(f"profile {pid!r}: {key} cannot be empty — name at least one, or '*' for all")
    base = config.profiles[pid].toml_table() if exists else {}
    table = {**base, **{k: v for k, v in changes.items() if v is not None}}
    if isinstance(base.get("hnsw"), dict) and isinstance(changes.get("hnsw"), dict):  # --m 32 keeps ef_search
        table["hnsw"] = {**base["hnsw"], **changes["hnsw"]}
    path = config.writable_file
    parsed = prof.parse({pid: table}, path)[pid]  # the same checks as loading the file
    prof.write(path, pid, parsed.toml_table())
    config.profiles[pid] = parsed


def delete(config, catalog, principal, pid: str) -> str:
    require_admin(principal, "deleting profiles")
    if pid not in config.profiles:
        prof.resolve(config.profiles, pid)
        raise LakehouseError("the built-in default profile cannot be deleted")
    prof.write(config.writable_file, pid, None)
    del config.profiles[pid]
    note = ""
    if catalog.meta.get("active_profile") == pid:
        catalog.meta.set("active_profile", prof.DEFAULT)
        note = "; default is the active profile now"
    return f"deleted profile {pid} from {config.writable_file}{note}"
