"""SynthDive in the release layout: official file names and Python types, readable by the reader."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import av
import numpy as np
import pytest

from mtlaqa.data.release import read_release
from mtlaqa.data.synth.release_layout import generate_release_synth


@pytest.fixture(scope="module")
def synth_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel")
    generate_release_synth(out, num=6, seed=1, size=32, per_video=4, progress=False)
    return out


def test_layout_types(synth_release: Path) -> None:
    rdir = synth_release / "MTL-AQA_dataset_release" / "Ready_2_Use" / "MTL-AQA_split_0_data"
    names = sorted(p.name for p in rdir.iterdir())
    assert names == [
        "final_annotations_dict.pkl", "final_captions_dict.pkl", "test_split_0.pkl",
        "train_split_0.pkl", "vocab.json",
    ]  # fmt: skip
    raw = (rdir / "final_annotations_dict.pkl").read_bytes()
    assert raw[:2] == b"\x80\x03"  # protocol 3 like the real files
    ann = pickle.loads(raw)
    assert set(ann) == {(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2)}
    assert all(type(k[0]) is int for k in ann)
    train = pickle.loads((rdir / "train_split_0.pkl").read_bytes())
    test = pickle.loads((rdir / "test_split_0.pkl").read_bytes())
    assert isinstance(train, list) and isinstance(train[0], tuple)
    assert sorted(train + test) == sorted(ann)
    caps = pickle.loads((rdir / "final_captions_dict.pkl").read_bytes())
    assert any(isinstance(k[0], np.integer) for k in caps)
    assert all(v[0] == "<sos>" and v[-1] == "<eos>" for v in caps.values())
    vocab = json.loads((rdir / "vocab.json").read_text())
    assert vocab["word_to_ix"]["<eos>"] == 0 and vocab["word_to_ix"]["<sos>"] == 1
    assert vocab["ix_to_word"]["0"] == "<eos>" and len(vocab["ix_to_word"]) == len(
        vocab["word_to_ix"]
    )
    # event video 1: 4 dives × 112 frames back to back at 25 fps
    with av.open(str(synth_release / "videos" / "01.mp4")) as c:
        s = c.streams.video[0]
        assert s.average_rate == 25 and sum(1 for _ in c.decode(s)) == 4 * 112
    assert ann[(1, 2)]["end_frame"] == 112 + 106


def test_reader_reads_synth(synth_release: Path) -> None:
    d = read_release(synth_release / "MTL-AQA_dataset_release")
    assert len(d.annotations) == 6 and len(d.train) + len(d.test) == 6
    assert d.dropped_captions == 1 and len(d.captions) == 6
    assert all("<sos>" not in c for c in d.captions.values())


def test_cli_layout_release(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mtlaqa.cli import main

    r = CliRunner().invoke(
        main,
        [
            "synth",
            str(tmp_path),
            "--layout",
            "release",
            "--num",
            "3",
            "--size",
            "16",
            "--workers",
            "1",
            "--per-video",
            "2",
        ],
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["01.mp4", "02.mp4"]
    assert not (tmp_path / "manifest.jsonl").exists()
    d = read_release(tmp_path / "MTL-AQA_dataset_release")
    assert sorted(d.annotations) == [(1, 1), (1, 2), (2, 1)]
