"""Issue 19, configuration: every bad setting is one line naming the setting, at config time."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.config import load_config
from mtlaqa.errors import MtlaqaError


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=0", "'train.epochs' must be >= 1, got 0"),
        ("train.epochs=-1", "'train.epochs' must be >= 1, got -1"),
        ("train.lr=nan", "'train.lr' must be a finite number"),
        ("train.batch_size=0", "'train.batch_size' must be >= 1"),
        ("data.num_clips=0", "'data.num_clips' must be >= 1"),
        ("model.tasks=[bogus]", "'model.tasks' unknown value 'bogus'"),
        ("model.tasks=[]", "'model.tasks' needs at least one of score"),
        ("model.dropout=2", "'model.dropout' must be >= 0 and < 1, got 2"),
        ("data.resize=[32,0]", "'data.resize' must be >= 1, got 0"),
        ("train.amp=fp8", "'train.amp' unknown value 'fp8'"),
        ("train.caption_schedule=step", "'train.caption_schedule' unknown value 'step'"),
    ],
)
def test_out_of_range_settings_are_refused_when_the_config_is_built(override, message):
    with pytest.raises(MtlaqaError, match="^config: ") as e:
        load_config("demo", [override])
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_train_epochs_zero_is_refused_by_the_cli_before_any_run_folder(tmp_path: Path):
    out = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        ["train", "demo", "--data", str(tmp_path), "--out", str(out), "--set", "train.epochs=0"],
    )
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == ["error: config: 'train.epochs' must be >= 1, got 0"]
    assert not out.exists()


def test_yaml_syntax_error_is_one_line_with_its_position(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: [1e-4\n  epochs: 3\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["train", str(bad), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: not valid YAML at line ")


def test_non_utf8_yaml_is_one_line(tmp_path: Path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("# entraînement\ntrain:\n  lr: 0.001\n".encode("latin-1"))
    with pytest.raises(MtlaqaError, match=r"latin1.yaml: not UTF-8 text"):
        load_config(str(bad))


def test_a_scalar_section_is_not_silently_replaced_by_an_override(tmp_path: Path):
    bad = tmp_path / "scalar.yaml"
    bad.write_text("train: 5\n", encoding="utf-8")
    with pytest.raises(MtlaqaError, match=r"scalar.yaml: 'train' must be a mapping of settings"):
        load_config(str(bad), ["train.lr=0.01"])


def test_an_unparsable_override_value_is_one_line():
    with pytest.raises(MtlaqaError, match=r"--set train.lr: cannot parse the value"):
        load_config("demo", ["train.lr=[1"])
