"""The workload's markdown documents: guides, policies and bulletins of the staffing company.

Document ``idx`` comes from its own seeded ``random.Random``, so it is the same on every
run; its sentences are drawn from the pools in data/documents.toml.
"""

from __future__ import annotations

import os
import pathlib
import random

from core.demo.samples import load, recruiters

# Generic sections rendered as bullet lists; the others as a paragraph.
_LIST_SECTIONS = ("Contacts", "Related Documents", "Revision History")


def _slug(s: str) -> str:
    out = []
    for ch in s.lower():
        out.append(ch if ch.isalnum() else "-")
    slug = "".join(out)
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug.strip("-")[:60].strip("-")


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
        return len(self.text().split())


def _ctx(rng: random.Random) -> dict:
    """The values a document's placeholders are filled with; the draws' order is fixed."""
    place = rng.choice(load("cities")["cities"])
    track = rng.choice(load("tracks")["tracks"])
    clients, names, opts = load("clients"), load("names"), load("documents")["context"]
    vertical = clients["verticals"][rng.randrange(len(clients["verticals"]))]
    client = f"{rng.choice(clients['first_words'])} {rng.choice(clients['second_words'])} {rng.choice(vertical['suffixes'])}"
    return {
        "company": load("documents")["company"],
        "city": place["city"],
        "state": place["state"],
        "phone": f"({place['area']}) 555-{rng.randrange(100, 10000):04d}",
        "client": client,
        "vertical": vertical["name"],
        "recruiter": rng.choice(recruiters()),
        "manager": f"{rng.choice(names['first_names'])} {rng.choice(names['last_names'])}",
        "role": rng.choice(track["titles"]),
        "skill": track["skills"][0],
        "skill2": rng.choice(track["skills"][1:]),
        "cert": rng.choice(track["certifications"]),
        "deadline_day": rng.choice(opts["deadline_day"]),
        "deadline_time": rng.choice(opts["deadline_time"]),
        "days": rng.choice(opts["days"]),
        "pct": rng.choice(opts["pct"]),
        "hours": rng.choice(opts["hours"]),
        "pay_lo": int(track["pay"][0]),
        "pay_hi": int(track["pay"][1]),
        "ot": rng.choice(opts["ot"]),
        "portal": rng.choice(opts["portal"]),
        "n": rng.choice(opts["n"]),
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
    generic_sections = load("documents")["generic_sections"]
    generic = rng.sample(list(generic_sections), len(generic_sections))
    while doc.words() < target:
        open_ = [(sec, rest) for sec, rest in live if rest]
        if open_:
            sec, rest = rng.choice(open_)
            sec[2].append(rest.pop(0))
        elif generic:
            heading = generic.pop()
            pool = rng.sample(generic_sections[heading], len(generic_sections[heading]))
            sec = doc.add(heading, pool[:2], "ul" if heading in _LIST_SECTIONS else "p")
            live.append((sec, [doc.fill(x) for x in pool[2:]]))
        else:
            break


def _after_overview(sections: dict, heading: str, sentences: list[str]) -> dict:
    """``sections`` with the section ``heading`` inserted right after its Overview."""
    rest = {k: v for k, v in sections.items() if k != "Overview"}
    return {"Overview": sections["Overview"], heading: sentences, **rest}


# One function per kind of document: (rng, ctx, target words) -> (file slug, document).

def _onboarding_guide(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    doc = _Doc(rng, f"{ctx['company']} Onboarding Guide: {ctx['role']} at {ctx['client']}", ctx)
    _build_sections(doc, load("documents")["onboarding"], target)
    return f"onboarding-guide-{_slug(ctx['role'])}", doc


def _timesheet_policy(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    doc = _Doc(rng, f"Timesheet Policy ({ctx['vertical']} assignments)", ctx)
    _build_sections(doc, load("documents")["timesheet_policy"], target)
    return f"timesheet-policy-{_slug(ctx['vertical'])}", doc


def _benefits_faq(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    intro = f"Answers to the questions associates in {ctx['city']} ask us most often."
    doc = _Doc(rng, f"Benefits FAQ for {ctx['state']} Associates", ctx, intro=intro)
    faq = load("documents")["benefits_faq"]
    for entry in rng.sample(faq, len(faq)):
        if doc.words() >= target:
            break
        doc.add(entry["question"], rng.sample(entry["answers"], len(entry["answers"])), "p")
    return f"benefits-faq-{_slug(ctx['state'])}", doc


def _job_description(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    doc = _Doc(rng, f"Job Description: {ctx['role']} - {ctx['client']} ({ctx['city']}, {ctx['state']})", ctx)
    _build_sections(doc, load("documents")["job_description"], target)
    return f"job-description-{_slug(ctx['role'])}-{_slug(ctx['city'])}", doc


def _compliance_bulletin(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    compliance = load("compliance")
    topic = rng.choice(list(compliance["topics"]))
    ctx["topic"] = topic
    ctx["cert"] = rng.choice(compliance["certificates"])
    doc = _Doc(rng, f"Compliance Bulletin: {topic}", ctx)
    _build_sections(doc, _after_overview(load("documents")["compliance_bulletin"],
                                         "Key Requirements", compliance["topics"][topic]), target)
    return f"compliance-{_slug(topic)}", doc


def _recruiter_playbook(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    topic = rng.choice(load("documents")["playbooks"])
    doc = _Doc(rng, f"Recruiter Playbook: {topic}", ctx)
    _build_sections(doc, load("documents")["recruiter_playbook"], target)
    return f"recruiter-playbook-{_slug(topic)}", doc


def _skill_guide(rng: random.Random, ctx: dict, target: int) -> tuple[str, _Doc]:
    guide = rng.choice(load("skill_guides")["guides"])
    topic = guide["topic"]
    track = next(t for t in load("tracks")["tracks"] if t["key"] == guide["track"])
    ctx.update(
        topic=topic,
        skill=topic,
        skill2=rng.choice([s for s in track["skills"] if s != topic] or track["skills"]),
        cert=rng.choice(track["certifications"]),
        pay_lo=int(track["pay"][0]),
        pay_hi=int(track["pay"][1]),
    )
    doc = _Doc(rng, f"Skill Guide: {topic}", ctx)
    _build_sections(doc, _after_overview(load("documents")["skill_guide"], "Key Concepts", guide["facts"]), target)
    return f"skill-guide-{_slug(topic)}", doc


_KINDS = (_onboarding_guide, _timesheet_policy, _benefits_faq, _job_description,
          _compliance_bulletin, _recruiter_playbook, _skill_guide)


def render_doc(idx: int) -> tuple[str, str]:
    """Return (file slug, markdown) for document number idx (1-based)."""
    rng = random.Random(7_700_417 + 104_729 * idx)
    ctx = _ctx(rng)
    kind = _KINDS[(idx - 1) % len(_KINDS)]
    target = rng.randint(170, 560)
    slug, doc = kind(rng, ctx, target)
    # Hard bounds: 150..600 words.
    while doc.words() > 600:
        sec = max(doc.sections, key=lambda x: len(x[2]))
        sec[2].pop()
    if doc.words() < 150:
        extra = doc.add("Notes", [], "p")
        for line in load("documents")["notes"]:
            if doc.words() >= 150:
                break
            extra[2].append(doc.fill(line))
    return slug, doc.text()


def write_documents(docs_dir: pathlib.Path, n: int) -> None:
    """Write documents 1..n into ``docs_dir`` (unchanged files untouched) and drop the others."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    wanted: set[str] = set()
    for idx in range(1, n + 1):
        slug, text = render_doc(idx)
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
