"""The SciFact replay-data script's helpers: ranks of every relevant document per arm, hindsight query types."""

import runpy

import numpy as np

from tests.conftest import ROOT

NS = runpy.run_path(str(ROOT / "scripts" / "bench" / "bandit_scifact_data.py"), run_name="not_main")


def test_rank_array_pads_and_marks_absent_documents():
    runs = {"bm25": {"a": ["d1", "d2", "d3"], "b": ["d4"]}, "dense": {"a": ["d3", "d9"], "b": []}}
    r = NS["rank_array"](runs, ["a", "b"], {"a": ["d3", "d2"], "b": ["d5"]}, 3)
    assert r.shape == (2, 3, 2)
    assert r[0, :, 0].tolist() == [3, 2, np.inf] and r[0, :, 1].tolist() == [1, np.inf, np.inf]
    assert np.isinf(r[1]).all()


def test_query_types_read_the_top_ten_of_bm25_and_dense():
    inf = np.inf
    r = np.array([[[1, 30]], [[30, 10]], [[2, 3]], [[11, inf]]], float)
    assert NS["query_types"](r, ["bm25", "dense"]).tolist() == ["bm25-only", "dense-only", "both", "neither"]


def test_retrieve_builds_the_zero_shot_index_when_missing(tmp_path):
    from argparse import Namespace

    from ltrr.types import Doc

    texts = {"d1": "protein folding in yeast cells", "d2": "vaccine trial outcomes", "d3": "yeast genome sequencing"}
    corpus = {k: Doc(k, "", v) for k, v in texts.items()}
    data = {"corpus": corpus, "test": {"qids": ["q1"], "texts": ["yeast protein"]},
            "train": {"qids": ["q2"], "texts": ["vaccine outcomes"]}}
    zs = tmp_path / "index_zero_shot"
    args = Namespace(zero_shot_index=zs, doc_max_length=16, top_k=2, query_max_length=16, trained=None)
    runs, emb, arms, _ = NS["retrieve"](args, data)
    assert arms == ["bm25", "dense"] and (zs / "dense.npy").exists()
    assert np.load(zs / "dense.npy").shape[0] == 3 and (zs / "doc_ids.json").read_text() == '["d1", "d2", "d3"]'
    assert runs["train"]["dense"]["q2"][0] == "d2" and emb["test"].shape[0] == 1
    mtime = (zs / "dense.npy").stat().st_mtime_ns
    NS["retrieve"](args, data)  # an existing index is reused, not rebuilt
    assert (zs / "dense.npy").stat().st_mtime_ns == mtime
