"""Main job: ``python train.py [overrides]`` (see configs/train.yaml)."""

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from ltrr.tasks.train import train

    out = train(cfg, HydraConfig.get().runtime.output_dir)
    for name in cfg.policies:
        logging.getLogger("train").info(
            "%-10s recall@budget %.4f  ndcg@10 %.4f  cumulative regret %.1f", name,
            out[name]["recall_at_budget"], out[name]["ndcg@10"], out[name]["cumulative_regret"])


if __name__ == "__main__":
    main()
