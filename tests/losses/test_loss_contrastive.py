"""InfoNCE and contrastive_scores: formula, target layout, gradients, right-vs-wrong ordering, validation."""

import math

import pytest
import torch
import torch.nn.functional as F

from ltrr.losses import InfoNCE, contrastive_scores, gather_with_grad


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_gather_is_identity_without_distributed():
    x = torch.randn(5, 3)
    g, off = gather_with_grad(x)
    assert g is x and off == 0


def test_targets_point_at_each_querys_own_positive():
    b, g, dim = 4, 3, 16
    d = unit(b * g, dim)
    q = d[::g].clone()                                   # q_i == d[i*G]: its positive scores 1, the rest < 1
    scores, targets = contrastive_scores(q, d, group_size=g)
    assert scores.shape == (b, b * g) and targets.dtype == torch.long
    assert targets.tolist() == [0, 3, 6, 9]
    assert torch.equal(scores.argmax(dim=1), targets)


def test_infonce_matches_hand_formula():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[0.8, 0.6], [0.0, 1.0], [0.6, 0.8], [1.0, 0.0]])   # G=2: pos of q0 row 0, of q1 row 2
    t = 0.5
    s = q @ d.T
    expected = 0.0
    for i, pos in enumerate([0, 2]):
        expected += -math.log(math.exp(s[i, pos] / t) / sum(math.exp(v / t) for v in s[i].tolist()))
    expected /= 2
    loss = InfoNCE(temperature=t)(q, d, group_size=2)
    assert loss.dim() == 0 and loss.item() == pytest.approx(expected, rel=1e-6)
    assert InfoNCE.from_scores(s, torch.tensor([0, 2]), t).item() == pytest.approx(expected, rel=1e-6)


def test_grad_reaches_queries_and_docs():
    q, d = unit(3, 8, seed=1).requires_grad_(), unit(6, 8, seed=2).requires_grad_()
    InfoNCE()(q, d, group_size=2).backward()
    assert q.grad is not None and d.grad is not None and q.grad.abs().sum() > 0 and d.grad.abs().sum() > 0


def test_right_beats_wrong():
    b, g, dim = 3, 2, 8
    d = unit(b * g, dim, seed=3)
    right = d[::g].clone()            # queries equal their positives
    wrong = d[1::g].clone()           # queries equal one of their negatives
    loss = InfoNCE(temperature=0.1)
    assert loss(right, d, g) < loss(wrong, d, g)


def test_sparse_reps_work():
    q = torch.relu(torch.randn(2, 50))
    d = torch.relu(torch.randn(6, 50))
    scores, targets = contrastive_scores(q, d, group_size=3)
    assert scores.shape == (2, 6) and targets.tolist() == [0, 3]
    assert torch.isfinite(InfoNCE(temperature=1.0)(q, d, 3))


@pytest.mark.parametrize("q_shape,d_shape,g", [((2, 4), (5, 4), 2), ((2, 4), (4, 3), 2), ((2, 4, 1), (4, 4), 2),
                                               ((2, 4), (4, 4), 0)])
def test_bad_shapes_raise(q_shape, d_shape, g):
    with pytest.raises(ValueError):
        contrastive_scores(torch.zeros(q_shape), torch.zeros(d_shape), g)


def test_bad_temperature_raises():
    with pytest.raises(ValueError):
        InfoNCE(temperature=0.0)
