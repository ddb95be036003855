"""The bandit benchmark's aggregation: normalised regret per seed, intervals and the issue's regret targets."""

import runpy

import pytest

from tests.conftest import ROOT

NS = runpy.run_path(str(ROOT / "scripts" / "bench" / "bandit.py"), run_name="not_main")


def cells(regrets: dict[str, list[float]]) -> dict:
    """One (env, budget) cell per seed with the given cumulative regrets."""
    seeds = range(len(regrets["uniform"]))
    return {("synthetic", 100): {s: {"oracle_mu": 0.9, "policies": {
        p: {"regret": r[s], "recall": 0.8, "recall_last_20pct": 0.8} for p, r in regrets.items()}} for s in seeds}}


def test_targets_need_non_overlapping_intervals():
    out = NS["aggregate"](cells({"uniform": [1000, 1000, 1000], "lints": [500, 520, 480],
                                 "vw_squarecb": [1500, 1600, 1400], "neural_linear_ts": [150, 160, 140]}),
                          ["uniform", "lints", "vw_squarecb", "neural_linear_ts"])
    b = out["synthetic"]["budgets"]["100"]
    assert b["policies"]["neural_linear_ts"]["normalized_regret"]["mean"] == pytest.approx(15.0)
    tg = b["targets"]
    assert tg["normalized_regret_le_20"] and tg["vs_lints"]["met"] and tg["vs_vw_squarecb"]["met"]
    assert tg["vs_lints"]["ratio"]["mean"] == pytest.approx((150 / 500 + 160 / 520 + 140 / 480) / 3)


def test_targets_fail_when_the_intervals_overlap():
    out = NS["aggregate"](cells({"uniform": [1000, 1000, 1000], "lints": [500, 520, 480],
                                 "neural_linear_ts": [150, 300, 240]}), ["uniform", "lints", "neural_linear_ts"])
    tg = out["synthetic"]["budgets"]["100"]["targets"]
    assert not tg["normalized_regret_le_20"]  # mean 23
    assert not tg["vs_lints"]["met"]  # upper bound of 23 +- wide is above 0.5 x 48-52
    assert "vs_vw_squarecb" not in tg


def test_cached_cells_are_reused_under_the_same_stamp_and_without_ope():
    stamp = {"rounds": 100, "set": [], "ope": True}
    same = {"stamp": stamp, "policies": {"uniform": {}, "neural_linear_ts": {}}}
    assert NS["reusable"](same, stamp) is same
    no_ope = {"stamp": {**stamp, "ope": False}, "policies": {"uniform": {}, "neural_linear_ts": {}}}
    cell = NS["reusable"](no_ope, stamp)
    assert set(cell["policies"]) == {"uniform"} and cell["stamp"]["ope"]  # the OPE run is redone
    assert NS["reusable"]({"stamp": {**stamp, "rounds": 50}, "policies": {}}, stamp) is None
    assert NS["reusable"]({"stamp": stamp, "policies": {}}, {**stamp, "ope": False}) is None
    assert NS["reusable"](None, stamp) is None


def test_policies_see_the_streams_length():
    # the main job's warm start is a share of `rounds`; the bench composes with its own stream length, so the
    # neural-linear sampler keeps the 3,000 rounds it was tuned with at T = 20,000
    cfg = NS["compose"]("synthetic", 100, ["neural_linear_ts"], [], 20000)
    assert cfg.rounds == 20000 and cfg.policies.neural_linear_ts.warm_rounds == 3000
