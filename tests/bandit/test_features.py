"""Context features: the per-arm statistics are chosen by name and checked; the opt-in blocks (query embedding,
query-understanding slots, language, per-intent arm hit rates) leave the default vector untouched."""

from types import SimpleNamespace

import numpy as np
import pytest

from ltrr.arms.explore import FreshArm
from ltrr.arms.popularity import PopularityArm
from ltrr.bandit.baselines import UniformPolicy
from ltrr.bandit.features import SLOT_ORDER, ContextFeaturizer
from ltrr.data.music import QueryGenerator
from ltrr.pipeline import InteractionLog, RetrievePipeline
from ltrr.qu.tagger import QueryUnderstanding
from ltrr.rerank.fusion import RRFFusion
from ltrr.simulate.click_models import PositionBasedModel
from ltrr.simulate.loop import run_online
from ltrr.tasks import build
from ltrr.types import ArmResult, Candidate, Query
from ltrr.utils.text import tokens


def test_arm_stats_choose_the_per_arm_features():
    res = {"a": ArmResult("a", (), {"n": 0.1, "top": 0.2, "gap": 0.3, "mean": 0.4, "std": 0.5, "latency": 0.6})}
    feat = ContextFeaturizer(["a"], arm_stats=["mean", "latency"])
    assert feat.names[-2:] == ["a.mean", "a.latency"] and list(feat(Query("q", "x"), res)[-2:]) == [0.4, 0.6]
    assert ContextFeaturizer(["a"]).names[-3:] == ["a.n", "a.top", "a.gap"]
    with pytest.raises(ValueError, match="arm_stats"):
        ContextFeaturizer(["a"], arm_stats=["median"])


# ---- helpers ---------------------------------------------------------------------------------------------------

def old_vector(query, arm_results, arms, facet_words):
    """The featurizer as it was before the opt-in blocks (a frozen copy, the reference for the defaults)."""
    type_words = {"podcast", "podcasts", "episode", "album", "albums", "discography", "playlist", "artist"}
    new_words = {"new", "latest", "fresh", "recent", "release", "releases"}
    facets = {w for p in facet_words for w in tokens(p)}
    toks = tokens(query.text)
    n = len(toks)
    hour = float(query.metadata.get("hour", 12)) * 2 * np.pi / 24
    hist = float(query.metadata.get("history_len", 0))
    q = [1.0, n == 1, n == 2, n == 3, n >= 4, min(len(query.text) / 30, 2.0), any(t.isdigit() for t in toks),
         bool(type_words & set(toks)), bool(new_words & set(toks)), bool(facets & set(toks)), np.sin(hour),
         np.cos(hour), np.log1p(hist) / 5]
    arm = [float(arm_results[a].features.get(s, 0.0)) if a in arm_results else 0.0
           for a in arms for s in ("n", "top", "gap")]
    return np.asarray(q + arm, dtype=float)


class CountingEmbedder:
    """A deterministic fake encoder (``(n, 8)`` unit rows from the text's bytes) that counts the texts it saw."""

    def __init__(self):
        self.calls = 0

    def __call__(self, texts):
        self.calls += len(texts)
        out = np.array([[(sum(t.encode()) * (i + 3)) % 17 + 1.0 for i in range(8)] for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def result(arm, doc_ids):
    return ArmResult(arm, tuple(Candidate(d, 1.0 / (r + 1), r + 1, arm) for r, d in enumerate(doc_ids)),
                     {"n": 0.5, "top": 0.9, "gap": 0.1})


@pytest.fixture(scope="module")
def qu(tiny_world):
    return QueryUnderstanding(tiny_world.docs)


@pytest.fixture(scope="module")
def artist(tiny_world):
    return tiny_world.of_type("artist")[0].title


# ---- tests -----------------------------------------------------------------------------------------------------

def test_defaults_reproduce_the_old_vector_exactly(tiny_world):
    arms = ["bm25", "dense", "memory"]
    facets = ["rock", "sad", "hip hop"]
    feat = ContextFeaturizer(arms, facets)
    assert feat.dim == 13 + 3 * 3 and feat.names[:13] == list(ContextFeaturizer.QUERY_FEATURES)
    res = {"bm25": result("bm25", ["a", "b"]), "memory": ArmResult("memory", (), {"n": 0.2, "gap": 0.7})}
    queries = [Query("1", "new rock album 2019", metadata={"hour": 3, "history_len": 12}), Query("2", "sad"),
               Query("3", ""), Query("4", "épisode podcast", metadata={"hour": 23})]
    queries += [Query(str(i), d.title) for i, d in enumerate(tiny_world.docs[:20])]
    for q in queries:
        got = feat(q, res)
        assert got.shape == (feat.dim,) and np.array_equal(got, old_vector(q, res, arms, facets))
    feat.observe(queries[0], res, ["a"])  # no dynamic block by default: observing changes nothing
    assert np.array_equal(feat(queries[0], res), old_vector(queries[0], res, arms, facets))


def test_names_and_dim_stay_aligned_with_every_block_on(qu, artist, tiny_encoder):
    arms = ["a", "b"]
    feat = ContextFeaturizer(arms, ["rock"], ["n", "top", "gap", "mean"], embedder=tiny_encoder.encode,
                             embed_dim=5, qu=qu, language=True, arm_hit_rate=True)
    names = feat.names
    assert len(names) == len(set(names)) == feat.dim
    assert feat.dim == 13 + (len(feat.slots) + 2) + 1 + 5 + 2 * 4 + 2
    assert set(SLOT_ORDER) <= set(feat.slots) and feat.slots[:len(SLOT_ORDER)] == SLOT_ORDER
    q = Query("q", f"new {artist} songs 1990s")
    res = {"a": result("a", ["x"]), "b": result("b", ["y"])}
    for _ in range(3):
        feat.observe(q, res, ["x"])
    vec = dict(zip(names, feat(q, res)))
    assert len(vec) == feat.dim == feat(q, res).shape[0]
    assert vec["bias"] == 1.0 and vec["slot.artist"] == 1.0 and vec["slot.new"] == 1.0 and vec["slot.decade"] == 1.0
    assert vec["a.mean"] == 0.0 and vec["b.top"] == 0.9 and vec["a.hit_rate"] > 0 == vec["b.hit_rate"]
    emb = np.array([vec[f"emb{i}"] for i in range(5)])
    assert np.array_equal(emb, feat.embed(q.text)) and np.abs(emb).sum() > 0
    # the tagger may serve the hit rates alone, without putting its slots in the vector
    quiet = ContextFeaturizer(arms, qu=qu, slot_features=False, arm_hit_rate=True)
    assert not any(n.startswith("slot") for n in quiet.names) and quiet.dim == 13 + 2 * 3 + 2
    assert quiet.intent_class(q) == feat.intent_class(q) != "all"


def test_slot_indicators_fire_for_a_query_naming_an_artist(qu, artist):
    feat = ContextFeaturizer(["a"], qu=qu)
    vec = dict(zip(feat.names, feat(Query("q", f"{artist} songs"), {})))
    assert vec["slot.artist"] == vec["slot.type"] == 1.0 and vec["slot.mood"] == vec["slot.year"] == 0.0
    assert vec["slot_cover"] == 1.0 and vec["spell_fixed"] == 0.0
    n = len(tokens(artist))
    part = dict(zip(feat.names, feat(Query("q", f"{artist} zzqx"), {})))
    assert part["slot.artist"] == 1.0 and part["slot.type"] == 0.0 and part["slot_cover"] == n / (n + 1)
    assert feat.intent_class(Query("q", f"{artist} songs")) == "artist"
    plain = dict(zip(feat.names, feat(Query("q", "zzqx vvbn"), {})))
    assert sum(plain[f"slot.{s}"] for s in feat.slots) == 0 and plain["slot_cover"] == 0
    assert feat.intent_class(Query("q", "zzqx vvbn")) == "none"
    first = tokens(artist)[0]
    if len(first) >= 5:  # a one-letter typo in the artist's name is corrected and reported
        typo = first[:2] + ("z" if first[2] != "z" else "y") + first[3:]
        fixed = dict(zip(feat.names, feat(Query("q", " ".join([typo] + tokens(artist)[1:])), {})))
        assert fixed["spell_fixed"] == 1.0


def test_language_is_the_share_of_non_ascii_letters():
    feat = ContextFeaturizer(["a"], language=True)
    col = feat.names.index("non_ascii")
    assert feat(Query("q", "rock 2019"), {})[col] == 0.0
    assert feat(Query("q", "café"), {})[col] == pytest.approx(0.25)
    assert feat(Query("q", "방탄 bts"), {})[col] == pytest.approx(0.4)
    assert feat(Query("q", "123"), {})[col] == 0.0


def test_embedding_projection_is_deterministic_per_seed_and_cached():
    emb = CountingEmbedder()
    one = ContextFeaturizer(["a"], embedder=emb, embed_dim=4, embed_seed=3, cache_size=2)
    two = ContextFeaturizer(["a"], embedder=CountingEmbedder(), embed_dim=4, embed_seed=3)
    other = ContextFeaturizer(["a"], embedder=CountingEmbedder(), embed_dim=4, embed_seed=4)
    q = Query("q", "taylor swift")
    assert np.array_equal(one(q, {}), two(q, {}))
    assert not np.allclose(one.embed(q.text), other.embed(q.text))
    assert emb.calls == 1
    one(q, {})
    one(q, {})
    assert emb.calls == 1  # cached per text
    one.embed("b")
    one.embed("c")  # bounded: "taylor swift" is evicted
    assert len(one._emb_cache) == 2
    one.embed(q.text)
    assert emb.calls == 4
    # priming embeds a stream in batches, once per distinct text, with the same result
    primed = ContextFeaturizer(["a"], embedder=(counter := CountingEmbedder()), embed_dim=4, embed_seed=3)
    assert primed.prime(["x", q.text, "x", "y"], batch_size=2) == 3 and counter.calls == 3
    assert np.array_equal(primed(q, {}), two(q, {})) and counter.calls == 3
    assert ContextFeaturizer(["a"]).prime(["x"]) == 0
    # random projection with N(0, 1/k) entries: a unit vector keeps about unit norm on average
    rng_norms = [np.linalg.norm(ContextFeaturizer(["a"], embedder=emb, embed_dim=64, embed_seed=s).embed("x"))
                 for s in range(20)]
    assert 0.7 < np.mean(rng_norms) < 1.3
    # PCA replaces the random projection
    pca = ContextFeaturizer(["a"], embedder=CountingEmbedder(), embed_dim=2).fit_projection(
        [f"text {i} {'x' * i}" for i in range(10)])
    assert pca.embed("text 3 xxx").shape == (2,)
    with pytest.raises(ValueError, match="fit_projection"):
        ContextFeaturizer(["a"], embedder=emb, embed_dim=4).fit_projection(["only one"])


def test_observe_updates_the_hit_rate_per_intent_and_reset_clears_it(qu, artist):
    feat = ContextFeaturizer(["a", "b", "c"], qu=qu, slot_features=False, arm_hit_rate=True, hit_depth=2,
                             hit_halflife=1.0)
    q_art, q_mood = Query("1", f"{artist}"), Query("2", "sad songs")
    assert feat.intent_class(q_art) == "artist" and feat.intent_class(q_mood) == "mood"
    res = {"a": result("a", ["x", "y", "z"]), "b": result("b", ["z", "w", "x"])}  # c returned nothing
    cols = [feat.names.index(f"{a}.hit_rate") for a in "abc"]
    assert list(feat(q_art, res)[cols]) == [0, 0, 0]
    feat.observe(q_art, res, ["x"])  # a finds x at rank 1; b only at rank 3 > hit_depth
    assert list(feat(q_art, res)[cols]) == [0.5, 0, 0]  # 1 hit / (1 clicked query + 1)
    assert list(feat(q_mood, res)[cols]) == [0, 0, 0]  # another intent class
    feat.observe(q_art, res, [])  # no click: nothing learned
    assert list(feat(q_art, res)[cols]) == [0.5, 0, 0]
    feat.observe(q_art, res, ["w"])  # halflife 1: the old hit weighs 1/2 -> (0.5 + 0) / (0.5 + 1 + 1)
    assert feat(q_art, res)[cols] == pytest.approx([0.5 / 2.5, 1 / 2.5, 0])
    feat.reset()
    assert list(feat(q_art, res)[cols]) == [0, 0, 0]


def test_pipeline_feeds_the_hit_rates_and_its_reset_makes_runs_reproducible(tiny_world, qu):
    arms = {"popularity": PopularityArm(tiny_world.docs), "fresh": FreshArm(tiny_world.docs)}
    feat = ContextFeaturizer(list(arms), qu=qu, arm_hit_rate=True, language=True)
    pol = UniformPolicy(list(arms), budget=50, depths=[10, 20, 50], n_features=feat.dim)
    pipe = RetrievePipeline(arms, pol, feat, RRFFusion())
    stream = QueryGenerator(tiny_world, 4).generate(40)
    runs = [run_online(pipe, stream, PositionBasedModel(), InteractionLog(), seed=2, progress=False)
            for _ in range(2)]
    assert [r["context"] for r in runs[0]] == [r["context"] for r in runs[1]]  # reset() forgot the first run
    cols = [feat.names.index(f"{a}.hit_rate") for a in arms]
    assert any(any(r["context"][c] > 0 for c in cols) for r in runs[0])  # feedback reached observe()


def test_build_reads_the_context_block_and_names_a_bad_key(tiny_world, tiny_encoder, qu):
    docs = tiny_world.docs
    plain = build.build_featurizer({"a": object()}, docs, None, None)
    same = build.build_featurizer({"a": object()}, docs, None, dict(build.CONTEXT_DEFAULTS))
    assert plain.names == same.names == ContextFeaturizer(["a"]).names
    arms = {"dense": SimpleNamespace(encoder=tiny_encoder), "structured": SimpleNamespace(qu=qu)}
    feat = build.build_featurizer(arms, docs, ["n"], {"embed_dim": 4, "qu_slots": True, "language": True,
                                                      "arm_hit_rate": True})
    assert feat.embedder == tiny_encoder.encode and feat.qu is qu  # reused, nothing loaded twice
    assert feat.dim == 13 + len(feat.slots) + 2 + 1 + 4 + 2 + 2
    pca = build.build_featurizer(arms, docs, None, {"embed_dim": 3, "embed_pca": 30})
    assert pca._mean is not None and pca.embed("x").shape == (3,)
    with pytest.raises(ValueError, match=r"context\.embed_dims"):
        build.build_featurizer(arms, docs, None, {"embed_dims": 8})
    with pytest.raises(ValueError, match=r"context\.qu_slots"):
        build.build_featurizer(arms, docs, None, {"qu_slots": "yes"})
    with pytest.raises(ValueError, match=r"context\.embed_dim.*dense"):
        build.build_featurizer({"a": object()}, docs, None, {"embed_dim": 4})
    with pytest.raises(ValueError, match=r"context\.embed_pca"):
        build.build_featurizer(arms, docs, None, {"embed_pca": 10})
    with pytest.raises(ValueError, match="config 'arm_stats'"):
        build.build_featurizer(arms, docs, ["median"], None)
