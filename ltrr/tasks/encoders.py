"""Encoder training job (``python train.py experiment=encoders``): joint dense + SPLADE encoder, then a cross-encoder.

Stages, each skipped when its output exists and ``resume`` is on (a killed run restarts where it stopped):

1. data: a BEIR folder's train qrels or the music world's simulated queries; a dev split carved from train.
2. mining: BM25 + the zero-shot dense encoder rank the corpus for every train/dev query; hard negatives are the
   top non-positive, non-near-duplicate documents.
3. joint: MLM-head warm-up, then Lightning training; best dev weights exported to ``models/joint/{dense,splade}``.
4. index: the trained model encodes the whole corpus (``index/``), reused for cross-encoder mining and benchmarks.
5. cross: negatives mined from the trained first stage; listwise training; exported to ``models/reranker``.

``metrics.json`` records dev metrics, training speed and peak memory of each stage.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ltrr.data.pairs import RetrievalSet, from_beir, from_music
from ltrr.tasks.tracking import wandb_env
from ltrr.training.data import GroupDataModule, GroupDataset
from ltrr.training.dev_eval import JointDevEvaluator, RerankDevEvaluator, dev_corpus
from ltrr.training.fit import fit_stage, one_item_loader
from ltrr.training.mining import mine_negatives
from ltrr.training.retrieval import (ExactIndex, cached_dense_corpus, encode_joint, fuse_runs, ids, rerank_run,
                                    tune_fusion_weight, tune_interpolation)

log = logging.getLogger(__name__)


def _rank() -> int:
    """Global rank after a DDP stage (0 without torch.distributed)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def mean_ir_metrics(runs, qrels) -> dict[str, float]:
    """Query-averaged BEIR metrics (pytrec_eval) of ``{query_id: [doc ids]}`` runs."""
    from ltrr.eval.offline import mean_metrics, run_metrics

    return mean_metrics(run_metrics(runs, qrels))


def load_data(cfg: DictConfig) -> RetrievalSet:
    """The training set named by ``encoders.data`` (kind: music | beir)."""
    d = cfg.data
    if d.kind == "beir":
        return from_beir(d.path, d.get("split", "train"))
    if d.kind == "music":
        world = instantiate(cfg.world)
        return from_music(world, int(d.n_queries), int(d.seed))
    raise ValueError(f"config 'encoders.data.kind': expected 'beir' or 'music', got {d.kind!r}")


def split_data(data: RetrievalSet, cfg: DictConfig) -> tuple[RetrievalSet, RetrievalSet, RetrievalSet]:
    """(train, dev, holdout): ``holdout_fraction`` of the queries set aside for evaluation (when a dataset has no
    test split, e.g. the Spotify playlists), then ``dev_fraction`` of the rest for early stopping and tuning."""
    rest, holdout = data.split(float(cfg.get("holdout_fraction", 0.0)), int(cfg.seed) + 1)
    train, dev = rest.split(float(cfg.dev_fraction), int(cfg.seed), cfg.get("max_dev"))
    return train, dev, holdout


def _loggers(cfg: DictConfig, run_dir: Path, name: str) -> list:
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    out = [CSVLogger(str(run_dir / "logs"), name=name, version="")]
    mode = cfg.logger.mode
    if mode != "disabled":
        wandb_env(run_dir)
        out.append(WandbLogger(project=cfg.logger.project, entity=cfg.logger.entity, name=name, save_dir=str(run_dir),
                               offline=mode == "offline", tags=list(cfg.logger.tags), group=run_dir.name))
    return out


def first_stage_runs(data: RetrievalSet, qids: list[str], model, enc: DictConfig, k: int,
                     progress: bool, cache: Path | None = None) -> dict[str, dict]:
    """BM25 (tantivy) and the model's dense head over the whole corpus for the given queries.

    The dense corpus matrix (the zero-shot encoder before training) is saved to ``cache/dense.npy`` for baselines.
    """
    from ltrr.arms.lexical import BM25Arm
    from ltrr.types import Query

    docs = list(data.docs.values())
    bm25 = BM25Arm(docs, fields={"title": 1.0, "text": 1.0})
    queries = [Query(q, data.queries[q]) for q in qids]
    runs = {"bm25": {q.id: [(c.doc_id, c.score) for c in r.candidates] for q, r in zip(queries, bm25.retrieve_batch(queries, k))}}
    doc_ids = list(data.docs)
    emb = cached_dense_corpus(model, doc_ids, [data.text(d) for d in doc_ids], int(enc.eval_doc_max_length),
                              enc.eval_batch_size, cache, progress)
    qemb = encode_joint(model, [data.queries[q] for q in qids], enc.query_max_length, enc.eval_batch_size, ("dense",))
    runs["dense"] = ExactIndex(doc_ids, dense=emb).search("dense", qemb["dense"], qids, k)
    return runs


def _union(train: RetrievalSet, dev: RetrievalSet) -> RetrievalSet:
    """Train and dev queries together (mining covers both; the dev split only ever scores models)."""
    return RetrievalSet({**train.queries, **dev.queries}, train.docs, {**train.qrels, **dev.qrels}, train.name)


def _fit(cfg: DictConfig, run_dir: Path, stage: str, module, dm, stage_cfg: DictConfig, evaluate: bool) -> dict:
    """One Lightning stage with the job's trainer, checkpoint, logging and resume settings."""
    return fit_stage(module, dm, run_dir / "checkpoints" / stage,
                     trainer_kwargs=OmegaConf.to_container(cfg.trainer, resolve=True)
                     | {"max_epochs": int(stage_cfg.max_epochs)},
                     val_check_interval=int(stage_cfg.val_check_interval) if evaluate else None,
                     patience=stage_cfg.patience, ckpt_every=int(cfg.ckpt_every), loggers=_loggers(cfg, run_dir, stage),
                     resume=bool(cfg.resume), progress=bool(cfg.progress))


def _mine(data: RetrievalSet, runs: dict, weights: dict, m: DictConfig) -> dict[str, list[str]]:
    fused = ids(fuse_runs(runs, weights, k=int(m.depth) * 3))
    return mine_negatives(fused, {q: data.positives(q) for q in data.qrels}, data.text, depth=int(m.depth),
                          skip_top=int(m.skip_top), dup_jaccard=float(m.dup_jaccard))


def _dataset(data: RetrievalSet, negatives: dict, group_size: int, seed: int) -> GroupDataset:
    qids = list(data.qrels)
    return GroupDataset([data.queries[q] for q in qids], [data.positives(q) for q in qids],
                        [negatives.get(q, []) for q in qids], data.text, group_size, list(data.docs), seed)


def train_joint(cfg: DictConfig, run_dir: Path, train: RetrievalSet, dev: RetrievalSet) -> dict:
    """Stages 2-3; returns the stage summary (also when skipped)."""
    from ltrr.encoders.mlm_warmup import calibrate_sparsity, warm_mlm_head
    from ltrr.training.bi_module import BiEncoderModule, bi_collate

    j, out_dir = cfg.joint, run_dir / "models" / "joint"
    summary_path = run_dir / "partial" / "joint.json"
    if cfg.resume and summary_path.exists() and (out_dir / "joint.json").exists():
        log.info("joint encoder already trained: %s", out_dir)
        return json.loads(summary_path.read_text())
    model = instantiate(j.model)
    qids = list(train.qrels) + list(dev.qrels)
    neg_path = run_dir / "partial" / "negatives_joint.json"
    if cfg.resume and neg_path.exists():
        negatives = json.loads(neg_path.read_text())
    else:
        both = _union(train, dev)
        runs = first_stage_runs(both, qids, model, j, int(cfg.mining.k), bool(cfg.progress),
                                run_dir / "index_zero_shot")
        negatives = _mine(both, runs, {"bm25": 0.5, "dense": 0.5}, cfg.mining)
        neg_path.write_text(json.dumps(negatives))
    mlm_losses = []
    resuming = cfg.resume and (run_dir / "checkpoints" / "joint" / "last.ckpt").exists()
    if int(j.mlm_warmup.steps) > 0 and "sparse" in j.heads and not resuming:
        texts = [train.text(d) for d in list(train.docs)[: int(j.mlm_warmup.max_docs)]]
        mlm_losses = warm_mlm_head(model, texts, steps=int(j.mlm_warmup.steps), batch_size=int(j.mlm_warmup.batch_size),
                                   lr=float(j.mlm_warmup.lr), max_length=int(j.mlm_warmup.max_length),
                                   seed=int(cfg.seed), progress=bool(cfg.progress),
                                   identity_prob=float(j.mlm_warmup.identity_prob))
        if j.mlm_warmup.get("target_l0"):
            rng = np.random.default_rng(int(cfg.seed))
            sample = [texts[i] for i in rng.choice(len(texts), size=min(256, len(texts)), replace=False)]
            calibrate_sparsity(model, sample, float(j.mlm_warmup.target_l0), int(j.doc_max_length))
    evaluator = None
    if dev.qrels:
        dev_negs = {q: v[: int(cfg.dev_negatives)] for q, v in negatives.items()}
        evaluator = JointDevEvaluator(dev.queries, dev.qrels, dev_corpus(list(dev.docs), dev.qrels, dev_negs,
                                      int(cfg.dev_random_docs), int(cfg.seed)), dev.text, int(j.query_max_length),
                                      int(j.doc_max_length), mean_ir_metrics, int(j.eval_batch_size),
                                      float(j.dev_fusion_weight))
    zero_shot = evaluator(model, tuple(j.heads)) if evaluator is not None and not resuming else None  # on dev
    module = BiEncoderModule(model, instantiate(j.loss), heads=tuple(j.heads), evaluator=evaluator,
                             **OmegaConf.to_container(j.module, resolve=True))
    dm = GroupDataModule(_dataset(train, negatives, int(j.group_size), int(cfg.seed)),
                         bi_collate(model.tokenize, int(j.query_max_length), int(j.doc_max_length)),
                         int(j.batch_size), int(cfg.seed), one_item_loader if evaluator else None)
    t0 = time.time()
    res = _fit(cfg, run_dir, "joint", module, dm, j, evaluator is not None)
    if _rank() == 0:  # under DDP every rank trained the same weights; one writes them
        model.save_pretrained(out_dir, max_seq_length=int(j.eval_doc_max_length))
    summary = {"train": res["speed"], "best_dev_ndcg@10": res["best_score"], "steps": res["global_step"],
               "dev_before_training": zero_shot, "seconds": round(time.time() - t0, 1),
               "mlm_warmup_loss": mlm_losses[:1] + mlm_losses[-1:],
               "negatives_per_query": float(np.mean([len(v) for v in negatives.values()])) if negatives else 0.0}
    if _rank() == 0:
        summary_path.write_text(json.dumps(summary, indent=2))
    _barrier()
    return summary


def _load_index(folder: Path) -> ExactIndex:
    doc_ids = json.loads((folder / "doc_ids.json").read_text())
    dense = np.load(folder / "dense.npy") if (folder / "dense.npy").exists() else None
    sparse = sp.load_npz(folder / "sparse.npz").tocsr() if (folder / "sparse.npz").exists() else None
    return ExactIndex(doc_ids, dense, sparse)


def load_trained(run_dir: Path):
    """The exported joint encoder (on the GPU when there is one)."""
    import torch

    from ltrr.encoders.joint import JointEncoder

    model = JointEncoder.from_pretrained(str(run_dir / "models" / "joint"))
    return model.cuda() if torch.cuda.is_available() else model


def encode_corpus(cfg: DictConfig, model, run_dir: Path, data: RetrievalSet) -> ExactIndex:
    """Stage 4: the trained joint model over the whole corpus, cached in ``index/`` (rank 0 encodes under DDP)."""
    folder, j = run_dir / "index", cfg.joint
    if _rank() != 0:
        _barrier()
        return _load_index(folder)
    if cfg.resume and (folder / "doc_ids.json").exists():
        _barrier()
        return _load_index(folder)
    doc_ids = list(data.docs)
    reps = encode_joint(model, [data.text(d) for d in doc_ids], int(j.eval_doc_max_length), int(j.eval_batch_size),
                        tuple(j.heads), top_k=j.get("doc_top_k"), progress=bool(cfg.progress), desc="encode corpus")
    folder.mkdir(parents=True, exist_ok=True)
    if "dense" in reps:
        np.save(folder / "dense.npy", reps["dense"])
    if "sparse" in reps:
        sp.save_npz(folder / "sparse.npz", reps["sparse"])
    (folder / "doc_ids.json").write_text(json.dumps(doc_ids))
    _barrier()
    return ExactIndex(doc_ids, reps.get("dense"), reps.get("sparse"))


def trained_runs(cfg: DictConfig, model, index: ExactIndex, queries: dict[str, str], k: int) -> dict:
    """Each trained head's run for ``queries`` over the corpus index."""
    j = cfg.joint
    qids = list(queries)
    reps = encode_joint(model, [queries[q] for q in qids], int(j.query_max_length), int(j.eval_batch_size), tuple(j.heads))
    return {h: index.search(h, reps[h], qids, k) for h in j.heads}


def train_cross(cfg: DictConfig, run_dir: Path, train: RetrievalSet, dev: RetrievalSet, index: ExactIndex,
                first_stage, fusion_weight: float) -> dict:
    """Stage 5: mine from the trained first stage, train the cross-encoder, export it."""
    from ltrr.training.ce_module import CrossEncoderModule, cross_collate

    c, out_dir = cfg.cross, run_dir / "models" / "reranker"
    summary_path = run_dir / "partial" / "cross.json"
    if cfg.resume and summary_path.exists():
        return json.loads(summary_path.read_text())
    allq = _union(train, dev)
    runs = trained_runs(cfg, first_stage, index, allq.queries, int(cfg.mining.k))
    weights = {"dense": 1 - fusion_weight, "sparse": fusion_weight} if len(runs) == 2 else {h: 1.0 for h in runs}
    depth = int(c.get("mining_depth") or cfg.mining.depth)
    fused = fuse_runs(runs, weights, k=max(int(cfg.mining.k), int(c.top_n), depth, int(c.get("tune_depth") or 0)))
    negatives = mine_negatives(ids(fused), {q: allq.positives(q) for q in allq.qrels}, allq.text,
                               depth=depth, skip_top=int(cfg.mining.skip_top), dup_jaccard=float(cfg.mining.dup_jaccard))
    model = instantiate(c.model)
    evaluator = RerankDevEvaluator(dev.queries, dev.qrels, ids(fused), dev.text, mean_ir_metrics, int(c.top_n)) if dev.qrels else None
    module = CrossEncoderModule(model, instantiate(c.loss), evaluator=evaluator, **OmegaConf.to_container(c.module, resolve=True))
    dm = GroupDataModule(_dataset(train, negatives, int(c.group_size), int(cfg.seed)), cross_collate(model.tokenize),
                         int(c.batch_size), int(cfg.seed), one_item_loader if evaluator else None)
    t0 = time.time()
    res = _fit(cfg, run_dir, "cross", module, dm, c, evaluator is not None)
    if _rank() == 0:
        model.save_pretrained(out_dir)
    summary = {"train": res["speed"], "best_dev_ndcg@10": res["best_score"], "steps": res["global_step"],
               "seconds": round(time.time() - t0, 1)}
    if evaluator is not None:
        summary["dev"] = evaluator(model)
        if int(c.get("tune_depth") or 0) > 0:
            summary["interpolation"] = tune_rerank(model, {q: fused[q] for q in dev.qrels}, dev, int(c.tune_depth))
    if _rank() == 0:
        summary_path.write_text(json.dumps(summary, indent=2))
    _barrier()
    return summary


def tune_rerank(model, first: dict, dev: RetrievalSet, depth: int) -> dict:
    """Score each dev query's first-stage top ``depth`` with the cross-encoder; tune the first-stage weight."""
    ce = {q: model.score(dev.queries[q], [dev.text(d) for d, _ in lst[:depth]]).tolist() for q, lst in first.items()}
    w, score = tune_interpolation(first, ce, dev.qrels, mean_ir_metrics)
    out = {"depth": depth, "first_stage_weight": w, "dev_ndcg@10": score,
           "dev_ce_only_ndcg@10": mean_ir_metrics(rerank_run(first, ce), dev.qrels)["ndcg@10"],
           "dev_first_stage_ndcg@10": mean_ir_metrics(ids(first), dev.qrels)["ndcg@10"]}
    log.info("reranking the dev top-%d: first stage %.4f, cross-encoder alone %.4f, interpolated (first-stage "
             "weight %.1f) %.4f", depth, out["dev_first_stage_ndcg@10"], out["dev_ce_only_ndcg@10"], w, score)
    return out


def _check_resume(ecfg: DictConfig, run_dir: Path) -> None:
    """Refuse to resume stages of a different configuration (progress and trainer placement may change)."""
    keep = {k: v for k, v in OmegaConf.to_container(ecfg, resolve=True).items()
            if k not in ("progress", "resume", "trainer", "logger", "ckpt_every")}
    stamp = run_dir / "partial" / "config.json"
    if stamp.exists() and json.loads(stamp.read_text()) != json.loads(json.dumps(keep)):
        if ecfg.resume:
            raise ValueError(f"{run_dir}: holds stages of a different encoder configuration; choose another "
                             "hydra.run.dir, or set encoders.resume=false to retrain from scratch")
    if _rank() == 0:
        stamp.write_text(json.dumps(keep))


def train_encoders(cfg: DictConfig, run_dir: Path | str) -> dict:
    """Run the encoder job into ``run_dir``; returns the contents of ``metrics.json``."""
    import lightning as L

    ecfg = cfg.encoders
    run_dir = Path(run_dir).resolve()
    (run_dir / "partial").mkdir(parents=True, exist_ok=True)
    _check_resume(ecfg, run_dir)
    L.seed_everything(int(ecfg.seed), workers=True)
    data = load_data(ecfg)
    train, dev, holdout = split_data(data, ecfg)
    (run_dir / "splits.json").write_text(json.dumps({"train": list(train.qrels), "dev": list(dev.qrels),
                                                     "holdout": list(holdout.qrels)}))
    out = {"data": {"name": data.name, "train_queries": len(train.qrels), "dev_queries": len(dev.qrels),
                    "holdout_queries": len(holdout.qrels), "docs": len(data.docs)}}
    out["joint"] = train_joint(ecfg, run_dir, train, dev)
    trained = load_trained(run_dir)
    index = encode_corpus(ecfg, trained, run_dir, data)
    out["index"] = {"bytes": index.nbytes(), "docs": len(index.doc_ids)}
    if index.sparse is not None:
        out["index"]["sparse_l0_d"] = float(index.sparse.getnnz(axis=1).mean())
    w = float(ecfg.joint.dev_fusion_weight)
    if dev.qrels and len(ecfg.joint.heads) == 2:
        runs = trained_runs(ecfg, trained, index, dev.queries, 100)
        w, score = tune_fusion_weight(runs["dense"], runs["sparse"], dev.qrels, mean_ir_metrics)
        out["fusion"] = {"sparse_weight": w, "dev_ndcg@10": score}
        log.info("fusion weight (sparse share) %.2f tuned on dev: nDCG@10 %.4f", w, score)
    if ecfg.cross.enabled:
        out["cross"] = train_cross(ecfg, run_dir, train, dev, index, trained, w)
    if _rank() == 0:
        (run_dir / "metrics.json").write_text(json.dumps(out, indent=2))
    log.info("models in %s", run_dir / "models")
    return out
