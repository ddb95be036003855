"""Composition roots: the only code that reads Hydra configs.

Importing this package registers the config resolver ``ltrr.share``: ``${ltrr.share:${rounds},0.15}`` is
``round(rounds * 0.15)``, a count that scales with the length of the run (the main job's warm start).
"""

from omegaconf import OmegaConf


def _share(total: float | int | str, share: float | str) -> int:
    return int(round(float(total) * float(share)))


if not OmegaConf.has_resolver("ltrr.share"):
    OmegaConf.register_new_resolver("ltrr.share", _share)
