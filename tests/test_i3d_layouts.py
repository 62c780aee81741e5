"""hassony2/kinetics_i3d_pytorch's model_rgb.pth (the file CoRe, MUSDL, TPT, FineDiving load):
its 287 keys in the PyTorch-0.3 container load into I3D, and I3D then pads and pools as that port."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner

from mtlaqa.cli import main
from mtlaqa.models.backbones.i3d import I3D, MaxPoolSame, Unit3D
from mtlaqa.models.backbones.i3d_layouts import from_hassony2
from tests.test_weights import build_with, random_state, save_pytorch03

torch.set_num_threads(1)

_BLOCKS = [
    ("mixed_3b", 192, [64, 96, 128, 16, 32, 32]),
    ("mixed_3c", 256, [128, 128, 192, 32, 96, 64]),
    ("mixed_4b", 480, [192, 96, 208, 16, 48, 64]),
    ("mixed_4c", 512, [160, 112, 224, 24, 64, 64]),
    ("mixed_4d", 512, [128, 128, 256, 24, 64, 64]),
    ("mixed_4e", 512, [112, 144, 288, 32, 64, 64]),
    ("mixed_4f", 528, [256, 160, 320, 32, 128, 128]),
    ("mixed_5b", 832, [256, 160, 320, 32, 128, 128]),
    ("mixed_5c", 832, [384, 192, 384, 48, 128, 128]),
]


def _unit(spec: dict, name: str, c_in: int, c_out: int, k: tuple[int, int, int]) -> None:
    spec[f"{name}.conv3d.weight"] = (c_out, c_in, *k)
    for t in ("weight", "bias", "running_mean", "running_var"):  # no num_batches_tracked
        spec[f"{name}.batch3d.{t}"] = (c_out,)


def hassony2_spec() -> dict[str, tuple[int, ...]]:
    """src/i3dpt.py's I3D(num_classes=400): Unit3Dpy = conv3d + batch3d; Mixed branches
    branch_0, branch_1 = Sequential(1×1, 3×3), branch_2 likewise, branch_3 = Sequential(pool, 1×1)."""
    spec: dict[str, tuple[int, ...]] = {}
    _unit(spec, "conv3d_1a_7x7", 3, 64, (7, 7, 7))
    _unit(spec, "conv3d_2b_1x1", 64, 64, (1, 1, 1))
    _unit(spec, "conv3d_2c_3x3", 64, 192, (3, 3, 3))
    one, three = (1, 1, 1), (3, 3, 3)
    for name, c, o in _BLOCKS:
        _unit(spec, f"{name}.branch_0", c, o[0], one)
        _unit(spec, f"{name}.branch_1.0", c, o[1], one)
        _unit(spec, f"{name}.branch_1.1", o[1], o[2], three)
        _unit(spec, f"{name}.branch_2.0", c, o[3], one)
        _unit(spec, f"{name}.branch_2.1", o[3], o[4], three)
        _unit(spec, f"{name}.branch_3.1", c, o[5], one)
    spec["conv3d_0c_1x1.conv3d.weight"] = (400, 1024, 1, 1, 1)
    spec["conv3d_0c_1x1.conv3d.bias"] = (400,)
    return spec


def test_hassony2_model_rgb_loads_every_tensor(tmp_path: Path) -> None:
    state = random_state(hassony2_spec())
    assert len(state) == 287
    assert "mixed_5c.branch_3.1.batch3d.bias" in state
    path = tmp_path / "model_rgb.pth"
    save_pytorch03(state, path)
    model = build_with(
        ["data.clip_len=16", "data.crop_size=224", "model.backbone=i3d", "model.fc_dim=64"], path
    )
    own = model.backbone.state_dict()
    mapped = from_hassony2(state)
    n = 0
    for k, v in mapped.items():
        if k.startswith("conv3d_0c_1x1"):
            continue
        assert torch.equal(own[k], v), k
        n += 1
    assert n == 285
    assert model.backbone.padding_style == "hassony2"
    res = CliRunner().invoke(main, ["model", "check", "--backbone", "i3d", "--weights", str(path)])
    assert res.exit_code == 0, res.output
    assert "285 tensors loaded, 0 missing, 2 unexpected" in res.output
    assert "conv3d_0c_1x1.conv3d.weight" in res.output and "padding     hassony2" in res.output


def test_port_pooling_and_conv_padding_on_odd_sizes() -> None:
    """3×3 stride-2 max-pool of 1..7: TF pads (1, 1); the port pads (0, 1) and pools in ceil mode.
    A 7-tap stride-2 conv picking its centre tap: at odd width TF pads (3, 3), the port (2, 3)."""
    x = torch.arange(1.0, 8.0).view(1, 1, 1, 1, 7)
    pool = MaxPoolSame((1, 1, 3), (1, 1, 2))
    assert pool(x).flatten().tolist() == [2.0, 4.0, 6.0, 7.0]
    pool.port = True
    assert pool(x).flatten().tolist() == [3.0, 5.0, 7.0, 7.0]
    unit = Unit3D(1, 1, (1, 1, 7), (1, 1, 2))
    with torch.no_grad():
        unit.conv3d.weight.zero_()
        unit.conv3d.weight[0, 0, 0, 0, 3] = 1.0
    unit.bn.eval()
    unit.bn.eps = 0.0
    x = torch.arange(1.0, 10.0).view(1, 1, 1, 1, 9)  # width 9: TF total 6 = (3, 3); port (2, 3)
    assert unit(x).flatten().tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]
    unit.port = True
    assert unit(x).flatten().tolist() == [2.0, 4.0, 6.0, 8.0]  # 9 + 5 padded: 4 outputs, not 5


def test_paddings_agree_on_divisible_sizes_and_persist_in_checkpoints() -> None:
    torch.manual_seed(0)
    tf = I3D(width=0.0625).eval()
    port = I3D(width=0.0625).eval()
    port.load_state_dict(tf.state_dict())
    port.use_port_padding()
    even = torch.randn(1, 3, 8, 64, 64)  # every size divides by its stride at every stage
    torch.testing.assert_close(tf(even), port(even), rtol=0, atol=0)
    odd = torch.randn(1, 3, 8, 72, 72)  # 72 -> 36 -> 18 -> 9: odd at the stride-2 pool
    assert not torch.allclose(tf(odd), port(odd))
    rebuilt = I3D(width=0.0625).eval()
    rebuilt.load_state_dict(port.state_dict())  # strict: the flag travels with the weights
    assert rebuilt.padding_style == "hassony2"
    torch.testing.assert_close(rebuilt(odd), port(odd), rtol=0, atol=0)
    plain = I3D(width=0.0625)
    plain.load_state_dict(tf.state_dict())  # checkpoints without the flag load as before
    assert plain.padding_style == "tf"
