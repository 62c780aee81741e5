"""The configuration a researcher runs on a GPU, end to end on CPU: `c3d_avg_mtl` at full size
(C3D to pool5, fc6 4096, 6 clips × 16 frames × 112², captions up to 100 words, GRU 512) trains one
epoch on 2 SynthDive dives rendered at 128 px, then its checkpoint is evaluated on 2 test dives
(once: training sees a train-only manifest, so `fit` itself does not evaluate)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.config import load_config
from mtlaqa.data.manifest import read_manifest, write_manifest
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.engine import fit
from mtlaqa.evaluate import evaluate_checkpoint


@pytest.mark.slow
def test_c3d_avg_mtl_full_size_trains_and_evaluates(tmp_path: Path) -> None:
    data = generate_synthdive(
        tmp_path / "data",
        num=4,
        seed=5,
        size=128,
        workers=1,
        splits=(0.5, 0.0, 0.5),
        progress=False,
    ).parent
    train_only = [x for x in read_manifest(data) if x.split == "train"]
    train_root = write_manifest(train_only, tmp_path / "train" / "manifest.jsonl").parent
    cfg = load_config(
        "c3d_avg_mtl",
        [
            f"data.root={train_root}",
            "data.cache=none",
            "model.caption_max_len=100",
            "train.epochs=1",
            "train.batch_size=2",
            "train.threads=1",
            "train.amp=off",
            "train.meteor=false",
            "train.tensorboard=false",
        ],
    )
    # the preset itself is untouched: full C3D, 6 × 16 × 112², fc6 4096, GRU 512 × 2
    assert (cfg.data.num_clips, cfg.data.clip_len, cfg.data.crop_size) == (6, 16, 112)
    assert (cfg.model.backbone, cfg.model.width, cfg.model.fc_dim) == ("c3d", 1.0, 4096)
    assert (cfg.model.caption_hidden, cfg.model.caption_layers) == (512, 2)
    result = fit(cfg, tmp_path / "run", progress=False, verbose=False)
    assert result["meta"]["split_sizes"] == {"train": 2, "val": 0, "test": 0}
    assert math.isfinite(result["history"][0]["train_loss"])
    model, _, vocab, _ = model_from_checkpoint(load_checkpoint(tmp_path / "run" / "last.pt"))
    assert tuple(model.backbone.conv1.weight.shape) == (64, 3, 3, 3, 3)
    assert tuple(model.shared.fc6.weight.shape) == (4096, 8192)  # pool5 of a 16 × 112² clip
    assert vocab is not None and len(vocab) > 4
    metrics = evaluate_checkpoint(
        tmp_path / "run" / "last.pt", data, "test", "cpu", meteor=False, progress=False
    )
    assert metrics["n"] == 2
    for key in (
        "score_spearman",
        "score_mae",
        "attributes_acc_position",
        "caption_bleu_1",
        "caption_cider",
    ):
        assert key in metrics, key
    assert math.isfinite(metrics["score_mae"]) and math.isfinite(metrics["caption_bleu_1"])
