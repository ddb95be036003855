"""The dual learning algorithm (DLA; Ai et al. 2018, "Unbiased learning to rank with unbiased propensity estimation").

Two models learn from the same clicks, each correcting the other's bias:

- the ranking model ``f(x)`` (here the MLP of :class:`~ltrr.rerank.neural_ranker.NeuralListwiseRanker`) minimises the
  inverse-propensity-weighted softmax cross-entropy ``-Σ_{clicked d} (P̂(e_1) / P̂(e_{k_d})) log softmax(f)_d``;
- the propensity model, one logit ``γ_k`` per display position with ``P̂(e_k) = softmax(γ)_k``, minimises the
  inverse-*relevance*-weighted cross-entropy ``-Σ_{clicked d} (P̂(r_{d_1}) / P̂(r_d)) log softmax(γ)_{k_d}`` over the
  positions of the impression, where ``P̂(r) = softmax(f)`` over its items and ``d_1`` is the item shown first.

Under the position-based model examination and relevance play symmetric roles, so each weight makes the other
model's objective unbiased; at the joint optimum ``P̂(e_k) / P̂(e_1) = θ_k / θ_1``. No intervention is needed: the
examination propensities come out of the ordinary click log, as a by-product of training the ranker. Each weight is
the other model's current estimate, held constant in the gradient, and clipped at ``clip``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ltrr.losses.ltr import listwise_softmax_loss
from ltrr.rerank.neural_ranker import NeuralListwiseRanker
from ltrr.rerank.ranker import ListData

log = logging.getLogger(__name__)


class DualLearningRanker(NeuralListwiseRanker):
    """Neural listwise ranker and position propensities learned jointly from click lists (DLA).

    Parameters
    ----------
    hidden, epochs, batch_lists, lr, weight_decay, min_steps, seed
        The ranking MLP and its Adam schedule, as :class:`~ltrr.rerank.neural_ranker.NeuralListwiseRanker`.
    n_positions : int
        Positions with a propensity logit; deeper rows share the last one.
    propensity_lr : float
        Adam learning rate of the propensity logits.
    clip : float, optional
        Largest weight on either side (``P̂(e_1) / P̂(e_k)`` and ``P̂(r_{d_1}) / P̂(r_d)``).
    name : str

    Attributes
    ----------
    propensities_ : numpy.ndarray, shape ``(n_positions,)``
        ``θ̂_k / θ̂_1`` after :meth:`fit` (``θ̂_1 = 1``). Unconstrained, as in the paper: on little data a deeper
        position can come out above 1; clip before using them as IPS propensities elsewhere.

    Notes
    -----
    :meth:`fit` needs :attr:`ListData.positions` (the click lists carry them) and ignores the lists' weights: the
    propensities are what this ranker estimates.
    """

    def __init__(self, hidden: tuple[int, ...] = (64, 32), n_positions: int = 10, epochs: int = 10,
                 batch_lists: int = 256, lr: float = 3e-3, propensity_lr: float = 0.01, weight_decay: float = 1e-5,
                 min_steps: int = 1000, clip: float | None = 100.0, seed: int = 0, name: str = "dla") -> None:
        super().__init__(hidden=hidden, epochs=epochs, batch_lists=batch_lists, lr=lr, weight_decay=weight_decay,
                         min_steps=min_steps, seed=seed, name=name)
        if n_positions < 2:
            raise ValueError(f"n_positions must be >= 2, got {n_positions}")
        if clip is not None and clip < 1:
            raise ValueError(f"clip must be >= 1 (or None), got {clip}")
        self.n_positions, self.propensity_lr, self.clip = int(n_positions), float(propensity_lr), clip
        self.propensities_: np.ndarray | None = None

    def fit(self, data: ListData) -> "DualLearningRanker":
        if data.positions is None:
            raise ValueError(f"{self.name}: the training lists carry no display positions (ListData.positions); "
                             "build them with ltrr.simulate.click_logs.click_lists")
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(self.seed)
        sub, t = self._padded(replace(data, weights=np.ones(len(data.gains))))  # the weights are DLA's own
        Xp, g, m = t["X"], t["g"], t["m"]
        pos = torch.from_numpy(np.minimum(sub.positions, self.n_positions) - 1)[t["idx"]]   # (Q, L), 0-based
        first = torch.where(m, pos, self.n_positions).argmin(dim=1)                         # slot shown first
        gamma = torch.zeros(self.n_positions, requires_grad=True)
        opt_f = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        opt_g = torch.optim.Adam([gamma], lr=self.propensity_lr)
        epochs = self._epochs(len(Xp))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_f, T_max=epochs)
        cap = float("inf") if self.clip is None else float(self.clip)
        for _ in range(epochs):
            for b in torch.randperm(len(Xp), generator=gen).split(self.batch):
                s = self.net(Xp[b]).squeeze(-1)                                              # (B, L)
                mb, pb = m[b], pos[b]
                with torch.no_grad():
                    log_e = torch.log_softmax(gamma, dim=0)
                    w_rank = torch.exp(log_e[0] - log_e[pb]).clamp(max=cap)                 # P̂(e_1) / P̂(e_k)
                    log_r = torch.log_softmax(s.masked_fill(~mb, float("-inf")), dim=1)
                    top = log_r.gather(1, first[b, None])
                    w_prop = torch.exp(top - log_r).clamp(max=cap).masked_fill(~mb, 0.0)  # P̂(r_{d_1}) / P̂(r_d)
                loss_f = listwise_softmax_loss(s, g[b], w_rank, mb)
                loss_g = listwise_softmax_loss(gamma[pb], g[b], w_prop, mb)
                opt_f.zero_grad()
                opt_g.zero_grad()
                (loss_f + loss_g).backward()
                opt_f.step()
                opt_g.step()
            sched.step()
        self.net.eval()
        with torch.no_grad():
            e = torch.softmax(gamma, dim=0).double().numpy()
        self.propensities_ = e / e[0]
        log.info("%s: %d epochs on %d lists in %.1f s; propensities %s", self.name, epochs, len(Xp),
                 time.perf_counter() - t0, np.round(self.propensities_, 3).tolist())
        return self

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if state and self.propensities_ is not None:
            state["propensities"] = self.propensities_.copy()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.propensities_ = np.asarray(state["propensities"], dtype=float) if state.get("propensities") is not None \
            else None
