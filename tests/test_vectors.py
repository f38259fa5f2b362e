"""The vector layer with the built-in hashing embedder: chunking, the embedding store,
generations (promote, rollback, drop, rebuild), semantic and hybrid search, bad input."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from core.errors import LakehouseError, NotFound, VectorError
from core.vectors.chunking import chunk_id, chunk_text
from core.vectors.hashing import HashingEmbedder
from vector_data import write_profiles


@pytest.fixture
def people(lh, data):
    lh.ingest(write_profiles(data / "people.csv", 400), key="person_id")
    return lh


def embed(lh, **kw):
    kw.setdefault("index", "people")
    kw.setdefault("embedder", "hashing")
    return lh.embed("people", "profile", **kw)


def brute_force(lh, index, gen, query, k, keep=None):
    """Exact top-k straight from the generation's embeddings.parquet (the truth)."""
    t = pq.read_table(lh.root / "vectors" / index / f"g{gen}" / "embeddings.parquet")
    v = np.array(t.column("vector").to_pylist(), np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    q = HashingEmbedder(v.shape[1]).embed([query])[0]
    scores = v @ q
    keys = t.column("row_key").to_pylist()
    order = [i for i in np.argsort(-scores, kind="stable") if keep is None or keys[i] in keep]
    return [keys[i] for i in order[:k]]


# -- embedder and chunking -----------------------------------------------------------------
def test_hashing_embedder_is_deterministic_normalised_and_meaningful():
    a, b = HashingEmbedder(256), HashingEmbedder(256)
    texts = ["Kubernetes cluster migration", "migrated the kubernetes clusters", "forklift operator"]
    va, vb = a.embed(texts), b.embed(list(reversed(texts)))[::-1]
    assert np.array_equal(va, vb)  # same text, same vector, whatever the batch
    assert va.shape == (3, 256) and va.dtype == np.float32
    assert np.allclose(np.linalg.norm(va, axis=1), 1.0)
    assert va[0] @ va[1] > 0.4 > va[0] @ va[2]
    assert np.isfinite(a.embed(["!!!", "the and of"])).all()  # stop words / punctuation only
    with pytest.raises(VectorError, match="between 16 and 8192"):
        HashingEmbedder(4)


def test_chunks_respect_size_overlap_and_have_stable_ids():
    text = " ".join(f"word{i}" for i in range(400))
    chunks = chunk_text(text, 200, 40)
    assert len(chunks) > 5 and all(len(c) <= 200 for c in chunks)
    assert all(not c.startswith(" ") and "word" in c for c in chunks)
    for left, right in zip(chunks, chunks[1:]):  # consecutive chunks share words
        assert set(left.split()[-3:]) & set(right.split()[:8])
    assert " ".join(chunks).count("word399") >= 1  # nothing dropped at the end
    assert chunk_text("short", 200, 40) == ["short"] and chunk_text("   ", 200, 40) == []
    assert chunk_id("P1", 0, "abc") == chunk_id("P1", 0, "abc") != chunk_id("P1", 0, "abd")


# -- embed and search ----------------------------------------------------------------------------
def test_embed_writes_parquet_truth_and_search_returns_rows_with_their_columns(people):
    r = embed(people)
    assert (r.gen, r.promoted, r.active_gen, r.up_to_date) == (1, True, 1, False)
    assert r.rows == 400 and r.chunks == r.embedded == 400 and "hashing" in r.embedder
    gdir = people.root / "vectors" / "people" / "g1"
    t = pq.read_table(gdir / "embeddings.parquet")
    assert t.column_names == ["dataset", "row_key", "chunk_id", "chunk_no", "chunk_text", "vector", "model"]
    vt = t.schema.field("vector").type
    assert vt.list_size == 384 and str(vt.value_type) == "float"
    meta = json.loads((gdir / "meta.json").read_text())
    assert (meta["provider"], meta["dim"], meta["chunk_size"], meta["overlap"]) == ("hashing", 384, 1000, 150)
    assert {"embeddings.parquet", "vectors.npy", "hnsw.bin"} <= set(meta["files"])

    res = people.search("people", "someone who migrated Kubernetes clusters", k=5)
    assert res.gen == 1 and res.strategy == "hnsw" and "hashing" in res.embedder and len(res.hits) == 5
    assert [h.rank for h in res.hits] == [1, 2, 3, 4, 5]
    assert res.hits[0].score >= res.hits[-1].score
    assert all("Kubernetes" in h.text for h in res.hits[:3])
    assert res.timings_ms["load_ms"] > 0  # the first search loaded the generation...
    assert "load_ms" not in people.search("people", "welding").timings_ms  # ...later ones reuse it
    top = res.hits[0]
    assert top.row["person_id"] == top.row_key and top.row["profile"] == top.text and top.dataset == "people"
    assert res.hits[0].row_key in brute_force(people, "people", 1, "someone who migrated Kubernetes clusters", 5)


def test_long_text_is_chunked_and_hits_name_their_chunk(lh, data):
    long = " ".join(["filler text about nothing in particular"] * 60) + " the secret word is zanzibar"
    (data / "docs.csv").write_text("id,body\n1," + long + "\n2,short note about gardening\n")
    lh.ingest(data / "docs.csv", key="id")
    r = lh.embed("docs", "body", embedder="hashing", chunk_size=300, overlap=50)
    assert r.index == "docs_body" and r.rows == 2 and r.chunks > 5
    hit = lh.search("docs_body", "zanzibar secret", k=1).hits[0]
    assert hit.row_key == "1" and "zanzibar" in hit.text and hit.chunk_id.startswith("1#")
    assert int(hit.chunk_id.split("#")[1].split(":")[0]) >= 5


def test_reembed_only_new_and_changed_chunks_and_noop_when_unchanged(people, data):
    embed(people)
    again = embed(people)
    assert again.up_to_date and again.embedded == 0 and again.gen == 1
    assert [g.gen for g in people.index("people").generations] == [1]

    write_profiles(data / "more.csv", 30, seed=9, start=400)
    people.ingest(data / "more.csv", name="people", mode="append")
    people.update("people", "P00003", {"profile": "Rewrote the payroll system in COBOL"}, reason="test")
    r = embed(people)
    assert (r.gen, r.embedded, r.reused, r.removed) == (2, 31, 399, 1)
    assert r.promoted and r.active_gen == 2  # same embedder: a refresh goes live
    hit = people.search("people", "payroll COBOL rewrite", k=1).hits[0]
    assert hit.row_key == "P00003"
    old = people.search("people@g1", "anything", k=1, where="person_id = 'P00003'").hits[0]
    assert "COBOL" not in old.text and "COBOL" in old.row["profile"]  # g1 keeps the old text
    assert people.search("people", "x", k=1, where="person_id = 'P00415'").hits[0].row_key == "P00415"
    assert people.search("people@g1", "x", k=1, where="person_id = 'P00415'").hits == []


def test_new_embedder_builds_beside_the_old_one_and_compare_shows_overlap(people):
    embed(people)
    r = embed(people, embedder="hashing", chunk_size=200, overlap=20)
    assert r.gen == 2 and not r.promoted and r.active_gen == 1 and r.embedded == r.chunks
    info = people.index("people")
    assert info.active_gen == 1 and [g.gen for g in info.generations] == [1, 2]
    assert people.search("people", "welding", k=3).gen == 1
    assert people.search("people@g2", "welding", k=3).gen == 2
    cmp = people.compare("people@g1", "people@g2", "welding and forklift", k=10)
    assert cmp["a"].gen == 1 and cmp["b"].gen == 2 and 0.0 <= cmp["overlap"] <= 1.0
    same = people.compare("people@g1", "people@g1", "welding", k=10)
    assert same["overlap"] == 1.0


def test_promote_rollback_and_drop(people):
    embed(people)
    embed(people, chunk_size=300, overlap=30)
    embed(people, chunk_size=400, overlap=40)
    assert people.index("people").active_gen == 1
    assert people.promote("people", 2).active_gen == 2
    assert people.promote("people", 3).active_gen == 3
    assert people.search("people", "welding").gen == 3
    assert people.rollback("people").active_gen == 2
    assert people.rollback("people").active_gen == 1
    with pytest.raises(VectorError, match="no earlier generation"):
        people.rollback("people")
    with pytest.raises(VectorError, match="g1 is the active generation"):
        people.drop_index("people", 1)
    with pytest.raises(NotFound, match="no finished generation g9 — ready: g1, g2, g3"):
        people.promote("people", 9)
    assert people.drop_index("people", 3) == "dropped people g3"
    assert not (people.root / "vectors" / "people" / "g3").exists()
    events = [e["action"] for e in people.catalog.indexes.events("people")]
    assert events.count("promote") >= 3 and "rollback" in events and "drop" in events
    t = people.sql("SELECT gen, active FROM _indexes WHERE index_name = 'people' ORDER BY gen")
    assert t.to_pylist() == [{"gen": 1, "active": True}, {"gen": 2, "active": False}]
    people.drop_index("people")
    assert people.indexes() == [] and not (people.root / "vectors" / "people").exists()


def test_old_generations_are_pruned_past_the_keep_limit(home, data):
    from core import Lakehouse

    (home).mkdir(parents=True, exist_ok=True)
    (home / "lakehouse.toml").write_text("[vectors]\nkeep_generations = 2\n")
    with Lakehouse.open(home=home) as lh:
        lh.ingest(write_profiles(data / "people.csv", 60), key="person_id")
        for size in (300, 400, 500, 600):
            lh.embed("people", "profile", index="people", embedder="hashing", chunk_size=size, overlap=10,
                     promote=True)
        assert [g.gen for g in lh.index("people").generations] == [3, 4]
        assert lh.rollback("people").active_gen == 3


# -- hybrid search -----------------------------------------------------------------------------
@pytest.mark.parametrize("exact_max", [20000, 0])
def test_hybrid_search_is_the_true_top_k_of_the_filtered_rows(home, data, exact_max):
    from core import Lakehouse

    home.mkdir(parents=True, exist_ok=True)
    # exact_max 0 forces the HNSW-with-filter path; a wide beam makes it exhaustive here
    (home / "lakehouse.toml").write_text(f"[vectors]\nexact_max = {exact_max}\n")
    with Lakehouse.open(home=home) as lh:
        lh.ingest(write_profiles(data / "people.csv", 400), key="person_id")
        lh.embed("people", "profile", index="people", embedder="hashing")
        # a narrow filter (rows gathered) and a wide one (all scored, then the passing kept)
        for where, lo, hi in [("state = 'IL' AND years > 10", 10, 100), ("years < 25", 300, 400)]:
            keep = {r["person_id"] for r in lh.sql(f"SELECT person_id FROM people WHERE {where}").to_pylist()}
            res = lh.search("people", "Terraform and AWS automation", k=10, where=where, ef=400)
            assert res.strategy == ("exact (filtered)" if exact_max else "hnsw (filtered)")
            assert res.passed_filter == len(keep) and lo < len(keep) < hi
            assert all(h.row_key in keep for h in res.hits)
            assert [h.row_key for h in res.hits] == brute_force(lh, "people", 1, "Terraform and AWS automation",
                                                               10, keep)
        assert all(h.row["state"] == "IL" for h in lh.search("people", "AWS", where="state = 'IL'").hits)
        none = lh.search("people", "welding", k=5, where="state = 'ZZ'")
        assert none.hits == [] and none.passed_filter == 0


def test_where_is_refused_when_it_does_not_parse_or_reaches_beyond_its_dataset(people, data):
    embed(people)
    people.ingest(write_profiles(data / "other.csv", 5), name="other", key="person_id")
    cases = {
        "state = ": "does not parse",
        "person_id IN (SELECT person_id FROM other)": "columns of 'people' alone",
        "EXISTS (SELECT 1 FROM read_csv('/etc/passwd'))": "columns of 'people' alone",
        "1=1) UNION SELECT 1 FROM other --": "brackets pair up on their own",
        "1=1) WINDOW w AS (ORDER BY state": "brackets pair up on their own",
        "1=1 GROUP BY state": "does not parse|alone",
        "nosuchcolumn = 1": "nosuchcolumn",
    }
    for where, msg in cases.items():
        with pytest.raises(LakehouseError, match=msg):
            people.search("people", "welding", where=where)


# -- bad input, corruption ----------------------------------------------------------------------
def test_search_bad_input_gets_one_clear_sentence(people):
    embed(people)
    with pytest.raises(VectorError, match="search text is empty"):
        people.search("people", "   ")
    for k in (0, -3, 10**6):
        with pytest.raises(VectorError, match="k must be between 1 and 1000"):
            people.search("people", "x", k=k)
    with pytest.raises(NotFound, match="no index named 'nope'"):
        people.search("nope", "x")
    with pytest.raises(NotFound, match="no finished generation g7"):
        people.search("people@g7", "x")
    with pytest.raises(VectorError, match="does not name a generation"):
        people.search("people@latest", "x")
    with pytest.raises(VectorError, match="built with the hashing embedder"):
        people.search("people", "x", embedder="ollama")


def test_embed_bad_input(people, data):
    with pytest.raises(VectorError, match="has no column 'nope' — its columns: person_id, state, years, profile"):
        people.embed("people", "nope")
    with pytest.raises(VectorError, match="column 'years' of 'people' is BIGINT, not text"):
        people.embed("people", "years")
    with pytest.raises(NotFound):
        people.embed("ghost", "profile")
    with pytest.raises(VectorError, match="--overlap must be between 0 and half"):
        people.embed("people", "profile", embedder="hashing", chunk_size=100, overlap=80)
    with pytest.raises(VectorError, match="unknown embedder 'bert'"):
        people.embed("people", "profile", embedder="bert")
    with pytest.raises(VectorError, match="promote must be true, false or left out, got 'no'"):
        people.embed("people", "profile", embedder="hashing", promote="no")  # a JSON client's string
    (data / "nokey.csv").write_text("a,b\nx,hello\nx,world\n")
    people.ingest(data / "nokey.csv")
    with pytest.raises(VectorError, match="has no primary key"):
        people.embed("nokey", "b", embedder="hashing")
    with pytest.raises(VectorError, match="not unique in 'nokey': 1 duplicate"):
        people.embed("nokey", "b", embedder="hashing", key="a")
    assert people.indexes() == []  # a refused embed leaves no index behind
    embed(people)
    (data / "x.csv").write_text("id,t\n1,hi\n")
    people.ingest(data / "x.csv", name="x", key="id")
    with pytest.raises(VectorError, match="already indexes people.profile"):
        people.embed("x", "t", index="people", embedder="hashing")
    assert [e.operation for e in people.errors()].count("embed") >= 5  # findable in _errors


def test_corrupt_index_file_is_detected_and_rebuilt_from_parquet(people):
    from core import Lakehouse

    embed(people)
    hnsw = people.root / "vectors" / "people" / "g1" / "hnsw.bin"
    good = people.search("people", "welding", k=5)
    hnsw.write_bytes(hnsw.read_bytes()[: hnsw.stat().st_size // 2])  # truncated
    with Lakehouse.open(home=people.root) as fresh:  # a new process: nothing cached
        with pytest.raises(VectorError, match=r"people g1: hnsw.bin is truncated") as e:
            fresh.search("people", "welding")
        assert (e.value.hint.action, e.value.hint.args) == ("rebuild_index", {"index": "people", "gen": 1})
        assert fresh.verify_index("people")[0].startswith("people g1: hnsw.bin is truncated")
        fresh.rebuild_index("people", 1)
        assert fresh.verify_index("people") == []
        again = fresh.search("people", "welding", k=5)
    assert [h.row_key for h in again.hits] == [h.row_key for h in good.hits]
    data = bytearray(hnsw.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped bit: same size, wrong checksum
    hnsw.write_bytes(bytes(data))
    with Lakehouse.open(home=people.root) as fresh:
        with pytest.raises(VectorError, match="hnsw.bin is corrupt"):
            fresh.search("people", "welding")


def test_exact_index_kind_matches_brute_force(people):
    r = embed(people, kind="exact")
    res = people.search("people", "nursing and phlebotomy", k=8)
    assert res.strategy == "exact"
    assert not (people.root / "vectors" / "people" / f"g{r.gen}" / "hnsw.bin").exists()
    assert [h.row_key for h in res.hits] == brute_force(people, "people", r.gen, "nursing and phlebotomy", 8)


def test_index_cache_keeps_the_active_generation_loaded(people):
    embed(people)
    people.search("people", "welding")
    people.search("people", "forklift")
    stats = people.vector_cache()
    assert stats["misses"] == 1 and stats["hits"] == 1
    assert stats["entries"][0]["index"] == "people" and stats["entries"][0]["bytes"] > 0


def test_documents_are_embedded_by_doc_and_page(lh, data):
    (data / "a.md").write_text("# Onboarding\nNew nurses shadow a charge nurse for two weeks.")
    (data / "b.txt").write_text("Forklift certification must be renewed every three years.")
    lh.ingest([data / "a.md", data / "b.txt"], name="documents")
    r = lh.embed("documents", "text", index="docs", embedder="hashing")
    assert r.rows == 2
    hit = lh.search("docs", "forklift certification renewal", k=1).hits[0]
    assert hit.row_key.endswith("/1") and hit.row["path"].endswith("b.txt")


def test_an_abandoned_build_with_other_settings_is_discarded(people):
    import threading

    from core.errors import Cancelled

    cancel = threading.Event()
    with pytest.raises(Cancelled, match="run the same command again to continue"):
        embed(people, progress=lambda ev: ev.unit == "chunks" and ev.done and cancel.set(), cancel=cancel)
    assert [(g.gen, g.status) for g in people.index("people").generations] == [(1, "building")]
    assert (people.root / "vectors" / "people" / ".g1.building").exists()
    r = embed(people, chunk_size=500, overlap=50)  # different settings: a fresh build
    assert r.gen == 2 and r.embedded == r.chunks
    assert [(g.gen, g.status) for g in people.index("people").generations] == [(2, "ready")]
    assert not (people.root / "vectors" / "people" / ".g1.building").exists()


def test_top_k_matches_a_full_sort_on_long_rows():
    from core.vectors.ann import top_k

    rng = np.random.default_rng(3)
    for n, k in [(50, 5), (70_000, 10), (70_001, 1), (300_017, 100)]:
        scores = rng.standard_normal((1, n)).astype(np.float32)
        idx, vals = top_k(scores, k)
        assert list(idx[0]) == list(np.argsort(-scores[0], kind="stable")[:k])
        assert np.array_equal(vals[0], scores[0][idx[0]])
