import numpy as np
import pytest
import torch

from mtlaqa.config import DataConfig
from mtlaqa.data.dataset import DiveDataset, ScoreNorm, collate
from mtlaqa.data.manifest import Sample, read_manifest
from mtlaqa.data.sampling import clip_indices, pad_edges, span, window_range
from mtlaqa.data.transforms import crop, normalize, to_clips
from mtlaqa.data.video import count_frames, read_frames
from mtlaqa.data.vocab import Vocab, tokenize
from mtlaqa.errors import MtlaqaError, VideoError
from mtlaqa.inputspec import InputSpec


def test_paper_window_and_clips():
    # the 103 frames before end_frame; the first 96 form six clips of 16
    assert window_range(200, 103) == (97, 200)
    idx = clip_indices(6, 16)
    assert idx.shape == (6, 16) and idx[0, 0] == 0 and idx[-1, -1] == 95
    assert np.all(np.diff(idx.reshape(-1)) == 1)
    strided = clip_indices(4, 8, 3)
    assert strided[-1, -1] == 93 and span(4, 8, 3) == 94


def test_clip_starts_place_each_clip():
    idx = clip_indices(2, 8, 3, [36, 72])
    assert idx.shape == (2, 8)
    assert idx[0].tolist() == list(range(36, 58, 3)) and idx[1, 0] == 72 and idx[1, -1] == 93
    assert span(2, 8, 3, [36, 72]) == 94
    with pytest.raises(ValueError, match="clip_starts has 1 entries but num_clips is 2"):
        clip_indices(2, 8, 3, [36])


@pytest.mark.parametrize(
    ("starts", "message"),
    [([36], "clip_starts has 1 entries"), ([36, 90], "reach window frames 36..111")],
)
def test_bad_clip_starts_are_config_errors(starts, message):
    cfg = DataConfig(num_clips=2, clip_len=8, stride=3, clip_starts=starts)
    with pytest.raises(MtlaqaError, match=message):
        DiveDataset([], cfg, InputSpec(clip_len=8, crop_size=32))


def test_pad_edges_repeats_first_and_last():
    x = np.arange(3)[:, None]
    assert pad_edges(x, 2, 1)[:, 0].tolist() == [0, 0, 0, 1, 2, 2]


def test_read_frames_is_frame_accurate(synth_dir):
    video = read_manifest(synth_dir)[0].video
    n = count_frames(video)
    assert n == 112
    all_frames = read_frames(video, 0, n)
    part = read_frames(video, 40, 48, None)
    assert part.shape == (8, 32, 32, 3)
    assert np.array_equal(part, all_frames[40:48])
    small = read_frames(video, 0, 5, (16, 12))
    assert small.shape == (5, 12, 16, 3)


def test_unreadable_and_missing_videos_are_one_line_errors(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError, match="garbage.mp4"):
        read_frames(bad, 0, 10)
    with pytest.raises(VideoError, match="file not found"):
        read_frames(tmp_path / "missing.mp4", 0, 10)


def _cfg(**kw):
    base = dict(num_clips=3, clip_len=4, stride=8, resize=[32, 32], crop_size=28, random_crop=True)
    base.update(kw)
    return DataConfig(**base)


def test_dataset_shapes_labels_and_determinism(synth_dir):
    samples = read_manifest(synth_dir)
    vocab = Vocab.build([s.caption for s in samples])
    norm = ScoreNorm.fit([s.score for s in samples])
    spec = InputSpec(clip_len=4, crop_size=28)
    ds = DiveDataset(samples, _cfg(), spec, train=True, vocab=vocab, score_norm=norm, seed=1)
    a, b = ds[0], ds[0]
    assert a["video"].shape == (3, 3, 4, 28, 28)
    assert torch.equal(a["video"], b["video"])  # same epoch, same sample -> same draws
    assert a["score"] == pytest.approx((samples[0].score - norm.mean) / norm.std)
    assert a["attributes"].tolist() == list(samples[0].attributes().values())
    ds.set_epoch(1)
    draws = {ds[0]["video"].sum().item() for _ in range(1)} | set()
    ds.set_epoch(2)
    draws.add(ds[0]["video"].sum().item())
    ds.set_epoch(3)
    draws.add(ds[0]["video"].sum().item())
    assert len(draws) > 1  # jitter/crop/flip change across epochs
    test_ds = DiveDataset(samples, _cfg(), spec, train=False, vocab=vocab, score_norm=norm)
    assert torch.equal(test_ds[0]["video"], test_ds[0]["video"])


def test_mean_frame_subtraction_removes_static_background():
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 16, 16, 3), dtype=np.uint8), 8, axis=0)
    for t in range(8):  # a bright square moving over a static textured background
        frames[t, 4:8, t : t + 4] = 255
    spec = InputSpec(clip_len=8, crop_size=16)
    x = normalize(frames, spec, subtract_mean_frame=True)  # (3, 8, 16, 16)
    assert x.shape == (3, 8, 16, 16)
    assert x[:, :, 10:].abs().max() < 1e-5  # static rows cancel exactly
    assert x[:, :, 4:8].abs().max() > 1.0  # the moving square remains
    plain = normalize(frames, spec, subtract_mean_frame=False)
    assert plain[:, :, 10:].abs().max() > 1.0


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("random_crop", [False, True])
def test_to_clips_table_lookup_equals_normalizing_the_cropped_window(flip, random_crop):
    # to_clips picks the clip frames first and normalizes by a per-channel table: the same
    # tensor as cropping and flipping the whole window and normalizing its frames
    window = np.random.default_rng(1).integers(0, 256, (40, 30, 36, 3), dtype=np.uint8)
    offsets = np.array([[0, 2, 4], [21, 23, 25]])
    spec = InputSpec(clip_len=3, crop_size=24, mean=(0.1, 0.5, 0.9), std=(0.3, 0.2, 0.1))
    rng = (lambda: np.random.default_rng(3)) if random_crop else (lambda: None)
    got = to_clips(window, offsets, spec, 24, rng(), flip, False)
    frames = crop(window, 24, rng())
    frames = frames[:, :, ::-1] if flip else frames
    want = normalize(frames[offsets.reshape(-1)], spec).view(3, 2, 3, 24, 24)
    assert got.shape == (2, 3, 3, 24, 24)
    assert torch.equal(got, want.permute(1, 0, 2, 3, 4))


def test_collate_pads_captions_into_teacher_forcing_pairs(synth_dir):
    samples = read_manifest(synth_dir)[:3]
    vocab = Vocab.build([s.caption for s in samples])
    ds = DiveDataset(samples, _cfg(), InputSpec(clip_len=4, crop_size=28), vocab=vocab)
    batch = collate([ds[i] for i in range(3)])
    assert batch["video"].shape == (3, 3, 3, 4, 28, 28)
    cin, cout = batch["caption_in"], batch["caption_out"]
    assert cin.shape == cout.shape
    assert (cin[:, 0] == vocab.sos).all()
    for r in range(3):
        n = len(tokenize(samples[r].caption)[:40])
        assert cout[r, n] == vocab.eos and (cout[r, n + 1 :] == vocab.pad).all()
        assert torch.equal(cin[r, 1 : n + 1], cout[r, :n])


def test_vocab_unknown_words_and_round_trip():
    v = Vocab.build(["a clean entry", "a big splash"], min_count=1)
    ids = v.encode("a clean dive", max_len=10)
    assert ids[0] == v.sos and ids[-1] == v.eos and v.unk in ids
    assert v.decode(v.encode("a big splash", 10)[1:]) == "a big splash"
    assert Vocab.from_list(v.to_list()).stoi == v.stoi


def test_short_video_is_padded_or_refused(tmp_path, synth_dir):
    video = read_manifest(synth_dir)[0].video
    spec = InputSpec(clip_len=4, crop_size=32)
    s = Sample(id="x", video=video, end_frame=60)  # window starts before frame 0
    padded = DiveDataset([s], _cfg(crop_size=32), spec)[0]["video"]
    assert padded.shape == (3, 3, 4, 32, 32)
    with pytest.raises(VideoError, match="only"):
        DiveDataset([s], _cfg(crop_size=32, short_video="error"), spec)[0]
