import json

import numpy as np
import pytest
import torch

from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.splits import split_samples
from mtlaqa.errors import MtlaqaError
from mtlaqa.evaluate import evaluate_checkpoint
from mtlaqa.predict import load_model
from mtlaqa.schema import ATTRIBUTE_CLASSES


def test_val_is_carved_from_train_without_touching_test(synth_dir):
    samples = read_manifest(synth_dir)
    for s in samples:
        if s.split == "val":
            s.split = "train"
    n_test = sum(s.split == "test" for s in samples)
    a = split_samples(samples, 0.25, seed=0)
    b = split_samples(samples, 0.25, seed=0)
    assert [s.id for s in a["val"]] == [s.id for s in b["val"]]
    assert len(a["test"]) == n_test and a["val"]
    assert not {s.id for s in a["val"]} & {s.id for s in a["train"]}


def test_fit_writes_checkpoints_history_and_test_metrics(tiny_run):
    run, result = tiny_run
    assert (run / "checkpoint.pt").is_file() and (run / "last.pt").is_file()
    assert not list(run.glob("*.tmp"))
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(np.isfinite(r["train_loss"]) for r in rows)
    for which in ("last", "best"):
        m = result["test"][which]
        assert {
            "score_spearman",
            "score_mae",
            "attributes_acc_position",
            "attributes_acc_whole_dive",
            "caption_bleu_4",
            "caption_cider",
        } <= set(m)
    assert result["meta"]["config_hash"] and result["meta"]["seed"] == 0


def test_checkpoint_holds_config_vocab_and_reloads_identically(tiny_run):
    run, _ = tiny_run
    ckpt = load_checkpoint(run)
    assert {"config", "model", "optimizer", "vocab", "score_norm"} <= set(ckpt)
    model, cfg, vocab, norm = model_from_checkpoint(ckpt)
    assert cfg.model.width == pytest.approx(0.0625) and vocab is not None and norm.std > 0
    for k, v in ckpt["model"].items():
        assert torch.equal(model.state_dict()[k], v)


def test_training_is_reproducible(tiny_cfg, tmp_path):
    from mtlaqa.engine import fit

    cfg = tiny_cfg
    cfg.train.epochs = 1
    a = fit(cfg, tmp_path / "a", progress=False, verbose=False)
    b = fit(cfg, tmp_path / "b", progress=False, verbose=False)
    cfg.train.epochs = 2
    assert a["history"][0]["train_loss"] == b["history"][0]["train_loss"]
    wa = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_evaluate_and_predict_round_trip(tiny_run, synth_dir):
    run, result = tiny_run
    metrics = evaluate_checkpoint(
        run / "checkpoint.pt", synth_dir, "test", "cpu", meteor=False, progress=False
    )
    assert metrics["score_spearman"] == pytest.approx(
        result["test"]["best"]["score_spearman"], abs=1e-5
    )
    assert -1.0 <= metrics["score_baseline_spearman"] <= 1.0
    video = next(s.video for s in read_manifest(synth_dir) if s.split == "test")
    pred = load_model(run).predict(video)
    assert isinstance(pred.score, float)
    assert set(pred.attributes) == set(ATTRIBUTE_CLASSES)
    for a in pred.attributes.values():
        assert sum(a.probabilities) == pytest.approx(1.0, abs=1e-4)
        assert a.probability == pytest.approx(max(a.probabilities))
    assert pred.dive_number and pred.dive_number[-1] in "BCD"
    assert isinstance(pred.caption, str)
    assert len(pred.clip_contributions) == len(pred.clip_scores) == 3
    assert pred.clip_frames[-1][-1] <= 111
    json.dumps(pred.to_dict())


def test_bad_checkpoint_is_a_clear_error(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(b"nonsense")
    with pytest.raises(MtlaqaError, match="x.pt"):
        load_checkpoint(p)
    with pytest.raises(MtlaqaError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_inference_does_not_import_the_trainer():
    """predict, evaluate, calibrate and the checkpoint format stand without the training code."""
    import subprocess
    import sys

    code = (
        "import sys, mtlaqa.predict, mtlaqa.evaluate, mtlaqa.calibrate, mtlaqa.checkpoint\n"
        "trainer = ('engine', 'run_setup', 'train_epoch', 'trainstate', 'optim')\n"
        "print([m for m in trainer if 'mtlaqa.' + m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
