"""The COPY statements that write each table, in id order, to its Parquet file.

The three activity logs (timesheets, calls, emails) are generated here, straight into
their files, from the tables built by tables.py.
"""

from __future__ import annotations

import math
import pathlib

from core.demo.samples import count
from core.demo.workload import REFERENCE_DATE, TABLES
from core.names import sql_str

_PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"
_ACTIVITY_WEEKS = 233  # 2021-01-04 .. 2025-06-29
_ACTIVITY_START_S = 1609718400  # 2021-01-04 00:00:00


def copy_sql(n: dict[str, int], paths: dict[str, pathlib.Path]) -> list[str]:
    """One COPY per table, in the order of ``TABLES``, writing to ``paths[table]``."""
    queries = {
        "candidates": """SELECT candidate_id, first_name, last_name, email, phone, city, state, zip, skills,
       years_experience, status, resume_text, created_at FROM cand ORDER BY i""",
        "clients": "SELECT client_id, name, vertical, contact_name, contact_email, city, state FROM cl ORDER BY i",
        "job_orders": """SELECT job_id, client_id, title, description, required_skills, city, state, bill_rate, pay_rate,
       status, opened_at FROM jo ORDER BY j""",
        "placements": """SELECT placement_id, candidate_id, job_id, client_id, recruiter, start_date, end_date,
       bill_rate, pay_rate, status FROM pl ORDER BY p""",
        "timesheets": _TIMESHEETS,
        "call_log": _call_log(n["candidates"], n["call_log"]),
        "email_log": _email_log(n["candidates"], n["email_log"]),
    }
    return [f"COPY ({queries[t]})\nTO {sql_str(str(paths[t]))} ({_PARQUET_OPTIONS})" for t in TABLES]


def _coprime_multiplier(n: int) -> int:
    """A multiplier m with gcd(m, n) == 1, so rank -> (rank*m + c) % n permutes 0..n-1."""
    for m in (7919, 104729, 15485863, 179424673, 2038074743):
        if math.gcd(m, n) == 1:
            return m
    return 1


def _candidate_pick(x: str, a: int, b: int, c: int, nc: int) -> str:
    """The candidate of activity ``x``: half the activity goes to a heavy-tailed head of a
    scrambled ranking, half is uniform."""
    return (
        f"(((CASE WHEN hm({x}, {a}, 2) = 0 "
        f"THEN least({nc} - 1, floor({nc} * pow(hu({x}, {b}), 1.5))::BIGINT) "
        f"ELSE hm({x}, {c}, {nc}) END) * {_coprime_multiplier(nc)} + 17) % {nc}) + 1"
    )


def _weekday_ts(x: str, a: int, b: int, start_h: int, span_h: int) -> str:
    """A timestamp on a weekday of the activity period, between start_h and start_h + span_h."""
    d = f"hm({x}, {a}, {_ACTIVITY_WEEKS * 5})"
    return (
        f"make_timestamp(({_ACTIVITY_START_S} + (({d} // 5) * 7 + {d} % 5) * 86400 + "
        f"{start_h * 3600} + hm({x}, {b}, {span_h * 3600}))::BIGINT * 1000000)"
    )


# One row per week of each placement: pl's [b0, b1) are its timesheet numbers.
_TIMESHEETS = """
WITH a AS (
  SELECT unnest(range(b0, b1)) + 1 AS t, b0, nw, placement_id, candidate_id, bill_rate, pay_rate, status, first_we
  FROM pl
), b AS (
  SELECT *, t - 1 - b0 AS k,
         CASE WHEN hm(t, 501, 100) < 62 THEN 40.0
              WHEN hm(t, 501, 100) < 80 THEN 32 + hm(t, 502, 65) * 0.25
              WHEN hm(t, 501, 100) < 92 THEN (8 + hm(t, 503, 33))::DOUBLE
              ELSE 20 + hm(t, 504, 81) * 0.25 END AS hours
  FROM a
)
SELECT printf('TS-%07d', t) AS timesheet_id, placement_id, candidate_id,
       (first_we + (7 * k)::INTEGER) AS week_ending, hours,
       round(hours * bill_rate, 2) AS bill_total, round(hours * pay_rate, 2) AS pay_total,
       CASE WHEN status = 'active' AND k >= nw - 2 THEN hm(t, 505, 100) < 55
            ELSE hm(t, 506, 1000) < 985 END AS approved
FROM b ORDER BY t"""


def _call_log(nc: int, ncalls: int) -> str:
    """Recruiters' calls: direction, disposition and a duration that fits it."""
    return f"""
WITH a AS (
  SELECT range + 1 AS c, {_candidate_pick('range + 1', 601, 602, 603, nc)} AS ci FROM range({ncalls})
), b AS (
  SELECT c, ci,
         CASE WHEN hm(c, 604, 100) < 72 THEN 'outbound' ELSE 'inbound' END AS direction,
         CASE WHEN hm(c, 604, 100) < 72 THEN c_disp_out()[1 + hm(c, 605, 100)]
              ELSE c_disp_in()[1 + hm(c, 605, 100)] END AS disposition
  FROM a
)
SELECT printf('CALL-%07d', c) AS call_id, printf('CAND-%06d', ci) AS candidate_id,
       CASE WHEN hm(c, 606, 100) < 75 THEN c_recruiters()[1 + hm(ci, 900, 60)]
            ELSE c_recruiters()[1 + hm(c, 607, 60)] END AS recruiter,
       {_weekday_ts('c', 608, 609, 8, 10)} AS called_at,
       (CASE disposition
          WHEN 'no_answer' THEN 0
          WHEN 'wrong_number' THEN 5 + hm(c, 610, 40)
          WHEN 'voicemail' THEN 15 + hm(c, 610, 75)
          WHEN 'not_interested' THEN 30 + hm(c, 610, 270)
          WHEN 'interested' THEN 180 + hm(c, 610, 1620)
          ELSE 45 + floor(pow(hu(c, 611), 2) * 1800)::BIGINT END)::INTEGER AS duration_s,
       direction, disposition
FROM b ORDER BY c"""


def _email_log(nc: int, nemails: int) -> str:
    """Emails between recruiters and candidates, their subjects filled from the candidate."""
    return f"""
WITH a AS (
  SELECT range + 1 AS e, {_candidate_pick('range + 1', 701, 702, 703, nc)} AS ci FROM range({nemails})
), b AS (
  SELECT a.e, a.ci, cb.title, cb.city, cb.skill1,
         hm(a.e, 704, 100) < 78 AS outbound
  FROM a JOIN cb ON cb.i = a.ci
)
SELECT printf('EM-%07d', e) AS email_id, printf('CAND-%06d', ci) AS candidate_id,
       CASE WHEN hm(e, 705, 100) < 75 THEN c_recruiters()[1 + hm(ci, 900, 60)]
            ELSE c_recruiters()[1 + hm(e, 706, 60)] END AS recruiter,
       {_weekday_ts('e', 707, 708, 6, 16)} AS sent_at,
       replace(replace(replace(replace(
         CASE WHEN outbound THEN c_subj_out()[1 + hm(e, 709, {count('activity', 'emails', 'outbound')})]
              ELSE c_subj_in()[1 + hm(e, 709, {count('activity', 'emails', 'inbound')})] END,
         '{{title}}', title), '{{city}}', city), '{{skill}}', skill1),
         '{{date}}', (DATE '{REFERENCE_DATE}' - (7 * hm(e, 710, 200))::INTEGER)::VARCHAR) AS subject,
       CASE WHEN outbound THEN 'outbound' ELSE 'inbound' END AS direction,
       CASE WHEN outbound THEN hm(e, 711, 100) < 48 ELSE true END AS opened
FROM b ORDER BY e"""
