"""Every registered arch × backbone × aggregator in narrow form: forward and backward on CPU.

The combinations come from the registries, so a new entry is tested without editing this file;
a model.* field an arch declares it does not read is named in a warning, and an option a backbone
or aggregator does not read is a one-line error.
"""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.aggregation import sinusoidal_positions
from mtlaqa.models.archs import arch_names, build_arch, ignored_fields
from mtlaqa.models.registry import (
    AGGREGATORS,
    BACKBONES,
    aggregator_names,
    backbone_names,
    backbone_options,
    build_aggregator,
    build_backbone,
)

torch.set_num_threads(1)  # 2 shared cores: no oversubscription in tests

WIDTH = 0.0625  # every backbone at 1/16 of its channels: seconds on a CPU
FRAMES, SIZE, CLIPS = 16, 32, 2  # the smallest clips every arch accepts (MSCADC: >= 12 × 24 px)
DEFAULTS = ModelConfig()


def test_registries_hold_the_issue_names() -> None:
    assert {"c3d", "c3d_s", "i3d", "r3d_18", "r2plus1d_18"} <= set(backbone_names())
    assert {"mean", "concat", "learned", "attention", "transformer", "gru"} <= set(
        aggregator_names()
    )
    assert {"multiclip", "mscadc"} <= set(arch_names())
    assert set(BACKBONES) == set(backbone_names()) and set(AGGREGATORS) == set(aggregator_names())


def _cfg(arch: str, backbone: str, aggregator: str) -> ModelConfig:
    return ModelConfig(
        arch=arch,
        backbone=backbone,
        width=WIDTH,
        aggregator=aggregator,
        tasks=["score", "attributes", "caption"],
        fc_dim=16,
        caption_hidden=16,
        caption_embed=8,
    )


@pytest.mark.parametrize("arch", arch_names())
@pytest.mark.parametrize("backbone", backbone_names())
@pytest.mark.parametrize("aggregator", aggregator_names())
def test_arch_x_backbone_x_aggregator_forward_backward(
    arch: str, backbone: str, aggregator: str, caplog: pytest.LogCaptureFixture
) -> None:
    torch.manual_seed(0)
    cfg = _cfg(arch, backbone, aggregator)
    ignored = ignored_fields(cfg)  # fields the arch declares it does not read
    with caplog.at_level(logging.WARNING, logger="mtlaqa.models.archs"):
        model = build_arch(cfg, clip_len=FRAMES, crop_size=SIZE, vocab_size=12, num_clips=CLIPS)
    if (
        ignored
    ):  # the same network as with those fields at their defaults, and a warning naming them
        assert f"model.{ignored[0]}=" in caplog.text and f"model.arch={arch}" in caplog.text
        plain = dataclasses.replace(cfg, **{k: getattr(DEFAULTS, k) for k in ignored})
        twin = build_arch(plain, clip_len=FRAMES, crop_size=SIZE, vocab_size=12, num_clips=CLIPS)
        assert {k: v.shape for k, v in model.state_dict().items()} == {
            k: v.shape for k, v in twin.state_dict().items()
        }
        return  # the forward pass is that of the combination with the defaults
    assert not caplog.text
    video = torch.randn(2, CLIPS, 3, FRAMES, SIZE, SIZE)  # (B, K, 3, T, H, W)
    cap = torch.randint(1, 12, (2, 5))
    out = model(video, cap)
    assert out["features"].shape[:2] == (2, CLIPS)
    assert out["score"].shape == (2,)
    assert out["attributes"]["ss_no"].shape == (2, 10)
    assert out["caption"].shape == (2, 5, 12)
    loss = out["score"].square().sum() + out["attributes"]["position"].sum() + out["caption"].mean()
    loss.backward()
    first = next(p for p in model.backbone.parameters() if p.ndim == 5)
    assert first.grad is not None and first.grad.abs().sum() > 0, "no gradient reached the backbone"
    for name, p in getattr(model, "aggregator", torch.nn.Module()).named_parameters():
        assert p.grad is not None, f"aggregator parameter {name} got no gradient"
    assert model.input_spec.clip_len == FRAMES and model.input_spec.crop_size == SIZE


@pytest.mark.parametrize("backbone", backbone_names())
def test_backbone_norm_builds_or_is_refused_by_name(backbone: str) -> None:
    cfg = dataclasses.replace(_cfg("multiclip", backbone, "mean"), backbone_norm="batch")
    options = backbone_options(backbone)
    if options is None or "norm" in options:
        model = build_arch(cfg, clip_len=FRAMES, crop_size=SIZE, vocab_size=12, num_clips=CLIPS)
        assert any(isinstance(m, torch.nn.BatchNorm3d) for m in model.backbone.modules())
    else:
        with pytest.raises(MtlaqaError, match=rf"model\.backbone_norm='batch'.*{backbone!r}"):
            build_arch(cfg, clip_len=FRAMES, crop_size=SIZE, vocab_size=12, num_clips=CLIPS)


@pytest.mark.parametrize("backbone", backbone_names())
def test_backbone_refuses_an_option_it_does_not_read(backbone: str) -> None:
    with pytest.raises(MtlaqaError, match=rf"backbone {backbone!r} does not use option 'colour'"):
        build_backbone(backbone, clip_len=8, crop_size=32, width=WIDTH, colour="red")


@pytest.mark.parametrize("aggregator", aggregator_names())
def test_aggregator_refuses_an_option_it_does_not_read(aggregator: str) -> None:
    with pytest.raises(
        MtlaqaError, match=rf"aggregator {aggregator!r} does not use option 'depth'"
    ):
        build_aggregator(aggregator, dim=8, num_clips=3, depth=2)


@pytest.mark.parametrize("aggregator", aggregator_names())
def test_aggregator_any_k_and_mask(aggregator: str) -> None:
    torch.manual_seed(0)
    options = AGGREGATORS.options(aggregator)
    if options is not None and "num_clips" in options:  # built for a fixed number of clips
        agg = build_aggregator(aggregator, dim=24, num_clips=4).eval()
        assert agg(torch.randn(3, 4, 24)).shape == (3, agg.out_dim)
        with pytest.raises(ValueError, match="built for 4 clips"):
            agg(torch.randn(3, 5, 24))
        return
    agg = build_aggregator(aggregator, dim=24).eval()  # eval: no dropout
    for k in (1, 4, 9):
        assert agg(torch.randn(3, k, 24)).shape == (3, agg.out_dim)
    # a padded clip (mask False) at the end must not change the result
    x = torch.randn(2, 4, 24)
    padded = torch.cat([x, torch.randn(2, 1, 24) * 100], 1)
    mask = torch.tensor([[True] * 4 + [False]] * 2)
    torch.testing.assert_close(agg(padded, mask), agg(x), rtol=1e-4, atol=1e-5)


def test_concat_keeps_clip_order_and_masks_missing_clips() -> None:
    agg = build_aggregator("concat", dim=4, num_clips=3)
    x = torch.randn(2, 3, 4)
    assert agg.out_dim == 12
    torch.testing.assert_close(agg(x)[:, 4:8], x[:, 1])  # clip 1's features in slot 1
    mask = torch.tensor([[True, True, False], [True, True, True]])
    out = agg(x, mask)
    assert torch.all(out[0, 8:] == 0) and torch.equal(out[1], x[1].flatten())
    with pytest.raises(ValueError, match="built for 3 clips, got 2"):
        agg(x[:, :2])


def test_learned_starts_as_the_mean_and_attention_is_not_the_mean() -> None:
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(build_aggregator("learned", dim=16)(x), x.mean(1))
    torch.manual_seed(1)
    att = build_aggregator("attention", dim=16)
    assert not torch.allclose(att(x), x.mean(1))


def test_transformer_uses_clip_order() -> None:
    # positional encoding: reversing the clips changes the output (a plain mean would not)
    torch.manual_seed(0)
    agg = build_aggregator("transformer", dim=16).eval()
    x = torch.randn(1, 6, 16)
    assert not torch.allclose(agg(x), agg(x.flip(1)), atol=1e-4)
    pe = sinusoidal_positions(7, 10, torch.device("cpu"))
    assert pe.shape == (7, 10) and torch.all(pe[0, 1::2] == 1.0)


@pytest.mark.parametrize(
    ("name", "params", "dim"),
    [
        # torchvision's published sizes (33,371,472 / 31,505,325) minus fc 512×400 + 400
        ("r3d_18", 33_371_472 - 205_200, 512),
        ("r2plus1d_18", 31_505_325 - 205_200, 512),
        ("i3d", 12_287_264, 1024),
    ],
)
def test_full_size_backbones(name: str, params: int, dim: int) -> None:
    m = build_backbone(name, clip_len=16, crop_size=112, width=1.0)
    assert sum(p.numel() for p in m.parameters()) == params
    assert m.out_dim == dim


@pytest.mark.parametrize("size", [112, 64, 32])
def test_c3d_out_dim_matches_forward(size: int) -> None:
    m = build_backbone("c3d", clip_len=16, crop_size=size, width=0.125)
    with torch.no_grad():
        assert m(torch.randn(1, 3, 16, size, size)).shape == (1, m.out_dim)
    if size == 112:  # the paper's pool5: 512×1×4×4 at full width
        assert build_backbone("c3d", clip_len=16, crop_size=112, width=1.0).out_dim == 8192


def test_input_specs_follow_the_weights() -> None:
    i3d = build_backbone("i3d", clip_len=16, crop_size=224, width=0.0625).input_spec
    # model_rgb.pth expects pixels in [-1, 1]: 0 -> -1, 255 -> 1
    assert (0 * i3d.scale - i3d.mean[0]) / i3d.std[0] == pytest.approx(-1.0)
    assert (255 * i3d.scale - i3d.mean[0]) / i3d.std[0] == pytest.approx(1.0)
    r = build_backbone("r2plus1d_18", width=0.125).input_spec
    assert r.mean == pytest.approx((0.43216, 0.394666, 0.37645)) and r.crop_size == 112


def test_unknown_names_are_one_line_errors() -> None:
    with pytest.raises(MtlaqaError, match="unknown backbone 'nope'"):
        build_backbone("nope")
    with pytest.raises(MtlaqaError, match="unknown model.arch"):
        build_arch(ModelConfig(arch="nope"), clip_len=8, crop_size=32)
