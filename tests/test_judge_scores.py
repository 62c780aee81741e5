"""MTL-AQA's richer annotation pickle (judges' marks + dive numbers) through prepare-mtl-aqa."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.prepare import prepare_mtl_aqa
from mtlaqa.data.release import read_annotations
from mtlaqa.data.synth.release_layout import generate_release_synth
from mtlaqa.errors import DataError
from mtlaqa.schema import ATTRIBUTE_CLASSES, dive_number
from tests.public_datasets import TRAIN_OVERRIDES, dump

ANN = "MTL-AQA_dataset_release/Ready_2_Use/MTL-AQA_split_0_data/final_annotations_dict.pkl"


@pytest.fixture(scope="module")
def rel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel")
    generate_release_synth(out, num=8, seed=4, size=32, per_video=4, progress=False)
    return out


def rich(rel: Path) -> dict[Any, dict[str, Any]]:
    """Like CoRe's final_annotations_dict_with_dive_number.pkl: the release + judges + code."""
    out = {}
    for k, a in read_annotations(rel / ANN).items():
        m = a["final_score"] / a["difficulty"] / 3  # the middle three marks give the score
        judges = np.array([m - 1, m - 0.5, m, m, m, m + 0.5, m + 1])
        code = dive_number(*(a[n] for n in ATTRIBUTE_CLASSES))
        out[k] = {**a, "judge_scores": judges, "dive_number": code}
    return out


def _prepare(rel: Path, tmp_path: Path, entries: dict) -> Path:
    dump(entries, tmp_path / "rich.pkl")
    out = tmp_path / "ds"
    s = prepare_mtl_aqa(
        rel / "MTL-AQA_dataset_release", rel / "videos", out, progress=False,
        annotations=tmp_path / "rich.pkl",
    )  # fmt: skip
    assert s.ok
    return out


def test_judges_and_codes_in_the_manifest(rel: Path, tmp_path: Path, caplog) -> None:
    entries = rich(rel)
    with caplog.at_level(logging.WARNING):
        out = _prepare(rel, tmp_path, entries)
    assert not [r for r in caplog.records if r.name == "mtlaqa.data.judge_scores"]
    samples = read_manifest(out)
    for s in samples:
        e = entries[tuple(s.key or [])]
        assert s.judges == pytest.approx(list(e["judge_scores"]))
        assert s.code == e["dive_number"]
        assert s.difficulty * sum(sorted(s.judges)[2:5]) == pytest.approx(s.score)


def test_inconsistencies_are_warned(rel: Path, tmp_path: Path, caplog) -> None:
    entries = rich(rel)
    first = sorted(entries)[0]
    entries.pop(sorted(entries)[1])
    entries[first]["judge_scores"] = entries[first]["judge_scores"] + 1.0
    entries[first]["dive_number"] = "5337D"
    with caplog.at_level(logging.WARNING):
        _prepare(rel, tmp_path, entries)
    assert "1 release dives have no judges' marks" in caplog.text
    assert "1 dive numbers disagree with the release's attributes" in caplog.text
    assert "for 1 dives DD × middle three marks is not the final score" in caplog.text


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda e, k: e[k].pop("judge_scores"), "lacks key judge_scores"),
        (lambda e, k: e[k].update(judge_scores=[8.0] * 5), "key 'judge_scores' must be a list of 7"),
        (lambda e, k: e[k].update(judge_scores=["8"] * 7), "key 'judge_scores' must be a number, got str '8'"),
        (lambda e, k: e[k].update(dive_number=None), "key 'dive_number' must be a string like '207C'"),
        (lambda e, k: e.update({("1", 2): {}}), "key ('1', 2) is not a (video_id, dive_id) pair"),
    ],
)  # fmt: skip
def test_malformed(rel: Path, tmp_path: Path, edit, message: str) -> None:
    entries = rich(rel)
    edit(entries, sorted(entries)[0])
    dump(entries, tmp_path / "rich.pkl")
    with pytest.raises(DataError) as e:
        prepare_mtl_aqa(
            rel / "MTL-AQA_dataset_release", rel / "videos", tmp_path / "ds", progress=False,
            annotations=tmp_path / "rich.pkl",
        )  # fmt: skip
    assert str(e.value).startswith(str(tmp_path / "rich.pkl")) and message in str(e.value)


def test_cli_and_one_epoch(rel: Path, tmp_path: Path) -> None:
    dump(rich(rel), tmp_path / "rich.pkl")
    out, run = tmp_path / "ds", tmp_path / "run"
    r = CliRunner().invoke(
        main, ["data", "prepare-mtl-aqa", "--release", str(rel / "MTL-AQA_dataset_release"),
               "--videos", str(rel / "videos"), "--out", str(out), "--quiet",
               "--annotations", str(tmp_path / "rich.pkl")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    args = ["train", "--data", str(out), "--out", str(run), "--quiet"]
    for o in [*TRAIN_OVERRIDES, "model.score_protocol=with_dd"]:
        args += ["--set", o]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    m = json.loads((run / "metrics.json").read_text())
    assert m["meta"]["tasks"] == ["score", "attributes", "caption"]  # all three: nothing dropped
    assert "tasks_note" not in m["meta"]
