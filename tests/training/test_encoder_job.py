"""The encoder job end to end on tiny models: it trains, exports, resumes exactly, and its models serve as arms."""

import json

import lightning as L
import numpy as np
import pytest
import torch

from conftest import compose_cfg
from ltrr.encoders.cross import CrossEncoder
from ltrr.encoders.dense import DenseEncoder
from ltrr.encoders.joint import JointEncoder
from ltrr.encoders.sparse import SpladeEncoder
from ltrr.losses import JointContrastiveLoss
from ltrr.training.bi_module import BiEncoderModule, bi_collate
from ltrr.training.data import GroupDataModule, GroupDataset
from ltrr.training.fit import fit_stage


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    from ltrr.tasks.encoders import train_encoders

    run_dir = tmp_path_factory.mktemp("enc") / "run"
    cfg = compose_cfg("train", ["experiment=encoders_smoke"])
    return run_dir, train_encoders(cfg, run_dir), cfg


def test_job_trains_and_exports(job):
    run_dir, out, _ = job
    assert out["data"]["train_queries"] > 0 and out["data"]["dev_queries"] > 0
    assert out["joint"]["steps"] > 0 and out["joint"]["train"]["examples_per_s"] > 0
    assert out["cross"]["steps"] > 0 and 0 <= out["cross"]["dev"]["rerank/ndcg@10"] <= 1
    assert 0 <= out["fusion"]["sparse_weight"] <= 1
    interp = out["cross"]["interpolation"]  # tuned on dev over the top tune_depth
    assert interp["depth"] == 10 and 0 <= interp["first_stage_weight"] <= 1
    assert interp["dev_ndcg@10"] >= max(interp["dev_ce_only_ndcg@10"], interp["dev_first_stage_ndcg@10"]) - 1e-9
    assert json.loads((run_dir / "metrics.json").read_text())["data"] == out["data"]
    for sub in ("models/joint/dense", "models/joint/splade", "models/reranker", "index/doc_ids.json",
                "checkpoints/joint/last.ckpt", "logs/joint/metrics.csv"):
        assert (run_dir / sub).exists(), sub
    csv = (run_dir / "logs" / "joint" / "metrics.csv").read_text().splitlines()[0]
    for col in ("train/loss_dense", "train/flops_d", "train/l0_q", "train/lambda_d", "dev/fusion/ndcg@10"):
        assert col in csv, col


def test_exported_models_load_and_agree(job):
    run_dir, _, _ = job
    joint = JointEncoder.from_pretrained(str(run_dir / "models" / "joint"))
    texts = ["a song about rain", "jazz for studying"]
    batch = joint.tokenize(texts, 32)
    with torch.inference_mode():
        ref = joint(**batch)
    dense = DenseEncoder.from_pretrained(str(run_dir / "models" / "joint" / "dense"), device="cpu", max_length=32)
    np.testing.assert_allclose(dense.encode(texts), ref["dense"].numpy(), atol=1e-5)
    splade = SpladeEncoder.from_pretrained(str(run_dir / "models" / "joint" / "splade"), device="cpu", max_length=32)
    np.testing.assert_allclose(splade.encode_queries(texts).toarray(), ref["sparse"].numpy(), atol=1e-5)
    ce = CrossEncoder.from_pretrained(str(run_dir / "models" / "reranker"), device="cpu")
    assert ce.score("rain", texts).shape == (2,)


def test_rerun_skips_finished_stages(job):
    from ltrr.tasks.encoders import train_encoders

    run_dir, out, cfg = job
    before = (run_dir / "models" / "joint" / "joint.json").stat().st_mtime
    again = train_encoders(cfg, run_dir)
    assert (run_dir / "models" / "joint" / "joint.json").stat().st_mtime == before
    assert again["joint"] == out["joint"]


def test_trained_models_plug_into_the_main_job_without_code_changes(job, tmp_path):
    from ltrr.tasks.train import train

    run_dir, _, _ = job
    m = run_dir / "models"
    cfg = compose_cfg("train", [
        "experiment=smoke", "seeds=[0]", "rounds=15", "budget=60", "encoder=minilm", f"encoder.model_name_or_path={m}/joint/dense",
        "encoder.device=cpu", "encoder.max_length=32", "+arm@arms.splade=splade",
        "sparse_encoder@arms.splade.encoder=splade", f"arms.splade.encoder.model_name_or_path={m}/joint/splade",
        "arms.splade.encoder.device=cpu", "arms.splade.progress=false", "arms.dense.progress=false",
        "rerank=cross_encoder", f"rerank.encoder.name_or_path={m}/reranker", "rerank.encoder.device=cpu"])
    out = train(cfg, tmp_path / "main")
    assert "splade" in out["meta"]["arms"] and 0 <= out["lints"]["recall_at_budget"] <= 1


class _Kill(L.Callback):
    """Raise at a given global step: a crash mid-epoch after a checkpoint was written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("killed")


def _stage(tmp, kill_at=None):
    torch.manual_seed(0)
    model = JointEncoder.tiny(seed=0)
    docs = [f"document {i} about topic {i % 7}" for i in range(40)]
    ds = GroupDataset([f"topic {i % 7} {i}" for i in range(40)], [[f"d{i}"] for i in range(40)],
                      [[f"d{(i + j) % 40}" for j in range(1, 6)] for i in range(40)],
                      lambda d: docs[int(d[1:])], group_size=3, pool=[f"d{i}" for i in range(40)], seed=0)
    module = BiEncoderModule(model, JointContrastiveLoss(), lr=1e-3, reg_warmup_steps=3)
    dm = GroupDataModule(ds, bi_collate(model.tokenize, 16, 16), batch_size=8, seed=0)
    kw = {"accelerator": "cpu", "devices": 1, "max_epochs": 2, "deterministic": True, "enable_model_summary": False}
    if kill_at is not None:
        import ltrr.training.fit as fit

        orig = L.Trainer

        class Killing(orig):
            def __init__(self, *a, callbacks=(), **k):
                super().__init__(*a, callbacks=[*callbacks, _Kill(kill_at)], **k)

        fit.L.Trainer = Killing
        try:
            with pytest.raises(RuntimeError, match="killed"):
                fit_stage(module, dm, tmp, trainer_kwargs=kw, val_check_interval=None, patience=None, ckpt_every=3,
                          progress=False)
        finally:
            fit.L.Trainer = orig
        torch.manual_seed(123)  # a restart must not depend on the global RNG
        model = JointEncoder.tiny(seed=5)  # fresh process: different init, overwritten by the checkpoint
        module = BiEncoderModule(model, JointContrastiveLoss(), lr=1e-3, reg_warmup_steps=3)
        dm = GroupDataModule(ds, bi_collate(model.tokenize, 16, 16), batch_size=8, seed=0)
    res = fit_stage(module, dm, tmp, trainer_kwargs=kw, val_check_interval=None, patience=None, ckpt_every=3,
                    progress=False)
    return res, {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_after_a_kill_mid_epoch_is_exact(tmp_path):
    ref_res, ref = _stage(tmp_path / "a")
    res, got = _stage(tmp_path / "b", kill_at=4)  # 5 steps per epoch: killed in epoch 0, last checkpoint at step 3
    assert res["global_step"] == ref_res["global_step"] == 10
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], atol=1e-6, rtol=1e-5, msg=k)


def test_two_process_cpu_ddp_job_with_gathered_negatives(tmp_path):
    """The real job under Lightning DDP (2 CPU processes, gloo), run as a subprocess: in-process DDP under pytest
    would make the second rank re-run pytest."""
    import os
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    run_dir = tmp_path / "ddp"
    cmd = [sys.executable, "train.py", "experiment=encoders_smoke", "trainer@encoders.trainer=ddp",
           "encoders.trainer.accelerator=cpu", "encoders.joint.module.gather=true", f"hydra.run.dir={run_dir}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    try:
        out, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, out[-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # 78 train queries, batch 8 per rank x 2 ranks: 4 steps per epoch, 2 epochs
    assert metrics["joint"]["steps"] == 8 and metrics["cross"]["steps"] == 4
    assert (run_dir / "models" / "joint" / "joint.json").exists() and (run_dir / "models" / "reranker").exists()


def test_resuming_a_folder_of_another_configuration_is_refused(job):
    from ltrr.tasks.encoders import train_encoders

    run_dir, _, _ = job
    cfg = compose_cfg("train", ["experiment=encoders_smoke", "encoders.joint.group_size=4"])
    with pytest.raises(ValueError, match="different encoder configuration"):
        train_encoders(cfg, run_dir)
