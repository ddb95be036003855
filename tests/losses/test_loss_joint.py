"""JointContrastiveLoss: keys, the written formula, distillation switch, gradients, right beats wrong."""

import pytest
import torch
import torch.nn.functional as F

from ltrr.losses import JointContrastiveLoss

B, N = 3, 6
TARGETS = torch.tensor([0, 2, 4])


def scores(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, N, generator=g) * 2 - 1, torch.rand(B, N, generator=g) * 10


def reference(dense, sparse, td, ts, w, mix, distill):
    ld, ls = dense / td, sparse / ts
    li = ld + mix * ls
    ce = lambda x: F.cross_entropy(x, TARGETS)                          # noqa: E731
    loss = (ce(ld) + ce(li) + w * ce(ls)) / 3
    if not distill:
        return loss
    p = F.softmax(li, -1)
    kl = lambda x: (p * (p.log() - F.log_softmax(x, -1))).sum(-1).mean()  # noqa: E731
    return (loss + (kl(ld) + w * kl(ls)) / 2) / 2


def test_keys_and_formula():
    dense, sparse = scores(0)
    loss = JointContrastiveLoss(dense_temperature=0.1, sparse_temperature=2.0, sparse_weight=0.2, inter_mix=0.5)
    out = loss(dense, sparse, TARGETS)
    assert list(out) == ["loss", "dense", "sparse", "inter", "distill"]
    assert all(v.dim() == 0 for v in out.values()) and out["distill"] > 0
    ref = reference(dense, sparse, 0.1, 2.0, 0.2, 0.5, distill=True)
    assert out["loss"].item() == pytest.approx(ref.item(), rel=1e-5)


@pytest.mark.parametrize("kwargs,call", [({"self_distill": False}, {}), ({}, {"distill": False})])
def test_distill_off(kwargs, call):
    dense, sparse = scores(1)
    out = JointContrastiveLoss(**kwargs)(dense, sparse, TARGETS, **call)
    assert out["distill"].item() == 0.0
    ref = reference(dense, sparse, 0.05, 1.0, 0.1, 0.3, distill=False)
    assert out["loss"].item() == pytest.approx(ref.item(), rel=1e-5)


def test_grad_reaches_both_score_sets():
    dense, sparse = (s.requires_grad_() for s in scores(2))
    out = JointContrastiveLoss()(dense, sparse, TARGETS)
    out["loss"].backward()
    assert dense.grad.abs().sum() > 0 and sparse.grad.abs().sum() > 0


def test_right_beats_wrong():
    right_d, right_s = torch.zeros(B, N), torch.zeros(B, N)
    right_d[torch.arange(B), TARGETS] = 0.9
    right_s[torch.arange(B), TARGETS] = 5.0
    wrong_d, wrong_s = right_d.roll(1, dims=1), right_s.roll(1, dims=1)    # the top score moves to a negative
    loss = JointContrastiveLoss()
    assert loss(right_d, right_s, TARGETS)["loss"] < loss(wrong_d, wrong_s, TARGETS)["loss"]


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        JointContrastiveLoss()(torch.zeros(B, N), torch.zeros(B, N + 1), TARGETS)
