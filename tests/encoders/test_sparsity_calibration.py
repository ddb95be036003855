"""The SPLADE bias shift: vectors start near the target size, term order unchanged."""

import numpy as np
import torch

from ltrr.encoders.joint import JointEncoder
from ltrr.encoders.mlm_warmup import calibrate_sparsity
from ltrr.training.retrieval import encode_joint


def test_calibration_hits_the_target_size_and_keeps_the_term_order():
    torch.manual_seed(0)
    model = JointEncoder.tiny(seed=0)
    texts = [f"track {i} by artist {i % 5} in the {['jazz', 'rock', 'folk'][i % 3]} playlist" for i in range(40)]
    with torch.no_grad():  # a random head: nearly every term is positive somewhere
        model.mlm.cls.predictions.bias.fill_(5.0)
    before = encode_joint(model, texts, 32, 16, ("sparse",))["sparse"]
    assert before.getnnz(axis=1).mean() > 1000
    c = calibrate_sparsity(model, texts, target_l0=50, max_length=32)
    after = encode_joint(model, texts, 32, 16, ("sparse",))["sparse"]
    assert c > 0 and 30 <= after.getnnz(axis=1).mean() <= 80
    b, a = before[0].toarray().ravel(), after[0].toarray().ravel()
    kept = np.flatnonzero(a)
    assert set(np.argsort(-a)[: len(kept)]) == set(np.argsort(-b)[: len(kept)])  # same top terms
