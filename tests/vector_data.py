"""A small text dataset for vector tests: profiles with skills, a state and a key."""

from __future__ import annotations

import csv
import random
from pathlib import Path

SKILLS = ["Kubernetes", "Terraform", "Python", "Java", "Spring Boot", "React", "SQL", "Excel",
          "forklift", "welding", "nursing", "phlebotomy", "payroll", "accounting", "Docker", "AWS"]
STATES = ["IL", "CA", "TX", "NY", "WA"]
VERBS = ["led", "migrated", "built", "maintained", "audited", "automated", "trained", "scaled"]


def profile(i: int, rng: random.Random) -> dict:
    skills = rng.sample(SKILLS, 3)
    words = [f"Worker {i} {rng.choice(VERBS)} projects using {skills[0]}, {skills[1]} and {skills[2]}."]
    words += [f"Also {rng.choice(VERBS)} a team that relied on {rng.choice(SKILLS)}." for _ in range(rng.randint(0, 3))]
    return {"person_id": f"P{i:05d}", "state": STATES[i % len(STATES)], "years": i % 30,
            "profile": " ".join(words)}


def write_profiles(path: Path, n: int, seed: int = 7, start: int = 0) -> Path:
    rng = random.Random(seed)
    rows = [profile(i, rng) for i in range(start, start + n)]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path
