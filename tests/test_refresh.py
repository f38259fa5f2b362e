"""Indexes that stay fresh: an ingest that changes a dataset re-embeds only the changed
chunks into a new generation that goes live on its own (auto-refresh, per index)."""

from __future__ import annotations

from conftest import write


def _bios(lh, data, index="bios_bio", **embed):
    lh.ingest([write(data / "b1.csv", "id,bio\n1,likes rust and go\n2,writes python daily\n")],
              name="bios", key="id")
    lh.embed("bios", "bio", index=index, embedder="hashing", **embed)


def test_refresh_embeds_only_new_chunks_and_goes_live(lh, data):
    _bios(lh, data, m=8, ef_construction=40, ef_search=30)
    lh.ingest([write(data / "b2.csv", "id,bio\n3,builds duckdb extensions\n")], name="bios", mode="append")
    assert lh.index("bios_bio").stale
    [o] = lh.refresh("bios")
    assert (o.status, o.gen, o.embedded) == ("refreshed", 2, 1)
    info = lh.index("bios_bio")
    assert not info.stale and info.active_gen == 2
    a = info.active  # the active generation's settings carried over
    assert (a.m, a.ef_construction, a.ef_search, a.provider) == (8, 40, 30, "hashing")
    hits = lh.search("bios_bio", "duckdb extensions", 3).hits
    assert hits[0].row_key == "3"
    assert lh.refresh("bios") == []  # nothing stale: nothing done


def test_auto_refresh_off_is_skipped_unless_named(lh, data):
    _bios(lh, data)
    lh.set_auto_refresh("bios_bio", False)
    lh.ingest([write(data / "b2.csv", "id,bio\n3,x\n")], name="bios", mode="append")
    assert lh.refresh() == [] and lh.index("bios_bio").stale and not lh.index("bios_bio").auto_refresh
    [o] = lh.refresh(index="bios_bio")
    assert o.status == "refreshed" and not lh.index("bios_bio").stale
    [o] = lh.refresh(index="bios_bio")
    assert o.status == "up-to-date"


def test_a_failing_index_is_reported_and_the_others_refresh(home, data, ollama):
    from core import Lakehouse

    with Lakehouse.open(home=home) as lh:
        _bios(lh, data)
        lh.embed("bios", "bio", index="bios_o", embedder="ollama")
        lh.ingest([write(data / "b2.csv", "id,bio\n3,x\n")], name="bios", mode="append")
        ollama.fail_next(1000, 500, "model runner crashed")
        out = {o.index: o for o in lh.refresh("bios")}
        assert out["bios_bio"].status == "refreshed"
        assert out["bios_o"].status == "failed" and "was not refreshed" in out["bios_o"].message
        assert "refresh it again once that is fixed" in out["bios_o"].message  # plain words: every frontend
        assert lh.index("bios_o").stale and lh.index("bios_o").active_gen == 1  # the old one still serves


def test_cli_ingest_refreshes_before_it_exits(cli, data):
    write(data / "b1.csv", "id,bio\n1,likes rust\n")
    write(data / "b2.csv", "id,bio\n2,likes go\n")
    write(data / "b3.csv", "id,bio\n3,likes zig\n")
    assert cli("ingest", str(data / "b1.csv"), "--name", "bios", "--key", "id")[0] == 0
    assert cli("embed", "bios", "--column", "bio", "--embedder", "hashing")[0] == 0
    code, out, err = cli("ingest", str(data / "b2.csv"), "--name", "bios", "--mode", "append")
    assert code == 0 and "index bios_bio: g2 live (1 chunk embedded, 1 reused)" in out, err
    code, out, _ = cli("ingest", str(data / "b3.csv"), "--name", "bios", "--mode", "append", "--no-refresh")
    assert code == 0 and "bios_bio" not in out
    code, out, _ = cli("index", "list", "--format", "json")
    assert '"stale": true' in out
    code, out, _ = cli("index", "refresh")
    assert code == 0 and "g3 live" in out


def test_an_append_extends_the_graph_and_a_change_rebuilds_it(lh, data):
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()

    def text(i):
        return " ".join(words[(i * 7 + j * 3) % len(words)] + str(i * 31 + j) for j in range(6))

    write(data / "a.csv", "id,bio\n" + "".join(f"{i},{text(i)}\n" for i in range(300)))
    write(data / "b.csv", "id,bio\n" + "".join(f"{i},{text(i)}\n" for i in range(300, 360)))
    lh.ingest([data / "a.csv"], name="bios", key="id")
    lh.embed("bios", "bio", embedder="hashing")
    lh.ingest([data / "b.csv"], name="bios", mode="append")
    seen = []
    [o] = lh.refresh("bios", progress=lambda ev: seen.append(ev.message))
    assert o.status == "refreshed" and o.embedded == 60
    assert any("extending HNSW" in m for m in seen) and not any("building HNSW" in m for m in seen)
    for i in (0, 150, 299, 300, 333, 359):  # old and new rows each find themselves first
        assert lh.search("bios_bio", text(i), 1).hits[0].row_key == str(i)
    lh.update("bios", "5", {"bio": "a changed biography"}, reason="test")
    seen.clear()
    [o] = lh.refresh("bios", progress=lambda ev: seen.append(ev.message))
    assert o.status == "refreshed" and any("building HNSW" in m for m in seen)
    assert lh.search("bios_bio", "a changed biography", 1).hits[0].row_key == "5"
    assert lh.search("bios_bio", text(340), 1).hits[0].row_key == "340"
    assert lh.verify_index("bios_bio") == []
