"""SynthDive: determinism, calibration of the labels, labels visible in the pixels, manifest."""

from __future__ import annotations

from collections import defaultdict

import av
import numpy as np
import pytest
from scipy.stats import spearmanr

from mtlaqa.data.manifest import read_manifest
from mtlaqa.data.synth.catalogue import ATTRS
from mtlaqa.data.synth.generate import generate_synthdive, sample_labels
from mtlaqa.data.synth.render import NUM_FRAMES, render_dive


def _decode(path: str) -> np.ndarray:
    with av.open(path) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def _params(**kw) -> dict:
    flaws = dict(entry_angle=0.0, splash=0.05, legs_apart=0.0, knees_bent=0.0, takeoff=0.0)
    flaws.update(kw.pop("flaws", {}))
    p = dict(
        position=2,
        armstand=0,
        rotation_type=1,
        ss_no=7,
        tw_no=0,
        height=10,
        start_frame=12,
        entry_frame=91,
        scene_seed=[0, 1],
        flaws=flaws,
    )
    p.update(kw)
    return p


def _diver_masks(p: dict, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Frames with the diver and a boolean mask of the diver pixels (flat background)."""
    with_d = render_dive(p, size, plain=True).astype(int)
    without = render_dive(p, size, plain=True, diver=False).astype(int)
    return with_d, np.abs(with_d - without).sum(-1) > 60


def test_generate_is_deterministic(tmp_path):
    a = generate_synthdive(tmp_path / "a", 6, seed=3, size=32, workers=2, progress=False)
    b = generate_synthdive(tmp_path / "b", 6, seed=3, size=32, workers=1, progress=False)
    c = generate_synthdive(tmp_path / "c", 6, seed=4, size=32, workers=1, progress=False)
    assert a.read_text() == b.read_text()
    assert a.read_text() != c.read_text()
    for sa, sb, sc in zip(read_manifest(a), read_manifest(b), read_manifest(c), strict=True):
        fa, fb, fc = _decode(sa.video), _decode(sb.video), _decode(sc.video)
        assert fa.shape == (NUM_FRAMES, 32, 32, 3)
        assert np.array_equal(fa, fb)
        assert fa.shape != fc.shape or not np.array_equal(fa, fc)
    assert (tmp_path / "a" / "synth_meta.jsonl").read_text().count("\n") == 6
    assert not list((tmp_path / "a" / "videos").glob("*.tmp*"))


def test_frames_do_not_depend_on_how_many_are_shaded_together(monkeypatch):
    """The diver is shaded a few frames at a time; how many must not change a single byte."""
    from mtlaqa.data.synth import layers

    dives = sample_labels(4, seed=5)
    ref = [render_dive(d, 48) for d in dives]
    for chunk in (1, 3, NUM_FRAMES):
        monkeypatch.setattr(layers, "_CHUNK", chunk)
        for d, frames in zip(dives, ref, strict=True):
            assert np.array_equal(render_dive(d, 48), frames)


def test_manifest_fields(tmp_path):
    path = generate_synthdive(tmp_path, 10, seed=0, size=32, workers=1, progress=False)
    samples = read_manifest(path)
    assert [s.id for s in samples] == [f"d{i:05d}" for i in range(1, 11)]
    assert {s.split for s in samples} <= {"train", "val", "test"}
    assert sum(s.split == "train" for s in samples) == 7
    for s in samples:
        assert s.end_frame - 103 - 3 >= 0 and s.end_frame + 3 <= NUM_FRAMES - 1
        assert s.end_frame - 103 <= s.start_frame < s.end_frame - 80
        assert len(s.judges) == 7 and all(0 <= j <= 10 and j * 2 == int(j * 2) for j in s.judges)
        mid = sorted(s.judges)[2:5]
        assert s.score == pytest.approx(s.difficulty * sum(mid), abs=0.01)
        assert 1.2 <= s.difficulty <= 4.1
        assert s.caption and s.caption == s.caption.lower()
        assert "extra" not in s.extra and "quality" not in s.extra


def test_calibration_of_labels():
    dives = sample_labels(3000, seed=0)
    train, test = dives[:2000], dives[2000:]
    by_type = defaultdict(list)
    for d in train:
        by_type[tuple(d[a] for a in ATTRS)].append(d["score"])
    mean = float(np.mean([d["score"] for d in train]))
    pred = [np.mean(by_type.get(tuple(d[a] for a in ATTRS), [mean])) for d in test]
    y = [d["score"] for d in test]
    rho_class = spearmanr(pred, y)[0]
    rho_oracle = spearmanr([d["quality"] * d["difficulty"] for d in test], y)[0]
    ratio = np.array([d["score"] / d["difficulty"] for d in dives])
    cv = ratio.std() / ratio.mean()
    assert 0.5 <= rho_class <= 0.7, rho_class
    assert rho_oracle >= 0.95, rho_oracle
    assert 0.15 <= cv <= 0.3, cv
    dd = np.array([d["difficulty"] for d in dives])
    assert dd.min() >= 1.2 and dd.max() <= 4.1 and dd.std() > 0.3
    assert 0.25 <= np.mean([d["tw_no"] > 0 for d in dives]) <= 0.42
    assert 0.09 <= np.mean([d["armstand"] for d in dives]) <= 0.16
    for a, n in (("position", 3), ("armstand", 2), ("rotation_type", 4)):
        assert {d[a] for d in dives} == set(range(n))
    assert len({d["ss_no"] for d in dives}) >= 4 and len({d["tw_no"] for d in dives}) >= 4
    assert np.mean([5 <= d["ss_no"] <= 7 for d in dives]) > 0.6


def _front_fraction(p: dict) -> np.ndarray:
    frames, mask = _diver_masks(p)
    frac = []
    for t in range(p["start_frame"] + 14, p["entry_frame"] - 6):
        px = frames[t][mask[t]]
        front = (px[:, 0] > 140) & (px[:, 1] > 90)
        back = px[:, 0] < 90
        frac.append(front.sum() / max(1, front.sum() + back.sum()))
    return np.array(frac)


def test_twist_swaps_front_and_back_tones():
    still = _front_fraction(_params(position=0, ss_no=3, tw_no=0))
    twist = _front_fraction(_params(position=0, ss_no=3, tw_no=5))
    assert twist.max() > 0.9 and twist.min() < 0.15, (twist.min(), twist.max())
    assert still.min() > 0.2 and still.max() < 0.8, (still.min(), still.max())


def _shape(p: dict) -> tuple[float, float]:
    """Mean diver area and principal-axis elongation over mid-flight frames."""
    _, mask = _diver_masks(p)
    area, elong = [], []
    for t in range(40, 65):
        ys, xs = np.nonzero(mask[t])
        w = np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(float)))
        area.append(len(xs))
        elong.append(np.sqrt(w[1] / w[0]))
    return float(np.mean(area)), float(np.mean(elong))


def test_position_changes_shape():
    pike_area, pike_elong = _shape(_params(position=1))
    tuck_area, tuck_elong = _shape(_params(position=2))
    assert pike_area > 1.15 * tuck_area  # an open V of straight legs vs a ball
    assert tuck_elong > 1.3 * pike_elong


def test_entry_angle_visible():
    def axis_angle(p: dict) -> float:
        _, mask = _diver_masks(p)
        ys, xs = np.nonzero(mask[p["entry_frame"]])
        cov = np.cov(np.stack([xs, ys]).astype(float))
        w, v = np.linalg.eigh(cov)
        major = v[:, -1]
        return float(np.degrees(np.arccos(abs(major[1]))))  # 0 = vertical

    assert axis_angle(_params()) < 6
    assert axis_angle(_params(flaws={"entry_angle": 40.0})) > 30


def test_splash_size_visible():
    def white(amount: float) -> int:
        frames = render_dive(_params(flaws={"splash": amount}), 64, plain=True)
        return int((frames[91:106].min(-1) > 215).sum())

    small, big = white(0.05), white(0.9)
    assert big > 5 * max(small, 1) and small > 0
