"""MarginMSE and KLDistill: zero at agreement, gradients reach the student, right beats wrong."""

import pytest
import torch
import torch.nn.functional as F

from ltrr.losses import KLDistill, MarginMSE

TEACHER = torch.tensor([[5.0, 2.0, 1.0], [3.0, 0.5, -1.0]])


def test_marginmse_zero_when_margins_equal():
    student = TEACHER + torch.tensor([[10.0], [-3.0]])        # shifted per row: same margins
    assert MarginMSE()(student, TEACHER).item() == pytest.approx(0.0, abs=1e-10)


def test_marginmse_hand_value():
    s = torch.tensor([[1.0, 0.0, 0.0]])
    t = torch.tensor([[2.0, 0.0, 1.0]])                       # margins s: 1, 1; t: 2, 1 -> ((1-2)^2 + 0) / 2
    assert MarginMSE()(s, t).item() == pytest.approx(0.5)


def test_kldistill_zero_when_equal_and_matches_formula():
    assert KLDistill()(TEACHER, TEACHER).item() == pytest.approx(0.0, abs=1e-7)
    s = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    temp = 2.0
    p, q = F.softmax(TEACHER / temp, -1), F.softmax(s / temp, -1)
    expected = (p * (p.log() - q.log())).sum(-1).mean()
    assert KLDistill(temperature=temp)(s, TEACHER).item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("loss", [MarginMSE(), KLDistill(), KLDistill(temperature=3.0)])
def test_scalar_grad_and_right_beats_wrong(loss):
    s = torch.tensor([[4.0, 1.5, 0.0], [2.0, 0.0, -1.0]], requires_grad=True)
    out = loss(s, TEACHER)
    out.backward()
    assert out.dim() == 0 and s.grad is not None and s.grad.abs().sum() > 0
    right = TEACHER * 0.9
    wrong = TEACHER[:, [1, 0, 2]]                              # positive and first negative swapped
    assert loss(right, TEACHER) < loss(wrong, TEACHER)


def test_teacher_gets_no_grad():
    t = TEACHER.clone().requires_grad_()
    s = torch.zeros(2, 3, requires_grad=True)
    (MarginMSE()(s, t) + KLDistill()(s, t)).backward()
    assert t.grad is None


@pytest.mark.parametrize("loss", [MarginMSE(), KLDistill()])
def test_shape_mismatch_raises(loss):
    with pytest.raises(ValueError):
        loss(torch.zeros(2, 3), torch.zeros(2, 4))
