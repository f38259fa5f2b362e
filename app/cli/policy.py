"""`lakehouse policy`: the policies binding the profile in use, and what each does to
the datasets it reads (masked columns, row filters)."""

from __future__ import annotations

from app.cli.options import LIST_FORMAT, ListFormat
from app.cli.session import with_lh
from app.output import say as print  # noqa: A001 — every message prints inert


def policy(format: ListFormat = LIST_FORMAT):
    """The masking and row policies that bind this profile, dataset by dataset."""
    from app.output import print_records

    p = with_lh(lambda lh: lh.policy())
    if format == ListFormat.json:
        print_records([p], [], "json")
        return
    if not p["policies"]:
        print(f"no policy binds profile {p['profile']}: it reads every column and row of its datasets")
        return
    print(f"profile {p['profile']} is bound by policy {', '.join(x['name'] for x in p['policies'])}")
    records = [{"dataset": d["dataset"], "masks": ", ".join(f"{c} {k}" for c, k in d["masks"].items()) or "—",
                "rows": d["row_filter"] or "all",
                "policies": ", ".join(d["policies"])} for d in p["datasets"]]
    print_records(records, ["dataset", "masks", "rows", "policies"], format.value)
