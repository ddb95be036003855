"""Pickle-free state files: round trip of nested arrays and JSON, any key, atomic writes, clear errors."""

import numpy as np
import pytest

from ltrr.utils.statefile import load_state, save_state


def test_round_trip_of_a_nested_state(tmp_path):
    state = {"t": 3, "post": {"zz": np.eye(3), "n": np.arange(4, dtype=np.int64)}, "name": "lints",
             "table": {"ac/dc": {"stats": {"d1": [1.0, 2.0]}}, "__json__x": None},
             "f32": np.float32(1.5), "ids": np.array(["a", "bé"]), "empty": {}}
    save_state(tmp_path / "s.npz", state)
    back = load_state(tmp_path / "s.npz")
    assert back["t"] == 3 and back["name"] == "lints" and back["f32"] == 1.5 and back["empty"] == {}
    np.testing.assert_array_equal(back["post"]["zz"], np.eye(3))
    assert back["post"]["n"].dtype == np.int64 and list(back["ids"]) == ["a", "bé"]
    assert back["table"] == {"ac/dc": {"stats": {"d1": [1.0, 2.0]}}, "__json__x": None}
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]  # no temporary file left behind


def test_overwrite_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "s.npz"
    save_state(path, {"v": np.zeros(2)})
    with pytest.raises(TypeError, match="'bad'"):
        save_state(path, {"v": np.ones(2), "bad": object()})
    np.testing.assert_array_equal(load_state(path)["v"], np.zeros(2))  # the old file survives a failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


def test_what_is_refused(tmp_path):
    with pytest.raises(TypeError, match="'x/y'"):
        save_state(tmp_path / "o.npz", {"x": {"y": np.array([{}], dtype=object)}})
    with pytest.raises(ValueError, match="reserved"):
        save_state(tmp_path / "r.npz", {"x": {"__array__": "a0"}})
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(ValueError, match="junk.npz"):
        load_state(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(1))
    with pytest.raises(ValueError, match="not an ltrr state file"):
        load_state(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", __json__=np.array("{}"), a0=np.array([{}], dtype=object))
    with pytest.raises(ValueError, match="pickled.npz"):  # object arrays would need pickle: never loaded
        load_state(tmp_path / "pickled.npz")


def test_detached_copies_are_out_of_reach_of_later_changes():
    import numpy as np

    from ltrr.utils.statefile import detached

    live = {"a": np.zeros(3), "nested": {"b": np.ones(2)}, "lst": [1, 2], "s": "x"}
    copy = detached(live)
    live["a"][0], live["nested"]["b"][1] = 5, 7
    live["lst"].append(3)
    assert copy["a"][0] == 0 and copy["nested"]["b"][1] == 1 and copy["lst"] == [1, 2] and copy["s"] == "x"
