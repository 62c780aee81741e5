"""Issue 19, checkpoints: bad files are one line naming the file; a full disk keeps the old one."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from mtlaqa import checkpoint, engine
from mtlaqa.cli import main
from mtlaqa.errors import MtlaqaError
from mtlaqa.trainstate import resume_config


def _one_error_line(result) -> str:  # noqa: ANN001 - click's Result
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


def _edited(tiny_run, tmp_path: Path, edit) -> Path:  # noqa: ANN001
    ck = torch.load(tiny_run[0] / "last.pt", map_location="cpu", weights_only=True)
    edit(ck)
    path = tmp_path / "edited.pt"
    torch.save(ck, path)
    return path


@pytest.mark.parametrize("command", ["predict", "evaluate", "serve"])
def test_zero_byte_checkpoint_is_one_line(command, tmp_path: Path, synth_dir: Path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    args = {
        "predict": ["predict", str(empty), "x.mp4"],
        "evaluate": ["evaluate", str(empty), "--data", str(synth_dir)],
        "serve": ["serve", str(empty)],
    }[command]
    line = _one_error_line(CliRunner().invoke(main, args))
    assert line == f"error: {empty}: empty file (0 bytes), not a checkpoint"


def test_config_that_does_not_fit_the_weights_is_one_line(tiny_run, tmp_path: Path):
    path = _edited(tiny_run, tmp_path, lambda ck: ck["config"]["model"].update(fc_dim=48))
    line = _one_error_line(CliRunner().invoke(main, ["predict", str(path), "x.mp4"]))
    assert line.startswith(f"error: {path}: weights do not fit the stored config: ")
    assert "the config builds" in line


def test_missing_tensor_is_one_line(tiny_run, tmp_path: Path):
    def drop(ck: dict) -> None:
        ck["model"].pop(sorted(ck["model"])[0])

    path = _edited(tiny_run, tmp_path, drop)
    line = _one_error_line(CliRunner().invoke(main, ["predict", str(path), "x.mp4"]))
    assert line.startswith(f"error: {path}: weights do not fit the stored config: tensor ")
    assert line.endswith(" is missing")


def test_checkpoint_without_vocabulary_is_one_line(tiny_run, tmp_path: Path):
    path = _edited(tiny_run, tmp_path, lambda ck: ck.update(vocab=None))
    line = _one_error_line(CliRunner().invoke(main, ["predict", str(path), "x.mp4"]))
    assert (
        line == f"error: {path}: the model has a caption head but the checkpoint has no vocabulary"
    )


def test_resume_on_another_data_root_keeps_the_saved_vocabulary(tiny_run, tmp_path: Path):
    from mtlaqa.data.manifest import read_manifest
    from mtlaqa.data.synth.generate import generate_synthdive
    from mtlaqa.data.vocab import Vocab

    run = tmp_path / "run"
    shutil.copytree(tiny_run[0], run)
    saved = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    other = tmp_path / "other"
    generate_synthdive(other, num=10, seed=11, size=32, workers=1, progress=False)
    caps = [s.caption for s in read_manifest(other) if s.split == "train" and s.caption]
    assert Vocab.build(caps).to_list() != saved["vocab"]  # the new data gives another vocabulary
    cfg = resume_config(run, [f"data.root={other}", "train.epochs=3"])
    engine.fit(cfg, run, progress=False, resume=True, verbose=False)
    after = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert after["vocab"] == saved["vocab"]
    assert after["score_norm"] == saved["score_norm"]
    assert after["progress"]["epoch"] == 3


def _state() -> dict:
    return {"model": {"w": torch.zeros(4)}, "config": {}}


@pytest.mark.parametrize("kind", ["oserror", "torch_writer"])
def test_disk_full_while_saving_keeps_the_previous_checkpoint(kind, tmp_path: Path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save_checkpoint(path, _state())
    before = path.read_bytes()

    def full_disk(obj, f):  # noqa: ANN001 - torch.save's signature
        f.write(b"x" * 1000)  # a partial file, as a real full disk leaves
        if kind == "oserror":
            raise OSError(errno.ENOSPC, "No space left on device")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    if kind == "torch_writer":  # torch hides the errno: the free space tells
        usage = shutil.disk_usage(tmp_path)
        monkeypatch.setattr(
            "mtlaqa.checkpoint_checks.shutil.disk_usage",
            lambda p: usage._replace(free=0),
        )
    with pytest.raises(MtlaqaError) as e:
        checkpoint.save_checkpoint(path, _state())
    assert str(e.value) == (
        f"{path}: cannot save the checkpoint (disk full); the previous checkpoint is kept"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
