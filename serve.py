"""Search API and demo page over a finished run: ``python serve.py [run=runs/latest policy_name=lints port=8000]``."""

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="serve")
def main(cfg: DictConfig) -> None:
    import uvicorn

    from ltrr.serve.app import freeze_heap
    from ltrr.tasks.serve import make_app

    app = make_app(cfg)
    freeze_heap()  # no full garbage collection walks the catalogue and indexes while a request waits
    uvicorn.run(app, host=cfg.host, port=int(cfg.port), log_level="info")


if __name__ == "__main__":
    main()
