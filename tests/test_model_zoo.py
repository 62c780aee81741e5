"""Every registered backbone × aggregator in narrow form: forward and backward on CPU."""

from __future__ import annotations

import pytest
import torch

from mtlaqa.config import ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.models.aggregation import sinusoidal_positions
from mtlaqa.models.archs import build_arch
from mtlaqa.models.registry import AGGREGATORS, BACKBONES, build_aggregator, build_backbone

torch.set_num_threads(1)  # 2 shared cores: no oversubscription in tests

# importing the packages registers the built-ins
build_backbone("c3d", frames=8, size=32, width=0.125)
build_aggregator("mean", dim=4)

NARROW = {"c3d": 0.125, "c3d_s": 0.125, "i3d": 0.0625, "r3d_18": 0.125, "r2plus1d_18": 0.125}


def test_registries_hold_the_issue_names() -> None:
    assert {"c3d", "c3d_s", "i3d", "r3d_18", "r2plus1d_18"} <= set(BACKBONES)
    assert {"mean", "concat", "learned", "attention", "transformer", "gru"} <= set(AGGREGATORS)


@pytest.mark.parametrize("backbone", sorted(NARROW))
@pytest.mark.parametrize(
    "aggregator", ["mean", "concat", "learned", "attention", "transformer", "gru"]
)
def test_backbone_x_aggregator_forward_backward(backbone: str, aggregator: str) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(
        backbone=backbone,
        width=NARROW[backbone],
        aggregator=aggregator,
        tasks=["score", "attributes", "caption"],
        fc_dim=16,
        caption_hidden=16,
        caption_embed=8,
    )
    model = build_arch(cfg, frames=8, size=32, vocab_size=12, num_clips=3)
    video = torch.randn(2, 3, 3, 8, 32, 32)  # (B, K, 3, T, H, W)
    cap = torch.randint(1, 12, (2, 5))
    out = model(video, cap)
    d = model.backbone.out_dim
    assert out["features"].shape == (2, 3, d)
    assert out["score"].shape == (2,)
    assert out["attributes"]["ss_no"].shape == (2, 10)
    assert out["caption"].shape == (2, 5, 12)
    loss = out["score"].square().sum() + out["attributes"]["position"].sum() + out["caption"].mean()
    loss.backward()
    first = next(p for p in model.backbone.parameters() if p.ndim == 5)
    assert first.grad is not None and first.grad.abs().sum() > 0, "no gradient reached the backbone"
    for name, p in model.aggregator.named_parameters():
        assert p.grad is not None, f"aggregator parameter {name} got no gradient"
    assert model.input_spec.frames == 8 and model.input_spec.size == 32


@pytest.mark.parametrize("aggregator", ["mean", "learned", "attention", "transformer", "gru"])
def test_aggregator_any_k_and_mask(aggregator: str) -> None:
    torch.manual_seed(0)
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
    m = build_backbone(name, frames=16, size=112, width=1.0)
    assert sum(p.numel() for p in m.parameters()) == params
    assert m.out_dim == dim


@pytest.mark.parametrize("size", [112, 64, 32])
def test_c3d_out_dim_matches_forward(size: int) -> None:
    m = build_backbone("c3d", frames=16, size=size, width=0.125)
    with torch.no_grad():
        assert m(torch.randn(1, 3, 16, size, size)).shape == (1, m.out_dim)
    if size == 112:  # the paper's pool5: 512×1×4×4 at full width
        assert build_backbone("c3d", frames=16, size=112, width=1.0).out_dim == 8192


def test_input_specs_follow_the_weights() -> None:
    i3d = build_backbone("i3d", frames=16, size=224, width=0.0625).input_spec
    # model_rgb.pth expects pixels in [-1, 1]: 0 -> -1, 255 -> 1
    assert (0 * i3d.scale - i3d.mean[0]) / i3d.std[0] == pytest.approx(-1.0)
    assert (255 * i3d.scale - i3d.mean[0]) / i3d.std[0] == pytest.approx(1.0)
    r = build_backbone("r2plus1d_18", width=0.125).input_spec
    assert r.mean == pytest.approx((0.43216, 0.394666, 0.37645)) and r.size == 112


def test_unknown_names_are_one_line_errors() -> None:
    with pytest.raises(MtlaqaError, match="unknown backbone 'nope'"):
        build_backbone("nope")
    with pytest.raises(MtlaqaError, match="unknown model.arch"):
        build_arch(ModelConfig(arch="nope"), frames=8, size=32)
