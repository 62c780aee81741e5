"""One name per concept (names.py): the old names of configs, checkpoints, metrics and predictions
still read, with a one-line deprecation for configs and checkpoints."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from mtlaqa.checkpoint import load_checkpoint, model_from_checkpoint
from mtlaqa.config import load_config
from mtlaqa.names import TASKS, metric_key, read_metrics, read_prediction
from mtlaqa.report import write_report

OLD_YAML = """\
data:
  clip_len: 8
  crop: 48
  resize: [64, 64]
model:
  arch: c3d_avg
  backbone: c3d_s
"""


def _deprecations(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]


def test_old_config_names_load_with_one_deprecation_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(OLD_YAML)
    with caplog.at_level(logging.WARNING, logger="mtlaqa.config"):
        cfg = load_config(str(path))
    assert cfg.model.arch == "multiclip" and cfg.data.crop_size == 48 and cfg.data.clip_len == 8
    lines = _deprecations(caplog)
    assert len(lines) == 2
    assert any("data.crop is deprecated; data.crop_size" in m for m in lines)
    assert any("model.arch=c3d_avg is deprecated; model.arch=multiclip" in m for m in lines)
    assert all("\n" not in m for m in lines)
    # an override with the new name wins over the old key in the file
    assert load_config(str(path), ["data.crop_size=40"]).data.crop_size == 40
    # and the old name works in --set too
    assert load_config("demo", ["data.crop=32", "model.arch=c3d_avg"]).data.crop_size == 32


def test_new_names_give_no_deprecation(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mtlaqa.config"):
        cfg = load_config("demo", ["data.crop_size=32"])
    assert cfg.model.arch == "multiclip" and not _deprecations(caplog)


def test_checkpoint_of_an_earlier_version_loads(
    tiny_run: tuple[Path, dict], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run, _ = tiny_run
    ckpt = load_checkpoint(run / "checkpoint.pt")
    old = dict(ckpt)
    data = {k: v for k, v in ckpt["config"]["data"].items() if k != "crop_size"}
    old["config"] = {
        **ckpt["config"],
        "data": {**data, "crop": ckpt["config"]["data"]["crop_size"]},
        "model": {**ckpt["config"]["model"], "arch": "c3d_avg"},
    }
    torch.save(old, tmp_path / "old.pt")
    with caplog.at_level(logging.WARNING, logger="mtlaqa.config"):
        model, cfg, _, _ = model_from_checkpoint(load_checkpoint(tmp_path / "old.pt"))
    assert cfg.model.arch == "multiclip" and cfg.data.crop_size == 32
    assert len(_deprecations(caplog)) == 2
    new_model, _, _, _ = model_from_checkpoint(ckpt)
    video = torch.rand(1, cfg.data.num_clips, 3, cfg.data.clip_len, 32, 32)
    model.eval()
    new_model.eval()
    with torch.no_grad():
        assert torch.equal(model(video)["score"], new_model(video)["score"])


OLD_METRICS = {
    "n": 8.0,
    "spearman": 0.5,
    "mae": 3.0,
    "baseline_spearman": 0.2,
    "spearman/diving": 0.4,
    "acc_position": 0.75,
    "majority_position": 0.5,
    "acc_whole_dive": 0.25,
    "bleu_4": 0.1,
    "cider": 0.9,
    "baseline_constant_cider": 0.3,
    "caption_distinct": 0.5,
    "interval_coverage": 0.875,
    "uncertainty_kendall": 0.1,
}


def test_metric_key_maps_old_to_new_and_keeps_new() -> None:
    new = {metric_key(k): v for k, v in OLD_METRICS.items()}
    assert set(new) == {
        "n",
        "score_spearman",
        "score_mae",
        "score_baseline_spearman",
        "score_spearman/diving",
        "attributes_acc_position",
        "attributes_majority_position",
        "attributes_acc_whole_dive",
        "caption_bleu_4",
        "caption_cider",
        "caption_baseline_constant_cider",
        "caption_distinct",
        "interval_coverage",
        "score_uncertainty_kendall",
    }
    assert all(metric_key(k) == k for k in new)  # idempotent
    assert metric_key("val_spearman") == "val_score_spearman"
    assert metric_key("val_acc_tw_no") == "val_attributes_acc_tw_no"
    assert metric_key("train_score_loss") == "train_score_loss"
    assert metric_key("epoch") == "epoch"
    # every metric key named after a task starts with that task's name
    assert all(k.split("_")[0] in (*TASKS, "n", "interval") for k in new)


def test_read_metrics_reads_an_old_metrics_json(tmp_path: Path) -> None:
    old = {
        "meta": {"protocol": "direct"},
        "test": {"last": OLD_METRICS, "best": OLD_METRICS},
        "history": [{"epoch": 1, "train_loss": 1.0, "val_spearman": 0.3, "val_acc_tw_no": 0.5}],
    }
    (tmp_path / "metrics.json").write_text(json.dumps(old))
    m = read_metrics(json.loads((tmp_path / "metrics.json").read_text()))
    assert m["test"]["best"]["score_spearman"] == 0.5
    assert m["test"]["last"]["attributes_acc_position"] == 0.75
    assert m["history"][0] == {
        "epoch": 1,
        "train_loss": 1.0,
        "val_score_spearman": 0.3,
        "val_attributes_acc_tw_no": 0.5,
    }
    assert m["meta"] == {"protocol": "direct"}
    # a dict with both names keeps the new value
    assert read_metrics({"spearman": 0.1, "score_spearman": 0.2}) == {"score_spearman": 0.2}


def test_report_of_old_and_new_keys_is_the_same(tmp_path: Path) -> None:
    new = read_metrics(OLD_METRICS)
    a = write_report(tmp_path / "old", OLD_METRICS).read_text(encoding="utf-8")
    b = write_report(tmp_path / "new", new).read_text(encoding="utf-8")
    assert a.replace("old", "new") == b.replace("old", "new")
    assert "| Spearman ρ | 0.5000 |" in b and "| position | 0.7500 | 0.5000 |" in b
    assert "Other" not in b.split("## Score interval")[0]  # every old key found its table


def test_experiment_reads_a_result_json_of_an_earlier_version(tmp_path: Path, tiny_cfg) -> None:
    from mtlaqa.experiments import _run

    done = {"meta": {"config_hash": tiny_cfg.hash()}, "test": {"best": OLD_METRICS}}
    (tmp_path / "result.json").write_text(json.dumps(done))
    got = _run(tiny_cfg, tmp_path, meteor=tiny_cfg.train.meteor)
    assert got["test"]["best"]["score_spearman"] == 0.5


def test_a_run_writes_only_task_named_keys(tiny_run: tuple[Path, dict]) -> None:
    _, result = tiny_run
    assert read_prediction({"attr_pred": 1, "captions": 2, "score_pred": 3}) == {
        "attributes_pred": 1,
        "caption_pred": 2,
        "score_pred": 3,
    }
    other = ("n", "interval_", "coverage@", "calibration_n")
    for col in result["test"].values():
        assert "score_spearman" in col and "attributes_acc_position" in col
        assert all(k.startswith((*TASKS, *other)) for k in col), sorted(col)
    val = [k for k in result["history"][0] if k.startswith("val_")]
    assert val and all(k[4:].startswith(TASKS) for k in val), val


def test_web_api_keeps_execution() -> None:
    pytest.importorskip("fastapi")
    from mtlaqa.predict import Prediction
    from mtlaqa.web.app import PredictResponse

    d = Prediction(video="x.mp4", score=None, execution=7.5).to_dict()
    d.pop("video")
    r = PredictResponse(filename="x.mp4", size_bytes=1, thumbnails=[], elapsed_s=0.0, **d)
    assert r.execution == 7.5 and r.model_dump()["execution"] == 7.5
    assert set(d) <= set(PredictResponse.model_fields)  # no Prediction field is dropped
