"""What a profile under a policy sees of its datasets outside SQL results: the journal
and the errors journal.

Journal events carry field values (old → new) and each record's key. For a profile whose
policy shapes a dataset, an event's values in a masked column are masked as SQL shows
them, a key in a masked key column is masked, and an event about a record the row filter
hides — or no longer holds (deleted) — is left out; summaries of bulk changes stay.
An error about a shaped dataset (a failed ingest may quote a value of the file) shows
its message and detail with every quoted value replaced by '…'.
"""

from __future__ import annotations

import re

from core.names import quote_ident


def journal(engine, catalog, dataset: str, events: list[dict]) -> list[dict]:
    """`events` (journal rows of `dataset`, as dicts) as `engine`'s profile may see them."""
    guard = engine.guard
    if guard is None or not events:
        return events
    shape = engine.shape(dataset)
    if not shape:
        return events
    ds = catalog.datasets.get(dataset)
    key = list(ds.primary_key) if ds is not None else []
    visible = _entities(engine, dataset, key) if shape.row_filter is not None else None
    masked_key = next((shape.masks[k][0] for k in key if k in shape.masks), None)
    out = []
    for e in events:
        entity = e.get("entity")
        if entity is not None and visible is not None and entity not in visible:
            continue
        e = dict(e)
        kind = shape.masks.get(e.get("field") or "", (None,))[0]
        if kind is not None:
            scope = f"{dataset}.{e['field']}"
            e["old_value"] = guard.mask_value(kind, e.get("old_value"), scope)
            e["new_value"] = guard.mask_value(kind, e.get("new_value"), scope)
        if entity is not None and masked_key is not None:
            e["entity"] = guard.mask_value(masked_key, entity, f"{dataset}.{','.join(key)}")
        out.append(e)
    return out


def journal_table(engine, catalog, table):
    """The `_journal` system table (an Arrow table over every dataset) as `journal` shows it."""
    import pyarrow as pa

    if engine.guard is None or table.num_rows == 0:
        return table
    rows = table.to_pylist()
    by_dataset: dict[str, list[dict]] = {}
    for r in rows:
        by_dataset.setdefault(r["dataset"], []).append(r)
    kept = [r for name, events in by_dataset.items() for r in journal(engine, catalog, name, events)]
    kept.sort(key=lambda r: r["id"])
    return pa.Table.from_pylist(kept, schema=table.schema)


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")


def unquoted(text: str) -> str:
    """`text` with each quoted value ('…' or "…") replaced by '…'."""
    return _QUOTED.sub("'…'", text or "")


def errors(engine, events: list) -> list:
    """ErrorEvents (or dicts) as `engine`'s profile may see them: quoted values of shaped datasets hidden."""
    if engine.guard is None:
        return events
    from dataclasses import replace

    out = []
    for e in events:
        d = e if isinstance(e, dict) else e.__dict__
        if d.get("dataset") and engine.shape(d["dataset"]):
            fix = {"message": unquoted(d["message"]), "detail": unquoted(d["detail"])}
            e = {**e, **fix} if isinstance(e, dict) else replace(e, **fix)
        out.append(e)
    return out


def errors_table(engine, catalog, table):
    """The `_errors` system table as `errors` shows it."""
    import pyarrow as pa

    if table.num_rows == 0:
        return table
    return pa.Table.from_pylist(errors(engine, table.to_pylist()), schema=table.schema)


def _entities(engine, dataset: str, key: list[str]) -> set[str]:
    """The journal keys (`a,b` as the journal writes them) of the records the profile sees."""
    from core.datasets.mutate import _text

    if not key:
        return set()
    cols = ", ".join(quote_ident(k) for k in key)
    t = engine.run(f"SELECT DISTINCT {cols} FROM {quote_ident(dataset)}")
    return {",".join(_text(v) for v in rec) for rec in zip(*(t.column(i).to_pylist() for i in range(len(key))))}
