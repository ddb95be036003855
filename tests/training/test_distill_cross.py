"""Distilling a cross-encoder into a small one: the student's start, the loss, the training loop, the script."""

import json
import runpy

import numpy as np
import pytest
import torch

from ltrr.encoders.cross import CrossEncoder
from ltrr.training.distill_cross import ScoredList, distill_cross_encoder, listwise_distill_loss, student_from_teacher
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def teacher():
    return CrossEncoder.tiny(hidden_size=64, num_layers=2, num_heads=4, device="cpu", seed=1)


def test_student_embeddings_are_the_teachers_on_their_principal_directions(teacher):
    student = student_from_teacher(teacher, hidden_size=16, num_layers=1, num_heads=2, seed=0)
    cfg = student.model.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.intermediate_size) == (16, 1, 2, 64)
    assert student.tokenizer is teacher.tokenizer and student.max_length == teacher.max_length
    words = teacher.model.bert.embeddings.word_embeddings.weight.detach()
    _, _, vt = torch.linalg.svd(words - words.mean(0), full_matrices=False)
    got = student.model.bert.embeddings
    torch.testing.assert_close(got.word_embeddings.weight, words @ vt[:16].T)
    pos = teacher.model.bert.embeddings.position_embeddings.weight.detach()
    torch.testing.assert_close(got.position_embeddings.weight, pos @ vt[:16].T)
    # the projection keeps the most variance any 16 directions can: more than the first 16 raw coordinates
    centred = words - words.mean(0)
    assert (centred @ vt[:16].T).var(0).sum() > centred[:, :16].var(0).sum()
    with pytest.raises(ValueError, match="hidden_size"):
        student_from_teacher(teacher, hidden_size=15, num_heads=2)
    with pytest.raises(ValueError, match="hidden_size"):
        student_from_teacher(teacher, hidden_size=128, num_heads=2)


def test_loss_is_zero_at_the_teacher_and_ignores_padding():
    t = torch.tensor([[2.0, 1.0, 0.0], [0.5, -1.0, 9.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    assert float(listwise_distill_loss(t.clone(), t, mask)) == pytest.approx(0.0, abs=1e-6)
    s = t + torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    base = float(listwise_distill_loss(s, t, mask))
    assert base > 0
    s2 = s.clone()
    s2[1, 2] = -50.0  # a padded slot: no effect
    assert float(listwise_distill_loss(s2, t, mask)) == pytest.approx(base)
    # without the MSE term only the order matters: a constant shift per list costs nothing
    assert float(listwise_distill_loss(t + 3.0, t, mask, mse_weight=0.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(listwise_distill_loss(t + 3.0, t, mask, mse_weight=1.0)) == pytest.approx(9.0, rel=1e-5)
    with pytest.raises(ValueError, match="same"):
        listwise_distill_loss(t, t[:1], mask)
    with pytest.raises(ValueError, match="at least one"):
        listwise_distill_loss(t, t, torch.zeros_like(mask))


def test_distillation_moves_the_student_towards_the_teacher(teacher):
    rng = np.random.default_rng(0)
    words = ["red", "car", "blue", "sky", "night", "song", "love", "rock", "jazz", "live", "remix", "radio"]
    lists = []
    for i in range(24):
        q = " ".join(rng.choice(words, 2))
        docs = [" ".join(rng.choice(words, 5)) for _ in range(6)]
        lists.append(ScoredList(q, docs, teacher.score(q, docs) * 50.0))  # spread the random teacher's scores
    student = student_from_teacher(teacher, hidden_size=32, num_layers=1, num_heads=2, seed=0)

    def gap():
        return float(np.mean([np.mean((student.score(x.query, x.docs) - x.scores) ** 2) for x in lists]))

    before = gap()
    losses = distill_cross_encoder(student, lists, epochs=8, lr=3e-3, lists_per_batch=4, device="cpu",
                                   progress=False)
    assert len(losses) == 8 and losses[-1] < losses[0]
    assert gap() < 0.5 * before
    assert student.device.type == "cpu" and not student.model.training
    with pytest.raises(ValueError, match="no scored lists"):
        distill_cross_encoder(student, [], progress=False)


def test_the_script_distils_and_reports_on_held_out_queries(tmp_path, capsys):
    teacher_dir = tmp_path / "teacher"
    CrossEncoder.tiny(hidden_size=32, device="cpu", seed=2).save_pretrained(teacher_dir)
    ns = runpy.run_path(str(ROOT / "scripts" / "distill_reranker.py"), run_name="not_main")
    report = ns["main"](["--catalogue", "music", "--set", "experiment=smoke", "--teacher", str(teacher_dir),
                         "--out", str(tmp_path / "student"), "--hidden", "16", "--layers", "1", "--heads", "2",
                         "--queries", "30", "--top", "10", "--epochs", "1", "--eval-queries", "20",
                         "--dev-queries", "20", "--latency-queries", "8", "--threads", "1", "--cache-dir", str(tmp_path / "cache")])
    saved = json.loads((tmp_path / "student" / "distill.json").read_text())
    assert saved == json.loads(json.dumps(report))
    ev = saved["eval"]["generated"]
    assert 0 < ev["queries"] <= 20
    assert {k for k in ev["systems"] if not k.endswith("+fused")} == {"none", "teacher", "teacher_int8", "student",
                                                                      "student_int8"}
    w = saved["first_stage_weight"]  # chosen on dev queries; a '+fused' row exactly where it is above 0
    assert set(w) == {"teacher", "teacher_int8", "student", "student_int8"} and saved["dev_queries"] > 0
    assert {k for k in ev["systems"] if k.endswith("+fused")} == {f"{k}+fused" for k, v in w.items() if v > 0}
    for k, v in w.items():
        assert saved["dev_ndcg@10"][k][str(v)] == max(saved["dev_ndcg@10"][k].values())
    assert ev["systems"]["teacher"]["minus_teacher"] == 0.0
    for row in ev["systems"].values():
        lo, hi = row["ci95"]
        assert 0.0 <= lo <= row["ndcg@10"] <= hi <= 1.0
    assert set(saved["latency_ms"]) == {"teacher", "teacher_int8", "student", "student_int8"}
    assert saved["params"]["student"] < saved["params"]["teacher"]
    assert CrossEncoder.from_pretrained(str(tmp_path / "student"), device="cpu").model.config.hidden_size == 16
    assert "| student_int8 |" in capsys.readouterr().out
    again = ns["main"](["--catalogue", "music", "--set", "experiment=smoke", "--teacher", str(teacher_dir),
                        "--out", str(tmp_path / "student"), "--reuse", "--max-length", "24", "--eval-queries", "20",
                        "--dev-queries", "10", "--scorers", "student_int8",
                        "--latency-queries", "4", "--threads", "1", "--cache-dir", str(tmp_path / "cache"),
                        "--report", str(tmp_path / "len24.json")])
    assert again["reused"] and again["max_length"] == 24 and again["distill"] == saved["distill"]
    assert json.loads((tmp_path / "student" / "distill.json").read_text()) == saved  # the training report stays
    assert json.loads((tmp_path / "len24.json").read_text())["max_length"] == 24
    assert set(again["first_stage_weight"]) == {"student_int8"} and again["reference"] == "none"


def test_label_loss_pulls_the_relevant_candidate_up_and_skips_unlabelled_lists():
    from ltrr.training.distill_cross import label_loss

    s = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], requires_grad=True)
    labels = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    mask = torch.ones(2, 3, dtype=torch.bool)
    loss = label_loss(s, labels, mask)
    assert float(loss) == pytest.approx(np.log(3.0), rel=1e-5)  # uniform scores: -log(1/3) on the one labelled list
    loss.backward()
    assert s.grad[0, 1] < 0 < s.grad[0, 0] and torch.all(s.grad[1] == 0)
    assert float(label_loss(s, torch.zeros(2, 3), mask)) == 0.0
