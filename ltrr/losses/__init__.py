"""Training losses: contrastive (InfoNCE with cross-device negatives), SPLADE sparsity, distillation,
BGE-M3-style joint dense + sparse, and cross-encoder listwise/pointwise losses."""

from ltrr.losses.contrastive import InfoNCE, contrastive_scores, gather_with_grad
from ltrr.losses.distill import KLDistill, MarginMSE
from ltrr.losses.joint import JointContrastiveLoss
from ltrr.losses.listwise import ListwiseCE, PointwiseBCE
from ltrr.losses.sparsity import FLOPS, L1Sparsity, QuadraticWarmup, sparsity_stats

__all__ = ["InfoNCE", "contrastive_scores", "gather_with_grad", "KLDistill", "MarginMSE", "JointContrastiveLoss",
           "ListwiseCE", "PointwiseBCE", "FLOPS", "L1Sparsity", "QuadraticWarmup", "sparsity_stats"]
