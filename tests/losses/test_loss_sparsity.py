"""FLOPS, L1, quadratic warm-up and sparsity statistics against hand-computed numbers."""

import pytest
import torch

from ltrr.losses import FLOPS, L1Sparsity, QuadraticWarmup, sparsity_stats

W = torch.tensor([[1.0, 0.0, 2.0, 0.0],
                  [3.0, 0.0, 0.0, 0.0],
                  [0.0, 0.0, 4.0, 1.0]])
# column means |w|: 4/3, 0, 2, 1/3 -> FLOPS = 16/9 + 0 + 4 + 1/9 = 53/9; row sums 3, 3, 5 -> L1 = 11/3; l0 = 5/3


def test_flops_value():
    assert FLOPS()(W).item() == pytest.approx(53 / 9, rel=1e-6)


def test_l1_value():
    assert L1Sparsity()(W).item() == pytest.approx(11 / 3, rel=1e-6)


@pytest.mark.parametrize("reg", [FLOPS(), L1Sparsity()])
def test_scalar_grad_and_sparser_is_lower(reg):
    w = W.clone().requires_grad_()
    out = reg(w)
    out.backward()
    assert out.dim() == 0 and w.grad is not None and w.grad.abs().sum() > 0
    sparse = torch.zeros(3, 4)
    sparse[0, 0] = sparse[1, 1] = sparse[2, 2] = 1.0
    assert reg(sparse) < reg(torch.ones(3, 4))          # fewer active terms -> lower penalty
    if isinstance(reg, FLOPS):                          # same total mass: all rows on one shared term costs more
        spread = torch.full((3, 4), 1.0)                # than spreading it over the vocabulary (posting lengths)
        shared = torch.zeros(3, 4)
        shared[:, 0] = 4.0
        assert reg(spread) < reg(shared)


def test_bad_shape_raises():
    with pytest.raises(ValueError):
        FLOPS()(torch.zeros(3))


def test_quadratic_warmup_values():
    sched = QuadraticWarmup(weight=0.5, warmup_steps=100)
    assert sched(0) == 0.0
    assert sched(50) == pytest.approx(0.125)
    assert sched(100) == pytest.approx(0.5)
    assert sched(200) == pytest.approx(0.5)
    assert QuadraticWarmup(0.3, 0)(0) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        QuadraticWarmup(0.3, -1)


def test_sparsity_stats():
    w = W.clone().requires_grad_()
    stats = sparsity_stats(w)
    assert set(stats) == {"l0", "flops", "l1"} and all(isinstance(v, float) for v in stats.values())
    assert stats["l0"] == pytest.approx(5 / 3)
    assert stats["flops"] == pytest.approx(53 / 9, rel=1e-6)
    assert stats["l1"] == pytest.approx(11 / 3, rel=1e-6)
