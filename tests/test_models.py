import pytest
import torch

from mtlaqa.config import LossConfig, ModelConfig
from mtlaqa.errors import MtlaqaError
from mtlaqa.losses import attributes_loss, caption_loss, score_loss, total_loss
from mtlaqa.models.backbones.c3d import C3D
from mtlaqa.models.backbones.c3d_small import C3DSmall
from mtlaqa.models.mtl import MTLModel
from mtlaqa.models.registry import build_backbone
from mtlaqa.models.weights import load_backbone_weights
from mtlaqa.schema import ATTRIBUTE_CLASSES

# keys and shapes of the public Sports-1M c3d.pickle
C3D_PICKLE = {
    "conv1": (64, 3),
    "conv2": (128, 64),
    "conv3a": (256, 128),
    "conv3b": (256, 256),
    "conv4a": (512, 256),
    "conv4b": (512, 512),
    "conv5a": (512, 512),
    "conv5b": (512, 512),
}


def test_full_size_c3d_matches_the_paper_shapes():
    m = C3D(clip_len=16, crop_size=112, width=1.0)
    assert m.out_shape == (512, 1, 4, 4) and m.out_dim == 8192
    names = {k for k in m.state_dict()}
    assert {f"{n}.weight" for n in C3D_PICKLE} <= names


def test_narrow_c3d_forward_shape():
    m = C3D(clip_len=8, crop_size=64, width=0.125)
    y = m(torch.randn(2, 3, 8, 64, 64))
    assert y.shape == (2, m.out_dim)


def _narrow_cfg(**kw):
    base = dict(
        width=0.0625, fc_dim=16, caption_hidden=8, caption_embed=8, caption_layers=1, dropout=0.0
    )
    base.update(kw)
    return ModelConfig(**base)


def test_heads_shapes_and_losses_backpropagate():
    m = MTLModel(_narrow_cfg(), clip_len=4, crop_size=32, vocab_size=20)
    video = torch.randn(2, 3, 3, 4, 32, 32)
    cap = torch.randint(1, 20, (2, 7))
    out = m(video, cap)
    assert out["score"].shape == (2,)
    assert {k: v.shape[-1] for k, v in out["attributes"].items()} == ATTRIBUTE_CLASSES
    assert out["caption"].shape == (2, 7, 20)
    assert out["features"].shape[:2] == (2, 3)
    batch = {
        "score": torch.tensor([0.5, -1.0]),
        "attributes": {k: torch.tensor([0, 1]) for k in ATTRIBUTE_CLASSES},
        "caption_out": cap,
    }
    loss, parts = total_loss(out, batch, LossConfig())
    assert set(parts) == {"score", "attributes", "caption"}
    loss.backward()
    assert m.backbone.conv1.weight.grad is not None and m.backbone.conv1.weight.grad.abs().sum() > 0
    toks = m.caption.generate(out["features"].detach(), max_len=5)
    assert len(toks) == 2 and all(len(t) <= 5 for t in toks)


def test_single_task_model_has_only_the_score_head():
    m = MTLModel(_narrow_cfg(tasks=["score"]), clip_len=4, crop_size=32)
    out = m(torch.randn(1, 2, 3, 4, 32, 32))
    assert set(out) == {"score", "features"}
    assert not hasattr(m, "caption") and not hasattr(m, "attributes")
    with pytest.raises(ValueError, match="vocabulary"):
        MTLModel(_narrow_cfg(tasks=["score", "caption"]), clip_len=4, crop_size=32)


def test_loss_values_follow_the_design():
    pred, tgt = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])
    assert score_loss(pred, tgt).item() == pytest.approx((1 + 4) / 2 + (1 + 2) / 2)
    assert score_loss(pred, torch.tensor([float("nan"), 1.0])).item() == pytest.approx(4 + 2)
    logits = {"position": torch.tensor([[10.0, 0.0, 0.0]])}
    assert attributes_loss(logits, {"position": torch.tensor([0])}).item() < 1e-3
    assert attributes_loss(logits, {"position": torch.tensor([-1])}).item() == 0.0
    # padding (0) is masked: only the two real tokens count
    lg = torch.zeros(1, 4, 5)
    lg[0, 0, 3] = lg[0, 1, 2] = 50.0
    assert caption_loss(lg, torch.tensor([[3, 2, 0, 0]])).item() < 1e-6


def test_c3d_pickle_state_dict_loads_into_the_full_backbone(tmp_path):
    state = {}
    for name, (cout, cin) in C3D_PICKLE.items():
        state[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, 3)
        state[f"{name}.bias"] = torch.randn(cout)
    for name, (cout, cin) in {"fc6": (4096, 8192), "fc7": (4096, 4096), "fc8": (487, 4096)}.items():
        state[f"{name}.weight"] = torch.randn(cout, cin)
        state[f"{name}.bias"] = torch.randn(cout)
    path = tmp_path / "c3d.pickle"
    torch.save(state, path)
    m = MTLModel(ModelConfig(tasks=["score"]), clip_len=16, crop_size=112)
    report = load_backbone_weights(m, path)
    assert torch.equal(m.backbone.conv5b.weight, state["conv5b.weight"])
    assert torch.equal(m.shared.fc6.weight, state["fc6.weight"])
    assert len(report.loaded) == 18 and report.missing == []
    assert sorted(report.unexpected) == ["fc7.bias", "fc7.weight", "fc8.bias", "fc8.weight"]
    # a narrow model cannot take these tensors: refused, naming the tensor
    narrow = MTLModel(_narrow_cfg(tasks=["score"]), clip_len=16, crop_size=112)
    with pytest.raises(MtlaqaError, match="conv1.weight"):
        load_backbone_weights(narrow, path)


def test_weights_file_errors_are_clear(tmp_path):
    m = MTLModel(_narrow_cfg(tasks=["score"]), clip_len=4, crop_size=32)
    with pytest.raises(MtlaqaError, match="not found"):
        load_backbone_weights(m, tmp_path / "none.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(MtlaqaError, match="bad.pth"):
        load_backbone_weights(m, bad)


def test_batchnorm_variant_keeps_c3d_pickle_names():
    plain, bn = C3D(4, 32, 0.125), C3D(4, 32, 0.125, norm="batch")
    plain_keys = set(plain.state_dict())
    assert plain_keys < set(bn.state_dict())  # every c3d.pickle conv name is still there
    assert {k.split(".")[0] for k in set(bn.state_dict()) - plain_keys} == {
        "bn1",
        "bn2",
        "bn3a",
        "bn3b",
        "bn4a",
        "bn4b",
        "bn5a",
        "bn5b",
    }
    assert bn(torch.randn(2, 3, 4, 32, 32)).shape == (2, bn.out_dim)
    with pytest.raises(ValueError, match="norm"):
        C3D(4, 32, 0.125, norm="group")


def _textbook_c3d(m: C3D, x: torch.Tensor) -> torch.Tensor:
    """C3D as written in the paper: conv, (batch norm), ReLU, then max-pool."""
    pools = {"conv1": m.pool1, "conv2": m.pool2, "conv3b": m.pool3, "conv4b": m.pool4}
    pools["conv5b"] = m.pool5
    for name in ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b"):
        x = getattr(m, name)(x)
        if m.norm == "batch":
            x = getattr(m, name.replace("conv", "bn"))(x)
        x = torch.relu(x)
        if name in pools:
            x = pools[name](x)
    return x.flatten(1)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_c3d_pool_before_relu_equals_the_textbook_order(norm):
    torch.manual_seed(0)
    m = C3D(clip_len=8, crop_size=32, width=0.125, norm=norm).train()
    x = torch.randn(2, 3, 8, 32, 32, requires_grad=True)
    y = m(x)
    gx, gw = torch.autograd.grad(y.square().sum(), [x, m.conv1.weight])
    y0 = _textbook_c3d(m, x)
    gx0, gw0 = torch.autograd.grad(y0.square().sum(), [x, m.conv1.weight])
    assert torch.allclose(y, y0, atol=1e-6)
    assert torch.allclose(gx, gx0, atol=1e-6) and torch.allclose(gw, gw0, atol=1e-5)


def test_c3d_pools_stay_in_bf16_under_cpu_autocast():
    # CPU autocast runs max_pool3d in fp32 (an upcast copy of every pooled activation); C3D pools
    # the bf16 tensor directly, which is exact
    m = C3D(clip_len=8, crop_size=32, width=0.125)
    seen = []
    m.conv2.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].dtype))  # pool1's output
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        m(torch.randn(1, 3, 8, 32, 32))
    assert seen == [torch.bfloat16]


def test_c3d_s_shapes_and_registry():
    net = build_backbone("c3d_s", clip_len=8, crop_size=64, width=0.25)
    assert isinstance(net, C3DSmall) and net.channels == [16, 32, 64, 64] and net.out_dim == 64
    assert net(torch.randn(3, 3, 8, 64, 64)).shape == (3, 64)
    assert net(torch.randn(2, 3, 5, 40, 48)).shape == (2, 64)  # any clip length and size


def test_c3d_s_global_max_does_not_care_where_the_diver_is():
    # a small object on a plain background, moved by the network's total spatial stride (16 px):
    # the global max gives the same feature; a flattened map would not
    torch.manual_seed(0)
    net = C3DSmall(width=0.25).eval()
    blob = torch.randn(3, 8, 10, 10)
    a, b = torch.zeros(1, 3, 8, 96, 96), torch.zeros(1, 3, 8, 96, 96)
    a[..., 24:34, 24:34] = blob  # the last layer sees ±23 px: both copies stay inside the frame
    b[..., 40:50, 56:66] = blob
    with torch.no_grad():
        fa, fb = net(a), net(b)
    assert torch.allclose(fa, fb, atol=1e-5)
    assert not torch.allclose(fa, net(torch.zeros_like(a)), atol=1e-3)
