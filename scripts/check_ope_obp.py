"""Cross-check ``ltrr.eval.ope`` against zr-obp's IPW / SNIPW / DR on obp's own synthetic logs.

Usage::

    PYTHONPATH=/tmp/obp_pkgs .venv/bin/python scripts/check_ope_obp.py [--runs 5] [--rounds 10000] [--clip 20]

obp is not a project dependency: it pins ``torch`` and imports it (and pandas, seaborn) at import time, so never
``pip install obp`` into the project venv. A throwaway package folder that reuses the venv's own torch, numpy, scipy and
scikit-learn works (obp 0.5.7 declares ``python<3.11`` but runs on 3.11)::

    .venv/bin/pip download "obp==0.5.7" --no-deps --ignore-requires-python -d /tmp/obp_dl
    tar xzf /tmp/obp_dl/obp-0.5.7.tar.gz -C /tmp/obp_dl && mkdir -p /tmp/obp_pkgs
    cp -r /tmp/obp_dl/obp-0.5.7/obp /tmp/obp_pkgs/
    .venv/bin/pip install --target /tmp/obp_pkgs --no-deps pandas seaborn

Setting, as obp ``examples/synthetic``: ``SyntheticBanditDataset(n_actions=30, dim_context=5, beta=-3,
logistic_reward_function)``, a train and a test sample of ``--rounds`` rounds each, and an ``IPWLearner``
(LogisticRegression, C=100) fitted on the train sample as the evaluation policy. Two evaluation policies are checked:
the learner's deterministic choice (``predict``) and its softmax (``predict_proba``, tau=0.1).

Checks, per run and policy, on identical inputs (logs, action_dist, and for DR the same q̂ table from obp's
``RegressionModel`` with 3-fold cross-fitting, injected into ours through ``q_fn``): |ours − obp| for IPS, SNIPS, DR,
and for IPS and DR clipped at ``--clip`` (obp ``lambda_``). The relative error against the ground truth is also
reported, for obp's DR and for ours with its own cross-fitted default reward model. Exits 1 if any |diff| > 1e-9.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from ltrr.eval.ope import IPS, SNIPS, BanditLogs, DoublyRobust, TargetPmf  # noqa: E402

log = logging.getLogger("check_ope_obp")
TOL = 1e-9


def one_run(seed: int, n_rounds: int, clip: float) -> list[dict]:
    from obp.dataset import SyntheticBanditDataset, logistic_reward_function
    from obp.ope import DoublyRobust as ObpDR
    from obp.ope import InverseProbabilityWeighting as ObpIPW
    from obp.ope import RegressionModel
    from obp.ope import SelfNormalizedInverseProbabilityWeighting as ObpSNIPW
    from obp.policy import IPWLearner

    data = SyntheticBanditDataset(n_actions=30, dim_context=5, reward_function=logistic_reward_function, beta=-3,
                                  random_state=seed)
    train, test = data.obtain_batch_bandit_feedback(n_rounds), data.obtain_batch_bandit_feedback(n_rounds)
    learner = IPWLearner(n_actions=data.n_actions,
                         base_classifier=LogisticRegression(max_iter=10000, C=100, random_state=12345))
    learner.fit(context=train["context"], action=train["action"], reward=train["reward"], pscore=train["pscore"])
    q_table = RegressionModel(n_actions=data.n_actions, action_context=data.action_context,
                              base_model=LogisticRegression(max_iter=10000, C=100, random_state=12345)).fit_predict(
        context=test["context"], action=test["action"], reward=test["reward"], n_folds=3, random_state=12345)
    logs = BanditLogs(test["context"], test["action"], test["reward"], test["pscore"])
    q_fn = lambda rounds, actions: q_table[rounds, np.asarray(actions), 0]  # noqa: E731
    kw = dict(reward=test["reward"], action=test["action"], pscore=test["pscore"])
    rows = []
    for policy, dist in (("deterministic", learner.predict(test["context"])),
                         ("softmax", learner.predict_proba(test["context"], tau=0.1))):
        target = TargetPmf.from_dense(dist[:, :, 0], range(data.n_actions))
        truth = data.calc_ground_truth_policy_value(expected_reward=test["expected_reward"], action_dist=dist)
        pairs = {
            "ips": (IPS(), ObpIPW(), {}),
            "snips": (SNIPS(), ObpSNIPW(), {}),
            "dr": (DoublyRobust(), ObpDR(), dict(estimated_rewards_by_reg_model=q_table)),
            f"ips@clip{clip:g}": (IPS(clip=clip), ObpIPW(lambda_=clip), {}),
            f"dr@clip{clip:g}": (DoublyRobust(clip=clip), ObpDR(lambda_=clip),
                                 dict(estimated_rewards_by_reg_model=q_table)),
        }
        for name, (ours, theirs, extra) in pairs.items():
            mine = ours.estimate(logs, target, q_fn=q_fn).value
            obp_value = float(theirs.estimate_policy_value(action_dist=dist, **kw, **extra))
            rows.append(dict(seed=seed, policy=policy, estimator=name, ours=mine, obp=obp_value, truth=truth))
        own = DoublyRobust(n_folds=3, n_bootstrap=1).estimate(logs, target).value
        rows.append(dict(seed=seed, policy=policy, estimator="dr(own q̂)", ours=own, obp=rows[-3]["obp"], truth=truth))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--clip", type=float, default=20.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("ltrr").setLevel(logging.WARNING)
    try:
        import obp
    except ImportError:
        log.error("obp is not importable; see this script's docstring for a throwaway install that keeps torch as is")
        return 2
    log.info("obp %s, numpy %s", obp.__version__, np.__version__)
    rows = [r for seed in range(args.runs) for r in one_run(seed, args.rounds, args.clip)]
    log.info("%-4s %-13s %-11s %12s %12s %9s %10s %10s", "seed", "policy", "estimator", "ours", "obp", "|diff|",
             "rel.err", "obp rel")
    worst = 0.0
    for r in rows:
        diff = abs(r["ours"] - r["obp"])
        if not r["estimator"].startswith("dr(own"):
            worst = max(worst, diff)
        log.info("%-4d %-13s %-11s %12.9f %12.9f %9.1e %10.5f %10.5f", r["seed"], r["policy"], r["estimator"],
                 r["ours"], r["obp"], diff, abs(r["ours"] - r["truth"]) / r["truth"],
                 abs(r["obp"] - r["truth"]) / r["truth"])
    for policy in ("deterministic", "softmax"):
        mean = {e: np.mean([abs(r["ours"] - r["truth"]) / r["truth"] for r in rows
                            if r["policy"] == policy and r["estimator"] == e])
                for e in ("ips", "snips", "dr", "dr(own q̂)")}
        log.info("%s policy, mean relative error over %d runs (ours): %s", policy, args.runs,
                 ", ".join(f"{k} {v:.4f}" for k, v in mean.items()))
    log.info("max |ours - obp| on identical inputs: %.2e (tolerance %.0e)", worst, TOL)
    return 0 if worst <= TOL else 1


if __name__ == "__main__":
    sys.exit(main())
