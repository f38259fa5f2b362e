"""Freshness SLAs: a dataset whose contract sets `max_age` is stale once its last
successful ingest (its newest lineage entry; a dataset made before lineage was kept
counts from its creation) is older than that.

The flag is computed when asked (`datasets`, Explore, System) — no process has to run
for it. `sweep` writes one `_errors` entry when a dataset goes stale: the entry's
detail names the ingest it is stale since, so checking again adds nothing until a new
ingest makes the dataset fresh and it then goes stale once more.
"""

from __future__ import annotations

from datetime import datetime, timezone

OPERATION = "freshness"  # the `_errors` operation of a stale dataset


def short(s: float) -> str:
    """Seconds as the largest whole unit: 45s, 12m, 5h, 3d."""
    s = max(0, int(s))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def last_ingest(catalog, name: str) -> str | None:
    rows = catalog.db.query("SELECT max(created_at) FROM lineage WHERE dataset = ?", (name,))
    if rows and rows[0][0]:
        return rows[0][0]
    ds = catalog.datasets.get(name)
    return ds.created_at if ds is not None else None


def _instant(text) -> datetime | None:
    """A catalog timestamp as an aware instant (UTC when it names no zone); None if unreadable."""
    try:
        at = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None
    return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at


def freshness(catalog, contracts: dict, names=None, now: datetime | None = None) -> dict[str, dict]:
    """dataset -> {dataset, max_age, last_ingest, age_s, stale, over_s, flag} for each
    dataset (of `names`, if given) whose contract sets max_age and that exists."""
    now = now or datetime.now(timezone.utc)
    out: dict[str, dict] = {}
    for name, c in sorted(contracts.items()):
        if not c.max_age_s or (names is not None and name not in names):
            continue
        last = last_ingest(catalog, name)
        at = _instant(last)
        if at is None:
            continue
        age = (now - at).total_seconds()  # negative when the clock was set back: fresh
        over = age - c.max_age_s
        out[name] = {"dataset": name, "max_age": c.max_age, "last_ingest": last, "age_s": round(age, 3),
                     "stale": over > 0, "over_s": round(max(over, 0.0), 3),
                     "flag": f"stale {short(over)} over" if over > 0 else "ok"}
    return out


def sweep(catalog, contracts: dict, names=None) -> list[str]:
    """Record each dataset that went stale since the last sweep in `_errors` (once per
    stale spell); return the names recorded now."""
    said = []
    for name, f in freshness(catalog, contracts, names).items():
        if not f["stale"]:
            continue
        detail = f"stale since the ingest of {f['last_ingest']}"
        if catalog.errors.has(OPERATION, name, detail):
            continue
        catalog.errors.add(OPERATION, f"dataset {name} is stale: its last ingest was {short(f['age_s'])} ago, "
                                      f"longer than its max_age of {f['max_age']} — ingest it again or change "
                                      f"[contracts.{name}] in lakehouse.toml", dataset=name, detail=detail)
        said.append(name)
    return said
