"""The demo's playbook memory: the job orders of its most recent successful (completed)
placements become memories on the resumes index — "placed a <title> in <city>, <state>",
endorsing the candidates placed, scoped to the job's city and state — so the boost of
`search resumes "..." --memory` shows on the first run. Each is an upsert on its natural
key, so a re-run of the demo adds nothing."""

from __future__ import annotations

SEEDED = 300  # memories: enough to show the effect, few enough to embed in seconds with Ollama


def seed(sql, remember, limit: int = SEEDED) -> int:
    """`sql` and `remember` are the facade's own `sql` and `memory_add`; returns the count."""
    rows = sql(f"""SELECT j.title, j.city, j.state, CAST(j.required_skills AS VARCHAR) AS skills,
       list(DISTINCT p.candidate_id ORDER BY p.candidate_id) AS keys, min(p.start_date) AS day
FROM placements p JOIN job_orders j USING (job_id)
WHERE p.status = 'completed'
GROUP BY j.job_id, j.title, j.city, j.state, j.required_skills
ORDER BY day DESC, j.job_id LIMIT {int(limit)}""").to_pylist()
    for r in rows:
        remember("resumes", f"placed {r['title']} in {r['city']}, {r['state']}", r["keys"],
                 approach=f"a successful placement; required skills: {r['skills']}",
                 scope={"city": r["city"], "state": r["state"]}, valid_from=str(r["day"]), actor="demo")
    return len(rows)
