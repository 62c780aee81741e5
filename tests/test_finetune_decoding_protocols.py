"""Backbone freezing and LR groups, beam-search caption decoding, score protocols, presets."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mtlaqa.config import ModelConfig, TrainConfig, load_config
from mtlaqa.data.manifest import Sample
from mtlaqa.errors import DataError, MtlaqaError
from mtlaqa.models.archs import build_arch
from mtlaqa.models.finetune import apply_freeze, backbone_blocks, param_groups
from mtlaqa.models.heads import CaptionHead
from mtlaqa.protocols import protocol_samples, to_final_units

torch.set_num_threads(1)


def small(**kw: object) -> torch.nn.Module:
    cfg = ModelConfig(backbone="r3d_18", width=0.125, tasks=["score"], fc_dim=8, **kw)
    model = build_arch(cfg, clip_len=8, crop_size=32)
    apply_freeze(model, cfg)
    return model


def test_backbone_blocks_per_backbone() -> None:
    names = {
        "c3d": ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"],
        "r2plus1d_18": ["stem", "layer1", "layer2", "layer3", "layer4"],
    }
    for backbone, expect in names.items():
        m = build_arch(
            ModelConfig(backbone=backbone, width=0.125, tasks=["score"], fc_dim=8),
            clip_len=8,
            crop_size=32,
        )
        assert [n for n, _ in backbone_blocks(m.backbone)] == expect
    i3d = build_arch(
        ModelConfig(backbone="i3d", width=0.0625, tasks=["score"], fc_dim=8),
        clip_len=8,
        crop_size=32,
    )
    blocks = [n for n, _ in backbone_blocks(i3d.backbone)]
    assert len(blocks) == 12 and blocks[0] == "Conv3d_1a_7x7" and blocks[-1] == "Mixed_5c"


def test_freeze_all_keeps_backbone_and_its_bn_statistics() -> None:
    torch.manual_seed(0)
    model = small(freeze="all")
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.score.parameters())
    model.train()
    bn = model.backbone.stem[1]
    assert not bn.training and model.score.training  # frozen blocks stay in eval mode
    stats = bn.running_mean.clone()
    groups = param_groups(model, TrainConfig(lr=1e-3))
    assert [g["name"] for g in groups] == ["heads"]
    opt = torch.optim.Adam(groups)
    out = model(torch.randn(2, 2, 3, 8, 32, 32))
    out["score"].sum().backward()
    opt.step()
    torch.testing.assert_close(bn.running_mean, stats, rtol=0, atol=0)


def test_last_n_blocks_and_backbone_lr() -> None:
    model = small(freeze="last_n", finetune_blocks=2)
    trainable = {
        n.split(".")[1]
        for n, p in model.named_parameters()
        if n.startswith("backbone.") and p.requires_grad
    }
    assert trainable == {"layer3", "layer4"}
    groups = param_groups(model, TrainConfig(lr=1e-3, backbone_lr=1e-5))
    by = {g["name"]: g for g in groups}
    assert by["backbone"]["lr"] == 1e-5 and by["heads"]["lr"] == 1e-3
    n_backbone = sum(p.numel() for p in by["backbone"]["params"])
    expect = sum(
        p.numel() for m in (model.backbone.layer3, model.backbone.layer4) for p in m.parameters()
    )
    assert n_backbone == expect
    with pytest.raises(MtlaqaError, match="has 5 blocks"):
        small(freeze="last_n", finetune_blocks=6)
    with pytest.raises(MtlaqaError, match="model.freeze"):
        small(freeze="some")


def test_default_is_one_group_per_part_at_lr() -> None:
    model = small()
    groups = param_groups(model, TrainConfig(lr=3e-4))
    assert [g["lr"] for g in groups] == [3e-4, 3e-4]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


# --- caption decoding ---------------------------------------------------------------------------


def head(vocab: int = 9, seed: int = 0) -> CaptionHead:
    torch.manual_seed(seed)
    return CaptionHead(6, vocab, hidden=12, embed=5, layers=2, dropout=0.0).eval()


def scored(
    h: CaptionHead, clips: torch.Tensor, seq: list[int], max_len: int, alpha: float
) -> float:
    """Normalized log-probability of a decoded caption: `seq` + <eos> (unless cut at max_len)."""
    target = seq if len(seq) == max_len else [*seq, h.eos]
    with torch.no_grad():
        logp = h(clips, torch.tensor([[h.sos, *target[:-1]]])).log_softmax(-1)[0]
    return float(sum(logp[i, t] for i, t in enumerate(target))) / len(target) ** alpha


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_is_exhaustive_search(alpha: float) -> None:
    # with a beam as wide as every possible prefix, beam search must return the best caption of
    # all, by the same length-normalized score; checked against brute-force enumeration
    import itertools

    h = head(vocab=5, seed=2)
    clips = torch.randn(1, 2, 6)
    max_len, v = 3, 5
    words = [t for t in range(v) if t != h.eos]
    finished = [[*p] for n in range(max_len) for p in itertools.product(words, repeat=n)]
    cut = [list(p) for p in itertools.product(words, repeat=max_len)]
    best = max(scored(h, clips, c, max_len, alpha) for c in finished + cut)
    got = h.beam_search(clips, max_len, beam=v**max_len, alpha=alpha)[0]
    assert scored(h, clips, got, max_len, alpha) == pytest.approx(best, abs=1e-5)


def test_beam_of_one_is_greedy() -> None:
    h = head()
    clips = torch.randn(4, 3, 6)
    assert h.beam_search(clips, 7, beam=1, alpha=0.0) == h.greedy(clips, 7)


def test_beam_is_batched_and_respects_max_len() -> None:
    h = head(seed=3)
    clips = torch.randn(5, 2, 6)
    together = h.generate(clips, max_len=6, beam=4)
    alone = [h.generate(clips[i : i + 1], max_len=6, beam=4)[0] for i in range(5)]
    assert together == alone
    assert all(len(s) <= 6 for s in together) and all(
        h.eos not in s and h.sos not in s for s in together
    )


def test_beam_stops_at_eos() -> None:
    h = head()
    with torch.no_grad():
        h.out.bias.fill_(-50.0)
        h.out.bias[h.eos] = 50.0  # <eos> is certain at the first step
    assert h.generate(torch.randn(3, 2, 6), max_len=10, beam=3) == [[], [], []]


def test_configured_decoder_is_used() -> None:
    cfg = ModelConfig(
        backbone="c3d",
        width=0.125,
        tasks=["caption"],
        caption_hidden=8,
        caption_embed=4,
        caption_beam=3,
    )
    model = build_arch(cfg, clip_len=8, crop_size=32, vocab_size=7)
    assert model.caption.beam == 3
    assert load_config("i3d_attention_mtl").model.caption_beam == 3


# --- score protocols ----------------------------------------------------------------------------


def samples() -> list[Sample]:
    return [
        Sample(id="a", score=60.0, difficulty=3.0),
        Sample(id="b", score=40.0, difficulty=2.0),
        Sample(id="c", score=None, difficulty=None),  # no score: needs no difficulty
    ]


def test_with_dd_targets_and_back() -> None:
    s = samples()
    t = protocol_samples(s, "with_dd")
    assert [x.score for x in t] == [20.0, 20.0, None]
    assert s[0].score == 60.0  # originals untouched
    pred = {"ids": ["a", "b", "c"], "score_pred": torch.tensor([21.0, 19.0, 5.0]).numpy()}
    pred["score_true"] = torch.tensor([20.0, 20.0, float("nan")]).numpy()
    back = to_final_units(pred, s, "with_dd")
    assert back["score_pred"][:2].tolist() == [63.0, 38.0]
    assert back["score_true"][:2].tolist() == [60.0, 40.0]
    assert protocol_samples(s, "direct") is s


def test_with_dd_without_difficulty_is_a_clear_error() -> None:
    s = [*samples(), dataclasses.replace(samples()[0], id="nodd", difficulty=None)]
    with pytest.raises(
        DataError, match="with_dd needs each scored sample's difficulty; 1 lack it .e.g. nodd"
    ):
        protocol_samples(s, "with_dd")
    with pytest.raises(MtlaqaError, match="score_protocol must be one of"):
        protocol_samples(s, "dd")


@pytest.mark.parametrize(
    "preset", ["c3d_avg_mtl", "mscadc_mtl", "i3d_attention_mtl", "r2plus1d_transformer_mtl"]
)
def test_presets_load(preset: str) -> None:
    cfg = load_config(preset)
    assert cfg.model.score_protocol == "direct"
    if preset == "mscadc_mtl":
        assert (cfg.data.num_clips, cfg.data.clip_len, cfg.data.stride) == (1, 16, 6)
        assert cfg.model.arch == "mscadc"
