"""Vowpal Wabbit ``--cb_explore_adf`` over allocation templates: the flat-action peer of the allocation policies.

The allocation space is too large for a flat contextual bandit (2,914 actions at K = 7, B = 100), so VW chooses among
templates (BANDIT.md §3): every arm alone at the largest depth, every pair of arms sharing the budget, every triple,
and the even split. The shared features are the context; each action's features are ``n_k / B`` per arm. The cost is
0 when a clicked item was in the union and 1 otherwise. Requires the ``vowpalwabbit`` package (extra ``bench``).
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from ltrr.bandit.allocation import AllocationSpace
from ltrr.bandit.base import DepthLabels, Policy
from ltrr.types import Allocation, Decision

EXPLORATION = {"squarecb": "--squarecb --gamma_scale {gamma_scale} --gamma_exponent {gamma_exponent}",
               "epsilon": "--epsilon {epsilon}"}


def allocation_templates(space: AllocationSpace, max_group: int = 3) -> list[Allocation]:
    """Singles at the largest depth, then groups of 2..``max_group`` arms at the largest depth ``<= B / size``, and
    the even split ``B / K`` per arm when it fits the grid; duplicates removed, order kept."""
    K, B, out = space.n_arms, space.budget, []
    for size in range(1, min(max_group, K) + 1):
        fit = [d for d in space.depths if d <= B // size]
        if not fit:
            break
        for group in itertools.combinations(range(K), size):
            out.append(tuple(fit[-1] if k in group else 0 for k in range(K)))
    even = [d for d in space.depths if d <= B // K]
    if even:
        out.append((even[-1],) * K)
    return list(dict.fromkeys(out))


class VWPolicy(Policy):
    """Contextual bandit over allocation templates with Vowpal Wabbit's ``cb_explore_adf``.

    Parameters
    ----------
    *args
        See :class:`~ltrr.bandit.base.Policy`.
    exploration : {"squarecb", "epsilon"}
    gamma_scale, gamma_exponent : float
        SquareCB's ``γ = gamma_scale · t^gamma_exponent`` (VW defaults 10 and 0.5).
    epsilon : float
        Exploration rate of ``--epsilon`` (VW wiki default 0.05).
    max_group : int
        Largest arm group among the templates.
    extra : str
        More VW arguments (e.g. ``--interactions sa``).
    name : str
    """

    def __init__(self, *args, exploration: str = "squarecb", gamma_scale: float = 10.0, gamma_exponent: float = 0.5,
                 epsilon: float = 0.05, max_group: int = 3, extra: str = "--interactions sa", name: str = "vw",
                 **kwargs) -> None:
        super().__init__(*args, name=name, **kwargs)
        if exploration not in EXPLORATION:
            raise ValueError(f"exploration must be one of {sorted(EXPLORATION)}, got {exploration!r}")
        self.args = "--cb_explore_adf --quiet " + EXPLORATION[exploration].format(
            gamma_scale=gamma_scale, gamma_exponent=gamma_exponent, epsilon=epsilon) + f" {extra}"
        self.templates = allocation_templates(self.space, max_group)
        B = self.space.budget
        self._action_lines = ["|a " + " ".join(f"{a}:{n / B:.4f}" for a, n in zip(self.arm_tokens, tpl) if n)
                              for tpl in self.templates]
        self.reset(self.seed)

    @property
    def arm_tokens(self) -> list[str]:
        return [f"arm{k}" for k in range(len(self.arms))]

    def reset(self, seed: int) -> None:
        from vowpalwabbit import pyvw

        super().reset(seed)
        if getattr(self, "vw", None) is not None:
            self.vw.finish()
        self.vw = pyvw.Workspace(self.args + f" --random_seed {int(seed)}")

    def _lines(self, context: np.ndarray, label: tuple[int, float, float] | None = None) -> list[str]:
        shared = "shared |s " + " ".join(f"f{i}:{v:.5g}" for i, v in enumerate(np.asarray(context, float)) if v)
        lines = [shared] + list(self._action_lines)
        if label is not None:
            i, cost, prob = label
            lines[i + 1] = f"0:{cost}:{prob} {lines[i + 1]}"
        return lines

    def pmf(self, context: np.ndarray) -> dict[tuple[int, ...], float]:
        """VW's distribution over the templates (other allocations have probability 0)."""
        p = np.asarray(self.vw.predict(self._lines(context)), dtype=float)
        p = p / p.sum()
        return {tpl: float(v) for tpl, v in zip(self.templates, p)}

    def select(self, context: np.ndarray) -> Decision:
        pmf = self.pmf(context)
        probs = np.array(list(pmf.values()))
        i = int(self.rng.choice(len(probs), p=probs))
        return self._decision(self.templates[i], float(probs[i]), template=i)

    def update(self, context: np.ndarray, decision: Decision, labels: DepthLabels) -> None:
        i = decision.info.get("template")
        if i is None:
            i = self.templates.index(tuple(decision.allocation))
        cost = 0.0 if float(np.max(labels.y * labels.mask, initial=0.0)) > 0 else 1.0
        self.vw.learn(self._lines(context, (int(i), cost, max(float(decision.propensity), 1e-6))))

    def state_dict(self) -> dict[str, Any]:
        """Not supported: VW's model is not exported (the policy restarts from scratch)."""
        return {}
