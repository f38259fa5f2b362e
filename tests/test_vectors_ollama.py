"""The ollama embedder through the real `ollama` client against the Ollama API
stand-in (tests/ollama_stub.py): errors, retries, splitting, model identity, and
embedding as a cancellable, resumable job."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core import Lakehouse
from core.errors import Cancelled, LakehouseError, OllamaError, VectorError
from core.ollama import parse_host
from vector_data import write_profiles

PROBE = "dimension probe"  # what the embedder sends once to learn the dimension


def open_lh(home: Path, toml: str = ""):
    home.mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text(toml)
    return Lakehouse.open(home=home)


@pytest.fixture
def people(home, data):
    with open_lh(home, "[ollama]\nretries = 1\n") as lh:
        lh.ingest(write_profiles(data / "people.csv", 120), key="person_id")
        yield lh


def embedded(stub) -> list[str]:
    return [t for t in stub.embedded_inputs if t != PROBE]


def test_host_is_resolved_like_ollama_resolves_it():
    assert parse_host(None) == parse_host("") == "http://127.0.0.1:11434"
    assert parse_host("example.com") == "http://example.com:11434"
    assert parse_host("example.com:5000") == "http://example.com:5000"
    assert parse_host("http://example.com") == "http://example.com:80"
    assert parse_host("https://example.com") == "https://example.com:443"
    assert parse_host(":8080") == "http://127.0.0.1:8080"
    assert parse_host("[::1]") == "http://[::1]:11434"


def test_unreachable_server_is_one_sentence_and_auto_falls_back_to_hashing(people):
    with pytest.raises(OllamaError, match=r"^Ollama is not reachable at http://127.0.0.1:9 — start it with `ollama serve`"):
        people.embed("people", "profile", embedder="ollama")
    r = people.embed("people", "profile", index="p")  # auto (the default)
    assert "hashing" in r.embedder and "not reachable" in r.note and "hashing embedder" in r.note


def test_ollama_embeds_in_modest_batches_and_records_the_model_identity(people, ollama):
    r = people.embed("people", "profile", index="p", embedder="ollama")
    assert r.embedded == r.chunks == 120 and "ollama nomic-embed-text:latest" in r.embedder
    sizes = [len(body["input"]) for path, body in ollama.calls if path == "/api/embed" and body["input"] != [PROBE]]
    assert max(sizes) <= 16 and sum(sizes) == 120
    assert all(body.get("truncate") is False for path, body in ollama.calls if path == "/api/embed")
    g = people.index("p").active
    digest = ollama.models["nomic-embed-text:latest"]["digest"]
    assert (g.provider, g.model, g.digest, g.dim) == ("ollama", "nomic-embed-text:latest", digest, 768)
    res = people.search("p", "Kubernetes Terraform", k=3)
    assert "ollama nomic-embed-text" in res.embedder and all("Kubernetes" in h.text or "Terraform" in h.text
                                                             for h in res.hits)
    # the model changes under the index: searching it is refused, not mixed
    ollama.set_digest("nomic-embed-text:latest", "f" * 64)
    with Lakehouse.open(home=people.root) as fresh:
        with pytest.raises(VectorError, match="changed since this index was built"):
            fresh.search("p", "Kubernetes")


def test_missing_model_and_non_embedding_model(people, ollama):
    ollama.remove_model("nomic-embed-text")
    with pytest.raises(OllamaError, match=r"has no model 'nomic-embed-text' — run `ollama pull nomic-embed-text`"):
        people.embed("people", "profile", embedder="ollama")
    with pytest.raises(OllamaError, match="cannot make embeddings"):
        people.embed("people", "profile", embedder="ollama", model="qwen2.5:7b")
    r = people.embed("people", "profile", index="p")  # auto: the model is missing -> hashing, said so
    assert "hashing" in r.embedder and "ollama pull" in r.note


def test_transient_failures_are_retried_then_reported(people, ollama):
    ollama.fail_next(1)  # one busy answer: retried after a backoff, then fine
    r = people.embed("people", "profile", index="p", embedder="ollama")
    assert r.embedded == 120
    people.update("people", "P00001", {"profile": "new text about welding"}, reason="t")
    ollama.fail_next(50)
    with pytest.raises(OllamaError, match="is busy .* after 2 attempts"):
        people.embed("people", "profile", index="p")


@pytest.mark.parametrize("fault,message", [("nan_next", "NaN or infinite values"),
                                           ("wrong_dim_next", "767-dim vectors, expected 768"),
                                           ("wrong_count_next", "returned 15 vectors for 16 inputs")])
def test_bad_vectors_from_the_provider_are_refused_and_nothing_goes_live(people, ollama, fault, message):
    people.embed("people", "profile", index="p", embedder="ollama")  # learns the dimension
    ollama.reset_counters()
    people.update("people", "P00001", {"profile": "changed " * 3}, reason="t")
    for i in range(2, 20):
        people.update("people", f"P{i:05d}", {"profile": f"changed text {i}"}, reason="t")
    setattr(ollama, fault, 1)
    with pytest.raises(VectorError, match=message):
        people.embed("people", "profile", index="p")
    info = people.index("p")
    assert info.active_gen == 1 and [g.status for g in info.generations] == ["ready", "building"]
    r = people.embed("people", "profile", index="p")  # the next run finishes the build
    assert r.gen == 2 and r.promoted and r.embedded == 19


def test_input_longer_than_the_context_is_split_never_truncated(home, data, ollama):
    with open_lh(home, "[ollama]\nnum_ctx = 64\n") as lh:
        long = " ".join(f"word{i}" for i in range(300))
        (data / "d.csv").write_text(f"id,body\n1,{long}\n2,short text\n")
        lh.ingest(data / "d.csv", key="id")
        r = lh.embed("d", "body", embedder="ollama", chunk_size=5000, overlap=0)
    assert r.chunks == 2 and r.split_inputs == 1
    assert ollama.truncated_inputs == []  # the server never had to cut anything
    assert all(ollama.tokens(t) <= 64 for t in ollama.embedded_inputs)
    assert "word299" in " ".join(ollama.embedded_inputs)


def test_cancelled_embedding_resumes_without_embedding_any_chunk_twice(people, ollama):
    cancel = threading.Event()
    seen = []

    def progress(ev):
        if ev.unit == "chunks" and ev.done:
            seen.append(ev.done)
            if len(seen) == 3:
                cancel.set()
    with pytest.raises(Cancelled, match=r"cancelled after 48 of 120 chunks; they are kept"):
        people.embed("people", "profile", index="p", embedder="ollama", progress=progress, cancel=cancel)
    assert people.index("p").active_gen is None
    assert [j.status for j in people.jobs() if j.kind == "embed"][0] == "cancelled"
    r = people.embed("people", "profile", index="p", embedder="ollama")
    assert (r.gen, r.embedded, r.reused) == (1, 72, 48)
    texts = embedded(ollama)
    assert len(texts) == len(set(texts)) == 120


def _cli(home, ollama_url, *args, crash=None):
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "OLLAMA_HOST": ollama_url}
    if crash:
        env["LAKEHOUSE_CRASH_AT"] = crash
    exe = Path(sys.executable).parent / "lakehouse"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=120)


def test_killed_embedding_never_goes_live_and_resumes_where_it_stopped(people, ollama):
    home = people.root
    p = _cli(home, ollama.url, "embed", "people", "--column", "profile", "--index", "p", "--embedder", "ollama",
             crash="embed_batch_3")
    assert p.returncode == -9
    with Lakehouse.open(home=home) as lh:
        assert lh.index("p").active_gen is None
        assert lh.sql("SELECT count(*) AS n FROM _indexes WHERE status = 'ready'").to_pylist() == [{"n": 0}]
    assert len(embedded(ollama)) == 48
    p = _cli(home, ollama.url, "embed", "people", "--column", "profile", "--index", "p", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert '"embedded": 72' in p.stdout and '"reused": 48' in p.stdout
    texts = embedded(ollama)
    assert len(texts) == len(set(texts)) == 120


def test_crash_after_the_files_but_before_the_catalog_leaves_the_old_generation_active(people, ollama):
    people.embed("people", "profile", index="p", embedder="hashing")
    p = _cli(people.root, ollama.url, "embed", "people", "--column", "profile", "--index", "p",
             "--chunk-size", "300", "--overlap", "10", "--promote", crash="before_generation_ready")
    assert p.returncode == -9
    with Lakehouse.open(home=people.root) as lh:
        info = lh.index("p")
        assert info.active_gen == 1 and [(g.gen, g.status) for g in info.generations] == [(1, "ready"), (2, "ready")]
        assert lh.search("p@g2", "welding").gen == 2  # complete, searchable, promotable
        assert lh.promote("p", 2).active_gen == 2


def test_a_generation_builds_in_the_background_while_the_active_one_answers(people, ollama):
    people.embed("people", "profile", index="p", embedder="hashing")
    ollama.delay = 0.05
    box, embedding = {}, threading.Event()

    def build():
        with Lakehouse.open(home=people.root) as other:
            try:
                box["r"] = other.embed("people", "profile", index="p", embedder="ollama",
                                       progress=lambda ev: ev.done and embedding.set())
            except LakehouseError as e:
                box["e"] = e
    t = threading.Thread(target=build)
    t.start()
    assert embedding.wait(30)
    with pytest.raises(VectorError, match="being built or changed by another job"):  # one build at a time
        people.embed("people", "profile", index="p", embedder="hashing", chunk_size=500)
    answered = 0
    while t.is_alive():
        res = people.search("p", "Kubernetes", k=3)
        assert res.gen == 1 and len(res.hits) == 3
        answered += 1
        time.sleep(0.02)
    t.join()
    assert "e" not in box and box["r"].gen == 2 and not box["r"].promoted
    assert answered > 3  # the active generation kept answering throughout
    assert people.index("p").active_gen == 1
    cmp = people.compare("p@g1", "p@g2", "Kubernetes and Terraform", k=10)
    assert "hashing" in cmp["a"].embedder and "ollama" in cmp["b"].embedder
