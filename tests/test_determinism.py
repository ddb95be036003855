"""The same seed gives the same run in a fresh process, whatever Python's string-hash seed."""

import os
import subprocess
import sys

SCRIPT = """
import hashlib, json
from ltrr.arms.explore import FreshArm
from ltrr.arms.lexical import BM25Arm
from ltrr.arms.memory import MemoryArm
from ltrr.arms.popularity import PopularityArm
from ltrr.bandit.features import ContextFeaturizer
from ltrr.bandit.linear import LinTSPolicy
from ltrr.data.music import QueryGenerator, build_world
from ltrr.pipeline import InteractionLog, RetrievePipeline
from ltrr.rerank.fusion import RRFFusion
from ltrr.simulate.click_models import PositionBasedModel
from ltrr.simulate.loop import run_online
w = build_world(0, n_artists=20, n_playlists=15, n_podcasts=6, n_users=30, fresh_share=0.15)
arms = {"bm25": BM25Arm(w.docs), "memory": MemoryArm(w.docs), "popularity": PopularityArm(w.docs),
        "fresh": FreshArm(w.docs)}
feat = ContextFeaturizer(list(arms), {"rock", "sad"})
pol = LinTSPolicy(list(arms), budget=50, depths=[10, 20, 50], n_features=feat.dim)
recs = run_online(RetrievePipeline(arms, pol, feat, RRFFusion()), QueryGenerator(w, 3).generate(80),
                  PositionBasedModel(), InteractionLog(), seed=1, progress=False)
print(hashlib.sha256(json.dumps(recs, sort_keys=True).encode()).hexdigest())
"""


def run(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_runs_do_not_depend_on_hash_seed():
    assert run("1") == run("2")
