"""DuckDB macros the table SQL is written in: the pseudo-random helpers and the sample
data as constant list literals (``c_first()[1 + hm(i, 104, n)]`` picks a first name)."""

from __future__ import annotations

from core.demo.samples import load, recruiters
from core.names import sql_str


def sql_literal(v) -> str:
    """Python value -> DuckDB literal (lists nest)."""
    if isinstance(v, str):
        return sql_str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(sql_literal(x) for x in v) + "]"
    raise TypeError(type(v))


def _slots(weights) -> list:
    """A 100-slot lookup list (indexed by 1 + hash % 100) from (value, percent) pairs."""
    out: list = []
    for value, n in weights:
        out.extend([value] * n)
    assert len(out) == 100, len(out)
    return out


def _struct_list(rows: list[dict]) -> str:
    return "[" + ", ".join(
        "{" + ", ".join(f"{sql_str(k)}: {sql_literal(v)}" for k, v in row.items()) + "}" for row in rows
    ) + "]"


def _constants() -> dict[str, str]:
    """Macro name -> literal of every piece of sample data the SQL draws from."""
    names, tracks, clients = load("names"), load("tracks")["tracks"], load("clients")
    resumes, jobs, activity = load("resumes"), load("jobs"), load("activity")
    verticals = clients["verticals"]
    lists = {
        "c_first": names["first_names"],
        "c_last": names["last_names"],
        "c_domains": names["email_domains"],
        "c_recruiters": recruiters(),
        "c_track_slots": _slots((i, t["weight"]) for i, t in enumerate(tracks, start=1)),
        "c_skills": [t["skills"] for t in tracks],
        "c_titles": [t["titles"] for t in tracks],
        "c_pay_lo": [t["pay"][0] for t in tracks],
        "c_pay_hi": [t["pay"][1] for t in tracks],
        "c_duties": [t["duties"] for t in tracks],
        "c_acc": [t["accomplishments"] for t in tracks],
        "c_certs": [t["certifications"] for t in tracks],
        "c_verticals": [v["name"] for v in verticals],
        "c_vtracks": [v["tracks"] for v in verticals],
        "c_vsuffix": [v["suffixes"] for v in verticals],
        "c_word1": clients["first_words"],
        "c_word2": clients["second_words"],
        "c_employers": resumes["past_employers"],
        "c_s1": resumes["openings"],
        "c_s2": resumes["skills"],
        "c_s3": resumes["history"],
        "c_s4": resumes["credentials"],
        "c_s5": resumes["availability"],
        "c_qualities": resumes["qualities"],
        "c_job_types": jobs["types"],
        "c_job_shifts": jobs["shifts"],
        "c_disp_out": _slots(activity["calls"]["outbound"].items()),
        "c_disp_in": _slots(activity["calls"]["inbound"].items()),
        "c_subj_out": activity["emails"]["outbound"],
        "c_subj_in": activity["emails"]["inbound"],
    }
    return {"c_cities": _struct_list(load("cities")["cities"])} | {k: sql_literal(v) for k, v in lists.items()}


def macros() -> list[str]:
    """The CREATE MACRO statements, run before the table SQL."""
    out = [
        # hm(i, salt, n): pseudo-random integer in [0, n); hu(i, salt): double in [0, 1).
        "CREATE TEMP MACRO hm(i, s, n) AS (hash(i, s) % (n)::UBIGINT)::BIGINT",
        "CREATE TEMP MACRO hu(i, s) AS (hash(i, s) >> 11)::DOUBLE / 9007199254740992.0",
        # Weighted city index: Chicago (1) ~10%, the other 24 evenly.
        "CREATE TEMP MACRO city_ix(i, s) AS CASE WHEN hm(i, s, 100) < 10 THEN 1 ELSE 2 + hm(i, s + 1, 24) END",
    ]
    out += [f"CREATE TEMP MACRO {name}() AS {lit}" for name, lit in _constants().items()]
    return out
