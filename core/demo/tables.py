"""The DuckDB SQL that builds the workload's tables in memory, in dependency order.

Every value is a pure function of the row number: ``hm``/``hu`` (see macros.py) hash it
with a per-column salt, so no ``random()`` and the same scale gives the same rows.
"""

from __future__ import annotations

from core.demo.samples import count
from core.demo.workload import REFERENCE_DATE

_REF = f"DATE '{REFERENCE_DATE}'"
_BASE_2018 = 1514764800  # 2018-01-01 00:00:00 UTC
_SPAN_CREATED = 7 * 365 * 86400 + 5 * 30 * 86400  # candidates were created over 7 years and 5 months


def table_sql(n: dict[str, int]) -> list[str]:
    """The statements that build the temp tables the Parquet files are copied from."""
    return [
        _candidates_base(n["candidates"]),
        _clients(n["clients"]),
        _job_orders_base(n["clients"], n["job_orders"]),
        "CREATE TEMP TABLE jtc AS SELECT tr, count(*) AS cnt FROM jb GROUP BY tr",
        "CREATE TEMP TABLE cpl AS SELECT i, tr, row_number() OVER (ORDER BY i) AS rk FROM cb WHERE placeable",
        _placements(n["job_orders"], n["placements"], n["timesheets"]),
        _CANDIDATES,
        _job_orders(),
    ]


def _candidates_base(nc: int) -> str:
    """Candidates before their placements are known (``cb``): names, skills, resume text."""
    return f"""
CREATE TEMP TABLE cb AS
WITH a AS (
  SELECT range + 1 AS i,
         c_track_slots()[1 + hm(range + 1, 101, 100)] AS tr,
         c_cities()[city_ix(range + 1, 102)] AS cty,
         c_first()[1 + hm(range + 1, 104, {count('names', 'first_names')})] AS first_name,
         c_last()[1 + hm(range + 1, 105, {count('names', 'last_names')})] AS last_name,
         (1 + floor(pow(hu(range + 1, 106), 2) * 28))::INTEGER AS years,
         3 + hm(range + 1, 107, 4) AS nsk,
         hm(range + 1, 108, 9) AS soff
  FROM range({nc})
), b AS (
  SELECT *,
         [c_skills()[tr][1]] || list_slice(c_skills()[tr][2:] || c_skills()[tr][2:], soff + 1, soff + nsk - 1) AS sk,
         CASE WHEN years < 3 THEN 'Junior ' WHEN years >= 10 THEN 'Senior ' ELSE '' END
           || c_titles()[tr][1 + hm(i, 109, CASE WHEN years < 3 THEN 3 ELSE 4 END)] AS title
  FROM a
)
SELECT i, tr, first_name, last_name, title, sk[1] AS skill1,
       lower(first_name || '.' || last_name || i::VARCHAR || '@' || c_domains()[1 + hm(i, 110, {count('names', 'email_domains')})]) AS email,
       '(' || cty.area || ') ' || (200 + hm(i, 111, 800))::VARCHAR || '-' || lpad(hm(i, 112, 10000)::VARCHAR, 4, '0') AS phone,
       cty.city AS city, cty.state AS state,
       cty.zip3 || lpad(hm(i, 113, 100)::VARCHAR, 2, '0') AS zip,
       array_to_string(sk, ', ') AS skills,
       years AS years_experience,
       replace(replace(replace(replace(replace(c_s1()[1 + hm(i, 114, {count('resumes', 'openings')})],
           '{{title}}', title), '{{yrs}}', years::VARCHAR || CASE WHEN years = 1 THEN ' year' ELSE ' years' END),
           '{{years}}', years::VARCHAR), '{{city}}', cty.city), '{{state}}', cty.state)
       || ' ' ||
       replace(replace(replace(replace(c_s2()[1 + hm(i, 115, {count('resumes', 'skills')})],
           '{{skills}}', array_to_string(sk, ', ')), '{{s1}}', sk[1]), '{{s2}}', sk[2]), '{{s3}}', sk[3])
       || CASE WHEN nsk + hm(i, 116, 3) >= 4 THEN ' ' ||
          replace(replace(replace(c_s3()[1 + hm(i, 117, {count('resumes', 'history')})],
              '{{role}}', c_titles()[tr][1 + hm(i, 118, 4)]),
              '{{employer}}', c_employers()[1 + hm(i, 119, {count('resumes', 'past_employers')})]),
              '{{acc}}', c_acc()[tr][1 + hm(i, 120, 4)])
          ELSE '' END
       || CASE WHEN hm(i, 121, 100) < 55 THEN ' ' ||
          replace(replace(c_s4()[1 + hm(i, 122, {count('resumes', 'credentials')})],
              '{{cert}}', c_certs()[tr][1 + hm(i, 123, 3)]),
              '{{quality}}', c_qualities()[1 + hm(i, 124, {count('resumes', 'qualities')})])
          ELSE '' END
       || CASE WHEN hm(i, 125, 100) < 45 THEN ' ' ||
          replace(c_s5()[1 + hm(i, 126, {count('resumes', 'availability')})], '{{city}}', cty.city)
          ELSE '' END AS resume_text,
       make_timestamp(({_BASE_2018} + hm(i, 127, {_SPAN_CREATED}))::BIGINT * 1000000) AS created_raw,
       hm(i, 128, 100) < 40 OR i = 1 AS placeable
FROM b
"""


def _clients(ncl: int) -> str:
    """Clients (``cl``): a unique name from two word lists and a suffix of the vertical."""
    word1 = count("clients", "first_words")
    names = word1 * count("clients", "second_words")
    return f"""
CREATE TEMP TABLE cl AS
WITH a AS (
  SELECT range + 1 AS i, 1 + hm(range + 1, 201, {count('clients', 'verticals')}) AS vi,
         (range * 7919) % {names} AS k,
         range // {names} AS lap,
         c_cities()[city_ix(range + 1, 202)] AS cty,
         c_first()[1 + hm(range + 1, 204, {count('names', 'first_names')})] AS cf,
         c_last()[1 + hm(range + 1, 205, {count('names', 'last_names')})] AS clast
  FROM range({ncl})
), b AS (
  SELECT *, c_word1()[1 + k % {word1}] || ' ' || c_word2()[1 + k // {word1}] || ' '
            || c_vsuffix()[vi][1 + hm(i, 206, 4)]
            || CASE WHEN lap > 0 THEN ' ' || (lap + 1)::VARCHAR ELSE '' END AS name
  FROM a
)
SELECT i, printf('CLI-%04d', i) AS client_id, name, c_verticals()[vi] AS vertical, vi,
       cf || ' ' || clast AS contact_name,
       lower(cf || '.' || clast) || '@' || regexp_replace(lower(name), '[^a-z0-9]', '', 'g') || '.com' AS contact_email,
       cty.city AS city, cty.state AS state
FROM b
"""


def _job_orders_base(ncl: int, nj: int) -> str:
    """Job orders before their placements are known (``jb``); big clients order more."""
    return f"""
CREATE TEMP TABLE jb AS
WITH a AS (
  SELECT range + 1 AS j,
         least({ncl}, 1 + floor({ncl} * pow(hu(range + 1, 301), 1.4))::BIGINT) AS ci
  FROM range({nj})
), b AS (
  SELECT a.j, a.ci, cl.client_id, cl.name AS client_name, cl.city AS ccity, cl.state AS cstate,
         c_vtracks()[cl.vi][1 + hm(a.j, 302, len(c_vtracks()[cl.vi]))] AS tr,
         hm(a.j, 303, 10) AS sen, hm(a.j, 304, 9) AS soff, 1 + hm(a.j, 305, 3) AS nextra,
         c_cities()[city_ix(a.j, 306)] AS rcty
  FROM a JOIN cl ON cl.i = a.ci
), c AS (
  SELECT *,
         CASE WHEN sen < 2 THEN 'Junior ' WHEN sen < 7 THEN '' WHEN sen < 9 THEN 'Senior ' ELSE 'Lead ' END
           || c_titles()[tr][1 + hm(j, 308, CASE WHEN sen < 2 THEN 3 ELSE 4 END)] AS title,
         CASE WHEN sen < 2 THEN 0.85 WHEN sen < 7 THEN 1.0 WHEN sen < 9 THEN 1.2 ELSE 1.3 END AS mult,
         CASE WHEN hm(j, 309, 100) < 70 THEN ccity ELSE rcty.city END AS city,
         CASE WHEN hm(j, 309, 100) < 70 THEN cstate ELSE rcty.state END AS state
  FROM b
), d AS (
  SELECT *, round((c_pay_lo()[tr] + hu(j, 310) * (c_pay_hi()[tr] - c_pay_lo()[tr])) * mult, 2) AS pay_rate
  FROM c
)
SELECT j, printf('JOB-%06d', j) AS job_id, client_id, tr, title,
       client_name || ' is seeking an experienced ' || title || ' in ' || city || ', ' || state || ' to '
         || c_duties()[tr][1 + hm(j, 311, 3)] || '. This is a ' || c_job_types()[1 + hm(j, 312, {count('jobs', 'types')})]
         || ' assignment with ' || c_job_shifts()[1 + hm(j, 313, {count('jobs', 'shifts')})] || '.' AS description,
       array_to_string([c_skills()[tr][1]] || list_slice(c_skills()[tr][2:] || c_skills()[tr][2:], soff + 1, soff + nextra), ', ') AS required_skills,
       city, state,
       round(pay_rate * (1.3 + 0.4 * hu(j, 314)), 2) AS bill_rate,
       pay_rate,
       row_number() OVER (PARTITION BY tr ORDER BY j) AS jr
FROM d
"""


def _placements(nj: int, npl: int, nts: int) -> str:
    """Placements (``pl``) of placeable candidates in jobs of their track, each with its share
    [b0, b1) of the timesheets (weekly, ending at the reference date when still active)."""
    return f"""
CREATE TEMP TABLE pl AS
WITH a AS (
  SELECT range + 1 AS p, 1 + hm(range + 1, 401, (SELECT count(*) FROM cpl)) AS crk FROM range({npl})
), b AS (
  SELECT a.p, cpl.i AS ci, cpl.tr,
         CASE WHEN jtc.cnt > 0 THEN 1 + hm(a.p, 402, jtc.cnt) END AS jrk
  FROM a JOIN cpl ON cpl.rk = a.crk LEFT JOIN jtc ON jtc.tr = cpl.tr
), c AS (
  SELECT b.p, b.ci, coalesce(jt.j, 1 + hm(b.p, 403, {nj})) AS jj
  FROM b LEFT JOIN jb AS jt ON jt.tr = b.tr AND jt.jr = b.jrk
), d AS (
  SELECT c.p, c.ci, jb.j, jb.job_id, jb.client_id, jb.bill_rate, jb.pay_rate,
         CASE WHEN hm(c.p, 404, 100) < 30 THEN 'active' WHEN hm(c.p, 404, 100) < 90 THEN 'completed' ELSE 'terminated' END AS status,
         CASE WHEN hm(c.p, 405, 100) < 70 THEN c_recruiters()[1 + hm(c.ci, 900, 60)]
              ELSE c_recruiters()[1 + hm(c.p, 406, 60)] END AS recruiter
  FROM c JOIN jb ON jb.j = c.jj
), e AS (
  SELECT *, CASE status WHEN 'active' THEN 1 + hm(p, 407, 40)
                        WHEN 'completed' THEN 2 + hm(p, 408, 49)
                        ELSE 1 + hm(p, 409, 12) END AS w
  FROM d
), f AS (
  SELECT *, sum(w) OVER (ORDER BY p ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cw,
            sum(w) OVER () AS tw
  FROM e
), g AS (
  SELECT *, ({nts}::HUGEINT * (cw - w) // tw)::BIGINT AS b0, ({nts}::HUGEINT * cw // tw)::BIGINT AS b1
  FROM f
), h AS (
  SELECT *, b1 - b0 AS nw,
         CASE WHEN status = 'active' THEN hm(p, 410, 2)
              ELSE 1 + hm(p, 411, greatest(1, 300 - (b1 - b0))) END AS gap
  FROM g
), k AS (
  SELECT *, ({_REF} - (7 * (greatest(nw, 1) - 1 + gap))::INTEGER) AS first_we FROM h
)
SELECT p, printf('PLC-%06d', p) AS placement_id, ci, printf('CAND-%06d', ci) AS candidate_id,
       j, job_id, client_id, recruiter,
       (first_we - hm(p, 412, 7)::INTEGER) AS start_date,
       CASE WHEN status = 'active' THEN NULL
            ELSE greatest((first_we - hm(p, 412, 7)::INTEGER) + 1, (first_we + (7 * (nw - 1) - hm(p, 413, 3))::INTEGER)) END AS end_date,
       bill_rate, pay_rate, status, b0, b1, nw, first_we
FROM k
"""


# Candidates final (``cand``): status and creation date agree with their placements.
_CANDIDATES = """
CREATE TEMP TABLE cand AS
WITH ps AS (
  SELECT ci, bool_or(status = 'active') AS has_active, min(start_date) AS first_start FROM pl GROUP BY ci
)
SELECT cb.i, printf('CAND-%06d', cb.i) AS candidate_id, first_name, last_name, email, phone, city, state, zip,
       skills, years_experience,
       CASE WHEN ps.has_active THEN 'placed'
            WHEN ps.ci IS NOT NULL THEN CASE WHEN hm(cb.i, 130, 100) < 55 THEN 'active' ELSE 'inactive' END
            WHEN hm(cb.i, 130, 100) < 45 THEN 'active'
            WHEN hm(cb.i, 130, 100) < 87 THEN 'inactive'
            ELSE 'do_not_contact' END AS status,
       resume_text,
       CASE WHEN ps.first_start IS NULL THEN created_raw
            ELSE least(created_raw, ps.first_start::TIMESTAMP - to_days(14 + hm(cb.i, 131, 180))) END AS created_at
FROM cb LEFT JOIN ps ON ps.ci = cb.i
"""


def _job_orders() -> str:
    """Job orders final (``jo``): status and opening date agree with their placements."""
    return f"""
CREATE TEMP TABLE jo AS
WITH ps AS (
  SELECT j, bool_or(status = 'active') AS has_active, min(start_date) AS first_start FROM pl GROUP BY j
)
SELECT jb.j, job_id, client_id, title, description, required_skills, city, state, bill_rate, pay_rate,
       CASE WHEN ps.has_active THEN CASE WHEN hm(jb.j, 323, 100) < 60 THEN 'filled' ELSE 'open' END
            WHEN hm(jb.j, 320, 100) < 40 THEN 'open'
            WHEN hm(jb.j, 320, 100) < 75 THEN 'closed'
            WHEN hm(jb.j, 320, 100) < 85 THEN 'on_hold'
            ELSE 'filled' END AS status,
       CASE WHEN ps.first_start IS NULL THEN ({_REF} - hm(jb.j, 321, 900)::INTEGER)
            ELSE (ps.first_start - (7 + hm(jb.j, 322, 60))::INTEGER) END AS opened_at
FROM jb LEFT JOIN ps ON ps.j = jb.j
"""
