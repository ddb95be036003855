import json

import pytest

from ltrr.data.beir import DatasetFormatError, load_beir
from tests.conftest import SHARED


def write(root, corpus, queries, qrels, split="test"):
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n")
    (root / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    return root


GOOD_C = [json.dumps({"_id": "d1", "title": "T1", "text": "x", "genre": "rock"}),
          json.dumps({"_id": "d2", "title": "T2", "text": "y"})]
GOOD_Q = [json.dumps({"_id": "q1", "text": "hello"})]


def test_loads_good_files_and_keeps_metadata(tmp_path):
    ds = load_beir(write(tmp_path, GOOD_C, GOOD_Q, ["q1\td1\t1"]))
    assert list(ds.corpus) == ["d1", "d2"]
    assert ds.corpus["d1"].metadata == {"genre": "rock"}
    assert ds.qrels == {"q1": {"d1": 1}}


@pytest.mark.parametrize("corpus,queries,qrels,file,line,msg", [
    (GOOD_C + ["{not json"], GOOD_Q, [], "corpus.jsonl", 3, "invalid JSON"),
    (GOOD_C + [json.dumps({"title": "no id"})], GOOD_Q, [], "corpus.jsonl", 3, "missing field '_id'"),
    (GOOD_C + [json.dumps({"_id": "d1", "text": "dup"})], GOOD_Q, [], "corpus.jsonl", 3, "duplicate _id 'd1'"),
    (GOOD_C, GOOD_Q + [json.dumps({"_id": "q2"})], [], "queries.jsonl", 2, "'text'"),
    (GOOD_C, GOOD_Q, ["q1\tnope\t1"], "test.tsv", 2, "unknown corpus id 'nope'"),
    (GOOD_C, GOOD_Q, ["qX\td1\t1"], "test.tsv", 2, "unknown query id 'qX'"),
    (GOOD_C, GOOD_Q, ["q1\td1\thigh"], "test.tsv", 2, "is not a number"),
    (GOOD_C, GOOD_Q, ["q1\td1"], "test.tsv", 2, "3 tab-separated columns"),
])
def test_malformed_input_names_file_and_line(tmp_path, corpus, queries, qrels, file, line, msg):
    root = write(tmp_path, corpus, queries, qrels)
    with pytest.raises(DatasetFormatError) as exc:
        load_beir(root)
    assert exc.value.path.endswith(file) and exc.value.line == line
    assert msg in str(exc.value) and f"{file}:{line}:" in str(exc.value)


def test_skip_mode_keeps_everything_accepted(tmp_path):
    root = write(tmp_path, GOOD_C + ["{bad", json.dumps({"_id": "d3", "text": "z"})], GOOD_Q, ["q1\td3\t2"])
    ds = load_beir(root, on_error="skip")
    assert list(ds.corpus) == ["d1", "d2", "d3"] and ds.qrels == {"q1": {"d3": 2}}
    assert len(ds.errors) == 1 and ds.errors[0].line == 3


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        load_beir(tmp_path)


@pytest.mark.skipif(not (SHARED / "beir" / "scifact").is_dir(), reason="shared data not beside the repo")
def test_loads_scifact_unchanged():
    ds = load_beir(SHARED / "beir" / "scifact", "test")
    assert (len(ds.corpus), len(ds.queries), len(ds.qrels)) == (5183, 1109, 300)
    assert sum(len(v) for v in ds.qrels.values()) == 339


@pytest.mark.skipif(not (SHARED / "music" / "spotify_songs").is_dir(), reason="shared data not beside the repo")
def test_loads_spotify_songs_unchanged():
    ds = load_beir(SHARED / "music" / "spotify_songs", "train")
    assert len(ds.corpus) == 28352 and len(ds.queries) == 376
    assert sum(len(v) for v in ds.qrels.values()) == 25630
    assert "popularity" in next(iter(ds.corpus.values())).metadata
