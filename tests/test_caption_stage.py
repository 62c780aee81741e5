"""The caption stage (`train.caption_epochs`): the decoder alone on the frozen body's features."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mtlaqa import engine
from mtlaqa.caption_stage import fit_caption_head, frozen_inputs
from mtlaqa.checkpoint import load_checkpoint
from mtlaqa.config import load_config
from mtlaqa.data.dataset import DiveDataset
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.vocab import Vocab
from mtlaqa.engine import fit
from mtlaqa.models.build import build_model
from tests.conftest import TINY


def _train_set(cfg):
    samples = [s for s in read_manifest(cfg.data.root) if s.split == "train"]
    vocab = Vocab.build([s.caption for s in samples if s.caption], 1)
    model = build_model(cfg, vocab)
    ds = DiveDataset(samples, cfg.data, model.input_spec, True, vocab)
    return model, ds, samples


def test_only_the_caption_head_moves_and_its_loss_falls(tiny_cfg):
    torch.manual_seed(0)
    model, ds, _ = _train_set(tiny_cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cpu = torch.device("cpu")
    log = fit_caption_head(
        model.caption, frozen_inputs(model, ds, cpu, None, 8), cpu, 8, 3e-2, 4, 0
    )
    after = model.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("caption.") for k in moved)
    assert any(k.startswith("caption.decoder") for k in moved)
    losses = log["train_caption_loss"]
    assert len(losses) == 8 and losses[-1] < 0.8 * losses[0]
    assert log["dives"] == len(ds) and log["updates"] == 8 * -(-len(ds) // 4)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_the_stage_lr_follows_its_schedule(tiny_cfg, monkeypatch, schedule):
    model, ds, _ = _train_set(tiny_cfg)
    seen: list[float] = []
    step = torch.optim.Adam.step

    def spy(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(self.param_groups[0]["lr"])
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    cpu = torch.device("cpu")
    inputs = frozen_inputs(model, ds, cpu, None, 8)
    log = fit_caption_head(model.caption, inputs, cpu, 3, 1e-2, 4, 0, False, schedule)
    assert log["schedule"] == schedule and len(seen) == log["updates"]
    assert seen[0] == pytest.approx(1e-2)
    if schedule == "constant":
        assert seen == [pytest.approx(1e-2)] * len(seen)
    else:  # cosine: falls every update, the last one close to 0
        assert all(a > b for a, b in zip(seen, seen[1:], strict=False))
        assert seen[-1] < 0.1 * seen[0]


def test_frozen_inputs_hold_the_teacher_condition_and_every_caption(tiny_cfg):
    cfg = dataclasses.replace(
        tiny_cfg,
        model=dataclasses.replace(
            tiny_cfg.model, caption_condition="heads", caption_condition_source="teacher"
        ),
    )
    model, ds, samples = _train_set(cfg)
    feats, cond, tokens = frozen_inputs(model, ds, torch.device("cpu"), None, 3)
    assert feats.shape[:2] == (len(samples), cfg.data.num_clips)
    assert cond is not None and cond.shape[0] == len(samples)
    # teacher: the condition is the true position one-hot, whatever the untrained head says
    assert cond[:, :3].argmax(-1).tolist() == [s.position for s in samples]
    for s, t in zip(samples, tokens, strict=True):
        assert t[0] == 1 and t[-1] == 2  # <sos> … <eos>
        assert t.tolist() == ds.vocab.encode(s.caption, cfg.model.caption_max_len)


def test_fit_runs_the_stage_saves_it_and_a_resume_does_not_repeat_it(synth_dir, tmp_path):
    over = ["train.caption_epochs=3", "train.caption_batch_size=5"]
    cfg = load_config("demo", [f"data.root={synth_dir}", *TINY, *over])
    out = tmp_path / "run"
    result = fit(cfg, out, progress=False, verbose=False)
    stage = result["meta"]["caption_stage"]
    assert stage["best"]["epochs"] == 3 and len(stage["best"]["train_caption_loss"]) == 3
    assert stage["best"]["updates"] == 3 * -(-stage["best"]["dives"] // 5)  # its own batch size
    seconds = result["meta"]["seconds"]  # where the run's time went, phase by phase
    assert list(seconds) == ["setup", "train", "validate", "save", "caption_stage", "test"]
    assert all(v >= 0 for v in seconds.values()) and seconds["train"] > 0
    assert "caption_cider" in stage["best"]["val"]
    best = load_checkpoint(out / "checkpoint.pt")
    last = load_checkpoint(out / "last.pt")
    assert best["meta"]["caption_stage"]["best"]["epochs"] == 3
    assert "caption_stage" in last["meta"]
    again = fit(cfg, out, progress=False, verbose=False, resume=True)
    assert len(again["history"]) == len(result["history"])  # no epoch and no stage redone
    resumed = load_checkpoint(out / "checkpoint.pt")
    for k, v in best["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    assert again["test"]["best"]["caption_cider"] == result["test"]["best"]["caption_cider"]


def test_the_stage_changes_what_the_checkpoint_says(synth_dir, tmp_path):
    base = [f"data.root={synth_dir}", *TINY, "train.epochs=1"]
    plain_cfg = load_config("demo", [*base, "train.caption_epochs=0"])  # the preset runs a stage
    plain = fit(plain_cfg, tmp_path / "a", progress=False, verbose=False)
    staged = fit(
        load_config("demo", [*base, "train.caption_epochs=2"]),
        tmp_path / "b",
        progress=False,
        verbose=False,
    )
    a = load_checkpoint(tmp_path / "a" / "checkpoint.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "checkpoint.pt")["model"]
    differ = {k for k in a if not torch.equal(a[k], b[k])}
    assert differ and all(k.startswith("caption.") for k in differ)
    assert "caption_stage" not in plain["meta"]
    assert staged["test"]["best"]["score_spearman"] == plain["test"]["best"]["score_spearman"]


def test_test_last_off_stages_and_tests_only_the_best_and_keeps_last_pt(
    synth_dir, tmp_path, monkeypatch
):
    real = engine.validate

    def first_epoch_best(run, epoch, step):  # noqa: ANN001, ANN202
        row, pred = real(run, epoch, step)
        row["val_score_spearman"] = 1.0 - epoch / 10  # val ρ falls: epoch 1 stays the best
        return row, pred

    monkeypatch.setattr(engine, "validate", first_epoch_best)
    over = ["train.epochs=2", "train.caption_epochs=2", "train.test_last=false"]
    out = tmp_path / "run"
    cfg = load_config("demo", [f"data.root={synth_dir}", *TINY, *over])
    result = fit(cfg, out, progress=False, verbose=False)
    assert result["best_epoch"] == 1
    assert set(result["test"]) == {"best"} and set(result["predictions"]) == {"best"}
    assert set(result["meta"]["caption_stage"]) == {"best"}
    best = load_checkpoint(out / "checkpoint.pt")
    last = load_checkpoint(out / "last.pt")
    assert best["meta"]["caption_stage"]["best"]["epochs"] == 2
    # last.pt keeps the epoch-2 body (a resume continues from it), not the staged best's
    body = [k for k in best["model"] if k.startswith("backbone.")]
    assert any(not torch.equal(best["model"][k], last["model"][k]) for k in body)


def test_the_demo_command_tests_only_the_best_and_train_demo_keeps_both(tmp_path):
    from mtlaqa.demo import _demo_settings

    assert load_config("demo", _demo_settings(tmp_path, 0)).train.test_last is False
    assert load_config("demo", [f"data.root={tmp_path}"]).train.test_last is True
