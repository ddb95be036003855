"""The music replay-data script on the tiny world: shapes, ranks equal to the arms' own ``rank_of``, contexts equal
to the main job's featurizer."""

import json
import runpy

import numpy as np
import pytest
from omegaconf import OmegaConf

from ltrr.data.music import QueryGenerator
from ltrr.simulate.loop import precompute_static
from ltrr.simulate.replay import RankedListEnv
from ltrr.tasks import build
from tests.conftest import ROOT, compose_cfg

NS = runpy.run_path(str(ROOT / "scripts" / "bench" / "bandit_music_data.py"), run_name="not_main")
Q, SEED, TOP_K = 60, 1000, 50


def test_music_replay_data_on_the_tiny_world(tmp_path, capsys):
    out = tmp_path / "ranks.npz"
    NS["main"](["--out", str(out), "--queries", str(Q), "--seed", str(SEED), "--top-k", str(TOP_K),
                "--extra-arms", "structured,longtail", "experiment=smoke"])
    z = np.load(out)
    arms, main = list(z["arms"]), list(z["main_arms"])
    assert main == ["bm25", "dense", "popularity", "fresh"] and arms == main + ["structured", "longtail"]
    r_max = int(z["test_n_rel"].max())
    assert z["test_ranks"].shape == (Q, r_max, len(arms)) and z["test_rel_ids"].shape == (Q, r_max)
    assert z["test_qids"].shape == z["test_types"].shape == z["test_texts"].shape == (Q,)
    meta = json.loads(str(z["meta"]))
    assert meta["not_replayed"] == ["memory"] and meta["queries"] == Q

    # the same world, stream and arms, built independently; lists as the main job computes them
    cfg = compose_cfg("train", ["experiment=smoke", "+arm@arms.structured=structured",
                                "+arm@arms.longtail=longtail"])
    world = build.build_world(cfg)
    built = build.build_arms(cfg, world.docs)
    stream = QueryGenerator(world, seed=SEED, **cfg.data.queries).generate(Q)
    cache = precompute_static({a: built[a] for a in arms}, stream, TOP_K)
    for a in arms:
        if not built[a].static:
            built[a].reset(SEED)
            for c, sq in zip(cache, stream):
                c[a] = built[a].retrieve(sq.query, TOP_K)
    assert list(z["test_types"]) == [sq.intent for sq in stream]
    assert list(z["test_texts"]) == [sq.query.text for sq in stream]
    for i, (sq, res) in enumerate(zip(stream, cache)):
        n = len(sq.targets)
        assert z["test_n_rel"][i] == n and set(z["test_rel_ids"][i, :n]) == set(sq.targets)
        assert np.isinf(z["test_ranks"][i, n:]).all()
        for r, d in enumerate(z["test_rel_ids"][i, :n]):
            for k, a in enumerate(arms):
                assert z["test_ranks"][i, r, k] == (res[a].rank_of(str(d)) or np.inf), (i, d, a)
    assert np.isfinite(z["test_ranks"]).any() and np.isinf(z["test_ranks"]).any()

    # the main job's featurizer (its context blocks, less the hit rates learned from clicks)
    context = {**OmegaConf.to_container(cfg.context, resolve=True), "arm_hit_rate": False}
    feat = build.build_featurizer({a: built[a] for a in main}, world.docs, cfg.get("arm_stats"), context)
    feat.prime([sq.query.text for sq in stream])
    assert list(z["context_names"]) == feat.names
    assert meta["context_blocks_dropped"] == (["arm_hit_rate"] if cfg.context.arm_hit_rate else [])
    assert any(n.startswith("emb") for n in feat.names) == (cfg.context.embed_dim > 0)
    want = np.stack([feat(sq.query, res) for sq, res in zip(stream, cache)])
    np.testing.assert_allclose(z["test_contexts"], want, rtol=1e-5, atol=1e-6)
    n_main = len(feat.names)
    assert list(z["context_names_all"][:n_main]) == feat.names
    np.testing.assert_array_equal(z["test_contexts_all"][:, :n_main], z["test_contexts"])
    assert list(z["context_names_all"][n_main:]) == [f"{a}.{s}" for a in arms[len(main):] for s in feat.arm_stats]
    assert z["test_contexts_all"][0, n_main] == np.float32(cache[0]["structured"].features[feat.arm_stats[0]])

    # the bench's env loads it; the table was printed
    env = RankedListEnv(main, 50, (10, 25, 50), z["test_contexts"], z["test_ranks"][:, :, :len(main)],
                        query_types=z["test_types"], query_ids=z["test_qids"])
    assert env.best_static()[1] <= env.oracle_recall()
    printed = capsys.readouterr().out
    assert "| bm25 | " in printed and "best static" in printed and "| exact |" in printed

    # the bench's music-sim env on the same file: ranks resampled within the intent, exact μ, Bayes oracle
    bench = runpy.run_path(str(ROOT / "scripts" / "bench" / "bandit.py"), run_name="not_main")
    bench["REPLAY"]["music-sim"]["data"] = out
    sim, frac_of = bench["replay_env"]("music-sim", 50)
    assert type(sim).__name__ == "TypeResampledEnv" and sim.types == sorted(set(z["test_types"]))
    assert np.allclose(sim.mu_table, sim.type_posterior @ sim.mu_type)
    cell = bench["run_cell"]("music-sim", 50, 5, 200, ["uniform", "lints"], [], False)
    lints = cell["policies"]["lints"]
    assert cell["oracle_mu"] == pytest.approx(sim.episode(200, 5).oracle[0].mean())
    assert lints["regret"] >= 0 and 0 <= lints["recall_frac"] <= 1 and cell["policies"]["uniform"]["regret"] >= 0
