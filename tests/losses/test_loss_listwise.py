"""Cross-encoder ListwiseCE and PointwiseBCE: hand values, gradients, right beats wrong."""

import math

import pytest
import torch

from ltrr.losses import ListwiseCE, PointwiseBCE


def test_listwise_hand_value():
    s = torch.tensor([[2.0, 0.0, 1.0]])
    expected = -2.0 + math.log(math.exp(2) + 1 + math.exp(1))
    assert ListwiseCE()(s).item() == pytest.approx(expected, rel=1e-6)


def test_pointwise_hand_value_with_pos_weight():
    s = torch.tensor([[1.0, -1.0]])
    lsig = lambda x: -math.log1p(math.exp(-x))                           # noqa: E731 log sigmoid
    expected = (-3.0 * lsig(1.0) - lsig(1.0)) / 2                        # pos term weighted 3; neg: -log(1-sig(-1))
    assert PointwiseBCE(pos_weight=3.0)(s).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("loss", [ListwiseCE(), PointwiseBCE(), PointwiseBCE(pos_weight=2.0)])
def test_scalar_grad_and_right_beats_wrong(loss):
    s = torch.tensor([[3.0, -1.0, 0.0], [1.0, 0.5, -2.0]], requires_grad=True)
    out = loss(s)
    out.backward()
    assert out.dim() == 0 and s.grad is not None and s.grad.abs().sum() > 0
    right = s.detach()
    wrong = right[:, [1, 0, 2]]                                          # a negative above the positive
    assert loss(right) < loss(wrong)


@pytest.mark.parametrize("loss", [ListwiseCE(), PointwiseBCE()])
def test_bad_shape_raises(loss):
    with pytest.raises(ValueError):
        loss(torch.zeros(4))
