"""Deterministic generator of the reference staffing-company workload.

``generate(out_dir, scale)`` writes seven Parquet tables (candidates, clients,
job_orders, placements, timesheets, call_log, email_log) and a folder of
markdown documents.  Everything is a pure function of ``scale``: the tables
are built in DuckDB SQL from ``range()`` with pseudo-random values derived
from ``hash(row_number, salt)`` (no ``random()``), written in id order, so the
same scale yields byte-identical files on every run.  The documents come from
per-document seeded ``random.Random`` instances.

Module import is deliberately cheap: duckdb is imported inside ``generate``.
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import random

from core.names import sql_str

TABLES: tuple[str, ...] = (
    "candidates",
    "clients",
    "job_orders",
    "placements",
    "timesheets",
    "call_log",
    "email_log",
)

BASE_ROWS: dict[str, int] = {
    "candidates": 100_000,
    "clients": 2_000,
    "job_orders": 15_000,
    "placements": 50_000,
    "timesheets": 1_000_000,
    "call_log": 800_000,
    "email_log": 500_000,
}
# Primary keys declared when the demo is ingested: the master-data tables people edit
# record by record. Keyed tables are kept in small files so an update rewrites little;
# the big append-mostly logs (timesheets, call_log, email_log) keep large files, which
# scan faster — an upsert with --key declares theirs when needed.
KEYS: dict[str, str] = {
    "candidates": "candidate_id", "clients": "client_id", "job_orders": "job_id",
    "placements": "placement_id",
}

# Floors that keep the foreign keys meaningful at tiny scales.
MIN_ROWS: dict[str, int] = {"candidates": 50, "clients": 20}

BASE_DOCS = 300
MIN_DOCS = 40

REFERENCE_DATE = "2025-06-29"  # a Sunday: the "today" of the workload
_PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880"


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def row_counts(scale: float = 1.0) -> dict[str, int]:
    """Row count of every table at ``scale`` (scale 1 = 2.47M rows)."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    return {t: max(MIN_ROWS.get(t, 1), _round(n * scale)) for t, n in BASE_ROWS.items()}


def doc_count(scale: float = 1.0) -> int:
    """Number of markdown documents at ``scale``."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    return BASE_DOCS if scale >= 1 else max(MIN_DOCS, _round(BASE_DOCS * scale))


# ---------------------------------------------------------------------------
# Vocabulary pools (rendered into SQL list literals)
# ---------------------------------------------------------------------------

# (city, state, zip prefix, area code). Chicago is first: it gets ~10% of rows.
CITIES = [
    ("Chicago", "IL", "606", "312"),
    ("New York", "NY", "100", "212"),
    ("Los Angeles", "CA", "900", "213"),
    ("Houston", "TX", "770", "713"),
    ("Phoenix", "AZ", "850", "602"),
    ("Philadelphia", "PA", "191", "215"),
    ("San Antonio", "TX", "782", "210"),
    ("San Diego", "CA", "921", "619"),
    ("Dallas", "TX", "752", "214"),
    ("Austin", "TX", "787", "512"),
    ("Columbus", "OH", "432", "614"),
    ("Charlotte", "NC", "282", "704"),
    ("Indianapolis", "IN", "462", "317"),
    ("Seattle", "WA", "981", "206"),
    ("Denver", "CO", "802", "303"),
    ("Boston", "MA", "021", "617"),
    ("Nashville", "TN", "372", "615"),
    ("Detroit", "MI", "482", "313"),
    ("Atlanta", "GA", "303", "404"),
    ("Minneapolis", "MN", "554", "612"),
    ("Milwaukee", "WI", "532", "414"),
    ("Kansas City", "MO", "641", "816"),
    ("St. Louis", "MO", "631", "314"),
    ("Newark", "NJ", "071", "973"),
    ("Hartford", "CT", "061", "860"),
]

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Christopher", "Karen", "Daniel", "Lisa", "Matthew", "Nancy",
    "Anthony", "Betty", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly",
    "Andrew", "Emily", "Joshua", "Donna", "Kevin", "Michelle", "Brian", "Carol",
    "Jose", "Maria", "Luis", "Carmen", "Carlos", "Ana", "Juan", "Sofia",
    "Wei", "Mei", "Raj", "Priya", "Arjun", "Ananya", "Hiroshi", "Yuki",
    "Kwame", "Amara", "Tyrone", "Keisha", "Dmitri", "Olga", "Ahmed", "Fatima",
    "Liam", "Olivia", "Noah", "Emma", "Ethan", "Ava", "Mason", "Isabella",
    "Lucas", "Mia", "Logan", "Harper", "Elijah", "Chloe", "Aiden", "Grace",
]

LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Patel", "Shah", "Kim", "Chen", "Wang", "Singh",
    "Kowalski", "Novak", "Okafor", "Mensah", "Ivanov", "Cohen", "Murphy", "Sullivan",
    "Reyes", "Cruz", "Ortiz", "Morales", "Gutierrez", "Chavez", "Ward", "Brooks",
    "Bennett", "Gray", "Hughes", "Price", "Foster", "Sanders", "Bryant", "Russell",
]

EMAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com", "proton.me"]

_REC_FIRST = [
    "Alicia", "Brandon", "Caitlin", "Derek", "Erin", "Frank", "Gina", "Hector", "Irene", "Jared",
    "Kelsey", "Marcus", "Nadia", "Owen", "Paula", "Quentin", "Rachel", "Sean", "Tanya", "Victor",
]
_REC_LAST = ["Holloway", "Brennan", "Castillo", "Dunbar", "Whitaker", "Fischer", "Lindqvist"]
# 60 distinct recruiter names (20 first names x 3 rotating surnames).
RECRUITERS = [
    f"{_REC_FIRST[k % 20]} {_REC_LAST[(k + 3 * (k // 20)) % len(_REC_LAST)]}" for k in range(60)
]

# Skill tracks.  skills[0] is the anchor every candidate of the track has;
# 9 more are rotated in.  Nothing contains "JavaScript", so LIKE '%Java%'
# only hits real Java skills; '.NET' only lives in the dotnet track.
TRACKS = [
    dict(
        key="java",
        skills=["Java", "Spring", "Spring Boot", "Hibernate", "Microservices", "SQL", "AWS", "Kafka", "Maven", "REST APIs"],
        titles=["Java Developer", "Backend Engineer", "Software Engineer", "Java Architect"],
        pay=(52.0, 88.0),
        duties=["build and maintain Spring Boot microservices", "modernize a legacy Java monolith", "design REST APIs for a customer platform"],
        acc=["migrated a monolith to Spring Boot microservices", "cut API latency by 40% through query tuning", "led a Kafka event-streaming rollout", "mentored four junior developers"],
        certs=["Oracle Certified Professional Java SE", "AWS Certified Developer", "Spring Professional certification"],
    ),
    dict(
        key="dotnet",
        skills=[".NET", "C#", "ASP.NET Core", "Entity Framework", "SQL Server", "Azure", "REST APIs", "LINQ", "Blazor", "Microservices"],
        titles=[".NET Developer", "C# Developer", "Software Engineer", "Full Stack .NET Engineer"],
        pay=(50.0, 85.0),
        duties=["extend an ASP.NET Core line-of-business application", "migrate .NET Framework services to .NET 8 on Azure", "maintain C# integrations with SQL Server"],
        acc=["ported a .NET Framework application to .NET 8", "automated Azure DevOps release pipelines", "rebuilt a reporting module in Blazor", "reduced SQL Server deadlocks to near zero"],
        certs=["Microsoft Certified: Azure Developer Associate", "Microsoft Certified: .NET Developer", "Azure Fundamentals (AZ-900)"],
    ),
    dict(
        key="data",
        skills=["SQL", "Python", "Spark", "Java", "Scala", "Airflow", "dbt", "Snowflake", "Tableau", "Kafka"],
        titles=["Data Engineer", "Data Analyst", "Analytics Engineer", "BI Developer"],
        pay=(48.0, 85.0),
        duties=["build batch and streaming pipelines", "own the dbt models behind executive dashboards", "migrate reporting from on-prem SQL to Snowflake"],
        acc=["built an Airflow platform running 400 daily jobs", "moved a data warehouse to Snowflake", "delivered Tableau dashboards used by 300 managers", "cut nightly ETL runtime from six hours to one"],
        certs=["Snowflake SnowPro Core", "Databricks Data Engineer Associate", "Tableau Desktop Specialist"],
    ),
    dict(
        key="cloud",
        skills=["Kubernetes", "Docker", "Terraform", "AWS", "Azure", "Linux", "CI/CD", "Helm", "Prometheus", "Python"],
        titles=["DevOps Engineer", "Site Reliability Engineer", "Cloud Engineer", "Platform Engineer"],
        pay=(58.0, 98.0),
        duties=["run production Kubernetes clusters", "codify cloud infrastructure in Terraform", "improve CI/CD pipelines and observability"],
        acc=["moved 60 services onto Kubernetes", "wrote Terraform modules for a multi-account AWS landing zone", "cut cloud spend by 30%", "built Prometheus alerting that halved incident response time"],
        certs=["Certified Kubernetes Administrator (CKA)", "AWS Solutions Architect Associate", "HashiCorp Terraform Associate"],
    ),
    dict(
        key="frontend",
        skills=["React", "TypeScript", "HTML", "CSS", "Node.js", "Redux", "GraphQL", "Jest", "Next.js", "Figma"],
        titles=["Front End Developer", "React Developer", "UI Engineer", "Web Developer"],
        pay=(45.0, 80.0),
        duties=["build accessible React interfaces", "own the design system and component library", "ship customer-facing web features in TypeScript"],
        acc=["rebuilt a checkout flow that raised conversion 12%", "introduced TypeScript across a large React codebase", "built a shared component library", "brought a web app to WCAG AA accessibility"],
        certs=["Meta Front-End Developer certificate", "AWS Cloud Practitioner", "Google UX Design certificate"],
    ),
    dict(
        key="healthcare",
        skills=["Patient Care", "BLS", "ACLS", "EMR", "Epic", "Phlebotomy", "Medication Administration", "Telemetry", "Triage", "HIPAA"],
        titles=["Registered Nurse", "Licensed Practical Nurse", "Certified Nursing Assistant", "Medical Assistant"],
        pay=(22.0, 62.0),
        duties=["provide direct patient care on a busy med-surg unit", "support outpatient clinics with intake and vitals", "cover telemetry night shifts"],
        acc=["precepted new graduate nurses", "maintained a perfect medication-administration audit record", "helped roll out Epic charting on a 40-bed unit", "cut patient wait times at intake"],
        certs=["BLS and ACLS certification", "active state RN license", "Certified Phlebotomy Technician"],
    ),
    dict(
        key="warehouse",
        skills=["Forklift", "Inventory Control", "Shipping & Receiving", "RF Scanner", "Pallet Jack", "OSHA 10", "Order Picking", "WMS", "Cycle Counting", "Loading"],
        titles=["Forklift Operator", "Warehouse Associate", "Shipping Clerk", "Material Handler"],
        pay=(16.5, 25.0),
        duties=["load and unload trailers at a regional distribution center", "pick and pack e-commerce orders", "run cycle counts and inventory control"],
        acc=["kept a 99.8% pick accuracy rate", "trained new hires on RF scanners", "went three years without a safety incident", "helped launch a new WMS"],
        certs=["forklift operator certification", "OSHA 10 card", "reach truck certification"],
    ),
    dict(
        key="manufacturing",
        skills=["Machine Operation", "CNC", "Blueprint Reading", "Quality Control", "Welding", "Lean Manufacturing", "Assembly", "Preventive Maintenance", "OSHA 10", "Calipers"],
        titles=["Machine Operator", "CNC Machinist", "Production Associate", "Quality Inspector"],
        pay=(18.0, 34.0),
        duties=["set up and run CNC lathes", "inspect parts against blueprints", "support a lean assembly line"],
        acc=["reduced scrap rate by 15%", "cross-trained on five production lines", "led a 5S initiative on the shop floor", "held tolerances of a thousandth of an inch"],
        certs=["NIMS machining credential", "AWS certified welder", "Six Sigma Yellow Belt"],
    ),
    dict(
        key="accounting",
        skills=["Accounting", "Excel", "QuickBooks", "Accounts Payable", "Accounts Receivable", "Reconciliation", "SAP", "GAAP", "Payroll", "Month-End Close"],
        titles=["Staff Accountant", "Accounts Payable Specialist", "Bookkeeper", "Financial Analyst"],
        pay=(25.0, 55.0),
        duties=["own accounts payable and vendor reconciliations", "support month-end close", "prepare financial reporting and variance analysis"],
        acc=["shortened month-end close from ten days to five", "cleaned up a two-year backlog of reconciliations", "implemented QuickBooks for a growing firm", "processed payroll for 800 employees"],
        certs=["CPA license", "QuickBooks ProAdvisor certification", "Certified Payroll Professional"],
    ),
    dict(
        key="admin",
        skills=["Customer Service", "Microsoft Office", "Data Entry", "Scheduling", "Salesforce", "Call Center", "Typing 60 WPM", "Reception", "Excel", "Bilingual Spanish"],
        titles=["Administrative Assistant", "Customer Service Representative", "Receptionist", "Data Entry Clerk"],
        pay=(16.0, 27.0),
        duties=["handle inbound customer calls", "manage front-desk reception and scheduling", "keep Salesforce records clean and current"],
        acc=["kept customer satisfaction scores above 95%", "handled 80 calls a day in a high-volume center", "built a scheduling system for a busy clinic", "digitized ten years of paper records"],
        certs=["Microsoft Office Specialist", "Salesforce Administrator certification", "bilingual proficiency certificate"],
    ),
    dict(
        key="construction",
        skills=["Carpentry", "Framing", "Drywall", "Electrical", "Plumbing", "OSHA 30", "Blueprint Reading", "Concrete", "Power Tools", "Scaffolding"],
        titles=["Carpenter", "General Laborer", "Electrician Helper", "Construction Foreman"],
        pay=(19.0, 42.0),
        duties=["frame and finish commercial interiors", "support electricians on a new build", "run a small crew on a mid-rise project"],
        acc=["framed over 40 residential units", "ran a six-person finish crew", "completed a commercial build-out two weeks early", "kept a spotless job-site safety record"],
        certs=["OSHA 30 card", "journeyman carpenter card", "scaffold competent person training"],
    ),
]

# Candidate track mix in percent (sums to 100): Java ~15% (java track plus
# some data engineers), .NET ~8%.
_TRACK_WEIGHTS = [12, 8, 7, 6, 6, 12, 14, 10, 8, 11, 6]

VERTICALS = ["Healthcare", "Finance", "Manufacturing", "Logistics", "Technology", "Retail", "Construction", "Energy"]
# Which skill tracks (1-based) each vertical hires for, with repetition as weight.
_VERTICAL_TRACKS = [
    [6, 6, 6, 6, 10, 9, 3, 2],
    [9, 9, 1, 2, 3, 10, 4, 5],
    [8, 8, 8, 7, 9, 10, 1],
    [7, 7, 7, 10, 9, 3, 1],
    [1, 2, 3, 4, 5, 1, 2, 4],
    [7, 10, 10, 9, 5, 3, 7],
    [11, 11, 11, 8, 9, 10],
    [8, 11, 9, 3, 4, 1, 8],
]
_VERTICAL_SUFFIXES = [
    ["Health System", "Medical Group", "Care Partners", "Hospital"],
    ["Financial", "Capital", "Bank", "Insurance Group"],
    ["Manufacturing", "Industries", "Fabrication", "Components"],
    ["Logistics", "Freight", "Distribution", "Supply Chain"],
    ["Technologies", "Software", "Labs", "Systems"],
    ["Retail Group", "Stores", "Outfitters", "Markets"],
    ["Construction", "Builders", "Contracting", "Development"],
    ["Energy", "Power", "Utilities", "Renewables"],
]
_CLIENT_WORD1 = [
    "Summit", "Apex", "Northstar", "Lakeshore", "Pinnacle", "Riverbend", "Ironwood", "Bluewater",
    "Keystone", "Evergreen", "Granite", "Harborview", "Prairie", "Silverline", "Cedar", "Meridian",
    "Frontier", "Beacon", "Crescent", "Redstone", "Oakmont", "Westfield", "Eastgate", "Highland",
    "Liberty", "Patriot", "Heritage", "Sterling", "Vanguard", "Horizon", "Landmark", "Cornerstone",
    "Pioneer", "Sentinel", "Trident", "Unity", "Vista", "Willow", "Atlas", "Bridgeport",
    "Canyon", "Delta", "Echo", "Falcon", "Golden", "Hudson", "Juniper", "Kingsley", "Lincoln", "Madison",
]
_CLIENT_WORD2 = [
    "Valley", "Ridge", "Point", "Bay", "Creek", "Park", "Springs", "Hills", "Harbor", "Field",
    "Grove", "Crossing", "Station", "Peak", "Lake", "River", "Stone", "Bridge", "Gate", "Trail",
    "Meadow", "Forge", "Mill", "Works", "Union", "Coast", "Plains", "Heights", "Falls", "Pines",
    "North", "South", "West", "East", "Central", "United", "National", "American", "Great Lakes", "Midwest",
    "Pacific", "Atlantic", "Continental", "Tri-State", "Metro",
]
PAST_EMPLOYERS = [
    "Northwind Traders", "Contoso Health", "Globex Corporation", "Initech", "Umbrella Logistics",
    "Stark Fabrication", "Wayne Freight", "Acme Manufacturing", "Hooli", "Vandelay Industries",
    "Cyberdyne Systems", "Soylent Foods", "Tyrell Analytics", "Wonka Industries", "Gringotts Financial",
    "Oceanic Airlines", "Massive Dynamic", "Prestige Worldwide", "Dunder Mifflin", "Sterling Cooper",
    "Monarch Health", "Bluth Company", "Pied Piper", "Aperture Labs", "Blue Sun Logistics",
    "Duff Beverage", "Gekko & Co", "Virtucon", "Nakatomi Trading", "Wernham Hogg",
    "Ollivander Tools", "Kramerica", "Rekall Systems", "Omni Consumer Products", "Veridian Dynamics",
    "Mooby Retail", "Sirius Cybernetics", "Big Kahuna Burger", "Los Pollos Hermanos", "Good Burger",
]

_S1 = [
    "{title} with {yrs} of experience based in {city}, {state}.",
    "Results-driven {title} in {city} bringing {yrs} of hands-on experience.",
    "{city}-based {title} with {yrs} in the field.",
    "Dependable {title} offering {yrs} of experience on fast-paced teams in the {city} area.",
    "Experienced {title} ({yrs}) currently located in {city}, {state}.",
    "{title} with a {years}-year track record, open to assignments around {city}.",
]
_S2 = [
    "Core skills include {skills}.",
    "Proficient in {s1} and {s2}, with working knowledge of {s3}.",
    "Strong background in {s1}, {s2} and {s3}.",
    "Toolkit: {skills}.",
    "Known for depth in {s1}; also comfortable with {s2} and {s3}.",
]
_S3 = [
    "Previously held the role of {role} at {employer}, where they {acc}.",
    "Most recent position: {role} at {employer}; {acc} there.",
    "Spent several years as {role} at {employer} and {acc}.",
    "At {employer}, served as {role} and {acc}.",
    "Past employer {employer} ({role}): {acc}.",
]
_S4 = [
    "Holds {cert}.",
    "Certifications: {cert}.",
    "Recognized by supervisors for {quality}.",
    "References highlight {quality}.",
    "Completed {cert} and is known for {quality}.",
]
_QUALITIES = [
    "reliability and perfect attendance", "clear communication with clients", "a strong safety mindset",
    "attention to detail", "calm under pressure", "a quick learning curve on new systems",
    "leadership on small teams", "a positive attitude on long shifts",
]
_S5 = [
    "Available immediately for contract or contract-to-hire roles.",
    "Seeking full-time opportunities within commuting distance of {city}.",
    "Open to remote, hybrid or on-site assignments.",
    "Available to start with two weeks notice.",
    "Interested in long-term assignments with growth potential.",
    "Willing to relocate for the right opportunity.",
    "Prefers day shift but flexible for the right role.",
]

_JOB_TYPES = ["contract", "contract-to-hire", "direct-hire", "temp-to-perm"]
_JOB_SHIFTS = ["day shift", "second shift", "flexible hours", "a hybrid schedule", "weekend availability required", "overtime available"]

# 100-slot lookup tables (index 1 + hash % 100).
def _slots(weights: list[tuple[str, int]]) -> list[str]:
    out: list[str] = []
    for value, n in weights:
        out.extend([value] * n)
    assert len(out) == 100, len(out)
    return out


_DISP_OUT = _slots([("connected", 28), ("voicemail", 28), ("no_answer", 20), ("wrong_number", 3), ("interested", 11), ("not_interested", 10)])
_DISP_IN = _slots([("connected", 55), ("interested", 25), ("not_interested", 8), ("voicemail", 5), ("no_answer", 5), ("wrong_number", 2)])

_SUBJ_OUT = [
    "New opportunity: {title} in {city}",
    "{title} role with a {city} client",
    "Following up on your {skill} experience",
    "Quick question about your availability",
    "Interview confirmation - {title}",
    "Timesheet reminder: week ending {date}",
    "Your assignment details for next week",
    "Checking in - how is the new assignment?",
    "Can you send an updated resume?",
    "Hot job: {skill} contract near {city}",
    "Pay rate update for your {title} assignment",
    "Onboarding paperwork (I-9 and direct deposit)",
]
_SUBJ_IN = [
    "Re: New opportunity: {title} in {city}",
    "Re: Following up on your {skill} experience",
    "Updated resume attached",
    "Availability update",
    "Question about my paycheck",
    "Re: Timesheet reminder: week ending {date}",
    "Interested in the {title} position",
    "Need to reschedule my interview",
    "Referral: a friend looking for {skill} work",
    "Please remove me from your list",
]


# ---------------------------------------------------------------------------
# SQL helpers
# ---------------------------------------------------------------------------

_q = sql_str


def _lit(v) -> str:
    """Python value -> DuckDB literal (lists nest)."""
    if isinstance(v, str):
        return _q(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    raise TypeError(type(v))


def _coprime_multiplier(n: int) -> int:
    """A multiplier m with gcd(m, n) == 1, so rank -> (rank*m + c) % n permutes 0..n-1."""
    for m in (7919, 104729, 15485863, 179424673, 2038074743):
        if math.gcd(m, n) == 1:
            return m
    return 1


def _macros() -> list[str]:
    track_slots = []
    for t, w in enumerate(_TRACK_WEIGHTS, start=1):
        track_slots.extend([t] * w)
    assert len(track_slots) == 100
    cities = [{"city": c, "state": s, "zip3": z, "area": a} for c, s, z, a in CITIES]
    city_lit = "[" + ", ".join(
        "{" + ", ".join(f"{_q(k)}: {_lit(v)}" for k, v in c.items()) + "}" for c in cities
    ) + "]"
    consts = {
        "c_cities": city_lit,
        "c_first": _lit(FIRST_NAMES),
        "c_last": _lit(LAST_NAMES),
        "c_domains": _lit(EMAIL_DOMAINS),
        "c_recruiters": _lit(RECRUITERS),
        "c_track_slots": _lit(track_slots),
        "c_skills": _lit([t["skills"] for t in TRACKS]),
        "c_titles": _lit([t["titles"] for t in TRACKS]),
        "c_pay_lo": _lit([t["pay"][0] for t in TRACKS]),
        "c_pay_hi": _lit([t["pay"][1] for t in TRACKS]),
        "c_duties": _lit([t["duties"] for t in TRACKS]),
        "c_acc": _lit([t["acc"] for t in TRACKS]),
        "c_certs": _lit([t["certs"] for t in TRACKS]),
        "c_verticals": _lit(VERTICALS),
        "c_vtracks": _lit(_VERTICAL_TRACKS),
        "c_vsuffix": _lit(_VERTICAL_SUFFIXES),
        "c_word1": _lit(_CLIENT_WORD1),
        "c_word2": _lit(_CLIENT_WORD2),
        "c_employers": _lit(PAST_EMPLOYERS),
        "c_s1": _lit(_S1),
        "c_s2": _lit(_S2),
        "c_s3": _lit(_S3),
        "c_s4": _lit(_S4),
        "c_s5": _lit(_S5),
        "c_qualities": _lit(_QUALITIES),
        "c_job_types": _lit(_JOB_TYPES),
        "c_job_shifts": _lit(_JOB_SHIFTS),
        "c_disp_out": _lit(_DISP_OUT),
        "c_disp_in": _lit(_DISP_IN),
        "c_subj_out": _lit(_SUBJ_OUT),
        "c_subj_in": _lit(_SUBJ_IN),
    }
    out = [
        # hm(i, salt, n): pseudo-random integer in [0, n); hu(i, salt): double in [0, 1).
        "CREATE TEMP MACRO hm(i, s, n) AS (hash(i, s) % (n)::UBIGINT)::BIGINT",
        "CREATE TEMP MACRO hu(i, s) AS (hash(i, s) >> 11)::DOUBLE / 9007199254740992.0",
        # Weighted city index: Chicago (1) ~10%, the other 24 evenly.
        "CREATE TEMP MACRO city_ix(i, s) AS CASE WHEN hm(i, s, 100) < 10 THEN 1 ELSE 2 + hm(i, s + 1, 24) END",
    ]
    out += [f"CREATE TEMP MACRO {name}() AS {lit}" for name, lit in consts.items()]
    return out


def _table_sql(n: dict[str, int]) -> list[str]:
    nc, ncl, nj, npl, nts = (n[t] for t in TABLES[:5])
    ref = f"DATE '{REFERENCE_DATE}'"
    base_2018 = 1514764800  # 2018-01-01 00:00:00 UTC
    span_created = 7 * 365 * 86400 + 5 * 30 * 86400

    return [
        # ---------------------------------------------------------------- candidates (base)
        f"""
CREATE TEMP TABLE cb AS
WITH a AS (
  SELECT range + 1 AS i,
         c_track_slots()[1 + hm(range + 1, 101, 100)] AS tr,
         c_cities()[city_ix(range + 1, 102)] AS cty,
         c_first()[1 + hm(range + 1, 104, {len(FIRST_NAMES)})] AS first_name,
         c_last()[1 + hm(range + 1, 105, {len(LAST_NAMES)})] AS last_name,
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
       lower(first_name || '.' || last_name || i::VARCHAR || '@' || c_domains()[1 + hm(i, 110, {len(EMAIL_DOMAINS)})]) AS email,
       '(' || cty.area || ') ' || (200 + hm(i, 111, 800))::VARCHAR || '-' || lpad(hm(i, 112, 10000)::VARCHAR, 4, '0') AS phone,
       cty.city AS city, cty.state AS state,
       cty.zip3 || lpad(hm(i, 113, 100)::VARCHAR, 2, '0') AS zip,
       array_to_string(sk, ', ') AS skills,
       years AS years_experience,
       replace(replace(replace(replace(replace(c_s1()[1 + hm(i, 114, {len(_S1)})],
           '{{title}}', title), '{{yrs}}', years::VARCHAR || CASE WHEN years = 1 THEN ' year' ELSE ' years' END),
           '{{years}}', years::VARCHAR), '{{city}}', cty.city), '{{state}}', cty.state)
       || ' ' ||
       replace(replace(replace(replace(c_s2()[1 + hm(i, 115, {len(_S2)})],
           '{{skills}}', array_to_string(sk, ', ')), '{{s1}}', sk[1]), '{{s2}}', sk[2]), '{{s3}}', sk[3])
       || CASE WHEN nsk + hm(i, 116, 3) >= 4 THEN ' ' ||
          replace(replace(replace(c_s3()[1 + hm(i, 117, {len(_S3)})],
              '{{role}}', c_titles()[tr][1 + hm(i, 118, 4)]),
              '{{employer}}', c_employers()[1 + hm(i, 119, {len(PAST_EMPLOYERS)})]),
              '{{acc}}', c_acc()[tr][1 + hm(i, 120, 4)])
          ELSE '' END
       || CASE WHEN hm(i, 121, 100) < 55 THEN ' ' ||
          replace(replace(c_s4()[1 + hm(i, 122, {len(_S4)})],
              '{{cert}}', c_certs()[tr][1 + hm(i, 123, 3)]),
              '{{quality}}', c_qualities()[1 + hm(i, 124, {len(_QUALITIES)})])
          ELSE '' END
       || CASE WHEN hm(i, 125, 100) < 45 THEN ' ' ||
          replace(c_s5()[1 + hm(i, 126, {len(_S5)})], '{{city}}', cty.city)
          ELSE '' END AS resume_text,
       make_timestamp(({base_2018} + hm(i, 127, {span_created}))::BIGINT * 1000000) AS created_raw,
       hm(i, 128, 100) < 40 OR i = 1 AS placeable
FROM b
""",
        # ---------------------------------------------------------------- clients
        f"""
CREATE TEMP TABLE cl AS
WITH a AS (
  SELECT range + 1 AS i, 1 + hm(range + 1, 201, {len(VERTICALS)}) AS vi,
         (range * 7919) % {len(_CLIENT_WORD1) * len(_CLIENT_WORD2)} AS k,
         range // {len(_CLIENT_WORD1) * len(_CLIENT_WORD2)} AS lap,
         c_cities()[city_ix(range + 1, 202)] AS cty,
         c_first()[1 + hm(range + 1, 204, {len(FIRST_NAMES)})] AS cf,
         c_last()[1 + hm(range + 1, 205, {len(LAST_NAMES)})] AS clast
  FROM range({ncl})
), b AS (
  SELECT *, c_word1()[1 + k % {len(_CLIENT_WORD1)}] || ' ' || c_word2()[1 + k // {len(_CLIENT_WORD1)}] || ' '
            || c_vsuffix()[vi][1 + hm(i, 206, 4)]
            || CASE WHEN lap > 0 THEN ' ' || (lap + 1)::VARCHAR ELSE '' END AS name
  FROM a
)
SELECT i, printf('CLI-%04d', i) AS client_id, name, c_verticals()[vi] AS vertical, vi,
       cf || ' ' || clast AS contact_name,
       lower(cf || '.' || clast) || '@' || regexp_replace(lower(name), '[^a-z0-9]', '', 'g') || '.com' AS contact_email,
       cty.city AS city, cty.state AS state
FROM b
""",
        # ---------------------------------------------------------------- job orders (base)
        f"""
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
         || c_duties()[tr][1 + hm(j, 311, 3)] || '. This is a ' || c_job_types()[1 + hm(j, 312, {len(_JOB_TYPES)})]
         || ' assignment with ' || c_job_shifts()[1 + hm(j, 313, {len(_JOB_SHIFTS)})] || '.' AS description,
       array_to_string([c_skills()[tr][1]] || list_slice(c_skills()[tr][2:] || c_skills()[tr][2:], soff + 1, soff + nextra), ', ') AS required_skills,
       city, state,
       round(pay_rate * (1.3 + 0.4 * hu(j, 314)), 2) AS bill_rate,
       pay_rate,
       row_number() OVER (PARTITION BY tr ORDER BY j) AS jr
FROM d
""",
        "CREATE TEMP TABLE jtc AS SELECT tr, count(*) AS cnt FROM jb GROUP BY tr",
        "CREATE TEMP TABLE cpl AS SELECT i, tr, row_number() OVER (ORDER BY i) AS rk FROM cb WHERE placeable",
        # ---------------------------------------------------------------- placements
        f"""
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
  SELECT *, ({ref} - (7 * (greatest(nw, 1) - 1 + gap))::INTEGER) AS first_we FROM h
)
SELECT p, printf('PLC-%06d', p) AS placement_id, ci, printf('CAND-%06d', ci) AS candidate_id,
       j, job_id, client_id, recruiter,
       (first_we - hm(p, 412, 7)::INTEGER) AS start_date,
       CASE WHEN status = 'active' THEN NULL
            ELSE greatest((first_we - hm(p, 412, 7)::INTEGER) + 1, (first_we + (7 * (nw - 1) - hm(p, 413, 3))::INTEGER)) END AS end_date,
       bill_rate, pay_rate, status, b0, b1, nw, first_we
FROM k
""",
        # ---------------------------------------------------------------- candidates (final)
        """
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
""",
        # ---------------------------------------------------------------- job orders (final)
        f"""
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
       CASE WHEN ps.first_start IS NULL THEN ({ref} - hm(jb.j, 321, 900)::INTEGER)
            ELSE (ps.first_start - (7 + hm(jb.j, 322, 60))::INTEGER) END AS opened_at
FROM jb LEFT JOIN ps ON ps.j = jb.j
""",
    ]


def _copy_sql(n: dict[str, int], paths: dict[str, pathlib.Path]) -> list[str]:
    nc = n["candidates"]
    perm_c = _coprime_multiplier(nc)
    ref = f"DATE '{REFERENCE_DATE}'"
    act_weeks = 233  # 2021-01-04 .. 2025-06-29
    act_base_s = 1609718400  # 2021-01-04 00:00:00

    def cand_pick(x: str, a: int, b: int, c: int) -> str:
        # Half the activity goes to a heavy-tailed head of a scrambled ranking, half is uniform.
        return (
            f"(((CASE WHEN hm({x}, {a}, 2) = 0 "
            f"THEN least({nc} - 1, floor({nc} * pow(hu({x}, {b}), 1.5))::BIGINT) "
            f"ELSE hm({x}, {c}, {nc}) END) * {perm_c} + 17) % {nc}) + 1"
        )

    def weekday_ts(x: str, a: int, b: int, start_h: int, span_h: int) -> str:
        d = f"hm({x}, {a}, {act_weeks * 5})"
        return (
            f"make_timestamp(({act_base_s} + (({d} // 5) * 7 + {d} % 5) * 86400 + "
            f"{start_h * 3600} + hm({x}, {b}, {span_h * 3600}))::BIGINT * 1000000)"
        )

    def out(t: str) -> str:
        return _q(str(paths[t]))

    return [
        f"""COPY (SELECT candidate_id, first_name, last_name, email, phone, city, state, zip, skills,
       years_experience, status, resume_text, created_at FROM cand ORDER BY i)
TO {out('candidates')} ({_PARQUET_OPTIONS})""",
        f"""COPY (SELECT client_id, name, vertical, contact_name, contact_email, city, state FROM cl ORDER BY i)
TO {out('clients')} ({_PARQUET_OPTIONS})""",
        f"""COPY (SELECT job_id, client_id, title, description, required_skills, city, state, bill_rate, pay_rate,
       status, opened_at FROM jo ORDER BY j)
TO {out('job_orders')} ({_PARQUET_OPTIONS})""",
        f"""COPY (SELECT placement_id, candidate_id, job_id, client_id, recruiter, start_date, end_date,
       bill_rate, pay_rate, status FROM pl ORDER BY p)
TO {out('placements')} ({_PARQUET_OPTIONS})""",
        f"""COPY (
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
FROM b ORDER BY t)
TO {out('timesheets')} ({_PARQUET_OPTIONS})""",
        f"""COPY (
WITH a AS (
  SELECT range + 1 AS c, {cand_pick('range + 1', 601, 602, 603)} AS ci FROM range({n['call_log']})
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
       {weekday_ts('c', 608, 609, 8, 10)} AS called_at,
       (CASE disposition
          WHEN 'no_answer' THEN 0
          WHEN 'wrong_number' THEN 5 + hm(c, 610, 40)
          WHEN 'voicemail' THEN 15 + hm(c, 610, 75)
          WHEN 'not_interested' THEN 30 + hm(c, 610, 270)
          WHEN 'interested' THEN 180 + hm(c, 610, 1620)
          ELSE 45 + floor(pow(hu(c, 611), 2) * 1800)::BIGINT END)::INTEGER AS duration_s,
       direction, disposition
FROM b ORDER BY c)
TO {out('call_log')} ({_PARQUET_OPTIONS})""",
        f"""COPY (
WITH a AS (
  SELECT range + 1 AS e, {cand_pick('range + 1', 701, 702, 703)} AS ci FROM range({n['email_log']})
), b AS (
  SELECT a.e, a.ci, cb.title, cb.city, cb.skill1,
         hm(a.e, 704, 100) < 78 AS outbound
  FROM a JOIN cb ON cb.i = a.ci
)
SELECT printf('EM-%07d', e) AS email_id, printf('CAND-%06d', ci) AS candidate_id,
       CASE WHEN hm(e, 705, 100) < 75 THEN c_recruiters()[1 + hm(ci, 900, 60)]
            ELSE c_recruiters()[1 + hm(e, 706, 60)] END AS recruiter,
       {weekday_ts('e', 707, 708, 6, 16)} AS sent_at,
       replace(replace(replace(replace(
         CASE WHEN outbound THEN c_subj_out()[1 + hm(e, 709, {len(_SUBJ_OUT)})]
              ELSE c_subj_in()[1 + hm(e, 709, {len(_SUBJ_IN)})] END,
         '{{title}}', title), '{{city}}', city), '{{skill}}', skill1),
         '{{date}}', ({ref} - (7 * hm(e, 710, 200))::INTEGER)::VARCHAR) AS subject,
       CASE WHEN outbound THEN 'outbound' ELSE 'inbound' END AS direction,
       CASE WHEN outbound THEN hm(e, 711, 100) < 48 ELSE true END AS opened
FROM b ORDER BY e)
TO {out('email_log')} ({_PARQUET_OPTIONS})""",
    ]


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def generate(out_dir: pathlib.Path, scale: float = 1.0, job=None) -> list[pathlib.Path]:
    """Write the reference workload into ``out_dir`` and return its paths.

    Returns the seven Parquet files in the order of ``TABLES`` followed by the
    ``documents`` folder.  The output is a pure function of ``scale``.
    With a ``job`` (core.ops.jobs.Job), a cancel interrupts the statement in flight,
    raises Cancelled and leaves no temporary file behind.
    """
    import duckdb

    out_dir = pathlib.Path(out_dir)
    counts = row_counts(scale)
    ndocs = doc_count(scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(out_dir)
    paths = {t: out_dir / f"{t}.parquet" for t in TABLES}
    # per-process temporary names: two demos started at once must not trip over each other
    tmp = {t: out_dir / f".{t}.{os.getpid()}.parquet.tmp" for t in TABLES}

    con = duckdb.connect(":memory:")
    watch = contextlib.ExitStack()
    if job is not None:
        watch.enter_context(job.watching(con.interrupt))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET preserve_insertion_order = true")
        stmts = _macros() + _table_sql(counts) + _copy_sql(counts, tmp)
        for i, stmt in enumerate(stmts):
            if job is not None:
                job.progress(i, len(stmts), "steps", "generating the demo workload")
                job.pause_point("generate")
            try:
                con.execute(stmt)
            except duckdb.InterruptException:
                if job is not None:
                    job.check_cancel()  # the watch interrupted it: a cancel
                raise
    except BaseException:
        for f in tmp.values():
            f.unlink(missing_ok=True)
        raise
    finally:
        watch.close()
        con.close()
    for t in TABLES:
        tmp[t].replace(paths[t])

    docs_dir = out_dir / "documents"
    _write_documents(docs_dir, ndocs)
    return [paths[t] for t in TABLES] + [docs_dir]


def _remove_stale_tmp(out_dir: pathlib.Path) -> None:
    """Temporary files of a generation whose process was killed before it could clean up."""
    from core.ops.jobs import _alive

    for f in list(out_dir.glob(".*.parquet.tmp")) + list(out_dir.glob("documents/.*.tmp")):
        pid = f.name.rsplit(".", 3)[-3] if f.name.endswith(".parquet.tmp") else f.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            f.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------

COMPANY = "Meridian Staffing Group"

_SKILL_GUIDES = [
    ("Java", "java"), (".NET", "dotnet"), ("Kubernetes", "cloud"), ("Forklift Certification", "warehouse"),
    ("SQL", "data"), ("Python", "data"), ("React", "frontend"), ("Terraform", "cloud"),
    ("Patient Care and BLS", "healthcare"), ("CNC Machining", "manufacturing"), ("Welding", "manufacturing"),
    ("QuickBooks", "accounting"), ("Accounts Payable", "accounting"), ("Customer Service", "admin"),
    ("OSHA 30 Construction Safety", "construction"), ("Spring Boot", "java"), ("Azure", "dotnet"),
    ("Snowflake", "data"), ("Phlebotomy", "healthcare"), ("Pallet Jack and Reach Truck", "warehouse"),
]
# Compliance topics with topic-specific requirements.
_COMPLIANCE_TOPICS = {
    "Form I-9 and E-Verify": [
        "New hires complete Section 1 of Form I-9 no later than the end of their first day of work.",
        "The employer completes Section 2 within three business days of the first day of work.",
        "Acceptable documents come from List A, or one document from List B plus one from List C.",
        "Documents must be original and unexpired; photocopies are never accepted.",
        "E-Verify cases are created no later than the third business day after the associate starts work.",
        "A tentative nonconfirmation is shared with the associate promptly and privately.",
        "Work authorization with an expiration date is reverified before it expires using Supplement B.",
    ],
    "OSHA Recordkeeping": [
        "Work-related injuries that need more than first aid are recordable on the OSHA 300 log.",
        "Recordable cases are entered within seven calendar days of learning about them.",
        "The OSHA 300A summary is posted at each site from February 1 to April 30.",
        "Fatalities are reported to OSHA within eight hours; amputations, eye loss and inpatient hospitalizations within 24 hours.",
        "For temporary associates, the client that supervises the day-to-day work records the injury.",
        "Logs are kept for five years after the end of the calendar year they cover.",
    ],
    "OSHA Forklift Standard 1910.178": [
        "Only trained and evaluated operators may drive a powered industrial truck such as a forklift.",
        "Training combines formal instruction, hands-on practice and an evaluation in the actual workplace.",
        "Operator performance is evaluated at least once every three years.",
        "Refresher training is required after an accident, a near miss or unsafe operation.",
        "Forklifts are inspected before each shift and defective trucks are taken out of service.",
        "Operators must be at least 18 years old.",
        "The client certifies site-specific training; {company} verifies the certificate before the first shift.",
    ],
    "HIPAA for Healthcare Assignments": [
        "Protected health information may be accessed only as needed for the assigned job.",
        "Never discuss patients in public areas or post anything about them on social media.",
        "Lock workstations when you step away and never share EMR passwords.",
        "Report a suspected privacy breach to the client's privacy officer immediately.",
        "Associates complete HIPAA training before their first shift on any healthcare assignment.",
        "Paper records with patient information go in locked shred bins, never the trash.",
    ],
    "Drug and Background Screening": [
        "Screens are ordered only after a conditional offer and with written consent.",
        "Candidates receive a pre-adverse action notice and a copy of their report before any decision.",
        "Ban-the-box rules in cities such as {city} restrict when criminal history may be asked about.",
        "Post-accident drug tests follow the client's policy and applicable state law.",
        "Results are stored separately from the personnel file and shared only with those who need them.",
        "Marijuana testing rules vary by state; check the state matrix before ordering a panel.",
    ],
    "Anti-Harassment Policy": [
        "Harassment based on any protected characteristic is prohibited at client sites and at {company}.",
        "Associates can report concerns to their recruiter, any manager, or the anonymous hotline.",
        "Retaliation against anyone who reports in good faith is prohibited.",
        "Reports are investigated promptly and kept as confidential as possible.",
        "Annual training is required for all associates and internal staff.",
        "Clients are told about substantiated complaints and the corrective action taken.",
    ],
    "Wage and Hour Compliance": [
        "Non-exempt associates are paid for all hours worked, including pre-shift security screening when required.",
        "Overtime is paid for hours over forty in a work week, and daily overtime where state law requires it.",
        "Meal and rest breaks follow state rules, which are stricter in states such as California.",
        "Final pay is issued within the deadline set by the state where the associate worked.",
        "Pay stubs show hours, rates and deductions for every pay period.",
        "Local minimum wages, such as those in {city}, are checked every January and July.",
    ],
    "Heat Illness Prevention": [
        "Provide at least one quart of cool drinking water per worker per hour when it is hot.",
        "Shade or a cool-down area must be available when temperatures climb.",
        "New and returning workers acclimatize gradually over the first week.",
        "Supervisors watch for dizziness, cramps, confusion and heavy sweating.",
        "Anyone showing signs of heat stroke gets emergency help right away.",
        "Schedule heavy work for cooler parts of the day where the client allows it.",
    ],
    "Personal Protective Equipment": [
        "The client performs a hazard assessment and lists the required PPE on the job order.",
        "Common PPE includes safety glasses, steel-toe boots, gloves, hearing protection and hard hats.",
        "PPE must fit properly and be replaced when damaged.",
        "Respirators require a medical evaluation and a fit test.",
        "Associates are trained on when PPE is required and how to wear it.",
        "No associate starts a shift without the PPE listed for the role.",
    ],
    "Workers Compensation Claims": [
        "Injuries are reported to {company} the same day they happen, no matter how minor.",
        "The associate is directed to an approved clinic unless it is an emergency.",
        "A first report of injury is filed with the carrier within 24 hours.",
        "Return-to-work coordinators look for light-duty work that fits the restrictions.",
        "Claims are reviewed weekly until closed.",
        "Never discourage an associate from reporting an injury or seeking treatment.",
    ],
}
_COMPLIANCE = list(_COMPLIANCE_TOPICS)
# Topic-specific facts for the skill guides.
_SKILL_FACTS = {
    "Java": ["Most enterprise Java roles we fill use Java 17 or 21 with Spring Boot.", "Ask about JVM tuning, garbage collection and multithreading.", "Build tools are usually Maven or Gradle, and testing is JUnit with Mockito.", "Many Java openings pair the language with Kafka, AWS or Kubernetes."],
    ".NET": [".NET roles range from legacy .NET Framework maintenance to greenfield .NET 8 services.", "C# is the language in almost every .NET requisition.", "Ask about ASP.NET Core, Entity Framework and SQL Server experience.", "Azure DevOps and Azure App Service show up on most .NET job orders."],
    "Kubernetes": ["Kubernetes runs containers across a cluster of nodes and restarts them when they fail.", "Strong candidates can explain pods, deployments, services and ingress without notes.", "Ask whether they ran clusters themselves or used EKS, AKS or GKE.", "Helm, Terraform and Prometheus commonly appear next to Kubernetes on resumes."],
    "Forklift Certification": ["OSHA requires forklift operators to be trained and evaluated at the workplace.", "Certification is site-specific; a card from a previous employer is a good sign but not enough.", "Ask which trucks they have driven: sit-down counterbalance, stand-up reach or order picker.", "Evaluations must be repeated at least every three years."],
    "SQL": ["Nearly every data role expects fluent SQL, including joins, window functions and CTEs.", "Ask which databases they used: SQL Server, PostgreSQL, Oracle, Snowflake or DuckDB.", "A short live query exercise separates report writers from engineers.", "Performance tuning and reading query plans are senior-level skills."],
    "Python": ["Python roles split between data engineering, analytics and backend development.", "Ask about pandas, packaging, testing with pytest and type hints.", "Data engineers often pair Python with Airflow and Spark.", "Backend Python roles usually mean Django, Flask or FastAPI."],
    "React": ["React is the most requested front end library on our job orders.", "Ask about hooks, state management and TypeScript.", "Accessibility and testing with Jest or Testing Library are common requirements.", "Next.js experience is increasingly requested for server-rendered apps."],
    "Terraform": ["Terraform describes cloud infrastructure as code and applies changes through plans.", "Ask how they structured modules and managed remote state.", "Most Terraform roles target AWS, with Azure second.", "Policy-as-code and CI pipelines around Terraform are senior-level skills."],
    "Patient Care and BLS": ["BLS certification is required for nearly every clinical assignment.", "Ask about unit types: med-surg, telemetry, ICU, long-term care or outpatient.", "Licenses must be verified with the state board before submittal.", "Epic or Cerner charting experience shortens onboarding."],
    "CNC Machining": ["CNC machinists set up and run computer-controlled lathes and mills.", "Ask about G-code, fixtures, tool offsets and first-article inspection.", "Reading blueprints and using micrometers and calipers is essential.", "Second and third shift CNC roles are the hardest to fill."],
    "Welding": ["Welding roles list processes such as MIG, TIG, stick and flux-core.", "Ask which positions they are certified in and for which materials.", "Many clients run a weld test before the first shift.", "Structural welding often requires AWS D1.1 certification."],
    "QuickBooks": ["QuickBooks Online is the accounting system of choice for small clients.", "Ask about bank reconciliations, invoicing and payroll inside QuickBooks.", "ProAdvisor certification is a plus but not required.", "Month-end close experience separates bookkeepers from data entry."],
    "Accounts Payable": ["Accounts payable specialists process invoices, match purchase orders and pay vendors.", "Ask about three-way matching and invoice volume per week.", "ERP experience such as SAP, Oracle or NetSuite is common on AP job orders.", "Vendor reconciliation and 1099 preparation are valued skills."],
    "Customer Service": ["Customer service roles range from inbound call centers to front-desk reception.", "Ask about call volume, CRM systems and handling upset customers.", "Bilingual Spanish candidates command higher pay on many orders.", "Typing speed and data accuracy are often tested."],
    "OSHA 30 Construction Safety": ["OSHA 30 is a 30-hour safety course for construction supervisors.", "Many general contractors require OSHA 30 for foremen and OSHA 10 for laborers.", "Ask about fall protection, scaffolding and trenching experience.", "Cards do not expire federally, but some states require renewal."],
    "Spring Boot": ["Spring Boot is the default framework for Java microservices.", "Ask about dependency injection, Spring Data and Spring Security.", "Candidates should be able to explain how auto-configuration works.", "Actuator, health checks and metrics show production experience."],
    "Azure": ["Azure is the most common cloud on .NET job orders.", "Ask about App Service, Azure Functions, Azure SQL and Entra ID.", "AZ-204 and AZ-104 are the most requested certifications.", "Infrastructure as code on Azure means Bicep or Terraform."],
    "Snowflake": ["Snowflake is a cloud data warehouse that separates storage and compute.", "Ask about warehouses, clustering, time travel and cost control.", "dbt is the most common transformation tool on Snowflake job orders.", "SnowPro Core certification is a useful screen."],
    "Phlebotomy": ["Phlebotomists draw blood for testing, transfusions and donations.", "Ask about daily draw volume and pediatric or geriatric experience.", "Certification through a recognized body is required by most clients.", "Order-of-draw knowledge is a quick screening question."],
    "Pallet Jack and Reach Truck": ["Electric pallet jacks and reach trucks are powered industrial trucks under OSHA rules.", "Reach truck operators work in narrow aisles at height.", "Ask about the highest rack level they have worked and their pick rates.", "Site-specific evaluation is required before the first shift."],
}
_PLAYBOOKS = [
    "Sourcing Passive Candidates", "The Screening Call", "Submitting Candidates to Clients", "Candidate Follow-Up Cadence",
    "Handling Counteroffers", "Do-Not-Contact and Opt-Out Rules", "Redeploying Candidates After an Assignment Ends",
    "Working a New Job Order", "Reference Checks", "Building a Bench of Java Developers",
]


def _slug(s: str) -> str:
    out = []
    for ch in s.lower():
        out.append(ch if ch.isalnum() else "-")
    slug = "".join(out)
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug.strip("-")[:60].strip("-")


def _words(text: str) -> int:
    return len(text.split())


class _Doc:
    """A markdown document built from sections of sentences, kept within a word budget."""

    def __init__(self, rng: random.Random, title: str, ctx: dict, intro: str = ""):
        self.rng = rng
        self.ctx = ctx
        self.title = title
        self.intro = intro
        # each section: [heading, style ("p" or "ul"), sentences]
        self.sections: list[list] = []

    def fill(self, s: str) -> str:
        return s.format_map(self.ctx)

    def add(self, heading: str, sentences: list[str], style: str | None = None) -> list:
        if style is None:
            style = "ul" if self.rng.random() < 0.35 else "p"
        sec = [self.fill(heading), style, [self.fill(x) for x in sentences]]
        self.sections.append(sec)
        return sec

    def text(self) -> str:
        blocks = [f"# {self.title}"]
        if self.intro:
            blocks.append(self.intro)
        for heading, style, sentences in self.sections:
            if not sentences:
                continue
            blocks.append(f"## {heading}")
            if style == "ul":
                blocks.append("\n".join(f"- {x}" for x in sentences))
            else:
                blocks.append(" ".join(sentences))
        return "\n\n".join(blocks) + "\n"

    def words(self) -> int:
        return _words(self.text())


def _ctx(rng: random.Random) -> dict:
    city, state, _, area = rng.choice(CITIES)
    track = rng.choice(TRACKS)
    vi = rng.randrange(len(VERTICALS))
    client = f"{rng.choice(_CLIENT_WORD1)} {rng.choice(_CLIENT_WORD2)} {rng.choice(_VERTICAL_SUFFIXES[vi])}"
    return {
        "company": COMPANY,
        "city": city,
        "state": state,
        "phone": f"({area}) 555-{rng.randrange(100, 10000):04d}",
        "client": client,
        "vertical": VERTICALS[vi],
        "recruiter": rng.choice(RECRUITERS),
        "manager": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "role": rng.choice(track["titles"]),
        "skill": track["skills"][0],
        "skill2": rng.choice(track["skills"][1:]),
        "cert": rng.choice(track["certs"]),
        "deadline_day": rng.choice(["Monday", "Monday", "Tuesday"]),
        "deadline_time": rng.choice(["10:00 AM", "noon", "9:00 AM", "11:00 AM"]),
        "days": rng.choice([30, 45, 60, 90]),
        "pct": rng.choice([3, 4, 5, 6]),
        "hours": rng.choice([30, 32, 35]),
        "pay_lo": int(track["pay"][0]),
        "pay_hi": int(track["pay"][1]),
        "ot": rng.choice(["1.5x", "time and a half"]),
        "portal": rng.choice(["the Meridian app", "the online timesheet portal", "MyMeridian"]),
        "n": rng.choice([2, 3, 4, 5]),
    }


_ONBOARD = {
    "Welcome": [
        "Welcome to {company}. This guide covers your first week on assignment with {client} in {city}, {state}.",
        "Your recruiter is {recruiter}; save their number, {phone}, before your first shift.",
        "Every new associate goes through the same onboarding steps, no matter the role or the client.",
        "We place {role} professionals with clients across the {vertical} industry, and your success is our success.",
        "Read this guide end to end before day one and keep it handy for the first month.",
        "If anything here conflicts with what the client tells you on site, call your recruiter before acting.",
    ],
    "Before Your First Day": [
        "Complete Section 1 of Form I-9 no later than your first day of work.",
        "Bring original, unexpired identity documents for Section 2 verification; photocopies are not accepted.",
        "Set up direct deposit and your W-4 withholding in {portal}.",
        "Confirm your start time, parking and entrance with your recruiter the day before.",
        "Finish the online safety orientation; it takes about forty minutes.",
        "Review the dress code for {client}; closed-toe shoes are required at most sites.",
        "Download {portal} and log in once so your account is active before payday.",
    ],
    "Your First Week": [
        "Ask your site supervisor, {manager}, for a walkthrough of emergency exits and first-aid stations.",
        "Expect a short skills check on {skill} during your first shift.",
        "Clock in and out exactly as instructed; the client's badge system does not replace your timesheet.",
        "Write down questions as they come up and review them with your recruiter at the end of the week.",
        "If you are running late or will miss a shift, call both your supervisor and your recruiter before the shift starts.",
        "Keep a copy of your schedule and the site address on your phone.",
    ],
    "Getting Paid": [
        "Timesheets are due every {deadline_day} by {deadline_time} for the prior week ending Sunday.",
        "Pay is issued weekly by direct deposit on Friday.",
        "Overtime over forty hours in a week is paid at {ot} where required by law.",
        "Report any missing hours within two pay periods so we can issue a correction.",
        "Your pay stub is available in {portal} every Thursday evening.",
    ],
    "Who to Call": [
        "Questions about pay, hours or benefits go to the payroll team through {portal}.",
        "Safety concerns go to your site supervisor immediately and to {company} the same day.",
        "Your recruiter, {recruiter}, is your first call for anything else.",
        "After hours, the on-call line at {phone} is answered seven days a week.",
    ],
}

_TIMESHEET = {
    "Purpose": [
        "This policy explains how associates of {company} record and submit hours worked.",
        "Accurate timesheets are how we bill clients and how you get paid on time.",
        "The policy applies to every hourly assignment, including {role} roles at {client}.",
        "Supervisors approve hours; {company} pays them. Both depend on the timesheet being correct.",
    ],
    "Submission Deadlines": [
        "The work week runs Monday through Sunday; the week ending date is always the Sunday.",
        "Submit your timesheet in {portal} by {deadline_day} at {deadline_time} local time.",
        "Late timesheets are processed in the next payroll cycle.",
        "If your supervisor is out, the timesheet can be approved by their designated backup.",
        "Holiday weeks follow the same deadline unless payroll announces otherwise.",
    ],
    "Recording Hours": [
        "Record time to the quarter hour.",
        "Unpaid meal breaks of thirty minutes or more must be recorded as breaks.",
        "Never record time you did not work, and never leave worked time off the sheet.",
        "Training time required by the client counts as hours worked.",
        "Travel between client sites during the day counts as work time.",
    ],
    "Overtime": [
        "Overtime must be approved in advance by the client supervisor.",
        "Hours over forty in a work week are paid at {ot}.",
        "Some states, including California, also require daily overtime.",
        "Unapproved overtime is still paid, but repeated unapproved overtime may end the assignment.",
    ],
    "Approvals and Corrections": [
        "Client approvers have until {deadline_day} at 5:00 PM to approve or reject submitted hours.",
        "Rejected timesheets come back to you with a reason; fix and resubmit the same day.",
        "Corrections to a paid week are made through an adjustment request, not by editing the original sheet.",
        "Unapproved timesheets older than two weeks are escalated to the account manager.",
        "Bill totals on client invoices are calculated from approved hours times the bill rate.",
    ],
}

_BENEFITS_Q = [
    ("When am I eligible for medical coverage?", [
        "Associates averaging {hours} or more hours a week become eligible after {days} days.",
        "Enrollment opens in {portal} the week you become eligible.",
        "Coverage starts on the first of the month after enrollment.",
    ]),
    ("What plans are offered?", [
        "We offer a minimum essential coverage plan, a PPO and a high-deductible plan with an HSA.",
        "Dental and vision can be added to any medical plan.",
        "Plan summaries are posted in {portal} under Benefits.",
    ]),
    ("Is there a 401(k)?", [
        "Yes. You can contribute from your first paycheck after {days} days of service.",
        "{company} matches 50 percent of contributions up to {pct} percent of pay.",
        "The match vests over three years.",
    ]),
    ("Do I get paid sick leave?", [
        "Paid sick leave accrues at one hour for every thirty hours worked in most states.",
        "Local rules in cities such as {city} may be more generous, and we follow the more generous rule.",
        "Unused sick leave carries over up to the legal cap.",
    ]),
    ("Do I get paid holidays?", [
        "Associates on assignment for {days} days or more are paid for six holidays a year.",
        "You must work your scheduled shifts before and after the holiday to be paid for it.",
    ]),
    ("What happens to my benefits between assignments?", [
        "Coverage continues through the end of the month in which your assignment ends.",
        "If you start a new assignment within thirteen weeks you keep your eligibility.",
        "COBRA continuation information is mailed within two weeks of coverage ending.",
    ]),
    ("Who do I contact with benefits questions?", [
        "Open a ticket in {portal} or call the benefits line at {phone}.",
        "Your recruiter, {recruiter}, can also point you to the right person.",
    ]),
    ("Are there referral bonuses?", [
        "Yes. Refer a friend who completes 240 hours and you both receive a bonus.",
        "Referrals for hard-to-fill {skill} roles earn a higher bonus.",
    ]),
    ("Can I get an advance on my pay?", [
        "Earned wage access lets you withdraw part of your earned pay before payday through {portal}.",
        "There is no fee for one withdrawal per pay period.",
    ]),
]

_JOBDESC = {
    "About {client}": [
        "{client} is a {vertical} organization headquartered in {city}, {state}.",
        "The team has partnered with {company} for several years to fill {role} openings.",
        "{client} is growing and expects to convert strong contractors to permanent staff.",
        "The site runs multiple shifts and values people who show up ready to work.",
        "Leadership at {client} is known for investing in training and promoting from within.",
    ],
    "Responsibilities": [
        "Perform day-to-day {role} duties to the client's quality standards.",
        "Use {skill} and {skill2} daily as part of the core workflow.",
        "Document work accurately and hand off cleanly between shifts.",
        "Follow all site safety rules and report hazards immediately.",
        "Partner with the team lead, {manager}, on priorities for the week.",
        "Train and support newer team members as you ramp up.",
        "Keep work areas and shared tools organized.",
    ],
    "Requirements": [
        "Demonstrated experience with {skill}.",
        "Working knowledge of {skill2}.",
        "{cert} preferred.",
        "Ability to pass a background check and drug screen.",
        "Reliable transportation to the {city} site.",
        "Strong communication and a team-first attitude.",
        "Two or more years in a similar {role} position.",
    ],
    "Pay and Schedule": [
        "Pay range is ${pay_lo} to ${pay_hi} per hour depending on experience.",
        "Weekly pay by direct deposit, with benefits available after {days} days.",
        "Overtime is available and paid at {ot}.",
        "Start dates are available as soon as next week for qualified candidates.",
        "Contact {recruiter} at {phone} to be considered.",
    ],
}

_COMPLIANCE_BODY = {
    "Overview": [
        "This bulletin summarizes {topic} requirements for {company} associates and internal staff.",
        "It applies to every assignment, including {role} placements at {client}.",
        "Failure to follow these rules can expose associates, clients and {company} to fines.",
        "Questions go to the compliance team before you act, not after.",
        "Requirements are reviewed every year and whenever regulations change.",
    ],
    "Responsibilities": [
        "Recruiters confirm the right compliance steps are in the job order before submitting candidates.",
        "Associates report incidents to their supervisor and to {company} the same day.",
        "Account managers confirm that client sites provide required safety training.",
        "The compliance team audits a sample of files every quarter.",
        "Payroll verifies that documents are complete before the first paycheck is released.",
    ],
    "Record Keeping": [
        "Records are retained for the longer of three years after hire or one year after separation.",
        "Store copies in the secure document system, never on personal devices.",
        "Training certificates such as the {cert} are uploaded to the associate's profile.",
        "Audit findings are corrected within thirty days.",
    ],
    "Common Mistakes": [
        "Accepting expired documents or photocopies.",
        "Letting an associate start work before required training is done.",
        "Forgetting to re-verify work authorization that has an expiration date.",
        "Missing the seven-day window to log a recordable injury.",
        "Sharing patient information in texts or personal email.",
    ],
}

_PLAYBOOK_BODY = {
    "Why It Matters": [
        "Speed and consistency win placements; this play makes both repeatable.",
        "Top producers at {company} follow this play on every requisition.",
        "Clients judge us on the first three candidates we send.",
        "Candidates remember how we treated them long after a single job closes.",
    ],
    "Steps": [
        "Search the database for candidates with {skill} in their skills and a recent call in the last ninety days.",
        "Prioritize candidates in or near {city} who have been placed with us before.",
        "Call before you email; log every call with a disposition.",
        "Never contact a candidate whose status is do_not_contact.",
        "Ask about availability, pay expectations and commute on every screen.",
        "Send a short written summary to the hiring manager with each submittal.",
        "Follow up with every submitted candidate within 24 hours, even when the news is bad.",
        "If a candidate has been called five or more times without a response, move them to an email sequence.",
        "Update the job order status the same day it changes.",
    ],
    "Scripts and Talking Points": [
        "Open with why you are calling and how you found them.",
        "Confirm current status: working, on assignment, or available.",
        "Describe the {role} role in two sentences before asking any questions.",
        "Ask what would make them leave their current job, then listen.",
        "Close by agreeing on the next step and a time.",
    ],
    "Metrics": [
        "Target {n} qualified submittals per new job order within 48 hours.",
        "Track call-to-submittal and submittal-to-interview ratios weekly.",
        "A healthy desk converts roughly one in four interviews into a placement.",
        "Review timesheet approvals for your active placements every Monday.",
    ],
}

_SKILL_BODY = {
    "Overview": [
        "This guide helps recruiters screen candidates for {topic} roles.",
        "{topic} demand is strong in {city} and across the {vertical} sector.",
        "Most {topic} openings we fill are contract or contract-to-hire.",
        "Candidates often list {topic} alongside {skill2}; ask how recently they used each.",
        "Hiring managers care more about recent hands-on work than certificates alone.",
    ],
    "What to Screen For": [
        "Years of hands-on {topic} experience in the last five years.",
        "The size and type of teams or sites they worked on.",
        "Specific examples of problems they solved with {topic}.",
        "Related skills such as {skill2}.",
        "Certifications such as {cert} where the client requires them.",
        "Shift flexibility and commute to the client site.",
    ],
    "Interview Questions": [
        "Walk me through the last project or shift where you used {topic} every day.",
        "What is a mistake you made with {topic} and what did you change afterward?",
        "How do you keep your {topic} skills current?",
        "How would you explain {topic} to someone on their first day?",
        "What tools do you pair with {topic}, and why?",
        "Describe a time you had to learn something new on the job under a deadline.",
    ],
    "Red Flags": [
        "Vague answers about recent hands-on work.",
        "Certifications that cannot be verified.",
        "Frequent short assignments with no clear reason.",
        "Unwillingness to take a skills assessment.",
    ],
    "Market Rates": [
        "Typical pay for {topic} talent ranges from ${pay_lo} to ${pay_hi} per hour.",
        "Bill rates usually run 30 to 70 percent above pay rates, depending on the client.",
        "Senior candidates command the top of the range, especially in {city}.",
        "Rates for night and weekend shifts are often a dollar or two higher.",
    ],
}


_GENERIC_SECTIONS = {
    "Frequently Asked Questions": [
        "Q: Who approves exceptions? A: The branch manager, in writing, before the work happens.",
        "Q: Does this apply to part-time associates? A: Yes, every associate on assignment follows it.",
        "Q: What if the client asks for something different? A: Call your recruiter; client requests never override law or policy.",
        "Q: Where do I find the latest version? A: In the shared drive and in {portal}.",
        "Q: Who do I call after hours? A: The on-call line at {phone}.",
        "Q: Is there training on this topic? A: A short online module is assigned during onboarding and every year after.",
    ],
    "Example Scenario": [
        "A {role} placed at {client} in {city} calls {recruiter} on a Monday morning with a question.",
        "The recruiter checks the job order, confirms the details with {manager}, and calls back within the hour.",
        "The answer and the follow-up are logged on the candidate record so the next person sees the history.",
        "The associate finishes the week without a gap in pay or coverage.",
        "Two weeks later the client extends the assignment and asks for two more people with {skill} experience.",
    ],
    "Contacts": [
        "Recruiter on record: {recruiter}.",
        "Client site supervisor: {manager}.",
        "Branch phone: {phone}.",
        "Payroll and benefits: open a ticket in {portal}.",
        "Compliance questions: the compliance team mailbox, answered within one business day.",
    ],
    "Related Documents": [
        "Timesheet Policy.",
        "Benefits FAQ.",
        "Compliance Bulletin: Form I-9 and E-Verify.",
        "Recruiter Playbook: The Screening Call.",
        "Skill Guide: {skill}.",
        "{company} Onboarding Guide.",
    ],
    "Revision History": [
        "2023-02: First version published by the {city} branch.",
        "2023-09: Updated contact details and deadlines.",
        "2024-04: Added guidance for {vertical} clients.",
        "2025-01: Annual review; no policy changes.",
        "2025-05: Clarified wording after recruiter feedback.",
    ],
}


def _build_sections(doc: _Doc, sections: dict, target: int) -> None:
    """Every section starts with 2 sentences; more are added until the target
    word count is reached, then generic sections if the pools run dry.
    Sentences are never repeated within a document."""
    rng = doc.rng
    live = []  # (section, remaining unused sentences)
    for n, (heading, pool) in enumerate(sections.items()):
        # The opening sentence of the first section stays first; the rest is shuffled.
        pool = pool[:1] + rng.sample(pool[1:], len(pool) - 1) if n == 0 else rng.sample(pool, len(pool))
        sec = doc.add(heading, pool[:2])
        live.append((sec, [doc.fill(x) for x in pool[2:]]))
    generic = rng.sample(list(_GENERIC_SECTIONS), len(_GENERIC_SECTIONS))
    while doc.words() < target:
        open_ = [(sec, rest) for sec, rest in live if rest]
        if open_:
            sec, rest = rng.choice(open_)
            sec[2].append(rest.pop(0))
        elif generic:
            heading = generic.pop()
            pool = _GENERIC_SECTIONS[heading]
            pool = rng.sample(pool, len(pool))
            style = "ul" if heading in ("Contacts", "Related Documents", "Revision History") else "p"
            sec = doc.add(heading, pool[:2], style)
            live.append((sec, [doc.fill(x) for x in pool[2:]]))
        else:
            break


def _render_doc(idx: int) -> tuple[str, str]:
    """Return (file slug, markdown) for document number idx (1-based)."""
    rng = random.Random(7_700_417 + 104_729 * idx)
    ctx = _ctx(rng)
    kind = (idx - 1) % 7
    target = rng.randint(170, 560)
    if kind == 0:
        title = f"{COMPANY} Onboarding Guide: {ctx['role']} at {ctx['client']}"
        slug = f"onboarding-guide-{_slug(ctx['role'])}"
        doc = _Doc(rng, title, ctx)
        _build_sections(doc, _ONBOARD, target)
    elif kind == 1:
        title = f"Timesheet Policy ({ctx['vertical']} assignments)"
        slug = f"timesheet-policy-{_slug(ctx['vertical'])}"
        doc = _Doc(rng, title, ctx)
        _build_sections(doc, _TIMESHEET, target)
    elif kind == 2:
        title = f"Benefits FAQ for {ctx['state']} Associates"
        slug = f"benefits-faq-{_slug(ctx['state'])}"
        doc = _Doc(rng, title, ctx, intro=f"Answers to the questions associates in {ctx['city']} ask us most often.")
        for q, answers in rng.sample(_BENEFITS_Q, len(_BENEFITS_Q)):
            if doc.words() >= target:
                break
            doc.add(q, rng.sample(answers, len(answers)), "p")
    elif kind == 3:
        title = f"Job Description: {ctx['role']} - {ctx['client']} ({ctx['city']}, {ctx['state']})"
        slug = f"job-description-{_slug(ctx['role'])}-{_slug(ctx['city'])}"
        doc = _Doc(rng, title, ctx)
        _build_sections(doc, _JOBDESC, target)
    elif kind == 4:
        topic = rng.choice(_COMPLIANCE)
        ctx["topic"] = topic
        ctx["cert"] = rng.choice(["OSHA 10 card", "forklift operator certification", "HIPAA training certificate", "BLS certification", "harassment prevention training certificate"])
        title = f"Compliance Bulletin: {topic}"
        slug = f"compliance-{_slug(topic)}"
        doc = _Doc(rng, title, ctx)
        body = dict(_COMPLIANCE_BODY)
        body = {"Overview": body.pop("Overview"), "Key Requirements": _COMPLIANCE_TOPICS[topic], **body}
        _build_sections(doc, body, target)
    elif kind == 5:
        topic = rng.choice(_PLAYBOOKS)
        title = f"Recruiter Playbook: {topic}"
        slug = f"recruiter-playbook-{_slug(topic)}"
        doc = _Doc(rng, title, ctx)
        _build_sections(doc, _PLAYBOOK_BODY, target)
    else:
        topic, key = rng.choice(_SKILL_GUIDES)
        track = next(t for t in TRACKS if t["key"] == key)
        ctx.update(
            topic=topic,
            skill=topic,
            skill2=rng.choice([s for s in track["skills"] if s != topic] or track["skills"]),
            cert=rng.choice(track["certs"]),
            pay_lo=int(track["pay"][0]),
            pay_hi=int(track["pay"][1]),
        )
        title = f"Skill Guide: {topic}"
        slug = f"skill-guide-{_slug(topic)}"
        doc = _Doc(rng, title, ctx)
        body = dict(_SKILL_BODY)
        body = {"Overview": body.pop("Overview"), "Key Concepts": _SKILL_FACTS[topic], **body}
        _build_sections(doc, body, target)
    # Hard bounds: 150..600 words.
    while doc.words() > 600:
        sec = max(doc.sections, key=lambda x: len(x[2]))
        sec[2].pop()
    if doc.words() < 150:
        extra = doc.add("Notes", [], "p")
        filler = [
            f"For questions about this document, contact {ctx['recruiter']} or the {COMPANY} support team at {ctx['phone']}.",
            "This document is reviewed regularly; the version in the shared drive is always the current one.",
            f"{COMPANY} serves clients across healthcare, finance, manufacturing, logistics, technology, retail, construction and energy.",
            "Associates and staff are expected to read and follow this guidance on every assignment.",
            f"Local rules in {ctx['city']}, {ctx['state']} may add requirements beyond those described here.",
            "Suggestions for improving this document are welcome and can be sent to the operations team.",
        ]
        for line in filler:
            if doc.words() >= 150:
                break
            extra[2].append(line)
    return slug, doc.text()


def _write_documents(docs_dir: pathlib.Path, n: int) -> None:
    docs_dir.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for idx in range(1, n + 1):
        slug, text = _render_doc(idx)
        name = f"doc-{idx:04d}-{slug}.md"
        wanted.add(name)
        data = text.encode("utf-8")
        target = docs_dir / name
        if not (target.exists() and target.read_bytes() == data):
            part = docs_dir / f".{name}.{os.getpid()}.tmp"  # atomic: a reader never sees half a file
            part.write_bytes(data)
            part.replace(target)
    # Drop stale generated documents (e.g. from an earlier run at a larger scale).
    for old in docs_dir.glob("doc-*.md"):
        if old.name not in wanted:
            old.unlink()
