"""Main job: ``python train.py [overrides]`` (see configs/train.yaml).

``task`` picks the job: the learning-to-retrieve loop (default) or, with ``experiment=encoders`` (or
``encoders_beir``), training of the joint dense + SPLADE encoder and the cross-encoder reranker.
"""

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import ltrr.tasks  # noqa: F401  (registers the config resolvers before the config is read)


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    task = cfg.get("task", "retrieve")
    run_dir = HydraConfig.get().runtime.output_dir
    if task == "encoders":
        from ltrr.tasks.encoders import train_encoders

        out = train_encoders(cfg, run_dir)
        logging.getLogger("train").info("encoders: %s", {k: v for k, v in out.items() if k in ("data", "fusion")})
        return
    if task != "retrieve":
        raise ValueError(f"config 'task': expected 'retrieve' or 'encoders', got {task!r}")
    from ltrr.tasks.train import train

    out = train(cfg, run_dir)
    for name in cfg.policies:
        logging.getLogger("train").info(
            "%-10s recall@budget %.4f  ndcg@10 %.4f  cumulative regret %.1f", name,
            out[name]["recall_at_budget"], out[name]["ndcg@10"], out[name]["cumulative_regret"])


if __name__ == "__main__":
    main()
