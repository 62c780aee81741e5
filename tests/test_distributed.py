"""DDP: `torchrun --nproc_per_node 2 mtlaqa train` (gloo, CPU) matches one process on the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mtlaqa import engine
from mtlaqa.config import load_config
from mtlaqa.data.synth.generate import generate_synthdive
from mtlaqa.models.build import build_model
from mtlaqa.run_setup import seed_everything

SRC = Path(__file__).resolve().parents[1] / "src"

# dropout off: each rank draws its own masks, so only a dropout-free net can match exactly;
# no caption task: its token-mean loss does not split over ranks as a per-sample mean does;
# no BatchNorm (the demo preset has it): its batch statistics are per rank, not global
TINY = [
    "model.backbone=c3d",  # no BatchNorm: shards must see the same statistics as one batch
    "model.backbone_norm=none",
    "data.resize=[32,32]",
    "data.crop_size=32",
    "data.num_clips=2",
    "data.clip_starts=[]",
    "model.width=0.125",
    "model.fc_dim=32",
    "model.dropout=0",
    "model.tasks=[score,attributes]",
    "train.threads=1",
    "train.epochs=2",
    "train.tensorboard=false",
    "train.amp=off",  # bf16 on AMX CPUs: ranks vs one process would differ by rounding
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_matches_single_process(tmp_path: Path) -> None:
    data = generate_synthdive(
        tmp_path / "data", num=24, seed=1, size=32, workers=1, progress=False
    ).parent
    # 16 training samples: a multiple of the global batch, so no rank pads its share
    lines = (data / "manifest.jsonl").read_text().splitlines()
    train = [ln for ln in lines if '"split": "train"' in ln]
    keep = set(train[:16])
    lines = [ln for ln in lines if '"split": "train"' not in ln or ln in keep]
    (data / "manifest.jsonl").write_text("\n".join(lines) + "\n")

    single = engine.fit(
        load_config("demo", [*TINY, "train.batch_size=4", f"data.root={data}"]),
        tmp_path / "one",
        progress=False,
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1"]
    cmd += ["--master_addr=127.0.0.1", f"--master_port={_free_port()}"]
    cmd += [
        "-m",
        "mtlaqa.cli",
        "train",
        "demo",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "ddp"),
        "--quiet",
    ]
    for o in [*TINY, "train.batch_size=2"]:
        cmd += ["--set", o]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]

    a = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    assert b["meta"]["world_size"] == 2 and b["meta"]["global_batch"] == 4
    assert a["progress"]["step"] == b["progress"]["step"] == 2 * 4
    cfg = load_config("demo", TINY)
    seed_everything(cfg.train.seed)
    init = build_model(cfg, None).state_dict()
    moved = max(float((v - init[k]).abs().max()) for k, v in a["model"].items())
    assert moved > 1e-3  # training moved the weights, so the match below means something
    for k, v in a["model"].items():
        assert torch.allclose(v, b["model"][k], atol=2e-5, rtol=1e-4), k
    # validation predictions gathered from both ranks give the single-process metrics
    for ra, rb in zip(a["history"], b["history"], strict=True):
        assert rb["val_score_spearman"] == pytest.approx(ra["val_score_spearman"], abs=1e-4)
        assert rb["train_loss"] == pytest.approx(ra["train_loss"], rel=1e-4)
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["test"]["last"]["n"] == single["test"]["last"]["n"]
    assert metrics["test"]["last"]["score_mae"] == pytest.approx(
        single["test"]["last"]["score_mae"], rel=1e-3
    )
