"""Neural-linear Thompson sampling over allocations (Riquelme et al. 2018, adapted to semi-bandit depth labels).

A small network ``g_θ([x ; e_k ; ψ(d)])`` maps the context, the arm descriptor and the depth to a representation
``z`` (``cell`` layout), or ``g_θ(x)`` maps the context alone with one head per (arm, depth) cell (``context``
layout, the reference's one output per action); Bayesian linear heads with a Normal-Inverse-Gamma posterior over
``φ(z)`` predict the hit probability ``p_{k,d}(x) = P(rank_k(i*) <= d | x)``. Each round draws one posterior sample
(its spread around the mean scaled by ``posterior_scale``), solves the allocation knapsack
exactly and plays it (with an ``eps_mix`` uniform floor so that every allocation keeps a propensity). The network is
retrained every ``train_every`` rounds on the label buffer, after which every buffered label is re-embedded and the
posterior statistics are rebuilt from scratch (BANDIT.md §1-2).
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from ltrr.bandit.base import DepthLabels, PointEstimateMixin, Policy, ThompsonMixin
from ltrr.bandit.posterior import NIGPosterior
from ltrr.types import Decision

log = logging.getLogger(__name__)
HEAD_MODES = ("per_arm", "shared", "hybrid")
REPRESENTATIONS = ("cell", "context")
LR_MODES = ("faithful", "reset")


class _Net(torch.nn.Module):
    """ReLU MLP trunk ``z = g(input)`` and a linear training head ``w_uᵀz + c_u`` per unit (arm or cell)."""

    def __init__(self, n_in: int, hidden: Sequence[int], n_units: int, init_scale: float, gen: torch.Generator):
        super().__init__()
        layers: list[torch.nn.Module] = []
        prev = n_in
        for h in hidden:
            layers += [torch.nn.Linear(prev, h), torch.nn.ReLU()]
            prev = h
        self.trunk = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(prev, n_units)
        with torch.no_grad():
            for prm in self.parameters():  # U(-s, s) as in the reference
                prm.copy_(torch.rand(prm.shape, generator=gen) * 2 * init_scale - init_scale)

    def forward(self, inp: torch.Tensor, unit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.trunk(inp)
        return z, self.head(z).gather(1, unit[:, None])[:, 0]


class _Buffer:
    """FIFO store of labelled cells: network input row, unit index, label and weight (at most ``cap`` cells)."""

    def __init__(self, n_in: int, cap: int) -> None:
        self.cap, self.size, self.head = cap, 0, 0
        self.inp = np.zeros((cap, n_in), dtype=np.float32)
        self.arm = np.zeros(cap, dtype=np.int64)
        self.y = np.zeros(cap)
        self.w = np.zeros(cap)

    def add(self, inp: np.ndarray, arm: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        n = min(len(y), self.cap)  # more rows than the capacity: only the last ``cap`` survive
        j = (self.head + np.arange(len(y) - n, len(y))) % self.cap
        self.inp[j], self.arm[j], self.y[j], self.w[j] = inp[-n:], arm[-n:], y[-n:], w[-n:]
        self.head = (self.head + len(y)) % self.cap
        self.size = min(self.size + len(y), self.cap)

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        n = self.size
        return self.inp[:n], self.arm[:n], self.y[:n], self.w[:n]


class NeuralLinearTSPolicy(ThompsonMixin, Policy):
    """Neural-linear combinatorial Thompson sampling with depth-censored semi-bandit labels.

    Parameters
    ----------
    *args
        See :class:`~ltrr.bandit.base.Policy`.
    hidden : sequence of int
        Trunk widths; the last is the representation size ``d_z`` (reference: ``[50]``).
    representation : {"cell", "context"}
        ``cell``: ``z = g([x ; e_k ; ψ(d)])``, one representation per (arm, depth) cell, so arm descriptors can be
        shared by arms; ``context``: ``z = g(x)`` with one linear head per (arm, depth) cell, as the reference's
        network has one output per action (here the semi-bandit cells are the actions).
    head_mode : {"per_arm", "shared", "hybrid"}
        ``per_arm``: an independent posterior over ``z`` per unit (the reference): per arm with the ``cell``
        representation, per (arm, depth) cell with ``context``; ``shared``: one posterior over ``z``; ``hybrid``:
        one posterior over ``[z ; z ⊗ onehot_k]`` (both ``cell`` only).
    arm_features : mapping of arm name to sequence of float, optional
        Static arm descriptors appended to the one-hot ``e_k`` (e.g. family, index size); equal lengths
        (``cell`` only).
    intercept : bool
        Append a constant to ``z`` in the posterior features ``φ``, the counterpart of the training head's bias
        (the reference's heads have none).
    posterior_scale : float
        Multiplies the spread of each draw around the posterior mean (``β̃ = μ + ν (β̃ − μ)``; 1 is plain Thompson
        sampling, 0 plays the posterior mean), the exploration scale of practical TS (Chapelle & Li 2011).
    lam, a0, b0 : float
        NIG prior (reference 0.25, 6, 6).
    lr : float
        Initial learning rate of RMSProp; decays as ``lr / (1 + lr_decay · step)``.
    lr_decay : float
    lr_mode : {"faithful", "reset"}
        ``faithful``: ``step`` counts every minibatch since the start, so the representation freezes over time (what
        the reference code does); ``reset``: ``step`` restarts at every retrain (what its ``reset_lr`` intends).
    train_every : int
        Rounds between retrains of the network (``F_nn``).
    train_steps : int
        Minibatch steps per retrain.
    batch_size : int
        Minibatch size (sampled with replacement from the buffer).
    max_grad_norm, init_scale : float
    weight_decay : float
        L2 penalty on the network's weights (RMSProp's ``weight_decay``); it regularises the representation while
        the buffer is small.
    weight_decay_ref : int
        ``0``: the penalty is constant. Otherwise a retrain at round ``t`` uses ``weight_decay · ref / max(t, ref)``:
        a fixed Gaussian prior on the weights weighed against a mean loss over a growing buffer (the MAP scaling),
        so the penalty fades as data accumulates.
    buffer_size : int
        Labelled cells kept (FIFO).
    n_samples : int
        Extra posterior draws used to estimate the propensity of the played allocation.
    eps_mix : float
        Probability of playing a uniformly random allocation.
    initial_pulls : int
        Round-robin warm-up: each arm alone at the largest depth, ``initial_pulls · |D|`` times per arm.
    warm_rounds : int
        Non-contextual warm start: until round ``warm_rounds`` each draw blends the network's with a draw from a
        Beta(1 + hits, 1 + misses) posterior per (arm, depth) cell, pooled over all contexts, with the network's
        weight ``t / warm_rounds`` rising from 0 to 1. Early on, when the representation is still untrained, the
        pooled rates already find the best static allocation; ``0`` turns it off.
    warm_strata : sequence of int
        Context columns that split the warm start's pooled rates into strata (e.g. the slot indicators of query
        understanding): a context's stratum is its first column in this list that is positive, or a last
        "none" stratum when none is; each stratum keeps its own Beta per cell, so queries of a rare class (e.g.
        "play something for me") are not steered by the pooled rates of the rest. Empty (default): one pool.
    warm_scale : float
        Spread of the pooled Beta draws around their means (as ``posterior_scale`` for the network's draws; 1:
        plain Beta draws).
    standardize : bool
        Feed the network z-scored context columns: mean and standard deviation over the buffer, refreshed at every
        retrain (the posterior is rebuilt then anyway). An L2 penalty otherwise suppresses low-variance features.
    name : str
    """

    uses_posterior = True  # False: the network's own head decides; the NIG statistics are not kept
    defer_retrain = False  # True (a server): a due retrain only sets retrain_due; see begin_retrain

    def __init__(self, *args, hidden: Sequence[int] = (50,), representation: str = "cell", head_mode: str = "per_arm",
                 intercept: bool = False, posterior_scale: float = 1.0,
                 arm_features: Mapping[str, Sequence[float]] | None = None, lam: float = 0.25, a0: float = 6.0,
                 b0: float = 6.0, lr: float = 0.01, lr_decay: float = 0.5, lr_mode: str = "reset",
                 train_every: int = 50, train_steps: int = 100, batch_size: int = 512, max_grad_norm: float = 5.0,
                 init_scale: float = 0.3, weight_decay: float = 0.0, weight_decay_ref: int = 0,
                 buffer_size: int = 200_000, n_samples: int = 100, eps_mix: float = 0.02, initial_pulls: int = 1,
                 warm_rounds: int = 0, warm_scale: float = 1.0, warm_strata: Sequence[int] = (),
                 standardize: bool = False, name: str = "neural_linear_ts", **kwargs) -> None:
        super().__init__(*args, name=name, **kwargs)
        if head_mode not in HEAD_MODES:
            raise ValueError(f"head_mode must be one of {HEAD_MODES}, got {head_mode!r}")
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
        if representation == "context" and (head_mode != "per_arm" or arm_features):
            raise ValueError("representation='context' has one head per (arm, depth) cell: it needs "
                             "head_mode='per_arm' and no arm_features")
        if lr_mode not in LR_MODES:
            raise ValueError(f"lr_mode must be one of {LR_MODES}, got {lr_mode!r}")
        if not 0 <= eps_mix <= 1:
            raise ValueError(f"eps_mix must be in [0, 1], got {eps_mix}")
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list positive widths, got {list(hidden)}")
        for key, val in (("n_samples", n_samples), ("train_every", train_every), ("train_steps", train_steps),
                         ("batch_size", batch_size), ("buffer_size", buffer_size)):
            if int(val) < 1:
                raise ValueError(f"{key} must be >= 1, got {val}")
        self.hidden, self.head_mode, self.lr_mode = [int(h) for h in hidden], head_mode, lr_mode
        self.representation, self.intercept = representation, bool(intercept)
        if posterior_scale < 0:
            raise ValueError(f"posterior_scale must be >= 0, got {posterior_scale}")
        self.posterior_scale = float(posterior_scale)
        self.hyper = dict(lam=lam, a0=a0, b0=b0)
        self.lr, self.lr_decay, self.max_grad_norm, self.init_scale = lr, lr_decay, max_grad_norm, init_scale
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if int(weight_decay_ref) < 0:
            raise ValueError(f"weight_decay_ref must be >= 0, got {weight_decay_ref}")
        self.weight_decay, self.weight_decay_ref = float(weight_decay), int(weight_decay_ref)
        self.train_every, self.train_steps, self.batch_size = int(train_every), int(train_steps), int(batch_size)
        self.buffer_size, self.n_samples, self.eps_mix = int(buffer_size), int(n_samples), float(eps_mix)
        self.initial_pulls = int(initial_pulls)
        if int(warm_rounds) < 0:
            raise ValueError(f"warm_rounds must be >= 0, got {warm_rounds}")
        self.warm_rounds = int(warm_rounds)
        if warm_scale < 0:
            raise ValueError(f"warm_scale must be >= 0, got {warm_scale}")
        self.warm_scale = float(warm_scale)
        self.warm_strata = np.asarray([int(c) for c in warm_strata], dtype=np.int64)
        bad = [int(c) for c in self.warm_strata if not 0 <= c < self.n_features]
        if bad:
            raise ValueError(f"warm_strata: columns {bad} outside the context's {self.n_features}")
        self.standardize = bool(standardize)
        self.static_inputs = self._static_inputs(arm_features)
        if representation == "context":
            self.static_inputs = self.static_inputs[:, :0]
        self.n_in = self.n_features + self.static_inputs.shape[1]
        self.reset(self.seed)

    # ----- construction -------------------------------------------------------------------------------------------
    def _static_inputs(self, arm_features: Mapping[str, Sequence[float]] | None) -> np.ndarray:
        """``[e_k ; arm features ; log d / log B ; d / B]`` for every (arm, depth) cell, shape ``(K·|D|, s)``."""
        K, D, B = len(self.arms), self.space.depths, self.space.budget
        extra = np.zeros((K, 0))
        if arm_features:
            missing = [a for a in self.arms if a not in arm_features]
            if missing:
                raise ValueError(f"arm_features: no descriptor for arms {missing}")
            extra = np.array([list(map(float, arm_features[a])) for a in self.arms])
        rows = [np.concatenate([np.eye(K)[k], extra[k], [math.log(d) / math.log(max(B, 2)), d / B]])
                for k in range(K) for d in D]
        return np.asarray(rows, dtype=np.float32)

    def reset(self, seed: int) -> None:
        super().reset(seed)
        gen = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        self.net = _Net(self.n_in, self.hidden, self._n_units(), self.init_scale, gen)
        self.opt = torch.optim.RMSprop(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        self.step = 0  # minibatch steps (faithful lr schedule)
        n_blocks = self._n_units() if self.head_mode == "per_arm" else 1
        self.post = NIGPosterior(n_blocks, self._phi_dim(), **self.hyper)
        self.buffer = _Buffer(self.n_in, self.buffer_size)
        self.t = 0
        self.retrains = 0
        self.retrain_due = False
        n_cells = len(self.arms) * len(self.space.depths)
        n_strata = len(self.warm_strata) + 1
        # pooled labels of the warm start, per stratum: (n_strata, n_cells)
        self.cell_hits, self.cell_weight = np.zeros((n_strata, n_cells)), np.zeros((n_strata, n_cells))
        self.in_shift, self.in_scale = np.zeros(self.n_in, np.float32), np.ones(self.n_in, np.float32)

    def _n_units(self) -> int:
        """Training heads: one per arm (``cell``) or per (arm, depth) cell (``context``)."""
        return len(self.arms) * (len(self.space.depths) if self.representation == "context" else 1)

    def _phi_dim(self) -> int:
        dz = self.hidden[-1] + int(self.intercept)
        return dz * (len(self.arms) + 1) if self.head_mode == "hybrid" else dz

    # ----- representation -----------------------------------------------------------------------------------------
    def _cell_inputs(self, context: np.ndarray) -> np.ndarray:
        """Network inputs of every (arm, depth) cell for one context, shape ``(K·|D|, n_in)``."""
        x = np.broadcast_to(np.asarray(context, dtype=np.float32), (len(self.static_inputs), self.n_features))
        return np.concatenate([x, self.static_inputs], axis=1)

    def _input_scaling(self, inp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shift and scale of the network's inputs, ``(n_in,)`` each: z-scores of the context columns over ``inp``
        (``standardize``; constant columns are only centred) or the identity."""
        shift, scale = np.zeros(self.n_in, np.float32), np.ones(self.n_in, np.float32)
        if self.standardize and len(inp):
            c = inp[:, :self.n_features]
            sd = c.std(axis=0)
            shift[:self.n_features], scale[:self.n_features] = c.mean(axis=0), np.where(sd > 1e-6, sd, 1.0)
        return shift, scale

    def _scaled(self, inp: np.ndarray, shift: np.ndarray | None = None, scale: np.ndarray | None = None) -> np.ndarray:
        """Network inputs after an input scaling (default: the current one), ``(n, n_in)`` float32."""
        if not self.standardize:
            return inp
        shift = self.in_shift if shift is None else shift
        return ((inp - shift) / (self.in_scale if scale is None else scale)).astype(np.float32)

    @torch.no_grad()
    def _embed(self, inp: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Representation ``z`` of (raw) network inputs, shape ``(n, d_z)``, float64."""
        inp = self._scaled(inp)
        out = [self.net.trunk(torch.from_numpy(np.ascontiguousarray(inp[i:i + batch]))).double().numpy()
               for i in range(0, len(inp), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.hidden[-1]))

    def _phi(self, z: np.ndarray, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior features and block of each row (``unit``: arm or cell index): ``(φ (n, dim), block (n,))``."""
        if self.intercept:
            z = np.concatenate([z, np.ones((len(z), 1))], axis=1)
        if self.head_mode == "per_arm":
            return z, unit
        if self.head_mode == "shared":
            return z, np.zeros(len(z), dtype=np.int64)
        onehot = np.eye(len(self.arms))[unit]
        cross = (onehot[:, :, None] * z[:, None, :]).reshape(len(z), -1)
        return np.concatenate([z, cross], axis=1), np.zeros(len(z), dtype=np.int64)

    def _cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Arm and depth index of every cell, in :meth:`_cell_inputs` order."""
        K, nd = len(self.arms), len(self.space.depths)
        return np.repeat(np.arange(K), nd), np.tile(np.arange(nd), K)

    def _units(self) -> np.ndarray:
        """Head/posterior unit of every cell: its arm (``cell``) or the cell itself (``context``)."""
        arm, _ = self._cells()
        return np.arange(len(arm)) if self.representation == "context" else arm

    # ----- decisions ----------------------------------------------------------------------------------------------
    def sample_probs(self, context: np.ndarray, m: int) -> np.ndarray:
        """Hit probabilities under ``m`` posterior draws, shape ``(m, n_arms, n_depths)``."""
        phi, block = self._phi(self._embed(self._cell_inputs(context)), self._units())
        beta = self.post.sample(m, self.rng)  # (m, blocks, dim)
        if self.posterior_scale != 1.0:
            beta = self.post.mu[None] + self.posterior_scale * (beta - self.post.mu[None])
        p = np.einsum("mcd,cd->mc", beta[:, block], phi)
        if self.t < self.warm_rounds:
            st = self._stratum(context)
            a, b = 1.0 + self.cell_hits[st], 1.0 + self.cell_weight[st] - self.cell_hits[st]
            pooled = self.rng.beta(a, b, size=p.shape)
            if self.warm_scale != 1.0:
                mean = a / (a + b)
                pooled = mean + self.warm_scale * (pooled - mean)
            share = self.t / self.warm_rounds
            p = share * p + (1.0 - share) * pooled
        return p.reshape(m, len(self.arms), len(self.space.depths))

    def _stratum(self, context: np.ndarray) -> int:
        """Warm-start stratum of a context: the first positive column of ``warm_strata`` (``len``: none)."""
        if not len(self.warm_strata):
            return 0
        on = np.flatnonzero(np.asarray(context)[self.warm_strata] > 0)
        return int(on[0]) if len(on) else len(self.warm_strata)

    def snapshot_id(self) -> int:
        """Number of network retrains so far (the representation the posterior lives on)."""
        return self.retrains

    def mean_probs(self, context: np.ndarray) -> np.ndarray:
        """Posterior-mean hit probabilities, shape ``(n_arms, n_depths)`` (for calibration plots)."""
        phi, block = self._phi(self._embed(self._cell_inputs(context)), self._units())
        return np.einsum("cd,cd->c", self.post.mu[block], phi).reshape(len(self.arms), len(self.space.depths))

    # ----- learning -----------------------------------------------------------------------------------------------
    def update(self, context: np.ndarray, decision: Decision, labels: DepthLabels) -> None:
        cells = np.flatnonzero(labels.mask.ravel())
        if len(cells):
            unit = self._units()[cells]
            inp = self._cell_inputs(context)[cells]
            y = labels.y.ravel()[cells].astype(float)
            w = np.full(len(cells), float(labels.weight))
            self.buffer.add(inp, unit, y, w)
            st = self._stratum(context)
            np.add.at(self.cell_hits[st], cells, w * y)
            np.add.at(self.cell_weight[st], cells, w)
            if self.uses_posterior:
                phi, block = self._phi(self._embed(inp), unit)
                self.post.update(block, phi, y, w)
        if self.t % self.train_every == 0 and self.buffer.size:
            if self.defer_retrain:
                self.retrain_due = True  # the server runs begin_retrain's job off its lock
            else:
                self.retrain()

    def retrain(self) -> None:
        """``train_steps`` minibatch steps on the buffer, then re-embed every label and rebuild the posterior."""
        inp, arm, y, w = self.buffer.view()
        self._set_weight_decay(self.opt)
        self.in_shift, self.in_scale = self._input_scaling(inp)
        self.step, loss = self._fit(self.net, self.opt, self.step, self._scaled(inp), arm, y, w, self.rng)
        self._install_network()
        log.debug("%s retrain %d: %d labels, last loss %.4f", self.name, self.retrains, len(y), loss)

    def begin_retrain(self) -> Callable[[], Callable[[], None]]:
        """Retraining off a server's lock (``defer_retrain``): call this under the lock that guards the policy.

        It copies the buffer, the network and its optimiser, and returns a job to run without the lock. The job
        trains the copy and returns an ``install`` step to call under the lock again. ``install`` puts the new
        network in place, re-embeds every label buffered by then and rebuilds the posterior. Decisions made while
        the job runs use the previous network. The job's minibatches come from a generator drawn from this
        policy's, so no random stream is shared across threads.
        """
        self.retrain_due = False
        inp, arm, y, w = (a.copy() for a in self.buffer.view())
        net = copy.deepcopy(self.net)
        opt = torch.optim.RMSprop(net.parameters(), lr=self.lr)
        opt.load_state_dict(self.opt.state_dict())
        self._set_weight_decay(opt)  # the state's groups carry the previous retrain's penalty
        step0, rng = self.step, np.random.default_rng(self.rng.integers(2**63))

        def job() -> Callable[[], None]:
            shift, scale = self._input_scaling(inp)
            step, loss = self._fit(net, opt, step0, self._scaled(inp, shift, scale), arm, y, w, rng)

            def install() -> None:
                self.in_shift, self.in_scale = shift, scale
                self.net.load_state_dict(net.state_dict())
                self.opt.load_state_dict(opt.state_dict())
                self.step = step
                self._install_network()
                log.debug("%s deferred retrain %d: %d labels, last loss %.4f", self.name, self.retrains, len(y),
                          loss)
            return install
        return job

    def _set_weight_decay(self, opt: torch.optim.Optimizer) -> None:
        """The penalty of a retrain at the current round (constant, or faded by ``weight_decay_ref``)."""
        ref = self.weight_decay_ref
        wd = self.weight_decay * (ref / max(self.t, ref) if ref else 1.0)
        for g in opt.param_groups:
            g["weight_decay"] = wd

    def _fit(self, net: _Net, opt: torch.optim.Optimizer, step: int, inp: np.ndarray, arm: np.ndarray,
             y: np.ndarray, w: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        """``train_steps`` weighted squared-error minibatch steps of ``net``; returns the step count and last loss."""
        inp_t, arm_t = torch.from_numpy(inp), torch.from_numpy(arm)
        y_t, w_t = torch.from_numpy(y).float(), torch.from_numpy(w).float()
        net.train()
        loss = torch.zeros(())
        for s in range(self.train_steps):
            for g in opt.param_groups:
                g["lr"] = self.lr / (1 + self.lr_decay * (step if self.lr_mode == "faithful" else s))
            idx = torch.from_numpy(rng.integers(len(y), size=self.batch_size))
            _, pred = net(inp_t[idx], arm_t[idx])
            loss = (w_t[idx] * (pred - y_t[idx]) ** 2).sum() / self.batch_size
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), self.max_grad_norm)
            opt.step()
            step += 1
        net.eval()
        return step, float(loss.detach())

    def _install_network(self) -> None:
        """After the network changed: re-embed every buffered label and rebuild the posterior from scratch."""
        if self.uses_posterior:
            inp, arm, y, w = self.buffer.view()
            phi, block = self._phi(self._embed(inp), arm)
            self.post.rebuild(block, phi, y, w)
        self.retrains += 1

    # ----- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        inp, arm, y, w = self.buffer.view()
        return {"t": self.t, "step": self.step, "retrains": self.retrains,
                "net": {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()},
                "buffer": {"inp": inp.copy(), "arm": arm.copy(), "y": y.copy(), "w": w.copy(),
                           "head": self.buffer.head}, "cell_hits": self.cell_hits.copy(),
                "cell_weight": self.cell_weight.copy(), "in_shift": self.in_shift.copy(),
                "in_scale": self.in_scale.copy(), **self.post.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t, self.step, self.retrains = int(state["t"]), int(state["step"]), int(state["retrains"])
        self.net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state["net"].items()})
        b = state["buffer"]
        n = len(b["y"])
        self.buffer.inp[:n], self.buffer.arm[:n], self.buffer.y[:n], self.buffer.w[:n] = b["inp"], b["arm"], b["y"], b["w"]
        self.buffer.size, self.buffer.head = n, int(b["head"])
        if "cell_hits" in state:  # absent in states saved before the warm start existed
            hits, weight = (np.atleast_2d(np.asarray(state[k], dtype=float)).copy() for k in ("cell_hits", "cell_weight"))
            if hits.shape != self.cell_hits.shape:  # e.g. a one-pool state (saved before warm_strata) into strata
                raise ValueError(f"state: warm-start rates of shape {hits.shape}, this policy keeps "
                                 f"{self.cell_hits.shape} (warm_strata {self.warm_strata.tolist()})")
            self.cell_hits, self.cell_weight = hits, weight
        if "in_shift" in state:  # absent in states saved before input standardisation existed
            self.in_shift = np.asarray(state["in_shift"], dtype=np.float32).copy()
            self.in_scale = np.asarray(state["in_scale"], dtype=np.float32).copy()
        self.post.load_state_dict(state)


class NeuralGreedyPolicy(PointEstimateMixin, NeuralLinearTSPolicy):
    """The same network without a posterior: plays the knapsack optimum of its own head ``w_kᵀz + c_k``, or a
    uniformly random allocation with probability ``eps_mix`` (``eps_mix = 0``: neural-greedy; RMS in the reference).
    """

    uses_posterior = False

    def __init__(self, *args, eps_mix: float = 0.05, name: str = "eps_greedy", **kwargs) -> None:
        super().__init__(*args, eps_mix=eps_mix, name=name, **kwargs)

    @torch.no_grad()
    def predict(self, context: np.ndarray) -> np.ndarray:
        """The network's hit probabilities, shape ``(n_arms, n_depths)``."""
        inp = self._scaled(self._cell_inputs(context))
        _, pred = self.net(torch.from_numpy(inp), torch.from_numpy(self._units()))
        return pred.double().numpy().reshape(len(self.arms), len(self.space.depths))

    def mean_probs(self, context: np.ndarray) -> np.ndarray:
        return self.predict(context)

    def sample_probs(self, context: np.ndarray, m: int) -> np.ndarray:
        return np.broadcast_to(self.predict(context), (m, len(self.arms), len(self.space.depths)))
