"""Every configs/loss/*.yaml instantiates to a torch module from ltrr.losses."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import ltrr.losses

LOSS_CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "loss").glob("*.yaml"))


def test_there_is_one_config_per_loss_class():
    classes = {n for n in ltrr.losses.__all__ if isinstance(getattr(ltrr.losses, n), type)
               and issubclass(getattr(ltrr.losses, n), torch.nn.Module)}
    targets = {OmegaConf.load(p)._target_.rsplit(".", 1)[1] for p in LOSS_CONFIGS}
    assert targets == classes


@pytest.mark.parametrize("path", LOSS_CONFIGS, ids=lambda p: p.stem)
def test_loss_config_instantiates(path):
    assert isinstance(instantiate(OmegaConf.load(path)), torch.nn.Module)
